package kern

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include "kern.h"
*/
import "C"

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/maestro-rl/maestro/nn/internal/par"
)

// pool runs the parts of large element-wise kernels (SetWorkers); nil: one goroutine.
var pool atomic.Pointer[par.Pool[task]]

// SetWorkers makes the element-wise kernels split arrays of at least ParallelMin values into n
// parts run on n goroutines (n <= 1: no splitting). Every value is computed the same way
// either way. Call it before the kernels run, not while they do.
func SetWorkers(n int) {
	var np *par.Pool[task]
	if n > 1 {
		np = par.New(n, runTask)
	}
	if old := pool.Swap(np); old != nil {
		old.Close()
	}
}

// ParallelMin is the length from which SetWorkers splits an element-wise kernel.
const ParallelMin = 1 << 15

const (
	opELU = iota
	opELUGrad
	opSigmoid
	opTanh
	opUnaryGrad
	opReLU
	opReLUGrad
	opAdam
)

// task is one part of an element-wise kernel: op over len(a) values of a, b, c, d.
type task struct {
	op, kind   int
	a, b, c, d []float32
	f          [6]float32 // scalar arguments (Adam's)
}

func runTask(t task) {
	n := C.long(len(t.a))
	switch t.op {
	case opELU:
		C.kern_elu(p(t.a), p(t.b), n)
	case opELUGrad:
		C.kern_elu_grad(p(t.a), p(t.b), p(t.c), p(t.d), n)
	case opSigmoid:
		C.kern_sigmoid(p(t.a), p(t.b), n)
	case opTanh:
		C.kern_tanh(p(t.a), p(t.b), n)
	case opUnaryGrad:
		C.kern_unary_grad(C.int(t.kind), p(t.a), p(t.b), p(t.c), n)
	case opReLU:
		C.kern_relu(p(t.a), p(t.b), n)
	case opReLUGrad:
		C.kern_relu_grad(p(t.a), p(t.b), p(t.c), n)
	case opAdam:
		f := t.f
		C.kern_adam(p(t.a), p(t.b), p(t.c), p(t.d), n, C.float(f[0]), C.float(f[1]), C.float(f[2]), C.float(f[3]), C.float(f[4]), C.float(f[5]))
	}
}

// run runs t over len(t.a) values, split across the pool when it is large (chunks aligned to
// 64 values).
func run(t task) {
	n := len(t.a)
	pl := pool.Load()
	if pl == nil || n < ParallelMin {
		runTask(t)
		return
	}
	w := pl.Workers()
	bound := func(i int) int { return min(n, (n*i/w+63)&^63) }
	sub := func(s []float32, lo, hi int) []float32 {
		if s == nil {
			return nil
		}
		return s[lo:hi]
	}
	var ts [par.MaxWorkers]task
	for i := range w {
		lo, hi := bound(i), bound(i+1)
		ts[i] = task{t.op, t.kind, sub(t.a, lo, hi), sub(t.b, lo, hi), sub(t.c, lo, hi), sub(t.d, lo, hi), t.f}
	}
	pl.Do(ts[:w])
}

func p(s []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }

func check(name string, n int, s ...[]float32) {
	for _, v := range s {
		if len(v) < n {
			panic(fmt.Sprintf("kern: %s of %d values given a slice of %d", name, n, len(v)))
		}
	}
}

// ELU sets y = x for x > 0 and e^x - 1 otherwise.
func ELU(x, y []float32) {
	if n := len(x); n > 0 {
		check("ELU", n, y)
		run(task{op: opELU, a: x, b: y[:n]})
	}
}

// ELUGrad adds gy * ELU'(x) into gx, ELU' from x and y = ELU(x).
func ELUGrad(x, y, gy, gx []float32) {
	if n := len(gy); n > 0 {
		check("ELUGrad", n, x, y, gx)
		run(task{op: opELUGrad, a: x[:n], b: y[:n], c: gy, d: gx[:n]})
	}
}

