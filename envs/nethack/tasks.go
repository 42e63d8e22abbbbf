package nethack

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/maestro-rl/maestro/internal/validate"
)

// Task selects the reward and ending rules of a TaskEnv, as NLE's registered envs do.
type Task int

// The tasks. TaskNetHack is NLE's base env (score reward, all useful actions); OracleSober is
// Motif's Oracle variant that does not count reaching the Oracle while hallucinating.
const (
	TaskNetHack Task = iota
	TaskScore
	TaskStaircase
	TaskStaircasePet
	TaskOracle
	TaskOracleSober
	TaskGold
	TaskEat
	TaskScout
	TaskChallenge
	numTasks
)

var taskNames = [numTasks]string{"NetHack", "NetHackScore", "NetHackStaircase",
	"NetHackStaircasePet", "NetHackOracle", "NetHackOracleSober", "NetHackGold", "NetHackEat",
	"NetHackScout", "NetHackChallenge"}

// String returns the task's NLE name without version ("NetHackScore").
func (t Task) String() string {
	if t < 0 || t >= numTasks {
		return fmt.Sprintf("Task(%d)", int(t))
	}
	return taskNames[t]
}

// Tasks returns every task.
func Tasks() []Task {
	out := make([]Task, numTasks)
	for i := range out {
		out[i] = Task(i)
	}
	return out
}

// ParseTask accepts a task's NLE name with or without "-v0", or its short name, in any case:
// "NetHackScore-v0", "NetHackScore", "score".
func ParseTask(s string) (Task, error) {
	k := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "-v0"))
	for i, n := range taskNames {
		ln := strings.ToLower(n)
		if k == ln || k == strings.TrimPrefix(ln, "nethack") && k != "" {
			return Task(i), nil
		}
	}
	return 0, fmt.Errorf("nethack: unknown task %q; valid tasks: %s", s, strings.Join(taskNames[:], ", "))
}

// PrevBlstats returns the bottom-line statistics before the last step (for Rules).
func (e *TaskEnv) PrevBlstats() []int64 { return e.prevBlstats[:] }

// StepStatus is NLE's end status of a step.
type StepStatus int

// The statuses, with NLE's values.
const (
	StatusAborted        StepStatus = -1 // the env ended the episode (step limit, no progress)
	StatusRunning        StepStatus = 0
	StatusDeath          StepStatus = 1 // the game ended (NLE reports every game end as death)
	StatusTaskSuccessful StepStatus = 2
)

