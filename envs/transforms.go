package envs

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Transforms wrap an Env and return an Env. Those that keep per-episode state (RewardSum,
// StepCounter, InitTracker, CatFrames) keep it in the Dict itself, as TorchRL does: the value
// at the root is the current one and Step writes the next one under "next", so StepMDP carries
// it, batched envs need nothing special, and partial resets only rewrite the reset rows.

// Transform builds a wrapped Env from an Env.
type Transform func(Env) (Env, error)

// Compose applies transforms in order: the first wraps env, the next wraps that, and so on.
func Compose(env Env, ts ...Transform) (Env, error) {
	for i, t := range ts {
		var err error
		if env, err = t(env); err != nil {
			return nil, fmt.Errorf("envs: transform %d: %w", i, err)
		}
	}
	return env, nil
}

// wrapper forwards everything to the inner env; transforms override what they change.
type wrapper struct {
	inner Env
	specs Specs
}

func (w *wrapper) Specs() Specs      { return w.specs.Clone() }
func (w *wrapper) BatchShape() []int { return w.inner.BatchShape() }
func (w *wrapper) Close() error      { return w.inner.Close() }

// Inner returns the wrapped env.
func (w *wrapper) Inner() Env { return w.inner }

func (w *wrapper) resetSome(mask []bool, td *tensordict.Dict) error {
	pr, ok := w.inner.(PartialResetter)
	if !ok {
		return fmt.Errorf("envs: %T cannot reset part of its batch", w.inner)
	}
	return pr.ResetSome(mask, td)
}

func next(key string) string { return KeyNext + tensordict.Sep + key }

// rowsOf returns the elements of t per batch element: t has shape batch + rest.
func rowLen(t *tensor.Tensor, batch []int) int {
	n := 1
	for _, d := range t.Shape()[len(batch):] {
		n *= d
	}
	return n
}

// zeroRows sets the batch elements selected by mask (nil: all) of key to v.
func fillRows(td *tensordict.Dict, key string, mask []bool, v float64) error {
	t, err := td.Get(key)
	if err != nil {
		return err
	}
	rl := rowLen(t, td.BatchShape())
	for i := 0; i < t.Len(); i++ {
		if mask == nil || mask[i/rl] {
			t.SetAt(i, v)
		}
	}
	return nil
}

// counter is the shared machinery of RewardSum, StepCounter and InitTracker: a key at the root
// that is set at reset and computed from the root (and next) at each step.
type counter struct {
	wrapper
	key     string
	spec    Spec
	atReset float64
	step    func(td *tensordict.Dict, cur, nxt *tensor.Tensor) error
}

func newCounter(env Env, key string, spec Spec, atReset float64) (*counter, error) {
	c := &counter{wrapper: wrapper{inner: env, specs: env.Specs()}, key: key, spec: spec, atReset: atReset}
	if _, dup := c.specs.Observation.Get(key); dup {
		return nil, fmt.Errorf("envs: the env already has an observation %q", key)
	}
	c.specs.Observation.Set(key, spec)
	return c, nil
}

func (c *counter) Reset() (*tensordict.Dict, error) {
	td, err := c.inner.Reset()
	if err != nil {
		return nil, err
	}
	t := c.spec.Zero(td.BatchShape()...)
	t.Fill(c.atReset)
	return td, td.Set(c.key, t)
}

func (c *counter) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	cur, err := td.Get(c.key)
	if err != nil {
		cur = c.spec.Zero(td.BatchShape()...) // a Dict made by hand starts from zero
		cur.Fill(c.atReset)
	}
	if td, err = c.inner.Step(td); err != nil {
		return nil, err
	}
	nd, _ := td.GetDict(KeyNext)
	nxt, err := nd.Get(c.key)
	if err != nil || !tensor.SameShape(nxt, cur) {
		nxt = c.spec.Zero(td.BatchShape()...)
		if err := nd.Set(c.key, nxt); err != nil {
			return nil, err
		}
	}
	return td, c.step(td, cur, nxt)
}

