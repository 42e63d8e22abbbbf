package nn

import (
	"fmt"

	"github.com/maestro-rl/maestro/nn/internal/blas"
	"github.com/maestro-rl/maestro/nn/internal/kern"
)

type embConvOp struct {
	embs []*EmbeddingLayer
	conv *Conv2dLayer
	y    *Value
	dims kern.EmbConv
	idx  []int32     // every plane's indices, offset to its table's rows in t
	b    [][]float32 // per table: the kernel rearranged to [d][k*k*O]
	t    []float32   // [rows][k*k][O]: each table entry's contribution through the kernel
	dt   []float32
	db   []float32
	acc  []float32
}

// EmbeddingConv2d is conv applied to embedded index planes: for idx[e] (n*h*w indices into
// embs[e], row-major [n][h][w]) it returns, as [n, O, OH, OW],
//
//	conv(x), x [n, C, h, w] the channel-wise concatenation of embs[e](idx[e]) (C = Σ d_e),
//
// without forming x or its im2col matrix: each table entry's contribution through every kernel
// offset is one small GEMM (entries x d by d x k*k*O), and the convolution becomes row sums of
// those contributions, k*k*E rows of O per output position instead of a k*k*C x O product.
// Zero padding contributes nothing, as in Conv2d. Gradients reach the tables (not their
// padding rows) and the kernel and bias.
func (g *Graph) EmbeddingConv2d(embs []*EmbeddingLayer, idx [][]int, n, h, w int, conv *Conv2dLayer) *Value {
	O, C, k := conv.W.Shape[0], conv.W.Shape[1], conv.W.Shape[2]
	if len(embs) == 0 || len(idx) != len(embs) {
		panic(fmt.Sprintf("nn: EmbeddingConv2d needs one index plane per table, got %d tables and %d planes", len(embs), len(idx)))
	}
	sum := 0
	for i, e := range embs {
		sum += e.W.Shape[1]
		if len(idx[i]) != n*h*w {
			panic(fmt.Sprintf("nn: EmbeddingConv2d plane %d has %d indices for [%d, %d, %d]", i, len(idx[i]), n, h, w))
		}
	}
	if sum != C {
		panic(fmt.Sprintf("nn: EmbeddingConv2d: the tables' widths add up to %d, the kernel %v takes %d channels", sum, conv.W.Shape, C))
	}
	OH, OW := conv.OutSize(h), conv.OutSize(w)
	if OH <= 0 || OW <= 0 {
		panic(fmt.Sprintf("nn: EmbeddingConv2d kernel %d stride %d padding %d does not fit [%d, %d]", k, conv.Stride, conv.Padding, h, w))
	}
	y := g.valueFull(true, n, O, OH, OW) // EmbConvForward writes every element
	o := record[embConvOp](g)
	o.embs, o.conv, o.y = append(o.embs[:0], embs...), conv, y
	o.dims = kern.EmbConv{E: len(embs), N: n, H: h, W: w, K: k, Stride: conv.Stride, Pad: conv.Padding, OH: OH, OW: OW, O: O}
	kkO := k * k * O
	rows := 0
	for _, e := range embs {
		rows += e.W.Shape[0]
	}
	o.t = grow(o.t, rows*kkO)
	o.acc = grow(o.acc, O)
	o.idx = o.idx[:0]
	for len(o.b) < len(embs) {
		o.b = append(o.b, nil)
	}
	be := blas.Default()
	row, ch := 0, 0
	for i, e := range embs {
		V, d := e.W.Shape[0], e.W.Shape[1]
		// b[c][dq*O + o] = W[o][ch+c][dq]
		b := grow(o.b[i], d*kkO)
		o.b[i] = b
		for oc := range O {
			for c := range d {
				for dq := range k * k {
					b[c*kkO+dq*O+oc] = conv.W.Data[(oc*C+ch+c)*k*k+dq]
				}
			}
		}
		be.Sgemm(false, false, V, kkO, d, 1, e.W.Data, d, b, kkO, 0, o.t[row*kkO:], kkO)
		for _, v := range idx[i] {
			if v < 0 || v >= V {
				panic(fmt.Sprintf("nn: embedding index %d out of range [0, %d)", v, V))
			}
			o.idx = append(o.idx, int32(v+row))
		}
		row, ch = row+V, ch+d
	}
	kern.EmbConvForward(o.dims, o.t, o.idx, conv.B.Data, o.acc, y.Data)
	return y
}

func (o *embConvOp) backward() {
	conv, d := o.conv, o.dims
	O, C, k := d.O, conv.W.Shape[1], d.K
	kkO := k * k * O
	o.dt = grow(o.dt, len(o.t))
	clear(o.dt)
	kern.EmbConvBackward(d, o.y.Grad, o.idx, o.acc, o.dt, conv.B.Grad)
	be := blas.Default()
	row, ch := 0, 0
	for i, e := range o.embs {
		V, dd := e.W.Shape[0], e.W.Shape[1]
		dt := o.dt[row*kkO : (row+V)*kkO]
		// The kernel's gradient through table i: db = E^T dT, scattered back to W's layout
		// (its padding row counts here, as the embedded input's zeros do in Conv2d).
		o.db = grow(o.db, dd*kkO)
		db := o.db
		be.Sgemm(true, false, dd, kkO, V, 1, e.W.Data, dd, dt, kkO, 0, db, kkO)
		for oc := range O {
			for c := range dd {
				for dq := range k * k {
					conv.W.Grad[(oc*C+ch+c)*k*k+dq] += db[c*kkO+dq*O+oc]
				}
			}
		}
		if e.PaddingIdx >= 0 {
			clear(dt[e.PaddingIdx*kkO : (e.PaddingIdx+1)*kkO])
		}
		be.Sgemm(false, true, V, dd, kkO, 1, dt, kkO, o.b[i], kkO, 1, e.W.Grad, dd) // dE += dT b^T
		row, ch = row+V, ch+dd
	}
}
