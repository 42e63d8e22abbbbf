package envs

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"weak"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Simple is the small interface a single environment implements; FromSimple turns it into an
// Env that speaks Dicts, checks actions against the spec, keeps the done flags and refuses to
// step past the end of an episode.
type Simple interface {
	Specs() Specs
	// ResetInto starts an episode and writes its first observation into obs, a Dict holding
	// every observation key of the spec (zeros).
	ResetInto(obs *tensordict.Dict) error
	// StepInto applies action (of the action spec's shape) and writes the next observation
	// into obs.
	StepInto(action *tensor.Tensor, obs *tensordict.Dict) (reward float64, terminated, truncated bool, err error)
	Close() error
}

// ErrEpisodeOver is returned by Step on a single env whose episode has ended.
var ErrEpisodeOver = errors.New("envs: the episode is over; call Reset")

type simpleEnv struct {
	s       Simple
	specs   Specs
	over    bool
	started bool
	// verified remembers "next" Dicts already checked by hasShapes, with their key count: a
	// collector hands the same preallocated rows over and over. Weak keys: a Dict seen once
	// (a batched env's row, new at every step) is not kept alive by the memory.
	verified map[weak.Pointer[tensordict.Dict]]int
	hits     int  // memory hits since it last filled up
	noMemory bool // a round without hits turned the memory off
}

// FromSimple wraps a single environment as an Env with an empty batch shape.
func FromSimple(s Simple) Env {
	return &simpleEnv{s: s, specs: s.Specs()}
}

func (e *simpleEnv) Specs() Specs      { return e.specs.Clone() }
func (e *simpleEnv) BatchShape() []int { return nil }
func (e *simpleEnv) Close() error      { return e.s.Close() }

// Unwrap returns the wrapped Simple environment.
func (e *simpleEnv) Unwrap() Simple { return e.s }

func (e *simpleEnv) Reset() (*tensordict.Dict, error) {
	td := e.specs.Observation.Zero()
	if err := e.s.ResetInto(td); err != nil {
		return nil, err
	}
	term, trunc, done := doneFlags(nil)
	td.Set(KeyTerminated, term)
	td.Set(KeyTruncated, trunc)
	td.Set(KeyDone, done)
	e.over, e.started = false, true
	return td, nil
}

// nextDict returns td's "next" Dict when Step can write into it (completing it with the keys
// it lacks: a recurrent policy may have put its next state there), else a new one that Step
// sets into td.
func nextDict(td *tensordict.Dict, specs Specs, batch []int) (*tensordict.Dict, bool) {
	if n, err := td.GetDict(KeyNext); err == nil && slices.Equal(n.BatchShape(), batch) {
		if hasShapes(n, specs, batch) {
			return n, true
		}
		if !n.Locked() && complete(n, specs, batch) == nil {
			return n, true
		}
	}
	n := tensordict.New(batch...)
	if err := complete(n, specs, batch); err != nil {
		panic(err) // a fresh Dict of the right batch shape always takes the spec's zeros
	}
	return n, false
}

// complete sets zeros for every key of the specs that n lacks or holds with another shape.
func complete(n *tensordict.Dict, specs Specs, batch []int) error {
	flag := Binary{}
	set := func(k string, s Spec) error {
		if t, err := n.Get(k); err == nil && checkShape(t, batch, s.Shape(), s.DType()) == nil {
			return nil
		}
		return n.Set(k, s.Zero(batch...))
	}
	for _, k := range specs.Observation.Keys() {
		s, _ := specs.Observation.Get(k)
		if err := set(k, s); err != nil {
			return err
		}
	}
	for _, k := range []string{KeyReward, KeyTerminated, KeyTruncated, KeyDone} {
		s := Spec(flag)
		if k == KeyReward {
			s = specs.Reward
		}
		if err := set(k, s); err != nil {
			return err
		}
	}
	return nil
}

