package nn

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/maestro-rl/maestro/nn/internal/blas"
)

// GEMM is one shape of matrix product, C (M x N) = op(A) (M x K) op(B) (K x N), and how many
// times a traced function ran it (TraceGEMM).
type GEMM struct {
	TransA, TransB bool
	M, N, K        int
	Count          int
}

// FLOPs returns the floating-point operations of Count products of this shape (2MNK each).
func (p GEMM) FLOPs() float64 {
	return 2 * float64(p.M) * float64(p.N) * float64(p.K) * float64(p.Count)
}

// TraceGEMM runs f and returns the matrix products the process ran meanwhile (on any
// goroutine), by shape, the most floating-point operations first. It is for measuring (the
// compute ceiling of bench/ceiling), not for concurrent use: traces do not nest.
func TraceGEMM(f func() error) ([]GEMM, error) {
	t := blas.NewTrace()
	be := blas.Default()
	old := be.SetTrace(t)
	err := f()
	be.SetTrace(old)
	var out []GEMM
	for s, n := range t.Counts() {
		out = append(out, GEMM{TransA: s.TransA, TransB: s.TransB, M: s.M, N: s.N, K: s.K, Count: n})
	}
	slices.SortFunc(out, func(a, b GEMM) int {
		if c := cmp.Compare(b.FLOPs(), a.FLOPs()); c != 0 {
			return c
		}
		return cmp.Compare(a.M*1e6+a.N*1e3+a.K, b.M*1e6+b.N*1e3+b.K)
	})
	return out, err
}

// TimeGEMM returns the time of one product of p's shape (its Count ignored) on random data,
// accumulating into C as nn's backward products do: the median of reps runs after a warm-up,
// with the threads SetBLASThreads set.
func TimeGEMM(p GEMM, reps int) time.Duration {
	rng := rand.New(rand.NewPCG(uint64(p.M), uint64(p.N*p.K)))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	a, b, c := fill(p.M*p.K), fill(p.K*p.N), fill(p.M*p.N)
	lda, ldb := p.K, p.N
	if p.TransA {
		lda = p.M
	}
	if p.TransB {
		ldb = p.K
	}
	be := blas.Default()
	run := func() { be.Sgemm(p.TransA, p.TransB, p.M, p.N, p.K, 1, a, lda, b, ldb, 1, c, p.N) }
	// Repeat small products within one timing so the clock's resolution does not matter.
	inner := max(1, int(2e6/(2*float64(p.M)*float64(p.N)*float64(p.K)+1)))
	run()
	ts := make([]time.Duration, max(reps, 1))
	for r := range ts {
		t0 := time.Now()
		for range inner {
			run()
		}
		ts[r] = time.Since(t0) / time.Duration(inner)
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}
