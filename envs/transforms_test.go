package envs_test

import (
	"math"
	"slices"
	"testing"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/envs/envtest"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func cart(t *testing.T, seed uint64) envs.Env {
	t.Helper()
	e, err := cartpole.NewEnv(cartpole.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// must unwraps a (value, error) pair; an error panics, which fails the test with its stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func get(t *testing.T, d *tensordict.Dict, key string) *tensor.Tensor {
	t.Helper()
	return must(d.Get(key))
}

func TestCountersThroughAutoResets(t *testing.T) {
	var children []envs.Env
	for i := range 3 {
		children = append(children, cart(t, uint64(i)))
	}
	b := must(envs.Parallel(children...))
	env := must(envs.Compose(b, envs.RewardSum, envs.StepCounter(7), envs.InitTracker))
	defer env.Close()
	envtest.Check(t, env, 50)

	td := must(env.Reset())
	if !slices.Equal(tensor.MustData[bool](get(t, td, "is_init")), []bool{true, true, true}) {
		t.Fatal("is_init not set after reset")
	}
	left := envs.PolicyFunc(func(td *tensordict.Dict) error {
		return td.Set(envs.KeyAction, tensor.Zeros(tensor.Int64, 3))
	})
	for step := 1; step <= 20; step++ {
		left.Act(td)
		stepped, nextTD, err := envs.StepAndMaybeReset(env, td)
		if err != nil {
			t.Fatal(err)
		}
		sc := tensor.MustData[int64](get(t, stepped, "next/step_count"))
		er := tensor.MustData[float32](get(t, stepped, "next/episode_reward"))
		tr := tensor.MustData[bool](get(t, stepped, "next/truncated"))
		term := tensor.MustData[bool](get(t, stepped, "next/terminated"))
		for i := range 3 {
			if float32(sc[i]) != er[i] { // cart-pole pays 1 per step
				t.Fatalf("step %d env %d: step_count %d but episode_reward %v", step, i, sc[i], er[i])
			}
			if sc[i] > 7 || (sc[i] == 7) != (tr[i] || term[i]) && !term[i] {
				t.Fatalf("step %d env %d: step_count %d, truncated %v", step, i, sc[i], tr[i])
			}
		}
		if init := tensor.MustData[bool](get(t, nextTD, "is_init")); !slices.Equal(init, tensor.MustData[bool](get(t, stepped, "next/done"))) {
			t.Fatalf("step %d: is_init of the next root %v should mark exactly the reset envs %v", step, init, tensor.MustData[bool](get(t, stepped, "next/done")))
		}
		td = nextTD
	}
}

func TestRewardTransforms(t *testing.T) {
	env := must(envs.Compose(cart(t, 1), envs.RewardScaling(0.5, -2), envs.RewardClipping(-1, 10)))
	td := must(env.Reset())
	td.Set(envs.KeyAction, tensor.Scalar[int64](0))
	td = must(env.Step(td))
	if r := get(t, td, "next/reward").At(0); r != -1 { // 1*-2+0.5 = -1.5, clipped to -1
		t.Errorf("scaled and clipped reward = %v, want -1", r)
	}
	if _, err := envs.RewardClipping(1, 0)(cart(t, 1)); err == nil {
		t.Error("reversed clipping bounds accepted")
	}
}

func TestKeyTransforms(t *testing.T) {
	env := must(envs.Compose(cart(t, 1), envs.Rename("observation", "state"),
		envs.CatFrames("state", "frames", 3)))
	envtest.Check(t, env, 100)
	td := must(env.Reset())
	first := slices.Clone(tensor.MustData[float32](get(t, td, "state")))
	fr := tensor.MustData[float32](get(t, td, "frames"))
	for j := range 3 {
		if !slices.Equal(fr[j*4:(j+1)*4], first) {
			t.Fatalf("reset frames slot %d = %v, want the first frame %v", j, fr[j*4:(j+1)*4], first)
		}
	}
	var states [][]float32
	states = append(states, first)
	for range 2 {
		td.Set(envs.KeyAction, tensor.Scalar[int64](1))
		td = must(env.Step(td))
		states = append(states, slices.Clone(tensor.MustData[float32](get(t, td, "next/state"))))
		td = must(td.StepMDP(tensordict.StepMDPOptions{}))
	}
	fr = tensor.MustData[float32](get(t, td, "frames"))
	for j := range 3 {
		if !slices.Equal(fr[j*4:(j+1)*4], states[j]) {
			t.Errorf("frames slot %d = %v, want state %d %v", j, fr[j*4:(j+1)*4], j, states[j])
		}
	}
	if _, err := envs.Exclude("nope")(cart(t, 1)); err == nil {
		t.Error("Exclude of an unknown key accepted")
	}
	ex := must(envs.Compose(cart(t, 1), envs.RewardSum, envs.Exclude("observation")))
	envtest.Check(t, ex, 20)
	if keys := ex.Specs().Observation.Keys(); !slices.Equal(keys, []string{"episode_reward"}) {
		t.Errorf("keys after Exclude = %v", keys)
	}
	sel := must(envs.Compose(cart(t, 1), envs.RewardSum, envs.Select("observation")))
	if keys := sel.Specs().Observation.Keys(); !slices.Equal(keys, []string{"observation"}) {
		t.Errorf("keys after Select = %v", keys)
	}
	// Key transforms over a batched env keep partial resets working.
	var children []envs.Env
	for i := range 2 {
		children = append(children, cart(t, uint64(i)))
	}
	b := must(envs.Serial(children...))
	env2 := must(envs.Compose(b, envs.Rename("observation", "state"), envs.CatFrames("state", "frames", 2), envs.StepCounter(5)))
	envtest.Check(t, env2, 40)
}

func TestObservationNorm(t *testing.T) {
	env := must(envs.ObservationNorm("observation", envs.ObsNormOptions{Loc: 1, Scale: 2})(cart(t, 4)))
	raw := cart(t, 4)
	a := must(env.Reset())
	b := must(raw.Reset())
	x, y := tensor.MustData[float32](get(t, a, "observation")), tensor.MustData[float32](get(t, b, "observation"))
	for i := range x {
		if x[i] != float32((float64(y[i])-1)/2) {
			t.Fatalf("normalised %v, raw %v", x, y)
		}
	}
	run := must(envs.ObservationNorm("observation", envs.ObsNormOptions{Running: true, Clip: 5})(cart(t, 5)))
	envtest.Check(t, run, 3000)
	n, mean, variance := run.(*envs.ObsNorm).Stats()
	if n < 3000 || len(mean) != 4 || variance[0] <= 0 || math.IsNaN(mean[0]) {
		t.Errorf("running stats n %v mean %v var %v", n, mean, variance)
	}
}

func TestFrameSkip(t *testing.T) {
	env := must(envs.FrameSkip(3)(cart(t, 2)))
	envtest.Check(t, env, 200)
	td := must(env.Reset())
	td.Set(envs.KeyAction, tensor.Scalar[int64](1))
	td = must(env.Step(td))
	if r := get(t, td, "next/reward").At(0); r != 3 {
		t.Errorf("frame-skipped reward %v, want 3", r)
	}
	b := must(envs.Serial(cart(t, 1)))
	if _, err := envs.FrameSkip(2)(b); err == nil {
		t.Error("FrameSkip accepted a batched env")
	}
}
