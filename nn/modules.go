package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// LinearLayer is a fully connected layer with PyTorch's layout and default initialisation.
type LinearLayer struct {
	W, B *Param
}

// NewLinear returns a layer from in to out features, initialised as torch.nn.Linear is
// (uniform in +-1/sqrt(in) for weights and bias), drawing from rng.
func NewLinear(name string, in, out int, rng *rand.Rand) (*LinearLayer, error) {
	if in <= 0 || out <= 0 {
		return nil, fmt.Errorf("nn: layer %s needs positive sizes, got in=%d out=%d", name, in, out)
	}
	l := &LinearLayer{W: NewParam(name+".weight", out, in), B: NewParam(name+".bias", out)}
	bound := 1 / math.Sqrt(float64(in))
	for _, p := range []*Param{l.W, l.B} {
		for i := range p.Data {
			p.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return l, nil
}

// Forward applies the layer to x [N, in].
func (l *LinearLayer) Forward(g *Graph, x *Value) *Value { return g.Linear(x, l.W, l.B) }

// Params returns the weight and bias.
func (l *LinearLayer) Params() []*Param { return []*Param{l.W, l.B} }

// Orthogonal fills p (2-D, [rows, cols]) with a (semi-)orthogonal matrix scaled by gain, as
// torch.nn.init.orthogonal_ does: Gram-Schmidt on a Gaussian matrix, rows or columns
// orthonormal whichever is fewer.
func Orthogonal(p *Param, gain float64, rng *rand.Rand) error {
	if len(p.Shape) != 2 {
		return fmt.Errorf("nn: orthogonal init of %s needs 2 dimensions, got %v", p.Name, p.Shape)
	}
	r, c := p.Shape[0], p.Shape[1]
	tall := r > c
	n, m := r, c // make n vectors of length m orthonormal, n <= m
	if tall {
		n, m = c, r
	}
	vecs := make([][]float64, n)
	for i := range vecs {
		for {
			v := make([]float64, m)
			for j := range v {
				v[j] = rng.NormFloat64()
			}
			for _, u := range vecs[:i] {
				d := 0.0
				for j := range v {
					d += v[j] * u[j]
				}
				for j := range v {
					v[j] -= d * u[j]
				}
			}
			norm := 0.0
			for _, x := range v {
				norm += x * x
			}
			if norm = math.Sqrt(norm); norm > 1e-6 {
				for j := range v {
					v[j] /= norm
				}
				vecs[i] = v
				break
			}
		}
	}
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			if tall {
				p.Data[i*c+j] = float32(gain * vecs[j][i])
			} else {
				p.Data[i*c+j] = float32(gain * vecs[i][j])
			}
		}
	}
	return nil
}

// MLP is a stack of Linear layers with an activation between them (none after the last).
type MLP struct {
	Layers     []*LinearLayer
	Activation func(g *Graph, x *Value) *Value
}

// NewMLP returns an MLP of the given sizes (input first) with act between layers (nil: Tanh).
func NewMLP(name string, sizes []int, act func(*Graph, *Value) *Value, rng *rand.Rand) (*MLP, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("nn: MLP %s needs at least an input and an output size, got %v", name, sizes)
	}
	if act == nil {
		act = (*Graph).Tanh
	}
	m := &MLP{Activation: act}
	for i := 0; i+1 < len(sizes); i++ {
		l, err := NewLinear(fmt.Sprintf("%s.%d", name, i), sizes[i], sizes[i+1], rng)
		if err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, l)
	}
	return m, nil
}

// Forward applies the MLP to x [N, sizes[0]].
func (m *MLP) Forward(g *Graph, x *Value) *Value {
	for i, l := range m.Layers {
		x = l.Forward(g, x)
		if i+1 < len(m.Layers) {
			x = m.Activation(g, x)
		}
	}
	return x
}

// Params returns every parameter, layer by layer.
func (m *MLP) Params() []*Param {
	var ps []*Param
	for _, l := range m.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}
