// Package judgeeval harvests the distinct messages of random NetHack games (run it with
// go test ./rewards/motif/testdata/judgeeval/ from the module root; it writes
// /tmp/msgs/captions2.tsv: count, message). It made part of the judge evaluation set's pool.
// HARVEST=heldout plays other characters with other seeds (200+) and writes
// /tmp/msgs/heldout.tsv: the pool of the held-out set (judge-heldout.tsv).
package judgeeval

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/tensordict"
)

// Harvests distinct NLE messages from random play with several characters, terminal steps included.
func TestHarvest(t *testing.T) {
	chars := []string{"mon-hum-neu-mal", "val-hum-law-fem", "pri-hum-neu-fem", "sam-hum-law-mal", "wiz-elf-cha-mal", "arc-dwa-law-fem", "tou-hum-neu-mal", "kni-hum-law-mal"}
	base, out := uint64(100), "/tmp/msgs/captions2.tsv"
	if os.Getenv("HARVEST") == "heldout" {
		chars = []string{"hea-gno-neu-fem", "ran-elf-cha-mal", "bar-orc-cha-mal", "cav-dwa-law-mal", "rog-hum-cha-fem", "pri-elf-cha-mal", "val-dwa-law-fem", "wiz-gno-neu-mal"}
		base, out = 200, "/tmp/msgs/heldout.tsv"
	}
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ci := w; ci < len(chars); ci += 2 {
				seed := base + uint64(ci)
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
	os.MkdirAll("/tmp/msgs", 0o755)
	f, _ := os.Create(out)
	for _, e := range l {
		fmt.Fprintf(f, "%d\t%s\n", e.n, e.c)
	}
	f.Close()
}

// Counts the distinct messages of an `annotate collect` dataset (HARVEST_OBS=file) into
// HARVEST_OUT (count, message), e.g. the games of a trained agent for the held-out pool.
func TestMessagesOfDataset(t *testing.T) {
	in, out := os.Getenv("HARVEST_OBS"), os.Getenv("HARVEST_OUT")
	if in == "" || out == "" {
		t.Skip("set HARVEST_OBS and HARVEST_OUT")
	}
	obs, err := tensordict.LoadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := obs.Get("data/message")
	if err != nil {
		t.Fatal(err)
	}
	n := msg.Shape()[len(msg.Shape())-1]
	data, err := tensordict.GetAs[uint8](obs, "data/message")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i := 0; i+n <= len(data); i += n {
		count[motif.Caption(data[i:i+n])]++
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for c, k := range count {
		fmt.Fprintf(f, "%d\t%s\n", k, c)
	}
}
