package tensordict

import (
	"fmt"
	"slices"

	"github.com/maestro-rl/maestro/tensor"
)

// transform builds a new Dict of batch shape batch by applying f to every entry; sub-Dicts are
// handled by f itself (usually by recursing).
func (d *Dict) transform(batch []int, f func(key string, e entry) (entry, error)) (*Dict, error) {
	n := len(d.keys)
	out := &Dict{batch: batch, keys: d.keys[:n:n], vals: make([]entry, n), device: d.device}
	if d.index != nil { // shared until either Dict adds or removes a key (then copied)
		out.index, out.shared, d.shared = d.index, true, true
	}
	for i, k := range d.keys {
		e, err := f(k, d.vals[i])
		if err != nil {
			return nil, err
		}
		out.vals[i] = e
	}
	return out, nil
}

func (s *Strings) rows(lo, hi int) *Strings {
	rl := s.rowLen()
	sh := slices.Clone(s.shape)
	sh[0] = hi - lo
	return &Strings{shape: sh, vals: s.vals[lo*rl : hi*rl : hi*rl]}
}

func (d *Dict) needBatchDim(op string) error {
	if len(d.batch) == 0 {
		return fmt.Errorf("tensordict: %s of a Dict with no batch dimensions", op)
	}
	return nil
}

// Index returns batch element i of the leading batch dimension as a Dict of views.
func (d *Dict) Index(i int) (*Dict, error) {
	if err := d.needBatchDim("Index"); err != nil {
		return nil, err
	}
	if i < 0 || i >= d.batch[0] {
		return nil, fmt.Errorf("tensordict: index %d out of range for batch shape %v", i, d.batch)
	}
	return d.transform(slices.Clone(d.batch[1:]), func(_ string, e entry) (entry, error) {
		switch {
		case e.t != nil:
			return entry{t: e.t.Index(i)}, nil
		case e.s != nil:
			r := e.s.rows(i, i+1)
			return entry{s: &Strings{shape: r.shape[1:], vals: r.vals}}, nil
		}
		sub, err := e.d.Index(i)
		return entry{d: sub}, err
	})
}

// Slice returns batch elements [lo, hi) of the leading batch dimension as a Dict of views.
func (d *Dict) Slice(lo, hi int) (*Dict, error) {
	if err := d.needBatchDim("Slice"); err != nil {
		return nil, err
	}
	if lo < 0 || hi < lo || hi > d.batch[0] {
		return nil, fmt.Errorf("tensordict: slice [%d:%d] out of range for batch shape %v", lo, hi, d.batch)
	}
	b := slices.Clone(d.batch)
	b[0] = hi - lo
	return d.transform(b, func(_ string, e entry) (entry, error) {
		switch {
		case e.t != nil:
			return entry{t: e.t.Slice(lo, hi)}, nil
		case e.s != nil:
			return entry{s: e.s.rows(lo, hi)}, nil
		}
		sub, err := e.d.Slice(lo, hi)
		return entry{d: sub}, err
	})
}

// IndexList returns a copy holding the listed batch elements of the leading dimension.
func (d *Dict) IndexList(idx []int) (*Dict, error) {
	if err := d.needBatchDim("IndexList"); err != nil {
		return nil, err
	}
	for _, i := range idx {
		if i < 0 || i >= d.batch[0] {
			return nil, fmt.Errorf("tensordict: index %d out of range for batch shape %v", i, d.batch)
		}
	}
	b := slices.Clone(d.batch)
	b[0] = len(idx)
	return d.transform(b, func(_ string, e entry) (entry, error) {
		switch {
		case e.t != nil:
			g, err := e.t.Gather(idx)
			return entry{t: g}, err
		case e.s != nil:
			rl := e.s.rowLen()
			vals := make([]string, 0, len(idx)*rl)
			for _, i := range idx {
				vals = append(vals, e.s.vals[i*rl:(i+1)*rl]...)
			}
			sh := slices.Clone(e.s.shape)
			sh[0] = len(idx)
			return entry{s: &Strings{shape: sh, vals: vals}}, nil
		}
		sub, err := e.d.IndexList(idx)
		return entry{d: sub}, err
	})
}

