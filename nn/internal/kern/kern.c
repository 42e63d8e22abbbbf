// Element-wise and im2col kernels of package nn, written so that GCC vectorises them. On x86-64
// each is compiled twice (target_clones): for x86-64-v3 (AVX2, FMA) and the baseline; the
// dynamic loader picks the clone the CPU runs, so no kernel the CPU lacks is ever called.
#include <stdint.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "kern.h"

// No FP exceptions or errno are used: the selects below may evaluate both sides, so loops
// with them vectorise (cgo does not pass -fno-trapping-math on the command line).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-trapping-math", "no-math-errno")
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

// exp_poly is Cephes' expf without branches (range reduction by ln 2, degree-5 polynomial,
// about 1 ulp), its input clamped to [-87.3, 88.7] so the result stays finite and normal.
static inline float exp_poly(float x) {
    x = x < -87.33654f ? -87.33654f : x;
    x = x > 88.72283f ? 88.72283f : x;
    float k = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    int32_t ki = (int32_t)k;
    float r = x - k * 0.693359375f - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    uint32_t b;
    memcpy(&b, &y, 4);
    b += (uint32_t)ki << 23;
    memcpy(&y, &b, 4);
    return y;
}

// expm1_poly is e^x - 1, by its Taylor series to x^6 near 0 (where exp_poly(x) - 1 cancels).
static inline float expm1_poly(float x) {
    float t = x * (1.0f + x * (0.5f + x * (1.0f / 6 + x * (1.0f / 24 + x * (1.0f / 120 + x * (1.0f / 720))))));
    float e = exp_poly(x) - 1.0f;
    return __builtin_fabsf(x) < 0.3f ? t : e;
}

CLONES void kern_elu(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        float e = expm1_poly(v < 0 ? v : 0);
        y[i] = v <= 0 ? e : v;  // NaN passes through
    }
}

CLONES void kern_elu_grad(const float *x, const float *y, const float *gy, float *gx, long n) {
    for (long i = 0; i < n; i++) {
        float d = x[i] > 0 ? 1.0f : y[i] + 1.0f;
        gx[i] += gy[i] * d;
    }
}

CLONES void kern_sigmoid(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) {
        y[i] = 1.0f / (1.0f + exp_poly(-x[i]));
    }
}

// tanh(x) = -expm1(-2|x|) / (expm1(-2|x|) + 2), odd; 1 beyond |x| = 9.
CLONES void kern_tanh(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        float a = v < 0 ? -v : v;
        float e = expm1_poly(-2.0f * (a > 9.0f ? 9.0f : a));
        float t = a > 9.0f ? 1.0f : -e / (e + 2.0f);
        y[i] = v < 0 ? -t : t;
    }
}

// kern_unary_grad: gx += gy * d, d from y: kind 0 tanh (1 - y^2), 1 sigmoid (y (1 - y)).
CLONES void kern_unary_grad(int kind, const float *y, const float *gy, float *gx, long n) {
    if (kind == 0) {
        for (long i = 0; i < n; i++) gx[i] += gy[i] * (1.0f - y[i] * y[i]);
    } else {
        for (long i = 0; i < n; i++) gx[i] += gy[i] * (y[i] * (1.0f - y[i]));
    }
}

// kern_embconv_fwd is a convolution of embedded indices: for every output position it adds,
// over the window's cells inside the input and over the E index planes, the rows
// T[idx[e][n*H*W + cell]][ki*k + kj][0:O] (T: [rows][k*k][O], each row a table entry's
// contribution through the kernel) to the bias, and writes y [N][O][OH][OW]. acc holds O floats.
CLONES void kern_embconv_fwd(const float *T, const int32_t *idx, long E, long N, long H, long W,
                             long k, long s, long pad, long OH, long OW, long O,
                             const float *bias, float *acc, float *y) {
    long HW = H * W, kkO = k * k * O, P = OH * OW;
    for (long n = 0; n < N; n++) {
        for (long oh = 0; oh < OH; oh++) {
            for (long ow = 0; ow < OW; ow++) {
                for (long o = 0; o < O; o++) acc[o] = bias[o];
                for (long ki = 0; ki < k; ki++) {
                    long ih = oh * s - pad + ki;
                    if (ih < 0 || ih >= H) continue;
                    for (long kj = 0; kj < k; kj++) {
                        long iw = ow * s - pad + kj;
                        if (iw < 0 || iw >= W) continue;
                        long cell = n * HW + ih * W + iw;
                        for (long e = 0; e < E; e++) {
                            const float *t = T + (long)idx[e * N * HW + cell] * kkO + (ki * k + kj) * O;
                            for (long o = 0; o < O; o++) acc[o] += t[o];
                        }
                    }
                }
                float *dst = y + n * O * P + oh * OW + ow;
                for (long o = 0; o < O; o++) dst[o * P] = acc[o];
            }
        }
    }
}