// Sigmoid sets y = 1 / (1 + e^-x).
func Sigmoid(x, y []float32) {
	if n := len(x); n > 0 {
		check("Sigmoid", n, y)
		run(task{op: opSigmoid, a: x, b: y[:n]})
	}
}

// Tanh sets y = tanh(x).
func Tanh(x, y []float32) {
	if n := len(x); n > 0 {
		check("Tanh", n, y)
		run(task{op: opTanh, a: x, b: y[:n]})
	}
}

// TanhGrad adds gy * (1 - y^2) into gx, y = tanh(x).
func TanhGrad(y, gy, gx []float32) { unaryGrad(0, "TanhGrad", y, gy, gx) }

// SigmoidGrad adds gy * y * (1 - y) into gx, y = sigmoid(x).
func SigmoidGrad(y, gy, gx []float32) { unaryGrad(1, "SigmoidGrad", y, gy, gx) }

func unaryGrad(kind int, name string, y, gy, gx []float32) {
	if n := len(gy); n > 0 {
		check(name, n, y, gx)
		run(task{op: opUnaryGrad, kind: kind, a: y[:n], b: gy, c: gx[:n]})
	}
}

// Conv describes a square convolution window over samples [C][H][W] with OH x OW outputs.
type Conv struct{ C, H, W, K, Stride, Pad, OH, OW int }

// EmbConv describes a convolution of embedded indices (kern_embconv in kern.c): E planes of
// indices over N samples of H x W cells, a K x K window, O output channels.
type EmbConv struct{ E, N, H, W, K, Stride, Pad, OH, OW, O int }

func (c EmbConv) check(name string, t []float32, idx []int32, y, bias, scratch []float32) {
	kkO := c.K * c.K * c.O
	if len(idx) < c.E*c.N*c.H*c.W || len(y) < c.N*c.O*c.OH*c.OW || len(bias) < c.O || len(scratch) < c.O || kkO == 0 || len(t)%kkO != 0 {
		panic(fmt.Sprintf("kern: %s %+v with %d table values, %d indices, %d outputs", name, c, len(t), len(idx), len(y)))
	}
	rows := int32(len(t) / kkO)
	for _, i := range idx[:c.E*c.N*c.H*c.W] {
		if i < 0 || i >= rows {
			panic(fmt.Sprintf("kern: %s index %d outside the table's %d rows", name, i, rows))
		}
	}
}

// EmbConvForward writes y [N][O][OH][OW]: bias plus, for each window cell inside the input
// and each plane e, row idx[e*N*H*W + cell] of t ([rows][K*K][O]) at the cell's kernel offset.
// acc is scratch of O values.
func EmbConvForward(c EmbConv, t []float32, idx []int32, bias, acc, y []float32) {
	c.check("EmbConvForward", t, idx, y, bias, acc)
	C.kern_embconv_fwd(p(t), (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(idx))), C.long(c.E), C.long(c.N), C.long(c.H), C.long(c.W),
		C.long(c.K), C.long(c.Stride), C.long(c.Pad), C.long(c.OH), C.long(c.OW), C.long(c.O), p(bias), p(acc), p(y))
}

// EmbConvBackward adds EmbConvForward's adjoint of gy into dt (laid out as t) and db. g is
// scratch of O values.
func EmbConvBackward(c EmbConv, gy []float32, idx []int32, g, dt, db []float32) {
	c.check("EmbConvBackward", dt, idx, gy, db, g)
	C.kern_embconv_bwd(p(gy), (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(idx))), C.long(c.E), C.long(c.N), C.long(c.H), C.long(c.W),
		C.long(c.K), C.long(c.Stride), C.long(c.Pad), C.long(c.OH), C.long(c.OW), C.long(c.O), p(g), p(dt), p(db))
}

// ReLU sets y = max(x, 0).
func ReLU(x, y []float32) {
	if n := len(x); n > 0 {
		check("ReLU", n, y)
		run(task{op: opReLU, a: x, b: y[:n]})
	}
}