// Mask returns a copy of the batch elements where mask (one per leading batch index) is true.
func (d *Dict) Mask(mask []bool) (*Dict, error) {
	if err := d.needBatchDim("Mask"); err != nil {
		return nil, err
	}
	if len(mask) != d.batch[0] {
		return nil, fmt.Errorf("tensordict: mask of length %d for batch shape %v", len(mask), d.batch)
	}
	return d.IndexList(tensor.MaskIndices(mask))
}

// SetAt writes src (a Dict with d's keys and batch shape d.batch[1:]) into batch element i in
// place: the way collectors fill preallocated buffers. Keys of d missing from src are left as
// they are; keys of src missing from d are an error.
func (d *Dict) SetAt(i int, src *Dict) error {
	if err := d.needBatchDim("SetAt"); err != nil {
		return err
	}
	if i < 0 || i >= d.batch[0] {
		return fmt.Errorf("tensordict: index %d out of range for batch shape %v", i, d.batch)
	}
	row, err := d.Index(i)
	if err != nil {
		return err
	}
	return row.copyFrom(src, "")
}

// copyFrom copies src's leaves into d's existing leaves of equal shape. prefix names d within
// the root, for error messages only.
func (d *Dict) copyFrom(src *Dict, prefix string) error {
	for i, k := range src.keys {
		se := src.vals[i]
		var de entry
		if i < len(d.keys) && d.keys[i] == k { // the same layout (a Shallow copy): no search
			de = d.vals[i]
		} else {
			var ok bool
			if de, ok = d.get(k); !ok {
				return fmt.Errorf("tensordict: key %q is not in the destination", prefix+k)
			}
		}
		switch {
		case se.t != nil && de.t != nil:
			if tensor.SameMemory(se.t, de.t) {
				continue // already in place (a view of the destination)
			}
			if err := de.t.CopyFrom(se.t); err != nil {
				return fmt.Errorf("tensordict: key %q: %w", prefix+k, err)
			}
		case se.s != nil && de.s != nil && len(se.s.vals) == len(de.s.vals):
			copy(de.s.vals, se.s.vals)
		case se.d != nil && de.d != nil:
			if err := de.d.copyFrom(se.d, ""); err != nil {
				return fmt.Errorf("tensordict: in %q: %w", prefix+k, err) // the key's path is built only on failure
			}
		default:
			return fmt.Errorf("tensordict: key %q: cannot copy a %s into a %s", prefix+k, kind(se), kind(de))
		}
	}
	return nil
}

// Clone returns a deep copy (tensors and strings copied).
func (d *Dict) Clone() *Dict {
	out, _ := d.transform(slices.Clone(d.batch), func(_ string, e entry) (entry, error) {
		switch {
		case e.t != nil:
			return entry{t: e.t.Clone()}, nil
		case e.s != nil:
			return entry{s: &Strings{shape: slices.Clone(e.s.shape), vals: slices.Clone(e.s.vals)}}, nil
		}
		return entry{d: e.d.Clone()}, nil
	})
	return out
}

