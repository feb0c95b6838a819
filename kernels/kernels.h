/* ser's own CUDA kernels (the .cu files of kernels/), as extern "C" launchers callable from C.
 * Every pointer is device memory unless it says host; every launcher enqueues on stream s and returns
 * cudaGetLastError() (check with SER_CU). Shapes follow the CPU layers (host/model/layers/layers.h):
 * NHWC images, (B, T, D) sequences, Keras weight layouts.
 *
 * GRADIENT CONVENTION ON THE GPU: parameter gradients are OVERWRITTEN (=) by the op that owns
 * the parameter, except ser_k_l2_grad, which ADDS to the conv kernel gradient the conv's weight
 * gradient wrote. Input gradients are overwritten. Every reduction (bias sums, attention weight
 * sums, losses) runs in a fixed order: the same inputs give the same bits on every run.
 *
 * Values that change every step live in device memory (ser_step_scalars), so a captured CUDA
 * graph replays the step with the new values: the host writes them before each launch. */
#ifndef SER_KERNELS_H
#define SER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_step_scalars {
    unsigned long long step;   /* the dropout key's step (ser/philox.h) */
    float adam_alpha;          /* lr sqrt(1 - b2^t) / (1 - b1^t), computed on the host as host/model/layers/adam.c does */
    float pad_;
} ser_step_scalars;

/* ---- element-wise and layout ---------------------------------------------------------------- */
cudaError_t ser_k_fill(float *x, float v, size_t n, cudaStream_t s);
/* y (rows, C) += bias (C) per row. */
cudaError_t ser_k_bias_add_rows(float *y, const float *bias, size_t rows, int C, cudaStream_t s);
/* dbias (C) = column sums of dy (rows, C), fixed-order reduction over the whole GPU (row chunks
 * summed into partials, then the chunks in order); partials: ser_k_bias_grad_partials(rows, C)
 * doubles of device scratch, e.g. for the largest (rows, C) a caller has. */
size_t ser_k_bias_grad_partials(size_t rows, int C);
cudaError_t ser_k_bias_grad_rows(float *dbias, double *partials, const float *dy, size_t rows, int C, cudaStream_t s);
/* dst (B, U) = src (B, T, U)[:, t, :]; scatter: dst (B, T, U) = 0 except [:, t, :] = src (B, U). */
cudaError_t ser_k_gather_step(float *dst, const float *src, int B, int T, int U, int t, cudaStream_t s);
cudaError_t ser_k_scatter_step(float *dst, const float *src, int B, int T, int U, int t, cudaStream_t s);

/* ---- ReLU + MaxPool2D P x P, stride P, padding same (ceil, TF's split of the padding,
 * padding never wins), the CPU's first-max rule in window scan order (y then x).
 * pool (B,Ho,Wo,C) = max over the window of relu(y); argmax = flat index into y (B,H,W,C).
 * Backward: dy (B,H,W,C) overwritten: zero except dy[argmax] = dpool where pool > 0. ---- */
cudaError_t ser_k_relu_pool_fwd(float *pool, int32_t *argmax, const float *y, int B, int H, int W, int C, int P,
                                cudaStream_t s);
cudaError_t ser_k_relu_pool_bwd(float *dy, const float *dpool, const float *pool, const int32_t *argmax, int B,
                                int H, int W, int C, int P, cudaStream_t s);

/* ---- Dropout, the Philox stream of ser/philox.h (bit-identical masks with the CPU):
 * key (seed), counter (e / 4, layer, sc->step), kept when uniform >= rate, out = in * scale where
 * kept, scale = (float)(1 / (1 - (double)rate)) (layers/dropout_elem.h, the CPU's code). ---- */
cudaError_t ser_k_dropout_fwd(float *out, uint8_t *mask, const float *in, size_t n, float rate, uint64_t seed,
                              const ser_step_scalars *sc, uint32_t layer, cudaStream_t s);
cudaError_t ser_k_dropout_bwd(float *din, const float *dout, const uint8_t *mask, size_t n, float rate,
                              cudaStream_t s);

/* ---- Additive attention (host/model/layers/attention.c): u = tanh(x W + b) (B,T,A); s = u U;
 * a = softmax_t(s) (B,T); out = sum_t a_t x_t (B,D). W (D,A), b (A), U (A,1).
 * Backward: dx overwritten; dW, db, dU overwritten (fixed-order sums over the batch, using
 * scratch of ser_k_attention_scratch floats). ---- */
