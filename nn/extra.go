package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

type huberOp struct {
	p, t, y *Value
	delta   float32
}

// Huber returns the mean Huber loss (PyTorch's HuberLoss, delta): 0.5 d^2 where |d| <= delta,
// delta (|d| - 0.5 delta) elsewhere, with d = pred - target.
func (g *Graph) Huber(pred, target *Value, delta float32) *Value {
	if pred.Len() != target.Len() {
		panic(shapeErr("Huber", pred.Shape, target.Shape))
	}
	y := g.value(needsGrad(pred), 1)
	var s float64
	for i, v := range pred.Data {
		d := float64(v - target.Data[i])
		if a := math.Abs(d); a <= float64(delta) {
			s += 0.5 * d * d
		} else {
			s += float64(delta) * (a - 0.5*float64(delta))
		}
	}
	y.Data[0] = float32(s / float64(pred.Len()))
	if y.Grad != nil {
		o := record[huberOp](g)
		*o = huberOp{pred, target, y, delta}
	}
	return y
}

func (o *huberOp) backward() {
	k := o.y.Grad[0] / float32(o.p.Len())
	for i, v := range o.p.Data {
		d := v - o.t.Data[i]
		o.p.Grad[i] += k * min(max(d, -o.delta), o.delta)
	}
}

type clampOp struct {
	x, y   *Value
	lo, hi float32
}

// Clamp limits x to [lo, hi]; the gradient passes where x was inside.
func (g *Graph) Clamp(x *Value, lo, hi float32) *Value {
	y := g.value(needsGrad(x), x.Shape...)
	for i, v := range x.Data {
		y.Data[i] = min(max(v, lo), hi)
	}
	if y.Grad != nil {
		o := record[clampOp](g)
		*o = clampOp{x, y, lo, hi}
	}
	return y
}

func (o *clampOp) backward() {
	for i, v := range o.x.Data {
		if v >= o.lo && v <= o.hi {
			o.x.Grad[i] += o.y.Grad[i]
		}
	}
}

type minMaxOp struct {
	a, b, y *Value
	isMax   bool
}

// Minimum returns the element-wise minimum of a and b (the gradient goes to the smaller; to a
// on ties), as PPO's clipped objective needs.
func (g *Graph) Minimum(a, b *Value) *Value { return g.minMax(a, b, false) }

// Maximum returns the element-wise maximum of a and b (to a on ties).
func (g *Graph) Maximum(a, b *Value) *Value { return g.minMax(a, b, true) }

func (g *Graph) minMax(a, b *Value, isMax bool) *Value {
	if a.Len() != b.Len() {
		panic(shapeErr("Minimum/Maximum", a.Shape, b.Shape))
	}
	y := g.value(needsGrad(a, b), a.Shape...)
	for i := range y.Data {
		if (a.Data[i] >= b.Data[i]) == isMax {
			y.Data[i] = a.Data[i]
		} else {
			y.Data[i] = b.Data[i]
		}
		if a.Data[i] == b.Data[i] {
			y.Data[i] = a.Data[i]
		}
	}
	if y.Grad != nil {
		o := record[minMaxOp](g)
		*o = minMaxOp{a, b, y, isMax}
	}
	return y
}

func (o *minMaxOp) backward() {
	for i, gy := range o.y.Grad {
		pickA := o.a.Data[i] == o.b.Data[i] || (o.a.Data[i] > o.b.Data[i]) == o.isMax
		if pickA {
			if o.a.Grad != nil {
				o.a.Grad[i] += gy
			}
		} else if o.b.Grad != nil {
			o.b.Grad[i] += gy
		}
	}
}

type expOp struct{ x, y *Value }

// Exp returns e^x (probability ratios from log-probability differences).
func (g *Graph) Exp(x *Value) *Value {
	y := g.value(needsGrad(x), x.Shape...)
	for i, v := range x.Data {
		y.Data[i] = float32(math.Exp(float64(v)))
	}
	if y.Grad != nil {
		o := record[expOp](g)
		*o = expOp{x, y}
	}
	return y
}

func (o *expOp) backward() {
	for i, gy := range o.y.Grad {
		o.x.Grad[i] += gy * o.y.Data[i]
	}
}

type dropoutOp struct {
	x, y *Value
	keep []float32
}

// Dropout zeroes each element with probability p and scales the rest by 1/(1-p) (inverted
// dropout, as PyTorch in training mode); with p = 0 it returns x. rng draws the mask.
func (g *Graph) Dropout(x *Value, p float64, rng *rand.Rand) *Value {
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("nn: dropout probability %v outside [0, 1)", p))
	}
	if p == 0 {
		return x
	}
	y := g.value(needsGrad(x), x.Shape...)
	o := record[dropoutOp](g)
	o.x, o.y = x, y
	o.keep = grow(o.keep, x.Len())
	scale := float32(1 / (1 - p))
	for i, v := range x.Data {
		if rng.Float64() >= p {
			o.keep[i] = scale
		} else {
			o.keep[i] = 0
		}
		y.Data[i] = v * o.keep[i]
	}
	return y
}

func (o *dropoutOp) backward() {
	if o.x.Grad == nil {
		return
	}
	for i, gy := range o.y.Grad {
		o.x.Grad[i] += gy * o.keep[i]
	}
}

// XavierUniform fills p ([out, in, ...]) uniformly in +-gain*sqrt(6/(fan_in+fan_out)), as
// torch.nn.init.xavier_uniform_.
func XavierUniform(p *Param, gain float64, rng *rand.Rand) {
	in, out := fans(p)
	b := gain * math.Sqrt(6/float64(in+out))
	for i := range p.Data {
		p.Data[i] = float32((2*rng.Float64() - 1) * b)
	}
}

// KaimingUniform fills p uniformly in +-sqrt(6/fan_in)/sqrt(1+a^2) (ReLU-family gain, as
// torch.nn.init.kaiming_uniform_ with leaky slope a).
func KaimingUniform(p *Param, a float64, rng *rand.Rand) {
	in, _ := fans(p)
	b := math.Sqrt(2/(1+a*a)) * math.Sqrt(3/float64(in))
	for i := range p.Data {
		p.Data[i] = float32((2*rng.Float64() - 1) * b)
	}
}

func fans(p *Param) (in, out int) {
	if len(p.Shape) < 2 {
		return p.Len(), p.Len()
	}
	rf := 1
	for _, d := range p.Shape[2:] {
		rf *= d
	}
	return p.Shape[1] * rf, p.Shape[0] * rf
}

// LinearSchedule returns the learning rate at step t of a linear decay from start to end over
// steps (end after that), as PPO implementations anneal it.
func LinearSchedule(start, end float64, steps int) func(t int) float64 {
	return func(t int) float64 {
		if t >= steps {
			return end
		}
		return start + (end-start)*float64(t)/float64(steps)
	}
}

// CosineSchedule returns a cosine decay from start to end over steps.
func CosineSchedule(start, end float64, steps int) func(t int) float64 {
	return func(t int) float64 {
		if t >= steps {
			return end
		}
		return end + (start-end)*0.5*(1+math.Cos(math.Pi*float64(t)/float64(steps)))
	}
}
