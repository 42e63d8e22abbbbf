package kern

import (
	"math"
	"slices"
	"testing"
)

// within fails unless got is within rel (relative to max(|want|, floor)) of want.
func within(t *testing.T, name string, x, got, want, rel, floor float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Max(math.Abs(want), floor) {
		t.Fatalf("%s(%v) = %v, want %v", name, x, got, want)
	}
}

// TestActivationsAgainstMath checks ELU, sigmoid and tanh against float64 math over their
// whole range, including the clamped tails and the series near 0.
func TestActivationsAgainstMath(t *testing.T) {
	var xs []float32
	for x := float32(-100); x < 100; x += 0.0137 {
		xs = append(xs, x)
	}
	xs = append(xs, 0, 1e-8, -1e-8, 0.2999, -0.2999, 0.3, -0.3)
	elu, sig, th := make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs))
	ELU(xs, elu)
	Sigmoid(xs, sig)
	Tanh(xs, th)
	for i, x32 := range xs {
		x := float64(x32)
		e := x
		if x <= 0 {
			e = math.Expm1(x)
		}
		within(t, "ELU", x, float64(elu[i]), e, 4e-7, 1e-30)
		within(t, "Sigmoid", x, float64(sig[i]), 1/(1+math.Exp(-x)), 4e-7, 1e-30)
		within(t, "Tanh", x, float64(th[i]), math.Tanh(x), 4e-7, 1e-30)
	}
}

// TestGradients checks the backward kernels against the derivatives in closed form, and that
// they add into gx.
func TestGradients(t *testing.T) {
	xs := []float32{-5, -1, -0.1, 0, 0.1, 1, 5, 20}
	n := len(xs)
	y, gy, gx := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range gy {
		gy[i] = float32(i) + 0.5
	}
	for _, c := range []struct {
		name string
		fwd  func(x, y []float32)
		bwd  func(x, y, gy, gx []float32)
		d    func(x float64) float64
	}{
		{"ELU", ELU, ELUGrad, func(x float64) float64 {
			if x > 0 {
				return 1
			}
			return math.Exp(x)
		}},
		{"Sigmoid", Sigmoid, func(_, y, gy, gx []float32) { SigmoidGrad(y, gy, gx) }, func(x float64) float64 {
			s := 1 / (1 + math.Exp(-x))
			return s * (1 - s)
		}},
		{"Tanh", Tanh, func(_, y, gy, gx []float32) { TanhGrad(y, gy, gx) }, func(x float64) float64 {
			return 1 - math.Tanh(x)*math.Tanh(x)
		}},
	} {
		c.fwd(xs, y)
		for i := range gx {
			gx[i] = 1
		}
		c.bwd(xs, y, gy, gx)
		for i, x := range xs {
			within(t, c.name+"Grad", float64(x), float64(gx[i]), 1+float64(gy[i])*c.d(float64(x)), 2e-6, 1)
		}
	}
}

