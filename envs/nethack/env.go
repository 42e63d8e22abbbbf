package nethack

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Env is a NetHack task behind Maestro's envs.Env API. Observations are Dict leaves named and
// shaped as NLE names them (the keys of EnvOptions.Game.ObservationKeys, NLE's env default when
// nil), the action is "action", an int64 index into the task's action set, and the reward is
// float32. Its specs follow NLE's observation spaces.
type Env struct {
	envs.Env
	task *TaskEnv
}

// NewEnv creates the task and wraps it.
func NewEnv(o EnvOptions) (*Env, error) {
	te, err := NewTaskEnv(o)
	if err != nil {
		return nil, err
	}
	keys := o.Game.ObservationKeys
	if keys == nil {
		keys = defaultEnvKeys(o.Task)
	}
	s := &simpleTask{te: te, keys: keys}
	s.specs = envs.Specs{Observation: envs.NewComposite(), Action: envs.Categorical{N: te.NumActions()},
		Reward: envs.Unbounded{D: tensor.Float32}}
	for _, k := range keys {
		s.specs.Observation.Set(k, ObservationSpec(k))
	}
	return &Env{Env: envs.FromSimple(s), task: te}, nil
}

// defaultKeys are NLE's default observation keys (those of its base env).
var defaultKeys = []string{"glyphs", "chars", "colors", "specials", "blstats", "message", "inv_glyphs",
	"inv_strs", "inv_letters", "inv_oclasses", "screen_descriptions", "tty_chars", "tty_colors", "tty_cursor"}

// CompactObservationKeys are NLE's default observations without the inventory and
// screen_descriptions (the largest): what the benchmarks compare with Python NLE.
var CompactObservationKeys = []string{"glyphs", "chars", "colors", "specials", "blstats", "message", "tty_chars", "tty_colors", "tty_cursor"}

func defaultEnvKeys(t Task) []string {
	if t == TaskChallenge {
		return []string{"glyphs", "chars", "colors", "specials", "blstats", "message", "inv_glyphs",
			"inv_strs", "inv_letters", "inv_oclasses", "tty_chars", "tty_colors", "tty_cursor", "misc"}
	}
	return slices.Clone(defaultKeys)
}

// Task returns the underlying TaskEnv (for seeds, the raw game, episode counters).
func (e *Env) Task() *TaskEnv { return e.task }

// ObservationSpec returns NLE's space for observation key k (shape, dtype and bounds of
// nle.env.base.NLE_SPACE_ITEMS); it panics on an unknown key.
func ObservationSpec(k string) envs.Spec {
	i32 := func(n int) envs.Spec {
		return envs.Bounded{S: []int{n}, D: tensor.Int32, Low: math.MinInt32, High: math.MaxInt32}
	}
	switch k {
	case "glyphs":
		return envs.Bounded{S: []int{Rows, Cols}, D: tensor.Int16, Low: 0, High: NoGlyph}
	case "chars", "specials":
		return envs.Bounded{S: []int{Rows, Cols}, D: tensor.Uint8, Low: 0, High: 255}
	case "colors":
		return envs.Bounded{S: []int{Rows, Cols}, D: tensor.Uint8, Low: 0, High: 15}
	case "blstats":
		return envs.Bounded{S: []int{NumBlstats}, D: tensor.Int64, Low: math.MinInt32, High: math.MaxInt32}
	case "message":
		return envs.Bounded{S: []int{MessageLen}, D: tensor.Uint8, Low: 0, High: 255}
	case "program_state":
		return i32(6)
	case "internal":
		return i32(9)
	case "misc":
		return i32(3)
	case "inv_glyphs":
		return envs.Bounded{S: []int{InventoryN}, D: tensor.Int16, Low: 0, High: NoGlyph}
	case "inv_strs":
		return envs.Bounded{S: []int{InventoryN, InvStrLen}, D: tensor.Uint8, Low: 0, High: 255}
	case "inv_letters":
		return envs.Bounded{S: []int{InventoryN}, D: tensor.Uint8, Low: 0, High: 127}
	case "inv_oclasses":
		return envs.Bounded{S: []int{InventoryN}, D: tensor.Uint8, Low: 0, High: 18}
	case "screen_descriptions":
		return envs.Bounded{S: []int{Rows, Cols, ScreenDescN}, D: tensor.Uint8, Low: 0, High: 127}
	case "tty_chars":
		return envs.Bounded{S: []int{TermRows, TermCols}, D: tensor.Uint8, Low: 0, High: 255}
	case "tty_colors":
		return envs.Bounded{S: []int{TermRows, TermCols}, D: tensor.Int8, Low: 0, High: 31}
	case "tty_cursor":
		return envs.Bounded{S: []int{2}, D: tensor.Uint8, Low: 0, High: 255}
	}
	panic(fmt.Sprintf("nethack: unknown observation key %q", k))
}

// simpleTask adapts a TaskEnv to envs.Simple: it copies the observation buffers into the Dict
// it is given, so outputs never alias the game's memory.
type simpleTask struct {
	te    *TaskEnv
	keys  []string
	specs envs.Specs
}

func (s *simpleTask) Specs() envs.Specs { return s.specs }
func (s *simpleTask) Close() error      { return s.te.Close() }

func (s *simpleTask) ResetInto(obs *tensordict.Dict) error {
	if err := s.te.Reset(); err != nil {
		return err
	}
	return s.write(obs)
}

func (s *simpleTask) StepInto(a *tensor.Tensor, obs *tensordict.Dict) (float64, bool, bool, error) {
	st, err := s.te.Step(int(a.At(0)))
	if err != nil {
		return 0, false, false, err
	}
	return st.Reward, st.Terminated, st.Truncated, s.write(obs)
}

func (s *simpleTask) write(obs *tensordict.Dict) error {
	o := s.te.Obs()
	for _, k := range s.keys {
		t, err := obs.Get(k)
		if err != nil {
			return err
		}
		copy(t.Bytes(), o.Bytes(k))
	}
	return nil
}

func asBytes[T int16 | int32 | int64 | int8](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}
