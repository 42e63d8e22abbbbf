package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/skills"
)

func base(dir string) config {
	return config{Algo: "ppo", Env: "CartPole", NumEnvs: 2, Frames: 64, TotalFrames: 2048, Seed: 1, LR: 1e-3, runDir: dir, checkpointEvery: 3}
}

func TestTrainWritesLogAndWeights(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := base(dir)
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "log.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 1+2048/128 {
		t.Fatalf("log has %d rows (%v), want a header and 16 batches", len(rows), err)
	}
	for _, name := range []string{"params.mtd", "curve.png", "ckpt/train.json"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	// The newest 3 generations of checkpoint files remain, train.json naming the
	// newest.
	var st state
	b, _ := os.ReadFile(filepath.Join(dir, "ckpt", "train.json"))
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	var want []string
	for g := st.Generation - 3 + 1; g <= st.Generation; g++ { // Store's default Keep of 3
		for _, f := range ckptStore(dir).Files(g) {
			want = append(want, filepath.Join(dir, "ckpt", f))
		}
	}
	bins, _ := filepath.Glob(filepath.Join(dir, "ckpt", "*.bin"))
	slices.Sort(bins)
	slices.Sort(want)
	if !slices.Equal(bins, want) {
		t.Errorf("checkpoint files %v; want %v (the newest is generation %d)", bins, want, st.Generation)
	}
	if ev, _ := filepath.Glob(filepath.Join(dir, "tensorboard", "events.out.tfevents.*")); len(ev) != 1 {
		t.Errorf("%d TensorBoard event files, want 1", len(ev))
	} else {
		b, _ := os.ReadFile(ev[0]) // tags are stored as plain bytes in the records
		for _, tag := range []string{"train/mean_return_last20", "loss/loss", "perf/collect_wait_seconds", "perf/update_seconds"} {
			if !bytes.Contains(b, []byte(tag)) {
				t.Errorf("the TensorBoard events have no %s", tag)
			}
		}
	}
	if err := run(c, nil); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("a second run into the same folder: %v, want a refusal naming --force", err)
	}
	for _, bad := range []config{
		{Algo: "dqn", Env: "CartPole", runDir: filepath.Join(t.TempDir(), "x"), NumEnvs: 1, Frames: 8, TotalFrames: 8, LR: 1e-3},
		{Algo: "ppo", Env: "Pong", NumEnvs: 1, Frames: 8, TotalFrames: 8},
		{Algo: "ppo", Env: "CartPole", NumEnvs: 0, Frames: 8, TotalFrames: 8},
		{Algo: "ppo", Env: "CartPole", runDir: filepath.Join(t.TempDir(), "y"), NumEnvs: 1, Frames: 4, TotalFrames: 8, LR: 1e-3}, // 4 minibatches of 1
	} {
		if err := run(bad, nil); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("algo: a2c\nnum_envs: 3\nlr: 0.002\ntotal_frames: 1e6\n"), 0o644)
	newFlags := func() (*flag.FlagSet, *config) {
		var c config
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		fs.StringVar(&c.Algo, "algo", "ppo", "")
		fs.IntVar(&c.NumEnvs, "num-envs", 4, "")
		fs.Float64Var(&c.LR, "lr", 1e-3, "")
		fs.IntVar(&c.TotalFrames, "total-frames", 1, "")
		fs.String("config", "", "")
		return fs, &c
	}
	fs, c := newFlags()
	fs.Parse([]string{"--num-envs", "5"})
	if err := applyConfigFile(fs, good); err != nil {
		t.Fatal(err)
	}
	if c.Algo != "a2c" || c.NumEnvs != 5 || c.LR != 0.002 || c.TotalFrames != 1_000_000 {
		t.Errorf("config file + flags gave %+v; want algo a2c from the file, num-envs 5 from the flag, lr 0.002, total-frames 1e6", *c)
	}
	out := filepath.Join(dir, "resolved.yaml")
	if err := writeResolved(fs, out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "num-envs: \"5\"") && !strings.Contains(string(b), "num-envs: 5") {
		t.Errorf("resolved config lacks num-envs 5:\n%s", b)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("num_env: 3\n"), 0o644)
	fs, _ = newFlags()
	fs.Parse(nil)
	err := applyConfigFile(fs, bad)
	if err == nil || !strings.Contains(err.Error(), `"num_env"`) || !strings.Contains(err.Error(), `"num-envs"`) {
		t.Errorf("unknown key: %v; want it named with the nearest flag", err)
	}
}

