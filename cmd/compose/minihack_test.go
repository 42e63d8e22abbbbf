package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/recipe"
)

// miniHackRun writes a run folder as train leaves it (ckpt/train.json, params.mtd) for a PPO
// agent on env with fresh weights.
func miniHackRun(t *testing.T, env string) string {
	t.Helper()
	dir := t.TempDir()
	s, err := recipe.Build(recipe.Options{Algo: "ppo", Env: env, NumEnvs: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Env.Close()
	if err := os.MkdirAll(filepath.Join(dir, "ckpt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveParams(filepath.Join(dir, "params.mtd"), s.Learner.Params()); err != nil {
		t.Fatal(err)
	}
	st := `{"config": {"algo": "ppo", "env": "` + env + `"}}`
	if err := os.WriteFile(filepath.Join(dir, "ckpt", "train.json"), []byte(st), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestComposeMiniHack: a MiniHack run is played zero-shot on another navigation task and the
// report counts the episodes and successes (NLE's end status); a task with other actions, a
// missing run and a NetHack task's run are refused with what to do.
func TestComposeMiniHack(t *testing.T) {
	run5 := miniHackRun(t, "MiniHack-Room-5x5-v0")
	out := t.TempDir()
	if err := run(context.Background(), []string{"--task", "MiniHack-Room-Random-5x5-v0", "--skills", run5, "--episodes", "12", "--envs", "2", "--out", out}); err != nil {
		t.Fatal(err)
	}
	var r miniHackReport
	b, err := os.ReadFile(filepath.Join(out, "compose.json"))
	if err != nil || json.Unmarshal(b, &r) != nil {
		t.Fatalf("compose.json: %v %s", err, b)
	}
	if r.Episodes != 12 || len(r.Returns) != 12 || r.Successes < 0 || r.Successes > 12 || r.TrainedOn != "MiniHack-Room-5x5-v0" ||
		r.Interval[0] > r.Rate || r.Interval[1] < r.Rate {
		t.Errorf("report %+v", r)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--task", "MiniHack-Eat-v0", "--skills", run5}, "same action set"},
		{[]string{"--task", "MiniHack-Room-15x15-v0"}, "--skills RUN-DIR"},
		{[]string{"--task", "MiniHack-Room-15x15-v0", "--skills", run5, "--code", "skills/code"}, "without --code"},
	} {
		err := run(context.Background(), append(c.args, "--out", t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("compose %v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
