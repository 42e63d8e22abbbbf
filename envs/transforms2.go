package envs

import (
	"fmt"
	"math"
	"slices"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// catFrames keeps the last n frames of an observation under a new key, shape [n] + the
// observation's shape (oldest first), in the Dict like the counters.
type catFrames struct {
	wrapper
	key, out string
	n        int
	spec     Spec
}

// CatFrames adds out: the last n values of observation key, stacked oldest first. At reset
// every slot holds the first frame.
func CatFrames(key, out string, n int) Transform {
	return func(env Env) (Env, error) {
		if n < 1 {
			return nil, fmt.Errorf("envs: CatFrames needs n >= 1, got %d", n)
		}
		specs := env.Specs()
		s, ok := specs.Observation.Get(key)
		if !ok {
			return nil, fmt.Errorf("envs: CatFrames: no observation %q; the env has %v", key, specs.Observation.Keys())
		}
		if _, dup := specs.Observation.Get(out); dup {
			return nil, fmt.Errorf("envs: CatFrames: the env already has an observation %q", out)
		}
		stacked := Unbounded{S: append([]int{n}, s.Shape()...), D: s.DType()}
		specs.Observation.Set(out, stacked)
		return &catFrames{wrapper: wrapper{env, specs}, key: key, out: out, n: n, spec: stacked}, nil
	}
}

// fill writes frame into all n slots of stack, for the batch elements selected by mask.
func (c *catFrames) fill(stack, frame *tensor.Tensor, batch []int, mask []bool) {
	fb, sb := frame.Bytes(), stack.Bytes()
	fl := len(fb) / max(prod(batch), 1)
	for b := 0; b < prod(batch); b++ {
		if mask != nil && !mask[b] {
			continue
		}
		for j := 0; j < c.n; j++ {
			copy(sb[(b*c.n+j)*fl:(b*c.n+j+1)*fl], fb[b*fl:(b+1)*fl])
		}
	}
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func (c *catFrames) Reset() (*tensordict.Dict, error) {
	td, err := c.inner.Reset()
	if err != nil {
		return nil, err
	}
	frame, err := td.Get(c.key)
	if err != nil {
		return nil, err
	}
	st := c.spec.Zero(td.BatchShape()...)
	c.fill(st, frame, td.BatchShape(), nil)
	return td, td.Set(c.out, st)
}

func (c *catFrames) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	batch := td.BatchShape()
	cur, err := td.Get(c.out)
	if err != nil {
		return nil, fmt.Errorf("envs: CatFrames: the Dict has no %q; start from Reset", c.out)
	}
	if td, err = c.inner.Step(td); err != nil {
		return nil, err
	}
	frame, err := td.Get(next(c.key))
	if err != nil {
		return nil, err
	}
	nd, _ := td.GetDict(KeyNext)
	nxt, err := nd.Get(c.out)
	if err != nil || !tensor.SameShape(nxt, cur) {
		nxt = c.spec.Zero(batch...)
		if err := nd.Set(c.out, nxt); err != nil {
			return nil, err
		}
	}
	fb, cb, nb := frame.Bytes(), cur.Bytes(), nxt.Bytes()
	fl := len(fb) / max(prod(batch), 1)
	for b := 0; b < prod(batch); b++ {
		base := b * c.n * fl
		copy(nb[base:base+(c.n-1)*fl], cb[base+fl:base+c.n*fl]) // drop the oldest
		copy(nb[base+(c.n-1)*fl:base+c.n*fl], fb[b*fl:(b+1)*fl])
	}
	return td, nil
}

func (c *catFrames) ResetSome(mask []bool, td *tensordict.Dict) error {
	if err := c.resetSome(mask, td); err != nil {
		return err
	}
	frame, err := td.Get(c.key)
	if err != nil {
		return err
	}
	st, err := td.Get(c.out)
	if err != nil {
		return err
	}
	c.fill(st, frame, td.BatchShape(), mask)
	return nil
}

// ObsNormOptions configure ObservationNorm. With Running set the statistics are estimated from
// every observation seen (per element, Welford's algorithm) and Loc/Scale are ignored.
type ObsNormOptions struct {
	Loc, Scale float64 // out = (x - Loc) / Scale; zero Scale means 1
	Running    bool
	Eps        float64 // added to the running standard deviation; zero means 1e-8
	Clip       float64 // clip the output to [-Clip, Clip] when positive
}

// ObsNorm is the ObservationNorm transform; Stats exposes its running statistics so that they
// can be checkpointed.
type ObsNorm struct {
	wrapper
	key  string
	o    ObsNormOptions
	n    float64
	mean []float64
	m2   []float64
}

// ObservationNorm normalises the float32 observation key in place.
func ObservationNorm(key string, o ObsNormOptions) Transform {
	return func(env Env) (Env, error) {
		specs := env.Specs()
		s, ok := specs.Observation.Get(key)
		if !ok {
			return nil, fmt.Errorf("envs: ObservationNorm: no observation %q; the env has %v", key, specs.Observation.Keys())
		}
		if s.DType() != tensor.Float32 {
			return nil, fmt.Errorf("envs: ObservationNorm: observation %q is %v; convert it to float32 first", key, s.DType())
		}
		if o.Scale == 0 {
			o.Scale = 1
		}
		if o.Eps == 0 {
			o.Eps = 1e-8
		}
		specs.Observation.Set(key, Unbounded{S: s.Shape(), D: tensor.Float32})
		n := prod(s.Shape())
		return &ObsNorm{wrapper: wrapper{env, specs}, key: key, o: o, mean: make([]float64, n), m2: make([]float64, n)}, nil
	}
}

// Stats returns the running count, mean and variance per element.
func (t *ObsNorm) Stats() (n float64, mean, variance []float64) {
	variance = make([]float64, len(t.m2))
	for i, m := range t.m2 {
		if t.n > 1 {
			variance[i] = m / t.n
		}
	}
	return t.n, slices.Clone(t.mean), variance
}

// SetStats restores statistics saved from Stats.
func (t *ObsNorm) SetStats(n float64, mean, variance []float64) error {
	if len(mean) != len(t.mean) || len(variance) != len(t.m2) {
		return fmt.Errorf("envs: ObservationNorm stats of %d elements, the observation has %d", len(mean), len(t.mean))
	}
	t.n = n
	copy(t.mean, mean)
	for i, v := range variance {
		t.m2[i] = v * n
	}
	return nil
}

func (t *ObsNorm) apply(d *tensordict.Dict, key string) error {
	x, err := tensordict.GetAs[float32](d, key)
	if err != nil {
		return err
	}
	m := len(t.mean)
	if t.o.Running {
		for b := 0; b+m <= len(x); b += m {
			t.n++
			for i, v := range x[b : b+m] {
				delta := float64(v) - t.mean[i]
				t.mean[i] += delta / t.n
				t.m2[i] += delta * (float64(v) - t.mean[i])
			}
		}
	}
	for b := 0; b+m <= len(x); b += m {
		for i := range x[b : b+m] {
			loc, scale := t.o.Loc, t.o.Scale
			if t.o.Running {
				loc, scale = t.mean[i], math.Sqrt(t.m2[i]/max(t.n, 1))+t.o.Eps
			}
			v := (float64(x[b+i]) - loc) / scale
			if t.o.Clip > 0 {
				v = math.Min(math.Max(v, -t.o.Clip), t.o.Clip)
			}
			x[b+i] = float32(v)
		}
	}
	return nil
}

func (t *ObsNorm) Reset() (*tensordict.Dict, error) {
	td, err := t.inner.Reset()
	if err != nil {
		return nil, err
	}
	return td, t.apply(td, t.key)
}

func (t *ObsNorm) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	td, err := t.inner.Step(td)
	if err != nil {
		return nil, err
	}
	return td, t.apply(td, next(t.key))
}

