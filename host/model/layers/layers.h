/* The network's layers on the CPU: each a forward/backward pair, side by side in
 * host/model/layers/<layer>.c. Arguments in a fixed order: outputs, caches, inputs, weights, then
 * sizes. Shapes in comments are row-major, NHWC for images, (B, T, D) for sequences, and Keras
 * layouts for weights, so the same buffers load into Keras or PyTorch.
 *
 * Gradient convention: parameter gradients are ACCUMULATED (+=) into their slice of the one
 * gradient buffer (the model zeroes it before backward); input gradients are OVERWRITTEN (=).
 * A NULL input-gradient pointer means "not needed" (first layer). Scratch buffers come from the
 * caller's arena: no layer allocates. */
#ifndef SER_LAYERS_H
#define SER_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* 1 - b as Keras forms it (host/model/layers/keras_float.c): b is a Python float (0.99, 0.999) and
 * 1 - b is taken in double, then cast to float32; 1 - (double)0.99f is 0.0099999905, 1e-6 off.
 * Used by batch norm's momentum and Adam's betas. */
float keras_one_minus(float b);

/* ---- Conv2D, stride 1, padding same, NHWC, kernel (K, K, Cin, Cout) as Keras stores it ---- */
/* col: scratch of conv2d_col_size() floats (im2col). */
size_t conv2d_col_size(int B, int H, int W, int Cin, int K);
void conv2d_forward(float *out /* (B,H,W,Cout) */, float *col, const float *in /* (B,H,W,Cin) */,
                    const float *kernel, const float *bias /* (Cout) */, int B, int H, int W, int Cin, int Cout, int K);
void conv2d_backward(float *din /* (B,H,W,Cin) or NULL */, float *dkernel, float *dbias, float *col,
                     const float *dout /* (B,H,W,Cout) */, const float *in, const float *kernel,
                     int B, int H, int W, int Cin, int Cout, int K);

/* ---- Permute the two spatial axes (host/model/layers/permute.c): (B,H,W,C) -> (B,W,H,C); din = the
 * inverse permutation of dout (overwritten). ---- */
void permute_hw_forward(float *out /* (B,W,H,C) */, const float *in /* (B,H,W,C) */, int B, int H, int W, int C);
void permute_hw_backward(float *din /* (B,H,W,C) */, const float *dout /* (B,W,H,C) */, int B, int H, int W, int C);

/* ---- BatchNormalization over the last axis (N = B*H*W rows of C channels) ----
 * Training: normalise with the batch mean and biased variance; update the moving averages as
 * Keras 3 does (moving = moving * momentum + batch * (1 - momentum), the biased batch
 * variance; TF 2's fused kernel used N / (N - 1) instead). Inference: moving statistics. */
void batchnorm_forward_train(float *out, float *mean /* (C) cache */, float *rstd /* (C) cache */,
                             float *moving_mean, float *moving_var, const float *in,
                             const float *gamma, const float *beta, int N, int C, float momentum, float eps);
void batchnorm_forward_infer(float *out, const float *in, const float *gamma, const float *beta,
                             const float *moving_mean, const float *moving_var, int N, int C, float eps);
void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *mean, const float *rstd, const float *gamma, int N, int C);

/* The two halves of batchnorm_forward_*: the per-channel affine out = in * scale + shift (C),
 * from the batch statistics (training: also fills mean/rstd and updates the moving averages)
 * or from the moving statistics (inference). */
void batchnorm_stats_train(float *scale, float *shift, float *mean, float *rstd, float *moving_mean,
                           float *moving_var, const float *in, const float *gamma, const float *beta, int N, int C,
                           float momentum, float eps);
void batchnorm_affine_infer(float *scale, float *shift, const float *gamma, const float *beta,
                            const float *moving_mean, const float *moving_var, int C, float eps);
/* The start of batchnorm_stats_train: the batch mean and biased variance (C) of N rows, in double
 * (what the statistics pass of host/model/bn_stats.c accumulates). */