// hasShapes reports whether n holds every observation key, the reward and the done flags with
// the specs' dtypes and shapes (values may be anything: a preallocated buffer holds old data).
// It allocates nothing: it runs on every step.
func hasShapes(n *tensordict.Dict, specs Specs, batch []int) bool {
	has := func(k string, s Spec) bool {
		t, err := n.Get(k)
		return err == nil && t.DType() == s.DType() && t.HasPrefix(batch) && specShapeIs(t, len(batch), s)
	}
	for _, k := range specs.Observation.keys {
		if !has(k, specs.Observation.specs[k]) {
			return false
		}
	}
	flag := Binary{}
	return has(KeyReward, specs.Reward) && has(KeyDone, flag) && has(KeyTerminated, flag) && has(KeyTruncated, flag)
}

// specShapeIs reports whether t's dims after the first nb equal the spec's shape.
func specShapeIs(t *tensor.Tensor, nb int, s Spec) bool {
	var sh []int
	switch v := s.(type) {
	case Unbounded:
		sh = v.S
	case Bounded:
		sh = v.S
	case Categorical:
		sh = v.S
	case Binary:
		sh = v.S
	default:
		sh = s.Shape()
	}
	if t.NumDims() != nb+len(sh) {
		return false
	}
	for i, d := range sh {
		if t.Dim(nb+i) != d {
			return false
		}
	}
	return true
}

func (e *simpleEnv) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	if !e.started {
		return nil, errors.New("envs: Step before Reset")
	}
	if e.over {
		return nil, ErrEpisodeOver
	}
	a, err := td.Get(KeyAction)
	if err != nil {
		return nil, fmt.Errorf("envs: step: %w", err)
	}
	if err := e.specs.Action.IsIn(a, nil); err != nil {
		return nil, fmt.Errorf("envs: action: %w", err)
	}
	next, inPlace := e.next(td)
	r, term, trunc, err := e.s.StepInto(a, next)
	if err != nil {
		return nil, err
	}
	rt, _ := next.Get(KeyReward)
	rt.SetAt(0, r)
	setFlag(next, KeyTerminated, term)
	setFlag(next, KeyTruncated, trunc)
	setFlag(next, KeyDone, term || trunc)
	e.over = term || trunc
	if !inPlace {
		if err := td.SetDict(KeyNext, next); err != nil {
			return nil, err
		}
	}
	return td, nil
}

// maxVerified bounds simpleEnv.verified: a collector's rows (64 per buffer, a few buffers)
// fit; a batched env's rows, new at every step, are forgotten once collected.
const maxVerified = 4096

// next is nextDict with a memory of Dicts that passed the shape check. The memory is dropped
// for good when a whole round of maxVerified new Dicts brought no hit: a batched env hands its
// children new rows at every step (and checks their shapes itself, batched).
func (e *simpleEnv) next(td *tensordict.Dict) (*tensordict.Dict, bool) {
	n, err := td.GetDict(KeyNext)
	if err != nil || n.Locked() || e.noMemory {
		return nextDict(td, e.specs, nil)
	}
	key := weak.Make(n)
	if k, ok := e.verified[key]; ok && k == n.Len() && len(n.BatchShape()) == 0 {
		e.hits++
		return n, true
	}
	checked, inPlace := nextDict(td, e.specs, nil)
	if !inPlace {
		return checked, false
	}
	if len(e.verified) >= maxVerified {
		if e.hits == 0 { // a round without a hit: every Dict is new
			e.verified, e.noMemory = nil, true
			return checked, true
		}
		// Forget the Dicts that are gone; start over if the live ones fill the memory.
		maps.DeleteFunc(e.verified, func(k weak.Pointer[tensordict.Dict], _ int) bool { return k.Value() == nil })
		if len(e.verified) >= maxVerified {
			clear(e.verified)
		}
		e.hits = 0
	}
	if e.verified == nil {
		e.verified = map[weak.Pointer[tensordict.Dict]]int{}
	}
	if checked != n {
		key = weak.Make(checked)
	}
	e.verified[key] = checked.Len()
	return checked, true
}

func setFlag(d *tensordict.Dict, key string, v bool) {
	t, _ := d.Get(key)
	tensor.MustData[bool](t)[0] = v
}
