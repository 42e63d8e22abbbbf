package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/maestro-rl/maestro/bench/internal/benchutil"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/rewards/motif"
)

// Captions in the proportions of a NetHack agent's messages: a few very common, a long tail.
var captions = []string{"", "It's a wall.", "It's solid stone.", "You see here a newt corpse.",
	"What do you want to eat? [fg or ?*]", "You kill the newt!", "The jackal bites!", "You miss the jackal.",
	"You see here 12 gold pieces.", "There is a staircase down here.", "You hear some noises in the distance.",
	"You find a hidden passage.", "The grid bug bites!", "You hit the grid bug.", "Welcome to experience level 2.",
	"You are beginning to feel hungry.", "You hear the footsteps of a guard on patrol.", "This door is locked.",
	"You see here a dagger.", "Unknown command '^M'."}

func pairs(n int) [][2]string {
	rng := rand.New(rand.NewPCG(3, 3))
	draw := func() string { // Zipf-like: caption k with weight 1/(k+1)^1.1
		var w, total float64
		for k := range captions {
			total += 1 / math.Pow(float64(k+1), 1.1)
		}
		u := rng.Float64() * total
		for k := range captions {
			if w += 1 / math.Pow(float64(k+1), 1.1); u <= w {
				return captions[k]
			}
		}
		return captions[len(captions)-1]
	}
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{draw(), draw()}
	}
	return out
}

func main() {
	n := flag.Int("pairs", 200, "pairs to label")
	side := flag.String("side", "maestro", "maestro (dedup, cache, 2 in flight) or naive (1 at a time, no dedup or cache)")
	flag.Parse()
	ctx := context.Background()
	srv, err := llm.StartServer(ctx, llm.ServerOptions{Parallel: 2})
	if err != nil {
		benchutil.Fail("annotate bench", err)
	}
	defer srv.Stop()
	tp, err := motif.LoadTemplate("judge")
	if err != nil {
		benchutil.Fail("annotate bench", err)
	}
	dir, err := os.MkdirTemp("", "annotate-bench")
	if err != nil {
		benchutil.Fail("annotate bench", err)
	}
	defer os.RemoveAll(dir)
	ps := pairs(*n)
	conc := 2
	if *side == "naive" {
		conc = 1
	}
	c, err := llm.New(llm.Options{URLs: []string{srv.URL()}, Model: srv.Name(), Concurrency: conc})
	if err != nil {
		benchutil.Fail("annotate bench", err)
	}
	o := motif.AnnotateOptions{Template: tp, Goal: motif.Goals["default"], Mode: motif.Scored, Concurrency: conc}
	start := time.Now()
	if *side == "naive" {
		for i, p := range ps { // a fresh journal per pair: nothing is shared between pairs
			j, err := motif.OpenJournal(filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				benchutil.Fail("annotate bench", err)
			}
			if _, _, err := motif.Annotate(ctx, c, j, [][2]string{p}, o); err != nil {
				benchutil.Fail("annotate bench", err)
			}
			j.Close()
		}
	} else {
		j, err := motif.OpenJournal(filepath.Join(dir, "journal"))
		if err != nil {
			benchutil.Fail("annotate bench", err)
		}
		if _, _, err := motif.Annotate(ctx, c, j, ps, o); err != nil {
			benchutil.Fail("annotate bench", err)
		}
		j.Close()
	}
	el := time.Since(start).Seconds()
	fmt.Printf("%s pairs_per_s=%.3f requests=%d seconds=%.1f\n", *side, float64(len(ps))/el, c.Requests.Load(), el)
}
