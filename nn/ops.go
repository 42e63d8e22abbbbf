package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/maestro-rl/maestro/nn/internal/blas"
	"github.com/maestro-rl/maestro/nn/internal/kern"
)

// ---- linear ------------------------------------------------------------------------------

type linearOp struct {
	x, y *Value
	w, b *Param
}

// Linear computes y = x W^T + b for x [N, in], W [out, in] (PyTorch's layout) and b [out] (may
// be nil). Shape mismatches panic (see the package invariants).
func (g *Graph) Linear(x *Value, w, b *Param) *Value {
	if len(x.Shape) != 2 || len(w.Shape) != 2 || x.Shape[1] != w.Shape[1] || b != nil && (len(b.Shape) != 1 || b.Shape[0] != w.Shape[0]) {
		bs := []int(nil)
		if b != nil {
			bs = b.Shape
		}
		panic(fmt.Sprintf("nn: Linear of x %v with W %v and b %v", x.Shape, w.Shape, bs))
	}
	y := g.linearForward(x, w, b)
	o := record[linearOp](g)
	*o = linearOp{x: x, y: y, w: w, b: b}
	return y
}

// linearForward returns x W^T + b on checked shapes, recording nothing.
func (g *Graph) linearForward(x *Value, w, b *Param) *Value {
	n, in, out := x.Shape[0], x.Shape[1], w.Shape[0]
	y := g.valueFull(true, n, out)
	beta := float32(0) // every element is written: by the bias rows, or by the product alone
	if b != nil {
		for i := 0; i < n; i++ {
			copy(y.Data[i*out:(i+1)*out], b.Data)
		}
		beta = 1
	}
	blas.Default().Sgemm(false, true, n, out, in, 1, x.Data, in, w.Data, in, beta, y.Data, out)
	return y
}

func (o *linearOp) backward() {
	n, in, out := o.x.Shape[0], o.x.Shape[1], o.w.Shape[0]
	be := blas.Default()
	// dW += dY^T X ; dX += dY W ; db += sum_rows dY
	be.Sgemm(true, false, out, in, n, 1, o.y.Grad, out, o.x.Data, in, 1, o.w.Grad, in)
	if o.x.Grad != nil {
		be.Sgemm(false, false, n, in, out, 1, o.y.Grad, out, o.w.Data, in, 1, o.x.Grad, in)
	}
	if o.b != nil {
		for i := 0; i < n; i++ {
			row := o.y.Grad[i*out : (i+1)*out]
			for j, v := range row {
				o.b.Grad[j] += v
			}
		}
	}
}

// ---- element-wise --------------------------------------------------------------------------

type unaryKind int

const (
	kReLU unaryKind = iota
	kTanh
	kSigmoid
	kELU
)

type unaryOp struct {
	kind unaryKind
	x, y *Value
}

func (g *Graph) unary(k unaryKind, x *Value) *Value {
	y := g.valueFull(needsGrad(x), x.Shape...)
	switch k {
	case kReLU:
		kern.ReLU(x.Data, y.Data)
	case kTanh:
		kern.Tanh(x.Data, y.Data)
	case kSigmoid:
		kern.Sigmoid(x.Data, y.Data)
	case kELU:
		kern.ELU(x.Data, y.Data)
	}
	if y.Grad != nil {
		o := record[unaryOp](g)
		*o = unaryOp{kind: k, x: x, y: y}
	}
	return y
}

func (o *unaryOp) backward() {
	x, y := o.x, o.y
	switch o.kind {
	case kReLU:
		kern.ReLUGrad(x.Data, y.Grad, x.Grad)
	case kTanh:
		kern.TanhGrad(y.Data, y.Grad, x.Grad)
	case kSigmoid:
		kern.SigmoidGrad(y.Data, y.Grad, x.Grad)
	case kELU:
		kern.ELUGrad(x.Data, y.Data, y.Grad, x.Grad)
	}
}

// ReLU returns max(x, 0).
func (g *Graph) ReLU(x *Value) *Value { return g.unary(kReLU, x) }

// Tanh returns tanh(x).
func (g *Graph) Tanh(x *Value) *Value { return g.unary(kTanh, x) }

// Sigmoid returns 1 / (1 + exp(-x)).
func (g *Graph) Sigmoid(x *Value) *Value { return g.unary(kSigmoid, x) }

// ELU returns x for x > 0 and exp(x) - 1 otherwise (alpha 1, as PyTorch's default).
func (g *Graph) ELU(x *Value) *Value { return g.unary(kELU, x) }

type addOp struct{ a, b, y *Value }

