package blas

/*
#cgo CFLAGS: -O3 -Wno-psabi
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include "small.h"
#include <stdlib.h>

typedef char *(*gonle_blas_str)(void);
typedef void (*gonle_blas_void)(void);
typedef void (*gonle_blas_int)(int);
typedef void (*gonle_blas_sgemm)(int, int, int, int, int, int, float, const float *, int,
                                 const float *, int, float, float *, int);

static void *gonle_blas_open(const char *name) { return dlopen(name, RTLD_NOW | RTLD_LOCAL); }
static void *gonle_blas_sym(void *h, const char *name) { return dlsym(h, name); }
static const char *gonle_blas_call_str(void *f) { return ((gonle_blas_str) f)(); }
static void gonle_blas_call_void(void *f) { ((gonle_blas_void) f)(); }
static void gonle_blas_call_int(void *f, int n) { ((gonle_blas_int) f)(n); }
static void gonle_blas_call_sgemm(void *f, int transA, int transB, int m, int n, int k,
                                  float alpha, const float *a, int lda, const float *b, int ldb,
                                  float beta, float *c, int ldc) {
    ((gonle_blas_sgemm) f)(101, transA ? 112 : 111, transB ? 112 : 111, m, n, k, alpha, a, lda,
                           b, ldb, beta, c, ldc);
}
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"unsafe"

	"github.com/maestro-rl/maestro/nn/internal/par"

	"golang.org/x/sys/cpu"
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Backend multiplies matrices.
type Backend struct {
	name   string // "openblas" or "gonum"
	kernel string // OpenBLAS's core name, or "go"
	note   string // how the kernel was chosen
	sgemm  unsafe.Pointer
	setN   unsafe.Pointer
	corefn unsafe.Pointer
	g      gonum.Implementation
	// pool runs the parts of large products (SetWorkers); nil: no splitting.
	pool atomic.Pointer[par.Pool[gemm]]
	// trace counts the products by shape while set (SetTrace); nil: not counting.
	trace atomic.Pointer[Trace]
	// noSmall turns the few-rows kernel off (MAESTRO_BLAS_SMALL=0, for comparisons);
	// smallMinB is its least B (SmallMinB; tests lower it to reach every shape).
	noSmall   bool
	smallMinB int
}

// SmallM and SmallMinB say which products run on small.c's few-rows kernel rather than
// OpenBLAS: C = A B^T (B transposed, A not, alpha 1) with at most SmallM rows and a B of at least
// SmallMinB elements. OpenBLAS packs all of B for every call, which for a step of 8 envs through
// a 1536 x 795 layer costs about as much as the product itself; with B in cache its packing is
// cheap and its kernel the faster (BenchmarkSmallRows).
const (
	SmallM    = 8
	SmallMinB = 1 << 16
)

// small reports whether a product runs on the few-rows kernel.
func (b *Backend) small(transA, transB bool, m, n, k int, alpha float32) bool {
	return !b.noSmall && !transA && transB && m <= SmallM && n*k >= b.smallMinB && alpha == 1
}

// Shape is the shape of one product: C (M x N) = op(A) (M x K) op(B) (K x N).
type Shape struct {
	TransA, TransB bool
	M, N, K        int
}

// Trace counts the products a backend runs, by shape (SetTrace); safe for concurrent use.
type Trace struct {
	mu     sync.Mutex
	counts map[Shape]int
}

// NewTrace returns an empty trace.
func NewTrace() *Trace { return &Trace{counts: map[Shape]int{}} }

func (t *Trace) add(s Shape) {
	t.mu.Lock()
	t.counts[s]++
	t.mu.Unlock()
}

// Counts returns a copy of the products counted so far, by shape.
func (t *Trace) Counts() map[Shape]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[Shape]int, len(t.counts))
	for s, n := range t.counts {
		out[s] = n
	}
	return out
}

// SetTrace makes Sgemm count its products in t from now on (nil stops counting) and returns
// the trace it replaces. A product split across workers counts once, with its whole shape.
func (b *Backend) SetTrace(t *Trace) *Trace { return b.trace.Swap(t) }

var (
	once sync.Once
	def  *Backend
)

// Default returns the process's backend, loading it on first use.
func Default() *Backend {
	once.Do(func() { def = Load("libopenblas.so.0") })
	return def
}

// Load opens OpenBLAS from lib (a name for dlopen or a path), selecting its kernel as the
// package doc says; if it cannot be opened it returns the gonum backend.
func Load(lib string) *Backend {
	cs := C.CString(lib)
	defer C.free(unsafe.Pointer(cs))
	h := C.gonle_blas_open(cs)
	if h == nil {
		return &Backend{name: "gonum", kernel: "go", note: fmt.Sprintf("%s not found: pure-Go BLAS (install libopenblas0-pthread for ~10x faster matrix products)", lib), noSmall: noSmall(), smallMinB: SmallMinB}
	}
	sym := func(n string) unsafe.Pointer {
		c := C.CString(n)
		defer C.free(unsafe.Pointer(c))
		return unsafe.Pointer(C.gonle_blas_sym(h, c))
	}
	b := &Backend{name: "openblas", sgemm: sym("cblas_sgemm"), setN: sym("openblas_set_num_threads"), corefn: sym("openblas_get_corename"), noSmall: noSmall(), smallMinB: SmallMinB}
	if b.sgemm == nil || b.corefn == nil {
		return &Backend{name: "gonum", kernel: "go", note: fmt.Sprintf("%s lacks cblas_sgemm: pure-Go BLAS", lib), noSmall: noSmall(), smallMinB: SmallMinB}
	}
	b.kernel = b.coreName()
	b.note = "chosen by OpenBLAS"
	if _, set := os.LookupEnv("OPENBLAS_CORETYPE"); set {
		b.note = "set by OPENBLAS_CORETYPE"
	} else if b.kernel == "Prescott" {
		if want := bestKernel(); want != "" {
			if err := b.switchKernel(want, sym("gotoblas_dynamic_quit"), sym("gotoblas_dynamic_init")); err == nil {
				b.note = fmt.Sprintf("OpenBLAS chose the generic Prescott kernel; switched to %s from the CPU's features", b.kernel)
			} else {
				b.note = fmt.Sprintf("OpenBLAS chose Prescott; switching to %s failed: %v", want, err)
			}
		}
	}
	return b
}

// noSmall reads MAESTRO_BLAS_SMALL: "0" turns the few-rows kernel off.
func noSmall() bool { return os.Getenv("MAESTRO_BLAS_SMALL") == "0" }

// bestKernel returns the fastest OpenBLAS kernel the CPU supports beyond the generic one.
func bestKernel() string {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL:
		return "SkylakeX"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return "Haswell"
	}
	return ""
}

// switchKernel reinitialises OpenBLAS's dynamic dispatch with OPENBLAS_CORETYPE=name. The
// variable is set only for the reinitialisation and restored afterwards.
func (b *Backend) switchKernel(name string, quit, initf unsafe.Pointer) error {
	if quit == nil || initf == nil {
		return fmt.Errorf("this OpenBLAS exports no gotoblas_dynamic_quit/init (not a DYNAMIC_ARCH build)")
	}
	old, had := os.LookupEnv("OPENBLAS_CORETYPE")
	os.Setenv("OPENBLAS_CORETYPE", name)
	C.gonle_blas_call_void(quit)
	C.gonle_blas_call_void(initf)
	if had {
		os.Setenv("OPENBLAS_CORETYPE", old)
	} else {
		os.Unsetenv("OPENBLAS_CORETYPE")
	}
	b.kernel = b.coreName()
	if b.kernel != name {
		return fmt.Errorf("OpenBLAS reports %s after asking for %s", b.kernel, name)
	}
	return nil
}

func (b *Backend) coreName() string {
	if b.corefn == nil {
		return "go"
	}
	return C.GoString(C.gonle_blas_call_str(b.corefn))
}

// Name returns "openblas" or "gonum".
func (b *Backend) Name() string { return b.name }

// Kernel returns the kernel in use (OpenBLAS's core name, or "go").
func (b *Backend) Kernel() string { return b.kernel }

// Describe says which backend and kernel run and why, for logs.
func (b *Backend) Describe() string {
	return fmt.Sprintf("%s (kernel %s: %s)", b.name, b.kernel, b.note)
}

// SetThreads sets the threads OpenBLAS may use (no effect on the gonum backend).
func (b *Backend) SetThreads(n int) {
	if b.setN != nil {
		C.gonle_blas_call_int(b.setN, C.int(n))
	}
}

// SetWorkers makes Sgemm split products of at least ParallelMin multiply-adds into n parts
// (along the larger of C's dimensions) run on n goroutines, each a single-threaded OpenBLAS
// call; n <= 1 turns the splitting off. Use it with SetThreads(1): goroutines block where
// OpenBLAS's own threads spin between products, which on a machine busy with other work (env
// steps) costs far more than it saves. Each element of C is computed by one call in either
// case, so the split does not change results from run to run.
// Call it before products run, not while they do.
func (b *Backend) SetWorkers(n int) {
	var np *par.Pool[gemm]
	if n > 1 && b.sgemm != nil {
		np = par.New(n, runGemm)
	}
	if old := b.pool.Swap(np); old != nil {
		old.Close()
	}
}

// ParallelMin is the size (m*n*k) from which SetWorkers splits a product.
const ParallelMin = 1 << 19

// Sgemm computes C = alpha * op(A) * op(B) + beta * C for row-major A (m x k, or k x m when
// transA), B (k x n, or n x k when transB) and C (m x n) with leading dimensions lda, ldb, ldc.
// It panics when a slice is too short for its dimensions (a programming error in nn).
func (b *Backend) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if m == 0 || n == 0 {
		return
	}
	if t := b.trace.Load(); t != nil {
		t.add(Shape{transA, transB, m, n, k})
	}
	if lda < max(ac, 1) || ldb < max(bc, 1) || ldc < max(n, 1) ||
		len(a) < (ar-1)*lda+ac || len(bm) < (br-1)*ldb+bc || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("blas: Sgemm m=%d n=%d k=%d lda=%d ldb=%d ldc=%d with slices of %d, %d, %d", m, n, k, lda, ldb, ldc, len(a), len(bm), len(c)))
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				if beta == 0 { // as BLAS: C is not read (it may hold anything, even NaN)
					c[i*ldc+j] = 0
				} else {
					c[i*ldc+j] *= beta
				}
			}
		}
		return
	}
	sm := b.small(transA, transB, m, n, k, alpha) // decided for the whole product, before a split
	if b.sgemm == nil && !sm {
		ta, tb := gblas.NoTrans, gblas.NoTrans
		if transA {
			ta = gblas.Trans
		}
		if transB {
			tb = gblas.Trans
		}
		b.g.Sgemm(ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
		return
	}
	pl := b.pool.Load()
	if pl == nil || m*n*k < ParallelMin || max(m, n) < 2*pl.Workers() {
		b.call(sm, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
		return
	}
	w := pl.Workers()
	var ts [par.MaxWorkers]gemm
	for i := range w {
		t := gemm{b, sm, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc}
		if n >= m { // columns of C and of op(B)
			j0, j1 := n*i/w, n*(i+1)/w
			bo := j0
			if transB {
				bo = j0 * ldb
			}
			t.n, t.b, t.c = j1-j0, bm[bo:], c[j0:]
		} else { // rows of C and of op(A)
			i0, i1 := m*i/w, m*(i+1)/w
			ao := i0 * lda
			if transA {
				ao = i0
			}
			t.m, t.a, t.c = i1-i0, a[ao:], c[i0*ldc:]
		}
		ts[i] = t
	}
	pl.Do(ts[:w])
}

// gemm is one part of a split product.
type gemm struct {
	be             *Backend
	small          bool // on the few-rows kernel
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
}

func runGemm(t gemm) {
	t.be.call(t.small, t.transA, t.transB, t.m, t.n, t.k, t.alpha, t.a, t.lda, t.b, t.ldb, t.beta, t.c, t.ldc)
}

// call is one product on checked arguments: the few-rows kernel's (small) or OpenBLAS's sgemm.
func (b *Backend) call(small, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
	if small {
		C.blas_small_nt(C.long(m), C.long(n), C.long(k), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda),
			(*C.float)(unsafe.Pointer(&bm[0])), C.long(ldb), C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.long(ldc))
		return
	}
	ta, tb := C.int(0), C.int(0)
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	C.gonle_blas_call_sgemm(b.sgemm, ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda), (*C.float)(unsafe.Pointer(&bm[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}

// switchKernelByName switches to kernel name (for tests of the mechanism).
func (b *Backend) switchKernelByName(name string) error {
	if b.name != "openblas" {
		return fmt.Errorf("not OpenBLAS")
	}
	h := C.gonle_blas_open(C.CString("libopenblas.so.0"))
	q := C.CString("gotoblas_dynamic_quit")
	i := C.CString("gotoblas_dynamic_init")
	defer C.free(unsafe.Pointer(q))
	defer C.free(unsafe.Pointer(i))
	return b.switchKernel(name, unsafe.Pointer(C.gonle_blas_sym(h, q)), unsafe.Pointer(C.gonle_blas_sym(h, i)))
}
