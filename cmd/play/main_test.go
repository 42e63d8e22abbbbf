package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlayRunsAndRecords(t *testing.T) {
	dir := t.TempDir()
	if err := run("staircase", 200, 7, "", 0, true, dir, ""); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ttyrec3.bz2"))
	if len(files) == 0 {
		t.Error("no ttyrec written")
	}
}

// TestPlayMiniHack: play takes a MiniHack task and records its episodes.
func TestPlayMiniHack(t *testing.T) {
	dir := t.TempDir()
	if err := run("MiniHack-Room-5x5-v0", 300, 7, "", 0, true, dir, ""); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.ttyrec3.bz2")); len(files) == 0 {
		t.Error("no ttyrec written")
	}
}

func TestPlayBadInput(t *testing.T) {
	for _, tc := range []struct {
		task, character, nle string
		steps                int
		want                 string
	}{
		{"speedrun", "", "", 10, "MiniHack-Room-5x5-v0"},
		{"MiniHack-Room-5x5-v0", "val-dwa-law-fem", "", 10, "its own character"},
		{"score", "", "", 0, "-steps"},
		{"score", "mon-xyz", "", 10, "malformed character"},
		{"score", "", os.TempDir(), 10, "make setup"},
	} {
		err := run(tc.task, tc.steps, 1, tc.character, 0, true, "", tc.nle)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q, %d, %q, %q): %v, want an error mentioning %q", tc.task, tc.steps, tc.character, tc.nle, err, tc.want)
		}
	}
}
