// Package blas is the matrix-multiply backend of package nn: OpenBLAS (Debian's
// libopenblas.so.0, loaded at run time with dlopen, so building needs no BLAS) with gonum's
// pure-Go BLAS as the fallback when OpenBLAS is absent.
//
// OpenBLAS picks its kernel from the CPU it detects. On processors its table does not know it
// falls back to the generic Prescott kernel (measured ~33 GFLOP/s sgemm per core on a Xeon of
// family 6 model 0xCF, where the SkylakeX kernel gives ~150). When the user has not set
// OPENBLAS_CORETYPE and OpenBLAS says Prescott, Load switches to the best kernel the CPU's
// features allow (AVX-512 F/BW/DQ/VL: SkylakeX; AVX2+FMA: Haswell; never one the CPU lacks),
// before the first BLAS call.
//
// # Invariants
//
//   - Load is called once per process (Default does it); the backend is safe for concurrent use.
//   - Matrices are row-major float32 slices with leading dimensions, as in CBLAS.
package blas