// ReLUGrad adds gy where x > 0 into gx.
func ReLUGrad(x, gy, gx []float32) {
	if n := len(gy); n > 0 {
		check("ReLUGrad", n, x, gx)
		run(task{op: opReLUGrad, a: x[:n], b: gy, c: gx[:n]})
	}
}

// Col2im1dAdd adds one sample's window gradients dcol [C*k][OL] (rows ld apart) into gx
// [C][L]: row (ch, kk) goes to gx[ch][kk : kk+OL].
func Col2im1dAdd(dcol []float32, c, l, k, ol, ld int, gx []float32) {
	if ld < ol || len(dcol) < (c*k-1)*ld+ol || len(gx) < c*l || ol+k-1 > l {
		panic(fmt.Sprintf("kern: Col2im1dAdd of [%d*%d][%d] (stride %d) into [%d][%d] with %d and %d values", c, k, ol, ld, c, l, len(dcol), len(gx)))
	}
	C.kern_col2im1d_add(p(dcol), C.long(c), C.long(l), C.long(k), C.long(ol), C.long(ld), p(gx))
}

// RowSumsAdd adds the sums of x's rows ([rows][n]) into s.
func RowSumsAdd(x []float32, rows, n int, s []float32) {
	if len(x) < rows*n || len(s) < rows {
		panic(fmt.Sprintf("kern: RowSumsAdd of [%d][%d] with %d values into %d", rows, n, len(x), len(s)))
	}
	C.kern_row_sums_add(p(x), C.long(rows), C.long(n), p(s))
}

// MaxPool1d takes the maximum over windows of k of each row of x [rows][l] (stride k, the
// first maximum wins): y [rows][l/k], and the winners' indices into x in arg.
func MaxPool1d(x []float32, rows, l, k int, y []float32, arg []int32) {
	ol := l / k
	if k <= 0 || len(x) < rows*l || len(y) < rows*ol || len(arg) < rows*ol {
		panic(fmt.Sprintf("kern: MaxPool1d(%d) of [%d][%d] with %d values into %d, %d", k, rows, l, len(x), len(y), len(arg)))
	}
	C.kern_maxpool1d(p(x), C.long(rows), C.long(l), C.long(k), p(y), (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(arg))))
}

// ScatterAdd adds gy[i] into gx[arg[i]] (arg's values index gx).
func ScatterAdd(gy []float32, arg []int32, gx []float32) {
	if len(arg) < len(gy) {
		panic(fmt.Sprintf("kern: ScatterAdd of %d values with %d indices", len(gy), len(arg)))
	}
	for _, a := range arg[:len(gy)] {
		if a < 0 || int(a) >= len(gx) {
			panic(fmt.Sprintf("kern: ScatterAdd index %d outside %d values", a, len(gx)))
		}
	}
	if len(gy) > 0 {
		C.kern_scatter_add(p(gy), (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(arg))), C.long(len(gy)), p(gx))
	}
}

// WindowIndex returns, for a K x K window with the given stride and padding over H x W inputs,
// the input cell each output position reads at each kernel offset: idx[(ki*K+kj)*OH*OW + p],
// -1 where the window leaves the input. It is the table Im2colBatch and Col2imBatchAdd take.
func WindowIndex(c Conv, idx []int32) []int32 {
	P := c.OH * c.OW
	idx = idx[:0]
	for ki := range c.K {
		for kj := range c.K {
			for p := range P {
				ih, iw := p/c.OW*c.Stride-c.Pad+ki, p%c.OW*c.Stride-c.Pad+kj
				v := int32(-1)
				if ih >= 0 && ih < c.H && iw >= 0 && iw < c.W {
					v = int32(ih*c.W + iw)
				}
				idx = append(idx, v)
			}
		}
	}
	return idx
}

