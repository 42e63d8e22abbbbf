package skills

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"go.starlark.net/starlark"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// KeySkill is the observation the Controller adds: the index (in the spec's order) of the
// skill playing the step, int64; the skill-conditioned agent reads it (one key, defined with
// the agent).
const KeySkill = nethackagent.KeySkill

// KeySkillSteps is the other observation the Controller adds: the steps the skill has played
// before this one (0 on its first step, also when a skill is chosen again right after it
// stopped), int64. Skill segments end where it is 0 under next.
const KeySkillSteps = KeySkill + "_steps"

// Code is the skill code a Controller runs: the initiation and termination functions and the
// policy over skills, loaded into the sandbox.
type Code struct {
	Initiation, Termination, Policy *Program
	// Sources are the files' texts by kind (initiation, termination, policy).
	Sources map[string]string
}

// CodeKinds are the three functions and the files they live in (<kind>.star).
var CodeKinds = []string{"initiation", "termination", "policy"}

var sigOf = map[string]Signature{"initiation": InitiationSig, "termination": TerminationSig, "policy": PolicySig}

//go:embed code/*.star
var referenceCode embed.FS

// ReferenceCode returns the skill code Maestro ships: MaestroMotif's initiation and
// termination rules and its training-time strategy (explore each level, go down to a depth
// of 3 or 4, come back up, let Merchant and Worshipper interrupt), written by hand as the
// harnesses' reference; `compose` has an LLM write replacements.
func ReferenceCode(l Limits) (*Code, error) {
	src := map[string]string{}
	for _, k := range CodeKinds {
		b, err := referenceCode.ReadFile("code/" + k + ".star")
		if err != nil {
			return nil, err
		}
		src[k] = string(b)
	}
	return ParseCode(src, l)
}

// LoadCode reads <dir>/initiation.star, termination.star and policy.star (compose's output);
// dir "default" is ReferenceCode. A missing file is taken from the reference code, so a
// folder may hold only the functions it replaces.
func LoadCode(dir string, l Limits) (*Code, error) {
	ref, err := ReferenceCode(l)
	if err != nil || dir == "default" {
		return ref, err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("skills: code folder %q: not a folder (want compose's output with initiation.star, termination.star, policy.star, or \"default\")", dir)
	}
	src := map[string]string{}
	for _, k := range CodeKinds {
		b, err := os.ReadFile(filepath.Join(dir, k+".star"))
		switch {
		case errors.Is(err, os.ErrNotExist):
			src[k] = ref.Sources[k]
		case err != nil:
			return nil, fmt.Errorf("skills: %w", err)
		default:
			src[k] = string(b)
		}
	}
	return ParseCode(src, l)
}

// ParseCode loads the three functions from their sources (by kind).
func ParseCode(src map[string]string, l Limits) (*Code, error) {
	c := &Code{Sources: src}
	for _, k := range CodeKinds {
		p, err := Load(k+".star", src[k], []Signature{sigOf[k]}, l)
		if err != nil {
			return nil, err
		}
		switch k {
		case "initiation":
			c.Initiation = p
		case "termination":
			c.Termination = p
		case "policy":
			c.Policy = p
		}
	}
	return c, nil
}

// ControllerStats count what the generated code did, for logs.
type ControllerStats struct {
	Switches int // skill switches (episode starts included)
	// Errors counts failed calls by function; LastError is the latest one's text.
	Errors    map[string]int
	LastError string
	// Refused counts choices of a skill whose initiation function said it cannot start.
	Refused int
}

// Controller plays skills in call-and-return fashion over one NetHack env: at each episode
// start and whenever the running skill's termination function says stop, it asks the policy
// over skills for the next one (a skill whose initiation function refuses is asked for again,
// up to 4 times, then the first skill that may start plays). The skill playing each step is
// the observation KeySkill; skill switches are not episode boundaries.
//
// Generated code that fails at run time never stops the env: a failed termination call keeps
// the skill, a failed choice falls back as above, and Stats counts the failures.
type Controller struct {
	inner  envs.Env
	specs  envs.Specs
	spec   *Spec
	code   *Code
	ctx    context.Context
	state  starlark.Value
	skill  int
	steps  int // the skill's steps before the current one
	start  *starlark.Dict
	items  int // non-food items picked up since the last Merchant or Worshipper segment
	bl     []int64
	tty    []uint8    // the last observed step's views (valid until the next step)
	mu     sync.Mutex // guards stats: a trainer reads them while a collector's worker steps
	stats  ControllerStats
	pickup *regexp.Regexp
	// the initiation calls' batch, reused
	batch []Call
	vals  []starlark.Value
	errs  []error
}

