// Products C = A B^T with few rows (m <= SmallM) and a large B: an actor's step over a handful
// of envs through a layer's weights, a recurrent state's projection one time step at a time.
// OpenBLAS packs the whole of B for each call, which for m = 8 and a B beyond the L2 cache costs
// as much as the product; this kernel reads B once, straight from the caller's layout, with
// register blocks of 4 rows of A by 3 rows of B.
//
// Compiled for x86-64-v4 (AVX-512: 32 vector registers), x86-64-v3 (AVX2, FMA) and the baseline;
// the dynamic loader picks the clone the CPU runs. GCC's vector extensions keep the code
// portable: on the baseline an 8-lane vector is two SSE registers.
#include <string.h>

#include "small.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-trapping-math", "no-math-errno")
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

typedef float v8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) v8 ld8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void st8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

static inline __attribute__((always_inline)) float hsum8(v8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

static inline __attribute__((always_inline)) float out(float beta, const float *c, float v) {
    return beta == 0 ? v : beta * *c + v;
}

// nt_block: C[i0..i0+MI)[j0..j0+NJ) for C = A B^T, A [m x k] (lda), B [n x k] (ldb).
static inline __attribute__((always_inline)) void nt_block(int MI, int NJ, long k, const float *A,
                                                           long lda, const float *B, long ldb,
                                                           float beta, float *C, long ldc) {
    v8 acc[4][3];
    for (int i = 0; i < MI; i++)
        for (int j = 0; j < NJ; j++) acc[i][j] = (v8){0};
    long kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        v8 b[3];
        for (int j = 0; j < NJ; j++) b[j] = ld8(B + j * ldb + kk);
        for (int i = 0; i < MI; i++) {
            v8 a = ld8(A + i * lda + kk);
            for (int j = 0; j < NJ; j++) acc[i][j] += a * b[j];
        }
    }
    for (int i = 0; i < MI; i++) {
        for (int j = 0; j < NJ; j++) {
            float s = hsum8(acc[i][j]);
            for (long q = kk; q < k; q++) s += A[i * lda + q] * B[j * ldb + q];
            C[i * ldc + j] = out(beta, C + i * ldc + j, s);
        }
    }
}

// nt_rows: rows [i0, i0+MI) of C = A B^T over all n columns, three at a time.
static inline __attribute__((always_inline)) void nt_rows(int MI, long n, long k, const float *A,
                                                          long lda, const float *B, long ldb,
                                                          float beta, float *C, long ldc) {
    long j = 0;
    for (; j + 3 <= n; j += 3) nt_block(MI, 3, k, A, lda, B + j * ldb, ldb, beta, C + j, ldc);
    for (; j < n; j++) nt_block(MI, 1, k, A, lda, B + j * ldb, ldb, beta, C + j, ldc);
}

CLONES void blas_small_nt(long m, long n, long k, const float *A, long lda, const float *B,
                          long ldb, float beta, float *C, long ldc) {
    // Blocks of 48 columns outermost (three at a time inside), so that a block's 48 rows of B
    // come from memory once for all of A's row blocks (A itself, m <= 8 rows, stays in L1).
    const long JB = 48;
    for (long j0 = 0; j0 < n; j0 += JB) {
        long nj = n - j0 < JB ? n - j0 : JB;
        const float *b = B + j0 * ldb;
        float *c = C + j0;
        long i = 0;
        for (; i + 4 <= m; i += 4) nt_rows(4, nj, k, A + i * lda, lda, b, ldb, beta, c + i * ldc, ldc);
        switch (m - i) {
        case 3: nt_rows(3, nj, k, A + i * lda, lda, b, ldb, beta, c + i * ldc, ldc); break;
        case 2: nt_rows(2, nj, k, A + i * lda, lda, b, ldb, beta, c + i * ldc, ldc); break;
        case 1: nt_rows(1, nj, k, A + i * lda, lda, b, ldb, beta, c + i * ldc, ldc); break;
        }
    }
}
