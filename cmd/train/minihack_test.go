package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestMiniHackRoom5x5Learns is a short version of docs/minihack.md's Room-5x5 run: PPO with
// the defaults on MiniHack-Room-5x5-v0 (8 envs, rollouts of 32) for 16,384 frames reaches an
// evaluation success rate of at least 0.95 on 40 episodes of other seeds, where the untrained
// network (the same run's architecture, fresh weights) succeeds in at most 0.85 (a random
// policy: 0.65); the success rate is logged.
func TestMiniHackRoom5x5Learns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := config{Algo: "ppo", Env: "MiniHack-Room-5x5-v0", NumEnvs: 8, Frames: 32, TotalFrames: 16384, Seed: 1, runDir: dir, checkpointEvery: 20}
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	trained, err := evaluate(dir, 40, 7)
	if err != nil {
		t.Fatal(err)
	}
	untrained := evaluateUntrained(t, c, 40, 7)
	if trained.SuccessRate == nil || untrained.SuccessRate == nil {
		t.Fatalf("MiniHack evaluation without a success rate: %+v", trained)
	}
	t.Logf("success rate: trained %.3f, untrained %.3f", *trained.SuccessRate, *untrained.SuccessRate)
	if *trained.SuccessRate < 0.95 || *untrained.SuccessRate > 0.85 {
		t.Errorf("success rate after 16,384 frames %.3f (want >= 0.95), untrained %.3f (want <= 0.85)", *trained.SuccessRate, *untrained.SuccessRate)
	}
	rows := readLog(t, filepath.Join(dir, "log.csv"))
	col := slices.Index(rows[0], "success_last20")
	if col < 0 {
		t.Fatalf("log.csv columns %v: no success_last20", rows[0])
	}
	if last, err := strconv.ParseFloat(rows[len(rows)-1][col], 64); err != nil || last < 0.9 {
		t.Errorf("log.csv's last success_last20 %q (%v), want >= 0.9", rows[len(rows)-1][col], err)
	}
}

// TestMiniHackAPPO: APPO on a MiniHack task runs with overlapped collection (its actors clone
// the MiniHack agent) and resumes from its checkpoint.
func TestMiniHackAPPO(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := config{Algo: "appo", Env: "MiniHack-Corridor-R2-v0", NumEnvs: 4, Frames: 32, TotalFrames: 2048, Seed: 2, runDir: dir, checkpointEvery: 2, overlap: true, stopAfter: 1024}
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	c.stopAfter, c.resume = 0, true
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "params.mtd")); err != nil {
		t.Error(err)
	}
}

// TestTargetSuccess: --target-success stops a MiniHack run at the first evaluation that reaches
// it (well before --total-frames on Room-5x5), saving the weights; it is refused without
// evaluations, outside MiniHack and out of (0, 1].
func TestTargetSuccess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := config{Algo: "ppo", Env: "MiniHack-Room-5x5-v0", NumEnvs: 8, Frames: 32, TotalFrames: 65536, Seed: 1, runDir: dir,
		checkpointEvery: 20, evalEvery: 1024, evalEpisodes: 20, targetSuccess: 0.95}
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "params.mtd")); err != nil {
		t.Error(err)
	}
	if rows := readLog(t, filepath.Join(dir, "log.csv")); len(rows) > 1+65536/256/2 {
		t.Errorf("log.csv has %d rows: the run did not stop at the target (256 batches make the whole run)", len(rows))
	}
	for _, bad := range []config{
		{Algo: "ppo", Env: "MiniHack-Room-5x5-v0", NumEnvs: 1, Frames: 8, TotalFrames: 8, targetSuccess: 0.9, runDir: filepath.Join(t.TempDir(), "a")},
		{Algo: "ppo", Env: "CartPole", NumEnvs: 1, Frames: 8, TotalFrames: 8, targetSuccess: 0.9, evalEvery: 8, evalEpisodes: 1, runDir: filepath.Join(t.TempDir(), "b")},
		{Algo: "ppo", Env: "MiniHack-Room-5x5-v0", NumEnvs: 1, Frames: 8, TotalFrames: 8, targetSuccess: 1.5, evalEvery: 8, evalEpisodes: 1, runDir: filepath.Join(t.TempDir(), "c")},
	} {
		if err := run(bad, nil); err == nil || !strings.Contains(err.Error(), "--target-success") {
			t.Errorf("%+v: %v, want an error naming --target-success", bad, err)
		}
	}
}

// TestTargetReturn: --target-return stops a run at the first evaluation whose mean return
// reaches it (CartPole PPO, well before --total-frames), saving the weights and printing the
// frames; it is refused without evaluations, when not finite, and beside --target-success.
func TestTargetReturn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := config{Algo: "ppo", Env: "CartPole", NumEnvs: 4, Frames: 128, TotalFrames: 400_000, Seed: 1, runDir: dir,
		checkpointEvery: 20, evalEvery: 4096, evalEpisodes: 10, targetReturn: 150}
	if err := run(c, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "params.mtd")); err != nil {
		t.Error(err)
	}
	if rows := readLog(t, filepath.Join(dir, "log.csv")); len(rows) > 1+400_000/512/2 {
		t.Errorf("log.csv has %d rows: the run did not stop at the target (%d batches make the whole run)", len(rows), 400_000/512)
	}
	for _, bad := range []config{
		{Algo: "ppo", Env: "CartPole", NumEnvs: 1, Frames: 8, TotalFrames: 8, targetReturn: 100, runDir: filepath.Join(t.TempDir(), "a")},
		{Algo: "ppo", Env: "CartPole", NumEnvs: 1, Frames: 8, TotalFrames: 8, targetReturn: math.Inf(1), evalEvery: 8, evalEpisodes: 1, runDir: filepath.Join(t.TempDir(), "b")},
		{Algo: "ppo", Env: "MiniHack-Room-5x5-v0", NumEnvs: 1, Frames: 8, TotalFrames: 8, targetReturn: 1, targetSuccess: 0.5, evalEvery: 8, evalEpisodes: 1, runDir: filepath.Join(t.TempDir(), "c")},
	} {
		if err := run(bad, nil); err == nil || !strings.Contains(err.Error(), "--target-return") {
			t.Errorf("%+v: %v, want an error naming --target-return", bad, err)
		}
	}
}