// ResetSome normalises the whole observation again, so it is not offered: the reset rows would
// be normalised once and the others twice. Wrap the children of a batched env instead.

// frameSkip repeats each action n times on a single env.
type frameSkip struct {
	wrapper
	n int
}

// FrameSkip repeats each action n times, summing the rewards and stopping early when the
// episode ends. It wraps single envs (batch shape []); wrap each child of a batched env.
func FrameSkip(n int) Transform {
	return func(env Env) (Env, error) {
		if n < 1 {
			return nil, fmt.Errorf("envs: FrameSkip needs n >= 1, got %d", n)
		}
		if len(env.BatchShape()) > 0 {
			return nil, fmt.Errorf("envs: FrameSkip wraps single envs; this one has batch shape %v: wrap its children", env.BatchShape())
		}
		return &frameSkip{wrapper{env, env.Specs()}, n}, nil
	}
}

func (f *frameSkip) Reset() (*tensordict.Dict, error) { return f.inner.Reset() }

func (f *frameSkip) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	total := 0.0
	cur := td
	for i := 0; i < f.n; i++ {
		var err error
		if cur, err = f.inner.Step(cur); err != nil {
			return nil, err
		}
		r, _ := cur.Get(next(KeyReward))
		total += r.At(0)
		done, _ := DoneMask(cur, true)
		if i == f.n-1 || done[0] {
			r.SetAt(0, total)
			break
		}
		nxt, err := cur.StepMDP(tensordict.StepMDPOptions{KeepAction: true})
		if err != nil {
			return nil, err
		}
		cur = nxt
	}
	nd, _ := cur.GetDict(KeyNext)
	if cur != td {
		if err := td.SetDict(KeyNext, nd); err != nil {
			return nil, err
		}
	}
	return td, nil
}
