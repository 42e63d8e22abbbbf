package nn

import (
	"fmt"
	"math"
)

type layerNormOp struct {
	x, y        *Value
	gamma, beta *Param
	xhat, rstd  []float32
	eps         float32
}

// LayerNormLayer normalises the last dimension and applies a learned scale and shift, as
// torch.nn.LayerNorm (eps 1e-5, biased variance).
type LayerNormLayer struct {
	Gamma, Beta *Param
	Eps         float32
}

// NewLayerNorm returns a layer over d features (scale 1, shift 0).
func NewLayerNorm(name string, d int) (*LayerNormLayer, error) {
	if d <= 0 {
		return nil, fmt.Errorf("nn: LayerNorm %s needs a positive size, got %d", name, d)
	}
	l := &LayerNormLayer{Gamma: NewParam(name+".weight", d), Beta: NewParam(name+".bias", d), Eps: 1e-5}
	for i := range l.Gamma.Data {
		l.Gamma.Data[i] = 1
	}
	return l, nil
}

// Params returns the scale and shift.
func (l *LayerNormLayer) Params() []*Param { return []*Param{l.Gamma, l.Beta} }

// Forward normalises x [..., d].
func (l *LayerNormLayer) Forward(g *Graph, x *Value) *Value {
	d := x.Dim(-1)
	if d != l.Gamma.Len() {
		panic(fmt.Sprintf("nn: LayerNorm of %d features applied to %v", l.Gamma.Len(), x.Shape))
	}
	y := g.value(true, x.Shape...)
	o := record[layerNormOp](g)
	rows := x.Len() / d
	o.x, o.y, o.gamma, o.beta, o.eps = x, y, l.Gamma, l.Beta, l.Eps
	o.xhat = grow(o.xhat, x.Len())
	o.rstd = grow(o.rstd, rows)
	for r := 0; r < rows; r++ {
		xr := x.Data[r*d : (r+1)*d]
		var mu, v float64
		for _, a := range xr {
			mu += float64(a)
		}
		mu /= float64(d)
		for _, a := range xr {
			v += (float64(a) - mu) * (float64(a) - mu)
		}
		rstd := float32(1 / math.Sqrt(v/float64(d)+float64(l.Eps)))
		o.rstd[r] = rstd
		for j, a := range xr {
			xh := (a - float32(mu)) * rstd
			o.xhat[r*d+j] = xh
			y.Data[r*d+j] = xh*l.Gamma.Data[j] + l.Beta.Data[j]
		}
	}
	return y
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

func (o *layerNormOp) backward() {
	d := o.gamma.Len()
	rows := o.x.Len() / d
	for r := 0; r < rows; r++ {
		gy := o.y.Grad[r*d : (r+1)*d]
		xh := o.xhat[r*d : (r+1)*d]
		var s1, s2 float32
		for j := range gy {
			o.gamma.Grad[j] += gy[j] * xh[j]
			o.beta.Grad[j] += gy[j]
			dxh := gy[j] * o.gamma.Data[j]
			s1 += dxh
			s2 += dxh * xh[j]
		}
		if o.x.Grad == nil {
			continue
		}
		k := o.rstd[r] / float32(d)
		for j := range gy {
			dxh := gy[j] * o.gamma.Data[j]
			o.x.Grad[r*d+j] += k * (float32(d)*dxh - s1 - xh[j]*s2)
		}
	}
}
