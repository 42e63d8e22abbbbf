package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// keys are the bench's observation keys: NLE's env default without screen_descriptions, plus
// program_state and internal, which every env reads. The C loop and the Python side use the
// same set.
var keys = []string{"glyphs", "chars", "colors", "specials", "blstats", "message", "program_state",
	"internal", "inv_glyphs", "inv_strs", "inv_letters", "inv_oclasses", "tty_chars", "tty_colors", "tty_cursor"}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nlebench:", err)
	os.Exit(1)
}

// rng is the xorshift64 that every side of the benchmark uses, so that all play the same
// actions; episode e of worker w is seeded with core = disp = w*1000000 + e + 1.
type rng uint64

func newRNG(worker int) rng { return rng(0x9E3779B97F4A7C15 + uint64(worker)) }

func (x *rng) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

func seeds(s uint64) nethack.Seeds { return nethack.Seeds{Core: s, Disp: s} }

func reset(g *nethack.Game, episode *uint64) {
	*episode++
	g.SetInitialSeeds(seeds(*episode))
	if err := g.Reset(""); err != nil {
		fail(err)
	}
}

// rawLoop steps games until the deadline, one call into C per step of all games.
func rawLoop(worker int, nGames int, steps int, start <-chan struct{}, ready *sync.WaitGroup) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	episode := uint64(worker) * 1000000
	games := make([]*nethack.Game, nGames)
	for i := range games {
		g, err := nethack.NewGame(nethack.GameOptions{ObservationKeys: keys, FixMoonPhase: true})
		if err != nil {
			fail(err)
		}
		reset(g, &episode)
		games[i] = g
	}
	ready.Done()
	x := newRNG(worker)
	acts := nethack.TaskActions()
	batch := nethack.NewGameBatch(games)
	ks := make([]uint8, len(games))
	done := make([]bool, len(games))
	<-start
	n := 0
	for n < steps {
		if len(games) == 1 {
			d, err := games[0].Step(acts[x.next()%uint64(len(acts))])
			if err != nil {
				fail(err)
			}
			done[0] = d
		} else {
			for i := range ks {
				ks[i] = acts[x.next()%uint64(len(acts))]
			}
			if err := batch.Step(ks, done); err != nil {
				fail(err)
			}
		}
		for i, d := range done {
			if d {
				reset(games[i], &episode)
			}
		}
		n += len(games)
	}
	return n
}

func envLoop(steps int) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e, err := nethack.NewTaskEnv(nethack.EnvOptions{Task: nethack.TaskScore,
		Game: nethack.GameOptions{ObservationKeys: keys, FixMoonPhase: true}})
	if err != nil {
		fail(err)
	}
	defer e.Close()
	episode := uint64(0)
	resetEnv := func() {
		episode++
		e.Seed(seeds(episode))
		if err := e.Reset(); err != nil {
			fail(err)
		}
	}
	resetEnv()
	x := newRNG(0)
	n := 0
	for n < steps {
		st, err := e.Step(int(x.next() % uint64(e.NumActions())))
		if err != nil {
			fail(err)
		}
		if st.Done() {
			resetEnv()
		}
		n++
	}
	return n
}

func main() {
	mode := flag.String("mode", "raw", "raw, env or raw2")
	nGames := flag.Int("games", 4, "games per goroutine in raw2 mode (stepped in one call into C)")
	nSteps := flag.Int("steps", 300000, "steps per goroutine")
	flag.Parse()
	var ms0, ms1 runtime.MemStats
	var steps int
	var elapsed time.Duration
	switch *mode {
	case "env":
		runtime.ReadMemStats(&ms0)
		t0 := time.Now()
		steps = envLoop(*nSteps)
		elapsed = time.Since(t0)
	case "raw", "raw2":
		workers, per := 1, 1
		if *mode == "raw2" {
			workers, per = 2, *nGames
			// Leave the runtime one idle P: with every P inside a cgo call, sysmon hands the
			// P of a call longer than ~20us to another thread, and the stepping goroutine
			// pays a context switch to get it back.
			if runtime.GOMAXPROCS(0) <= workers {
				runtime.GOMAXPROCS(workers + 1)
			}
		}
		start := make(chan struct{})
		counts := make([]int, workers)
		var wg, ready sync.WaitGroup
		ready.Add(workers)
		for w := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); counts[w] = rawLoop(w, per, *nSteps, start, &ready) }()
		}
		ready.Wait()
		runtime.ReadMemStats(&ms0)
		t0 := time.Now()
		close(start)
		wg.Wait()
		elapsed = time.Since(t0)
		for _, c := range counts {
			steps += c
		}
	default:
		fail(fmt.Errorf("unknown mode %q; use raw, env or raw2", *mode))
	}
	runtime.ReadMemStats(&ms1)
	fmt.Printf("steps_per_s %.0f allocs_per_step %.4f gomaxprocs %d\n", float64(steps)/elapsed.Seconds(),
		float64(ms1.Mallocs-ms0.Mallocs)/float64(steps), runtime.GOMAXPROCS(0))
}
