/* The per-pooled-row pieces of the fused BN + ReLU + MaxPool2D (host/model/layers/bn_relu_pool.c),
 * shared with the fused first block (host/model/layers/conv_bn_relu_pool.c), which feeds them image
 * rows it has just recomputed instead of rows of a stored tensor.
 *
 * A pooled row (b, oy) covers image rows [y0, y1) (pool_window); `rows` points at the first of
 * them, (y1 - y0, W, C) row-major, and `base` is the element index of rows[0] in the
 * (B, H, W, C) tensor, so argmax values are the same whichever way the rows arrive. */
#ifndef SER_BN_RELU_POOL_ROWS_H
#define SER_BN_RELU_POOL_ROWS_H

#include <stddef.h>
#include <stdint.h>

#define BRP_MAX_C 1024

/* out/argmax/xsel: the pooled row's Wo * C elements. */
void brp_forward_row(float *out, int32_t *argmax, float *xsel, const float *rows, size_t base, const float *scale,
                     const float *shift, int nrows, int W, int C, int P);

/* The backward's per-channel coefficients din = k (g - a - (x - mean) bb) from sums over the
 * pooled tensor (No = B*Ho*Wo rows; N = B*H*W, the BN's row count); accumulates dgamma, dbeta. */
void brp_backward_coeffs(float *k, float *a, float *bb, float *dgamma, float *dbeta, const float *dout,
                         const uint8_t *mask, float dscale, const float *out, const float *xsel, const float *mean,
                         const float *rstd, const float *gamma, int No, int N, int C);

/* The end of brp_backward_coeffs for a caller that summed itself: sum_g = sum of the pooled
 * gradient reaching the max (C), sum_gx = sum of it times (xsel - mean), both in double. */
void brp_coeffs_finish(float *k, float *a, float *bb, float *dgamma, float *dbeta, const double *sum_g,
                       const double *sum_gx, const float *rstd, const float *gamma, int N, int C);

/* din for the image rows of one pooled row: drows like rows (every element written once). */
void brp_backward_row(float *drows, const float *rows, size_t base, const float *dout, const uint8_t *mask,
                      float dscale, const float *out, const int32_t *argmax, const float *k, const float *a,
                      const float *bb, const float *mean, int nrows, int W, int C, int P);

/* The gradient reaching the max of each channel of one pooled position (C): dout through the
 * dropout (mask, dscale; mask NULL: none) and the ReLU (out > 0), 0 where either blocked it. */
void brp_pooled_grad(float *gp, const float *g, const uint8_t *mk, float dscale, const float *y, int C);

/* The gradient reaching the BN output (before BN's own backward) for the image rows of one
 * pooled row: the pooled gradient (through dropout and ReLU) at each window's argmax, 0 at the
 * window's other elements; grows like rows (every element written once). */
void brp_route_row(float *grows, size_t base, const float *dout, const uint8_t *mask, float dscale, const float *out,
                   const int32_t *argmax, int nrows, int W, int C, int P);

#endif
