package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/nn/internal/blas"
	"github.com/maestro-rl/maestro/nn/internal/kern"
)

// Conv1dLayer is torch.nn.Conv1d with stride 1 and no padding (what Motif's reward model
// uses), computed as im2col + one GEMM per chunk of samples.
type Conv1dLayer struct {
	W, B *Param // W [out, in, k], B [out]
}

// NewConv1d returns a layer from in to out channels with kernel size k, initialised as
// PyTorch does (uniform in +-1/sqrt(in*k)).
func NewConv1d(name string, in, out, k int, rng *rand.Rand) (*Conv1dLayer, error) {
	if in <= 0 || out <= 0 || k <= 0 {
		return nil, fmt.Errorf("nn: Conv1d %s needs positive sizes, got in=%d out=%d k=%d", name, in, out, k)
	}
	c := &Conv1dLayer{W: NewParam(name+".weight", out, in, k), B: NewParam(name+".bias", out)}
	bound := 1 / math.Sqrt(float64(in*k))
	for _, p := range c.Params() {
		for i := range p.Data {
			p.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return c, nil
}

// Params returns the kernel and bias.
func (c *Conv1dLayer) Params() []*Param { return []*Param{c.W, c.B} }

type conv1dOp struct {
	c               *Conv1dLayer
	x, y            *Value
	cols, dcol, out []float32 // one chunk's im2col [C*k][S*OL] and products: rebuilt in backward
}

// conv1dChunk is how many samples share one GEMM: their im2col matrix stays under ~4 MB.
func conv1dChunk(n, k, ol int) int { return max(1, min(n, (1<<20)/(k*ol))) }

// Forward convolves x [N, C, L] into [N, out, L-k+1]: one GEMM per chunk of samples over their
// im2col matrices side by side.
func (c *Conv1dLayer) Forward(g *Graph, x *Value) *Value {
	O, C, k := c.W.Shape[0], c.W.Shape[1], c.W.Shape[2]
	if len(x.Shape) != 3 || x.Shape[1] != C || x.Shape[2] < k {
		panic(fmt.Sprintf("nn: Conv1d with kernel %v applied to %v", c.W.Shape, x.Shape))
	}
	N, L := x.Shape[0], x.Shape[2]
	OL := L - k + 1
	y := g.value(true, N, O, OL)
	o := record[conv1dOp](g)
	o.c, o.x, o.y = c, x, y
	K := C * k
	S := conv1dChunk(N, K, OL)
	o.cols, o.out = grow(o.cols, K*S*OL), grow(o.out, O*S*OL)
	be := blas.Default()
	for n0 := 0; n0 < N; n0 += S {
		s := min(S, N-n0)
		ld := s * OL
		o.im2col(n0, s, ld)
		be.Sgemm(false, false, O, ld, K, 1, c.W.Data, K, o.cols, ld, 0, o.out, ld)
		for j := range s {
			out := y.Data[(n0+j)*O*OL : (n0+j+1)*O*OL]
			for oc := range O {
				b := c.B.Data[oc]
				src := o.out[oc*ld+j*OL : oc*ld+(j+1)*OL]
				dst := out[oc*OL : (oc+1)*OL]
				for i, v := range src {
					dst[i] = v + b
				}
			}
		}
	}
	return y
}

// im2col lays out the windows of samples n0..n0+s-1 side by side: row (ch, kk) holds, for
// sample j, x[n0+j, ch, kk : kk+OL] at j*OL (row stride ld).
func (o *conv1dOp) im2col(n0, s, ld int) {
	C, k, L, OL := o.x.Shape[1], o.c.W.Shape[2], o.x.Shape[2], o.y.Shape[2]
	for j := range s {
		xs := o.x.Data[(n0+j)*C*L : (n0+j+1)*C*L]
		for ch := 0; ch < C; ch++ {
			for kk := 0; kk < k; kk++ {
				r := (ch*k + kk) * ld
				copy(o.cols[r+j*OL:r+(j+1)*OL], xs[ch*L+kk:ch*L+kk+OL])
			}
		}
	}
}

func (o *conv1dOp) backward() {
	c := o.c
	O, C, k := c.W.Shape[0], c.W.Shape[1], c.W.Shape[2]
	N, L, OL := o.x.Shape[0], o.x.Shape[2], o.y.Shape[2]
	K := C * k
	S := conv1dChunk(N, K, OL)
	be := blas.Default()
	if o.x.Grad != nil {
		o.dcol = grow(o.dcol, K*S*OL)
	}
	for n0 := 0; n0 < N; n0 += S {
		s := min(S, N-n0)
		ld := s * OL
		for j := range s { // dY of the chunk gathered into [O][s*OL]
			dy := o.y.Grad[(n0+j)*O*OL : (n0+j+1)*O*OL]
			for oc := range O {
				copy(o.out[oc*ld+j*OL:oc*ld+(j+1)*OL], dy[oc*OL:(oc+1)*OL])
			}
		}
		kern.RowSumsAdd(o.out, O, ld, c.B.Grad)
		o.im2col(n0, s, ld)
		be.Sgemm(false, true, O, K, ld, 1, o.out, ld, o.cols, ld, 1, c.W.Grad, K)
		if o.x.Grad != nil {
			be.Sgemm(true, false, K, ld, O, 1, c.W.Data, K, o.out, ld, 0, o.dcol, ld)
			for j := range s {
				kern.Col2im1dAdd(o.dcol[j*OL:], C, L, k, OL, ld, o.x.Grad[(n0+j)*C*L:(n0+j+1)*C*L])
			}
		}
	}
}

type maxPool1dOp struct {
	x, y *Value
	arg  []int32
}

// MaxPool1d takes the maximum over windows of k along the last dimension of x [N, C, L]
// (stride k, trailing elements dropped, as torch.nn.MaxPool1d(k)): [N, C, L/k].
func (g *Graph) MaxPool1d(x *Value, k int) *Value {
	if len(x.Shape) != 3 || k <= 0 || x.Shape[2] < k {
		panic(fmt.Sprintf("nn: MaxPool1d(%d) of %v", k, x.Shape))
	}
	N, C, L := x.Shape[0], x.Shape[1], x.Shape[2]
	OL := L / k
	y := g.value(needsGrad(x), N, C, OL)
	o := record[maxPool1dOp](g)
	o.x, o.y = x, y
	if cap(o.arg) >= y.Len() {
		o.arg = o.arg[:y.Len()]
	} else {
		o.arg = make([]int32, y.Len())
	}
	kern.MaxPool1d(x.Data, N*C, L, k, y.Data, o.arg)
	return y
}

func (o *maxPool1dOp) backward() {
	if o.x.Grad == nil {
		return
	}
	kern.ScatterAdd(o.y.Grad, o.arg, o.x.Grad)
}

type transposeOp struct{ x, y *Value }

// Transpose12 swaps the last two dimensions of a 3-D value: [N, A, B] -> [N, B, A] (a copy),
// e.g. embeddings [N, L, D] into channels-first [N, D, L] for Conv1d.
func (g *Graph) Transpose12(x *Value) *Value {
	if len(x.Shape) != 3 {
		panic(fmt.Sprintf("nn: Transpose12 of %v", x.Shape))
	}
	N, A, B := x.Shape[0], x.Shape[1], x.Shape[2]
	y := g.value(needsGrad(x), N, B, A)
	for n := 0; n < N; n++ {
		xs, ys := x.Data[n*A*B:(n+1)*A*B], y.Data[n*A*B:(n+1)*A*B]
		for a := 0; a < A; a++ {
			for b := 0; b < B; b++ {
				ys[b*A+a] = xs[a*B+b]
			}
		}
	}
	if y.Grad != nil {
		o := record[transposeOp](g)
		*o = transposeOp{x, y}
	}
	return y
}

func (o *transposeOp) backward() {
	N, A, B := o.x.Shape[0], o.x.Shape[1], o.x.Shape[2]
	for n := 0; n < N; n++ {
		gx, gy := o.x.Grad[n*A*B:(n+1)*A*B], o.y.Grad[n*A*B:(n+1)*A*B]
		for a := 0; a < A; a++ {
			for b := 0; b < B; b++ {
				gx[a*B+b] += gy[b*A+a]
			}
		}
	}
}
