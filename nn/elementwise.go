package nn

import "math"

type subOp struct{ a, b, y *Value }

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

type clampOp struct {
	x, y   *Value
	lo, hi float32
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

func (o *expOp) backward() {
	for i, gy := range o.y.Grad {
		o.x.Grad[i] += gy * o.y.Data[i]
	}
}

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

// Minimum returns the element-wise minimum of a and b (the gradient goes to the smaller; to a
// on ties), as PPO's clipped objective needs.
func (g *Graph) Minimum(a, b *Value) *Value { return g.minMax(a, b, false) }

// Maximum returns the element-wise maximum of a and b (to a on ties).
func (g *Graph) Maximum(a, b *Value) *Value { return g.minMax(a, b, true) }

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
