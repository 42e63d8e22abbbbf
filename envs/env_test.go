package envs_test

import (
	"math/rand/v2"
	"testing"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensordict"
)

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