// Add returns a + b (same shapes).
func (g *Graph) Add(a, b *Value) *Value {
	if !slices.Equal(a.Shape, b.Shape) {
		panic(shapeErr("Add", a.Shape, b.Shape))
	}
	y := g.value(needsGrad(a, b), a.Shape...)
	for i := range y.Data {
		y.Data[i] = a.Data[i] + b.Data[i]
	}
	if y.Grad != nil {
		o := record[addOp](g)
		*o = addOp{a, b, y}
	}
	return y
}

func (o *addOp) backward() {
	for _, v := range []*Value{o.a, o.b} {
		if v.Grad != nil {
			for i, gy := range o.y.Grad {
				v.Grad[i] += gy
			}
		}
	}
}

// ---- softmax family ------------------------------------------------------------------------

type logSoftmaxOp struct{ x, y *Value }

// LogSoftmax normalises the last dimension: y = x - log(sum(exp(x))).
func (g *Graph) LogSoftmax(x *Value) *Value {
	y := g.value(needsGrad(x), x.Shape...)
	c := x.Dim(-1)
	for r := 0; r < x.Len()/c; r++ {
		xr, yr := x.Data[r*c:(r+1)*c], y.Data[r*c:(r+1)*c]
		m := slices.Max(xr)
		s := 0.0
		for _, v := range xr {
			s += math.Exp(float64(v - m))
		}
		lse := float32(math.Log(s)) + m
		for j, v := range xr {
			yr[j] = v - lse
		}
	}
	if y.Grad != nil {
		o := record[logSoftmaxOp](g)
		*o = logSoftmaxOp{x, y}
	}
	return y
}

func (o *logSoftmaxOp) backward() {
	c := o.x.Dim(-1)
	for r := 0; r < o.x.Len()/c; r++ {
		gy, yr, gx := o.y.Grad[r*c:(r+1)*c], o.y.Data[r*c:(r+1)*c], o.x.Grad[r*c:(r+1)*c]
		var s float32
		for _, v := range gy {
			s += v
		}
		for j := range gx {
			gx[j] += gy[j] - float32(math.Exp(float64(yr[j])))*s
		}
	}
}

type softmaxOp struct{ x, y *Value }

// Softmax normalises the last dimension into probabilities.
func (g *Graph) Softmax(x *Value) *Value {
	y := g.value(needsGrad(x), x.Shape...)
	c := x.Dim(-1)
	for r := 0; r < x.Len()/c; r++ {
		xr, yr := x.Data[r*c:(r+1)*c], y.Data[r*c:(r+1)*c]
		m := slices.Max(xr)
		var s float32
		for j, v := range xr {
			yr[j] = float32(math.Exp(float64(v - m)))
			s += yr[j]
		}
		for j := range yr {
			yr[j] /= s
		}
	}
	if y.Grad != nil {
		o := record[softmaxOp](g)
		*o = softmaxOp{x, y}
	}
	return y
}

func (o *softmaxOp) backward() {
	c := o.x.Dim(-1)
	for r := 0; r < o.x.Len()/c; r++ {
		gy, yr, gx := o.y.Grad[r*c:(r+1)*c], o.y.Data[r*c:(r+1)*c], o.x.Grad[r*c:(r+1)*c]
		var dot float32
		for j := range gy {
			dot += gy[j] * yr[j]
		}
		for j := range gx {
			gx[j] += yr[j] * (gy[j] - dot)
		}
	}
}

// ---- reductions and losses -----------------------------------------------------------------

type meanOp struct {
	x, y  *Value
	scale float32
}

// Mean returns the mean of all elements (a scalar [1]).
func (g *Graph) Mean(x *Value) *Value { return g.sumScaled(x, 1/float32(x.Len())) }

// Sum returns the sum of all elements (a scalar [1]).
func (g *Graph) Sum(x *Value) *Value { return g.sumScaled(x, 1) }

func (g *Graph) sumScaled(x *Value, scale float32) *Value {
	y := g.value(needsGrad(x), 1)
	var s float64
	for _, v := range x.Data {
		s += float64(v)
	}
	y.Data[0] = float32(s) * scale
	if y.Grad != nil {
		o := record[meanOp](g)
		*o = meanOp{x, y, scale}
	}
	return y
}

func (o *meanOp) backward() {
	d := o.y.Grad[0] * o.scale
	for i := range o.x.Grad {
		o.x.Grad[i] += d
	}
}

type mseOp struct{ p, t, y *Value }

