package blas

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// ref computes the product in float64.
func ref(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	at := func(i, p int) float64 {
		if transA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if transB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				s += at(i, p) * bt(p, j)
			}
			out[i*ldc+j] = float64(alpha)*s + float64(beta)*out[i*ldc+j]
		}
	}
	return out
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func checkBackend(t *testing.T, b *Backend) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][3]int{{1, 1, 1}, {3, 5, 7}, {64, 64, 64}, {127, 33, 260}, {256, 512, 96}, {5, 0, 3}, {4, 6, 0}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 2}, {-1.5, 1}} {
					lda, ldb, ldc := k+2, n+1, n+3 // padded leading dimensions
					if ta {
						lda = m + 2
					}
					if tb {
						ldb = k + 1
					}
					ar, br := m, k
					if ta {
						ar = k
					}
					if tb {
						br = n
					}
					a := randSlice(rng, max(ar*lda, 1))
					bm := randSlice(rng, max(br*ldb, 1))
					c := randSlice(rng, max(m*ldc, 1))
					want := ref(ta, tb, m, n, k, ab[0], a, lda, bm, ldb, ab[1], c, ldc)
					b.Sgemm(ta, tb, m, n, k, ab[0], a, lda, bm, ldb, ab[1], c, ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							got, w := float64(c[i*ldc+j]), want[i*ldc+j]
							if math.Abs(got-w) > 1e-4*(1+math.Abs(w))*math.Sqrt(float64(k+1)) {
								t.Fatalf("%s m=%d n=%d k=%d ta=%v tb=%v alpha=%v beta=%v: c[%d,%d] = %v, want %v", b.Describe(), m, n, k, ta, tb, ab[0], ab[1], i, j, got, w)
							}
						}
					}
				}
			}
		}
	}
}

func TestSgemmOpenBLAS(t *testing.T) {
	b := Load("libopenblas.so.0")
	if b.Name() != "openblas" {
		t.Fatalf("OpenBLAS did not load: %s; make setup installs libopenblas0-pthread", b.Describe())
	}
	t.Log(b.Describe())
	checkBackend(t, b)
}

// TestSgemmSplit checks products split across goroutines (the two largest shapes of
// checkBackend are over ParallelMin) in every transpose case, run concurrently under -race.
func TestSgemmSplit(t *testing.T) {
	b := Load("libopenblas.so.0")
	if b.Name() != "openblas" {
		t.Fatalf("OpenBLAS did not load: %s", b.Describe())
	}
	b.SetThreads(1)
	defer b.SetThreads(runtime.NumCPU())
	b.SetWorkers(3)
	checkBackend(t, b)
}

func TestSgemmGonumFallback(t *testing.T) {
	b := Load("libno-such-blas.so")
	if b.Name() != "gonum" || !strings.Contains(b.Describe(), "not found") {
		t.Fatalf("fallback: %s", b.Describe())
	}
	checkBackend(t, b)
}