void batchnorm_batch_stats(double *batch_mean, double *batch_var, const float *in, int N, int C);
/* The end of batchnorm_stats_train for a caller that has the batch statistics of its N rows
 * itself: batch_mean, batch_var (C, biased variance) in double. */
void batchnorm_stats_finish(float *scale, float *shift_out, float *mean, float *rstd, float *moving_mean,
                            float *moving_var, const double *batch_mean, const double *batch_var, const float *gamma,
                            const float *beta, int N, int C, float momentum, float eps);

/* Adds the rows of in (N rows of C channels) to running sums: sum[c] += x - shift[c],
 * sq[c] += (x - shift[c])^2, in double, rows in order (AdaBN's statistics pass; the shift
 * keeps E[d^2] - E[d]^2 free of cancellation). */
void batchnorm_accumulate(double *sum, double *sq, const float *in, const float *shift, int N, int C);

/* ---- ReLU (in place allowed: out == in) ---- */
void relu_forward(float *out, const float *in, size_t n);
void relu_backward(float *din, const float *dout, const float *out, size_t n);

/* ---- MaxPool2D, size P, stride P, padding same (Ho = ceil(H / P), Keras pads at the end) ---- */
void maxpool2d_forward(float *out /* (B,Ho,Wo,C) */, int32_t *argmax /* (B,Ho,Wo,C) index into in */,
                       const float *in /* (B,H,W,C) */, int B, int H, int W, int C, int P);
void maxpool2d_backward(float *din /* (B,H,W,C) */, const float *dout, const int32_t *argmax,
                        int B, int H, int W, int C, int P);

/* ---- Fused BN apply + ReLU + MaxPool2D (host/model/layers/bn_relu_pool.c): the block tensor
 * (B,H,W,C) is read once and the (B,H,W,C) BN/ReLU outputs are never written.
 * forward: out = maxpool(relu(in * scale + shift)), argmax as maxpool2d_forward, and
 *          xsel (B,Ho,Wo,C) = in[argmax] (the BN input under each max, for the backward).
 * backward: the gradients of batchnorm_backward(relu_backward(maxpool2d_backward(dout))):
 *          only the argmax elements with out > 0 carry dout, so the BN reductions run over the
 *          pooled tensor; din (B,H,W,C) is written once. With mask != NULL, dout is the gradient
 *          of a dropout (mask, rate) applied to out, and its backward is folded in. ---- */
void bn_relu_pool_forward(float *out /* (B,Ho,Wo,C) */, int32_t *argmax, float *xsel, const float *in,
                          const float *scale, const float *shift, int B, int H, int W, int C, int P);
/* The same, then dropout_forward(drop, mask, out, ..., rate, seed, step, layer) on each pooled row
 * while it is in cache (rate > 0). */
void bn_relu_pool_dropout_forward(float *drop, uint8_t *mask, float *out, int32_t *argmax, float *xsel,
                                  const float *in, const float *scale, const float *shift, int B, int H, int W,
                                  int C, int P, float rate, uint64_t seed, uint64_t step, uint32_t layer);
void bn_relu_pool_backward(float *din /* (B,H,W,C) or NULL */, float *dgamma, float *dbeta,
                           const float *dout /* (B,Ho,Wo,C) */, const uint8_t *mask /* or NULL */, float rate,
                           const float *out, const int32_t *argmax,
                           const float *xsel, const float *in, const float *mean, const float *rstd,
                           const float *gamma, int B, int H, int W, int C, int P);

