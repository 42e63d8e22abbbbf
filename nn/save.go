package nn

import (
	"fmt"
	"slices"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// ParamsDict puts params into a Dict under their names (views of their data), for files that
// store parameters beside other things; SetParams reads them back.
func ParamsDict(params []*Param) (*tensordict.Dict, error) {
	d := tensordict.New()
	for _, p := range params {
		t, err := tensor.FromSlice(p.Data, p.Shape...)
		if err != nil {
			return nil, err
		}
		if d.Has(p.Name) {
			return nil, fmt.Errorf("nn: two parameters are named %q; names must be unique to be saved", p.Name)
		}
		if err := d.Set(p.Name, t); err != nil {
			return nil, fmt.Errorf("nn: parameter %q: %w", p.Name, err)
		}
	}
	return d, nil
}

// SaveParams writes params to path (tensordict's codec, written atomically), by name.
func SaveParams(path string, params []*Param) error {
	d, err := ParamsDict(params)
	if err != nil {
		return err
	}
	return tensordict.SaveFile(path, d)
}

// LoadParams reads parameters saved by SaveParams into params. Every parameter must be in the
// file with the same shape; the error names the first one that is missing or differs, with
// both shapes, and params are left unchanged when it fails.
func LoadParams(path string, params []*Param) error {
	d, err := tensordict.LoadFile(path)
	if err != nil {
		return fmt.Errorf("nn: %w", err)
	}
	return SetParams(d, params, path)
}

// SetParams copies the parameters in d into params by name; source names d in errors. Every
// parameter must be there with its shape; params are left unchanged when one is not.
func SetParams(d *tensordict.Dict, params []*Param, source string) error {
	data := make([][]float32, len(params))
	for i, p := range params {
		t, err := d.Get(p.Name)
		if err != nil {
			return fmt.Errorf("nn: %s has no parameter %q (shape %v): the checkpoint is of another architecture", source, p.Name, p.Shape)
		}
		if !slices.Equal(t.Shape(), p.Shape) || t.DType() != tensor.Float32 {
			return fmt.Errorf("nn: parameter %q is %v %v in %s, the network has float32 %v: the checkpoint is of another architecture", p.Name, t.DType(), t.Shape(), source, p.Shape)
		}
		data[i] = tensor.MustData[float32](t)
		if j := nonFinite(data[i]); j >= 0 {
			return fmt.Errorf("nn: parameter %q in %s holds %v at index %d: the file is corrupt or training diverged; use an earlier checkpoint", p.Name, source, data[i][j], j)
		}
	}
	if n := len(d.LeafKeys()); n != len(params) {
		return fmt.Errorf("nn: %s holds %d parameters, the network has %d", source, n, len(params))
	}
	for i, p := range params {
		copy(p.Data, data[i])
	}
	return nil
}

// State returns the optimizer's state (step count, first and second moments per parameter)
// as a Dict, for checkpoints; SetState restores it.
func (a *Adam) State() (*tensordict.Dict, error) {
	d := tensordict.New()
	if err := d.Set("step", tensor.Scalar(int64(a.step))); err != nil {
		return nil, err
	}
	for i, p := range a.params {
		for _, mv := range []struct {
			k string
			v []float32
		}{{"m", a.m[i]}, {"v", a.v[i]}} {
			t, err := tensor.FromSlice(mv.v, p.Shape...)
			if err != nil {
				return nil, err
			}
			if err := d.Set(mv.k+tensordict.Sep+p.Name, t); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// SetState restores a state returned by State (for the same parameters).
func (a *Adam) SetState(d *tensordict.Dict) error {
	st, err := tensordict.GetAs[int64](d, "step")
	if err != nil || len(st) != 1 {
		return fmt.Errorf("nn: optimizer state has no step: %v", err)
	}
	for i, p := range a.params {
		for _, mv := range []struct {
			k string
			v []float32
		}{{"m", a.m[i]}, {"v", a.v[i]}} {
			t, err := d.Get(mv.k + tensordict.Sep + p.Name)
			if err != nil || !slices.Equal(t.Shape(), p.Shape) {
				return fmt.Errorf("nn: optimizer state lacks %s of %q %v (another network?)", mv.k, p.Name, p.Shape)
			}
			x := tensor.MustData[float32](t)
			if j := nonFinite(x); j >= 0 || mv.k == "v" && slices.ContainsFunc(x, func(f float32) bool { return f < 0 }) {
				return fmt.Errorf("nn: optimizer state %s of %q holds a non-finite or negative value: the checkpoint is corrupt", mv.k, p.Name)
			}
		}
	}
	if st[0] < 0 {
		return fmt.Errorf("nn: optimizer state has step %d", st[0])
	}
	for i, p := range a.params { // copied only once every part is sound
		m, _ := d.Get("m" + tensordict.Sep + p.Name)
		v, _ := d.Get("v" + tensordict.Sep + p.Name)
		copy(a.m[i], tensor.MustData[float32](m))
		copy(a.v[i], tensor.MustData[float32](v))
	}
	a.step = int(st[0])
	return nil
}

// nonFinite returns the index of the first NaN or infinity in x, or -1.
func nonFinite(x []float32) int {
	for i, f := range x {
		if f-f != 0 { // NaN or ±Inf
			return i
		}
	}
	return -1
}