size_t ser_k_attention_scratch(int B, int T, int D, int A);
cudaError_t ser_k_attention_fwd(float *out, float *u, float *a, const float *x, const float *W, const float *b,
                                const float *U, int B, int T, int D, int A, cudaStream_t s);
cudaError_t ser_k_attention_bwd(float *dx, float *dW, float *db, float *dU, float *scratch, const float *dout,
                                const float *x, const float *u, const float *a, const float *W, const float *U, int B,
                                int T, int D, int A, cudaStream_t s);

/* ---- Statistics pooling over time (host/model/layers/stats_pool.c): out (B,2U) = [mean | std]
 * of x (B,T,U), std = sqrt(biased variance + eps). Backward ADDS to dx (after the attention's
 * backward wrote it: both read LSTM1's outputs), reading mean and std from out. The row-wise
 * concatenation out (B, na+nb) = [a | b] and its inverse split (every element written). ---- */
cudaError_t ser_k_stats_pool_fwd(float *out, const float *x, int B, int T, int U, float eps, cudaStream_t s);
cudaError_t ser_k_stats_pool_bwd(float *dx, const float *dout, const float *out, const float *x, int B, int T, int U,
                                 cudaStream_t s);
cudaError_t ser_k_concat_cols(float *out, const float *a, int na, const float *b, int nb, int B, cudaStream_t s);
cudaError_t ser_k_split_cols(float *a, int na, float *b, int nb, const float *in, int B, cudaStream_t s);

/* ---- Softmax + categorical cross-entropy (host/model/layers/softmax_xent.c). xent: device scalar,
 * the batch mean (not written when labels is NULL). dlogits = (probs - y) / B, y the target of
 * layers/softmax_elem.h: labels2 / lam the mixup targets (NULL: plain labels), ls the label
 * smoothing (0: none). ---- */
cudaError_t ser_k_softmax_xent_fwd(float *probs, float *xent, const float *logits, const int32_t *labels,
                                   const int32_t *labels2, const float *lam, int B, int C, float ls, cudaStream_t s);
cudaError_t ser_k_softmax_xent_bwd(float *dlogits, const float *probs, const int32_t *labels, const int32_t *labels2,
                                   const float *lam, int B, int C, float ls, cudaStream_t s);

/* ---- L2 on conv kernels: term = l2 * sum(w^2) into *term (device scalar, overwritten);
 * grad: dw += 2 l2 w. loss_total: *loss = (float)((double)*xent + sum of the n terms in double),
 * the CPU model's sum. ---- */
cudaError_t ser_k_l2_term(float *term, const float *w, size_t n, float l2, cudaStream_t s);
cudaError_t ser_k_l2_grad(float *dw, const float *w, size_t n, float l2, cudaStream_t s);
cudaError_t ser_k_loss_total(float *loss, const float *xent, const float *terms, int n, cudaStream_t s);

/* ---- The batch-norm statistics pass (kernels/bn_stats.cu; the CPU's: host/model/bn_stats.c).
 * add: the batch mean and biased variance of x (rows, C) into batch_mean, batch_var (C floats),
 * and joined to acc (3, C doubles: rows, mean, sum of squared deviations; zero bytes = nothing
 * yet) in double; partials: ser_k_bn_stats_partials(rows, C) doubles of device scratch.
 * write: moving_mean = the pooled mean, moving_var = the pooled biased variance (acc with rows > 0). ---- */
size_t ser_k_bn_stats_partials(size_t rows, int C);
cudaError_t ser_k_bn_stats_add(float *batch_mean, float *batch_var, double *acc, double *partials, const float *x,
                               size_t rows, int C, cudaStream_t s);
cudaError_t ser_k_bn_stats_write(float *moving_mean, float *moving_var, const double *acc, int C, cudaStream_t s);

/* ---- Adam over n floats (host/model/layers/adam.c's float expressions, alpha from sc):
 * m += (g - m) one_b1; v += (g^2 - v) one_b2; p -= (m alpha) / (sqrt(v) + eps). ---- */
cudaError_t ser_k_adam(float *p, float *m, float *v, const float *g, size_t n, const ser_step_scalars *sc,
                       float one_b1, float one_b2, float eps, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
