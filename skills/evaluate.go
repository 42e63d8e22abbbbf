package skills

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensordict"
)

// Tracker reads a task's success check off one episode, step by step: message_count counts
// the step messages that match, stat_at_least holds once the statistic has reached the value,
// stat_at_most holds while it never went above it, overview_contains and overview_matches
// look for the text (a regular expression) in the #overview screens added with AddOverview,
// and all needs every part. The overview text holds every screen seen in the episode: levels
// show as the game lists them (the Oracle's as "Oracle of Delphi." once its centre is seen;
// each dungeon's levels under its name, e.g. "The Gnomish Mines").
type Tracker struct {
	check    *Check
	counts   map[*MessageRule]int
	reached  map[*StatRule]bool
	exceeded map[*StatRule]bool
	overview strings.Builder
}

// NewTracker returns a tracker of check for a new episode.
func NewTracker(check *Check) *Tracker {
	return &Tracker{check: check, counts: map[*MessageRule]int{}, reached: map[*StatRule]bool{}, exceeded: map[*StatRule]bool{}}
}

// Observe takes one step's statistics and message.
func (t *Tracker) Observe(bl []int64, message string) { t.observe(t.check, bl, message) }

func (t *Tracker) observe(c *Check, bl []int64, message string) {
	switch {
	case c.MessageCount != nil:
		if message != "" && c.MessageCount.regexp().MatchString(message) {
			t.counts[c.MessageCount]++
		}
	case c.StatAtLeast != nil:
		if bl[StatNames[c.StatAtLeast.Stat]] >= c.StatAtLeast.Value {
			t.reached[c.StatAtLeast] = true
		}
	case c.StatAtMost != nil:
		if bl[StatNames[c.StatAtMost.Stat]] > c.StatAtMost.Value {
			t.exceeded[c.StatAtMost] = true
		}
	}
	for i := range c.All {
		t.observe(&c.All[i], bl, message)
	}
}

// AddOverview adds the text of a #overview screen.
func (t *Tracker) AddOverview(text string) { t.overview.WriteString(text + "\n") }

// Success reports whether the check holds for the episode so far.
func (t *Tracker) Success() bool { return t.holds(t.check) }

func (t *Tracker) holds(c *Check) bool {
	switch {
	case c.OverviewContains != "":
		return strings.Contains(t.overview.String(), c.OverviewContains)
	case c.OverviewMatches != "":
		if c.overviewRE == nil { // a check built in code rather than parsed
			c.overviewRE = regexp.MustCompile(c.OverviewMatches)
		}
		return c.overviewRE.MatchString(t.overview.String())
	case c.MessageCount != nil:
		return t.counts[c.MessageCount] >= c.MessageCount.AtLeast
	case c.StatAtLeast != nil:
		return t.reached[c.StatAtLeast]
	case c.StatAtMost != nil:
		return !t.exceeded[c.StatAtMost]
	}
	for i := range c.All {
		if !t.holds(&c.All[i]) {
			return false
		}
	}
	return len(c.All) > 0
}

// UsesOverview reports whether the check reads the #overview screen.
func (c *Check) UsesOverview() bool {
	if c.OverviewContains != "" || c.OverviewMatches != "" {
		return true
	}
	for i := range c.All {
		if c.All[i].UsesOverview() {
			return true
		}
	}
	return false
}

func (r *MessageRule) regexp() *regexp.Regexp {
	if r.re == nil { // a rule built in code rather than parsed
		r.re = regexp.MustCompile(r.Pattern)
	}
	return r.re
}

// Overview opens NetHack's #overview screen (Ctrl-O, no game time passes), returns its text
// (every page), and closes it. The game's observation buffers show the map again afterwards.
// The game must have the "internal" observation (TaskEnv games always do).
func Overview(g *nethack.Game) (string, error) {
	var pages []string
	if _, err := g.Step(0x0f); err != nil {
		return "", fmt.Errorf("skills: #overview: %w", err)
	}
	// NetHack shows the text a page at a time, each ending in --More-- (the game waits for a
	// space); the space after the last page closes it.
	for page := 0; page < 20 && g.Obs().Internal[3] != 0; page++ {
		pages = append(pages, screenText(g.Obs().TTYChars))
		if _, err := g.Step(' '); err != nil {
			return "", fmt.Errorf("skills: #overview: %w", err)
		}
	}
	if len(pages) == 0 { // shown without waiting (a menu): read it, close it
		pages = append(pages, screenText(g.Obs().TTYChars))
		if _, err := g.Step(0x1b); err != nil {
			return "", fmt.Errorf("skills: closing #overview: %w", err)
		}
	}
	return strings.Join(pages, "\n"), nil
}