// TestIm2colAdjoint checks Im2colBatch against windows read directly, for strides 1 and 2
// with padding over three samples, and that Col2imBatchAdd is its adjoint:
// <Im2colBatch(x), c> = <x, Col2imBatchAdd(c)>.
func TestIm2colAdjoint(t *testing.T) {
	for _, cv := range []Conv{{C: 3, H: 5, W: 7, K: 3, Stride: 1, Pad: 1}, {C: 2, H: 6, W: 5, K: 3, Stride: 2, Pad: 1}, {C: 4, H: 4, W: 4, K: 2, Stride: 2, Pad: 0}} {
		cv.OH, cv.OW = (cv.H+2*cv.Pad-cv.K)/cv.Stride+1, (cv.W+2*cv.Pad-cv.K)/cv.Stride+1
		const n = 3
		P, in, rows := cv.OH*cv.OW, cv.C*cv.H*cv.W, cv.C*cv.K*cv.K
		x := make([]float32, n*in)
		for i := range x {
			x[i] = float32(i%17) - 8
		}
		cols := make([]float32, rows*n*P)
		for i := range cols {
			cols[i] = 99 // every window value must be written
		}
		idx := WindowIndex(cv, nil)
		Im2colBatch(cv, n, x, cols, idx)
		var dot1 float64
		c := make([]float32, len(cols))
		for r := range rows {
			ch, ki, kj := r/(cv.K*cv.K), r/cv.K%cv.K, r%cv.K
			for s := range n {
				for o := range P {
					ih, iw := o/cv.OW*cv.Stride-cv.Pad+ki, o%cv.OW*cv.Stride-cv.Pad+kj
					want := float32(0)
					if ih >= 0 && ih < cv.H && iw >= 0 && iw < cv.W {
						want = x[s*in+(ch*cv.H+ih)*cv.W+iw]
					}
					at := r*n*P + s*P + o
					if cols[at] != want {
						t.Fatalf("%+v: row %d sample %d column %d = %v, want %v", cv, r, s, o, cols[at], want)
					}
					c[at] = float32((r*7+o+s)%5) - 2
					dot1 += float64(want) * float64(c[at])
				}
			}
		}
		dx := make([]float32, len(x))
		Col2imBatchAdd(cv, n, c, dx, idx)
		var dot2 float64
		for i := range x {
			dot2 += float64(x[i]) * float64(dx[i])
		}
		if dot1 != dot2 {
			t.Fatalf("%+v: <im2col x, c> = %v, <x, col2im c> = %v", cv, dot1, dot2)
		}
	}
}

func BenchmarkELU(b *testing.B) {
	x, y := make([]float32, 1<<16), make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%200)/20 - 5
	}
	b.SetBytes(4 << 16)
	for b.Loop() {
		ELU(x, y)
	}
}

func BenchmarkELUGrad(b *testing.B) {
	n := 1 << 14
	x, y, gy, gx := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%200)/20 - 5
	}
	ELU(x, y)
	b.SetBytes(int64(4 * n))
	for b.Loop() {
		ELUGrad(x, y, gy, gx)
	}
}

// TestPoolingAndSums checks MaxPool1d (the first of equal maxima wins; trailing values
// dropped), ScatterAdd, RowSumsAdd, ReLU and its gradient, and Col2im1dAdd against loops.
func TestPoolingAndSums(t *testing.T) {
	x := []float32{1, 3, 3, -1, -2, -5, 7, 0 /* row 2 */, 2, 2, 2, 0, 9, 1, 4, 4}
	y, arg := make([]float32, 4), make([]int32, 4)
	MaxPool1d(x, 2, 8, 3, y, arg)
	if want := []float32{3, -1, 2, 9}; !slices.Equal(y, want) || arg[0] != 1 || arg[1] != 3 || arg[2] != 8 || arg[3] != 12 {
		t.Errorf("MaxPool1d = %v at %v, want %v at [1 3 8 12]", y, arg, want)
	}
	gx := make([]float32, len(x))
	ScatterAdd([]float32{1, 2, 3, 4}, arg, gx)
	ScatterAdd([]float32{10}, arg[:1], gx)
	if gx[1] != 11 || gx[3] != 2 || gx[8] != 3 || gx[12] != 4 {
		t.Errorf("ScatterAdd = %v", gx)
	}
	s := []float32{1, 1}
	RowSumsAdd(x, 2, 8, s)
	if s[0] != 1+6 || s[1] != 1+24 {
		t.Errorf("RowSumsAdd = %v, want [7 25]", s)
	}
	r, gr := make([]float32, len(x)), make([]float32, len(x))
	ReLU(x, r)
	ReLUGrad(x, x, gr)
	for i, v := range x {
		if want := max(v, 0); r[i] != want || gr[i] != want {
			t.Fatalf("ReLU(%v) = %v, grad with gy = x: %v; want %v", v, r[i], gr[i], want)
		}
	}
	// Col2im1dAdd: C=2, L=5, k=2, OL=4.
	dcol := make([]float32, 2*2*4)
	for i := range dcol {
		dcol[i] = float32(i + 1)
	}
	g := make([]float32, 10)
	Col2im1dAdd(dcol, 2, 5, 2, 4, 4, g)
	want := make([]float32, 10)
	for ch := range 2 {
		for kk := range 2 {
			for i := range 4 {
				want[ch*5+kk+i] += dcol[(ch*2+kk)*4+i]
			}
		}
	}
	if !slices.Equal(g, want) {
		t.Errorf("Col2im1dAdd = %v, want %v", g, want)
	}
}

