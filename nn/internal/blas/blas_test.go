package blas

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
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
