/* Where each Keras LSTM parameter lives in cuDNN's RNN weight space, and the two kernels that
 * move them (kernels/cudnn_lstm_layout.c, kernels/cudnn_lstm_pack.cu). Private to
 * kernels/cudnn_lstm.c; the index logic is plain host C so that a CPU test
 * (tests/test_cuda_lstm_layout.c) runs it without a GPU.
 *
 * Keras parameters are numbered j = 0 .. ser_lstm_param_count(I, U) - 1 in one sequence:
 * kernel (I, 4U) row-major, then recurrent_kernel (U, 4U) row-major, then bias (4U); gate
 * blocks of U columns in the order i, f, c, o.
 *
 * cuDNN side (what cudnnGetRNNWeightParams reports for pseudo-layer 0 of a one-layer
 * unidirectional LSTM): linLayerID g = 0..3 is the input matrix of gate i, f, c (cuDNN's g),
 * o and 4 + g the recurrent matrix of the same gate, each described as dims {1, U, cols}
 * (cols = I for input, U for recurrent) with strides; the LSTM equations multiply it from the
 * left: z_g[u] = sum_k M_g[u][k] x[k] + sum_k M_{4+g}[u][k] h[k] + b_g[u]. Keras computes
 * z[g*U + u] = sum_k x[k] kernel[k][g*U + u] + ..., so M_g[u][k] = kernel[k][g*U + u]: the
 * transposed Keras column block. With CUDNN_RNN_SINGLE_INP_BIAS only ids 0..3 carry a bias
 * (dims {1, U, 1}); b_g[u] = bias[g*U + u]. */
#ifndef SER_CUDNN_LSTM_LAYOUT_H
#define SER_CUDNN_LSTM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

#include "ser/error.h"
#include "ser/hd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One matrix or bias as cuDNN describes it: element (r, c) is at weight-space float
 * off + r * strides[1] + c * strides[2]. off < 0: cuDNN reported none (NULL address). */
typedef struct ser_lstm_block {
    long long off;
    int nbdims;
    int dims[3];
    int strides[3];
} ser_lstm_block;

typedef struct ser_lstm_layout {
    ser_lstm_block mat[8];  /* linLayerID 0..3 input matrices (i, f, c, o), 4..7 recurrent */
    ser_lstm_block bias[4]; /* linLayerID 0..3 input biases (SINGLE_INP_BIAS: 4..7 have none) */
} ser_lstm_layout;

/* 4U*I + 4U*U + 4U: the Keras parameters of one LSTM. */
static inline SER_HD size_t ser_lstm_param_count(int I, int U) {
    return (size_t)4 * U * I + (size_t)4 * U * U + (size_t)4 * U;
}

/* Keras parameter j (numbering above) inside the three Keras arrays. The pack and unpack
 * kernels and the CPU test share this. */
static inline SER_HD size_t ser_lstm_keras_split(size_t j, int I, int U, int *which) {
    const size_t nk = (size_t)4 * U * I, nr = (size_t)4 * U * U;
    if (j < nk) {
        *which = 0;
        return j;
    }
    if (j < nk + nr) {
        *which = 1;
        return j - nk;
    }
    *which = 2;
    return j - nk - nr;
}

/* map[j] = weight-space float index of Keras parameter j, for all ser_lstm_param_count(I, U)
 * parameters. Fails (naming the linLayerID and what is wrong) unless every matrix and input bias
 * has the dims above, every element lies inside the ws_floats of the weight space and no two
 * parameters share an element. Weight-space elements no parameter maps to (padding, or recurrent
 * biases were there any) keep the zeros the weight space is created with, so they add nothing. */
int ser_lstm_param_map(int32_t *map, const ser_lstm_layout *L, int I, int U, size_t ws_floats, ser_error *err);

/* ws[map[j]] = Keras parameter j (device pointers, enqueued on s). */
cudaError_t ser_k_lstm_pack(float *ws, const int32_t *map, const float *kernel, const float *recurrent_kernel,
                            const float *bias, int I, int U, cudaStream_t s);
/* Keras gradient j = dws[map[j]] (overwritten). */
cudaError_t ser_k_lstm_unpack(float *dkernel, float *drecurrent_kernel, float *dbias, const float *dws,
                              const int32_t *map, int I, int U, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