func (c Conv) checkBatch(name string, n int, x, cols []float32, idx []int32) {
	P := c.OH * c.OW
	if len(x) < n*c.C*c.H*c.W || len(cols) < c.C*c.K*c.K*n*P || len(idx) != c.K*c.K*P {
		panic(fmt.Sprintf("kern: %s %+v of %d samples with %d inputs, %d columns, %d indices", name, c, n, len(x), len(cols), len(idx)))
	}
}

// Im2colBatch writes the windows of n samples x [n][C][H][W] into cols [C*K*K][n*OH*OW]
// (sample s's columns at s*OH*OW), idx from WindowIndex.
func Im2colBatch(c Conv, n int, x, cols []float32, idx []int32) {
	c.checkBatch("Im2colBatch", n, x, cols, idx)
	P := c.OH * c.OW
	C.kern_im2col_idx(p(x), C.long(n), C.long(c.C), C.long(c.H*c.W), C.long(P), C.long(c.K*c.K),
		(*C.int32_t)(unsafe.Pointer(unsafe.SliceData(idx))), p(cols), C.long(n*P))
}

// Col2imBatchAdd adds window gradients laid out as Im2colBatch's into dx [n][C][H][W].
func Col2imBatchAdd(c Conv, n int, cols, dx []float32, idx []int32) {
	c.checkBatch("Col2imBatchAdd", n, dx, cols, idx)
	P := c.OH * c.OW
	C.kern_col2im_idx(p(cols), C.long(n), C.long(c.C), C.long(c.H*c.W), C.long(P), C.long(c.K*c.K),
		(*C.int32_t)(unsafe.Pointer(unsafe.SliceData(idx))), p(dx), C.long(n*P))
}

// Adam does one Adam step on parameters w with gradients g and moments m, v (PyTorch's
// update, L2 weight decay wd added to the gradient, 0 for none): m = b1 m + (1-b1) g,
// v = b2 v + (1-b2) g^2, w -= step * m / (sqrt(v) / bc2 + eps). It zeroes g.
func Adam(w, g, m, v []float32, b1, b2, step, bc2, eps, wd float32) {
	if n := len(w); n > 0 {
		check("Adam", n, g, m, v)
		run(task{op: opAdam, a: w, b: g[:n], c: m[:n], d: v[:n], f: [6]float32{b1, b2, step, bc2, eps, wd}})
	}
}

// GRUGates applies a GRU cell's gates to n rows of width hd: gi and gh are the input's and the
// state's projections [n][3*hd] (r, z, n order), h the state [n][hd]; it writes r, z, nn
// (kept for GRUGatesGrad) and y = (1-z) nn + z h, r = s(gi_r+gh_r), z = s(gi_z+gh_z),
// nn = tanh(gi_n + r gh_n). The slices must not overlap.
func GRUGates(gi, gh, h []float32, n, hd int, r, z, nn, y []float32) {
	if n*hd == 0 {
		return
	}
	check("GRUGates", 3*n*hd, gi, gh)
	check("GRUGates", n*hd, h, r, z, nn, y)
	C.kern_gru_fwd(p(gi), p(gh), p(h), C.long(n), C.long(hd), p(r), p(z), p(nn), p(y))
}

// GRUGatesGrad adds GRUGates's gradients for gy [n][hd] into dgi and dgh ([n][3*hd]) and dh
// ([n][hd]; nil when h needs none). The slices must not overlap.
func GRUGatesGrad(gh, h, r, z, nn, gy []float32, n, hd int, dgi, dgh, dh []float32) {
	if n*hd == 0 {
		return
	}
	check("GRUGatesGrad", 3*n*hd, gh, dgi, dgh)
	check("GRUGatesGrad", n*hd, h, r, z, nn, gy)
	var pdh *C.float
	if dh != nil {
		check("GRUGatesGrad", n*hd, dh)
		pdh = p(dh)
	}
	C.kern_gru_bwd(p(gh), p(h), p(r), p(z), p(nn), p(gy), C.long(n), C.long(hd), p(dgi), p(dgh), pdh)
}
