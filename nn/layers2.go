package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/maestro-rl/maestro/nn/internal/kern"
)

type sliceColsOp struct {
	x, y   *Value
	lo, hi int
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

func (o *sliceColsOp) backward() {
	n, c, w := o.x.Shape[0], o.x.Shape[1], o.hi-o.lo
	for r := 0; r < n; r++ {
		gx := o.x.Grad[r*c+o.lo : r*c+o.hi]
		for j, v := range o.y.Grad[r*w : (r+1)*w] {
			gx[j] += v
		}
	}
}

type subOp struct{ a, b, y *Value }

// Sub returns a - b (same shapes).
func (g *Graph) Sub(a, b *Value) *Value {
	if len(a.Data) != len(b.Data) {
		panic(shapeErr("Sub", a.Shape, b.Shape))
	}
	y := g.value(needsGrad(a, b), a.Shape...)
	for i := range y.Data {
		y.Data[i] = a.Data[i] - b.Data[i]
	}
	if y.Grad != nil {
		o := record[subOp](g)
		*o = subOp{a, b, y}
	}
	return y
}

func (o *subOp) backward() {
	if o.a.Grad != nil {
		for i, gy := range o.y.Grad {
			o.a.Grad[i] += gy
		}
	}
	if o.b.Grad != nil {
		for i, gy := range o.y.Grad {
			o.b.Grad[i] -= gy
		}
	}
}

// ---- LayerNorm -----------------------------------------------------------------------------

type layerNormOp struct {
	x, y        *Value
	gamma, beta *Param
	xhat, rstd  []float32
	eps         float32
}

// LayerNormLayer normalises the last dimension and applies a learned scale and shift, as
// torch.nn.LayerNorm (eps 1e-5, biased variance).
type LayerNormLayer struct {
	Gamma, Beta *Param
	Eps         float32
}

// NewLayerNorm returns a layer over d features (scale 1, shift 0).
func NewLayerNorm(name string, d int) (*LayerNormLayer, error) {
	if d <= 0 {
		return nil, fmt.Errorf("nn: LayerNorm %s needs a positive size, got %d", name, d)
	}
	l := &LayerNormLayer{Gamma: NewParam(name+".weight", d), Beta: NewParam(name+".bias", d), Eps: 1e-5}
	for i := range l.Gamma.Data {
		l.Gamma.Data[i] = 1
	}
	return l, nil
}

// Params returns the scale and shift.
func (l *LayerNormLayer) Params() []*Param { return []*Param{l.Gamma, l.Beta} }

// Forward normalises x [..., d].
func (l *LayerNormLayer) Forward(g *Graph, x *Value) *Value {
	d := x.Dim(-1)
	if d != l.Gamma.Len() {
		panic(fmt.Sprintf("nn: LayerNorm of %d features applied to %v", l.Gamma.Len(), x.Shape))
	}
	y := g.value(true, x.Shape...)
	o := record[layerNormOp](g)
	rows := x.Len() / d
	o.x, o.y, o.gamma, o.beta, o.eps = x, y, l.Gamma, l.Beta, l.Eps
	o.xhat = grow(o.xhat, x.Len())
	o.rstd = grow(o.rstd, rows)
	for r := 0; r < rows; r++ {
		xr := x.Data[r*d : (r+1)*d]
		var mu, v float64
		for _, a := range xr {
			mu += float64(a)
		}
		mu /= float64(d)
		for _, a := range xr {
			v += (float64(a) - mu) * (float64(a) - mu)
		}
		rstd := float32(1 / math.Sqrt(v/float64(d)+float64(l.Eps)))
		o.rstd[r] = rstd
		for j, a := range xr {
			xh := (a - float32(mu)) * rstd
			o.xhat[r*d+j] = xh
			y.Data[r*d+j] = xh*l.Gamma.Data[j] + l.Beta.Data[j]
		}
	}
	return y
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

func (o *layerNormOp) backward() {
	d := o.gamma.Len()
	rows := o.x.Len() / d
	for r := 0; r < rows; r++ {
		gy := o.y.Grad[r*d : (r+1)*d]
		xh := o.xhat[r*d : (r+1)*d]
		var s1, s2 float32
		for j := range gy {
			o.gamma.Grad[j] += gy[j] * xh[j]
			o.beta.Grad[j] += gy[j]
			dxh := gy[j] * o.gamma.Data[j]
			s1 += dxh
			s2 += dxh * xh[j]
		}
		if o.x.Grad == nil {
			continue
		}
		k := o.rstd[r] / float32(d)
		for j := range gy {
			dxh := gy[j] * o.gamma.Data[j]
			o.x.Grad[r*d+j] += k * (float32(d)*dxh - s1 - xh[j]*s2)
		}
	}
}

// ---- Embedding -----------------------------------------------------------------------------

type embeddingOp struct {
	w   *Param
	y   *Value
	idx []int
	pad int
}

// EmbeddingLayer maps indices to learned vectors, as torch.nn.Embedding (N(0, 1) init; the
// padding index, when >= 0, starts at zero and gets no gradient).
type EmbeddingLayer struct {
	W          *Param
	PaddingIdx int
}

// NewEmbedding returns a table of n vectors of size d; paddingIdx -1 means none.
func NewEmbedding(name string, n, d, paddingIdx int, rng *rand.Rand) (*EmbeddingLayer, error) {
	if n <= 0 || d <= 0 || paddingIdx >= n || paddingIdx < -1 {
		return nil, fmt.Errorf("nn: Embedding %s needs n, d > 0 and a padding index in [-1, n), got %d, %d, %d", name, n, d, paddingIdx)
	}
	e := &EmbeddingLayer{W: NewParam(name+".weight", n, d), PaddingIdx: paddingIdx}
	for i := range e.W.Data {
		e.W.Data[i] = float32(rng.NormFloat64())
	}
	if paddingIdx >= 0 {
		clear(e.W.Data[paddingIdx*d : (paddingIdx+1)*d])
	}
	return e, nil
}

// Params returns the table.
func (e *EmbeddingLayer) Params() []*Param { return []*Param{e.W} }

// Forward looks up idx (N indices) and returns [N, d]. An index out of range panics.
func (e *EmbeddingLayer) Forward(g *Graph, idx []int) *Value {
	n, d := e.W.Shape[0], e.W.Shape[1]
	y := g.value(true, len(idx), d)
	for r, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("nn: embedding index %d out of range [0, %d)", i, n))
		}
		copy(y.Data[r*d:(r+1)*d], e.W.Data[i*d:(i+1)*d])
	}
	o := record[embeddingOp](g)
	o.w, o.y, o.pad = e.W, y, e.PaddingIdx
	o.idx = append(o.idx[:0], idx...)
	return y
}

