/* Conv2D through oneDNN (host/model/layers/conv2d_onednn.c): the same contract as conv2d_forward /
 * conv2d_backward in layers.h (NHWC, Keras (K,K,Cin,Cout) kernel, stride 1, padding same,
 * parameter gradients accumulated, din overwritten), used by them when the build has oneDNN
 * (SER_HAVE_ONEDNN) and it is enabled. Internal to host/layers and its tests. */
#ifndef SER_LAYERS_CONV2D_ONEDNN_H
#define SER_LAYERS_CONV2D_ONEDNN_H

#include <stddef.h>

/* 1 when the build has oneDNN and it is enabled: by default when built with it, unless the
 * environment sets SER_ONEDNN=0; conv2d_onednn_enable overrides both (tests, A/B benchmarks). */
int conv2d_onednn_enabled(void);
void conv2d_onednn_enable(int on);

/* Each returns 1 when it did the work, 0 when the caller must use its own implementation
 * (oneDNN disabled or absent, or no primitive for this shape). col: conv2d_col_size() floats of
 * scratch; the weight copies and oneDNN's scratchpad live there when they fit. */
int conv2d_onednn_forward(float *out, float *col, size_t col_floats, const float *in, const float *kernel,
                          const float *bias, int B, int H, int W, int Cin, int Cout, int K);
int conv2d_onednn_backward(float *din, float *dkernel, float *dbias, float *col, size_t col_floats,
                           const float *dout, const float *in, const float *kernel, int B, int H, int W, int Cin,
                           int Cout, int K);

/* Destroys the calling thread's cached primitives (they are re-created on next use); for tests
 * of re-creation and for leak checkers. */
void conv2d_onednn_release(void);

/* The oneDNN implementations chosen for a shape ("fwd <name>, bwd-data <name>, bwd-weights <name>"),
 * creating its primitives if needed; "" without oneDNN. For benchmarks and test logs. */
const char *conv2d_onednn_impl(int B, int H, int W, int Cin, int Cout, int K);

#endif
