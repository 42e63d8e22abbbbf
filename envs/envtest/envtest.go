package envtest

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Check resets env and takes steps random actions with StepAndMaybeReset, failing t at the
// first violation. It does not close env.
func Check(t testing.TB, env envs.Env, steps int) {
	t.Helper()
	specs := env.Specs()
	batch := env.BatchShape()
	rng := rand.New(rand.NewPCG(1, 2))
	policy := envs.RandomPolicy(env, rng)
	td, err := env.Reset()
	if err != nil {
		t.Fatalf("Reset: %v", err)
	}
	checkRoot(t, td, specs, batch, "Reset")
	for _, k := range []string{envs.KeyDone, envs.KeyTerminated, envs.KeyTruncated} {
		if v, _ := tensordict.GetAs[bool](td, k); slices.Contains(v, true) {
			t.Fatalf("Reset: %q is set after a full reset", k)
		}
	}
	// Outputs must not alias env buffers: keep views of the first outputs and copies of them,
	// and compare after all steps.
	obsKeys := specs.Observation.Keys()
	resetView, err := td.Select(obsKeys...)
	if err != nil {
		t.Fatal(err)
	}
	resetCopy := resetView.Clone()
	var stepView, stepCopy *tensordict.Dict
	episodes := 0
	for i := 0; i < steps; i++ {
		if err := policy.Act(td); err != nil {
			t.Fatalf("step %d: policy: %v", i, err)
		}
		stepped, next, err := envs.StepAndMaybeReset(env, td)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if !slices.Equal(stepped.BatchShape(), batch) {
			t.Fatalf("step %d: batch shape %v, env says %v", i, stepped.BatchShape(), batch)
		}
		if err := specs.Observation.IsIn(stepped, envs.KeyNext+tensordict.Sep, batch); err != nil {
			t.Fatalf("step %d: next observation: %v", i, err)
		}
		r, err := stepped.Get(envs.KeyNext + tensordict.Sep + envs.KeyReward)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if err := specs.Reward.IsIn(r, batch); err != nil {
			t.Fatalf("step %d: reward: %v", i, err)
		}
		done := flags(t, stepped, envs.KeyDone)
		term := flags(t, stepped, envs.KeyTerminated)
		trunc := flags(t, stepped, envs.KeyTruncated)
		for j := range done {
			if done[j] != (term[j] || trunc[j]) {
				t.Fatalf("step %d env %d: done %v but terminated %v truncated %v", i, j, done[j], term[j], trunc[j])
			}
			if done[j] {
				episodes++
			}
		}
		checkRoot(t, next, specs, batch, "next root")
		if i == 0 {
			n, _ := stepped.GetDict(envs.KeyNext)
			if stepView, err = n.Select(obsKeys...); err != nil {
				t.Fatal(err)
			}
			stepCopy = stepView.Clone()
		}
		td = next
	}
	if !tensordict.Equal(resetCopy, resetView) {
		t.Errorf("the observation returned by Reset changed under later steps: it aliases env buffers")
	}
	if stepView != nil && !tensordict.Equal(stepCopy, stepView) {
		t.Errorf("the observation returned by Step changed under later steps: it aliases env buffers")
	}
	t.Logf("envtest: %d steps, %d episodes ended, batch %v", steps, episodes, batch)
}

func flags(t testing.TB, d *tensordict.Dict, key string) []bool {
	t.Helper()
	v, err := tensordict.GetAs[bool](d, envs.KeyNext+tensordict.Sep+key)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return v
}

func checkRoot(t testing.TB, td *tensordict.Dict, specs envs.Specs, batch []int, what string) {
	t.Helper()
	if !slices.Equal(td.BatchShape(), batch) {
		t.Fatalf("%s: batch shape %v, env says %v", what, td.BatchShape(), batch)
	}
	if err := specs.Observation.IsIn(td, "", batch); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, k := range []string{envs.KeyDone, envs.KeyTerminated, envs.KeyTruncated} {
		f, err := td.Get(k)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if f.DType() != tensor.Bool || !slices.Equal(f.Shape(), batch) {
			t.Fatalf("%s: %q is %v %v, want bool %v", what, k, f.DType(), f.Shape(), batch)
		}
	}
}