// kern_embconv_bwd is kern_embconv_fwd's adjoint: from gy [N][O][OH][OW] it adds into dT (laid
// out as T) and into the bias gradient db. g holds O floats.
CLONES void kern_embconv_bwd(const float *gy, const int32_t *idx, long E, long N, long H, long W,
                             long k, long s, long pad, long OH, long OW, long O, float *g,
                             float *dT, float *db) {
    long HW = H * W, kkO = k * k * O, P = OH * OW;
    for (long n = 0; n < N; n++) {
        for (long oh = 0; oh < OH; oh++) {
            for (long ow = 0; ow < OW; ow++) {
                const float *src = gy + n * O * P + oh * OW + ow;
                for (long o = 0; o < O; o++) {
                    g[o] = src[o * P];
                    db[o] += g[o];
                }
                for (long ki = 0; ki < k; ki++) {
                    long ih = oh * s - pad + ki;
                    if (ih < 0 || ih >= H) continue;
                    for (long kj = 0; kj < k; kj++) {
                        long iw = ow * s - pad + kj;
                        if (iw < 0 || iw >= W) continue;
                        long cell = n * HW + ih * W + iw;
                        for (long e = 0; e < E; e++) {
                            float *t = dT + (long)idx[e * N * HW + cell] * kkO + (ki * k + kj) * O;
                            for (long o = 0; o < O; o++) t[o] += g[o];
                        }
                    }
                }
            }
        }
    }
}

CLONES void kern_relu(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = x[i] <= 0 ? 0.0f : x[i];  // NaN passes through
}

CLONES void kern_relu_grad(const float *x, const float *gy, float *gx, long n) {
    for (long i = 0; i < n; i++) gx[i] += x[i] > 0 ? gy[i] : 0.0f;
}

// kern_col2im1d_add adds one sample's window gradients dcol [C*k][OL] (rows ld apart) into
// gx [C][L]: row (ch, kk) goes to gx[ch][kk : kk+OL].
CLONES void kern_col2im1d_add(const float *dcol, long C, long L, long k, long OL, long ld,
                              float *gx) {
    for (long ch = 0; ch < C; ch++) {
        for (long kk = 0; kk < k; kk++) {
            const float *row = dcol + (ch * k + kk) * ld;
            float *dst = gx + ch * L + kk;
            for (long i = 0; i < OL; i++) dst[i] += row[i];
        }
    }
}

// kern_row_sums_add adds the sums of x's rows ([rows][n]) into s.
CLONES void kern_row_sums_add(const float *x, long rows, long n, float *s) {
    for (long r = 0; r < rows; r++) {
        float a = 0;
        for (long i = 0; i < n; i++) a += x[r * n + i];
        s[r] += a;
    }
}

// kern_maxpool1d takes the maximum over windows of k of each row of x [rows][L] (stride k, the
// first maximum wins), writing y [rows][L/k] and the winners' flat indices into arg.
void kern_maxpool1d(const float *x, long rows, long L, long k, float *y, int32_t *arg) {
    long OL = L / k;
    for (long r = 0; r < rows; r++) {
        const float *xs = x + r * L;
        for (long j = 0; j < OL; j++) {
            long best = j * k;
            for (long i = j * k + 1; i < (j + 1) * k; i++) {
                if (xs[i] > xs[best]) best = i;
            }
            y[r * OL + j] = xs[best];
            arg[r * OL + j] = (int32_t)(r * L + best);
        }
    }
}

// kern_scatter_add adds gy[i] into gx[arg[i]].
void kern_scatter_add(const float *gy, const int32_t *arg, long n, float *gx) {
    for (long i = 0; i < n; i++) gx[arg[i]] += gy[i];
}

// kern_im2col_idx writes the windows of a batch x [N][C][HW] into cols: row (ch, q) (q the
// kernel offset, kk of them) starts at cols[(ch*kk + q)*ld] and holds, for each sample n,
// P values at n*P: x[n][ch][idx[q*P + p]], or 0 where idx is -1 (padding).
CLONES void kern_im2col_idx(const float *x, long N, long C, long HW, long P, long kk,
                            const int32_t *idx, float *cols, long ld) {
    for (long ch = 0; ch < C; ch++) {
        for (long q = 0; q < kk; q++) {
            float *row = cols + (ch * kk + q) * ld;
            const int32_t *ix = idx + q * P;
            for (long n = 0; n < N; n++) {
                const float *xs = x + (n * C + ch) * HW;
                float *o = row + n * P;
                for (long p = 0; p < P; p++) {
                    int32_t i = ix[p];
                    float v = xs[i < 0 ? 0 : i];
                    o[p] = i < 0 ? 0.0f : v;
                }
            }
        }
    }
}

// kern_col2im_idx adds window gradients laid out as kern_im2col_idx's into dx [N][C][HW].
CLONES void kern_col2im_idx(const float *cols, long N, long C, long HW, long P, long kk,
                            const int32_t *idx, float *dx, long ld) {
    for (long ch = 0; ch < C; ch++) {
        for (long q = 0; q < kk; q++) {
            const float *row = cols + (ch * kk + q) * ld;
            const int32_t *ix = idx + q * P;
            for (long n = 0; n < N; n++) {
                float *d = dx + (n * C + ch) * HW;
                const float *o = row + n * P;
                for (long p = 0; p < P; p++) {
                    if (ix[p] >= 0) d[ix[p]] += o[p];
                }
            }
        }
    }
}

