package minihack

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// DefaultObservationKeys are MiniHack's default observations: the full map's glyphs, chars,
// colours and specials, their crops around the hero, the bottom-line statistics and the
// message.
var DefaultObservationKeys = []string{"glyphs", "chars", "colors", "specials", "glyphs_crop",
	"chars_crop", "colors_crop", "specials_crop", "blstats", "message"}

// KeyEndStatus is an observation a MiniHack env can be asked for (Options.ObservationKeys):
// the int64 end status of the step that led to the observation, as NLE's info["end_status"]
// (nethack.StatusRunning 0, StatusDeath 1, StatusTaskSuccessful 2, StatusAborted -1 for the
// step limit), 0 after a reset. Success rates are counted from it.
const KeyEndStatus = "end_status"

// Succeeded says whether a KeyEndStatus value is the task's success.
func Succeeded(endStatus int64) bool {
	return nethack.StepStatus(endStatus) == nethack.StatusTaskSuccessful
}

// cropOf maps each crop key to the NLE key it crops.
var cropOf = map[string]string{"glyphs_crop": "glyphs", "chars_crop": "chars", "colors_crop": "colors",
	"specials_crop": "specials", "tty_chars_crop": "tty_chars", "tty_colors_crop": "tty_colors"}

// Options configure an Env. Task names a registered task; the rest default to the task's.
type Options struct {
	// Task is a registered name such as "MiniHack-Room-5x5-v0" (TaskNames lists them).
	Task string
	// Des replaces the task's level: des-file text, or the path of a .des file.
	Des string
	// ObservationKeys are the observations; nil means DefaultObservationKeys. Any NLE key and
	// the crops glyphs_crop, chars_crop, colors_crop, specials_crop, tty_chars_crop and
	// tty_colors_crop are allowed, and KeyEndStatus.
	ObservationKeys []string
	// CropH and CropW are the crops' odd height and width; 0 means 9, MiniHack's.
	CropH, CropW int
	// MaxEpisodeSteps ends an episode as truncated; 0 means the task's.
	MaxEpisodeSteps int
	// Seed makes the games reproducible, as nethack.EnvOptions.Seed.
	Seed *uint64
	// LevelSeed seeds what the task draws when it builds its level (which trap, which
	// monster class, where MiniHack's Python draws from its random state); nil means Seed,
	// and random when both are nil.
	LevelSeed *uint64
	// TTYRecDir and TTYRecEvery record games as nethack.EnvOptions does.
	TTYRecDir   string
	TTYRecEvery int
	// Game carries the NLE folder, the temp folder and FixMoonPhase; the task sets the
	// character, options, monster spawning and the level's nhdat.
	Game nethack.GameOptions
	// Compile says where compiled levels are kept.
	Compile CompileOptions
}

