// Package judgeeval harvests the distinct messages of random NetHack games (run it with
// go test ./rewards/motif/testdata/judgeeval/ from the module root; it writes
// /tmp/msgs/captions2.tsv: count, message). It made part of the judge evaluation set's pool.
package judgeeval

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// Harvests distinct NLE messages from random play with several characters, terminal steps included.
func TestHarvest(t *testing.T) {
	chars := []string{"mon-hum-neu-mal", "val-hum-law-fem", "pri-hum-neu-fem", "sam-hum-law-mal", "wiz-elf-cha-mal", "arc-dwa-law-fem", "tou-hum-neu-mal", "kni-hum-law-mal"}
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ci := w; ci < len(chars); ci += 2 {
				seed := uint64(100 + ci)
				e, err := nethack.NewTaskEnv(nethack.EnvOptions{Task: nethack.TaskScore, Seed: &seed, Actions: nethack.UsefulActions(), Game: nethack.GameOptions{Character: chars[ci]}})
				if err != nil {
					panic(err)
				}
				rng := rand.New(rand.NewPCG(seed, 1))
				if err := e.Reset(); err != nil {
					panic(err)
				}
				local := map[string]int{}
				for s := 0; s < 150000; s++ {
					st, err := e.Step(rng.IntN(e.NumActions()))
					if err != nil {
						panic(err)
					}
					local[e.Obs().MessageText()]++
					if st.Done() {
						if err := e.Reset(); err != nil {
							panic(err)
						}
					}
				}
				e.Close()
				mu.Lock()
				for k, v := range local {
					count[k] += v
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	type kv struct {
		c string
		n int
	}
	var l []kv
	for c, n := range count {
		l = append(l, kv{c, n})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n })
	f, _ := os.Create("/tmp/msgs/captions2.tsv")
	for _, e := range l {
		fmt.Fprintf(f, "%d\t%s\n", e.n, e.c)
	}
	f.Close()
}