func (c *counter) ResetSome(mask []bool, td *tensordict.Dict) error {
	if err := c.resetSome(mask, td); err != nil {
		return err
	}
	return fillRows(td, c.key, mask, c.atReset)
}

// KeyEpisodeReward is RewardSum's key.
const KeyEpisodeReward = "episode_reward"

// RewardSum adds "episode_reward": the sum of rewards since the episode started, written under
// next after each step.
func RewardSum(env Env) (Env, error) {
	c, err := newCounter(env, KeyEpisodeReward, Unbounded{S: env.Specs().Reward.Shape(), D: tensor.Float32}, 0)
	if err != nil {
		return nil, err
	}
	c.step = func(td *tensordict.Dict, cur, nxt *tensor.Tensor) error {
		r, err := td.Get(next(KeyReward))
		if err != nil {
			return err
		}
		for i := 0; i < nxt.Len(); i++ {
			nxt.SetAt(i, cur.At(i)+r.At(i))
		}
		return nil
	}
	return c, nil
}

// StepCounter adds "step_count", the steps taken in the episode. With maxSteps > 0 it also
// truncates an episode that reaches maxSteps (TimeLimit) unless it terminated on that step.
func StepCounter(maxSteps int) Transform {
	return func(env Env) (Env, error) {
		if maxSteps < 0 {
			return nil, fmt.Errorf("envs: StepCounter max steps %d is negative", maxSteps)
		}
		c, err := newCounter(env, "step_count", Unbounded{D: tensor.Int64}, 0)
		if err != nil {
			return nil, err
		}
		c.step = func(td *tensordict.Dict, cur, nxt *tensor.Tensor) error {
			cs, ns := tensor.MustData[int64](cur), tensor.MustData[int64](nxt)
			for i := range ns {
				ns[i] = cs[i] + 1
			}
			if maxSteps == 0 {
				return nil
			}
			term, err1 := tensordict.GetAs[bool](td, next(KeyTerminated))
			trunc, err2 := tensordict.GetAs[bool](td, next(KeyTruncated))
			done, err3 := tensordict.GetAs[bool](td, next(KeyDone))
			if err := errors.Join(err1, err2, err3); err != nil {
				return err
			}
			for i := range ns {
				if ns[i] >= int64(maxSteps) && !term[i] {
					trunc[i], done[i] = true, true
				}
			}
			return nil
		}
		return c, nil
	}
}

// TimeLimit truncates episodes after maxSteps steps; it is StepCounter(maxSteps).
func TimeLimit(maxSteps int) Transform {
	if maxSteps <= 0 {
		return func(Env) (Env, error) {
			return nil, fmt.Errorf("envs: TimeLimit needs a positive step count, got %d", maxSteps)
		}
	}
	return StepCounter(maxSteps)
}

// InitTracker adds "is_init", true on the first observation of an episode and false after,
// which recurrent policies use to reset their hidden state.
func InitTracker(env Env) (Env, error) {
	c, err := newCounter(env, "is_init", Binary{}, 1)
	if err != nil {
		return nil, err
	}
	c.step = func(_ *tensordict.Dict, _, nxt *tensor.Tensor) error {
		nxt.Zero()
		return nil
	}
	return c, nil
}

// rewardMap rewrites next/reward with f.
type rewardMap struct {
	wrapper
	f func(float64) float64
}

func (r *rewardMap) Reset() (*tensordict.Dict, error) { return r.inner.Reset() }
func (r *rewardMap) ResetSome(mask []bool, td *tensordict.Dict) error {
	return r.resetSome(mask, td)
}
func (r *rewardMap) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	td, err := r.inner.Step(td)
	if err != nil {
		return nil, err
	}
	t, err := td.Get(next(KeyReward))
	if err != nil {
		return nil, err
	}
	for i := 0; i < t.Len(); i++ {
		t.SetAt(i, r.f(t.At(i)))
	}
	return td, nil
}

// RewardScaling replaces the reward r with r*scale + loc (TorchRL's RewardScaling).
func RewardScaling(loc, scale float64) Transform {
	return func(env Env) (Env, error) {
		return &rewardMap{wrapper{env, env.Specs()}, func(r float64) float64 { return r*scale + loc }}, nil
	}
}

