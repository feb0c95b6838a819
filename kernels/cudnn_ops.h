/* Convolution and batch normalisation through cuDNN's graph (backend) API, NHWC float32, with
 * execution plans built once per shape and cached (kernels/cudnn_conv.c, kernels/cudnn_bn.c).
 * No legacy cudnnConvolutionForward / cudnnBatchNormalization* calls: the build uses
 * CUDNN_WARN_DEPRECATED with deprecation warnings as errors.
 *
 * All pointers are device memory. Every op enqueues on the ser_cudnn's stream. The first call
 * for a shape builds its plan and, if it needs more, grows the one workspace (the only
 * allocations: the backend makes them in its warm-up step before any timed or captured step).
 * Math is plain float32 (no TF32) unless ser_cudnn_create was asked for TF32.
 *
 * Shapes: images (B, H, W, C) NHWC; conv kernel in Keras's layout (K, K, Cin, Cout) = HWIO;
 * conv: stride 1, dilation 1, padding same (K odd: pad (K - 1) / 2 on each side), no bias
 * (the backend adds it with ser_k_bias_add_rows). BN over the C channels of N = B*H*W rows.
 * Parameter gradients are OVERWRITTEN (kernels/kernels.h's convention). */
#ifndef SER_CUDNN_OPS_H
#define SER_CUDNN_OPS_H

#include <cuda_runtime.h>
#include <cudnn.h>

#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_cudnn ser_cudnn;

int ser_cudnn_create(ser_cudnn **out, cudaStream_t stream, int allow_tf32, ser_error *err);
void ser_cudnn_destroy(ser_cudnn *c);
cudnnHandle_t ser_cudnn_handle(ser_cudnn *c);
/* Bytes of device memory the context holds now (the plans' workspace and the ops' scratch). It
 * grows only while a new plan is built; a captured graph is stale once it changes. */
size_t ser_cudnn_workspace_bytes(const ser_cudnn *c);
/* The path each op took, one line per shape: "conv_fwd B=.. : cuDNN engine 12 (heuristics A,
 * strict), workspace 0 B", "bn_fwd_train N=.. C=..: ser kernels (why)", "conv_fwd ...: im2col +
 * cuBLAS GEMM (why)". */
void ser_cudnn_describe(const ser_cudnn *c, char *buf, size_t n);

/* y = conv(x, w) */
int ser_conv_fwd(ser_cudnn *c, float *y, const float *x, const float *w, int B, int H, int W, int Cin, int Cout,
                 int K, ser_error *err);
/* dx = conv_transpose(dy, w) */
int ser_conv_bwd_data(ser_cudnn *c, float *dx, const float *dy, const float *w, int B, int H, int W, int Cin,
                      int Cout, int K, ser_error *err);
/* dw (K, K, Cin, Cout) = weight gradient of x, dy (overwritten) */
int ser_conv_bwd_filter(ser_cudnn *c, float *dw, const float *x, const float *dy, int B, int H, int W, int Cin,
                        int Cout, int K, ser_error *err);

/* Training: y = gamma (x - mean) rstd + beta with the batch mean and biased variance;
 * saved_mean / saved_rstd (C) for the backward; the moving statistics are updated as Keras 3
 * does (moving = moving * momentum + batch * (1 - momentum) with keras_one_minus(momentum) and
 * the BIASED batch variance, as host/model/layers/batchnorm.c), whatever cuDNN's own running-average
 * convention (cuDNN uses N / (N - 1)): correct it in a small kernel if needed. */
int ser_bn_fwd_train(ser_cudnn *c, float *y, float *saved_mean, float *saved_rstd, float *moving_mean,
                     float *moving_var, const float *x, const float *gamma, const float *beta, int N, int C,
                     float momentum, float eps, ser_error *err);
/* Inference: the moving statistics. */
int ser_bn_fwd_infer(ser_cudnn *c, float *y, const float *x, const float *gamma, const float *beta,
                     const float *moving_mean, const float *moving_var, int N, int C, float eps, ser_error *err);
/* dx, dgamma, dbeta (overwritten) from dy and the training forward's saved statistics. */
int ser_bn_bwd(ser_cudnn *c, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
               const float *saved_mean, const float *saved_rstd, const float *gamma, int N, int C, float eps,
               ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
