package tensor

import (
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

func TestNewAndShapes(t *testing.T) {
	for _, tc := range []struct {
		d     DType
		shape []int
		n     int
	}{{Float32, []int{2, 3}, 6}, {Int64, nil, 1}, {Uint8, []int{0, 5}, 0}, {Bool, []int{4}, 4}, {Float64, []int{2, 1, 3}, 6}} {
		x, err := New(tc.d, tc.shape...)
		if err != nil {
			t.Fatal(err)
		}
		if x.Len() != tc.n || len(x.Bytes()) != tc.n*tc.d.Size() || !slices.Equal(x.Shape(), tc.shape) && len(tc.shape) > 0 {
			t.Errorf("New(%v, %v): len %d bytes %d shape %v", tc.d, tc.shape, x.Len(), len(x.Bytes()), x.Shape())
		}
		if tc.n > 0 && uintptr(unsafe.Pointer(&x.Bytes()[0]))%uintptr(tc.d.Size()) != 0 {
			t.Errorf("New(%v) is not aligned", tc.d)
		}
	}
	if _, err := New(Float32, 2, -1); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative dim: %v", err)
	}
	if _, err := New(Invalid, 2); err == nil {
		t.Error("invalid dtype accepted")
	}
	if _, err := New(Float32, 1<<40, 1<<40); err == nil {
		t.Error("overflowing shape accepted")
	}
	if _, err := FromSlice([]float32{1, 2, 3}, 2, 2); err == nil || !strings.Contains(err.Error(), "3 elements") {
		t.Errorf("FromSlice mismatch: %v", err)
	}
	if _, err := Data[int64](Zeros(Float32, 2)); err == nil || !strings.Contains(err.Error(), "float32") {
		t.Errorf("Data with the wrong type: %v", err)
	}
	for _, name := range []string{"float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"} {
		d, err := ParseDType(name)
		if err != nil || d.String() != name {
			t.Errorf("ParseDType(%q) = %v, %v", name, d, err)
		}
	}
	if _, err := ParseDType("half"); err == nil {
		t.Error("ParseDType(half) succeeded")
	}
}

func TestViewsShareCopiesDoNot(t *testing.T) {
	x := Of([]int32{0, 1, 2, 3, 4, 5}, 3, 2)
	row := x.Index(1)
	MustData[int32](row)[0] = 100
	if MustData[int32](x)[2] != 100 {
		t.Error("write through Index view not seen in parent")
	}
	sl := x.Slice(1, 3)
	if !slices.Equal(sl.Shape(), []int{2, 2}) || MustData[int32](sl)[3] != 5 {
		t.Errorf("Slice(1,3) = %v", sl)
	}
	MustData[int32](x)[5] = 50
	if MustData[int32](sl)[3] != 50 {
		t.Error("write to parent not seen through Slice view")
	}
	r, err := x.Reshape(-1)
	if err != nil || !slices.Equal(r.Shape(), []int{6}) {
		t.Fatalf("Reshape(-1) = %v, %v", r, err)
	}
	MustData[int32](r)[0] = -7
	if MustData[int32](x)[0] != -7 {
		t.Error("Reshape is not a view")
	}
	c := x.Clone()
	MustData[int32](c)[0] = 99
	if MustData[int32](x)[0] == 99 {
		t.Error("Clone shares memory")
	}
	g, _ := x.Gather([]int{2, 0})
	MustData[int32](g)[0] = 1234
	if MustData[int32](x)[4] == 1234 {
		t.Error("Gather shares memory")
	}
	// A view cannot grow into its parent's memory by append.
	v := MustData[int32](x.Index(0))
	if cap(v) != 2 {
		t.Errorf("row view has capacity %d, want 2", cap(v))
	}
}

