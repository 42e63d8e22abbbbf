package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/skills"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
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

// TestResumeIsBitExact stops a run halfway, resumes it, and requires the same final weights as
// a run that never stopped.
func TestResumeIsBitExact(t *testing.T) {
	straight := filepath.Join(t.TempDir(), "straight")
	if err := run(base(straight), nil); err != nil {
		t.Fatal(err)
	}
	split := filepath.Join(t.TempDir(), "split")
	c := base(split)
	c.stopAfter = 1024
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	// A crash after log rows reached disk but before the next checkpoint: keep the checkpoint
	// at 1024 frames aside, train two more batches, put the old checkpoint back. Resuming must
	// drop the two rows it will train again, and still end bit-exact.
	kept := filepath.Join(t.TempDir(), "ckpt")
	if err := os.CopyFS(kept, os.DirFS(filepath.Join(split, "ckpt"))); err != nil {
		t.Fatal(err)
	}
	c.resume = true
	c.stopAfter = 1280
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(split, "ckpt"))
	if err := os.CopyFS(filepath.Join(split, "ckpt"), os.DirFS(kept)); err != nil {
		t.Fatal(err)
	}
	c.stopAfter = 0
	c.Env = "cartpole" // the name is case-insensitive, and so is resuming
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(split, "log.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 1+2048/128 {
		t.Fatalf("resumed log has %d rows (%v), want a header and 16 batches", len(rows), err)
	}
	for i := 1; i < len(rows); i++ {
		if n, _ := strconv.Atoi(rows[i][0]); n != 128*i {
			t.Errorf("log row %d is at %s frames, want %d", i, rows[i][0], 128*i)
		}
	}
	a, _ := os.ReadFile(filepath.Join(straight, "params.mtd"))
	b, _ := os.ReadFile(filepath.Join(split, "params.mtd"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the resumed run's weights differ from the uninterrupted run's")
	}
	c.Seed = 2
	if err := run(c, nil); err == nil || !strings.Contains(err.Error(), "trained with") {
		t.Errorf("resuming with other flags: %v, want a refusal", err)
	}
	c = base(filepath.Join(t.TempDir(), "none"))
	c.resume = true
	if err := run(c, nil); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("resuming a run that does not exist: %v", err)
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

// TestNetHackRunAndResume trains the recurrent agent on NetHackScore for a few batches, stops
// halfway with a checkpoint and resumes: NetHack cannot save a game, so the resumed run starts
// new episodes but keeps the frame count, the weights and the optimizer. APPO collects while
// it learns (--overlap) or alternates, and a run checkpointed one way resumes the other.
func TestNetHackRunAndResume(t *testing.T) {
	for _, ov := range [][2]bool{{false, false}, {true, true}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("overlap=%v,resumed=%v", ov[0], ov[1]), func(t *testing.T) { testNetHackRunAndResume(t, ov[0], ov[1]) })
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

// TestMotifReward trains with Motif's intrinsic reward from the shipped reward model, and
// refuses it where it cannot apply.
func TestMotifReward(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "motif")
	c := config{Algo: "appo", Env: "NetHackScore", NumEnvs: 2, Frames: 16, TotalFrames: 64, Seed: 2, runDir: dir, Reward: "motif", Motif: motif.DefaultIntrinsic()}
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	rows := readLog(t, filepath.Join(dir, "log.csv"))
	if len(rows) != 3 || rows[0][len(rows[0])-1] != "mean_intrinsic_return_last20" {
		t.Errorf("log %v", rows)
	}
	for _, bad := range []config{
		{Algo: "ppo", Env: "CartPole", NumEnvs: 1, Frames: 8, TotalFrames: 8, Reward: "motif", runDir: filepath.Join(t.TempDir(), "a")},
		{Algo: "ppo", Env: "score", NumEnvs: 1, Frames: 8, TotalFrames: 8, Reward: "curiosity", runDir: filepath.Join(t.TempDir(), "b")},
		{Algo: "ppo", Env: "score", NumEnvs: 1, Frames: 8, TotalFrames: 8, Reward: "motif", RewardModel: filepath.Join(t.TempDir(), "none.mtd"), Motif: motif.DefaultIntrinsic(), runDir: filepath.Join(t.TempDir(), "c")},
		{Algo: "ppo", Env: "score", NumEnvs: 1, Frames: 8, TotalFrames: 8, Reward: "motif", Motif: motif.IntrinsicOptions{Threshold: 0.33}, runDir: filepath.Join(t.TempDir(), "d")},
	} {
		if err := run(bad, nil); err == nil {
			t.Errorf("config %+v accepted", bad)
		} else {
			t.Log(err)
		}
	}
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
	task0, hack0, _ := parseEnv(&cc0)
	env0, nan, err := build(cc0, task0, hack0)
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
	cc := c
	task, hack, _ := parseEnv(&cc)
	env, fresh, err := build(cc, task, hack)
	if err != nil {
		t.Fatal(err)
	}
	env.Close()
	if err := nn.SaveParams(filepath.Join(dir, "params.mtd"), fresh.Params()); err != nil {
		t.Fatal(err)
	}
	untrained, err := evaluate(dir, 10, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mean return: trained %.1f, untrained %.1f", trained.Mean, untrained.Mean)
	if trained.Mean < 2*untrained.Mean {
		t.Errorf("trained policy's mean return %.1f is not twice the untrained one's %.1f", trained.Mean, untrained.Mean)
	}
	if _, err := evaluate(t.TempDir(), 3, 1); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("eval of an empty folder: %v", err)
	}
}

// TestDamagedCheckpoint truncates the newest checkpoint's learner file: --resume notices by
// checksum, falls back to the generation before, and the resumed run still ends bit-exactly
// where an uninterrupted one does.
func TestDamagedCheckpoint(t *testing.T) {
	straight := filepath.Join(t.TempDir(), "straight")
	if err := run(base(straight), nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "damaged")
	c := base(dir)
	c.stopAfter = 1600 // checkpoints every 3 batches of 128 (at 1536 the 4th) and at the stop (1664)
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	var st state
	b, _ := os.ReadFile(filepath.Join(dir, "ckpt", "train.json"))
	json.Unmarshal(b, &st)
	ln := ckptStore(dir).Files(st.Generation)[0]
	lb, _ := os.ReadFile(filepath.Join(dir, "ckpt", ln))
	os.WriteFile(filepath.Join(dir, "ckpt", ln), lb[:len(lb)/2], 0o644)
	var got state
	if _, _, err := ckptStore(dir).Latest(&got); err != nil {
		t.Fatal(err)
	}
	if got.Generation != st.Generation-1 || got.Frames >= st.Frames {
		t.Fatalf("fell back to generation %d at %d frames; want generation %d before %d frames", got.Generation, got.Frames, st.Generation-1, st.Frames)
	}
	c.stopAfter, c.resume = 0, true
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(straight, "params.mtd"))
	r, _ := os.ReadFile(filepath.Join(dir, "params.mtd"))
	if !bytes.Equal(a, r) {
		t.Error("the run resumed from the fallback generation ends with other weights than the uninterrupted run")
	}
	// With every generation damaged, --resume refuses and says so.
	for g := st.Generation - 3 + 1; g <= st.Generation+10; g++ {
		ln := ckptStore(dir).Files(g)[0]
		if _, err := os.Stat(filepath.Join(dir, "ckpt", ln)); err == nil {
			os.WriteFile(filepath.Join(dir, "ckpt", ln), []byte("x"), 0o644)
		}
	}
	b, _ = os.ReadFile(filepath.Join(dir, "ckpt", "train.json"))
	json.Unmarshal(b, &st)
	if _, _, err := ckptStore(dir).Latest(&st); err == nil || !strings.Contains(err.Error(), "no sound checkpoint") {
		t.Errorf("all generations damaged: %v", err)
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

// TestNetHackEvalRecordsBestAndWorst evaluates a (barely trained) NetHack run: the best and
// worst of its episodes are kept as ttyrecs that decode, the rest are removed.
func TestNetHackEvalRecordsBestAndWorst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nh")
	c := config{Algo: "appo", Env: "NetHackScore", NumEnvs: 2, Frames: 16, TotalFrames: 32, Seed: 3, runDir: dir}
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	r, err := evaluate(dir, 3, 9)
	if err != nil {
		t.Fatal(err)
	}
	if r.Best == "" || r.Worst == "" {
		t.Fatalf("no ttyrecs kept: %+v", r)
	}
	for _, rel := range []string{r.Best, r.Worst} {
		f, err := os.Open(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := nethack.ReadTTYRec(f) // it decompresses
		f.Close()
		if err != nil || len(recs) < 10 {
			t.Errorf("%s: %d records, %v", rel, len(recs), err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "eval", "*")); len(left) != 2 {
		t.Errorf("eval folder holds %v; want only the best and worst ttyrecs", left)
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

// TestSkillsRunAndResume trains the skill-conditioned agent (MaestroMotif's five skills, the
// reference skill code, a reward model per skill), stops, resumes, and checks the per-skill
// log and the weights' shape; then the inputs it refuses. It collects while it learns, as
// train's APPO does by default: the per-skill log reads the controllers while a worker steps
// them (go test -race ./cmd/train/ checks that they are read safely).
func TestSkillsRunAndResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "skills")
	rewards := skillRewardModels(t)
	c := config{Algo: "appo", Env: "score", NumEnvs: 2, Frames: 16, TotalFrames: 96, Seed: 3, runDir: dir, checkpointEvery: 1, stopAfter: 32, overlap: true,
		Skills: "default", SkillCode: "default", SkillRewards: rewards, Motif: motif.IntrinsicOptions{A1: 0.1, Beta: 3, LRU: 20}}
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	c.resume, c.stopAfter = true, 0
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	rows := readLog(t, filepath.Join(dir, "skills.csv"))
	if len(rows) != 1+3*5 || rows[0][1] != "skill" || rows[1][0] != "32" || rows[len(rows)-1][0] != "96" || rows[len(rows)-1][1] != "merchant" {
		t.Errorf("skills.csv after the resume: %v; want a header and 5 skills x 3 batches (32, 64, 96 frames)", rows)
	}
	agent, _ := nethackagent.NewSkillAgent(len(skills.ActionSets["maestromotif"]()), 5, rand.New(rand.NewPCG(1, 1)))
	if err := nn.LoadParams(filepath.Join(dir, "params.mtd"), agent.Params()); err != nil {
		t.Errorf("the weights do not fit a 28-action agent with 5 skills: %v", err)
	}
	plain, _ := nethackagent.NewAgent(28, rand.New(rand.NewPCG(1, 1)))
	if err := nn.LoadParams(filepath.Join(dir, "params.mtd"), plain.Params()); err == nil {
		t.Error("the weights of a skill run load into an agent without skills")
	}
	badCode := t.TempDir()
	os.WriteFile(filepath.Join(badCode, "policy.star"), []byte("def select_skill(obs, state)\n    return 1\n"), 0o644)
	for _, bad := range []struct {
		c    config
		want string
	}{
		{config{Algo: "ppo", Env: "CartPole", NumEnvs: 1, Frames: 8, TotalFrames: 8, Skills: "default", SkillCode: "default", SkillRewards: rewards}, "NetHack"},
		{config{Algo: "ppo", Env: "score", NumEnvs: 1, Frames: 8, TotalFrames: 8, Skills: "default", SkillCode: "default", SkillRewards: t.TempDir()}, "no reward model for skill \"discoverer\""},
		{config{Algo: "ppo", Env: "score", NumEnvs: 1, Frames: 8, TotalFrames: 8, Skills: "default", SkillCode: badCode, SkillRewards: rewards, Motif: motif.IntrinsicOptions{Beta: 3}}, "policy.star"},
		{config{Algo: "ppo", Env: "score", NumEnvs: 1, Frames: 8, TotalFrames: 8, Skills: filepath.Join(badCode, "none.yaml"), SkillCode: "default", SkillRewards: rewards}, "--skills"},
	} {
		bad.c.runDir = filepath.Join(t.TempDir(), "r")
		if err := run(bad.c, nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("config %+v: error %v, want one mentioning %q", bad.c, err, bad.want)
		}
	}
}

// TestSkillEnvsLetTheAgentAnswer: the skills' envs leave questions to the agent (which item to
// drop, to quaff, to sell), where NLE's tasks would cancel them.
func TestSkillEnvsLetTheAgentAnswer(t *testing.T) {
	c := config{Algo: "appo", Env: "score", NumEnvs: 1, Frames: 8, TotalFrames: 8, Seed: 1, Skills: "default", SkillCode: "default"}
	task, hack, err := parseEnv(&c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildRecording(c, task, hack, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Env.Close()
	drop := slices.Index(skills.ActionSets["maestromotif"](), 'd')
	td, err := b.Env.Reset()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := td.Get("action")
	if a == nil {
		td.Set("action", tensor.Zeros(tensor.Int64, 1))
		a, _ = td.Get("action")
	}
	a.SetAt(0, float64(drop))
	stepped, err := b.Env.Step(td)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := tensordict.GetAs[uint8](stepped, "next/message")
	if !strings.Contains(string(msg), "What do you want to drop?") {
		t.Errorf("after 'd' the message is %q; want the question left open", strings.TrimRight(string(msg), "\x00"))
	}
}

// TestResumeSurvivesTornFiles replays the hostile run's kill -9 leftovers on a stopped run: a
// torn last row in log.csv, a train.json cut in half, stray .X.tmp-* files. --resume drops the
// torn row, resumes from the newest state-N.json, removes the temporaries, and ends with the
// uninterrupted run's weights.
func TestResumeSurvivesTornFiles(t *testing.T) {
	straight := filepath.Join(t.TempDir(), "straight")
	if err := run(base(straight), nil); err != nil {
		t.Fatal(err)
	}
	for _, damage := range []string{"torn log row", "train.json cut in half", "train.json empty"} {
		t.Run(damage, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			c := base(dir)
			c.stopAfter = 1024
			if err := run(c, nil); err != nil {
				t.Fatal(err)
			}
			ck := filepath.Join(dir, "ckpt", "train.json")
			b, _ := os.ReadFile(ck)
			switch damage {
			case "torn log row":
				f, _ := os.OpenFile(filepath.Join(dir, "log.csv"), os.O_APPEND|os.O_WRONLY, 0)
				f.WriteString("1152,3.2,17,24.")
				f.Close()
			case "train.json cut in half":
				os.WriteFile(ck, b[:len(b)/2], 0o644)
			case "train.json empty":
				os.WriteFile(ck, nil, 0o644)
			}
			for _, p := range []string{filepath.Join(dir, ".params.mtd.tmp-123"), filepath.Join(dir, "ckpt", ".train.json.tmp-9")} {
				os.WriteFile(p, []byte("partial"), 0o644)
			}
			c.resume, c.stopAfter = true, 0
			if err := run(c, nil); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(filepath.Join(straight, "params.mtd"))
			r, _ := os.ReadFile(filepath.Join(dir, "params.mtd"))
			if !bytes.Equal(a, r) {
				t.Error("the resumed run's weights differ from the uninterrupted run's")
			}
			rows, err := csv.NewReader(bytes.NewReader(must(os.ReadFile(filepath.Join(dir, "log.csv"))))).ReadAll()
			if err != nil || len(rows) != 1+2048/128 {
				t.Errorf("log.csv after resuming: %d rows, %v; want a header and 16 batches", len(rows), err)
			}
			for _, p := range []string{filepath.Join(dir, ".params.mtd.tmp-123"), filepath.Join(dir, "ckpt", ".train.json.tmp-9")} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s survived the resume", p)
				}
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestForceRemovesOnlyRunFolders: --force replaces a run folder, but a folder that is not one
// (a home folder with files) and a file are refused and left as they were.
func TestForceRemovesOnlyRunFolders(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "thesis.tex"), []byte("years of work"), 0o644)
	c := base(home)
	c.force = true
	if err := run(c, nil); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("--force on a folder of other files: %v; want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(home, "thesis.tex")); err != nil {
		t.Fatalf("--force deleted a folder that was not a run: %v", err)
	}
	file := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	c = base(file)
	c.force = true
	if err := run(c, nil); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("--force on a file: %v; want a refusal", err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	c = base(dir)
	c.TotalFrames = 256
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	c.force = true
	if err := run(c, nil); err != nil {
		t.Errorf("--force over a run folder: %v", err)
	}
}

// TestBadNumbersAreRefused: NaN and out-of-range numeric flags fail before training, naming
// the flag, instead of training on nonsense or failing at the first checkpoint.
func TestBadNumbersAreRefused(t *testing.T) {
	for _, c := range []struct {
		flag string
		set  func(*config)
	}{
		{"--lr", func(c *config) { c.LR = math.NaN() }},
		{"--lr", func(c *config) { c.LR = -1e-3 }},
		{"--motif-beta", func(c *config) { c.Motif.Beta = math.Inf(1) }},
		{"--motif-threshold", func(c *config) { c.Motif.Threshold = 1.5 }},
		{"--eval-every", func(c *config) { c.evalEvery, c.evalEpisodes = 512, 0 }},
	} {
		cfg := base(filepath.Join(t.TempDir(), "run"))
		c.set(&cfg)
		err := run(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s: %v; want an error naming %s", c.flag, err, c.flag)
		}
		if _, serr := os.Stat(cfg.runDir); serr == nil {
			t.Errorf("%s: a refused run made its folder", c.flag)
		}
	}
}

// TestResumeNamesTheFlagsThatDiffer: resuming with other flags names each one with both values.
func TestResumeNamesTheFlagsThatDiffer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := base(dir)
	c.stopAfter = 256
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	c.resume, c.Seed, c.LR = true, 7, 3e-4
	err := run(c, nil)
	if err == nil || !strings.Contains(err.Error(), "--seed was 1, now 7") || !strings.Contains(err.Error(), "--lr was 0.001, now 0.0003") || len(err.Error()) > 300 {
		t.Errorf("resuming with --seed 7 --lr 3e-4: %v; want both flags named with both values, briefly", err)
	}
}
