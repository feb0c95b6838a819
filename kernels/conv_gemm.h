/* Conv2D as im2col + cuBLAS GEMM: the fallback of kernels/cudnn_conv.c for a shape no cuDNN engine
 * takes (the first layer, Cin = 1, is the likeliest), and what tests force to check it. Same
 * contract as kernels/cudnn_ops.h's convolutions: NHWC float32, stride 1, padding same (K odd),
 * Keras's HWIO kernel (K, K, Cin, Cout) used as it is (the (K K Cin, Cout) matrix), outputs
 * overwritten. Row-major products through column-major cuBLAS: a row-major (r, c) matrix is the
 * column-major (c, r) one, so Y = cols W is Y^T = W^T cols^T with the operands as stored.
 * cols: ser_conv_gemm_cols() floats of device scratch. Every call enqueues on the handle's stream;
 * the handle's math mode decides TF32 (the caller's business). */
#ifndef SER_CONV_GEMM_H
#define SER_CONV_GEMM_H

#include <stddef.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Floats of the im2col matrix (B H W, K K Cin). */
size_t ser_conv_gemm_cols(int B, int H, int W, int Cin, int K);
/* y (B,H,W,Cout) = cols(x) w */
int ser_conv_gemm_fwd(cublasHandle_t h, cudaStream_t s, float *cols, float *y, const float *x, const float *w, int B,
                      int H, int W, int Cin, int Cout, int K, ser_error *err);
/* dx (B,H,W,Cin) = col2im(dy w^T) */
int ser_conv_gemm_bwd_data(cublasHandle_t h, cudaStream_t s, float *cols, float *dx, const float *dy, const float *w,
                           int B, int H, int W, int Cin, int Cout, int K, ser_error *err);
/* dw (K,K,Cin,Cout) = cols(x)^T dy */
int ser_conv_gemm_bwd_filter(cublasHandle_t h, cudaStream_t s, float *cols, float *dw, const float *x,
                             const float *dy, int B, int H, int W, int Cin, int Cout, int K, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