// EnvOptions configure a TaskEnv (and an Env). The zero value is NLE's NetHack env with its defaults; each
// task overrides the defaults as NLE's task classes do.
type EnvOptions struct {
	Task Task
	// Game configures the underlying game. ObservationKeys nil means NLE's env default (every
	// key but program_state, internal and misc); glyphs, blstats, message, program_state and
	// internal are always filled because the rules read them. Challenge forces Character "@"
	// unless set, and Wizard off. Gold sets pickup_types:$ unless Options is set.
	Game GameOptions
	// Actions is the action set; nil means the task's (TaskActions for tasks, UsefulActions for
	// TaskNetHack, Actions for Challenge).
	Actions []uint8
	// MaxEpisodeSteps ends an episode as truncated after this many steps; 0 means 5000
	// (1,000,000 for Challenge).
	MaxEpisodeSteps int
	// AllowAllYNQuestions leaves every yes/no question to the agent; by default only questions
	// mentioning eat, attack, direction? or pray are, the rest are declined with ESC.
	AllowAllYNQuestions bool
	// AllowAllModes leaves menus, text input and --More-- to the agent.
	AllowAllModes bool
	// PenaltyMode is the time penalty's shape: constant (default), exp, square, linear, always.
	// As in NLE, exp is 2^n times PenaltyStep after n steps on which the clock stood still: 62
	// such steps (inventory or look commands in a row) give about -5.8e16 with a step of
	// -0.0125, identically in Python NLE (TestParityOptionsWithPythonNLE); clip rewards with it.
	PenaltyMode string
	// PenaltyStep is the penalty per step on which the game clock did not advance; nil means
	// -0.01 (0 for Challenge).
	PenaltyStep *float64
	// PenaltyTime is added per game turn elapsed (default 0).
	PenaltyTime float64
	// NoProgressTimeout ends a Challenge episode after this many checks without the turn
	// counter advancing (NLE checks twice per step); 0 means 10,000.
	NoProgressTimeout int
	// TTYRecDir, when set, records every TTYRecEvery-th episode (default every one) as
	// TTYRecDir/nle.<pid>.<episode>.ttyrec3.bz2.
	TTYRecDir   string
	TTYRecEvery int
	// Seed, when not nil, makes the sequence of games reproducible: episode k (the first is 0)
	// starts from EpisodeSeeds(*Seed, k), so the same seed and the same actions replay the same
	// games. Without it NetHack seeds each game from true randomness, as NLE does. TaskEnv.Seed
	// still decides the seeds of the one episode after it. NetHack also reads the clock (the
	// moon phase, night and midnight): with Game.FixMoonPhase the games repeat on any day.
	// Challenge refuses Seed (NLE forbids seeding there).
	Seed *uint64
	// Rules, when set, decide the task's success and reward in place of Task's rules (the
	// step limit, game ends and the time penalty stay the env's). MiniHack's reward manager
	// plugs in here (envs/minihack).
	Rules Rules
	// BeforeStep, when set, plays a task's own game keys before each agent action, as a Python
	// env's step override does before NLE's step (MiniHack's KeyRoom applies the key to a door
	// next to the hero when the agent picks APPLY): it gets the action index and sends keys
	// with RawStep and KnownSteps. Reporting the game over skips the agent's key.
	BeforeStep func(e *TaskEnv, action int) (done bool, err error)
}

// Rules are a task's success test and reward, as NLE's _is_episode_end and _reward_fn.
type Rules interface {
	// Reset is called when an episode starts.
	Reset()
	// Success is asked after every step the step limit did not end, also the step on which
	// the game ended (NLE asks _is_episode_end then too, though the game's end decides the
	// status); action is the index the agent chose.
	Success(e *TaskEnv, action int) bool
	// Reward is the step's reward before the time penalty, given the step's status.
	Reward(e *TaskEnv, status StepStatus) float64
}

// EpisodeSeeds returns the seeds of episode k (the first is 0) under EnvOptions.Seed: core and
// disp drawn from seed and k by SplitMix64, reseeding off.
func EpisodeSeeds(seed uint64, k int) Seeds {
	x := seed ^ uint64(k)*0x9e3779b97f4a7c15
	mix := func() uint64 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
	return Seeds{Core: mix(), Disp: mix()}
}

// Step is the outcome of TaskEnv.Step.
//
// Maestro keeps Terminated and Truncated apart. NLE's Python env returns done=True (that is,
// terminated) when its step limit quits the game; Maestro reports that step as Truncated with
// Status StatusAborted, because the agent's state was not terminal and a value estimator must
// bootstrap from it. Terminated is set when the game itself ended (death, ascension, quitting)
// or the task succeeded. Exactly one of them is set on the last step of an episode.
type Step struct {
	Reward     float64
	Terminated bool
	Truncated  bool
	Status     StepStatus
	Ascended   bool
}

// Done reports whether the episode ended.
func (s Step) Done() bool { return s.Terminated || s.Truncated }

var skipExceptions = [][]byte{[]byte("eat"), []byte("attack"), []byte("direction?"), []byte("pray")}

// TaskEnv is a NetHack task as NLE's Python envs define it: known prompts are answered for the
// agent, rewards and endings follow the task, and the step limit is enforced.
//
// A TaskEnv is used by one goroutine at a time. Obs returns views that change on every Step.
type TaskEnv struct {
	opts    EnvOptions
	game    *Game
	obs     *Observation
	actions []uint8

	maxSteps     int
	penaltyStep  float64
	steps        int
	episode      int
	frozenSteps  int // not reset between episodes, as in NLE
	prevBlstats  [NumBlstats]int64
	prevHunger   int32
	explored     map[[2]int64]int
	turns        int64
	haveTurns    bool
	noProgress   int
	started      bool
	episodeDone  bool
	stepCount    int // raw game steps, for benchmarks
	ttyrecPrefix string
	seeded       bool // Seed chose the next episode's seeds
}