// RewardClipping clips the reward into [low, high].
func RewardClipping(low, high float64) Transform {
	return func(env Env) (Env, error) {
		if low > high {
			return nil, fmt.Errorf("envs: RewardClipping bounds [%v, %v] are reversed", low, high)
		}
		return &rewardMap{wrapper{env, env.Specs()}, func(r float64) float64 { return math.Min(math.Max(r, low), high) }}, nil
	}
}

// keyMap rewrites, in place, the observation keys of every output Dict (the root after Reset,
// next after Step).
type keyMap struct {
	wrapper
	f func(d *tensordict.Dict) error
	// inverse returns a view of a transformed Dict with the inner env's keys, for ResetSome.
	inverse func(d *tensordict.Dict) (*tensordict.Dict, error)
}

func (k *keyMap) Reset() (*tensordict.Dict, error) {
	td, err := k.inner.Reset()
	if err != nil {
		return nil, err
	}
	return td, k.f(td)
}

func (k *keyMap) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	td, err := k.inner.Step(td)
	if err != nil {
		return nil, err
	}
	nd, err := td.GetDict(KeyNext)
	if err != nil {
		return nil, err
	}
	return td, k.f(nd)
}

func (k *keyMap) ResetSome(mask []bool, td *tensordict.Dict) error {
	inv, err := k.inverse(td)
	if err != nil {
		return err
	}
	return k.resetSome(mask, inv)
}

// Exclude drops observation keys from the env's outputs and specs.
func Exclude(keys ...string) Transform {
	return func(env Env) (Env, error) {
		specs := env.Specs()
		for _, k := range keys {
			if _, ok := specs.Observation.Get(k); !ok {
				return nil, fmt.Errorf("envs: Exclude: no observation %q; the env has %v", k, specs.Observation.Keys())
			}
			specs.Observation.Delete(k)
		}
		inner := env.Specs()
		return &keyMap{wrapper: wrapper{env, specs}, f: func(d *tensordict.Dict) error {
			for _, k := range keys {
				if d.Has(k) {
					if err := d.Delete(k); err != nil {
						return err
					}
				}
			}
			return nil
		}, inverse: func(d *tensordict.Dict) (*tensordict.Dict, error) {
			v := d.Exclude() // a view: the dropped keys get scratch space
			for _, k := range keys {
				s, _ := inner.Observation.Get(k)
				if err := v.Set(k, s.Zero(d.BatchShape()...)); err != nil {
					return nil, err
				}
			}
			return v, nil
		}}, nil
	}
}

// Select keeps only the listed observation keys.
func Select(keys ...string) Transform {
	return func(env Env) (Env, error) {
		var drop []string
		for _, k := range env.Specs().Observation.Keys() {
			if !slices.Contains(keys, k) {
				drop = append(drop, k)
			}
		}
		for _, k := range keys {
			if _, ok := env.Specs().Observation.Get(k); !ok {
				return nil, fmt.Errorf("envs: Select: no observation %q; the env has %v", k, env.Specs().Observation.Keys())
			}
		}
		return Exclude(drop...)(env)
	}
}

// Rename renames observation key old to new.
func Rename(old, new string) Transform {
	return func(env Env) (Env, error) {
		specs := env.Specs()
		s, ok := specs.Observation.Get(old)
		if !ok {
			return nil, fmt.Errorf("envs: Rename: no observation %q; the env has %v", old, specs.Observation.Keys())
		}
		if _, dup := specs.Observation.Get(new); dup {
			return nil, fmt.Errorf("envs: Rename: the env already has an observation %q", new)
		}
		specs.Observation.Delete(old)
		specs.Observation.Set(new, s)
		return &keyMap{wrapper: wrapper{env, specs}, f: func(d *tensordict.Dict) error {
			t, err := d.Get(old)
			if err != nil {
				return err
			}
			if err := d.Delete(old); err != nil {
				return err
			}
			return d.Set(new, t)
		}, inverse: func(d *tensordict.Dict) (*tensordict.Dict, error) { return d.Rename(new, old) }}, nil
	}
}