// Validate names the first option out of range.
func (o Options) Validate() error {
	if _, ok := registry[o.Task]; !ok {
		return fmt.Errorf("minihack: unknown task %q; known tasks: %s", o.Task, strings.Join(TaskNames(), ", "))
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"CropH", o.CropH}, {"CropW", o.CropW}} {
		if v.n < 0 || v.n > 0 && v.n%2 == 0 {
			return fmt.Errorf("minihack: Options.%s %d: a crop size is odd and positive (0 means 9)", v.name, v.n)
		}
	}
	if o.MaxEpisodeSteps < 0 || o.TTYRecEvery < 0 {
		return errors.New("minihack: MaxEpisodeSteps and TTYRecEvery must not be negative")
	}
	for _, k := range o.ObservationKeys {
		if _, crop := cropOf[k]; !crop && k != KeyEndStatus && !slices.Contains(nethack.ObservationKeys, k) {
			return fmt.Errorf("minihack: unknown observation key %q; valid: NLE's (%s), the crops %s and %s", k,
				strings.Join(nethack.ObservationKeys, ", "), strings.Join(sortedKeys(cropOf), ", "), KeyEndStatus)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// Env is a MiniHack task behind Maestro's envs.Env API: NLE's game on the task's level, the
// task's actions, options and endings, and MiniHack's observations (the crops are centred on
// the hero, blstats' x and y, or the terminal cursor for tty crops, padded with 0).
type Env struct {
	envs.Env
	sim *simple
}

// NewEnv compiles the task's level (or reuses the compiled one) and starts its game; Reset
// before stepping.
func NewEnv(o Options) (*Env, error) {
	s, err := newSimple(o)
	if err != nil {
		return nil, err
	}
	return &Env{Env: envs.FromSimple(s), sim: s}, nil
}

// Task returns the game under the env (seeds, episode counters, ttyrec paths).
func (e *Env) Task() *nethack.TaskEnv { return e.sim.te }

// Level returns the compiled level the games are played on.
func (e *Env) Level() *Level { return e.sim.level }

// Spec returns the registered task the env plays.
func (e *Env) Spec() TaskSpec { return e.sim.spec }

type simple struct {
	te     *nethack.TaskEnv
	spec   TaskSpec
	level  *Level
	keys   []string
	specs  envs.Specs
	ch, cw int
	status nethack.StepStatus // the last step's, for KeyEndStatus
}

func newSimple(o Options) (*simple, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	spec := registry[o.Task]
	des := o.Des
	if des != "" && !strings.Contains(des, "\n") && strings.HasSuffix(des, ".des") {
		b, err := os.ReadFile(des)
		if err != nil {
			return nil, fmt.Errorf("minihack: Options.Des: %w", err)
		}
		des = string(b)
	}
	if des == "" {
		seed := rand.Uint64()
		if o.LevelSeed != nil {
			seed = *o.LevelSeed
		} else if o.Seed != nil {
			seed = *o.Seed
		}
		var err error
		if des, err = spec.Level(rand.New(rand.NewPCG(seed, 0x6d696e69))); err != nil {
			return nil, fmt.Errorf("minihack: %s's level: %w", spec.Name, err)
		}
	}
	level, err := Compile(des, o.Compile)
	if err != nil {
		return nil, err
	}
	s := &simple{spec: spec, level: level, ch: 9, cw: 9}
	if o.CropH > 0 {
		s.ch = o.CropH
	}
	if o.CropW > 0 {
		s.cw = o.CropW
	}
	s.keys = o.ObservationKeys
	if s.keys == nil {
		s.keys = spec.ObservationKeys
	}
	if s.keys == nil {
		s.keys = DefaultObservationKeys
	}
	s.keys = slices.Clone(s.keys)
	var gameKeys []string
	for _, k := range s.keys {
		if src, ok := cropOf[k]; ok {
			k = src
		}
		if k != KeyEndStatus && !slices.Contains(gameKeys, k) {
			gameKeys = append(gameKeys, k)
		}
	}
	if slices.Contains(s.keys, "tty_chars_crop") || slices.Contains(s.keys, "tty_colors_crop") {
		gameKeys = append(gameKeys, "tty_cursor")
	}
	// Python MiniHack's NLE computes every NLE observation at every step, whatever the env
	// returns, and computing screen_descriptions changes the game (describing what is on the
	// map draws from NetHack's random numbers: with monsters about, games part ways within a
	// few dozen steps without it, TestParityWithPythonMiniHack/MiniHack-River-Monster-v0).
	// So the game always computes it, as MiniHack's does.
	if !slices.Contains(gameKeys, "screen_descriptions") {
		gameKeys = append(gameKeys, "screen_descriptions")
	}
	for _, k := range spec.GameKeys {
		if !slices.Contains(gameKeys, k) {
			gameKeys = append(gameKeys, k)
		}
	}
	var rules nethack.Rules
	if spec.Rewards != nil {
		rules = spec.Rewards()
	}
	g := o.Game
	g.ObservationKeys = gameKeys
	g.Character = spec.Character
	g.Options = spec.nethackOptions()
	g.NoMonsterSpawn = !spec.SpawnMonsters
	g.Wizard = spec.Wizard
	g.NHDat = level.NHDat
	steps := spec.MaxEpisodeSteps
	if o.MaxEpisodeSteps > 0 {
		steps = o.MaxEpisodeSteps
	}
	te, err := nethack.NewTaskEnv(nethack.EnvOptions{Task: nethack.TaskStaircase, Game: g, Actions: spec.Actions,
		MaxEpisodeSteps: steps, AllowAllYNQuestions: spec.AllowAllYNQuestions, AllowAllModes: spec.AllowAllModes,
		TTYRecDir: o.TTYRecDir, TTYRecEvery: o.TTYRecEvery, Seed: o.Seed, Rules: rules, BeforeStep: spec.BeforeStep})
	if err != nil {
		return nil, err
	}
	s.te = te
	s.specs = envs.Specs{Observation: envs.NewComposite(), Action: envs.Categorical{N: te.NumActions()},
		Reward: envs.Unbounded{D: tensor.Float32}}
	for _, k := range s.keys {
		s.specs.Observation.Set(k, s.observationSpec(k))
	}
	return s, nil
}

// observationSpec is NLE's space for k, or for a crop its source's bounds and dtype.
func (s *simple) observationSpec(k string) envs.Spec {
	if k == KeyEndStatus {
		return envs.Bounded{S: []int{}, D: tensor.Int64, Low: -1, High: 2}
	}
	src, crop := cropOf[k]
	if !crop {
		return nethack.ObservationSpec(k)
	}
	b := nethack.ObservationSpec(src).(envs.Bounded)
	b.S = []int{s.ch, s.cw}
	return b
}

func (s *simple) Specs() envs.Specs { return s.specs }
func (s *simple) Close() error      { return s.te.Close() }

func (s *simple) ResetInto(obs *tensordict.Dict) error {
	if err := s.te.Reset(); err != nil {
		return err
	}
	s.status = nethack.StatusRunning
	return s.write(obs)
}

func (s *simple) StepInto(a *tensor.Tensor, obs *tensordict.Dict) (float64, bool, bool, error) {
	st, err := s.te.Step(int(a.At(0)))
	if err != nil {
		return 0, false, false, err
	}
	s.status = st.Status
	return st.Reward, st.Terminated, st.Truncated, s.write(obs)
}

func (s *simple) write(obs *tensordict.Dict) error {
	o := s.te.Obs()
	x, y := int(o.Blstats[nethack.BlX]), int(o.Blstats[nethack.BlY])
	for _, k := range s.keys {
		t, err := obs.Get(k)
		if err != nil {
			return err
		}
		if k == KeyEndStatus {
			tensor.MustData[int64](t)[0] = int64(s.status)
			continue
		}
		src, crop := cropOf[k]
		if !crop {
			copy(t.Bytes(), o.Bytes(k))
			continue
		}
		switch src {
		case "glyphs":
			Crop(tensor.MustData[int16](t), o.Glyphs, nethack.Rows, nethack.Cols, x, y, s.ch, s.cw)
		case "tty_chars":
			Crop(t.Bytes(), o.TTYChars, nethack.TermRows, nethack.TermCols, int(o.TTYCursor[1]), int(o.TTYCursor[0]), s.ch, s.cw)
		case "tty_colors":
			Crop(tensor.MustData[int8](t), o.TTYColors, nethack.TermRows, nethack.TermCols, int(o.TTYCursor[1]), int(o.TTYCursor[0]), s.ch, s.cw)
		default:
			Crop(t.Bytes(), o.Bytes(src), nethack.Rows, nethack.Cols, x, y, s.ch, s.cw)
		}
	}
	return nil
}

// Crop writes the h x w window of src (rows x cols, row-major) around column x, row y into
// dst, zero where it falls off the map: MiniHack's _crop_observation. For a crop that is not
// square MiniHack pads both axes by w/2 before and h/2 after, so its rows run from
// y - w/2 to y - w/2 + h - 1; Crop reproduces that.
func Crop[T int16 | int8 | uint8](dst, src []T, rows, cols, x, y, h, w int) {
	dw := w / 2
	for i := range h {
		r := y - dw + i
		for j := range w {
			c := x - dw + j
			var v T
			if r >= 0 && r < rows && c >= 0 && c < cols {
				v = src[r*cols+c]
			}
			dst[i*w+j] = v
		}
	}
}
