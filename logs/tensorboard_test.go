package logs

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTensorBoardFilesReadByTensorBoard writes scalars and reads them back with the real
// tensorboard Python package (installed in the test peer by scripts/setup.sh --peer).
func TestTensorBoardFilesReadByTensorBoard(t *testing.T) {
	py := os.Getenv("MAESTRO_PEER_PYTHON")
	if py == "" {
		cache := os.Getenv("MAESTRO_CACHE")
		if cache == "" {
			d, _ := os.UserCacheDir()
			cache = filepath.Join(d, "maestro")
		}
		py = filepath.Join(cache, "peer-nle-1.3.0", "bin", "python")
	}
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("MAESTRO_REQUIRE_PEER") != "" {
			t.Fatalf("no test peer at %s; run scripts/setup.sh --peer", py)
		}
		t.Skipf("no test peer at %s; run scripts/setup.sh --peer", py)
	}
	dir := t.TempDir()
	tb, err := NewTensorBoard(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float64{"train/return": {}, "loss/value": {}}
	for step := int64(0); step < 50; step++ {
		for tag := range want {
			v := math.Sin(float64(step)) * float64(len(tag))
			want[tag] = append(want[tag], float64(float32(v)))
			if err := tb.Scalar(tag, step*512, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, warnings
warnings.filterwarnings("ignore")
from tensorboard.backend.event_processing import event_accumulator
ea = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={event_accumulator.SCALARS: 0})
ea.Reload()
print(json.dumps({tag: [[e.step, e.value] for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"]}))
`
	out, err := exec.Command(py, "-c", script, dir).Output()
	if err != nil {
		t.Fatalf("tensorboard could not read the file: %v", err)
	}
	var got map[string][][2]float64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for tag, vs := range want {
		g := got[tag]
		if len(g) != len(vs) {
			t.Fatalf("tag %s: tensorboard read %d values, want %d", tag, len(g), len(vs))
		}
		for i, v := range vs {
			if g[i][0] != float64(i*512) || math.Abs(g[i][1]-v) > 1e-6 {
				t.Fatalf("tag %s event %d: tensorboard read step %v value %v, want %d %v", tag, i, g[i][0], g[i][1], i*512, v)
			}
		}
	}
}
