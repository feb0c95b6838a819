/* Keras's LSTM through cuDNN's RNN API (kernels/cudnn_lstm.c): cudnnRNNForward,
 * cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8; unidirectional, one layer, zero initial
 * state, CUDNN_RNN_SINGLE_INP_BIAS (Keras has one bias), batch-major unpacked data (B, T, I)
 * so no transposes; gate order i, f, c, o on both sides (cuDNN's linLayerID 0..3 / 4..7 are
 * input / recurrent matrices of gates i, f, c(g), o).
 *
 * Keras layout <-> cuDNN weight space: pack copies kernel (I, 4U), recurrent_kernel (U, 4U)
 * and bias (4U) into the weight space at the addresses cudnnGetRNNWeightParams reports (each
 * gate's matrix there is (U, I) row-major: the transposed Keras column block); unpack_grads
 * does the reverse for the weight gradients (overwritten, kernels/kernels.h's convention).
 * Pointers are device memory; everything enqueues on the handle's stream. All descriptors,
 * the weight space, its gradient, the reserve space and the workspace are allocated at create
 * for up to max_B sequences. */
#ifndef SER_CUDNN_LSTM_H
#define SER_CUDNN_LSTM_H

#include <cudnn.h>

#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_lstm ser_lstm;

int ser_lstm_create(ser_lstm **out, cudnnHandle_t h, int max_B, int T, int I, int U, int allow_tf32, ser_error *err);
void ser_lstm_destroy(ser_lstm *l);

/* Keras weights -> weight space (call after every parameter update, before forward). */
int ser_lstm_pack(ser_lstm *l, const float *kernel, const float *recurrent_kernel, const float *bias,
                  ser_error *err);
/* y (B, T, U): every step's h. training = 1 keeps the reserve space for the backward. */
int ser_lstm_fwd(ser_lstm *l, float *y, const float *x, int B, int training, ser_error *err);
/* From dy (B, T, U) (zeros where a step's output is unused): dx (B, T, I) (NULL: not needed,
 * still runs the data pass the weights pass needs), then the weight-space gradient. */
int ser_lstm_bwd(ser_lstm *l, float *dx, const float *dy, const float *x, const float *y, int B, ser_error *err);
/* Weight-space gradient -> Keras layout (overwritten). */
int ser_lstm_unpack_grads(ser_lstm *l, float *dkernel, float *drecurrent_kernel, float *dbias, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
