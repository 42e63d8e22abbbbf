package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type rec struct {
	Header
	Frames int `json:"frames"`
}

// TestLatestFallsBack saves five generations and damages them the ways a kill or a disk does:
// each time Latest returns the newest sound generation with its own record, says what it
// skipped, and only the newest three generations stay on disk.
func TestLatestFallsBack(t *testing.T) {
	dir := t.TempDir()
	s := Store{Dir: dir, Parts: []string{"learner", "collector"}}
	var r rec
	if _, _, err := s.Latest(&r); !errors.Is(err, ErrNone) {
		t.Fatalf("an empty folder: %v; want ErrNone", err)
	}
	for g := 1; g <= 5; g++ {
		if err := s.Save(&rec{Header{Generation: g}, 100 * g}, [][]byte{[]byte(strings.Repeat("L", g)), []byte(strings.Repeat("C", g))}); err != nil {
			t.Fatal(err)
		}
	}
	if old, _ := filepath.Glob(filepath.Join(dir, "*-2.*")); len(old) != 0 {
		t.Errorf("generation 2 still on disk: %v (keep 3)", old)
	}
	check := func(what string, gen int, note string) {
		t.Helper()
		var r rec
		blobs, notes, err := s.Latest(&r)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if r.Generation != gen || r.Frames != 100*gen || string(blobs[0]) != strings.Repeat("L", gen) || string(blobs[1]) != strings.Repeat("C", gen) {
			t.Errorf("%s: generation %d, frames %d, blobs %q; want generation %d", what, r.Generation, r.Frames, blobs, gen)
		}
		if note != "" && !strings.Contains(strings.Join(notes, "; "), note) {
			t.Errorf("%s: notes %q; want one saying %q", what, notes, note)
		}
	}
	check("sound", 5, "")
	os.WriteFile(filepath.Join(dir, "learner-5.bin"), []byte("LL"), 0o644)
	check("newest blob changed", 4, "learner-5.bin does not match its checksum")
	b, _ := os.ReadFile(filepath.Join(dir, "train.json"))
	os.WriteFile(filepath.Join(dir, "train.json"), b[:len(b)/2], 0o644)
	check("index torn", 4, "train.json is unreadable")
	os.Remove(filepath.Join(dir, "collector-4.bin"))
	os.Remove(filepath.Join(dir, "collector-3.bin"))
	if _, _, err := s.Latest(&r); err == nil || !strings.Contains(err.Error(), "no sound checkpoint") {
		t.Errorf("every kept generation damaged: %v", err)
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".train.json.tmp-12", "keep.bin"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	RemoveStale(dir)
	if _, err := os.Stat(filepath.Join(dir, ".train.json.tmp-12")); err == nil {
		t.Error("a stale temporary survived")
	}
	if _, err := os.Stat(filepath.Join(dir, "keep.bin")); err != nil {
		t.Error("RemoveStale removed another file")
	}
}
