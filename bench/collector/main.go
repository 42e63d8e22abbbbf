// Command collectorbench times collectors.MultiSync on NetHackScore for `make bench
// BENCH=collector`: 2 workers with one env each, a random policy, 64 frames per env per batch,
// Motif's agent observation keys. -mode raw instead steps two TaskEnvs on two goroutines with
// random actions and no Dicts: the env's own rate, the limit a collector can reach.
// Prints "frames_per_s <x> allocs_per_frame <y>".
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/maestro-rl/maestro/bench/internal/benchutil"
	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
)

func fail(err error) { benchutil.Fail("collectorbench", err) }

func main() {
	mode := flag.String("mode", "collector", "collector or raw")
	frames := flag.Int("frames", 20_000, "frames to collect")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
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
	opts := nethack.EnvOptions{Task: nethack.TaskScore, Game: nethack.GameOptions{ObservationKeys: nethack.AgentObservationKeys}}
	var m0, m1 runtime.MemStats
	switch *mode {
	case "raw":
		var wg sync.WaitGroup
		tes := make([]*nethack.TaskEnv, workers)
		for i := range tes {
			te, err := nethack.NewTaskEnv(opts)
			if err != nil {
				fail(err)
			}
			if err := te.Reset(); err != nil {
				fail(err)
			}
			tes[i] = te
		}
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		for i, te := range tes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				rng := rand.New(rand.NewPCG(uint64(i), 1))
				for n := 0; n < *frames/workers; n++ {
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
			}()
		}
		wg.Wait()
		el := time.Since(t0)
		runtime.ReadMemStats(&m1)
		fmt.Printf("frames_per_s %.0f allocs_per_frame %.2f\n", float64(*frames)/el.Seconds(), float64(m1.Mallocs-m0.Mallocs)/float64(*frames))
	default:
		envList := make([]envs.Env, workers)
		for i := range envList {
			e, err := nethack.NewEnv(opts)
			if err != nil {
				fail(err)
			}
			envList[i] = e
		}
		policy := func(i int) envs.Policy { return envs.RandomPolicy(envList[i], rand.New(rand.NewPCG(uint64(i), 2))) }
		c, err := collectors.NewMultiSync(envList, policy, collectors.Options{FramesPerBatch: 64})
		if err != nil {
			fail(err)
		}
		defer c.Close()
		if _, err := c.Next(); err != nil { // warm-up: buffers are allocated on the first batch
			fail(err)
		}
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		n := 0
		for n < *frames {
			if _, err := c.Next(); err != nil {
				fail(err)
			}
			n += 64 * workers
		}
		el := time.Since(t0)
		runtime.ReadMemStats(&m1)
		fmt.Printf("frames_per_s %.0f allocs_per_frame %.2f\n", float64(n)/el.Seconds(), float64(m1.Mallocs-m0.Mallocs)/float64(n))
	}
}
