package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/skills"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

const usage = `annotate: Motif's preference pipeline.

Usage:
  annotate collect --task score --steps 20000 --out data/obs.mtd     play and store observations
  annotate pairs   --obs data/obs.mtd --out data/pairs.mtd           draw Motif's caption pairs
  annotate label   --pairs data/pairs.mtd [--llm-url URL]           label them with an LLM judge
  annotate inspect --pairs data/pairs.mtd                            counts, captions, labels
  annotate train   --pairs data/pairs.mtd --out rm.mtd               train the reward model
  annotate eval    [--tsv pairs.tsv] [--reward-model default]        measure a judge (and a reward
                                                                     model) on pairs with known answers
  annotate probe   [--topics FILE]                                   what the judge knows of NetHack

Without --llm-url, label and eval start the embedded llama-server (built by
scripts/setup.sh --llm) with the embedded judge (--judge; the default is the best measured in
docs/judge.md, installed by scripts/setup.sh --coder). For real labels point --llm-url at vLLM,
llama.cpp or OpenAI (several URLs, comma-separated, share the work) and name the model with
--llm-model; an API key is read from OPENAI_API_KEY and never written anywhere.

Run "annotate <command> --help" for a command's flags.
`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Print(usage)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "collect":
		err = collect(ctx, args)
	case "pairs":
		err = pairs(args)
	case "label":
		err = label(ctx, args)
	case "inspect":
		err = inspect(args, os.Stdout)
	case "train":
		err = train(args)
	case "eval":
		err = eval(ctx, args, os.Stdout)
	case "probe":
		err = probe(ctx, args, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q; commands: collect, pairs, label, inspect, train, eval, probe (annotate --help)", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "annotate:", err)
		os.Exit(1)
	}
}

func newFlags(name, example string) *flag.FlagSet {
	fs := flag.NewFlagSet("annotate "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: annotate %s [flags]\n\nExample:\n  %s\n\nFlags:\n", name, example)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and requires the named flags to be set.
func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	var missing []string
	for _, n := range required {
		if fs.Lookup(n).Value.String() == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %s required (see --help)", fs.Name(), strings.Join(missing, " and ")+map[bool]string{true: " is", false: " are"}[len(missing) == 1])
	}
	if err := checkNumbers(fs); err != nil {
		return err
	}
	if f := fs.Lookup("out"); f != nil && f.Value.String() != "" {
		name := strings.Fields(fs.Name())
		return checkOut(name[len(name)-1], f.Value.String())
	}
	return nil
}

// numberRanges are the allowed values of the commands' numeric flags (any flag of these names
// that a subcommand has); every float flag must also be finite.
var numberRanges = map[string]struct {
	ok   func(float64) bool
	want string
}{
	"tie-margin":  {func(v float64) bool { return v == -1 || v >= 0 }, "a margin of 0 or more (-1: the mode's default)"},
	"lr":          {func(v float64) bool { return v > 0 }, "a positive learning rate such as 1e-5"},
	"epochs":      {func(v float64) bool { return v >= 1 }, "at least 1"},
	"batch":       {func(v float64) bool { return v >= 1 }, "at least 1"},
	"concurrency": {func(v float64) bool { return v >= 1 }, "at least 1 request in flight"},
	"max-tokens":  {func(v float64) bool { return v >= 1 }, "at least 1"},
	"pairs":       {func(v float64) bool { return v >= 0 }, "0 (all) or more"},
	"stride":      {func(v float64) bool { return v >= 1 }, "at least 1"},
	"delta":       {func(v float64) bool { return v >= 0 }, "0 (single observations) or more steps"},
	"show-wrong":  {func(v float64) bool { return v >= 0 }, "0 or more"},
}

// checkNumbers refuses NaN, infinite and out-of-range numeric flags before any work, naming
// the flag and what it takes.
func checkNumbers(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, perr := strconv.ParseFloat(f.Value.String(), 64)
		if err != nil || perr != nil {
			return
		}
		r, ranged := numberRanges[f.Name]
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			err = fmt.Errorf("--%s %v: want a finite number", f.Name, v)
		case ranged && !r.ok(v):
			err = fmt.Errorf("--%s %v: want %s", f.Name, f.Value, r.want)
		}
	})
	return err
}

