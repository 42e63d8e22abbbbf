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

func TestPlayBadInput(t *testing.T) {
	for _, tc := range []struct {
		task, character, nle string
		steps                int
		want                 string
	}{
		{"speedrun", "", "", 10, "unknown task"},
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
