package nn

import (
	"fmt"
	"math/rand/v2"
)

type dropoutOp struct {
	x, y *Value
	keep []float32
}

func (o *dropoutOp) backward() {
	if o.x.Grad == nil {
		return
	}
	for i, gy := range o.y.Grad {
		o.x.Grad[i] += gy * o.keep[i]
	}
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
