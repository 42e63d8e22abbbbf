package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

type gatherOp struct {
	x, y *Value
	idx  []int
}

// PickLast returns y[r] = x[r, idx[r]] for x [N, C]: one element per row (log-probabilities of
// the actions taken, values of chosen heads). idx is copied.
func (g *Graph) PickLast(x *Value, idx []int) *Value {
	n, c := x.Shape[0], x.Dim(-1)
	if len(x.Shape) != 2 || len(idx) != n {
		panic(fmt.Sprintf("nn: PickLast of %d indices from %v", len(idx), x.Shape))
	}
	y := g.value(needsGrad(x), n)
	for r, j := range idx {
		if j < 0 || j >= c {
			panic(fmt.Sprintf("nn: PickLast index %d out of range [0, %d)", j, c))
		}
		y.Data[r] = x.Data[r*c+j]
	}
	if y.Grad != nil {
		o := record[gatherOp](g)
		o.x, o.y = x, y
		o.idx = append(o.idx[:0], idx...)
	}
	return y
}

func (o *gatherOp) backward() {
	c := o.x.Dim(-1)
	for r, j := range o.idx {
		o.x.Grad[r*c+j] += o.y.Grad[r]
	}
}

type entropyOp struct{ logp, y *Value }

// Entropy returns -sum_j p[r, j] log p[r, j] per row of logp [N, C] (log-probabilities, e.g.
// from LogSoftmax): shape [N].
func (g *Graph) Entropy(logp *Value) *Value {
	n, c := logp.Shape[0], logp.Dim(-1)
	y := g.value(needsGrad(logp), n)
	for r := 0; r < n; r++ {
		var h float64
		for _, l := range logp.Data[r*c : (r+1)*c] {
			if l > -80 { // exp underflows: p log p -> 0
				h -= math.Exp(float64(l)) * float64(l)
			}
		}
		y.Data[r] = float32(h)
	}
	if y.Grad != nil {
		o := record[entropyOp](g)
		*o = entropyOp{logp, y}
	}
	return y
}

// d/dl_j of -sum p log p with p = exp(l) is -p_j (l_j + 1); LogSoftmax's backward turns this
// into the gradient with respect to the logits.
func (o *entropyOp) backward() {
	c := o.logp.Dim(-1)
	for r, gy := range o.y.Grad {
		for j, l := range o.logp.Data[r*c : (r+1)*c] {
			o.logp.Grad[r*c+j] -= gy * float32(math.Exp(float64(l))) * (l + 1)
		}
	}
}

// MaskLogits sets logits[r, j] to a large negative number where mask[r*C+j] is false, so that
// a Categorical over the result never picks the masked actions (no gradient flows through
// masked entries). It writes into logits and returns it.
func MaskLogits(logits *Value, mask []bool) *Value {
	if len(mask) != logits.Len() {
		panic(fmt.Sprintf("nn: mask of %d for logits %v", len(mask), logits.Shape))
	}
	for i, m := range mask {
		if !m {
			logits.Data[i] = -1e9
		}
	}
	return logits
}

// Categorical is a batch of categorical distributions given by log-probabilities [N, C] (a
// LogSoftmax output).
type Categorical struct {
	LogP *Value
}

// Sample draws one action per row into dst [N].
func (d Categorical) Sample(rng *rand.Rand, dst []int) {
	c := d.LogP.Dim(-1)
	for r := range dst {
		u := rng.Float64()
		acc := 0.0
		pick := c - 1
		for j, l := range d.LogP.Data[r*c : (r+1)*c] {
			acc += math.Exp(float64(l))
			if u < acc {
				pick = j
				break
			}
		}
		dst[r] = pick
	}
}

// Mode writes the most likely action of each row into dst [N].
func (d Categorical) Mode(dst []int) {
	c := d.LogP.Dim(-1)
	for r := range dst {
		row := d.LogP.Data[r*c : (r+1)*c]
		best := 0
		for j, l := range row {
			if l > row[best] {
				best = j
			}
		}
		dst[r] = best
	}
}

// LogProb returns the log-probability of actions [N] (differentiable): shape [N].
func (d Categorical) LogProb(g *Graph, actions []int) *Value { return g.PickLast(d.LogP, actions) }

// Entropy returns each row's entropy (differentiable): shape [N].
func (d Categorical) Entropy(g *Graph) *Value { return g.Entropy(d.LogP) }
