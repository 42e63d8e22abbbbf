package tensor

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"
)

// DType is an element type.
type DType uint8

// The element types.
const (
	Invalid DType = iota
	Float32
	Float64
	Int64
	Int32
	Int16
	Int8
	Uint8
	Bool
	numDTypes
)

var dtypeNames = [numDTypes]string{"invalid", "float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"}
var dtypeSizes = [numDTypes]int{0, 4, 8, 8, 4, 2, 1, 1, 1}

// String returns the dtype's name as NumPy and PyTorch spell it.
func (d DType) String() string {
	if d >= numDTypes {
		return fmt.Sprintf("DType(%d)", uint8(d))
	}
	return dtypeNames[d]
}

// Size returns the bytes per element.
func (d DType) Size() int {
	if d >= numDTypes {
		return 0
	}
	return dtypeSizes[d]
}

// Valid reports whether d is one of the element types.
func (d DType) Valid() bool { return d > Invalid && d < numDTypes }

// ParseDType returns the dtype named s ("float32", ...).
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if i > 0 && n == s {
			return DType(i), nil
		}
	}
	return Invalid, fmt.Errorf("tensor: unknown dtype %q; valid: %s", s, strings.Join(dtypeNames[1:], ", "))
}

// Elem is the set of Go element types a Tensor can hold.
type Elem interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~int16 | ~int8 | ~uint8 | ~bool
}

// DTypeOf returns the dtype of Go type T.
func DTypeOf[T Elem]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int64:
		return Int64
	case int32:
		return Int32
	case int16:
		return Int16
	case int8:
		return Int8
	case uint8:
		return Uint8
	case bool:
		return Bool
	}
	panic(fmt.Sprintf("tensor: type %T has no dtype", z))
}

// Tensor is a dense row-major array. The zero value is not usable; use New or FromSlice.
type Tensor struct {
	dtype DType
	shape []int  // points into dims when it fits: one allocation per tensor header
	buf   []byte // len = Len() * dtype.Size()
	dims  [inlineDims]int
}

const inlineDims = 6

// mk builds a tensor header, copying shape (the caller keeps its slice).
func mk(d DType, shape []int, buf []byte) *Tensor {
	t := &Tensor{dtype: d, buf: buf}
	if len(shape) <= inlineDims {
		t.shape = t.dims[:len(shape):len(shape)]
		copy(t.shape, shape)
	} else {
		t.shape = slices.Clone(shape)
	}
	return t
}

// numel returns the product of shape, or an error for negative dims or overflow.
func numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("tensor: negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt32*64/d {
			return 0, fmt.Errorf("tensor: shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// alloc returns zeroed memory for n elements of dtype d, aligned for d.
func alloc(d DType, n int) []byte {
	size := n * d.Size()
	if size == 0 {
		return []byte{}
	}
	var b []byte
	switch d.Size() {
	case 8:
		s := make([]uint64, n)
		b = unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), size)
	case 4:
		s := make([]uint32, n)
		b = unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), size)
	case 2:
		s := make([]uint16, n)
		b = unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), size)
	default:
		b = make([]byte, size)
	}
	return b
}

// New returns a zero-filled tensor of dtype d and the given shape.
func New(d DType, shape ...int) (*Tensor, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("tensor: invalid dtype %v", d)
	}
	n, err := numel(shape)
	if err != nil {
		return nil, err
	}
	return mk(d, shape, alloc(d, n)), nil
}

// Zeros is New for shapes known to be valid; it panics on a negative dimension.
func Zeros(d DType, shape ...int) *Tensor {
	t, err := New(d, shape...)
	if err != nil {
		panic(err)
	}
	return t
}

// FromSlice wraps data (no copy: the tensor aliases it) with the given shape; with no shape
// the tensor is 1-D of len(data).
func FromSlice[T Elem](data []T, shape ...int) (*Tensor, error) {
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	n, err := numel(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("tensor: %d elements do not fill shape %v (%d elements)", len(data), shape, n)
	}
	d := DTypeOf[T]()
	var buf []byte
	if n == 0 {
		buf = []byte{}
	} else {
		buf = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), n*d.Size())
	}
	return mk(d, shape, buf), nil
}

// Of is FromSlice for literal data known to fit; it panics otherwise.
func Of[T Elem](data []T, shape ...int) *Tensor {
	t, err := FromSlice(data, shape...)
	if err != nil {
		panic(err)
	}
	return t
}

// FromBytes wraps raw machine-order bytes as a tensor (no copy). The bytes must be aligned for
// the dtype; unaligned input is copied.
func FromBytes(d DType, shape []int, b []byte) (*Tensor, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("tensor: invalid dtype %v", d)
	}
	n, err := numel(shape)
	if err != nil {
		return nil, err
	}
	if len(b) != n*d.Size() {
		return nil, fmt.Errorf("tensor: %d bytes for shape %v of %v, want %d", len(b), shape, d, n*d.Size())
	}
	if len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%uintptr(d.Size()) != 0 {
		nb := alloc(d, n)
		copy(nb, b)
		b = nb
	}
	return mk(d, shape, b), nil
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of the shape.
func (t *Tensor) Shape() []int { return slices.Clone(t.shape) }

