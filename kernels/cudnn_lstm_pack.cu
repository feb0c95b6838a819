// Keras LSTM parameters <-> cuDNN weight space through the index map of
// kernels/cudnn_lstm_layout.h: one thread per Keras parameter, reads coalesced, the scattered
// side is the weight space (about 78k floats for the biggest LSTM: not worth a tiled transpose).
#include "cudnn_lstm_layout.h"

static const int kThreads = 256;

static __global__ void lstm_pack_k(float *ws, const int32_t *map, const float *kernel, const float *rec,
                                   const float *bias, int I, int U, size_t n) {
    const size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    int which;
    const size_t at = ser_lstm_keras_split(j, I, U, &which);
    ws[map[j]] = which == 0 ? kernel[at] : which == 1 ? rec[at] : bias[at];
}

static __global__ void lstm_unpack_k(float *dkernel, float *drec, float *dbias, const float *dws, const int32_t *map,
                                     int I, int U, size_t n) {
    const size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    int which;
    const size_t at = ser_lstm_keras_split(j, I, U, &which);
    float *dst = which == 0 ? dkernel : which == 1 ? drec : dbias;
    dst[at] = dws[map[j]];
}

extern "C" cudaError_t ser_k_lstm_pack(float *ws, const int32_t *map, const float *kernel,
                                       const float *recurrent_kernel, const float *bias, int I, int U,
                                       cudaStream_t s) {
    const size_t n = ser_lstm_param_count(I, U);
    const unsigned blocks = (unsigned)((n + kThreads - 1) / kThreads);
    lstm_pack_k<<<blocks, kThreads, 0, s>>>(ws, map, kernel, recurrent_kernel, bias, I, U, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_lstm_unpack(float *dkernel, float *drecurrent_kernel, float *dbias, const float *dws,
                                         const int32_t *map, int I, int U, cudaStream_t s) {
    const size_t n = ser_lstm_param_count(I, U);
    const unsigned blocks = (unsigned)((n + kThreads - 1) / kThreads);
    lstm_unpack_k<<<blocks, kThreads, 0, s>>>(dkernel, drecurrent_kernel, dbias, dws, map, I, U, n);
    return cudaGetLastError();
}
