package rl

import (
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
	l, err := NewLearner(net, "observation", Options{Minibatches: 2})
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