// kern_adam is one Adam step over n parameters (PyTorch's update): with g += wd * p (L2 weight
// decay, wd may be 0), m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
// p -= step * m / (sqrt(v) / bc2 + eps); then the gradient is zeroed.
CLONES void kern_adam(float *p, float *g, float *m, float *v, long n, float b1, float b2,
                      float step, float bc2, float eps, float wd) {
    long j = 0;
#if defined(__SSE__)
    // sqrtf is not vectorised while it may set errno (cgo does not pass -fno-math-errno, and
    // the pragma above does not reach it): four lanes of SSE's sqrtps instead.
    __m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), ob1 = _mm_set1_ps(1 - b1),
           ob2 = _mm_set1_ps(1 - b2), vstep = _mm_set1_ps(step), vbc2 = _mm_set1_ps(bc2),
           veps = _mm_set1_ps(eps), vwd = _mm_set1_ps(wd);
    for (; j + 4 <= n; j += 4) {
        __m128 w = _mm_loadu_ps(p + j);
        __m128 gr = _mm_add_ps(_mm_loadu_ps(g + j), _mm_mul_ps(vwd, w));
        __m128 mm = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + j)), _mm_mul_ps(ob1, gr));
        __m128 vv = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + j)), _mm_mul_ps(ob2, _mm_mul_ps(gr, gr)));
        __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vv), vbc2), veps);
        _mm_storeu_ps(m + j, mm);
        _mm_storeu_ps(v + j, vv);
        _mm_storeu_ps(p + j, _mm_sub_ps(w, _mm_div_ps(_mm_mul_ps(vstep, mm), denom)));
        _mm_storeu_ps(g + j, _mm_setzero_ps());
    }
#endif
    for (; j < n; j++) {
        float gr = g[j] + wd * p[j];
        m[j] = b1 * m[j] + (1 - b1) * gr;
        v[j] = b2 * v[j] + (1 - b2) * gr * gr;
        float denom = __builtin_sqrtf(v[j]) / bc2 + eps;
        p[j] -= step * m[j] / denom;
        g[j] = 0;
    }
}

static inline float sigmoid_poly(float x) { return 1.0f / (1.0f + exp_poly(-x)); }

static inline float tanh_poly(float v) {
    float a = v < 0 ? -v : v;
    float e = expm1_poly(-2.0f * (a > 9.0f ? 9.0f : a));
    float t = a > 9.0f ? 1.0f : -e / (e + 2.0f);
    return v < 0 ? -t : t;
}

// kern_gru_fwd applies a GRU cell's gates to N rows: gi and gh are [N][3H] (the input's and the
// state's projections, r z n order), h [N][H] the state. It writes r, z, n [N][H] (kept for
// the backward pass) and y = (1 - z) n + z h, with r = s(gi_r + gh_r), z = s(gi_z + gh_z),
// n = tanh(gi_n + r gh_n).
CLONES void kern_gru_fwd(const float *restrict gi, const float *restrict gh,
                         const float *restrict h, long N, long H, float *restrict r,
                         float *restrict z, float *restrict n, float *restrict y) {
    for (long i = 0; i < N; i++) {
        for (long j = 0; j < H; j++) {
            long a = i * 3 * H + j, o = i * H + j;
            float rr = sigmoid_poly(gi[a] + gh[a]);
            float zz = sigmoid_poly(gi[a + H] + gh[a + H]);
            float nn = tanh_poly(gi[a + 2 * H] + rr * gh[a + 2 * H]);
            r[o] = rr;
            z[o] = zz;
            n[o] = nn;
            y[o] = nn + zz * (h[o] - nn);
        }
    }
}

// kern_gru_bwd adds kern_gru_fwd's gradients for gy [N][H] into dgi and dgh ([N][3H]) and dh
// ([N][H]; may be NULL when h needs none).
CLONES void kern_gru_bwd(const float *restrict gh, const float *restrict h,
                         const float *restrict r, const float *restrict z,
                         const float *restrict n, const float *restrict gy, long N, long H,
                         float *restrict dgi, float *restrict dgh, float *restrict dh) {
    for (long i = 0; i < N; i++) {
        for (long j = 0; j < H; j++) {
            long a = i * 3 * H + j, o = i * H + j;
            float dn = gy[o] * (1 - z[o]);
            float dz = gy[o] * (h[o] - n[o]);
            float dpn = dn * (1 - n[o] * n[o]);
            float dpr = dpn * gh[a + 2 * H] * r[o] * (1 - r[o]);
            float dpz = dz * z[o] * (1 - z[o]);
            dgi[a] += dpr;
            dgi[a + H] += dpz;
            dgi[a + 2 * H] += dpn;
            dgh[a] += dpr;
            dgh[a + H] += dpz;
            dgh[a + 2 * H] += dpn * r[o];
        }
        if (dh) {
            for (long j = 0; j < H; j++) dh[i * H + j] += gy[i * H + j] * z[i * H + j];
        }
    }
}
