package nn

import "fmt"

type maxPool2dOp struct {
	x, y *Value
	arg  []int32
}

func (o *maxPool2dOp) backward() {
	if o.x.Grad == nil {
		return
	}
	for i, gy := range o.y.Grad {
		o.x.Grad[o.arg[i]] += gy
	}
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
