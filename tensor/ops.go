package tensor

import (
	"fmt"
	"slices"
)

// At returns flat element i (row-major) as a float64: the untyped access path for code that
// handles tensors of any dtype. Bools read as 0 or 1.
func (t *Tensor) At(i int) float64 {
	switch t.dtype {
	case Float32:
		return float64(view[float32](t.buf)[i])
	case Float64:
		return view[float64](t.buf)[i]
	case Int64:
		return float64(view[int64](t.buf)[i])
	case Int32:
		return float64(view[int32](t.buf)[i])
	case Int16:
		return float64(view[int16](t.buf)[i])
	case Int8:
		return float64(view[int8](t.buf)[i])
	case Uint8:
		return float64(t.buf[i])
	case Bool:
		if t.buf[i] != 0 {
			return 1
		}
		return 0
	}
	panic("tensor: At on an invalid tensor")
}

// SetAt stores v into flat element i, converting as a Go conversion does (truncating toward
// zero for integers; nonzero is true for bools).
func (t *Tensor) SetAt(i int, v float64) {
	switch t.dtype {
	case Float32:
		view[float32](t.buf)[i] = float32(v)
	case Float64:
		view[float64](t.buf)[i] = v
	case Int64:
		view[int64](t.buf)[i] = int64(v)
	case Int32:
		view[int32](t.buf)[i] = int32(v)
	case Int16:
		view[int16](t.buf)[i] = int16(v)
	case Int8:
		view[int8](t.buf)[i] = int8(v)
	case Uint8:
		t.buf[i] = uint8(v)
	case Bool:
		t.buf[i] = 0
		if v != 0 {
			t.buf[i] = 1
		}
	default:
		panic("tensor: SetAt on an invalid tensor")
	}
}

// Fill sets every element to v (converted as SetAt does).
func (t *Tensor) Fill(v float64) {
	n := t.Len()
	for i := 0; i < n; i++ {
		t.SetAt(i, v)
	}
}

func convert[D, S Elem](dst []D, src []S) {
	for i, v := range src {
		dst[i] = castElem[D](v)
	}
}

func castElem[D, S Elem](v S) D {
	var d D
	switch p := any(&d).(type) {
	case *bool:
		*p = toF64(v) != 0
		return d
	}
	switch s := any(v).(type) {
	case bool:
		if s {
			return fromF64[D](1)
		}
		return fromF64[D](0)
	}
	return fromF64[D](toF64(v))
}

func toF64[S Elem](v S) float64 {
	switch s := any(v).(type) {
	case float32:
		return float64(s)
	case float64:
		return s
	case int64:
		return float64(s)
	case int32:
		return float64(s)
	case int16:
		return float64(s)
	case int8:
		return float64(s)
	case uint8:
		return float64(s)
	case bool:
		if s {
			return 1
		}
	}
	return 0
}

func fromF64[D Elem](f float64) D {
	var d D
	switch p := any(&d).(type) {
	case *float32:
		*p = float32(f)
	case *float64:
		*p = f
	case *int64:
		*p = int64(f)
	case *int32:
		*p = int32(f)
	case *int16:
		*p = int16(f)
	case *int8:
		*p = int8(f)
	case *uint8:
		*p = uint8(f)
	case *bool:
		*p = f != 0
	}
	return d
}

// To returns a copy converted to dtype d (a copy even when d is t's dtype). Conversions follow
// Go's: floats to integers truncate toward zero; anything nonzero becomes true.
func (t *Tensor) To(d DType) (*Tensor, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("tensor: invalid dtype %v", d)
	}
	if d == t.dtype {
		return t.Clone(), nil
	}
	out := mk(d, t.shape, alloc(d, t.Len()))
	switch d {
	case Float32:
		convertFrom(view[float32](out.buf), t)
	case Float64:
		convertFrom(view[float64](out.buf), t)
	case Int64:
		convertFrom(view[int64](out.buf), t)
	case Int32:
		convertFrom(view[int32](out.buf), t)
	case Int16:
		convertFrom(view[int16](out.buf), t)
	case Int8:
		convertFrom(view[int8](out.buf), t)
	case Uint8:
		convertFrom(view[uint8](out.buf), t)
	case Bool:
		convertFrom(view[bool](out.buf), t)
	}
	return out, nil
}

func convertFrom[D Elem](dst []D, src *Tensor) {
	switch src.dtype {
	case Float32:
		convert(dst, view[float32](src.buf))
	case Float64:
		convert(dst, view[float64](src.buf))
	case Int64:
		convert(dst, view[int64](src.buf))
	case Int32:
		convert(dst, view[int32](src.buf))
	case Int16:
		convert(dst, view[int16](src.buf))
	case Int8:
		convert(dst, view[int8](src.buf))
	case Uint8:
		convert(dst, view[uint8](src.buf))
	case Bool:
		convert(dst, view[bool](src.buf))
	}
}

// Gather returns a copy holding rows idx[0], idx[1], ... of the leading dimension.
func (t *Tensor) Gather(idx []int) (*Tensor, error) {
	if len(t.shape) == 0 {
		return nil, fmt.Errorf("tensor: cannot gather from a 0-d tensor")
	}
	rb := t.rowBytes()
	sh := slices.Clone(t.shape)
	sh[0] = len(idx)
	out := mk(t.dtype, sh, alloc(t.dtype, len(idx)*rb/max(t.dtype.Size(), 1)))
	for j, i := range idx {
		if i < 0 || i >= t.shape[0] {
			return nil, fmt.Errorf("tensor: gather index %d out of range for shape %v", i, t.shape)
		}
		copy(out.buf[j*rb:(j+1)*rb], t.buf[i*rb:(i+1)*rb])
	}
	return out, nil
}

