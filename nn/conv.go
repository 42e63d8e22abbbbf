package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/maestro-rl/maestro/nn/internal/blas"
	"github.com/maestro-rl/maestro/nn/internal/kern"
)

// Conv2dLayer is torch.nn.Conv2d (square kernel, stride and zero padding; no dilation or
// groups), computed as im2col + one GEMM per sample.
type Conv2dLayer struct {
	W, B            *Param // W [out, in, k, k], B [out]
	Stride, Padding int
}

// NewConv2d returns a layer from in to out channels with a k x k kernel, initialised as
// PyTorch does (uniform in +-1/sqrt(in*k*k)).
func NewConv2d(name string, in, out, k, stride, padding int, rng *rand.Rand) (*Conv2dLayer, error) {
	if in <= 0 || out <= 0 || k <= 0 || stride <= 0 || padding < 0 {
		return nil, fmt.Errorf("nn: Conv2d %s needs positive channels, kernel and stride and padding >= 0, got in=%d out=%d k=%d stride=%d padding=%d", name, in, out, k, stride, padding)
	}
	c := &Conv2dLayer{W: NewParam(name+".weight", out, in, k, k), B: NewParam(name+".bias", out), Stride: stride, Padding: padding}
	bound := 1 / math.Sqrt(float64(in*k*k))
	for _, p := range c.Params() {
		for i := range p.Data {
			p.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return c, nil
}

// Params returns the kernel and bias.
func (c *Conv2dLayer) Params() []*Param { return []*Param{c.W, c.B} }

// OutSize returns the output height or width for an input of size n.
func (c *Conv2dLayer) OutSize(n int) int { return (n+2*c.Padding-c.W.Shape[2])/c.Stride + 1 }

type conv2dOp struct {
	g    *Graph
	c    *Conv2dLayer
	x, y *Value
	cv   kern.Conv
	idx  []int32 // kern.WindowIndex of the input's shape
}

// Forward convolves x [N, C, H, W] into [N, out, OH, OW]: one GEMM over the whole batch's
// im2col matrix [C*k*k, N*OH*OW] (held in the graph's scratch space, rebuilt in backward).
func (c *Conv2dLayer) Forward(g *Graph, x *Value) *Value {
	O, C, k := c.W.Shape[0], c.W.Shape[1], c.W.Shape[2]
	if len(x.Shape) != 4 || x.Shape[1] != C {
		panic(fmt.Sprintf("nn: Conv2d with kernel %v applied to %v", c.W.Shape, x.Shape))
	}
	N, H, W := x.Shape[0], x.Shape[2], x.Shape[3]
	OH, OW := c.OutSize(H), c.OutSize(W)
	if OH <= 0 || OW <= 0 {
		panic(fmt.Sprintf("nn: Conv2d kernel %d stride %d padding %d does not fit input %v", k, c.Stride, c.Padding, x.Shape))
	}
	y := g.valueFull(true, N, O, OH, OW) // every element written by the bias loop below
	o := record[conv2dOp](g)
	o.g, o.c, o.x, o.y = g, c, x, y
	K, P := C*k*k, OH*OW
	M := N * P
	cols := g.tmp(0, K*M)
	o.im2colBatch(cols)
	out := g.tmp(1, O*M)
	blas.Default().Sgemm(false, false, O, M, K, 1, c.W.Data, K, cols, M, 0, out, M)
	for n := 0; n < N; n++ {
		for oc := 0; oc < O; oc++ {
			b := c.B.Data[oc]
			dst := y.Data[(n*O+oc)*P : (n*O+oc+1)*P]
			for i, v := range out[oc*M+n*P : oc*M+(n+1)*P] {
				dst[i] = v + b
			}
		}
	}
	return y
}

// im2colBatch writes the windows of every sample into cols [C*k*k][N*P], sample n's columns
// at [n*P, (n+1)*P), and keeps the window table for the backward pass.
func (o *conv2dOp) im2colBatch(cols []float32) {
	c, x := o.c, o.x
	C, k := c.W.Shape[1], c.W.Shape[2]
	N, H, W := x.Shape[0], x.Shape[2], x.Shape[3]
	o.cv = kern.Conv{C: C, H: H, W: W, K: k, Stride: c.Stride, Pad: c.Padding, OH: c.OutSize(H), OW: c.OutSize(W)}
	o.idx = kern.WindowIndex(o.cv, o.idx)
	kern.Im2colBatch(o.cv, N, x.Data, cols, o.idx)
}

func (o *conv2dOp) backward() {
	c, g := o.c, o.g
	O, C, k := c.W.Shape[0], c.W.Shape[1], c.W.Shape[2]
	N := o.x.Shape[0]
	OH, OW := o.y.Shape[2], o.y.Shape[3]
	K, P := C*k*k, OH*OW
	M := N * P
	dy := g.tmp(1, O*M) // dY gathered into [O][N*P]; bias gradient on the way
	for n := 0; n < N; n++ {
		for oc := 0; oc < O; oc++ {
			src := o.y.Grad[(n*O+oc)*P : (n*O+oc+1)*P]
			copy(dy[oc*M+n*P:oc*M+(n+1)*P], src)
			var s float32
			for _, v := range src {
				s += v
			}
			c.B.Grad[oc] += s
		}
	}
	cols := g.tmp(0, K*M)
	kern.Im2colBatch(o.cv, N, o.x.Data, cols, o.idx)
	be := blas.Default()
	be.Sgemm(false, true, O, K, M, 1, dy, M, cols, M, 1, c.W.Grad, K) // dW += dY cols^T
	if o.x.Grad == nil {
		return
	}
	dcol := g.tmp(2, K*M)
	be.Sgemm(true, false, K, M, O, 1, c.W.Data, K, dy, M, 0, dcol, M) // dcols = W^T dY
	kern.Col2imBatchAdd(o.cv, N, dcol, o.x.Grad, o.idx)
}

type reshapeOp struct{ x, y *Value }

// Reshape returns x with a new shape of the same size (a copy; Flatten is Reshape(x, N, -1)).
// One dimension may be -1.
func (g *Graph) Reshape(x *Value, shape ...int) *Value {
	known, infer := 1, -1
	for i, d := range shape {
		if d == -1 {
			infer = i
		} else {
			known *= d
		}
	}
	var buf [8]int
	sh := append(buf[:0], shape...)
	if infer >= 0 && known > 0 {
		sh[infer] = x.Len() / known
	}
	if numel(sh) != x.Len() {
		panic(fmt.Sprintf("nn: Reshape of %v to %v", x.Shape, slices.Clone(shape)))
	}
	y := g.value(needsGrad(x), sh...)
	copy(y.Data, x.Data)
	if y.Grad != nil {
		o := record[reshapeOp](g)
		*o = reshapeOp{x, y}
	}
	return y
}

func (o *reshapeOp) backward() {
	for i, v := range o.y.Grad {
		o.x.Grad[i] += v
	}
}