// NewController wraps env (a single NetHack env with tty_chars, blstats and message).
func NewController(env envs.Env, spec *Spec, code *Code) (*Controller, error) {
	if len(env.BatchShape()) != 0 {
		return nil, fmt.Errorf("skills: the controller wraps one env, not a batch of %v (wrap each env, then batch them)", env.BatchShape())
	}
	specs := env.Specs()
	for _, k := range []string{"tty_chars", "blstats", "message"} {
		if _, ok := specs.Observation.Get(k); !ok {
			return nil, fmt.Errorf("skills: the controller reads the observation %q; make the env with it", k)
		}
	}
	for _, k := range []string{KeySkill, KeySkillSteps} {
		if _, dup := specs.Observation.Get(k); dup {
			return nil, fmt.Errorf("skills: the env already has an observation %q", k)
		}
	}
	specs.Observation.Set(KeySkill, envs.Categorical{N: len(spec.Skills)})
	specs.Observation.Set(KeySkillSteps, envs.Unbounded{D: tensor.Int64})
	return &Controller{inner: env, specs: specs, spec: spec, code: code, ctx: context.Background(),
		stats: ControllerStats{Errors: map[string]int{}}, pickup: regexp.MustCompile(`^[a-zA-Z] - (.*)\.$`)}, nil
}

// Specs returns the inner env's specs with KeySkill added.
func (c *Controller) Specs() envs.Specs { return c.specs.Clone() }

// BatchShape is empty: the controller wraps one env.
func (c *Controller) BatchShape() []int { return nil }

// Close closes the inner env.
func (c *Controller) Close() error { return c.inner.Close() }

// Inner returns the wrapped env.
func (c *Controller) Inner() envs.Env { return c.inner }

// Skill returns the index of the skill playing now.
func (c *Controller) Skill() int { return c.skill }

// Stats returns the counts so far. It may be called while another goroutine steps the env.
func (c *Controller) Stats() ControllerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Errors = map[string]int{}
	for k, v := range c.stats.Errors {
		s.Errors[k] = v
	}
	return s
}

// Reset starts an episode and chooses its first skill.
func (c *Controller) Reset() (*tensordict.Dict, error) {
	td, err := c.inner.Reset()
	if err != nil {
		return nil, err
	}
	c.state, c.items = starlark.NewDict(0), 0
	obs, err := c.observe(td)
	if err != nil {
		return nil, err
	}
	c.choose(obs)
	return td, c.write(td)
}

// Step steps the inner env and, unless the episode ended, asks the termination function
// whether the skill stops, choosing the next one if so; next/KeySkill is the skill of the
// following step.
func (c *Controller) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	td, err := c.inner.Step(td)
	if err != nil {
		return nil, err
	}
	nd, err := td.GetDict(envs.KeyNext)
	if err != nil {
		return nil, err
	}
	obs, err := c.observe(nd)
	if err != nil {
		return nil, err
	}
	done, _ := tensordict.GetAs[bool](nd, envs.KeyDone)
	if len(done) == 1 && !done[0] && c.shouldStop(obs) {
		if name := c.spec.Skills[c.skill].Name; name == "merchant" || name == "worshipper" {
			c.items = 0 // the sale or altar visit is over
		}
		c.choose(obs)
	} else {
		c.steps++
	}
	return td, c.write(nd)
}

// write sets the skill and its step count in d (in place into a preallocated row).
func (c *Controller) write(d *tensordict.Dict) error {
	for _, kv := range []struct {
		k string
		v int
	}{{KeySkill, c.skill}, {KeySkillSteps, c.steps}} {
		if t, err := d.Get(kv.k); err == nil && t.DType() == tensor.Int64 && t.NumDims() == 0 {
			t.SetAt(0, float64(kv.v))
			continue
		}
		t := tensor.Zeros(tensor.Int64)
		t.SetAt(0, float64(kv.v))
		if err := d.Set(kv.k, t); err != nil {
			return err
		}
	}
	return nil
}

