package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func collect(ctx context.Context, args []string) error {
	fs := newFlags("collect", "annotate collect --task score --steps 20000 --envs 4 --out data/obs.mtd")
	task := fs.String("task", "score", "NetHack task to play (NetHackScore, score, staircase, ...)")
	steps := fs.Int("steps", 20000, "observations to store")
	envsN := fs.Int("envs", 4, "games played side by side")
	seed := fs.Uint64("seed", 1, "seed of the games and the random policy")
	noTTY := fs.Bool("no-tty", false, "leave the 24x80 terminal (tty_chars/tty_colors, ~90% of each row) out")
	policy := fs.String("policy", "", "weights of a trained NetHack agent (a train run's params.mtd) to act with (default: uniformly random actions); Motif collects with an agent trained on the score")
	out := fs.String("out", "", "dataset file to write (required)")
	if err := parse(fs, args, "out"); err != nil {
		return err
	}
	t, err := nethack.ParseTask(*task)
	if err != nil {
		return err
	}
	var pol envs.Policy
	if *policy != "" {
		if *noTTY {
			return errors.New("collect: --policy needs the terminal (the agent reads its crop); drop --no-tty")
		}
		agent, err := nethackagent.NewAgent(len(nethack.TaskActions()), rand.New(rand.NewPCG(*seed, 3)))
		if err != nil {
			return err
		}
		if err := nn.LoadParams(*policy, agent.Params()); err != nil {
			return fmt.Errorf("collect: --policy %s: %w (it must be a NetHack run's params.mtd)", *policy, err)
		}
		// The generator a learner seeded with --seed would act from, as before policies stood alone.
		pol = rl.NewPolicy(nethackagent.NewModel(agent), rand.New(rand.NewPCG(*seed, 0x991)))
	}
	start := time.Now()
	d, err := motif.Collect(ctx, motif.CollectOptions{Task: t, Steps: *steps, Envs: *envsN, Seed: *seed, NoTTY: *noTTY, Policy: pol,
		Progress: func(n int) { bar("collect", n, *steps, start, "") }})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := motif.SaveDataset(*out, motif.KindObservations, d); err != nil {
		return err
	}
	ep := tensor.MustData[int64](must(d.Get(motif.KeyEpisode)))
	fmt.Printf("collect: %d observations of %s (%d episodes) in %s\n", len(ep), t, distinct(ep), *out)
	return nil
}

func distinct(xs []int64) int {
	seen := map[int64]bool{}
	for _, x := range xs {
		seen[x] = true
	}
	return len(seen)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func pairs(args []string) error {
	fs := newFlags("pairs", "annotate pairs --obs data/obs.mtd --out data/pairs.mtd --pairs 5000")
	obsPath := fs.String("obs", "", "observation dataset from `annotate collect` (required)")
	out := fs.String("out", "", "pair dataset to write (required)")
	n := fs.Int("pairs", 0, "at most this many pairs (0: all that Motif's sampling gives, about half the observations)")
	stride := fs.Int("stride", 1, "Motif's L: from an episode of T steps draw T/L observations")
	seed := fs.Uint64("seed", 1, "seed of the sampling")
	delta := fs.Int("delta", 0, "MaestroMotif's pairs of transitions: each element is what was seen this many steps earlier, what is seen now, and the change of depth, gold, HP, XP level and hunger (0: Motif's single observations)")
	events := fs.Float64("events", 0, "with --delta: this share of the transitions is drawn from those where the dungeon level, gold or experience level changed, evenly over the three (uniform draws almost never hold one: 5 depth changes in 1,000 transitions of a trained agent), the rest uniformly as MaestroMotif does")
	if err := parse(fs, args, "obs", "out"); err != nil {
		return err
	}
	if *events != 0 && *delta <= 0 {
		return fmt.Errorf("--events %g mixes in transitions and needs --delta (the gap in steps, MaestroMotif's 100)", *events)
	}
	obs, err := motif.LoadDataset(*obsPath, motif.KindObservations)
	if err != nil {
		return err
	}
	ep, err := tensordict.GetAs[int64](obs, motif.KeyEpisode)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 2))
	var p *tensordict.Dict
	var count int
	if *delta > 0 {
		idx := motif.TransitionIndices(ep, *delta, *stride, *n, rng)
		if *events > 0 {
			bl, err := tensordict.GetAs[int64](obs, "blstats")
			if err != nil {
				return err
			}
			var drawn [len(motif.EventKinds)]int
			if idx, drawn, err = motif.MixEventTransitions(idx, ep, bl, *delta, *events, rng); err != nil {
				return fmt.Errorf("--events: %w", err)
			}
			for k, name := range motif.EventKinds {
				fmt.Printf("pairs: %d transitions where the %s changed\n", drawn[k], name)
			}
		}
		p, err = motif.MakeTransitionPairs(obs, idx, *delta)
		count = len(idx)
	} else {
		idx := motif.PairIndices(ep, *stride, *n, rng)
		p, err = motif.MakePairs(obs, idx)
		count = len(idx)
	}
	if err != nil {
		return err
	}
	if err := motif.SaveDataset(*out, motif.KindPairs, p); err != nil {
		return err
	}
	fmt.Printf("pairs: %d pairs from %d observations in %s\n", count, len(ep), *out)
	return nil
}

