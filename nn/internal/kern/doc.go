// Package kern holds package nn's element-wise and im2col kernels in C (kern.c), where GCC
// vectorises them: ELU, sigmoid and tanh forward and backward, im2col and its adjoint. On x86-64
// each kernel is built for AVX2+FMA and for the baseline, and the loader runs the one the CPU
// supports. The exponential is Cephes' expf (about 1 ulp), its argument clamped to
// [-87.3, 88.7].
//
// # Invariants
//
//   - Slices passed together have the lengths the function names; kernels never allocate or
//     keep pointers after returning.
package kern