func screenText(tty []uint8) string {
	var lines []string
	for r := 0; r < nethack.TermRows; r++ {
		if l := strings.TrimRight(string(tty[r*nethack.TermCols:(r+1)*nethack.TermCols]), " \x00"); l != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return strings.Join(lines, "\n")
}

// EpisodeResult is one evaluated episode.
type EpisodeResult struct {
	Success bool    `json:"success"`
	Steps   int     `json:"steps"`
	Return  float64 `json:"return"` // the task's own reward
	// Skills is the skill of every step (indices into the spec's skills; none without skills).
	Skills []int `json:"skills,omitempty"`
	// MaxDepth is the deepest dungeon level reached; Dungeons the dungeons visited
	// (DungeonNames: main, mines, ...), in the order first seen.
	MaxDepth int      `json:"max_depth"`
	Dungeons []string `json:"dungeons"`
	// Overview is the last #overview text seen (when the check reads it).
	Overview string `json:"overview,omitempty"`
	// Episode numbers the episode among its env's (its ttyrec is nle.*.<Episode>.ttyrec3.bz2).
	Episode int `json:"episode"`
	// TTYRec is the episode's recording, when one was kept.
	TTYRec string `json:"ttyrec,omitempty"`
}

// Judge wraps a Controller (or a plain NetHack env, to judge an agent without skills the same
// way) and reads a task's success off every episode: it follows the steps' statistics and
// messages and, for checks on #overview, opens the overview screen at the start, whenever the
// level changes and every OverviewEvery steps (between steps, without game time passing). Finished episodes are kept in
// Results.
type Judge struct {
	inner   envs.Env
	ctl     *Controller // nil for a plain env
	game    *nethack.Game
	check   *Check
	tracker *Tracker
	cur     EpisodeResult
	level   [2]int64
	episode int
	steps   int // since the last #overview
	// BeforeReset, when set, runs before each episode starts (e.g. to seed it).
	BeforeReset func(episode int) error
	// Results are the finished episodes, in order.
	Results []EpisodeResult
}

// OverviewEvery is how many steps the Judge lets pass between #overview screens on one level:
// NetHack annotates a level (the Oracle's centre, a temple) only once the hero has seen it.
const OverviewEvery = 50

// NewJudge wraps env, a *Controller over a *nethack.Env or a *nethack.Env, with task's
// success check.
func NewJudge(env envs.Env, task Task) (*Judge, error) {
	j := &Judge{inner: env, check: task.Success}
	if task.Success == nil {
		return nil, fmt.Errorf("skills: task %q has no success check to judge", task.Name)
	}
	inner := env
	if ctl, ok := env.(*Controller); ok {
		j.ctl, inner = ctl, ctl.Inner()
	}
	ne, ok := inner.(*nethack.Env)
	if !ok {
		return nil, fmt.Errorf("skills: the judge reads the game of a *nethack.Env, not a %T", inner)
	}
	j.game = ne.Task().Game()
	return j, nil
}

// Specs, BatchShape and Close are the wrapped env's.
func (j *Judge) Specs() envs.Specs { return j.inner.Specs() }
func (j *Judge) BatchShape() []int { return j.inner.BatchShape() }
func (j *Judge) Close() error      { return j.inner.Close() }

// Controller returns the skill controller it wraps (nil for a plain env).
func (j *Judge) Controller() *Controller { return j.ctl }

// Reset starts an episode.
func (j *Judge) Reset() (*tensordict.Dict, error) {
	if j.BeforeReset != nil {
		if err := j.BeforeReset(j.episode); err != nil {
			return nil, err
		}
	}
	td, err := j.inner.Reset()
	if err != nil {
		return nil, err
	}
	j.tracker, j.cur = NewTracker(j.check), EpisodeResult{Episode: j.episode}
	j.episode++
	return td, j.observe(td, true)
}

// Step steps the controller and follows the episode.
func (j *Judge) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	if j.ctl != nil {
		j.cur.Skills = append(j.cur.Skills, j.ctl.Skill())
	}
	td, err := j.inner.Step(td)
	if err != nil {
		return nil, err
	}
	nd, err := td.GetDict(envs.KeyNext)
	if err != nil {
		return nil, err
	}
	j.cur.Steps++
	if r, err := tensordict.GetAs[float32](nd, envs.KeyReward); err == nil && len(r) == 1 {
		j.cur.Return += float64(r[0])
	}
	done, _ := tensordict.GetAs[bool](nd, envs.KeyDone)
	over := len(done) == 1 && done[0]
	if err := j.observe(nd, false); err != nil {
		return nil, err
	}
	if over {
		j.cur.Success = j.tracker.Success()
		j.Results = append(j.Results, j.cur)
	}
	return td, nil
}

// observe feeds one observation to the tracker, opening #overview on a new level.
func (j *Judge) observe(td *tensordict.Dict, start bool) error {
	bl, err := tensordict.GetAs[int64](td, "blstats")
	if err != nil {
		return err
	}
	msg, err := tensordict.GetAs[uint8](td, "message")
	if err != nil {
		return err
	}
	j.tracker.Observe(bl, MessageText(msg))
	j.cur.MaxDepth = max(j.cur.MaxDepth, int(bl[nethack.BlDepth]))
	if n := int(bl[nethack.BlDNum]); n >= 0 && n < len(DungeonNames) && !slices.Contains(j.cur.Dungeons, DungeonNames[n]) {
		j.cur.Dungeons = append(j.cur.Dungeons, DungeonNames[n])
	}
	level := [2]int64{bl[nethack.BlDNum], bl[nethack.BlDLevel]}
	j.steps++
	if j.check.UsesOverview() && (start || level != j.level || j.steps >= OverviewEvery) && !j.game.Done() {
		j.steps = 0
		text, err := Overview(j.game)
		if err != nil {
			return err
		}
		j.tracker.AddOverview(text)
		j.cur.Overview = text
	}
	j.level = level
	return nil
}

// Wilson returns the 95% Wilson score interval of a success rate of k in n.
func Wilson(k, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959964
	p, nf := float64(k)/float64(n), float64(n)
	d := 1 + z*z/nf
	c := (p + z*z/(2*nf)) / d
	h := z / d * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf))
	lo, hi = math.Max(0, c-h), math.Min(1, c+h)
	if k == 0 {
		lo = 0 // exactly, not a rounding error away
	}
	if k == n {
		hi = 1
	}
	return lo, hi
}
