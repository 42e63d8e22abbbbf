// Package judgeeval harvests the distinct messages of random NetHack games (run it with
// go test ./rewards/motif/testdata/judgeeval/ from the module root; it writes
// /tmp/msgs/captions2.tsv: count, message). It made part of the judge evaluation set's pool.
// HARVEST=heldout plays other characters with other seeds (200+) and writes
// /tmp/msgs/heldout.tsv: the pool of the held-out set (judge-heldout.tsv).
package judgeeval

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
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

// Draws the transition known-answer sets (../transitions-<skill>.tsv, body only) from
// `annotate collect` datasets (HARVEST_TRANSITIONS=file[,file...]; written to
// /tmp/msgs/transitions-<skill>.tsv): MaestroMotif's transitions over 100 steps of one episode,
// captioned as the judge sees them (motif.TransitionCaption), paired where a skill's preference
// decides at once and nothing else differs much:
//   - descender: the dungeon level rose by 1 against a stretch where nothing changed;
//   - discoverer: a kill, gold or an item picked up (dungeon level unchanged) against nothing;
//     and nothing against a change of dungeon level ("never prefer changing dungeon level");
//   - every skill: nothing against a loss of 4 or more hit points with nothing gained.
func TestTransitionSets(t *testing.T) {
	in := os.Getenv("HARVEST_TRANSITIONS")
	if in == "" {
		t.Skip("set HARVEST_TRANSITIONS")
	}
	const delta = 100
	type tr struct {
		caption string
		diff    [5]float32
		cur     string
	}
	var all []tr
	for _, path := range strings.Split(in, ",") {
		obs, err := tensordict.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		msg, err1 := tensordict.GetAs[uint8](obs, "data/message")
		bl, err2 := tensordict.GetAs[int64](obs, "data/blstats")
		ep, err3 := tensordict.GetAs[int64](obs, "data/episode")
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		L, NB := nethack.MessageLen, nethack.NumBlstats
		rng := rand.New(rand.NewPCG(3, 3))
		for b := delta; b < len(ep); b += 7 + rng.IntN(7) {
			a := b - delta
			if ep[a] != ep[b] {
				continue
			}
			var d [5]float32
			motif.DiffStats(d[:], bl[a*NB:(a+1)*NB], bl[b*NB:(b+1)*NB])
			all = append(all, tr{motif.TransitionCaption(msg[a*L:(a+1)*L], msg[b*L:(b+1)*L], d[:]), d, motif.Caption(msg[b*L : (b+1)*L])})
		}
	}
	const depth, gold, hp, xp, hunger = 0, 1, 2, 3, 4
	var flat, down, gain, hurt []string
	for _, x := range all {
		d := x.diff
		switch {
		case d == [5]float32{} && !strings.Contains(x.caption, "You kill") && !strings.Contains(x.caption, " - "):
			flat = append(flat, x.caption)
		case d[depth] == 1 && d[hp] >= 0 && d[hunger] <= 0:
			down = append(down, x.caption)
		case d[depth] == 0 && d[hp] >= 0 && d[hunger] <= 0 && (d[gold] > 0 || d[xp] > 0 || strings.HasPrefix(x.cur, "You kill")):
			gain = append(gain, x.caption)
		case d[depth] == 0 && d[hp] <= -4 && d[gold] <= 0 && d[xp] <= 0 && !strings.Contains(x.caption, "You kill"):
			hurt = append(hurt, x.caption)
		}
	}
	t.Logf("%d transitions: %d with nothing changed, %d down a level, %d with a gain, %d hurt", len(all), len(flat), len(down), len(gain), len(hurt))
	rng := rand.New(rand.NewPCG(5, 5))
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	type draw struct {
		good, bad []string
		cat       string
		n         int
	}
	out := func(skill string, draws ...draw) {
		f, err := os.Create("/tmp/msgs/transitions-" + skill + ".tsv")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		seen, i := map[[2]string]bool{}, 0
		for _, d := range draws {
			if len(d.good) == 0 || len(d.bad) == 0 {
				t.Logf("%s: no %s pairs", skill, d.cat)
				continue
			}
			for k := 0; k < 4*d.n && len(seen) < i+d.n; k++ {
				g, b := pick(d.good), pick(d.bad)
				if seen[[2]string{g, b}] {
					continue
				}
				seen[[2]string{g, b}] = true
				if len(seen)%2 == 1 {
					fmt.Fprintf(f, "%s\t%s\t1\t%s\n", g, b, d.cat)
				} else {
					fmt.Fprintf(f, "%s\t%s\t2\t%s\n", b, g, d.cat)
				}
			}
			i = len(seen)
		}
	}
	out("descender", draw{down, flat, "descend", 30}, draw{flat, hurt, "danger", 20})
	out("discoverer", draw{gain, flat, "gain", 30}, draw{flat, down, "stay", 15}, draw{flat, hurt, "danger", 15})
}
