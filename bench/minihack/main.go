package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "minihackbench:", err)
	os.Exit(1)
}

// rng is the xorshift64 both sides draw actions from.
type rng uint64

func (x *rng) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

func main() {
	task := flag.String("task", "MiniHack-Room-5x5-v0", "the MiniHack task")
	steps := flag.Int("steps", 20000, "env steps to time")
	resets := flag.Int("resets", 50, "explicit resets to time")
	flag.Parse()
	cache, err := os.MkdirTemp("", "minihackbench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(cache)
	o := minihack.Options{Task: *task, ObservationKeys: minihack.DefaultObservationKeys,
		Compile: minihack.CompileOptions{CacheDir: cache}}
	t0 := time.Now()
	env, err := minihack.NewEnv(o)
	if err != nil {
		fail(err)
	}
	makeCold := time.Since(t0)
	t0 = time.Now()
	warm, err := minihack.NewEnv(o)
	if err != nil {
		fail(err)
	}
	makeWarm := time.Since(t0)
	warm.Close()
	defer env.Close()

	t0 = time.Now()
	for range *resets {
		if _, err := env.Reset(); err != nil {
			fail(err)
		}
	}
	resetMs := float64(time.Since(t0).Microseconds()) / 1000 / float64(*resets)

	n := uint64(len(env.Spec().Actions))
	x := rng(0x9E3779B97F4A7C15)
	action := tensor.Scalar[int64](0)
	act, err := tensor.Data[int64](action)
	if err != nil {
		fail(err)
	}
	// The collectors' loop: rollouts of 100 steps into one recycled output (envs.Runner),
	// finished episodes reset at once.
	policy := envs.PolicyFunc(func(td *tensordict.Dict) error {
		act[0] = int64(x.next() % n)
		return td.Set(envs.KeyAction, action)
	})
	const unroll = 100
	runner, err := envs.NewRunner(env, policy, unroll, envs.RolloutOptions{})
	if err != nil {
		fail(err)
	}
	step := func(count int) {
		for range count / unroll {
			if _, err := runner.Run(); err != nil {
				fail(err)
			}
		}
	}
	step(unroll) // warm up, as the Python side does
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 = time.Now()
	step(*steps)
	el := time.Since(t0)
	runtime.ReadMemStats(&m1)
	done := *steps / unroll * unroll
	fmt.Printf("steps_per_s %.0f allocs_per_step %.1f reset_ms %.2f make_cold_ms %.1f make_warm_ms %.1f\n",
		float64(done)/el.Seconds(), float64(m1.Mallocs-m0.Mallocs)/float64(done), resetMs,
		float64(makeCold.Microseconds())/1000, float64(makeWarm.Microseconds())/1000)
}
