package nn

import (
	"errors"
	"fmt"
	"math"

	"github.com/maestro-rl/maestro/internal/validate"
	"github.com/maestro-rl/maestro/nn/internal/kern"
)

// AdamOptions configure Adam; zero values mean PyTorch's defaults (lr 1e-3, betas 0.9 and
// 0.999, eps 1e-8, no weight decay).
type AdamOptions struct {
	LR, Beta1, Beta2, Eps float64
	WeightDecay           float64
	// Decoupled selects AdamW: weight decay shrinks the parameters directly instead of being
	// added to the gradient.
	Decoupled bool
}

// Validate reports an option out of range (zero LR, betas and Eps mean PyTorch's defaults:
// 1e-3, 0.9, 0.999, 1e-8).
func (o AdamOptions) Validate() error {
	if err := validate.Numbers("nn: AdamOptions.",
		validate.F("LR", o.LR, o.LR >= 0, "at least 0 (0: 1e-3)"),
		validate.F("Beta1", o.Beta1, o.Beta1 >= 0 && o.Beta1 < 1, "in [0, 1) (0: 0.9)"),
		validate.F("Beta2", o.Beta2, o.Beta2 >= 0 && o.Beta2 < 1, "in [0, 1) (0: 0.999)"),
		validate.F("Eps", o.Eps, o.Eps >= 0, "at least 0 (0: 1e-8)"),
		validate.F("WeightDecay", o.WeightDecay, o.WeightDecay >= 0, "at least 0")); err != nil {
		return err
	}
	return nil
}

// Adam is PyTorch's Adam/AdamW (non-amsgrad) over a fixed list of parameters.
type Adam struct {
	o      AdamOptions
	params []*Param
	m, v   [][]float32
	step   int
}

// NewAdam returns an optimizer for params.
func NewAdam(params []*Param, o AdamOptions) (*Adam, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if o.LR < 0 || o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 || o.WeightDecay < 0 {
		return nil, fmt.Errorf("nn: Adam options out of range: %+v", o)
	}
	a := &Adam{o: o, params: params}
	for _, p := range params {
		a.m = append(a.m, make([]float32, p.Len()))
		a.v = append(a.v, make([]float32, p.Len()))
	}
	return a, nil
}

// SetLR changes the learning rate (schedules call it between steps).
func (a *Adam) SetLR(lr float64) { a.o.LR = lr }

// LR returns the learning rate.
func (a *Adam) LR() float64 { return a.o.LR }

// Step applies one update from the accumulated gradients and zeroes them.
func (a *Adam) Step() {
	a.step++
	o := a.o
	bc1 := 1 - math.Pow(o.Beta1, float64(a.step))
	bc2sqrt := math.Sqrt(1 - math.Pow(o.Beta2, float64(a.step)))
	stepSize := float32(o.LR / bc1)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	eps, bc2 := float32(o.Eps), float32(bc2sqrt)
	wd := float32(o.WeightDecay)
	for i, p := range a.params {
		m, v := a.m[i], a.v[i]
		if o.Decoupled && wd != 0 {
			k := 1 - float32(o.LR)*wd
			for j := range p.Data {
				p.Data[j] *= k
			}
		}
		l2 := wd
		if o.Decoupled {
			l2 = 0
		}
		kern.Adam(p.Data, p.Grad, m, v, b1, b2, stepSize, bc2, eps, l2)
	}
}

// ClipGradNorm scales the gradients of params so that their global L2 norm is at most
// maxNorm (PyTorch's clip_grad_norm_, coefficient maxNorm / (norm + 1e-6)) and returns the
// norm before clipping.
func ClipGradNorm(params []*Param, maxNorm float64) float64 {
	norm := GradNorm(params)
	ScaleGradsToNorm(params, norm, maxNorm)
	return norm
}

// GradNorm returns the global L2 norm of params' gradients, summed in float64: NaN or Inf
// exactly when some gradient is (a float32's square cannot overflow it), so one pass both
// measures and checks them.
func GradNorm(params []*Param) float64 {
	var s float64
	for _, p := range params {
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

// ScaleGradsToNorm scales the gradients, whose global norm is norm, down to maxNorm when norm
// is larger (ClipGradNorm's second half).
func ScaleGradsToNorm(params []*Param, norm, maxNorm float64) {
	if c := maxNorm / (norm + 1e-6); c < 1 {
		k := float32(c)
		for _, p := range params {
			for j := range p.Grad {
				p.Grad[j] *= k
			}
		}
	}
}

// CheckGrads returns an error naming every parameter whose gradient holds NaN or Inf, so a
// training loop can report it and skip the step.
func CheckGrads(params []*Param) error {
	var errs []error
	for _, p := range params {
		for j, g := range p.Grad {
			if f := float64(g); math.IsNaN(f) || math.IsInf(f, 0) {
				errs = append(errs, fmt.Errorf("nn: gradient of %s %v holds %v at element %d", p.Name, p.Shape, g, j))
				break
			}
		}
	}
	return errors.Join(errs...)
}
