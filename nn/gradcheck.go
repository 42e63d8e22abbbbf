package nn

import (
	"fmt"
	"math"
)

// GradCheck compares the gradients of a scalar loss with respect to params against central
// finite differences with step h, the loss built by f on a fresh graph each time. Where the
// one-sided differences disagree the perturbation crossed a kink (ReLU at 0, a max-pool winner
// changing) and the point is skipped; more than a tenth of the points skipped is an error, as is
// any gradient off by more than 2% (relative, plus 2e-2 absolute). It returns the points checked.
// It is how nn's own ops are tested; use it for a layer of your own.
func GradCheck(params []*Param, f func(g *Graph) *Value, h float32) (checked int, err error) {
	ZeroGrad(params)
	g := NewGraph()
	l0 := f(g)
	g.Backward(l0)
	f0 := float64(l0.Data[0])
	skipped := 0
	for _, p := range params {
		for i := range p.Data {
			old := p.Data[i]
			p.Data[i] = old + h
			up := float64(f(NewGraph()).Data[0])
			p.Data[i] = old - h
			down := float64(f(NewGraph()).Data[0])
			p.Data[i] = old
			fd := (up - down) / (2 * float64(h))
			if fwd, bwd := (up-f0)/float64(h), (f0-down)/float64(h); math.Abs(fwd-bwd) > 0.1*(1+math.Abs(fd)) {
				skipped++
				continue
			}
			checked++
			if d := math.Abs(fd - float64(p.Grad[i])); d > 2e-2*(1+math.Abs(fd)) {
				return checked, fmt.Errorf("d loss / d %s[%d] = %v, finite differences %v", p.Name, i, p.Grad[i], fd)
			}
		}
	}
	if skipped*10 > checked+skipped {
		return checked, fmt.Errorf("%d of %d points sit on kinks; choose other inputs", skipped, checked+skipped)
	}
	return checked, nil
}
