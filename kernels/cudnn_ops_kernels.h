/* Small CUDA kernels behind kernels/cudnn_ops.h (kernels/cudnn_ops_kernels.cu): filter layout
 * transposes, the Keras moving-statistics update, and ser's own batch norm for shapes where
 * cuDNN offers no engine. Launchers enqueue on s and return cudaGetLastError() (check with
 * SER_CU). All pointers are device memory. */
#ifndef SER_CUDNN_OPS_KERNELS_H
#define SER_CUDNN_OPS_KERNELS_H

#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Keras's conv kernel (K, K, Cin, Cout) = HWIO <-> cuDNN's "NHWC filter" (Cout, K, K, Cin) = KRSC. */
cudaError_t ser_k_hwio_to_krsc(float *krsc, const float *hwio, int K, int Cin, int Cout, cudaStream_t s);
cudaError_t ser_k_krsc_to_hwio(float *hwio, const float *krsc, int K, int Cin, int Cout, cudaStream_t s);

/* The convolution fallback's layouts (kernels/conv_gemm.c), padding same, stride 1:
 * cols (B H W, K K Cin) row-major, row (b, y, x), column (ky, kx, ci) = x (B, H, W, Cin) at
 * (b, y + ky - pad, x + kx - pad, ci), 0 outside the image (pad = (K - 1) / 2); the column order is
 * Keras's HWIO kernel's row order, so cols x kernel (K K Cin, Cout) is the convolution.
 * col2im is its adjoint: dx (B, H, W, Cin) = the sum over (ky, kx) of the dcols entries that
 * read each element, gathered in a fixed order (no atomics). */
cudaError_t ser_k_im2col(float *cols, const float *x, int B, int H, int W, int Cin, int K, cudaStream_t s);
cudaError_t ser_k_col2im(float *dx, const float *dcols, int B, int H, int W, int Cin, int K, cudaStream_t s);

/* Keras 3's moving statistics from the batch mean and the inverse std cuDNN normalised with:
 * var = 1 / rstd^2 - eps (biased, in double), moving = moving * momentum + batch * one_m
 * (one_m = keras_one_minus(momentum)), as host/model/layers/batchnorm.c. */
cudaError_t ser_k_bn_moving_update(float *moving_mean, float *moving_var, const float *mean, const float *rstd,
                                   int C, float momentum, float one_m, float eps, cudaStream_t s);
/* inv (C) = 1 / sqrt(moving_var + eps), in double then rounded: cuDNN's inference input. */
cudaError_t ser_k_bn_inv_std(float *inv, const float *moving_var, int C, float eps, cudaStream_t s);

/* ---- ser's batch norm (the fallback), host/model/layers/batchnorm.c's float expressions.
 * Rows are split into SER_BN_GROUPS fixed groups summed in double, groups added in order:
 * the same bits every run. part: SER_BN_GROUPS * 2 * C doubles; coef: 3 * C floats. ---- */
#define SER_BN_GROUPS 256
cudaError_t ser_k_bn_train_stats(float *mean, float *rstd, float *moving_mean, float *moving_var, float *coef,
                                 double *part, const float *x, const float *gamma, const float *beta, int N, int C,
                                 float momentum, float one_m, float eps, cudaStream_t s);
cudaError_t ser_k_bn_infer_coef(float *coef, const float *gamma, const float *beta, const float *moving_mean,
                                const float *moving_var, int C, float eps, cudaStream_t s);
/* y = x * coef[c] + coef[C + c] (no contraction, as the CPU). */
cudaError_t ser_k_bn_apply(float *y, const float *x, const float *coef, int N, int C, cudaStream_t s);
cudaError_t ser_k_bn_backward(float *dx, float *dgamma, float *dbeta, float *coef, double *part, const float *dy,
                              const float *x, const float *mean, const float *rstd, const float *gamma, int N, int C,
                              cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
