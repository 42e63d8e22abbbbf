package nn

import (
	"fmt"
	"slices"
)

type sliceColsOp struct {
	x, y   *Value
	lo, hi int
}

func (o *sliceColsOp) backward() {
	n, c, w := o.x.Shape[0], o.x.Shape[1], o.hi-o.lo
	for r := 0; r < n; r++ {
		gx := o.x.Grad[r*c+o.lo : r*c+o.hi]
		for j, v := range o.y.Grad[r*w : (r+1)*w] {
			gx[j] += v
		}
	}
}

type sliceRowsOp struct {
	x, y *Value
	off  int
}

func (o *sliceRowsOp) backward() {
	gx := o.x.Grad[o.off : o.off+len(o.y.Grad)]
	for i, v := range o.y.Grad {
		gx[i] += v
	}
}

type concatRowsOp struct {
	xs []*Value
	y  *Value
}

func (o *concatRowsOp) backward() {
	off := 0
	for _, x := range o.xs {
		if x.Grad != nil {
			for i := range x.Grad {
				x.Grad[i] += o.y.Grad[off+i]
			}
		}
		off += len(x.Data)
	}
}

// SliceCols returns columns [lo, hi) of a 2-D value [N, C] as [N, hi-lo] (a copy).
func (g *Graph) SliceCols(x *Value, lo, hi int) *Value {
	if len(x.Shape) != 2 || lo < 0 || hi > x.Shape[1] || lo >= hi {
		panic(fmt.Sprintf("nn: SliceCols [%d, %d) of %v", lo, hi, x.Shape))
	}
	n, c, w := x.Shape[0], x.Shape[1], hi-lo
	y := g.value(needsGrad(x), n, w)
	for r := 0; r < n; r++ {
		copy(y.Data[r*w:(r+1)*w], x.Data[r*c+lo:r*c+hi])
	}
	if y.Grad != nil {
		o := record[sliceColsOp](g)
		*o = sliceColsOp{x, y, lo, hi}
	}
	return y
}

// SliceRows returns rows [lo, hi) of x (rows are the leading dimension, any rank) as a copy of
// shape [hi-lo, ...]: one time step of a time-major [T*B, ...] value.
func (g *Graph) SliceRows(x *Value, lo, hi int) *Value {
	if len(x.Shape) == 0 || lo < 0 || hi > x.Shape[0] || lo >= hi {
		panic(fmt.Sprintf("nn: SliceRows [%d, %d) of %v", lo, hi, x.Shape))
	}
	w := len(x.Data) / x.Shape[0]
	var buf [8]int // the shape on the stack for ranks up to 8: no allocation per step
	shape := append(append(buf[:0], hi-lo), x.Shape[1:]...)
	y := g.value(needsGrad(x), shape...)
	copy(y.Data, x.Data[lo*w:hi*w])
	if y.Grad != nil {
		o := record[sliceRowsOp](g)
		*o = sliceRowsOp{x, y, lo * w}
	}
	return y
}

// ConcatRows stacks values with equal trailing shapes along the leading dimension: the
// per-step outputs of a recurrent core back into one time-major [T*B, ...] value.
func (g *Graph) ConcatRows(xs ...*Value) *Value {
	rows, grad := 0, false
	for _, x := range xs {
		if len(x.Shape) == 0 || !slices.Equal(x.Shape[1:], xs[0].Shape[1:]) {
			panic(fmt.Sprintf("nn: ConcatRows of %v and %v", xs[0].Shape, x.Shape))
		}
		rows += x.Shape[0]
		grad = grad || x.Grad != nil
	}
	var buf [8]int
	shape := append(append(buf[:0], rows), xs[0].Shape[1:]...)
	y := g.value(grad, shape...)
	off := 0
	for _, x := range xs {
		off += copy(y.Data[off:], x.Data)
	}
	if y.Grad != nil {
		o := record[concatRowsOp](g)
		o.xs = append(o.xs[:0], xs...)
		o.y = y
	}
	return y
}