// shouldStop runs the termination function; a failure keeps the skill.
func (c *Controller) shouldStop(now *starlark.Dict) bool {
	turns := int64(0)
	if t0, t1 := intKey(c.start, "turn"), intKey(now, "turn"); t1 >= t0 {
		turns = t1 - t0
	}
	v, err := c.code.Termination.Call(c.ctx, "should_stop", starlark.String(c.spec.Skills[c.skill].Name), c.start, now, starlark.MakeInt64(turns))
	if err != nil {
		c.fail("termination", err)
		return false
	}
	b, ok := v.(starlark.Bool)
	if !ok {
		c.fail("termination", fmt.Errorf("should_stop returned %s, want a bool", v.Type()))
		return false
	}
	return bool(b)
}

// choose asks the policy over skills for the next skill (see Controller) and starts it.
func (c *Controller) choose(obs *starlark.Dict) {
	c.addView(obs)
	startable := c.startable(obs)
	var names []starlark.Value
	for k, ok := range startable {
		if ok {
			names = append(names, starlark.String(c.spec.Skills[k].Name))
		}
	}
	obs.SetKey(starlark.String("startable"), starlark.NewList(names))
	next := -1
	for try := 0; try < 4 && next < 0; try++ {
		v, err := c.code.Policy.Call(c.ctx, "select_skill", obs, c.state)
		if err != nil {
			c.fail("policy", err)
			break
		}
		tup, ok := v.(starlark.Tuple)
		if !ok || len(tup) != 2 {
			c.fail("policy", fmt.Errorf("select_skill returned %s, want (skill, state)", v))
			break
		}
		c.state = tup[1]
		name, _ := starlark.AsString(tup[0])
		k, err := c.spec.Skill(name)
		if err != nil {
			c.fail("policy", err)
			break
		}
		if !startable[k] {
			c.mu.Lock()
			c.stats.Refused++
			c.mu.Unlock()
			continue
		}
		next = k
	}
	if next < 0 {
		next = 0
		for k, ok := range startable {
			if ok {
				next = k
				break
			}
		}
	}
	c.skill, c.start, c.steps = next, obs, 0
	c.mu.Lock()
	c.stats.Switches++
	c.mu.Unlock()
}

// startable runs the initiation function for every skill; a failure counts as "may start"
// for skills without preconditions in the reference (all but Merchant and Worshipper).
func (c *Controller) startable(obs *starlark.Dict) []bool {
	n := len(c.spec.Skills)
	if cap(c.batch) < n {
		c.batch, c.vals, c.errs = make([]Call, n), make([]starlark.Value, n), make([]error, n)
	}
	batch, vals, errs := c.batch[:n], c.vals[:n], c.errs[:n]
	for k, sk := range c.spec.Skills {
		batch[k] = Call{"can_start", []starlark.Value{starlark.String(sk.Name), obs}}
		vals[k], errs[k] = nil, nil
	}
	c.code.Initiation.CallBatch(c.ctx, batch, vals, errs) // its error is in every errs[k]
	out := make([]bool, n)
	for k, sk := range c.spec.Skills {
		err := errs[k]
		if err == nil {
			if b, ok := vals[k].(starlark.Bool); ok {
				out[k] = bool(b)
				continue
			}
			err = fmt.Errorf("can_start returned %s, want a bool", vals[k].Type())
		}
		c.fail("initiation", err)
		out[k] = sk.Name != "merchant" && sk.Name != "worshipper"
	}
	return out
}

func (c *Controller) fail(kind string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Errors[kind]++
	c.stats.LastError = err.Error()
}

