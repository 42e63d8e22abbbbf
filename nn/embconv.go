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
	idx  []int32     // every plane's indices, as rows of t
	b    [][]float32 // per table: the kernel rearranged to [d][k*k*O]
	used [][]int32   // per table: the entries the planes look up, in order of first use
	pos  [][]int32   // per table: each entry's place in used, -1 when unused
	eu   [][]float32 // per table: the used entries' embeddings [len(used)][d]
	t    []float32   // [rows][k*k][O]: each used entry's contribution through the kernel
	gu   []float32   // scratch: the used entries' gradient [len(used)][d]
	dt   []float32
	db   []float32
	acc  []float32
}

// EmbeddingConv2d is conv applied to embedded index planes: for idx[e] (n*h*w indices into
// embs[e], row-major [n][h][w]) it returns, as [n, O, OH, OW],
//
//	conv(x), x [n, C, h, w] the channel-wise concatenation of embs[e](idx[e]) (C = Σ d_e),
//
// without forming x or its im2col matrix: each looked-up table entry's contribution through
// every kernel offset is one small GEMM (used entries x d by d x k*k*O; entries no plane looks
// up are skipped, so a table of MiniHack's 5,977 glyphs costs what its few dozen visible ones
// do), and the convolution becomes row sums of those contributions, k*k*E rows of O per output
// position instead of a k*k*C x O product.
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
	for len(o.b) < len(embs) {
		o.b, o.used, o.pos, o.eu = append(o.b, nil), append(o.used, nil), append(o.pos, nil), append(o.eu, nil)
	}
	// The entries each plane looks up, and the planes' indices as rows of t.
	o.idx = o.idx[:0]
	rows := 0
	for i, e := range embs {
		V := e.W.Shape[0]
		pos := o.pos[i]
		if cap(pos) < V {
			pos = make([]int32, V)
		}
		pos = pos[:V]
		for j := range pos {
			pos[j] = -1
		}
		used := o.used[i][:0]
		for _, v := range idx[i] {
			if v < 0 || v >= V {
				panic(fmt.Sprintf("nn: embedding index %d out of range [0, %d)", v, V))
			}
			if pos[v] < 0 {
				pos[v] = int32(len(used))
				used = append(used, int32(v))
			}
			o.idx = append(o.idx, int32(rows)+pos[v])
		}
		o.pos[i], o.used[i] = pos, used
		rows += len(used)
	}
	o.t = grow(o.t, rows*kkO)
	o.acc = grow(o.acc, O)
	be := blas.Default()
	row, ch := 0, 0
	for i, e := range embs {
		d, U := e.W.Shape[1], len(o.used[i])
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
		eu := grow(o.eu[i], U*d)
		o.eu[i] = eu
		for u, v := range o.used[i] {
			copy(eu[u*d:(u+1)*d], e.W.Data[int(v)*d:(int(v)+1)*d])
		}
		if U > 0 {
			be.Sgemm(false, false, U, kkO, d, 1, eu, d, b, kkO, 0, o.t[row*kkO:], kkO)
		}
		row, ch = row+U, ch+d
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
		dd, U := e.W.Shape[1], len(o.used[i])
		if U == 0 {
			ch += dd
			continue
		}
		dt := o.dt[row*kkO : (row+U)*kkO]
		// The kernel's gradient through table i: db = E_used^T dT, scattered back to W's layout
		// (its padding row counts here, as the embedded input's zeros do in Conv2d).
		o.db = grow(o.db, dd*kkO)
		db := o.db
		be.Sgemm(true, false, dd, kkO, U, 1, o.eu[i], dd, dt, kkO, 0, db, kkO)
		for oc := range O {
			for c := range dd {
				for dq := range k * k {
					conv.W.Grad[(oc*C+ch+c)*k*k+dq] += db[c*kkO+dq*O+oc]
				}
			}
		}
		if e.PaddingIdx >= 0 && o.pos[i][e.PaddingIdx] >= 0 {
			p := int(o.pos[i][e.PaddingIdx])
			clear(dt[p*kkO : (p+1)*kkO])
		}
		// dE_used = dT b^T, added to the used entries' rows of the table's gradient.
		o.gu = grow(o.gu, U*dd)
		be.Sgemm(false, true, U, dd, kkO, 1, dt, kkO, o.b[i], kkO, 0, o.gu, dd)
		for u, v := range o.used[i] {
			g, w := o.gu[u*dd:(u+1)*dd], e.W.Grad[int(v)*dd:(int(v)+1)*dd]
			for c := range g {
				w[c] += g[c]
			}
		}
		row, ch = row+U, ch+dd
	}
}