// checkOut makes sure --out can be written before any work starts (a folder given as --out
// once failed only after a whole collection): it must not be a folder, and its folder must
// exist or be creatable, and be writable.
func checkOut(cmd, out string) error {
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return fmt.Errorf("%s: --out %s is a folder; give a file path such as %s", cmd, out, filepath.Join(out, cmd+".mtd"))
	}
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: --out %s: cannot make its folder: %w", cmd, out, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("%s: --out %s: its folder is not writable: %w", cmd, out, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// flagSet says whether the command line set the flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// bar prints a one-line progress bar.
func bar(what string, done, total int, start time.Time, extra string) {
	const width = 24
	k := min(width, done*width/max(total, 1))
	el := time.Since(start).Seconds()
	rate := float64(done) / max(el, 1e-9)
	eta := float64(total-done) / max(rate, 1e-9)
	fmt.Fprintf(os.Stderr, "\r%s [%s%s] %d/%d  %.1f/s  ETA %.0fs %s ", what, strings.Repeat("#", k), strings.Repeat(".", width-k), done, total, rate, eta, extra)
}

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
	if err := parse(fs, args, "obs", "out"); err != nil {
		return err
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

// provenance is written beside a labelled dataset (<pairs>.labels.json).
type provenance struct {
	Model       string        `json:"model"`
	URLs        []string      `json:"urls"`
	Template    string        `json:"template"`
	Goal        string        `json:"goal"`
	GoalText    string        `json:"goal_text"`
	Mode        string        `json:"mode"`
	TieMargin   float64       `json:"tie_margin"`
	Summary     motif.Summary `json:"summary"`
	Seconds     float64       `json:"seconds"`
	PairsPerSec float64       `json:"pairs_per_second"`
}

func label(ctx context.Context, args []string) error {
	fs := newFlags("label", "annotate label --pairs data/pairs.mtd --goal default")
	pairsPath := fs.String("pairs", "", "pair dataset from `annotate pairs` (required); labels are written into it")
	out := fs.String("out", "", "write the labelled dataset here instead of into --pairs")
	jf := judgeFlags(fs)
	conc := fs.Int("concurrency", 2, "requests in flight (over all servers)")
	journalPath := fs.String("journal", "", "answer journal for resuming and caching (default: <out>.journal)")
	maxTokens := fs.Int("max-tokens", 512, "longest generative answer")
	skill := fs.String("skill", "", "label for one skill of --spec (MaestroMotif): the judge is told the skill and its preference; write each skill's labels to its own --out and train one reward model per skill")
	specPath := fs.String("spec", "default", "skills spec for --skill (default: MaestroMotif's five skills)")
	allowUnknown := fs.Bool("allow-unknown", false, "write the labels even when most are unknown (the judge gave no usable answer)")
	withStats := fs.Bool("caption-stats", false, "append the bottom line in words to each caption (Motif's option: HP, gold, dungeon level, experience level, turn)")
	if err := parse(fs, args, "pairs"); err != nil {
		return err
	}
	if *out == "" {
		*out = *pairsPath
	}
	if *journalPath == "" {
		*journalPath = *out + ".journal"
	}
	p, err := motif.LoadDataset(*pairsPath, motif.KindPairs)
	if err != nil {
		return err
	}
	caps, err := motif.PairCaptions(p, *withStats)
	if err != nil {
		return err
	}
	transitions, err := motif.IsTransitionPairs(p)
	if err != nil {
		return err
	}
	tp, err := jf.template(transitions) // MaestroMotif's pairs of transitions have their own
	if err != nil {
		return err
	}
	goal, goalText := &jf.goal, jf.goalText()
	if *skill != "" { // MaestroMotif: the skill's preference and a clause against angering the god
		spec, err := skills.LoadSpec(*specPath)
		if err != nil {
			return err
		}
		i, err := spec.Skill(*skill)
		if err != nil {
			return err
		}
		goalText = fmt.Sprintf("%s The player is using the skill %q: %s Seek this preference: %s Never prefer angering the god.",
			goalText, spec.Skills[i].Name, spec.Skills[i].Description, spec.Skills[i].Preference)
		*goal = "skill:" + *skill
	}
	client, stopLLM, err := jf.connect(ctx, *conc, "label")
	if err != nil {
		return err
	}
	defer stopLLM()
	urlList := client.URLs()
	model := client.Model()
	j, err := motif.OpenJournal(*journalPath)
	if err != nil {
		return err
	}
	defer j.Close()
	start := time.Now()
	fmt.Fprintf(os.Stderr, "label: %d pairs, %d answers already in %s\n", len(caps), j.Len(), *journalPath)
	if n := j.Invalid(); n > 0 {
		fmt.Fprintf(os.Stderr, "label: %d lines of %s held impossible answers (a label outside 0..3, a rating off the 1-9 scale); they are dropped and asked again\n", n, *journalPath)
	}
	labels, sum, err := motif.Annotate(ctx, client, j, caps, motif.AnnotateOptions{Template: tp, Goal: goalText, Mode: jf.mode, Concurrency: *conc, MaxTokens: *maxTokens, TieMargin: jf.tieMargin(),
		Progress: func(pr motif.Progress) {
			bar("label", pr.Done, pr.Total, start, fmt.Sprintf(" %.0f tokens/s", float64(pr.Tokens)/time.Since(start).Seconds()))
		}})
	fmt.Fprintln(os.Stderr)
	if cerr := j.Compact(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if unknown := sum.Labels[motif.Unknown]; unknown*2 > len(labels) && !*allowUnknown {
		return fmt.Errorf("label: the judge gave no usable answer on %d of %d pairs (answers kept in %s); labels not written. Check the judge with `annotate eval`, use another --mode or --llm-url, or pass --allow-unknown to write them anyway", unknown, len(labels), *journalPath)
	}
	if err := p.Set("label", tensor.Of(labels)); err != nil {
		return err
	}
	if err := motif.SaveDataset(*out, motif.KindPairs, p); err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	prov := provenance{Model: model, URLs: urlList, Template: tp.Name, Goal: *goal, GoalText: goalText, Mode: jf.mode, TieMargin: jf.tieMargin(), Summary: sum, Seconds: el, PairsPerSec: float64(len(caps)) / el}
	if jf.urls == "" {
		prov.URLs = []string{"embedded llama-server"}
	}
	b, _ := json.MarshalIndent(prov, "", "  ")
	if err := atomicfile.WriteFile(*out+".labels.json", append(b, '\n')); err != nil {
		return err
	}
	fmt.Printf("label: %d pairs in %.1fs (%.2f pairs/s, %d requests sent, %d cached, %d identical captions): first %d, second %d, tie %d, unknown %d; position bias %.2f; %d tokens; %s\n",
		len(caps), el, prov.PairsPerSec, sum.Asked, sum.Cached, sum.Identical, sum.Labels[0], sum.Labels[1], sum.Labels[2], sum.Labels[3], sum.PositionBias, sum.Tokens, *out)
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

func train(args []string) error {
	fs := newFlags("train", "annotate train --pairs data/pairs.mtd --out rm.mtd --epochs 10")
	pairsPath := fs.String("pairs", "", "labelled pair dataset (required)")
	out := fs.String("out", "", "reward model file to write (required)")
	epochs := fs.Int("epochs", 10, "passes over the training pairs")
	batch := fs.Int("batch", 1024, "pairs per step")
	lr := fs.Float64("lr", 1e-5, "Adam learning rate (Motif's 1e-5 suits ~500k pairs; small datasets learn faster with 1e-4 to 1e-3)")
	seed := fs.Uint64("seed", 1, "seed of the split, the initialisation and the shuffling")
	if err := parse(fs, args, "pairs", "out"); err != nil {
		return err
	}
	p, err := motif.LoadDataset(*pairsPath, motif.KindPairs)
	if err != nil {
		return err
	}
	start := time.Now()
	rm, res, err := motif.TrainRewardModel(p, motif.TrainOptions{Epochs: *epochs, Batch: *batch, LR: *lr, Seed: *seed,
		Progress: func(e int, r motif.TrainResult) {
			fmt.Fprintf(os.Stderr, "epoch %d/%d: train loss %.4f acc %.3f | held-out loss %.4f acc %.3f (%.0fs)\n", e, *epochs, r.TrainLoss, r.TrainAcc, r.ValLoss, r.ValAcc, time.Since(start).Seconds())
		}})
	if err != nil {
		return err
	}
	info := map[string]any{"pairs": *pairsPath, "train_pairs": res.Train, "held_out_pairs": res.Val, "unknown_dropped": res.Dropped,
		"held_out_accuracy": res.ValAcc, "train_accuracy": res.TrainAcc, "epochs": *epochs, "batch": *batch, "lr": *lr, "seed": *seed}
	if b, err := os.ReadFile(*pairsPath + ".labels.json"); err == nil {
		var prov any
		if json.Unmarshal(b, &prov) == nil {
			info["labels"] = prov
		}
	}
	ib, _ := json.MarshalIndent(info, "", "  ")
	rm.Info = string(ib)
	if err := rm.Save(*out); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*out+".json", append(ib, '\n')); err != nil {
		return err
	}
	eps, _ := rm.Quantile(0.5)
	fmt.Printf("train: reward model in %s (%d train / %d held-out pairs, held-out accuracy %.3f, median normalised reward %.3f); provenance in %s.json\n", *out, res.Train, res.Val, res.ValAcc, eps, *out)
	return nil
}

// loadRewardModel reads a --reward-model flag: "default" is the shipped model, else a file.
func loadRewardModel(path string) (*motif.RewardModel, error) {
	if path == "default" {
		return motif.DefaultRewardModel()
	}
	return motif.LoadRewardModel(path)
}
