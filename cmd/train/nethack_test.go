package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/skills"
)

// TestNetHackRunAndResume trains the recurrent agent on NetHackScore for a few batches, stops
// halfway with a checkpoint and resumes: NetHack cannot save a game, so the resumed run starts
// new episodes but keeps the frame count, the weights and the optimizer. APPO collects while
// it learns (--overlap) or alternates, and a run checkpointed one way resumes the other.
func TestNetHackRunAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("about 6 s on 2 cores; make test (no -short) runs it")
	}
	for _, ov := range [][2]bool{{false, false}, {true, true}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("overlap=%v,resumed=%v", ov[0], ov[1]), func(t *testing.T) { testNetHackRunAndResume(t, ov[0], ov[1]) })
	}
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
	if len(rows) != 3 || !slices.Contains(rows[0], "mean_intrinsic_return_last20") {
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

// TestNetHackEvalRecordsBestAndWorst evaluates a (barely trained) NetHack run: the best and
// worst of its episodes are kept as ttyrecs that decode, the rest are removed.
func TestNetHackEvalRecordsBestAndWorst(t *testing.T) {
	if testing.Short() {
		t.Skip("about 9 s on 2 cores; make test (no -short) runs it")
	}
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
