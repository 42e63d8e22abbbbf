package envs

import (
	"fmt"
	"math"
	"slices"

	"github.com/maestro-rl/maestro/internal/validate"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// ObsNormOptions configure ObservationNorm. With Running set the statistics are estimated from
// every observation seen (per element, Welford's algorithm) and Loc/Scale are ignored.
type ObsNormOptions struct {
	Loc, Scale float64 // out = (x - Loc) / Scale; zero Scale means 1
	Running    bool
	Eps        float64 // added to the running standard deviation; zero means 1e-8
	Clip       float64 // clip the output to [-Clip, Clip] when positive
}

// Validate reports an option out of range: every value finite, Scale not below 0 (0: 1), Eps
// and Clip not below 0.
func (o ObsNormOptions) Validate() error {
	return validate.Numbers("envs: ObsNormOptions.",
		validate.F("Loc", o.Loc, true, ""),
		validate.F("Scale", o.Scale, o.Scale >= 0, "of at least 0 (0: 1)"),
		validate.F("Eps", o.Eps, o.Eps >= 0, "of at least 0 (0: 1e-8)"),
		validate.F("Clip", o.Clip, o.Clip >= 0, "of at least 0 (0: no clipping)"))
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
		if err := o.Validate(); err != nil {
			return nil, err
		}
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
