package motif

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// FormatVersion is written into every dataset and pair file ("format" leaf); readers refuse
// other versions.
const FormatVersion = 1

// Observation keys of a dataset ([N, ...] each): the NLE observations (message, blstats,
// tty_chars, tty_colors) and, per row, the episode id, the step in the episode, the in-game
// score, turn and dungeon depth.
const (
	KeyEpisode = "episode"
	KeyStep    = "step"
	KeyScore   = "score"
	KeyTurns   = "turns"
	KeyDepth   = "depth"
)

// CollectOptions configure Collect.
type CollectOptions struct {
	Task nethack.Task
	// Steps is the number of observations to store; Envs games are played side by side.
	Steps, Envs int
	Seed        uint64
	// Policy acts (nil: uniformly random actions).
	Policy envs.Policy
	// NoTTY leaves tty_chars and tty_colors out (they are 3,840 of a row's ~4,350 bytes).
	NoTTY bool
	// Character is NLE's character string; "" means Motif's "mon-hum-neu-mal".
	Character string
	// Progress, when set, is called after each batch with the steps stored so far.
	Progress func(done int)
}

// Validate reports an option out of range.
func (o CollectOptions) Validate() error {
	if o.Steps <= 0 || o.Envs <= 0 {
		return fmt.Errorf("motif: collect needs positive steps and envs, got %d and %d", o.Steps, o.Envs)
	}
	return nil
}

// Collect plays the task and returns a dataset of Steps observations (those on which actions
// were taken), ordered by episode and step.
func Collect(ctx context.Context, o CollectOptions) (*tensordict.Dict, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Character == "" {
		o.Character = "mon-hum-neu-mal"
	}
	keys := []string{"message", "blstats"}
	if !o.NoTTY {
		keys = append(keys, "tty_chars", "tty_colors")
	}
	var children []envs.Env
	for i := 0; i < o.Envs; i++ {
		e, err := nethack.NewEnv(nethack.EnvOptions{Task: o.Task, Game: nethack.GameOptions{ObservationKeys: keys, Character: o.Character}})
		if err == nil {
			err = e.Task().Seed(nethack.Seeds{Core: o.Seed*7919 + uint64(i), Disp: o.Seed*7919 + uint64(i) + 1})
		}
		if err != nil {
			for _, c := range children {
				c.Close()
			}
			return nil, err
		}
		children = append(children, e)
	}
	batched, err := envs.Serial(children...)
	if err != nil {
		return nil, err
	}
	env, err := envs.Compose(batched, envs.StepCounter(0))
	if err != nil {
		batched.Close()
		return nil, err
	}
	per := 64
	co := collectors.Options{FramesPerBatch: per * o.Envs}
	if o.Policy == nil {
		co.InitRandomFrames = 1 << 62
	}
	col, err := collectors.NewSync(env, o.Policy, co)
	if err != nil {
		env.Close()
		return nil, err
	}
	defer col.Close()
	var parts []*tensordict.Dict
	episode := make([]int64, o.Envs) // per env; ids are env + Envs * (episodes so far)
	stored := 0
	for stored < o.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := col.Next()
		if err != nil {
			return nil, err
		}
		done := tensor.MustData[bool](must(b.Get(envs.NextKey(envs.KeyDone))))
		steps := tensor.MustData[int64](must(b.Get("step_count")))
		// [T, B] -> rows env by env, so each episode's steps are consecutive.
		for e := 0; e < o.Envs && stored < o.Steps; e++ {
			rows := make([]int, 0, per)
			ids := make([]int64, 0, per)
			var st []int64
			for t := 0; t < per && stored+len(rows) < o.Steps; t++ {
				i := t*o.Envs + e
				rows = append(rows, i)
				ids = append(ids, int64(e)+int64(o.Envs)*episode[e])
				st = append(st, steps[i])
				if done[i] {
					episode[e]++
				}
			}
			sel, err := b.Select(keys...)
			if err != nil {
				return nil, err
			}
			flat, err := sel.ReshapeBatch(per * o.Envs)
			if err != nil {
				return nil, err
			}
			part, err := flat.IndexList(rows)
			if err != nil {
				return nil, err
			}
			bl := tensor.MustData[int64](must(part.Get("blstats")))
			score, turns, depth := make([]int64, len(rows)), make([]int64, len(rows)), make([]int64, len(rows))
			for k := range rows {
				r := bl[k*nethack.NumBlstats:]
				score[k], turns[k], depth[k] = r[nethack.BlScore], r[nethack.BlTime], r[nethack.BlDepth]
			}
			for k, v := range map[string][]int64{KeyEpisode: ids, KeyStep: st, KeyScore: score, KeyTurns: turns, KeyDepth: depth} {
				if err := part.Set(k, tensor.Of(v)); err != nil {
					return nil, err
				}
			}
			parts = append(parts, part)
			stored += len(rows)
		}
		if o.Progress != nil {
			o.Progress(stored)
		}
	}
	out, err := tensordict.Cat(parts)
	if err != nil {
		return nil, err
	}
	// Batches interleave the envs: order the rows by episode, then step, so each episode's
	// steps are consecutive (PairIndices and TransitionIndices rely on it).
	ep := tensor.MustData[int64](must(out.Get(KeyEpisode)))
	st := tensor.MustData[int64](must(out.Get(KeyStep)))
	perm := make([]int, len(ep))
	for i := range perm {
		perm[i] = i
	}
	slices.SortStableFunc(perm, func(a, b int) int {
		if ep[a] != ep[b] {
			return cmp.Compare(ep[a], ep[b])
		}
		return cmp.Compare(st[a], st[b])
	})
	return out.IndexList(perm)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Caption is the text the judge sees for an observation: its message up to the first NUL,
