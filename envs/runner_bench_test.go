package envs_test

import (
	"math/rand/v2"
	"testing"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// gridEnv is a Simple env with NetHack's agent observation layout (nine keys, 12.7 KB) whose
// step only copies a fixed observation: a Runner driving it costs what surrounds an env.
type gridEnv struct {
	specs envs.Specs
	src   map[string][]byte
	keys  []string
	t     int
}

func newGridEnv() *gridEnv {
	e := &gridEnv{src: map[string][]byte{}}
	e.specs = envs.Specs{Observation: envs.NewComposite(), Action: envs.Categorical{N: 23}, Reward: envs.Unbounded{D: tensor.Float32}}
	for _, o := range []struct {
		k string
		d tensor.DType
		s []int
	}{
		{"glyphs", tensor.Int16, []int{21, 79}}, {"chars", tensor.Uint8, []int{21, 79}}, {"colors", tensor.Uint8, []int{21, 79}},
		{"specials", tensor.Uint8, []int{21, 79}}, {"blstats", tensor.Int64, []int{27}}, {"message", tensor.Uint8, []int{256}},
		{"tty_chars", tensor.Uint8, []int{24, 80}}, {"tty_colors", tensor.Int8, []int{24, 80}}, {"tty_cursor", tensor.Uint8, []int{2}},
	} {
		e.specs.Observation.Set(o.k, envs.Unbounded{S: o.s, D: o.d})
		e.keys = append(e.keys, o.k)
		e.src[o.k] = tensor.Zeros(o.d, o.s...).Bytes()
	}
	return e
}

func (e *gridEnv) Specs() envs.Specs { return e.specs }
func (e *gridEnv) Close() error      { return nil }
func (e *gridEnv) write(obs *tensordict.Dict) error {
	for _, k := range e.keys {
		t, err := obs.Get(k)
		if err != nil {
			return err
		}
		copy(t.Bytes(), e.src[k])
	}
	return nil
}
func (e *gridEnv) ResetInto(obs *tensordict.Dict) error { e.t = 0; return e.write(obs) }
func (e *gridEnv) StepInto(a *tensor.Tensor, obs *tensordict.Dict) (float64, bool, bool, error) {
	e.t++
	return 1, e.t%1800 == 0, false, e.write(obs)
}

// BenchmarkRunnerGrid: one frame of a collector's loop (Runner, 64 steps per rollout) over an
// env that costs nothing but its observation copy.
func BenchmarkRunnerGrid(b *testing.B) {
	env := envs.FromSimple(newGridEnv())
	r, err := envs.NewRunner(env, envs.RandomPolicy(env, rand.New(rand.NewPCG(1, 2))), 64, envs.RolloutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for range 2 {
		if _, err := r.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		if _, err := r.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