// NumDims returns the number of dimensions.
func (t *Tensor) NumDims() int { return len(t.shape) }

// HasPrefix reports whether the shape starts with dims.
func (t *Tensor) HasPrefix(dims []int) bool {
	return len(t.shape) >= len(dims) && slices.Equal(t.shape[:len(dims)], dims)
}

// Dim returns the size of dimension i.
func (t *Tensor) Dim(i int) int { return t.shape[i] }

// Len returns the number of elements.
func (t *Tensor) Len() int {
	if t.dtype.Size() == 0 {
		return 0
	}
	return len(t.buf) / t.dtype.Size()
}

// Bytes returns the raw data in machine byte order (a view).
func (t *Tensor) Bytes() []byte { return t.buf }

// Data returns the elements as a []T view; it fails when T does not match the dtype.
func Data[T Elem](t *Tensor) ([]T, error) {
	if d := DTypeOf[T](); d != t.dtype {
		var z T
		return nil, fmt.Errorf("tensor: %v tensor %v read as %T", t.dtype, t.shape, z)
	}
	return view[T](t.buf), nil
}

// MustData is Data for callers that know the dtype; it panics on a mismatch.
func MustData[T Elem](t *Tensor) []T {
	s, err := Data[T](t)
	if err != nil {
		panic(err)
	}
	return s
}

func view[T Elem](b []byte) []T {
	var z T
	if len(b) == 0 {
		return []T{}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/int(unsafe.Sizeof(z)))
}

// rowBytes returns the bytes per index of the leading dimension.
func (t *Tensor) rowBytes() int {
	n := t.dtype.Size()
	for _, d := range t.shape[1:] {
		n *= d
	}
	return n
}

func (t *Tensor) checkDims(op string) {
	if len(t.shape) == 0 {
		panic(fmt.Sprintf("tensor: %s of a 0-d tensor", op))
	}
}

// Index returns row i of the leading dimension as a view with one dimension less.
func (t *Tensor) Index(i int) *Tensor {
	t.checkDims("Index")
	if i < 0 || i >= t.shape[0] {
		panic(fmt.Sprintf("tensor: index %d out of range for shape %v", i, t.shape))
	}
	rb := t.rowBytes()
	return mk(t.dtype, t.shape[1:], t.buf[i*rb:(i+1)*rb:(i+1)*rb])
}

// Slice returns rows [lo, hi) of the leading dimension as a view.
func (t *Tensor) Slice(lo, hi int) *Tensor {
	t.checkDims("Slice")
	if lo < 0 || hi < lo || hi > t.shape[0] {
		panic(fmt.Sprintf("tensor: slice [%d:%d] out of range for shape %v", lo, hi, t.shape))
	}
	rb := t.rowBytes()
	sh := slices.Clone(t.shape)
	sh[0] = hi - lo
	return mk(t.dtype, sh, t.buf[lo*rb:hi*rb:hi*rb])
}

// Reshape returns a view with a new shape of the same number of elements; one dimension may be
// -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	sh := slices.Clone(shape)
	infer := -1
	known := 1
	for i, d := range sh {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("tensor: cannot reshape %v to %v: bad dimension %d", t.shape, shape, d)
		default:
			known *= d
		}
	}
	n := t.Len()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("tensor: cannot reshape %v (%d elements) to %v", t.shape, n, shape)
		}
		sh[infer] = n / known
	}
	if m, err := numel(sh); err != nil || m != n {
		return nil, fmt.Errorf("tensor: cannot reshape %v (%d elements) to %v", t.shape, n, shape)
	}
	return mk(t.dtype, sh, t.buf), nil
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	b := alloc(t.dtype, t.Len())
	copy(b, t.buf)
	return mk(t.dtype, t.shape, b)
}

// CopyFrom copies src's data into t; shapes and dtypes must match.
func (t *Tensor) CopyFrom(src *Tensor) error {
	if src.dtype != t.dtype || !slices.Equal(src.shape, t.shape) {
		return fmt.Errorf("tensor: cannot copy %v %v into %v %v", src.dtype, src.shape, t.dtype, t.shape)
	}
	copy(t.buf, src.buf)
	return nil
}

// Zero sets every element to zero.
func (t *Tensor) Zero() { clear(t.buf) }

// SameShape reports whether a and b have equal shapes.
func SameShape(a, b *Tensor) bool { return slices.Equal(a.shape, b.shape) }

// Equal reports whether a and b have the same dtype, shape and bytes (so NaNs with equal bits
// are equal and 0.0 differs from -0.0).
func Equal(a, b *Tensor) bool {
	return a.dtype == b.dtype && slices.Equal(a.shape, b.shape) && string(a.buf) == string(b.buf)
}

// String renders a short description with the first elements.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tensor(%v, %v, [", t.dtype, t.shape)
	for i := 0; i < min(t.Len(), 8); i++ {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprint(&b, t.At(i))
	}
	if t.Len() > 8 {
		b.WriteString(" ...")
	}
	b.WriteString("])")
	return b.String()
}

// Scalar returns a 0-d tensor holding v.
func Scalar[T Elem](v T) *Tensor {
	t := Zeros(DTypeOf[T](), []int{}...)
	view[T](t.buf)[0] = v
	return t
}