// without surrounding spaces (often empty).
func Caption(message []uint8) string {
	if i := bytes.IndexByte(message, 0); i >= 0 {
		message = message[:i]
	}
	return string(bytes.TrimSpace(message))
}

// PairIndices draws Motif's pairs from a dataset's episode ids: from each episode of length T
// it takes T/L random steps (L = stride, 1 in the paper), shuffles them over all episodes and
// pairs them consecutively; at most n pairs (0: all). The result is [P][2] row indices.
func PairIndices(episode []int64, stride, n int, rng *rand.Rand) [][2]int {
	if stride <= 0 {
		stride = 1
	}
	var picks []int
	for lo := 0; lo < len(episode); {
		hi := lo
		for hi < len(episode) && episode[hi] == episode[lo] {
			hi++
		}
		T := hi - lo
		for range T / stride {
			picks = append(picks, lo+rng.IntN(T))
		}
		lo = hi
	}
	rng.Shuffle(len(picks), func(i, j int) { picks[i], picks[j] = picks[j], picks[i] })
	var pairs [][2]int
	for i := 0; i+1 < len(picks) && (n <= 0 || len(pairs) < n); i += 2 {
		pairs = append(pairs, [2]int{picks[i], picks[i+1]})
	}
	return pairs
}

// MakePairs builds a pair dataset from an observation dataset: first/<key> and second/<key> for
// message and blstats, the source rows under "index" [P, 2], "label" [P] int8 set to Unknown,
// and the format version.
func MakePairs(obs *tensordict.Dict, pairs [][2]int) (*tensordict.Dict, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("motif: no pairs (the dataset has %v rows; collect more steps)", obs.BatchShape())
	}
	a, b := make([]int, len(pairs)), make([]int, len(pairs))
	idx := make([]int64, 2*len(pairs))
	for i, p := range pairs {
		a[i], b[i] = p[0], p[1]
		idx[2*i], idx[2*i+1] = int64(p[0]), int64(p[1])
	}
	sel, err := obs.Select("message", "blstats")
	if err != nil {
		return nil, err
	}
	first, err := sel.IndexList(a)
	if err != nil {
		return nil, err
	}
	second, err := sel.IndexList(b)
	if err != nil {
		return nil, err
	}
	out := tensordict.New(len(pairs))
	it, _ := tensor.FromSlice(idx, len(pairs), 2)
	labels := make([]int8, len(pairs))
	for i := range labels {
		labels[i] = Unknown
	}
	for _, err := range []error{out.SetDict("first", first), out.SetDict("second", second), out.Set("index", it), out.Set("label", tensor.Of(labels))} {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