/* ---- The first block fused (host/model/layers/conv_bn_relu_pool.c): Conv2D (stride 1, "same", kernel
 * (K,K,Cin,C)) + BN + ReLU + MaxPool2D [+ dropout] for a conv with few taps (Cin K K <= 64, the
 * one-channel input block), the (B,H,W,C) conv output never stored: each pass recomputes the
 * rows it needs. Same results as conv2d_forward -> batchnorm_stats_train -> bn_relu_pool_*
 * forward, and bn_relu_pool_backward -> conv2d_backward, to float rounding.
 * fits: whether a shape qualifies. conv_rows_forward: the conv alone, as these functions compute
 * it (the activation a backend reports for the block). conv_bn_stats_train: what batchnorm_stats_train
 * gives for the conv output, from the input's patch moments (no conv). forward: drop == NULL for no dropout; else as bn_relu_pool_dropout_forward.
 * backward: dgamma, dbeta, dkernel, dbias accumulated (the L2 term is the caller's); no din (the
 * block's input is the network's). ---- */
int conv_bn_relu_pool_fits(int W, int Cin, int C, int K, int P);
void conv_rows_forward(float *out /* (B,H,W,C) */, const float *in /* (B,H,W,Cin) */, const float *kernel,
                       const float *bias, int B, int H, int W, int Cin, int C, int K);
/* moments: conv_bn_moments_size() doubles the backward of the same input reuses (the input's
 * patch moments; written here). */
size_t conv_bn_moments_size(int Cin, int K);
/* The start of conv_bn_stats_train: the conv output's batch mean and biased variance (C), in double. */
void conv_bn_batch_stats(double *batch_mean, double *batch_var, double *moments, const float *in, const float *kernel,
                         const float *bias, int B, int H, int W, int Cin, int C, int K);
void conv_bn_stats_train(float *scale, float *shift, float *mean, float *rstd, float *moving_mean,
                         float *moving_var, double *moments, const float *in, const float *kernel,
                         const float *bias, const float *gamma, const float *beta, int B, int H, int W, int Cin,
                         int C, int K, float momentum, float eps);
void conv_bn_relu_pool_forward(float *drop, uint8_t *mask, float *out /* (B,Ho,Wo,C) */, int32_t *argmax,
                               float *xsel, const float *in, const float *kernel, const float *bias,
                               const float *scale, const float *shift, int B, int H, int W, int Cin, int C, int K,
                               int P, float rate, uint64_t seed, uint64_t step, uint32_t layer);
void conv_bn_relu_pool_backward(float *dkernel, float *dbias, float *dgamma, float *dbeta,
                                const float *dout /* (B,Ho,Wo,C) */, const uint8_t *mask /* or NULL */, float rate,
                                const float *out, const int32_t *argmax, const float *xsel, const double *moments,
                                const float *in, const float *kernel, const float *bias, const float *mean,
                                const float *rstd, const float *gamma, int B, int H, int W, int Cin, int C, int K,
                                int P);

/* ---- Dropout with Philox4x32-10 keyed by (seed, step, layer, element); inverted scaling.
 * The mask is a pure function of the key, so the CUDA backend draws the same one. ---- */
void dropout_forward(float *out, uint8_t *mask /* (n) kept=1 */, const float *in, size_t n, float rate,
                     uint64_t seed, uint64_t step, uint32_t layer);
/* The same mask and output for elements [e0, e1) only, on the calling thread (e0 a multiple of 64):
 * lets a fused loop apply dropout while its output is still in cache. */
void dropout_forward_span(float *out, uint8_t *mask, const float *in, size_t e0, size_t e1, float rate,
                          uint64_t seed, uint64_t step, uint32_t layer);
void dropout_backward(float *din, const float *dout, const uint8_t *mask, size_t n, float rate);

/* ---- Dense: out = in @ kernel + bias, kernel (I, O) as Keras stores it ---- */
void dense_forward(float *out /* (B,O) */, const float *in /* (B,I) */, const float *kernel,
                   const float *bias, int B, int I, int O);
void dense_backward(float *din /* (B,I) or NULL */, float *dkernel, float *dbias, const float *dout,
                    const float *in, const float *kernel, int B, int I, int O);

