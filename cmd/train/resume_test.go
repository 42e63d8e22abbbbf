package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

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

// TestResumeIfAny: a scheduler restarting the same command line starts the run the first
// time, over a folder that never reached a checkpoint, and resumes it after one.
func TestResumeIfAny(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "log.csv"), []byte("frames,seconds\n"), 0o644) // a start killed before its first checkpoint
	c := base(dir)
	c.resumeIfAny, c.stopAfter = true, 1024
	if err := run(c, nil); err != nil {
		t.Fatalf("the first start: %v", err)
	}
	c.stopAfter = 0
	if err := run(c, nil); err != nil {
		t.Fatalf("the restart: %v", err)
	}
	rows := csvRows(filepath.Join(dir, "log.csv"))
	if len(rows) != 1+2048/128 {
		t.Fatalf("log.csv has %d rows, want a header and 16 batches: the restart must continue, not start over", len(rows))
	}
	if n, _ := strconv.Atoi(rows[len(rows)-1][0]); n != 2048 {
		t.Errorf("the last row is at %s frames, want 2048", rows[len(rows)-1][0])
	}
	d := filepath.Join(t.TempDir(), "notarun")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "thesis.tex"), []byte("mine"), 0o644)
	c = base(d)
	c.resumeIfAny = true
	if err := run(c, nil); err == nil {
		t.Error("--resume-if-any took over a folder that is not a run folder")
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
