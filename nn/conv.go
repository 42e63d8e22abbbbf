package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/maestro-rl/maestro/nn/internal/blas"
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
	c    *Conv2dLayer
	x, y *Value
	cols []float32 // im2col of every sample: [N][C*k*k][OH*OW]
	dcol []float32
}

// Forward convolves x [N, C, H, W] into [N, out, OH, OW].
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
	y := g.value(true, N, O, OH, OW)
	o := record[conv2dOp](g)
	o.c, o.x, o.y = c, x, y
	K, P := C*k*k, OH*OW
	o.cols = grow(o.cols, N*K*P)
	be := blas.Default()
	for n := 0; n < N; n++ {
		cols := o.cols[n*K*P : (n+1)*K*P]
		im2col(x.Data[n*C*H*W:(n+1)*C*H*W], C, H, W, k, c.Stride, c.Padding, OH, OW, cols)
		out := y.Data[n*O*P : (n+1)*O*P]
		for oc := 0; oc < O; oc++ {
			b := c.B.Data[oc]
			for i := range out[oc*P : (oc+1)*P] {
				out[oc*P+i] = b
			}
		}
		be.Sgemm(false, false, O, P, K, 1, c.W.Data, K, cols, P, 1, out, P)
	}
	return y
}

func im2col(x []float32, C, H, W, k, s, pad, OH, OW int, cols []float32) {
	P := OH * OW
	for ch := 0; ch < C; ch++ {
		for ki := 0; ki < k; ki++ {
			for kj := 0; kj < k; kj++ {
				row := cols[((ch*k+ki)*k+kj)*P:][:P]
				for oh := 0; oh < OH; oh++ {
					ih := oh*s - pad + ki
					for ow := 0; ow < OW; ow++ {
						iw := ow*s - pad + kj
						if ih < 0 || ih >= H || iw < 0 || iw >= W {
							row[oh*OW+ow] = 0
						} else {
							row[oh*OW+ow] = x[(ch*H+ih)*W+iw]
						}
					}
				}
			}
		}
	}
}

func col2imAdd(cols []float32, C, H, W, k, s, pad, OH, OW int, dx []float32) {
	P := OH * OW
	for ch := 0; ch < C; ch++ {
		for ki := 0; ki < k; ki++ {
			for kj := 0; kj < k; kj++ {
				row := cols[((ch*k+ki)*k+kj)*P:][:P]
				for oh := 0; oh < OH; oh++ {
					ih := oh*s - pad + ki
					if ih < 0 || ih >= H {
						continue
					}
					for ow := 0; ow < OW; ow++ {
						iw := ow*s - pad + kj
						if iw >= 0 && iw < W {
							dx[(ch*H+ih)*W+iw] += row[oh*OW+ow]
						}
					}
				}
			}
		}
	}
}

func (o *conv2dOp) backward() {
	c := o.c
	O, C, k := c.W.Shape[0], c.W.Shape[1], c.W.Shape[2]
	N, H, W := o.x.Shape[0], o.x.Shape[2], o.x.Shape[3]
	OH, OW := o.y.Shape[2], o.y.Shape[3]
	K, P := C*k*k, OH*OW
	be := blas.Default()
	if o.x.Grad != nil {
		o.dcol = grow(o.dcol, K*P)
	}
	for n := 0; n < N; n++ {
		dy := o.y.Grad[n*O*P : (n+1)*O*P]
		cols := o.cols[n*K*P : (n+1)*K*P]
		be.Sgemm(false, true, O, K, P, 1, dy, P, cols, P, 1, c.W.Grad, K) // dW += dY cols^T
		for oc := 0; oc < O; oc++ {
			var s float32
			for _, v := range dy[oc*P : (oc+1)*P] {
				s += v
			}
			c.B.Grad[oc] += s
		}
		if o.x.Grad != nil {
			be.Sgemm(true, false, K, P, O, 1, c.W.Data, K, dy, P, 0, o.dcol, P) // dcols = W^T dY
			col2imAdd(o.dcol, C, H, W, k, c.Stride, c.Padding, OH, OW, o.x.Grad[n*C*H*W:(n+1)*C*H*W])
		}
	}
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