func TestReshapeErrors(t *testing.T) {
	x := Zeros(Float32, 2, 3)
	for _, sh := range [][]int{{4}, {-1, 4}, {-1, -1}, {2, -2}} {
		if _, err := x.Reshape(sh...); err == nil {
			t.Errorf("Reshape(%v) of [2 3] succeeded", sh)
		}
	}
	if y, err := x.Reshape(3, -1); err != nil || !slices.Equal(y.Shape(), []int{3, 2}) {
		t.Errorf("Reshape(3,-1) = %v, %v", y, err)
	}
}

func TestConversions(t *testing.T) {
	x := Of([]float64{-1.7, 0, 2.9, 300})
	for _, tc := range []struct {
		d    DType
		want []float64
	}{
		{Int64, []float64{-1, 0, 2, 300}},
		{Int16, []float64{-1, 0, 2, 300}},
		{Float32, []float64{float64(float32(-1.7)), 0, float64(float32(2.9)), 300}},
		{Bool, []float64{1, 0, 1, 1}},
	} {
		y, err := x.To(tc.d)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range tc.want {
			if y.At(i) != w {
				t.Errorf("To(%v)[%d] = %v, want %v", tc.d, i, y.At(i), w)
			}
		}
	}
	b := Of([]bool{true, false})
	f, _ := b.To(Float32)
	if MustData[float32](f)[0] != 1 || MustData[float32](f)[1] != 0 {
		t.Errorf("bool to float32 = %v", f)
	}
	z := Zeros(Uint8, 3)
	z.SetAt(1, 7)
	z.Fill(2)
	if z.At(0) != 2 || z.At(2) != 2 {
		t.Errorf("Fill(2) = %v", z)
	}
	n := Of([]float32{float32(math.NaN())})
	if !Equal(n, n.Clone()) {
		t.Error("NaN tensor differs from its clone bitwise")
	}
}

func TestGatherMaskStackCatSetRows(t *testing.T) {
	x := Of([]int64{0, 1, 10, 11, 20, 21}, 3, 2)
	g, err := x.Gather([]int{2, 2, 0})
	if err != nil || !slices.Equal(MustData[int64](g), []int64{20, 21, 20, 21, 0, 1}) {
		t.Errorf("Gather = %v, %v", g, err)
	}
	if _, err := x.Gather([]int{3}); err == nil {
		t.Error("Gather out of range succeeded")
	}
	m, err := x.Mask([]bool{false, true, true})
	if err != nil || !slices.Equal(MustData[int64](m), []int64{10, 11, 20, 21}) {
		t.Errorf("Mask = %v, %v", m, err)
	}
	if _, err := x.Mask([]bool{true}); err == nil {
		t.Error("short mask accepted")
	}
	s, err := Stack([]*Tensor{x.Index(0), x.Index(2)})
	if err != nil || !slices.Equal(s.Shape(), []int{2, 2}) || !slices.Equal(MustData[int64](s), []int64{0, 1, 20, 21}) {
		t.Errorf("Stack = %v, %v", s, err)
	}
	if _, err := Stack([]*Tensor{x.Index(0), Zeros(Int64, 3)}); err == nil {
		t.Error("Stack of different shapes succeeded")
	}
	c, err := Cat([]*Tensor{x, x.Slice(0, 1)})
	if err != nil || !slices.Equal(c.Shape(), []int{4, 2}) || MustData[int64](c)[6] != 0 {
		t.Errorf("Cat = %v, %v", c, err)
	}
	if _, err := Cat([]*Tensor{x, Zeros(Int64, 2, 3)}); err == nil {
		t.Error("Cat of different row shapes succeeded")
	}
	if err := x.SetRows([]int{1}, Of([]int64{7, 8}, 1, 2)); err != nil || MustData[int64](x)[2] != 7 {
		t.Errorf("SetRows: %v, %v", err, x)
	}
	if err := x.SetRows([]int{1}, Of([]int32{7, 8}, 1, 2)); err == nil {
		t.Error("SetRows with another dtype succeeded")
	}
}