// observe builds the observation the termination function sees from td's blstats and
// message, keeps the step's blstats and tty_chars for addView, and counts picked-up items.
func (c *Controller) observe(td *tensordict.Dict) (*starlark.Dict, error) {
	bl, err := tensordict.GetAs[int64](td, "blstats")
	if err == nil && len(bl) != nethack.NumBlstats {
		err = fmt.Errorf("blstats has %d values", len(bl))
	}
	var msg, tty []uint8
	if err == nil {
		msg, err = tensordict.GetAs[uint8](td, "message")
	}
	if err == nil {
		tty, err = tensordict.GetAs[uint8](td, "tty_chars")
	}
	if err == nil && len(tty) != nethack.TermRows*nethack.TermCols {
		err = fmt.Errorf("tty_chars has %d values", len(tty))
	}
	if err != nil {
		return nil, fmt.Errorf("skills: controller: %w", err)
	}
	text := MessageText(msg)
	if len(text) > 4 && text[1:4] == " - " { // "f - a +0 dagger.": cheap test before the regexp
		if m := c.pickup.FindStringSubmatch(text); m != nil && !isFood(m[1]) {
			c.items++
		}
	}
	c.bl, c.tty = bl, tty
	return StarlarkObs(bl, text), nil
}

// addView adds what the initiation function and the policy see besides: the 7x7 window
// around the hero and the new items, from the step observe last read.
func (c *Controller) addView(d *starlark.Dict) {
	d.SetKey(starlark.String("window"), window(c.tty, int(c.bl[nethack.BlX]), int(c.bl[nethack.BlY])))
	d.SetKey(starlark.String("new_items"), starlark.MakeInt(c.items))
}

// DungeonNames are the names the code sees for NetHack's dungeon numbers (blstats dnum).
var DungeonNames = []string{"main", "gehennom", "mines", "quest", "sokoban", "ludios", "vlad", "planes"}

// StarlarkObs is the observation dict the code sees: depth, dungeon, turn, gold, hp, message.
func StarlarkObs(bl []int64, message string) *starlark.Dict {
	dungeon := "main"
	if n := int(bl[nethack.BlDNum]); n >= 0 && n < len(DungeonNames) {
		dungeon = DungeonNames[n]
	}
	d := starlark.NewDict(10)
	for _, kv := range []struct {
		k string
		v starlark.Value
	}{{"depth", starlark.MakeInt64(bl[nethack.BlDepth])}, {"dungeon", starlark.String(dungeon)},
		{"turn", starlark.MakeInt64(bl[nethack.BlTime])}, {"gold", starlark.MakeInt64(bl[nethack.BlGold])},
		{"hp", starlark.MakeInt64(bl[nethack.BlHP])}, {"message", starlark.String(message)}} {
		d.SetKey(starlark.String(kv.k), kv.v)
	}
	return d
}

// MessageText is NLE's message bytes as text (up to the first NUL, trailing blanks dropped).
func MessageText(msg []uint8) string {
	if i := strings.IndexByte(string(msg), 0); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimRight(string(msg), " ")
}

// window returns the 7x7 terminal characters around the hero (map x, y; the map starts on
// terminal row 1) as 7 strings, blanks outside the screen.
func window(tty []uint8, x, y int) *starlark.List {
	rows := make([]starlark.Value, 7)
	var b [7]byte
	for dy := -3; dy <= 3; dy++ {
		for dx := -3; dx <= 3; dx++ {
			r, col := y+1+dy, x+dx
			b[dx+3] = ' '
			if r >= 0 && r < nethack.TermRows && col >= 0 && col < nethack.TermCols {
				b[dx+3] = tty[r*nethack.TermCols+col]
			}
		}
		rows[dy+3] = starlark.String(b[:])
	}
	return starlark.NewList(rows)
}

var foods = []string{"food ration", "cram ration", "lembas", "tin", "egg", "corpse", "apple", "orange", "pear", "melon",
	"banana", "carrot", "kelp", "slime mold", "tripe", "meatball", "meat", "pancake", "candy bar", "cookie", "lichen",
	"sprig of wolfsbane", "clove of garlic", "cream pie", "K-ration", "C-ration", "lump of royal jelly", "eucalyptus leaf"}

func isFood(item string) bool {
	if strings.Contains(item, "gold piece") {
		return true // gold is not an item to sell or test
	}
	for _, f := range foods {
		if strings.Contains(item, f) {
			return true
		}
	}
	return false
}

func intKey(d *starlark.Dict, k string) int64 {
	if d == nil {
		return 0
	}
	v, _, _ := d.Get(starlark.String(k))
	if i, ok := v.(starlark.Int); ok {
		n, _ := i.Int64()
		return n
	}
	return 0
}