// Select returns a Dict holding only keys (nested keys allowed), sharing their values.
func (d *Dict) Select(keys ...string) (*Dict, error) {
	out := New(d.batch...)
	out.device = d.device
	for _, k := range keys {
		e, err := d.lookup(k)
		if err != nil {
			return nil, err
		}
		if err := out.put(k, e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Exclude returns a Dict without keys (nested keys allowed; unknown keys are ignored), sharing
// the remaining values.
func (d *Dict) Exclude(keys ...string) *Dict {
	out := d.shallow()
	for _, k := range keys {
		if p, last, err := out.parent(k, false); err == nil {
			p.remove(last)
		}
	}
	return out
}

// Shallow returns a Dict of the same structure (sub-Dicts copied) sharing every leaf: setting
// a key in it leaves d as it was, writing into a leaf's data shows in both.
func (d *Dict) Shallow() *Dict { return d.shallow() }

// CopyFrom copies src's leaves into d's leaves of the same keys and shapes (in place; leaves
// that already are views of the same memory are skipped). Keys of d missing from src are left
// as they are; keys of src missing from d are an error.
func (d *Dict) CopyFrom(src *Dict) error { return d.copyFrom(src, "") }

// shallow copies the key structure (sub-Dicts included) but shares the leaves.
func (d *Dict) shallow() *Dict {
	out, _ := d.transform(slices.Clone(d.batch), func(_ string, e entry) (entry, error) {
		if e.d != nil {
			return entry{d: e.d.shallow()}, nil
		}
		return e, nil
	})
	return out
}

// Rename returns a Dict where key old is called new (both may be nested), sharing values.
func (d *Dict) Rename(old, new string) (*Dict, error) {
	e, err := d.lookup(old)
	if err != nil {
		return nil, err
	}
	out := d.Exclude(old)
	if out.Has(new) {
		return nil, fmt.Errorf("tensordict: cannot rename %q to %q: the key exists", old, new)
	}
	if err := out.put(new, e); err != nil {
		return nil, err
	}
	return out, nil
}

// Update sets every leaf of other into d (nested keys merged, existing leaves replaced, or
// written in place when d is locked).
func (d *Dict) Update(other *Dict) error {
	var err error
	other.walk("", func(path string, e entry) {
		if err != nil || e.d != nil {
			return
		}
		err = d.put(path, e)
	})
	return err
}

// Apply returns a Dict of the same structure whose tensors are f(key, tensor); string leaves
// are shared. f must keep the leading batch dimensions.
func (d *Dict) Apply(f func(key string, t *tensor.Tensor) (*tensor.Tensor, error)) (*Dict, error) {
	return d.apply("", f)
}

func (d *Dict) apply(prefix string, f func(string, *tensor.Tensor) (*tensor.Tensor, error)) (*Dict, error) {
	return d.transform(slices.Clone(d.batch), func(k string, e entry) (entry, error) {
		path := prefix + k
		switch {
		case e.t != nil:
			t, err := f(path, e.t)
			if err != nil {
				return entry{}, err
			}
			if err := d.checkBatch(path, t.Shape()); err != nil {
				return entry{}, err
			}
			return entry{t: t}, nil
		case e.d != nil:
			sub, err := e.d.apply(path+Sep, f)
			return entry{d: sub}, err
		}
		return e, nil
	})
}

// ReshapeBatch returns a Dict of views with the batch shape changed to batch (same number of
// elements; one dimension may be -1).
func (d *Dict) ReshapeBatch(batch ...int) (*Dict, error) {
	probe, err := tensor.Zeros(tensor.Bool, d.batch...).Reshape(batch...)
	if err != nil {
		return nil, fmt.Errorf("tensordict: cannot reshape batch %v to %v", d.batch, batch)
	}
	nb := probe.Shape()
	nd := len(d.batch)
	return d.transform(nb, func(k string, e entry) (entry, error) {
		switch {
		case e.t != nil:
			t, err := e.t.Reshape(append(slices.Clone(nb), e.t.Shape()[nd:]...)...)
			return entry{t: t}, err
		case e.s != nil:
			return entry{s: &Strings{shape: append(slices.Clone(nb), e.s.shape[nd:]...), vals: e.s.vals}}, nil
		}
		sub, err := e.d.reshapeLeading(nd, nb)
		return entry{d: sub}, err
	})
}

// reshapeLeading reshapes the first nd batch dims of d (a sub-Dict may have more) to nb.
func (d *Dict) reshapeLeading(nd int, nb []int) (*Dict, error) {
	full := append(slices.Clone(nb), d.batch[nd:]...)
	return d.ReshapeBatch(full...)
}

// Unbind returns the batch elements of the leading dimension as views.
func (d *Dict) Unbind() ([]*Dict, error) {
	if err := d.needBatchDim("Unbind"); err != nil {
		return nil, err
	}
	out := make([]*Dict, d.batch[0])
	for i := range out {
		var err error
		if out[i], err = d.Index(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Split cuts the leading batch dimension into consecutive views of the given sizes, which must
// add up to it.
func (d *Dict) Split(sizes ...int) ([]*Dict, error) {
	if err := d.needBatchDim("Split"); err != nil {
		return nil, err
	}
	total := 0
	for _, s := range sizes {
		if s < 0 {
			return nil, fmt.Errorf("tensordict: negative split size in %v", sizes)
		}
		total += s
	}
	if total != d.batch[0] {
		return nil, fmt.Errorf("tensordict: split sizes %v add up to %d, the leading batch dimension is %d", sizes, total, d.batch[0])
	}
	out := make([]*Dict, len(sizes))
	lo := 0
	for i, s := range sizes {
		var err error
		if out[i], err = d.Slice(lo, lo+s); err != nil {
			return nil, err
		}
		lo += s
	}
	return out, nil
}

// Stack joins Dicts of identical structure and batch shape along a new leading batch dimension
// (a copy).
func Stack(ds []*Dict) (*Dict, error) {
	return join(ds, true)
}

// Cat joins Dicts of identical structure along their leading batch dimension (a copy).
func Cat(ds []*Dict) (*Dict, error) {
	return join(ds, false)
}

func join(ds []*Dict, stack bool) (*Dict, error) {
	op := "cat"
	if stack {
		op = "stack"
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("tensordict: %s of no Dicts", op)
	}
	first := ds[0]
	var batch []int
	if stack {
		batch = append([]int{len(ds)}, first.batch...)
	} else {
		if len(first.batch) == 0 {
			return nil, fmt.Errorf("tensordict: cat of Dicts with no batch dimensions; use Stack")
		}
		batch = slices.Clone(first.batch)
		batch[0] = 0
		for i, d := range ds {
			if len(d.batch) != len(first.batch) || !slices.Equal(d.batch[1:], first.batch[1:]) {
				return nil, fmt.Errorf("tensordict: cat: Dict %d has batch shape %v, Dict 0 has %v", i, d.batch, first.batch)
			}
			batch[0] += d.batch[0]
		}
	}
	for i, d := range ds {
		if stack && !slices.Equal(d.batch, first.batch) {
			return nil, fmt.Errorf("tensordict: stack: Dict %d has batch shape %v, Dict 0 has %v", i, d.batch, first.batch)
		}
		if !slices.Equal(d.keys, first.keys) && !sameKeySet(d.keys, first.keys) {
			return nil, fmt.Errorf("tensordict: %s: Dict %d has keys %v, Dict 0 has %v", op, i, d.keys, first.keys)
		}
	}
	return first.transform(batch, func(k string, e entry) (entry, error) {
		switch {
		case e.t != nil:
			ts := make([]*tensor.Tensor, len(ds))
			for i, d := range ds {
				de, _ := d.get(k)
				if ts[i] = de.t; ts[i] == nil {
					return entry{}, fmt.Errorf("tensordict: %s: key %q of Dict %d is a %s, not a tensor", op, k, i, kind(de))
				}
			}
			var t *tensor.Tensor
			var err error
			if stack {
				t, err = tensor.Stack(ts)
			} else {
				t, err = tensor.Cat(ts)
			}
			if err != nil {
				return entry{}, fmt.Errorf("tensordict: %s: key %q: %w", op, k, err)
			}
			return entry{t: t}, nil
		case e.s != nil:
			var vals []string
			for i, d := range ds {
				de, _ := d.get(k)
				s := de.s
				if s == nil {
					return entry{}, fmt.Errorf("tensordict: %s: key %q of Dict %d is a %s, not strings", op, k, i, kind(de))
				}
				vals = append(vals, s.vals...)
			}
			sh := slices.Clone(e.s.shape)
			if stack {
				sh = append([]int{len(ds)}, sh...)
			} else {
				sh[0] = len(vals) / max(e.s.rowLen(), 1)
			}
			return entry{s: &Strings{shape: sh, vals: vals}}, nil
		}
		subs := make([]*Dict, len(ds))
		for i, d := range ds {
			de, _ := d.get(k)
			if subs[i] = de.d; subs[i] == nil {
				return entry{}, fmt.Errorf("tensordict: %s: key %q of Dict %d is a %s, not a Dict", op, k, i, kind(de))
			}
		}
		sub, err := join(subs, stack)
		return entry{d: sub}, err
	})
}

func sameKeySet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, k := range a {
		if !slices.Contains(b, k) {
			return false
		}
	}
	return true
}

// StepMDPOptions choose what StepMDP carries over; the zero value is TorchRL's default.
type StepMDPOptions struct {
	KeepReward bool // keep next/reward at the root (default: dropped)
	KeepAction bool // keep the root's action (default: dropped)
	DropDone   bool // drop next/done, next/terminated and next/truncated (default: kept)
}

// Validate reports nothing: every combination of the flags is valid.
func (o StepMDPOptions) Validate() error { return nil }

// StepMDP returns the Dict for the next step of an environment loop: the entries under "next"
// moved to the root, and the root's other entries dropped except as the options say. The
// result shares its tensors with d. d must have a "next" Dict.
func (d *Dict) StepMDP(o StepMDPOptions) (*Dict, error) { return d.StepMDPInto(nil, o) }

// StepMDPInto is StepMDP reusing out (a Dict from an earlier StepMDP that nothing else holds;
// nil: a new one), for loops that step without allocating.
func (d *Dict) StepMDPInto(out *Dict, o StepMDPOptions) (*Dict, error) {
	next, err := d.GetDict("next")
	if err != nil {
		return nil, fmt.Errorf("tensordict: StepMDP: %w", err)
	}
	n := len(next.keys) + 1
	if out == nil || out == d || out.locked {
		out = &Dict{keys: make([]string, 0, n), vals: make([]entry, 0, n)}
	}
	clear(out.vals)
	out.batch, out.device, out.keys, out.vals = next.batch, d.device, out.keys[:0], out.vals[:0]
	out.index, out.shared = nil, false
	for i, k := range next.keys {
		e := next.vals[i]
		switch k {
		case "reward":
			if !o.KeepReward {
				continue
			}
		case "done", "terminated", "truncated":
			if o.DropDone {
				continue
			}
		}
		out.add(k, e)
	}
	if o.KeepAction {
		if e, ok := d.get("action"); ok {
			if i := out.find("action"); i >= 0 {
				out.vals[i] = e
			} else {
				out.add("action", e)
			}
		}
	}
	return out, nil
}

// Equal reports whether a and b have the same batch shape, keys and equal leaves.
func Equal(a, b *Dict) bool {
	if !slices.Equal(a.batch, b.batch) || len(a.keys) != len(b.keys) {
		return false
	}
	for i, k := range a.keys {
		ea := a.vals[i]
		eb, ok := b.get(k)
		if !ok {
			return false
		}
		switch {
		case ea.t != nil:
			if eb.t == nil || !tensor.Equal(ea.t, eb.t) {
				return false
			}
		case ea.s != nil:
			if eb.s == nil || !slices.Equal(ea.s.shape, eb.s.shape) || !slices.Equal(ea.s.vals, eb.s.vals) {
				return false
			}
		default:
			if eb.d == nil || !Equal(ea.d, eb.d) {
				return false
			}
		}
	}
	return true
}

// IndexDim returns a copy of d with batch dimension dim fixed at i (td[:, i] for dim 1); for
// dim 0 prefer Index, which returns views.
func (d *Dict) IndexDim(dim, i int) (*Dict, error) {
	if dim < 0 || dim >= len(d.batch) {
		return nil, fmt.Errorf("tensordict: batch dimension %d out of range for batch shape %v", dim, d.batch)
	}
	if i < 0 || i >= d.batch[dim] {
		return nil, fmt.Errorf("tensordict: index %d out of range for batch dimension %d of %v", i, dim, d.batch)
	}
	b := append(slices.Clone(d.batch[:dim]), d.batch[dim+1:]...)
	return d.transform(b, func(_ string, e entry) (entry, error) {
		switch {
		case e.t != nil:
			t, err := e.t.IndexDim(dim, i)
			return entry{t: t}, err
		case e.s != nil:
			outer, n, inner := 1, e.s.shape[dim], 1
			for _, x := range e.s.shape[:dim] {
				outer *= x
			}
			for _, x := range e.s.shape[dim+1:] {
				inner *= x
			}
			vals := make([]string, 0, outer*inner)
			for o := 0; o < outer; o++ {
				vals = append(vals, e.s.vals[(o*n+i)*inner:(o*n+i+1)*inner]...)
			}
			sh := append(slices.Clone(e.s.shape[:dim]), e.s.shape[dim+1:]...)
			return entry{s: &Strings{shape: sh, vals: vals}}, nil
		}
		sub, err := e.d.IndexDim(dim, i)
		return entry{d: sub}, err
	})
}

// NewLike returns a Dict of batch shape lead + d's batch shape with d's structure: every
// tensor leaf zero-filled with shape lead + its shape, every string leaf empty strings. It is
// the preallocated buffer for a sequence of Dicts like d (rollouts, replay storage).
func NewLike(d *Dict, lead ...int) *Dict {
	out := New(append(slices.Clone(lead), d.batch...)...)
	out.device = d.device
	d.walk("", func(path string, e entry) {
		switch {
		case e.t != nil:
			out.put(path, entry{t: tensor.Zeros(e.t.DType(), append(slices.Clone(lead), e.t.Shape()...)...)})
		case e.s != nil:
			sh := append(slices.Clone(lead), e.s.shape...)
			n := 1
			for _, x := range sh {
				n *= x
			}
			out.put(path, entry{s: &Strings{shape: sh, vals: make([]string, n)}})
		case len(e.d.keys) == 0:
			out.put(path, entry{d: New(append(slices.Clone(lead), e.d.batch...)...)})
		}
	})
	return out
}

// SetRows copies src (batch [len(idx)] + d's batch shape past the first dim) into rows idx of
// d's leading batch dimension, one copy per leaf and row; src must have d's leaves.
func (d *Dict) SetRows(idx []int, src *Dict) error {
	if err := d.needBatchDim("SetRows"); err != nil {
		return err
	}
	return copyRows(d, src, idx, false, "")
}

// copyRows walks src's leaves and copies rows between them and dst's: with gather, dst row j
// takes src row idx[j] (GatherInto); without, dst row idx[j] takes src row j (SetRows).
func copyRows(dst, src *Dict, idx []int, gather bool, prefix string) error {
	for i, k := range src.keys {
		path := prefix + k
		se := src.vals[i]
		de, ok := dst.get(k)
		if !ok {
			return fmt.Errorf("tensordict: key %q is not in the destination", path)
		}
		switch {
		case se.t != nil && de.t != nil:
			var err error
			if gather {
				err = se.t.GatherInto(de.t, idx)
			} else {
				err = de.t.SetRows(idx, se.t)
			}
			if err != nil {
				return fmt.Errorf("tensordict: key %q: %w", path, err)
			}
		case se.s != nil && de.s != nil:
			rl := se.s.rowLen()
			for j, r := range idx {
				to, from := r, j
				if gather {
					to, from = j, r
				}
				copy(de.s.vals[to*rl:(to+1)*rl], se.s.vals[from*rl:(from+1)*rl])
			}
		case se.d != nil && de.d != nil:
			if err := copyRows(de.d, se.d, idx, gather, path+Sep); err != nil {
				return err
			}
		default:
			return fmt.Errorf("tensordict: key %q: cannot copy a %s into a %s", path, kind(se), kind(de))
		}
	}
	return nil
}

// GatherInto copies rows idx of d's leading batch dimension into dst, a Dict of batch
// [len(idx)] + the rest of d's batch shape with d's leaves (NewLike(row, len(idx)) makes one):
// IndexList without allocating.
func (d *Dict) GatherInto(dst *Dict, idx []int) error {
	if err := d.needBatchDim("GatherInto"); err != nil {
		return err
	}
	return copyRows(dst, d, idx, true, "")
}

// ResetTo makes d hold src's entries again, where d is a Shallow copy of src that has since
// had leaves replaced: entry pointers are copied, no data. It reports false (changing nothing)
// when the two no longer have the same keys.
func (d *Dict) ResetTo(src *Dict) bool {
	if len(d.keys) != len(src.keys) {
		return false
	}
	for i, k := range src.keys {
		if d.keys[i] != k || (d.vals[i].d == nil) != (src.vals[i].d == nil) {
			return false
		}
	}
	for i, e := range src.vals {
		if e.d != nil {
			if !d.vals[i].d.ResetTo(e.d) {
				return false
			}
			continue
		}
		d.vals[i] = e
	}
	return true
}