// NewEnv creates the task's game; call Reset before stepping.
// Validate reports an option out of range: a known task and penalty mode, counts not below 0,
// finite penalties, no seed for Challenge, and a valid character.
func (o EnvOptions) Validate() error {
	switch {
	case o.Task < 0 || o.Task >= numTasks:
		return fmt.Errorf("nethack: unknown task %d; use ParseTask", int(o.Task))
	case o.PenaltyMode != "" && !slices.Contains([]string{"constant", "exp", "square", "linear", "always"}, o.PenaltyMode):
		return fmt.Errorf("nethack: unknown penalty mode %q; valid: constant, exp, square, linear, always", o.PenaltyMode)
	case o.MaxEpisodeSteps < 0 || o.TTYRecEvery < 0 || o.NoProgressTimeout < 0:
		return errors.New("nethack: MaxEpisodeSteps, TTYRecEvery and NoProgressTimeout must not be negative")
	case o.Seed != nil && o.Task == TaskChallenge:
		return errors.New("nethack: NetHackChallenge does not allow seeding; leave EnvOptions.Seed nil")
	}
	step := 0.0
	if o.PenaltyStep != nil {
		step = *o.PenaltyStep
	}
	if err := validate.Numbers("nethack: EnvOptions.", validate.F("PenaltyStep", step, true, ""), validate.F("PenaltyTime", o.PenaltyTime, true, "")); err != nil {
		return err
	}
	return o.Game.Validate()
}

