package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/maestro-rl/maestro/bench/internal/benchutil"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
)

func fail(err error) { benchutil.Fail("rolloutbench", err) }

func main() {
	n := flag.Int("envs", 1, "1 for a single env, 2 for envs.Parallel of two")
	steps := flag.Int("steps", 1000, "rollout length")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	agentKeys := flag.Bool("agent-keys", false, "observe what Motif's agent reads (no screen_descriptions) instead of NLE's default keys")
	flag.Parse()
	stopProfile, err := benchutil.StartCPUProfile(*cpuprofile)
	if err != nil {
		fail(err)
	}
	defer stopProfile()
	mk := func() envs.Env {
		o := nethack.EnvOptions{Task: nethack.TaskScore}
		if *agentKeys {
			o.Game.ObservationKeys = nethack.CompactObservationKeys
		}
		e, err := nethack.NewEnv(o)
		if err != nil {
			fail(err)
		}
		return e
	}
	var env envs.Env
	if *n == 1 {
		env = mk()
	} else {
		children := make([]envs.Env, *n)
		for i := range children {
			children[i] = mk()
		}
		b, err := envs.Parallel(children...)
		if err != nil {
			fail(err)
		}
		env = b
	}
	defer env.Close()
	policy := envs.RandomPolicy(env, rand.New(rand.NewPCG(1, 2)))
	// Warm up once, as the Python side does.
	if _, err := envs.Rollout(env, policy, 10, envs.RolloutOptions{AutoReset: true}); err != nil {
		fail(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	ro, err := envs.Rollout(env, policy, *steps, envs.RolloutOptions{AutoReset: true})
	if err != nil {
		fail(err)
	}
	el := time.Since(t0)
	runtime.ReadMemStats(&m1)
	total := ro.BatchSize()
	fmt.Printf("steps_per_s %.0f allocs_per_step %.1f\n", float64(total)/el.Seconds(), float64(m1.Mallocs-m0.Mallocs)/float64(total))
}
