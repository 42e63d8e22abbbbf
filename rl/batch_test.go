package rl

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// TestUpdateNamesBadBatches: a batch missing a key the update needs, or holding it with another
// dtype or shape, is an error naming the key and both shapes (the learner used to unpack its
// columns with panic and recover).
func TestUpdateNamesBadBatches(t *testing.T) {
	c, _ := cartpole.NewEnv(cartpole.Options{Seed: 3})
	c2, _ := cartpole.NewEnv(cartpole.Options{Seed: 4})
	env, _ := envs.Serial(c, c2)
	net, _ := nn.NewActorCritic(4, 2, 16, rand.New(rand.NewPCG(1, 1)))
	l, err := NewLearner(NewFeedForward(net, "observation"), opts(PPO, func(o *Options) { o.Minibatches = 2 }))
	if err != nil {
		t.Fatal(err)
	}
	col, err := collectors.NewSync(env, l, collectors.Options{FramesPerBatch: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	good, err := col.Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Update(good); err != nil {
		t.Fatalf("a sound batch: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(d *tensordict.Dict) *tensordict.Dict
		want []string
	}{
		{"no action", func(d *tensordict.Dict) *tensordict.Dict { return d.Exclude("action") }, []string{`no "action"`}},
		{"no next/reward", func(d *tensordict.Dict) *tensordict.Dict { return d.Exclude("next/reward") }, []string{`no "next/reward"`}},
		{"log-prob of another dtype", func(d *tensordict.Dict) *tensordict.Dict {
			d.Set(KeyLogProb, tensor.Zeros(tensor.Float64, 8, 2))
			return d
		}, []string{KeyLogProb, "float64 [8 2]", "want float32 [8 2]"}},
		{"value of another shape", func(d *tensordict.Dict) *tensordict.Dict {
			d.Set(KeyValue, tensor.Zeros(tensor.Float32, 8, 2, 3))
			return d
		}, []string{KeyValue, "[8 2 3]", "want float32 [8 2]"}},
		{"observation of another dtype", func(d *tensordict.Dict) *tensordict.Dict {
			d.Set("observation", tensor.Zeros(tensor.Float64, 8, 2, 4))
			return d
		}, []string{`"observation"`, "float64 [8 2 4]"}},
		{"a flat batch", func(d *tensordict.Dict) *tensordict.Dict {
			f, err := d.ReshapeBatch(16)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, []string{"[T, B]", "[16]"}},
	} {
		err := l.Update(c.edit(good.Clone()))
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want an error saying %q", c.name, err, w)
			}
		}
	}
}

// TestOptionsValidate: zero means zero (TD(0), no entropy bonus, no clipping are valid), and a
// field out of range is an error naming the field and its range.
func TestOptionsValidate(t *testing.T) {
	zero := opts(PPO, func(o *Options) { o.Lambda, o.EntropyCoef, o.MaxGradNorm = 0, 0, 0 })
	if err := zero.Validate(); err != nil {
		t.Errorf("lambda, entropy and clipping at 0: %v", err)
	}
	for _, c := range []struct {
		set  func(*Options)
		want string
	}{
		{func(o *Options) { o.Gamma = 0 }, "Options.Gamma is 0; want a finite value in (0, 1]"},
		{func(o *Options) { o.Lambda = 1.5 }, "Options.Lambda is 1.5"},
		{func(o *Options) { o.LR = math.NaN() }, "Options.LR is NaN"},
		{func(o *Options) { o.MaxGradNorm = -1 }, "Options.MaxGradNorm is -1; want a finite value at least 0 (0: no clipping)"},
		{func(o *Options) { o.Minibatches = 0 }, "Minibatches 0 must be at least 1"},
		{func(o *Options) { o.Algo = "dqn" }, `Options.Algo "dqn": use ppo, a2c or appo`},
	} {
		o := DefaultOptions(PPO)
		c.set(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", o, err, c.want)
		}
	}
	if _, err := NewLearner(NewFeedForward(nil, "x"), Options{}); err == nil || !strings.Contains(err.Error(), "Options.Algo") {
		t.Errorf("a zero Options: %v; want an error (zero values are not defaults)", err)
	}
}