func NewTaskEnv(o EnvOptions) (*TaskEnv, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.PenaltyMode == "" {
		o.PenaltyMode = "constant"
	}
	g := o.Game
	e := &TaskEnv{opts: o, penaltyStep: -0.01, maxSteps: 5000}
	keys := g.ObservationKeys
	if keys == nil {
		keys = slices.Clone(defaultKeys)
	}
	e.actions = TaskActions()
	switch o.Task {
	case TaskNetHack:
		e.actions = UsefulActions()
	case TaskGold:
		if g.Options == nil {
			for _, op := range DefaultOptions() {
				if strings.HasPrefix(op, "pickup_types") {
					op = "pickup_types:$"
				}
				g.Options = append(g.Options, op)
			}
		}
	case TaskChallenge:
		e.actions = Actions()
		if g.Character == "" {
			g.Character = "@"
		}
		g.Wizard = false
		e.opts.AllowAllModes, e.opts.AllowAllYNQuestions = true, true
		e.penaltyStep = 0
		e.maxSteps = 1_000_000
		if o.Game.ObservationKeys == nil {
			keys = []string{"glyphs", "chars", "colors", "specials", "blstats", "message",
				"inv_glyphs", "inv_strs", "inv_letters", "inv_oclasses", "tty_chars",
				"tty_colors", "tty_cursor", "misc"}
		}
		if e.opts.NoProgressTimeout == 0 {
			e.opts.NoProgressTimeout = 10_000
		}
	}
	if o.Actions != nil {
		e.actions = slices.Clone(o.Actions)
	}
	if len(e.actions) == 0 {
		return nil, errors.New("nethack: empty action set")
	}
	if o.PenaltyStep != nil {
		e.penaltyStep = *o.PenaltyStep
	}
	if o.MaxEpisodeSteps > 0 {
		e.maxSteps = o.MaxEpisodeSteps
	}
	keys = slices.Clone(keys)
	for _, k := range []string{"glyphs", "blstats", "message", "program_state", "internal"} {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	g.ObservationKeys = keys
	game, err := NewGame(g)
	if err != nil {
		return nil, err
	}
	e.game, e.obs = game, game.Obs()
	if o.TTYRecDir != "" {
		if err := os.MkdirAll(o.TTYRecDir, 0o755); err != nil {
			game.Close()
			return nil, fmt.Errorf("nethack: create ttyrec folder: %w", err)
		}
		if e.opts.TTYRecEvery == 0 {
			e.opts.TTYRecEvery = 1
		}
		e.ttyrecPrefix = filepath.Join(o.TTYRecDir, fmt.Sprintf("nle.%d.", os.Getpid()))
	}
	e.episode = -1
	return e, nil
}

// Task returns the env's task.
func (e *TaskEnv) Task() Task { return e.opts.Task }

// Actions returns the key code of each action index.
func (e *TaskEnv) Actions() []uint8 { return slices.Clone(e.actions) }

// NumActions returns the size of the action set.
func (e *TaskEnv) NumActions() int { return len(e.actions) }

// MaxEpisodeSteps returns the step limit.
func (e *TaskEnv) MaxEpisodeSteps() int { return e.maxSteps }

// Obs returns views of the current observation (see Observation).
func (e *TaskEnv) Obs() *Observation { return e.obs }

// Game returns the underlying game, for seeds and low-level access.
func (e *TaskEnv) Game() *Game { return e.game }

// GameSteps returns how many keys the env has sent to the game in Step, its own answers to
// prompts included; it tells how much game work an env step costs.
func (e *TaskEnv) GameSteps() int { return e.stepCount }

// Episode returns the index of the current episode, from 0.
func (e *TaskEnv) Episode() int { return e.episode }

// TTYRecPath returns where episode i is recorded, or "" when it is not.
func (e *TaskEnv) TTYRecPath(i int) string {
	if e.ttyrecPrefix == "" || i%e.opts.TTYRecEvery != 0 {
		return ""
	}
	return fmt.Sprintf("%s%d.ttyrec3.bz2", e.ttyrecPrefix, i)
}

// Seed sets the seeds of the next Reset only; Challenge refuses, as NLE does.
func (e *TaskEnv) Seed(s Seeds) error {
	if e.opts.Task == TaskChallenge {
		return errors.New("nethack: NetHackChallenge does not allow seeding")
	}
	if err := e.game.SetInitialSeeds(s); err != nil {
		return err
	}
	e.seeded = true
	return nil
}

// Reset starts a new episode and steps past the game's opening screens until the agent can
// act (NLE's reset-until-moveloop).
func (e *TaskEnv) Reset() error {
	for attempt := 0; attempt < 10; attempt++ {
		e.episode++
		if e.opts.Seed != nil && !e.seeded {
			if err := e.game.SetInitialSeeds(EpisodeSeeds(*e.opts.Seed, e.episode)); err != nil {
				return err
			}
		}
		e.seeded = false
		if err := e.game.Reset(e.TTYRecPath(e.episode)); err != nil {
			return err
		}
		e.steps = 0
		e.explored = nil
		if e.opts.Rules != nil {
			e.opts.Rules.Reset()
		}
		e.haveTurns, e.noProgress = false, 0
		for range 1000 {
			if e.obs.ProgramState[3] != 0 { // in_moveloop
				e.started, e.episodeDone = true, false
				return nil
			}
			done, err := e.game.Step(KeySpace)
			if err != nil {
				return err
			}
			if done {
				return errors.New("nethack: the game ended while skipping its opening screens; check the options")
			}
		}
	}
	return errors.New("nethack: the game never reached its main loop after 10 resets of 1000 steps; check the options")
}

// Step takes action index a (into Actions) and returns the reward and the episode's state.
// After the last step of an episode Step returns ErrDone until Reset.
func (e *TaskEnv) Step(a int) (Step, error) {
	if !e.started {
		return Step{}, ErrNotStarted
	}
	if e.episodeDone {
		return Step{}, ErrDone
	}
	if a < 0 || a >= len(e.actions) {
		return Step{}, fmt.Errorf("nethack: unknown action %d; the %s action set has %d actions (0..%d)", a, e.opts.Task, len(e.actions), len(e.actions)-1)
	}
	o := e.obs
	done := false
	if e.opts.BeforeStep != nil {
		var err error
		if done, err = e.opts.BeforeStep(e, a); err != nil {
			return Step{}, err
		}
	}
	copy(e.prevBlstats[:], o.Blstats)
	e.prevHunger = o.Internal[7]
	if !done {
		var err error
		if done, err = e.rawStep(e.actions[a]); err != nil {
			return Step{}, err
		}
	}
	e.checkAbort() // NLE evaluates its abort check for `truncated` here; it counts for Challenge
	if o.ProgramState[0] == 1 || !e.opts.AllowAllModes {
		var err error
		if done, err = e.knownSteps(done, true); err != nil {
			return Step{}, err
		}
	}
	e.steps++
	status := e.endStatus(done, a)
	r := e.reward(status)
	st := Step{Reward: r, Status: status}
	if status != StatusRunning && !done {
		if err := e.quitGame(); err != nil {
			return Step{}, err
		}
		done = true
	}
	if done {
		e.episodeDone = true
		st.Truncated = status == StatusAborted
		st.Terminated = !st.Truncated
		st.Ascended = e.game.HowDone() == HowDoneAscended
	}
	return st, nil
}

// RawStep sends one key to the game, as NLE's nethack.step: no prompt is answered and the
// agent's step count does not move. For EnvOptions.BeforeStep.
func (e *TaskEnv) RawStep(key uint8) (done bool, err error) { return e.rawStep(key) }

// KnownSteps answers what NLE answers for the agent after a key (--More--, text prompts, and
// the yes/no questions the agent may not answer), as NLE's _perform_known_steps with
// exceptions. For EnvOptions.BeforeStep.
func (e *TaskEnv) KnownSteps(done bool) (bool, error) { return e.knownSteps(done, true) }

// Action returns the key code of action index a.
func (e *TaskEnv) Action(a int) uint8 { return e.actions[a] }

func (e *TaskEnv) rawStep(key uint8) (bool, error) {
	e.stepCount++
	return e.game.Step(key)
}

// knownSteps answers what NLE answers for the agent: --More-- with space, text prompts with
// ESC, and yes/no questions with ESC unless they are ones the agent may answer.
func (e *TaskEnv) knownSteps(done, exceptions bool) (bool, error) {
	var err error
	for !done {
		in := e.obs.Internal
		if in[3] != 0 { // xwaitingforspace
			if done, err = e.rawStep(KeySpace); err != nil {
				return done, err
			}
			continue
		}
		if in[2] != 0 { // in_getlin
			if done, err = e.rawStep(KeyEsc); err != nil {
				return done, err
			}
			continue
		}
		if in[1] != 0 { // in_yn_function
			if exceptions && (e.opts.AllowAllYNQuestions || e.allowedQuestion()) {
				break
			}
			if done, err = e.rawStep(KeyEsc); err != nil {
				return done, err
			}
		}
		break
	}
	return done, nil
}

func (e *TaskEnv) allowedQuestion() bool {
	for _, w := range skipExceptions {
		if bytes.Contains(e.obs.Message, w) {
			return true
		}
	}
	return false
}

// quitGame ends a running game politely: leave menus, M-q, confirm, answer the end screens.
func (e *TaskEnv) quitGame() error {
	done, err := e.knownSteps(false, false)
	if err != nil || done {
		return err
	}
	for _, k := range []uint8{KeyQuit, KeyYes} {
		if done, err = e.rawStep(k); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
	_, err = e.knownSteps(done, false)
	return err
}

func (e *TaskEnv) checkAbort() bool {
	if e.opts.Task == TaskChallenge {
		t := e.obs.Blstats[BlTime]
		if e.haveTurns && e.turns == t {
			e.noProgress++
		} else {
			e.turns, e.haveTurns, e.noProgress = t, true, 0
		}
		return e.steps >= e.maxSteps || e.noProgress >= e.opts.NoProgressTimeout
	}
	return e.steps >= e.maxSteps
}

// endStatus is NLE's _get_end_status: the step limit first, else the task's end test (asked
// even when the game is over, as NLE asks it; Rules may count events there), and a game that
// ended is a death whatever they say.
func (e *TaskEnv) endStatus(done bool, action int) StepStatus {
	status := StatusAborted
	if !e.checkAbort() {
		status = e.episodeEnd(action)
	}
	if done {
		return StatusDeath
	}
	return status
}

// neighbourhood calls f on the glyphs of the 3x3 block around the hero, clipped as NumPy
// slicing clips it (a block starting at row or column -1 is empty).
func (e *TaskEnv) neighbourhood(f func(g int16) bool) bool {
	x, y := int(e.obs.Blstats[BlX]), int(e.obs.Blstats[BlY])
	if x < 1 || y < 1 || x > Cols || y > Rows {
		return false
	}
	for r := y - 1; r <= min(y+1, Rows-1); r++ {
		for c := x - 1; c <= min(x+1, Cols-1); c++ {
			if f(e.obs.Glyphs[r*Cols+c]) {
				return true
			}
		}
	}
	return false
}

func (e *TaskEnv) episodeEnd(action int) StepStatus {
	o := e.obs
	if e.opts.Rules != nil {
		if e.opts.Rules.Success(e, action) {
			return StatusTaskSuccessful
		}
		return StatusRunning
	}
	switch e.opts.Task {
	case TaskStaircase:
		if o.Internal[4] != 0 {
			return StatusTaskSuccessful
		}
	case TaskStaircasePet:
		if o.Internal[4] != 0 && e.neighbourhood(func(g int16) bool { return g >= GlyphPetOff && g < GlyphInvis }) {
			return StatusTaskSuccessful
		}
	case TaskOracle, TaskOracleSober:
		if e.opts.Task == TaskOracleSober && o.Blstats[BlCondition]&CondHallucinating != 0 {
			return StatusRunning
		}
		if e.neighbourhood(func(g int16) bool { return g == GlyphOracle }) {
			return StatusTaskSuccessful
		}
	}
	return StatusRunning
}

func (e *TaskEnv) timePenalty() float64 {
	oldT, newT := e.prevBlstats[BlTime], e.obs.Blstats[BlTime]
	if oldT == newT {
		e.frozenSteps++
	} else {
		e.frozenSteps = 0
	}
	p := 0.0
	switch e.opts.PenaltyMode {
	case "constant":
		if e.frozenSteps > 0 {
			p += e.penaltyStep
		}
	case "exp":
		p += math.Pow(2, float64(e.frozenSteps)) * e.penaltyStep
	case "square":
		p += float64(e.frozenSteps*e.frozenSteps) * e.penaltyStep
	case "linear":
		p += float64(e.frozenSteps) * e.penaltyStep
	case "always":
		p += e.penaltyStep
	}
	return p + float64(newT-oldT)*e.opts.PenaltyTime
}

func (e *TaskEnv) reward(status StepStatus) float64 {
	o := e.obs
	if e.opts.Rules != nil {
		return e.opts.Rules.Reward(e, status) + e.timePenalty()
	}
	normal := e.game.InNormalGame()
	switch e.opts.Task {
	case TaskNetHack:
		if !normal {
			return 0
		}
		return float64(o.Blstats[BlScore] - e.prevBlstats[BlScore])
	case TaskStaircase, TaskStaircasePet, TaskOracle, TaskOracleSober:
		p := e.timePenalty()
		if status == StatusTaskSuccessful {
			return 1 + p
		}
		return p
	case TaskGold:
		if !normal {
			return 0
		}
		return float64(o.Blstats[BlGold]-e.prevBlstats[BlGold]) + e.timePenalty()
	case TaskEat:
		if !normal {
			return 0
		}
		return float64(max(0, o.Internal[7]-e.prevHunger)) + e.timePenalty()
	case TaskScout:
		if !normal {
			return 0
		}
		key := [2]int64{o.Blstats[BlDNum], o.Blstats[BlDLevel]}
		n := 0
		for _, g := range o.Glyphs {
			if g != GlyphCmapOff {
				n++
			}
		}
		if e.explored == nil {
			e.explored = map[[2]int64]int{}
		}
		r := n - e.explored[key]
		e.explored[key] = n
		return float64(r) + e.timePenalty()
	}
	// Score and Challenge: score delta plus the time penalty.
	diff := 0.0
	if normal {
		diff = float64(o.Blstats[BlScore] - e.prevBlstats[BlScore])
	}
	return diff + e.timePenalty()
}

// Close releases the game. It is idempotent.
func (e *TaskEnv) Close() error { return e.game.Close() }
