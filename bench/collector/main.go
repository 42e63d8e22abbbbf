package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maestro-rl/maestro/bench/internal/benchutil"
	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
)

func fail(err error) { benchutil.Fail("collectorbench", err) }

func main() {
	mode := flag.String("mode", "collector", "collector (MultiSync), async, raw (the env alone) or raw-sync (the env alone, workers meeting every 64 steps)")
	frames := flag.Int("frames", 20_000, "frames to collect")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	runAhead := flag.Int("runahead", 0, "MultiSync's RunAhead (batches a worker may collect beyond the one waited for)")
	allocprofile := flag.String("allocprofile", "", "write a profile of the allocations after warm-up here")
	flag.Parse()
	stopProfile, err := benchutil.StartCPUProfile(*cpuprofile)
	if err != nil {
		fail(err)
	}
	defer stopProfile()
	const workers = 2
	if runtime.GOMAXPROCS(0) <= workers {
		runtime.GOMAXPROCS(workers + 1) // an idle P keeps sysmon from stealing a stepping thread
	}
	// Every mode plays the same games with the same actions: worker i's episodes are seeded
	// from i+1 and its random actions come from PCG(i, 2), so the modes differ only in what
	// surrounds the env (NetHack's time per step depends on the game several-fold).
	optsFor := func(i int) nethack.EnvOptions {
		seed := uint64(i + 1)
		return nethack.EnvOptions{Task: nethack.TaskScore, Seed: &seed,
			Game: nethack.GameOptions{ObservationKeys: nethack.CompactObservationKeys, FixMoonPhase: true}}
	}
	actions := func(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), 2)) }
	var m0, m1 runtime.MemStats
	switch *mode {
	case "raw", "raw-sync":
		var wg sync.WaitGroup
		tes := make([]*nethack.TaskEnv, workers)
		for i := range tes {
			te, err := nethack.NewTaskEnv(optsFor(i))
			if err != nil {
				fail(err)
			}
			if err := te.Reset(); err != nil {
				fail(err)
			}
			tes[i] = te
		}
		// raw: each worker steps its env in stretches of 64 until the workers together have
		// taken the frames asked for, so both run the whole time (a fixed share each would leave
		// one thread idle at the end, since NetHack's time per step varies). raw-sync: the
		// workers meet after every 64 steps, as a synchronous collector's do.
		var total atomic.Int64
		reqs := make([]chan int, workers)
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		for i, te := range tes {
			reqs[i] = make(chan int)
			go func() {
				runtime.LockOSThread()
				rng := actions(i)
				for steps := range reqs[i] {
					for steps > 0 {
						for range 64 {
							st, err := te.Step(rng.IntN(te.NumActions()))
							if err != nil {
								fail(err)
							}
							if st.Done() {
								if err := te.Reset(); err != nil {
									fail(err)
								}
							}
						}
						steps -= 64
						if total.Add(64) >= int64(*frames) {
							break
						}
					}
					wg.Done()
				}
			}()
		}
		for total.Load() < int64(*frames) {
			wg.Add(workers)
			for _, r := range reqs {
				if *mode == "raw-sync" {
					r <- 64
				} else {
					r <- *frames
				}
			}
			wg.Wait()
		}
		el := time.Since(t0)
		runtime.ReadMemStats(&m1)
		n := float64(total.Load())
		fmt.Printf("frames_per_s %.0f allocs_per_frame %.2f\n", n/el.Seconds(), float64(m1.Mallocs-m0.Mallocs)/n)
	default:
		envList := make([]envs.Env, workers)
		for i := range envList {
			e, err := nethack.NewEnv(optsFor(i))
			if err != nil {
				fail(err)
			}
			envList[i] = e
		}
		policy := func(i int) envs.Policy { return envs.RandomPolicy(envList[i], actions(i)) }
		co := collectors.Options{FramesPerBatch: 64, RunAhead: *runAhead}
		// next returns the frames of one batch.
		var next func() int
		if *mode == "async" {
			c, err := collectors.NewAsync(envList, policy, co)
			if err != nil {
				fail(err)
			}
			defer c.Close()
			next = func() int {
				if _, _, err := c.Next(); err != nil {
					fail(err)
				}
				return 64
			}
		} else {
			c, err := collectors.NewMultiSync(envList, policy, co)
			if err != nil {
				fail(err)
			}
			defer c.Close()
			next = func() int {
				if _, err := c.Next(); err != nil {
					fail(err)
				}
				return 64 * workers
			}
		}
		for range workers { // warm-up: buffers are allocated on the first batch
			next()
		}
		writeAllocs := benchutil.StartAllocProfile(*allocprofile)
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		n := 0
		for n < *frames {
			n += next()
		}
		el := time.Since(t0)
		runtime.ReadMemStats(&m1)
		if err := writeAllocs(); err != nil {
			fail(err)
		}
		fmt.Printf("frames_per_s %.0f allocs_per_frame %.2f\n", float64(n)/el.Seconds(), float64(m1.Mallocs-m0.Mallocs)/float64(n))
	}
}