func testNetHackRunAndResume(t *testing.T, overlap, resumeOverlap bool) {
	dir := filepath.Join(t.TempDir(), "nh")
	c := config{Algo: "appo", Env: "score", NumEnvs: 2, Frames: 16, TotalFrames: 128, Seed: 4, runDir: dir, checkpointEvery: 1, stopAfter: 64, overlap: overlap}
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	var st state
	b, err := os.ReadFile(filepath.Join(dir, "ckpt", "train.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Frames != 64 || st.Config.Env != "NetHackScore" || st.Config.LR != 1e-4 {
		t.Errorf("checkpoint at %d frames of %s with lr %g; want 64 frames of NetHackScore, lr 1e-4 (Motif's default)", st.Frames, st.Config.Env, st.Config.LR)
	}
	c.Env, c.resume, c.stopAfter, c.overlap = "NetHackScore", true, 0, resumeOverlap
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	rows := readLog(t, filepath.Join(dir, "log.csv"))
	if len(rows) != 1+128/32 || rows[len(rows)-1][0] != "128" {
		t.Errorf("log.csv after the resume: %v; want a header and 4 rows ending at 128 frames", rows)
	}
	if _, err := os.Stat(filepath.Join(dir, "params.mtd")); err != nil {
		t.Error(err)
	}
}

func readLog(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestEval plays a trained CartPole run: its returns beat the same network freshly
// initialised by far, and without params.mtd the last checkpoint's weights give the same
// episodes.
func TestEval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := base(dir)
	c.TotalFrames = 24576
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	trained, err := evaluate(dir, 10, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "eval.json")); err != nil {
		t.Error(err)
	}
	os.Remove(filepath.Join(dir, "params.mtd"))
	fromCkpt, err := evaluate(dir, 10, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fromCkpt.Returns, trained.Returns) || !strings.Contains(fromCkpt.Weights, "ckpt") {
		t.Errorf("checkpoint weights (%s) gave %v, params.mtd gave %v", fromCkpt.Weights, fromCkpt.Returns, trained.Returns)
	}
	// A params.mtd with a NaN weight (the hostile run's 284.8 -> 9.2) falls back likewise.
	cc0 := c
	parseEnv(&cc0)
	env0, nan, err := build(cc0)
	if err != nil {
		t.Fatal(err)
	}
	env0.Close()
	nan.Params()[0].Data[0] = float32(math.NaN())
	if err := nn.SaveParams(filepath.Join(dir, "params.mtd"), nan.Params()); err != nil {
		t.Fatal(err)
	}
	fromNaN, err := evaluate(dir, 10, 7)
	if err != nil || !slices.Equal(fromNaN.Returns, trained.Returns) || !strings.Contains(fromNaN.Weights, "ckpt") {
		t.Errorf("params.mtd with a NaN weight: %v, weights %s, returns %v; want the checkpoint's %v", err, fromNaN.Weights, fromNaN.Returns, trained.Returns)
	}
	untrained := evaluateUntrained(t, c, 10, 7)
	t.Logf("mean return: trained %.1f, untrained %.1f", trained.Mean, untrained.Mean)
	if trained.Mean < 2*untrained.Mean {
		t.Errorf("trained policy's mean return %.1f is not twice the untrained one's %.1f", trained.Mean, untrained.Mean)
	}
	if _, err := evaluate(t.TempDir(), 3, 1); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("eval of an empty folder: %v", err)
	}
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		os.WriteFile(filepath.Join(dir, name, "log.csv"), []byte("frames,seconds,mean_return_last20\n100,1,2\n200,2,3.5\n"), 0o644)
	}
	out := filepath.Join(dir, "cmp.png")
	if err := plotMain([]string{"--out", out, filepath.Join(dir, "a"), filepath.Join(dir, "b")}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("no PNG written: %v", err)
	}
	c, err := readCurve(filepath.Join(dir, "a", "log.csv"), "mean_return_last20")
	if err != nil || !slices.Equal(c.Values, []float64{2, 3.5}) || !slices.Equal(c.Frames, []float64{100, 200}) {
		t.Errorf("curve %+v, %v", c, err)
	}
	if err := plotMain([]string{"--out", out, "--column", "nope", filepath.Join(dir, "a")}); err == nil || !strings.Contains(err.Error(), "no column") {
		t.Errorf("unknown column: %v", err)
	}
}

// skillRewardModels writes an untrained diffstats reward model per skill of the default spec
// into a folder (what annotate train writes; the shipped models are tested elsewhere).
func skillRewardModels(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	spec, _ := skills.DefaultSpec()
	for i, sk := range spec.Skills {
		net, err := nethackagent.NewRewardNetDiff(rand.New(rand.NewPCG(uint64(i), 9)))
		if err != nil {
			t.Fatal(err)
		}
		q := make([]float64, len(motif.Quantiles))
		for j := range q {
			q[j] = -1 + 2*motif.Quantiles[j]
		}
		m := &motif.RewardModel{Net: net, Mean: 0, Std: 1, Quant: q, Delta: 100}
		if err := m.Save(filepath.Join(dir, sk.Name+".mtd")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// evaluateUntrained replaces the weights of c's run with a fresh network of its architecture
// and evaluates those on episodes games from seed.
func evaluateUntrained(t *testing.T, c config, episodes int, seed uint64) evalResult {
	t.Helper()
	cc := c
	parseEnv(&cc)
	env, fresh, err := build(cc)
	if err != nil {
		t.Fatal(err)
	}
	env.Close()
	if err := nn.SaveParams(filepath.Join(c.runDir, "params.mtd"), fresh.Params()); err != nil {
		t.Fatal(err)
	}
	r, err := evaluate(c.runDir, episodes, seed)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
