package envs_test

import (
	"math/rand/v2"
	"testing"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// TestRandomPolicyInPlace: with an action tensor already in the Dict (a collector's row) the
// policy writes into it; without one it sets a new tensor; both draw the same actions.
func TestRandomPolicyInPlace(t *testing.T) {
	env := envs.FromSimple(newGridEnv())
	a := envs.RandomPolicy(env, rand.New(rand.NewPCG(3, 4)))
	b := envs.RandomPolicy(env, rand.New(rand.NewPCG(3, 4)))
	row := tensordict.New()
	held := tensor.Zeros(tensor.Int64)
	if err := row.Set(envs.KeyAction, held); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for i := 0; i < 200; i++ {
		fresh := tensordict.New()
		if err := a.Act(row); err != nil {
			t.Fatal(err)
		}
		if err := b.Act(fresh); err != nil {
			t.Fatal(err)
		}
		got, _ := row.Get(envs.KeyAction)
		want, _ := fresh.Get(envs.KeyAction)
		if got != held {
			t.Fatal("the policy replaced the row's action tensor instead of writing into it")
		}
		if got.At(0) != want.At(0) {
			t.Fatalf("draw %d: in place %v, new tensor %v", i, got.At(0), want.At(0))
		}
		seen[int64(got.At(0))] = true
	}
	if len(seen) < 20 {
		t.Errorf("200 draws over 23 actions gave only %d distinct actions", len(seen))
	}
}

// TestRunnerKeepsOutputs: a Runner handed 20 buffers in turn, told to keep 20, allocates no
// more per rollout than with one buffer (after each buffer's first use); keeping the default 16
// would take each buffer apart again.
func TestRunnerKeepsOutputs(t *testing.T) {
	env := envs.FromSimple(newGridEnv())
	r, err := envs.NewRunner(env, envs.RandomPolicy(env, rand.New(rand.NewPCG(1, 2))), 8, envs.RolloutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := r.Run()
	if err != nil {
		t.Fatal(err)
	}
	outs := []*tensordict.Dict{first}
	for len(outs) < 20 {
		outs = append(outs, first.Clone())
	}
	one := testing.AllocsPerRun(10, func() {
		if _, err := r.Run(); err != nil {
			t.Fatal(err)
		}
	})
	r.KeepOutputs(20)
	i := 0
	next := func() {
		if err := r.SetOutput(outs[i%len(outs)]); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(); err != nil {
			t.Fatal(err)
		}
		i++
	}
	for range outs {
		next()
	}
	turn := testing.AllocsPerRun(40, next)
	if turn > one+1 {
		t.Errorf("20 buffers in turn: %.1f allocations per rollout, one buffer: %.1f", turn, one)
	}
}
