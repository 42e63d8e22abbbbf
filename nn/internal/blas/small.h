// C = beta C + A B^T, row-major, alpha 1, for products of few rows and a large B (blas.go's
// SmallM and SmallMinB).
void blas_small_nt(long m, long n, long k, const float *A, long lda, const float *B, long ldb,
                   float beta, float *C, long ldc);
