package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/nn/internal/blas"
	"github.com/maestro-rl/maestro/nn/internal/kern"
)

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

// GRUUnroll steps a GRUCell through sequences, its scratch recycled between calls (one per
// model; not for concurrent use).
type GRUUnroll struct {
	mask []float32
	hs   []*Value
}

// seqWeightGradOp accumulates the weight and bias gradients of one Linear applied at every
// step of a sequence (a recurrent state's projection) in one product over all steps,
// dW += dY^T X with X and dY the steps' inputs and output gradients stacked [rows, in] and
// [rows, out], where per-step products (K = the envs' rows) each read and write all of dW.
// Recorded before the steps, its backward runs after theirs, which fill xs and dys.
type seqWeightGradOp struct {
	w, b    *Param
	xs, dys []float32
}

func (o *seqWeightGradOp) backward() {
	out, in := o.w.Shape[0], o.w.Shape[1]
	rows := len(o.xs) / in
	blas.Default().Sgemm(true, false, out, in, rows, 1, o.dys, out, o.xs, in, 1, o.w.Grad, in)
	if o.b != nil {
		for i := 0; i < rows; i++ {
			for j, v := range o.dys[i*out : (i+1)*out] {
				o.b.Grad[j] += v
			}
		}
	}
}

// seqLinearOp is one step's y = x W^T + b of a seqWeightGradOp: its backward computes the
// input's gradient and leaves the weight's to acc (rows [row, row+N) of its stacks).
type seqLinearOp struct {
	x, y *Value
	acc  *seqWeightGradOp
	row  int
}

func (o *seqLinearOp) backward() {
	n, in, out := o.x.Shape[0], o.x.Shape[1], o.acc.w.Shape[0]
	if o.x.Grad != nil {
		blas.Default().Sgemm(false, false, n, in, out, 1, o.y.Grad, out, o.acc.w.Data, in, 1, o.x.Grad, in)
	}
	copy(o.acc.xs[o.row*in:], o.x.Data)
	copy(o.acc.dys[o.row*out:], o.y.Grad)
}

// seqLinear is Linear(x, acc.w, acc.b) for rows [row, row+N) of a sequence whose weight
// gradient acc accumulates.
func (g *Graph) seqLinear(x *Value, acc *seqWeightGradOp, row int) *Value {
	y := g.linearForward(x, acc.w, acc.b)
	if y.Grad != nil {
		o := record[seqLinearOp](g)
		*o = seqLinearOp{x: x, y: y, acc: acc, row: row}
	}
	return y
}

// Run steps c through T time-major steps of b sequences from the states h0 [b, H]: gi [T*b, 3H]
// is the input projection of every step (InputProjection of all rows in one product), and
// sequence j's state is zeroed after step t when ended[t*b+j] (an episode ended there). It
// returns the states after each step, [T*b, H] in gi's row order.
func (u *GRUUnroll) Run(g *Graph, c *GRUCell, gi *Value, T, b int, h0 []float32, ended []bool) *Value {
	H := c.H
	if len(h0) != b*H || len(ended) < (T-1)*b || gi.Shape[0] != T*b {
		panic(fmt.Sprintf("nn: GRUUnroll of %d x %d steps with %d projected rows, %d state values (want %d) and %d end flags",
			T, b, gi.Shape[0], len(h0), b*H, len(ended)))
	}
	h := g.Input(h0, b, H)
	var acc *seqWeightGradOp // the state projection's weight gradient, one product for all steps
	if !g.noGrad {
		acc = record[seqWeightGradOp](g)
		acc.w, acc.b = c.Whh, c.Bhh
		acc.xs, acc.dys = grow(acc.xs, T*b*H), grow(acc.dys, T*b*3*H)
	}
	u.hs = u.hs[:0]
	if cap(u.mask) < b*H {
		u.mask = make([]float32, b*H)
	}
	u.mask = u.mask[:b*H]
	for t := 0; t < T; t++ {
		if t > 0 {
			any := false
			for j := 0; j < b; j++ {
				keep := float32(1)
				if ended[(t-1)*b+j] {
					keep, any = 0, true
				}
				for k := range H {
					u.mask[j*H+k] = keep
				}
			}
			if any {
				h = g.Mul(h, g.Input(u.mask, b, H))
			}
		}
		git := g.SliceRows(gi, t*b, (t+1)*b)
		if acc == nil {
			h = c.Step(g, git, h)
		} else {
			h = g.GRUGates(git, g.seqLinear(h, acc, t*b), h)
		}
		u.hs = append(u.hs, h)
	}
	return g.ConcatRows(u.hs...)
}

type gruGatesOp struct {
	gi, gh, h, y *Value
	r, z, n      []float32 // the gates, kept for backward
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