// MSE returns mean((pred - target)^2) over all elements; no gradient flows into target.
func (g *Graph) MSE(pred, target *Value) *Value {
	if !slices.Equal(pred.Shape, target.Shape) {
		panic(shapeErr("MSE", pred.Shape, target.Shape))
	}
	y := g.value(needsGrad(pred), 1)
	var s float64
	for i, v := range pred.Data {
		d := float64(v - target.Data[i])
		s += d * d
	}
	y.Data[0] = float32(s / float64(pred.Len()))
	if y.Grad != nil {
		o := record[mseOp](g)
		*o = mseOp{pred, target, y}
	}
	return y
}

func (o *mseOp) backward() {
	k := 2 * o.y.Grad[0] / float32(o.p.Len())
	for i, v := range o.p.Data {
		o.p.Grad[i] += k * (v - o.t.Data[i])
	}
}

type softCEOp struct {
	logits, target, y, logp *Value
}

// SoftCrossEntropy returns the mean over rows of -sum_j target[r, j] * log_softmax(logits)[r, j]
// for logits and target of shape [N, C], target rows being probabilities (soft labels; the
// Bradley-Terry loss with ties of Motif's reward model is this with C = 2).
func (g *Graph) SoftCrossEntropy(logits, target *Value) *Value {
	if !slices.Equal(logits.Shape, target.Shape) || len(logits.Shape) != 2 {
		panic(shapeErr("SoftCrossEntropy", logits.Shape, target.Shape))
	}
	logp := g.LogSoftmax(logits)
	y := g.value(needsGrad(logp), 1)
	var s float64
	for i, t := range target.Data {
		s -= float64(t * logp.Data[i])
	}
	n := logits.Shape[0]
	y.Data[0] = float32(s / float64(n))
	if y.Grad != nil {
		o := record[softCEOp](g)
		*o = softCEOp{logits, target, y, logp}
	}
	return y
}

func (o *softCEOp) backward() {
	k := o.y.Grad[0] / float32(o.logits.Shape[0])
	for i, t := range o.target.Data {
		o.logp.Grad[i] -= k * t
	}
}

// ---- structure -----------------------------------------------------------------------------

type concatOp struct {
	xs []*Value
	y  *Value
}

// Concat joins 2-D values [N, c_i] along their last dimension into [N, sum c_i].
func (g *Graph) Concat(xs ...*Value) *Value {
	n, c := xs[0].Shape[0], 0
	grad := false
	for _, x := range xs {
		if len(x.Shape) != 2 || x.Shape[0] != n {
			panic(shapeErr("Concat", xs[0].Shape, x.Shape))
		}
		c += x.Shape[1]
		grad = grad || x.Grad != nil
	}
	y := g.value(grad, n, c)
	off := 0
	for _, x := range xs {
		w := x.Shape[1]
		for r := 0; r < n; r++ {
			copy(y.Data[r*c+off:r*c+off+w], x.Data[r*w:(r+1)*w])
		}
		off += w
	}
	if grad {
		o := record[concatOp](g)
		o.xs = append(o.xs[:0], xs...)
		o.y = y
	}
	return y
}

func (o *concatOp) backward() {
	n, c := o.y.Shape[0], o.y.Shape[1]
	off := 0
	for _, x := range o.xs {
		w := x.Shape[1]
		if x.Grad != nil {
			for r := 0; r < n; r++ {
				gy := o.y.Grad[r*c+off : r*c+off+w]
				gx := x.Grad[r*w : (r+1)*w]
				for j := range gx {
					gx[j] += gy[j]
				}
			}
		}
		off += w
	}
}

// Param makes a parameter usable in the graph: its value itself (gradients accumulate into
// p.Grad).
func (g *Graph) Param(p *Param) *Value { return &p.Value }

type mulOp struct{ a, b, y *Value }

// Mul returns the element-wise product a * b (same shapes).
func (g *Graph) Mul(a, b *Value) *Value {
	if !slices.Equal(a.Shape, b.Shape) {
		panic(shapeErr("Mul", a.Shape, b.Shape))
	}
	y := g.value(needsGrad(a, b), a.Shape...)
	for i := range y.Data {
		y.Data[i] = a.Data[i] * b.Data[i]
	}
	if y.Grad != nil {
		o := record[mulOp](g)
		*o = mulOp{a, b, y}
	}
	return y
}

func (o *mulOp) backward() {
	if o.a.Grad != nil {
		for i, gy := range o.y.Grad {
			o.a.Grad[i] += gy * o.b.Data[i]
		}
	}
	if o.b.Grad != nil {
		for i, gy := range o.y.Grad {
			o.b.Grad[i] += gy * o.a.Data[i]
		}
	}
}
