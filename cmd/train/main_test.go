package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTrainWritesLogAndWeights(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := config{algo: "ppo", env: "CartPole", runDir: dir, numEnvs: 2, frames: 64, totalFrames: 2048, seed: 1, lr: 1e-3}
	if err := run(c); err != nil {
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
	if _, err := os.Stat(filepath.Join(dir, "params.mtd")); err != nil {
		t.Errorf("no weights: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "curve.png")); err != nil || st.Size() < 1000 {
		t.Errorf("no learning curve: %v", err)
	}
	if ev, _ := filepath.Glob(filepath.Join(dir, "tensorboard", "events.out.tfevents.*")); len(ev) != 1 {
		t.Errorf("%d TensorBoard event files, want 1", len(ev))
	}
	if err := run(c); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("a second run into the same folder: %v, want a refusal naming --force", err)
	}
	for _, bad := range []config{
		{algo: "dqn", env: "CartPole", runDir: filepath.Join(t.TempDir(), "x"), numEnvs: 1, frames: 8, totalFrames: 8, lr: 1e-3},
		{algo: "ppo", env: "NetHackScore", numEnvs: 1, frames: 8, totalFrames: 8},
		{algo: "ppo", env: "Pong", numEnvs: 1, frames: 8, totalFrames: 8},
		{algo: "ppo", env: "CartPole", numEnvs: 0, frames: 8, totalFrames: 8},
	} {
		if err := run(bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}
