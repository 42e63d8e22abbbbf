#include <stdint.h>
void kern_elu(const float *x, float *y, long n);
void kern_elu_grad(const float *x, const float *y, const float *gy, float *gx, long n);
void kern_sigmoid(const float *x, float *y, long n);
void kern_tanh(const float *x, float *y, long n);
void kern_unary_grad(int kind, const float *y, const float *gy, float *gx, long n);
void kern_embconv_fwd(const float *T, const int32_t *idx, long E, long N, long H, long W, long k,
                      long s, long pad, long OH, long OW, long O, const float *bias, float *acc,
                      float *y);
void kern_embconv_bwd(const float *gy, const int32_t *idx, long E, long N, long H, long W, long k,
                      long s, long pad, long OH, long OW, long O, float *g, float *dT, float *db);
void kern_relu(const float *x, float *y, long n);
void kern_relu_grad(const float *x, const float *gy, float *gx, long n);
void kern_col2im1d_add(const float *dcol, long C, long L, long k, long OL, long ld, float *gx);
void kern_row_sums_add(const float *x, long rows, long n, float *s);
void kern_maxpool1d(const float *x, long rows, long L, long k, float *y, int32_t *arg);
void kern_scatter_add(const float *gy, const int32_t *arg, long n, float *gx);
void kern_im2col_idx(const float *x, long N, long C, long HW, long P, long kk, const int32_t *idx,
                     float *cols, long ld);
void kern_col2im_idx(const float *cols, long N, long C, long HW, long P, long kk,
                     const int32_t *idx, float *dx, long ld);
void kern_adam(float *p, float *g, float *m, float *v, long n, float b1, float b2, float step,
               float bc2, float eps, float wd);
void kern_gru_fwd(const float *gi, const float *gh, const float *h, long N, long H, float *r,
                  float *z, float *n, float *y);
void kern_gru_bwd(const float *gh, const float *h, const float *r, const float *z, const float *n,
                  const float *gy, long N, long H, float *dgi, float *dgh, float *dh);
