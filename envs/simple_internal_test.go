package envs

import (
	"math/rand/v2"
	"testing"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// counterSimple observes its step count; episodes last 50 steps.
type counterSimple struct{ t int }

func (c *counterSimple) Specs() Specs {
	o := NewComposite()
	o.Set("t", Unbounded{S: []int{1}, D: tensor.Float32})
	return Specs{Observation: o, Action: Categorical{N: 2}, Reward: Unbounded{D: tensor.Float32}}
}
func (c *counterSimple) ResetInto(obs *tensordict.Dict) error { c.t = 0; return c.write(obs) }
func (c *counterSimple) StepInto(_ *tensor.Tensor, obs *tensordict.Dict) (float64, bool, bool, error) {
	c.t++
	return 1, c.t%50 == 0, false, c.write(obs)
}
func (c *counterSimple) write(obs *tensordict.Dict) error {
	t, err := obs.Get("t")
	if err == nil {
		tensor.MustData[float32](t)[0] = float32(c.t)
	}
	return err
}
func (c *counterSimple) Close() error { return nil }

// TestShapeMemory: an env driven by a Runner finds the rows it has checked in its memory;
// the children of a batched env, handed new rows at every step, turn theirs off after one
// round of maxVerified misses instead of paying for it at every step.
func TestShapeMemory(t *testing.T) {
	single := FromSimple(&counterSimple{}).(*simpleEnv)
	r, err := NewRunner(single, RandomPolicy(single, rand.New(rand.NewPCG(1, 1))), 64, RolloutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	children := []Env{FromSimple(&counterSimple{}), FromSimple(&counterSimple{})}
	batched, err := Serial(children...)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := NewRunner(batched, RandomPolicy(batched, rand.New(rand.NewPCG(1, 2))), 64, RolloutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 * maxVerified / 64 {
		if _, err := r.Run(); err != nil {
			t.Fatal(err)
		}
		if _, err := rb.Run(); err != nil {
			t.Fatal(err)
		}
	}
	if single.noMemory || single.hits == 0 || len(single.verified) > 2*64 {
		t.Errorf("single env: memory off %v, %d hits, %d Dicts remembered; want on, hits, at most the Runner's rows", single.noMemory, single.hits, len(single.verified))
	}
	for i, c := range children {
		if se := c.(*simpleEnv); !se.noMemory || se.verified != nil {
			t.Errorf("batched child %d: memory off %v with %d Dicts; want it off and empty", i, se.noMemory, len(se.verified))
		}
	}
}