/* ---- Softmax + categorical cross-entropy, mean over the batch ---- */
/* Returns the mean loss; probs (B,C); labels are class indices (NULL: probabilities only);
 * labels2 / lam (B) the mixup targets (NULL: plain labels); ls: label smoothing (0: none). */
float softmax_xent_forward(float *probs, const float *logits, const int32_t *labels, const int32_t *labels2,
                           const float *lam, int B, int C, float ls);
/* dlogits = (probs - y) / B, y = (1 - ls) (lam onehot(label) + (1 - lam) onehot(label2)) + ls / C */
void softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, const int32_t *labels2,
                           const float *lam, int B, int C, float ls);

/* ---- L2 kernel regulariser: loss term l2 * sum(w^2), gradient 2 * l2 * w (accumulated) ---- */
float l2_forward(const float *w, size_t n, float l2);
void l2_backward(float *dw, const float *w, size_t n, float l2);

/* ---- Adam as Keras applies it (epsilon outside the sqrt; bias correction folded into lr):
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps) ---- */
void adam_update(float *params, float *m, float *v, const float *grads, size_t n, float lr,
                 float beta1, float beta2, float eps, int t);

/* ---- LSTM, Keras layout: kernel (I, 4U), recurrent_kernel (U, 4U), bias (4U); gate order
 * i, f, c, o; sigmoid recurrent activation, tanh activation; zero initial state. ---- */
void lstm_forward(float *h /* (B,T,U) */, float *c /* (B,T,U) */, float *gates /* (B,T,4U) activated */,
                  const float *x /* (B,T,I) */, const float *kernel, const float *recurrent_kernel,
                  const float *bias, int B, int T, int I, int U);
/* dh: gradient w.r.t. every h output (B,T,U); for return_sequences=False only t = T-1 is non-zero.
 * scratch: lstm_scratch_size() floats. */
size_t lstm_scratch_size(int B, int T, int I, int U);
void lstm_backward(float *dx /* (B,T,I) or NULL */, float *dkernel, float *drecurrent_kernel, float *dbias,
                   float *scratch, const float *dh, const float *x, const float *h, const float *c,
                   const float *gates, const float *kernel, const float *recurrent_kernel,
                   int B, int T, int I, int U);

/* ---- Additive attention over time: u = tanh(x W + b) (B,T,A); s = u U (B,T);
 * a = softmax over t of s; out = sum_t a_t x_t (B,D). W (D,A), b (A), U (A,1). ---- */
void attention_forward(float *out /* (B,D) */, float *u /* (B,T,A) cache */, float *a /* (B,T) cache */,
                       const float *x /* (B,T,D) */, const float *W, const float *b, const float *U,
                       int B, int T, int D, int A);
void attention_backward(float *dx /* (B,T,D) */, float *dW, float *db, float *dU, const float *dout /* (B,D) */,
                        const float *x, const float *u, const float *a, const float *W, const float *U,
                        int B, int T, int D, int A);

/* ---- Statistics pooling over time (model.stats_pool): out (B,2U) = [mean | std] of x (B,T,U)
 * over t, std = sqrt(biased variance + eps). The backward ADDS to dx (the attention's backward
 * writes it first) and reads mean and std from the forward's out. ---- */
void stats_pool_forward(float *out /* (B,2U) */, const float *x /* (B,T,U) */, int B, int T, int U, float eps);
void stats_pool_backward(float *dx /* (B,T,U), added to */, const float *dout /* (B,2U) */,
                         const float *out /* (B,2U) */, const float *x, int B, int T, int U);
/* Row-wise concatenation: out (B, na+nb) = [a (B,na) | b (B,nb)], and its inverse. */
void concat_cols(float *out, const float *a, int na, const float *b, int nb, int B);
void split_cols(float *a /* (B,na) */, int na, float *b /* (B,nb) */, int nb, const float *in /* (B,na+nb) */, int B);

#endif