func inspect(args []string, w *os.File) error {
	fs := newFlags("inspect", "annotate inspect --pairs data/pairs.mtd")
	pairsPath := fs.String("pairs", "", "pair dataset (required)")
	top := fs.Int("top", 10, "most frequent captions to list (0 or more)")
	rmPath := fs.String("reward-model", "", "also rank the captions by this reward model's normalised reward (\"default\": the shipped one)")
	if err := parse(fs, args, "pairs"); err != nil {
		return err
	}
	if *top < 0 {
		return fmt.Errorf("inspect: --top %d: give 0 or more captions to list", *top)
	}
	p, err := motif.LoadDataset(*pairsPath, motif.KindPairs)
	if err != nil {
		return err
	}
	caps, err := motif.PairCaptions(p, false)
	if err != nil {
		return err
	}
	labels, err := tensordict.GetAs[int8](p, "label")
	if err != nil {
		return err
	}
	count := map[string]int{}
	identical := 0
	for _, c := range caps {
		count[c[0]]++
		count[c[1]]++
		if c[0] == c[1] {
			identical++
		}
	}
	var hist [4]int
	for _, l := range labels {
		if l >= 0 && l < 4 {
			hist[l]++
		}
	}
	fmt.Fprintf(w, "%s: %d pairs, %d unique captions, %d pairs of identical captions\n", *pairsPath, len(caps), len(count), identical)
	fmt.Fprintf(w, "labels: first %d, second %d, tie %d, unknown %d\n", hist[0], hist[1], hist[2], hist[3])
	type kv struct {
		c string
		n int
	}
	var list []kv
	for c, n := range count {
		list = append(list, kv{c, n})
	}
	slices.SortFunc(list, func(a, b kv) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.c, b.c)
	})
	fmt.Fprintf(w, "most frequent captions:\n")
	for _, e := range list[:min(*top, len(list))] {
		fmt.Fprintf(w, "  %6d  %q\n", e.n, e.c)
	}
	if *rmPath == "" {
		return nil
	}
	rm, err := loadRewardModel(*rmPath)
	if err != nil {
		return err
	}
	intr, err := motif.NewIntrinsic(rm, motif.DefaultIntrinsic())
	if err != nil {
		return err
	}
	msgs := make([]uint8, len(list)*nethack.MessageLen)
	for i, e := range list {
		copy(msgs[i*nethack.MessageLen:], e.c)
	}
	if rm.UsesDiffStats() {
		return fmt.Errorf("inspect --reward-model ranks single captions; %s scores transitions (MaestroMotif)", *rmPath)
	}
	rhat := intr.Normalized(msgs, nil)
	order := make([]int, len(list))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmpFloat(rhat[b], rhat[a]) })
	fmt.Fprintf(w, "captions by normalised reward (threshold %.3f; above it they earn intrinsic reward):\n", intr.Eps())
	show := func(ids []int) {
		for _, i := range ids {
			fmt.Fprintf(w, "  %7.3f  %6d  %q\n", rhat[i], list[i].n, list[i].c)
		}
	}
	k := min(*top, len(order))
	show(order[:k])
	if len(order) > 2*k {
		fmt.Fprintln(w, "  ...")
		show(order[len(order)-k:])
	} else {
		show(order[k:])
	}
	return nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