func (o *embeddingOp) backward() {
	d := o.w.Shape[1]
	for r, i := range o.idx {
		if i == o.pad {
			continue
		}
		gw := o.w.Grad[i*d : (i+1)*d]
		for j, v := range o.y.Grad[r*d : (r+1)*d] {
			gw[j] += v
		}
	}
}

// ---- GRU -----------------------------------------------------------------------------------

// GRUCell is torch.nn.GRUCell: r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 - z) ⊙ n + z ⊙ h, with PyTorch's
// parameter layout (weight_ih [3H, in] in r, z, n order, weight_hh [3H, H], biases [3H]) and
// initialisation (uniform in +-1/sqrt(H)).
type GRUCell struct {
	Wih, Whh, Bih, Bhh *Param
	H                  int
}

// NewGRUCell returns a cell from in features to a hidden state of h.
func NewGRUCell(name string, in, h int, rng *rand.Rand) (*GRUCell, error) {
	if in <= 0 || h <= 0 {
		return nil, fmt.Errorf("nn: GRU %s needs positive sizes, got in=%d hidden=%d", name, in, h)
	}
	c := &GRUCell{Wih: NewParam(name+".weight_ih", 3*h, in), Whh: NewParam(name+".weight_hh", 3*h, h),
		Bih: NewParam(name+".bias_ih", 3*h), Bhh: NewParam(name+".bias_hh", 3*h), H: h}
	bound := 1 / math.Sqrt(float64(h))
	for _, p := range c.Params() {
		for i := range p.Data {
			p.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return c, nil
}

// Params returns the cell's parameters in PyTorch's order.
func (c *GRUCell) Params() []*Param { return []*Param{c.Wih, c.Whh, c.Bih, c.Bhh} }

// Forward returns the next hidden state [N, H] from x [N, in] and h [N, H]. To start a new
// episode for some rows, multiply h by a keep mask first (Mul with 0 where an episode began).
func (c *GRUCell) Forward(g *Graph, x, h *Value) *Value {
	return c.Step(g, c.InputProjection(g, x), h)
}

// InputProjection returns W_ih x + b_ih [N, 3H]: the part of a step that does not depend on
// the state, so a sequence can project all its steps' inputs in one product and then Step
// through time.
func (c *GRUCell) InputProjection(g *Graph, x *Value) *Value { return g.Linear(x, c.Wih, c.Bih) }

// Step advances the state h [N, H] given the projected input gi [N, 3H]: the state's
// projection, then the gates in one fused op (GRUGates).
func (c *GRUCell) Step(g *Graph, gi, h *Value) *Value {
	return g.GRUGates(gi, g.Linear(h, c.Whh, c.Bhh), h)
}

type gruGatesOp struct {
	gi, gh, h, y *Value
	r, z, n      []float32 // the gates, kept for backward
}

// GRUGates returns a GRU cell's next state from the input's and the state's projections gi, gh
// [N, 3H] (r, z, n order, biases included) and the state h [N, H]:
// r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h' = (1 - z) ⊙ n + z ⊙ h,
// in one pass over the rows (one C kernel forward and one backward).
func (g *Graph) GRUGates(gi, gh, h *Value) *Value {
	if len(h.Shape) != 2 || len(gi.Shape) != 2 || len(gh.Shape) != 2 || gi.Shape[0] != h.Shape[0] || gh.Shape[0] != h.Shape[0] ||
		gi.Shape[1] != 3*h.Shape[1] || gh.Shape[1] != 3*h.Shape[1] {
		panic(fmt.Sprintf("nn: GRUGates of projections %v and %v with state %v", gi.Shape, gh.Shape, h.Shape))
	}
	N, H := h.Shape[0], h.Shape[1]
	y := g.valueFull(needsGrad(gi, gh, h), N, H)
	if y.Grad == nil {
		r, z, n := g.tmp(0, N*H), g.tmp(1, N*H), g.tmp(2, N*H)
		kern.GRUGates(gi.Data, gh.Data, h.Data, N, H, r, z, n, y.Data)
		return y
	}
	o := record[gruGatesOp](g)
	o.gi, o.gh, o.h, o.y = gi, gh, h, y
	o.r, o.z, o.n = grow(o.r, N*H), grow(o.z, N*H), grow(o.n, N*H)
	kern.GRUGates(gi.Data, gh.Data, h.Data, N, H, o.r, o.z, o.n, y.Data)
	return y
}

func (o *gruGatesOp) backward() {
	N, H := o.h.Shape[0], o.h.Shape[1]
	dgi, dgh := o.gi.Grad, o.gh.Grad
	if dgi == nil || dgh == nil { // a projection without a gradient: its share goes to scratch
		if dgi == nil {
			dgi = make([]float32, 3*N*H)
		}
		if dgh == nil {
			dgh = make([]float32, 3*N*H)
		}
	}
	kern.GRUGatesGrad(o.gh.Data, o.h.Data, o.r, o.z, o.n, o.y.Grad, N, H, dgi, dgh, o.h.Grad)
}

// LSTMCell is torch.nn.LSTMCell: gates i, f, g, o from W_ih x + b_ih + W_hh h + b_hh (PyTorch's
// layout and order; weight_ih [4H, in], weight_hh [4H, H]), c' = σ(f) c + σ(i) tanh(g),
// h' = σ(o) tanh(c'); initialised uniformly in +-1/sqrt(H).
type LSTMCell struct {
	Wih, Whh, Bih, Bhh *Param
	H                  int
}

// NewLSTMCell returns a cell from in features to hidden and cell states of h.
func NewLSTMCell(name string, in, h int, rng *rand.Rand) (*LSTMCell, error) {
	if in <= 0 || h <= 0 {
		return nil, fmt.Errorf("nn: LSTM %s needs positive sizes, got in=%d hidden=%d", name, in, h)
	}
	c := &LSTMCell{Wih: NewParam(name+".weight_ih", 4*h, in), Whh: NewParam(name+".weight_hh", 4*h, h),
		Bih: NewParam(name+".bias_ih", 4*h), Bhh: NewParam(name+".bias_hh", 4*h), H: h}
	bound := 1 / math.Sqrt(float64(h))
	for _, p := range c.Params() {
		for i := range p.Data {
			p.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return c, nil
}

// Params returns the cell's parameters in PyTorch's order.
func (c *LSTMCell) Params() []*Param { return []*Param{c.Wih, c.Whh, c.Bih, c.Bhh} }

// Forward returns the next hidden and cell states [N, H] from x [N, in], h and cell [N, H].
func (c *LSTMCell) Forward(g *Graph, x, h, cell *Value) (hNext, cellNext *Value) {
	H := c.H
	gates := g.Add(g.Linear(x, c.Wih, c.Bih), g.Linear(h, c.Whh, c.Bhh))
	i := g.Sigmoid(g.SliceCols(gates, 0, H))
	f := g.Sigmoid(g.SliceCols(gates, H, 2*H))
	gg := g.Tanh(g.SliceCols(gates, 2*H, 3*H))
	o := g.Sigmoid(g.SliceCols(gates, 3*H, 4*H))
	cellNext = g.Add(g.Mul(f, cell), g.Mul(i, gg))
	return g.Mul(o, g.Tanh(cellNext)), cellNext
}

type maxPool2dOp struct {
	x, y *Value
	arg  []int32
}

// MaxPool2d takes the maximum over k x k windows with stride k of x [N, C, H, W] (trailing
// rows and columns dropped, as torch.nn.MaxPool2d(k)): [N, C, H/k, W/k].
func (g *Graph) MaxPool2d(x *Value, k int) *Value {
	if len(x.Shape) != 4 || k <= 0 || x.Shape[2] < k || x.Shape[3] < k {
		panic(fmt.Sprintf("nn: MaxPool2d(%d) of %v", k, x.Shape))
	}
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	OH, OW := H/k, W/k
	y := g.value(needsGrad(x), N, C, OH, OW)
	o := record[maxPool2dOp](g)
	o.x, o.y = x, y
	if cap(o.arg) >= y.Len() {
		o.arg = o.arg[:y.Len()]
	} else {
		o.arg = make([]int32, y.Len())
	}
	for p := 0; p < N*C; p++ {
		base := p * H * W
		for oh := 0; oh < OH; oh++ {
			for ow := 0; ow < OW; ow++ {
				best := base + oh*k*W + ow*k
				for i := 0; i < k; i++ {
					for j := 0; j < k; j++ {
						if q := base + (oh*k+i)*W + ow*k + j; x.Data[q] > x.Data[best] {
							best = q
						}
					}
				}
				out := (p*OH+oh)*OW + ow
				y.Data[out] = x.Data[best]
				o.arg[out] = int32(best)
			}
		}
	}
	return y
}

func (o *maxPool2dOp) backward() {
	if o.x.Grad == nil {
		return
	}
	for i, gy := range o.y.Grad {
		o.x.Grad[o.arg[i]] += gy
	}
}

type sliceRowsOp struct {
	x, y *Value
	off  int
}

// SliceRows returns rows [lo, hi) of x (rows are the leading dimension, any rank) as a copy of
// shape [hi-lo, ...]: one time step of a time-major [T*B, ...] value.
func (g *Graph) SliceRows(x *Value, lo, hi int) *Value {
	if len(x.Shape) == 0 || lo < 0 || hi > x.Shape[0] || lo >= hi {
		panic(fmt.Sprintf("nn: SliceRows [%d, %d) of %v", lo, hi, x.Shape))
	}
	w := len(x.Data) / x.Shape[0]
	shape := append([]int{hi - lo}, x.Shape[1:]...)
	y := g.value(needsGrad(x), shape...)
	copy(y.Data, x.Data[lo*w:hi*w])
	if y.Grad != nil {
		o := record[sliceRowsOp](g)
		*o = sliceRowsOp{x, y, lo * w}
	}
	return y
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
	shape := append([]int{rows}, xs[0].Shape[1:]...)
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