// TestSplitMatchesOneGoroutine checks that kernels split across goroutines compute exactly
// what one goroutine does, on lengths around the chunk boundaries.
func TestSplitMatchesOneGoroutine(t *testing.T) {
	defer SetWorkers(1)
	for _, n := range []int{ParallelMin - 1, ParallelMin, ParallelMin + 65, 3*ParallelMin + 7} {
		x, gy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(i%977)/97 - 5
			gy[i] = float32(i%13) - 6
		}
		run := func(w int) [][]float32 {
			SetWorkers(w)
			var out [][]float32
			for _, f := range []func(x, y []float32){ELU, Sigmoid, Tanh, ReLU} {
				y, gx := make([]float32, n), make([]float32, n)
				f(x, y)
				ELUGrad(x, y, gy, gx)
				TanhGrad(y, gy, gx)
				ReLUGrad(x, gy, gx)
				out = append(out, y, gx)
			}
			return out
		}
		one, three := run(1), run(3)
		for i := range one {
			if !slices.Equal(one[i], three[i]) {
				t.Fatalf("n=%d: output %d differs between 1 and 3 goroutines", n, i)
			}
		}
		y := make([]float32, n)
		if a := testing.AllocsPerRun(10, func() { ELU(x, y); ELUGrad(x, y, gy, y) }); a != 0 {
			t.Errorf("n=%d: split kernels allocate %v times", n, a)
		}
	}
}

func BenchmarkCol2im1dAdd(b *testing.B) {
	const c, l, k = 32, 256, 7
	ol := l - k + 1
	dcol, gx := make([]float32, c*k*ol), make([]float32, c*l)
	b.SetBytes(int64(4 * len(dcol)))
	for b.Loop() {
		Col2im1dAdd(dcol, c, l, k, ol, ol, gx)
	}
}

// TestAdam checks three Adam steps (with L2 weight decay) against the update in float64, and
// that the gradient is zeroed.
func TestAdam(t *testing.T) {
	const n = 37
	w, m, v := make([]float32, n), make([]float32, n), make([]float32, n)
	w64, m64, v64 := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range w {
		w[i] = float32(i%7) - 3
		w64[i] = float64(w[i])
	}
	const b1, b2, lr, eps, wd = 0.9, 0.999, 1e-2, 1e-8, 0.1
	for step := 1; step <= 3; step++ {
		g := make([]float32, n)
		for i := range g {
			g[i] = float32((i*step)%5) - 2
		}
		bc2 := math.Sqrt(1 - math.Pow(b2, float64(step)))
		st := lr / (1 - math.Pow(b1, float64(step)))
		for i := range w64 {
			gr := float64(g[i]) + wd*w64[i]
			m64[i] = b1*m64[i] + (1-b1)*gr
			v64[i] = b2*v64[i] + (1-b2)*gr*gr
			w64[i] -= st * m64[i] / (math.Sqrt(v64[i])/bc2 + eps)
		}
		Adam(w, g, m, v, b1, b2, float32(st), float32(bc2), eps, wd)
		for i := range w {
			within(t, "Adam", float64(i), float64(w[i]), w64[i], 1e-5, 1)
			if g[i] != 0 {
				t.Fatalf("step %d: gradient %d not zeroed: %v", step, i, g[i])
			}
		}
	}
}

// TestNaNPropagates checks that activations pass NaN on (a diverging network must show, as in
// PyTorch), not turn it into a number.
func TestNaNPropagates(t *testing.T) {
	nan := float32(math.NaN())
	x, y := []float32{nan, 1, -1}, make([]float32, 3)
	for name, f := range map[string]func(x, y []float32){"ELU": ELU, "ReLU": ReLU, "Sigmoid": Sigmoid, "Tanh": Tanh} {
		f(x, y)
		if !math.IsNaN(float64(y[0])) || math.IsNaN(float64(y[1])) {
			t.Errorf("%s(%v) = %v, want NaN first and numbers after", name, x, y)
		}
	}
}
