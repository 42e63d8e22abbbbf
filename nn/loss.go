package nn

import "math"

type huberOp struct {
	p, t, y *Value
	delta   float32
}

func (o *huberOp) backward() {
	k := o.y.Grad[0] / float32(o.p.Len())
	for i, v := range o.p.Data {
		d := v - o.t.Data[i]
		o.p.Grad[i] += k * min(max(d, -o.delta), o.delta)
	}
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
