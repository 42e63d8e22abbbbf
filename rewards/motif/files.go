package motif

import (
	"fmt"

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
	return root.GetDict("data")
}
