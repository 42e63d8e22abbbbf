package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigFile: any bytes given as --config set flags or fail with an error, never panic.
func FuzzConfigFile(f *testing.F) {
	f.Add([]byte("algo: appo\nnum_envs: 8\nlr: 1e-4\noverlap: false\n"))
	f.Add([]byte("total_frames: 1e6\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("lr: .nan\nnum-envs: 99999999999999999999\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		fs.String("algo", "ppo", "")
		fs.Int("num-envs", 4, "")
		fs.Int("total-frames", 1, "")
		fs.Float64("lr", 0, "")
		fs.Bool("overlap", true, "")
		fs.String("config", "", "")
		applyConfigFile(fs, path)
	})
}

// FuzzReadLogRows: any log.csv (torn, binary, ragged) gives rows that all have the header's
// field count.
func FuzzReadLogRows(f *testing.F) {
	f.Add([]byte("frames,seconds\n128,0.5\n256,1.0\n384,1."))
	f.Add([]byte("a,\"b\nc\",d\n1,2,3\n"))
	f.Add([]byte("\n\n,,,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, torn := readLogRows(b)
		for _, r := range rows {
			if len(r) != len(rows[0]) {
				t.Fatalf("rows of %d and %d fields kept (torn %d)", len(rows[0]), len(r), torn)
			}
		}
	})
}