// MaskIndices returns the positions where mask is true.
func MaskIndices(mask []bool) []int {
	var idx []int
	for i, m := range mask {
		if m {
			idx = append(idx, i)
		}
	}
	return idx
}

// Mask returns a copy of the rows of the leading dimension where mask is true.
func (t *Tensor) Mask(mask []bool) (*Tensor, error) {
	if len(t.shape) == 0 || len(mask) != t.shape[0] {
		return nil, fmt.Errorf("tensor: mask of length %d for shape %v", len(mask), t.shape)
	}
	return t.Gather(MaskIndices(mask))
}

// SetRows copies src into rows idx of t's leading dimension: src has shape [len(idx), ...].
func (t *Tensor) SetRows(idx []int, src *Tensor) error {
	if src.dtype != t.dtype || len(src.shape) != len(t.shape) || len(t.shape) == 0 ||
		src.shape[0] != len(idx) || !slices.Equal(src.shape[1:], t.shape[1:]) {
		return fmt.Errorf("tensor: cannot write %v %v into %d rows of %v %v", src.dtype, src.shape, len(idx), t.dtype, t.shape)
	}
	rb := t.rowBytes()
	for j, i := range idx {
		if i < 0 || i >= t.shape[0] {
			return fmt.Errorf("tensor: row %d out of range for shape %v", i, t.shape)
		}
		copy(t.buf[i*rb:(i+1)*rb], src.buf[j*rb:(j+1)*rb])
	}
	return nil
}

// Stack joins tensors of one shape and dtype along a new leading dimension (a copy).
func Stack(ts []*Tensor) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("tensor: stack of no tensors")
	}
	first := ts[0]
	for i, t := range ts[1:] {
		if t.dtype != first.dtype || !slices.Equal(t.shape, first.shape) {
			return nil, fmt.Errorf("tensor: stack: tensor %d is %v %v, tensor 0 is %v %v", i+1, t.dtype, t.shape, first.dtype, first.shape)
		}
	}
	n := len(first.buf)
	out := mk(first.dtype, append([]int{len(ts)}, first.shape...), alloc(first.dtype, len(ts)*first.Len()))
	for i, t := range ts {
		copy(out.buf[i*n:(i+1)*n], t.buf)
	}
	return out, nil
}

// Cat joins tensors along their leading dimension (a copy); the other dimensions and the dtype
// must agree.
func Cat(ts []*Tensor) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("tensor: cat of no tensors")
	}
	first := ts[0]
	if len(first.shape) == 0 {
		return nil, fmt.Errorf("tensor: cannot cat 0-d tensors")
	}
	rows, size := 0, 0
	for i, t := range ts {
		if t.dtype != first.dtype || len(t.shape) != len(first.shape) || !slices.Equal(t.shape[1:], first.shape[1:]) {
			return nil, fmt.Errorf("tensor: cat: tensor %d is %v %v, tensor 0 is %v %v", i, t.dtype, t.shape, first.dtype, first.shape)
		}
		rows += t.shape[0]
		size += len(t.buf)
	}
	sh := slices.Clone(first.shape)
	sh[0] = rows
	out := mk(first.dtype, sh, alloc(first.dtype, size/max(first.dtype.Size(), 1)))
	off := 0
	for _, t := range ts {
		off += copy(out.buf[off:], t.buf)
	}
	return out, nil
}

// IndexDim returns a copy of t with dimension dim fixed at i (the dimension removed), like
// t[:, i] for dim 1. Index is the view-returning form for dim 0.
func (t *Tensor) IndexDim(dim, i int) (*Tensor, error) {
	if dim < 0 || dim >= len(t.shape) {
		return nil, fmt.Errorf("tensor: dimension %d out of range for shape %v", dim, t.shape)
	}
	if i < 0 || i >= t.shape[dim] {
		return nil, fmt.Errorf("tensor: index %d out of range for dimension %d of shape %v", i, dim, t.shape)
	}
	outer := 1
	for _, d := range t.shape[:dim] {
		outer *= d
	}
	inner := t.dtype.Size()
	for _, d := range t.shape[dim+1:] {
		inner *= d
	}
	sh := append(slices.Clone(t.shape[:dim]), t.shape[dim+1:]...)
	out := mk(t.dtype, sh, alloc(t.dtype, outer*inner/max(t.dtype.Size(), 1)))
	n := t.shape[dim]
	for o := 0; o < outer; o++ {
		copy(out.buf[o*inner:(o+1)*inner], t.buf[(o*n+i)*inner:(o*n+i+1)*inner])
	}
	return out, nil
}

// SameMemory reports whether a and b view exactly the same bytes.
func SameMemory(a, b *Tensor) bool {
	if len(a.buf) != len(b.buf) {
		return false
	}
	return len(a.buf) == 0 || &a.buf[0] == &b.buf[0]
}

// GatherInto copies rows idx of t's leading dimension into dst ([len(idx)] + t's other dims):
// Gather without allocating.
func (t *Tensor) GatherInto(dst *Tensor, idx []int) error {
	if len(t.shape) == 0 || dst.dtype != t.dtype || len(dst.shape) != len(t.shape) ||
		dst.shape[0] != len(idx) || !slices.Equal(dst.shape[1:], t.shape[1:]) {
		return fmt.Errorf("tensor: cannot gather %d rows of %v %v into %v %v", len(idx), t.dtype, t.shape, dst.dtype, dst.shape)
	}
	rb := t.rowBytes()
	for j, i := range idx {
		if i < 0 || i >= t.shape[0] {
			return fmt.Errorf("tensor: gather index %d out of range for shape %v", i, t.shape)
		}
		copy(dst.buf[j*rb:(j+1)*rb], t.buf[i*rb:(i+1)*rb])
	}
	return nil
}