// TestKernelSwitch drives the switching mechanism in a child process (the switch is process
// wide): ask OpenBLAS for the best kernel this CPU supports and check that products stay right.
func TestKernelSwitch(t *testing.T) {
	want := bestKernel()
	if os.Getenv("MAESTRO_BLAS_CHILD") == "1" {
		b := Load("libopenblas.so.0")
		if err := b.switchKernelByName(want); err != nil {
			t.Fatal(err)
		}
		if b.Kernel() != want {
			t.Fatalf("kernel %s after switching to %s", b.Kernel(), want)
		}
		checkBackend(t, b)
		return
	}
	if want == "" {
		t.Logf("this CPU has neither AVX-512 nor AVX2+FMA: nothing to switch to")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKernelSwitch$", "-test.v")
	cmd.Env = append(os.Environ(), "MAESTRO_BLAS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func BenchmarkSgemm512(b *testing.B) {
	be := Default()
	n := 512
	rng := rand.New(rand.NewPCG(1, 1))
	x, y, z := randSlice(rng, n*n), randSlice(rng, n*n), make([]float32, n*n)
	b.ReportAllocs()
	for b.Loop() {
		be.Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
	}
	b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.Log(be.Describe())
}

func BenchmarkSgemm512Gonum(b *testing.B) {
	be := Load("libno-such-blas.so")
	n := 512
	rng := rand.New(rand.NewPCG(1, 1))
	x, y, z := randSlice(rng, n*n), randSlice(rng, n*n), make([]float32, n*n)
	for b.Loop() {
		be.Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
	}
	b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// TestSgemmSmall checks the few-rows kernel (m <= SmallM, A B^T, alpha 1; any B here) against
// the float64 reference over row counts 1..SmallM, column counts around its register blocks (3
// rows of B) and its 48-column blocks, reduction lengths around the 8-lane vectors, padded
// leading dimensions and beta 0 (C not read: it holds NaN), 1 and 0.5, with and without splits;
// C's padding must stay as it was. The same shapes as A B run on OpenBLAS alongside. Then the
// dispatch rule: which products the kernel takes.
func TestSgemmSmall(t *testing.T) {
	for _, workers := range []int{1, 3} {
		b := Load("libopenblas.so.0")
		if b.noSmall {
			t.Fatal("MAESTRO_BLAS_SMALL=0 is set: the kernel under test is off")
		}
		b.smallMinB = 0
		b.SetThreads(1)
		b.SetWorkers(workers)
		rng := rand.New(rand.NewPCG(3, 4))
		for m := 1; m <= SmallM; m++ {
			for _, n := range []int{1, 2, 3, 5, 8, 9, 23, 24, 25, 48, 49, 100, 700} {
				for _, k := range []int{1, 7, 8, 9, 31, 130, 800} {
					for _, tb := range []bool{false, true} {
						for _, beta := range []float32{0, 1, 0.5} {
							lda, ldb, ldc := k+3, n+2, n+1
							br := k
							if tb {
								ldb, br = k+1, n
							}
							a, bm, c := randSlice(rng, m*lda), randSlice(rng, br*ldb), randSlice(rng, m*ldc)
							if beta == 0 {
								for i := range c {
									c[i] = float32(math.NaN())
								}
							}
							c0 := append([]float32(nil), c...)
							src := c
							if beta == 0 {
								src = make([]float32, len(c))
							}
							want := ref(false, tb, m, n, k, 1, a, lda, bm, ldb, beta, src, ldc)
							b.Sgemm(false, tb, m, n, k, 1, a, lda, bm, ldb, beta, c, ldc)
							for i := 0; i < m; i++ {
								for j := 0; j < ldc && i*ldc+j < len(c); j++ {
									got := c[i*ldc+j]
									if j >= n { // padding
										if math.Float32bits(got) != math.Float32bits(c0[i*ldc+j]) {
											t.Fatalf("workers=%d m=%d n=%d k=%d transB=%v: padding c[%d,%d] written (%v, was %v)", workers, m, n, k, tb, i, j, got, c0[i*ldc+j])
										}
										continue
									}
									w := want[i*ldc+j]
									if !(math.Abs(float64(got)-w) <= 1e-5*(1+math.Abs(w))*math.Sqrt(float64(k))) {
										t.Fatalf("workers=%d m=%d n=%d k=%d transB=%v beta=%v: c[%d,%d] = %v, want %v", workers, m, n, k, tb, beta, i, j, got, w)
									}
								}
							}
						}
					}
				}
			}
		}
		b.SetWorkers(1)
	}
	b := Load("libopenblas.so.0")
	for _, c := range []struct {
		transA, transB bool
		m, n, k        int
		alpha          float32
		want           bool
	}{
		{false, true, 8, 1536, 795, 1, true},
		{false, true, 1, 256, 256, 1, true},            // n*k = SmallMinB
		{false, true, 8, 255, 256, 1, false},           // just under SmallMinB
		{false, true, SmallM + 1, 1536, 795, 1, false}, // too many rows
		{false, false, 8, 1536, 795, 1, false},         // A B: OpenBLAS
		{true, true, 8, 1536, 795, 1, false},           // A transposed
		{false, true, 8, 1536, 795, 0.5, false},        // alpha != 1
	} {
		if got := b.small(c.transA, c.transB, c.m, c.n, c.k, c.alpha); got != c.want {
			t.Errorf("small(transA=%v, transB=%v, m=%d, n=%d, k=%d, alpha=%v) = %v, want %v", c.transA, c.transB, c.m, c.n, c.k, c.alpha, got, c.want)
		}
	}
}

// BenchmarkSmallRows compares the few-rows kernel with OpenBLAS on the Motif agent's
// few-rows products (8 envs): go test -bench SmallRows ./nn/internal/blas/
func BenchmarkSmallRows(bm *testing.B) {
	for _, sh := range [][4]int{{8, 1536, 795, 1}, {8, 1536, 512, 1}, {8, 512, 576, 1}, {8, 128, 256, 1}, {8, 24, 512, 1}} {
		m, n, k, tb := sh[0], sh[1], sh[2], sh[3] == 1
		for _, off := range []bool{true, false} {
			name := "small"
			if off {
				name = "openblas"
			}
			bm.Run(strings.Join([]string{name, itoa(m), itoa(n), itoa(k), map[bool]string{true: "nt", false: "nn"}[tb]}, "_"), func(bm *testing.B) {
				b := Load("libopenblas.so.0")
				b.SetThreads(1)
				b.noSmall, b.smallMinB = off, 0
				rng := rand.New(rand.NewPCG(1, 1))
				a, w, c := randSlice(rng, m*k), randSlice(rng, n*k), randSlice(rng, m*n)
				ldb := n
				if tb {
					ldb = k
				}
				for bm.Loop() {
					b.Sgemm(false, tb, m, n, k, 1, a, k, w, ldb, 1, c, n)
				}
				bm.ReportMetric(2*float64(m*n*k)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
