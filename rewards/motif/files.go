package motif

import (
	"fmt"
	"math"
	"slices"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Kinds of dataset files.
const (
	KindObservations = "motif-observations"
	KindPairs        = "motif-pairs"
)

// SaveDataset writes d (batch [N]) to path atomically, with its kind and FormatVersion.
func SaveDataset(path, kind string, d *tensordict.Dict) error {
	root := tensordict.New()
	for _, e := range []error{root.Set("format", tensor.Scalar(int64(FormatVersion))), root.Set("kind", tensor.Of([]uint8(kind))), root.SetDict("data", d)} {
		if e != nil {
			return e
		}
	}
	return tensordict.SaveFile(path, root)
}

// LoadDataset reads a file written by SaveDataset, refusing other kinds and format versions.
func LoadDataset(path, kind string) (*tensordict.Dict, error) {
	root, err := tensordict.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("motif: %w", err)
	}
	k, err := tensordict.GetAs[uint8](root, "kind")
	if err != nil {
		return nil, fmt.Errorf("motif: %s is not a Motif dataset (no kind); make one with `annotate collect` / `annotate pairs`", path)
	}
	if string(k) != kind {
		return nil, fmt.Errorf("motif: %s holds %s, this step needs %s", path, k, kind)
	}
	f, err := tensordict.GetAs[int64](root, "format")
	if err != nil || len(f) != 1 || f[0] != FormatVersion {
		return nil, fmt.Errorf("motif: %s is format %v; this Maestro reads format %d (make the dataset again)", path, f, FormatVersion)
	}
	d, err := root.GetDict("data")
	if err != nil {
		return nil, fmt.Errorf("motif: %s: %w", path, err)
	}
	if err := checkLeaves(d, path); err != nil {
		return nil, err
	}
	return d, nil
}

// leafShapes are the dtype and per-row shape of every leaf a Motif dataset may hold, at the
// root (observations) or under first/ and second/ (pairs).
var leafShapes = map[string]struct {
	dtype tensor.DType
	shape []int
}{
	"message":      {tensor.Uint8, []int{nethack.MessageLen}},
	"prev_message": {tensor.Uint8, []int{nethack.MessageLen}},
	"blstats":      {tensor.Int64, []int{nethack.NumBlstats}},
	"tty_chars":    {tensor.Uint8, []int{nethack.TermRows, nethack.TermCols}},
	"tty_colors":   {tensor.Int8, []int{nethack.TermRows, nethack.TermCols}},
	"diffstats":    {tensor.Float32, []int{nethackagent.DiffStats}},
}

// checkLeaves refuses a dataset whose known leaves have another dtype or row shape than
// Maestro writes (a message of 10 bytes instead of 256 made the readers index past it), or
// whose labels are not 0..3, naming the leaf, both shapes and how to remake the file.
func checkLeaves(d *tensordict.Dict, path string) error {
	for _, prefix := range []string{"", "first/", "second/"} {
		for name, want := range leafShapes {
			t, err := d.Get(prefix + name)
			if err != nil {
				continue // absent: the step that needs it says so
			}
			shape := t.Shape()
			if t.DType() != want.dtype || len(shape) != 1+len(want.shape) || !slices.Equal(shape[1:], want.shape) {
				return fmt.Errorf("motif: %s: leaf %s is %s %v; Maestro writes %s [N %v]: the file is damaged or from another program; make it again with `annotate collect` / `annotate pairs`",
					path, prefix+name, t.DType(), shape, want.dtype, want.shape)
			}
			if want.dtype == tensor.Float32 {
				data := tensor.MustData[float32](t)
				for i, v := range data {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						return fmt.Errorf("motif: %s: leaf %s holds %v at row %d: the file is damaged; make it again with `annotate pairs`", path, prefix+name, v, i*shape[0]/len(data))
					}
				}
			}
		}
	}
	if d.Has("label") {
		labels, err := tensordict.GetAs[int8](d, "label")
		if err != nil {
			return fmt.Errorf("motif: %s: leaf label: %w (labels are int8 0..3; relabel with `annotate label`)", path, err)
		}
		for i, l := range labels {
			if l < First || l > Unknown {
				return fmt.Errorf("motif: %s: label %d of pair %d is outside 0..3 (first, second, tie, unknown); relabel with `annotate label`", path, l, i)
			}
		}
	}
	return nil
}
