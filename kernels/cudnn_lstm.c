/* Keras's LSTM through cuDNN 9's RNN API (kernels/cudnn_lstm.h). What is relied on, and where
 * it comes from (no GPU was available when this was written; tests/test_cuda_lstm.c checks all
 * of it against host/model/layers/lstm.c on a device):
 *
 * - Weight layout: cudnnGetRNNWeightParams reports each gate's matrix as dims {1, U, cols} with
 *   strides, and the LSTM equations of the cuDNN API reference use it as W x (rows = hidden
 *   units). PyTorch's cuDNN path (aten/src/ATen/native/cudnn/RNN.cpp, get_parameters) views its
 *   weight_ih (4H, I), whose row block g is the matrix of h = W_g x, directly over the address
 *   of linLayerID 0 and copies it in row-major, gate order i, f, g, o = linLayerID 0..3, and
 *   weight_hh over 4..7. Keras's own cuDNN LSTM (keras/layers/rnn/lstm.py, gpu_lstm) splits
 *   kernel (I, 4U) into its 4 column blocks, transposes each and flattens it into the canonical
 *   cuDNN parameters in the same i, f, c, o order ("Cudnn/Canonical: [i, f, c, o]"; it puts its
 *   bias in cuDNN's recurrent slot and zeros the input one, the same sum as our single input
 *   bias). So cuDNN's M_g[u][k] = Keras kernel[k][g*U + u]. We do not hard-code
 *   the row-major part: kernels/cudnn_lstm_layout.c places every element through the dims and
 *   strides cuDNN reports and rejects any layout that is not a permutation into the weight space.
 * - Zero initial state: hx / cx NULL ("initialized to zero" in the API reference); dhy / dcy
 *   NULL (zero), dhx / dcx NULL (not computed). hDesc / cDesc are still given, (1, B, U).
 * - cudnnRNNBackwardWeights_v8: the cuDNN 8 API reference said only CUDNN_WGRAD_MODE_ADD is
 *   supported, and every user we read (cuDNN's RNN sample, TensorFlow, JAX) zeroes and ADDs;
 *   so "overwritten" is a cudaMemsetAsync of the gradient space on the handle's stream, then
 *   ADD (correct whether or not a given cuDNN also accepts CUDNN_WGRAD_MODE_SET).
 * - Batch-major unpacked data with CUDNN_RNN_PADDED_IO_ENABLED and full-length sequences, as
 *   JAX's cuDNN LSTM (jaxlib/gpu/rnn_kernels.cc) runs it; no dropout (a p = 0 dropout descriptor
 *   without states, as PyTorch passes for no dropout); CUDNN_FMA_MATH keeps FP32 off tensor
 *   cores unless allow_tf32 (CUDNN_DEFAULT_MATH, which permits TF32).
 *
 * Per-call batch B <= max_B: only the RNN data and state descriptors change (host-side
 * cudnnSet* calls, no allocation); the workspace and reserve space are sized at create for the
 * largest need over every B in 1..max_B, the device sequence-length array holds max_B entries
 * of T (cuDNN reads the first B). */
#include <stdint.h>
#include <stdlib.h>

#include "cuda_check.h"
#include "cudnn_lstm.h"
#include "cudnn_lstm_layout.h"

struct ser_lstm {
    cudnnHandle_t h;
    int max_B, T, I, U;
    cudnnDropoutDescriptor_t drop;
    cudnnRNNDescriptor_t rnn;
    cudnnRNNDataDescriptor_t xd, yd;     /* (B, T, I), (B, T, U) batch-major */
    cudnnTensorDescriptor_t hd, cd;      /* (1, B, U) state descriptors */
    cudnnTensorDescriptor_t md, bd;      /* scratch for cudnnGetRNNWeightParams at create */
    int desc_B;                          /* the B the data/state descriptors describe; 0: unset */
    int fwd_B;                           /* B of the last training forward (the reserve space); 0: none */
    int *seq_host;                       /* (max_B) all T */
    int32_t *seq_dev;                    /* (max_B) all T, device */
    size_t w_bytes, work_bytes, reserve_bytes;
    float *w, *dw;                       /* weight space and its gradient */
    void *work, *reserve;
    float *dx_scratch;                   /* (max_B, T, I): dx when the caller passes NULL */
    int32_t *map;                        /* (ser_lstm_param_count) Keras parameter -> weight-space float */
};

/* Points the data and state descriptors at batch B (host-side only). */
static int set_batch(ser_lstm *l, int B, ser_error *err) {
    if (l->desc_B == B) return 0;
    l->desc_B = 0; /* a failure half-way leaves them unusable, not silently wrong */
    float fill = 0.0f; /* padding value of the outputs: never used, every sequence is T long */
    SER_CUDNN(cudnnSetRNNDataDescriptor(l->xd, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, l->T, B,
                                        l->I, l->seq_host, &fill));
    SER_CUDNN(cudnnSetRNNDataDescriptor(l->yd, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, l->T, B,
                                        l->U, l->seq_host, &fill));
    const int dims[3] = {1, B, l->U}, strides[3] = {B * l->U, l->U, 1};
    SER_CUDNN(cudnnSetTensorNdDescriptor(l->hd, CUDNN_DATA_FLOAT, 3, dims, strides));
    SER_CUDNN(cudnnSetTensorNdDescriptor(l->cd, CUDNN_DATA_FLOAT, 3, dims, strides));
    l->desc_B = B;
    return 0;
}

/* One matrix or bias address + descriptor from cudnnGetRNNWeightParams, as a layout block. */
static int read_block(ser_lstm *l, ser_lstm_block *b, void *addr, cudnnTensorDescriptor_t d, int id, ser_error *err) {
    b->off = -1;
    b->nbdims = 0;
    if (!addr) return 0;
    const ptrdiff_t bytes = (const char *)addr - (const char *)l->w;
    if (bytes < 0 || (size_t)bytes >= l->w_bytes || bytes % (ptrdiff_t)sizeof(float))
        return ser_fail(err, "cudnnGetRNNWeightParams: linLayerID %d address is %td bytes into a %zu-byte weight space",
                        id, bytes, l->w_bytes);
    b->off = (long long)(bytes / (ptrdiff_t)sizeof(float));
    cudnnDataType_t type;
    SER_CUDNN(cudnnGetTensorNdDescriptor(d, 3, &type, &b->nbdims, b->dims, b->strides));
    if (type != CUDNN_DATA_FLOAT)
        return ser_fail(err, "cudnnGetRNNWeightParams: linLayerID %d is of cuDNN data type %d, not float", id, (int)type);
    return 0;
}

static int create(ser_lstm *l, int allow_tf32, ser_error *err) {
    const int max_B = l->max_B, T = l->T, I = l->I, U = l->U;
    SER_CUDNN(cudnnCreateDropoutDescriptor(&l->drop));
    SER_CUDNN(cudnnSetDropoutDescriptor(l->drop, l->h, 0.0f, NULL, 0, 0));
    SER_CUDNN(cudnnCreateRNNDescriptor(&l->rnn));
    SER_CUDNN(cudnnSetRNNDescriptor_v8(l->rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_SINGLE_INP_BIAS,
                                       CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                                       allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH, I, U, U, 1, l->drop,
                                       CUDNN_RNN_PADDED_IO_ENABLED));
    SER_CUDNN(cudnnCreateRNNDataDescriptor(&l->xd));
    SER_CUDNN(cudnnCreateRNNDataDescriptor(&l->yd));
    SER_CUDNN(cudnnCreateTensorDescriptor(&l->hd));
    SER_CUDNN(cudnnCreateTensorDescriptor(&l->cd));
    SER_CUDNN(cudnnCreateTensorDescriptor(&l->md));
    SER_CUDNN(cudnnCreateTensorDescriptor(&l->bd));

    l->seq_host = ser_malloc((size_t)max_B * sizeof(int), "LSTM sequence lengths", err);
    if (!l->seq_host) return -1;
    for (int b = 0; b < max_B; b++) l->seq_host[b] = T;
    SER_CU(cudaMalloc((void **)&l->seq_dev, (size_t)max_B * sizeof(int32_t)));
    SER_CU(cudaMemcpy(l->seq_dev, l->seq_host, (size_t)max_B * sizeof(int32_t), cudaMemcpyHostToDevice));

    /* Weight space and its gradient, zeroed: elements no Keras parameter maps to stay 0. */
    SER_CUDNN(cudnnGetRNNWeightSpaceSize(l->h, l->rnn, &l->w_bytes));
    if (l->w_bytes < ser_lstm_param_count(I, U) * sizeof(float))
        return ser_fail(err, "cudnnGetRNNWeightSpaceSize: %zu bytes for %zu LSTM parameters", l->w_bytes,
                        ser_lstm_param_count(I, U));
    SER_CU(cudaMalloc((void **)&l->w, l->w_bytes));
    SER_CU(cudaMalloc((void **)&l->dw, l->w_bytes));
    SER_CU(cudaMemset(l->w, 0, l->w_bytes));
    SER_CU(cudaMemset(l->dw, 0, l->w_bytes));

    /* Workspace (either mode) and reserve space (training) for the largest need over all B. */
    for (int B = 1; B <= max_B; B++) {
        if (set_batch(l, B, err)) return -1;
        size_t work = 0, reserve = 0, work_inf = 0, reserve_inf = 0;
        SER_CUDNN(cudnnGetRNNTempSpaceSizes(l->h, l->rnn, CUDNN_FWD_MODE_TRAINING, l->xd, &work, &reserve));
        SER_CUDNN(cudnnGetRNNTempSpaceSizes(l->h, l->rnn, CUDNN_FWD_MODE_INFERENCE, l->xd, &work_inf, &reserve_inf));
        if (work_inf > work) work = work_inf;
        if (work > l->work_bytes) l->work_bytes = work;
        if (reserve > l->reserve_bytes) l->reserve_bytes = reserve;
    }
    if (l->work_bytes) SER_CU(cudaMalloc(&l->work, l->work_bytes));
    if (l->reserve_bytes) SER_CU(cudaMalloc(&l->reserve, l->reserve_bytes));
    SER_CU(cudaMalloc((void **)&l->dx_scratch, (size_t)max_B * T * I * sizeof(float)));

    /* Where each gate's matrix and bias lives -> the Keras index map. */
    ser_lstm_layout L;
    for (int id = 0; id < 8; id++) {
        /* Matrix and bias in ONE call, both with real descriptors and pointers, as PyTorch does
         * (aten/src/ATen/native/cudnn/RNN.cpp, get_parameters): recent cuDNN 9 accepts a NULL
         * pair, earlier 9.x answer CUDNN_STATUS_BAD_PARAM. The recurrent ids 4..7 have no bias
         * under CUDNN_RNN_SINGLE_INP_BIAS: cuDNN returns its address as NULL. */
        void *maddr = NULL, *baddr = NULL;
        SER_CUDNN(cudnnGetRNNWeightParams(l->h, l->rnn, 0, l->w_bytes, l->w, id, l->md, &maddr, l->bd, &baddr));
        if (read_block(l, &L.mat[id], maddr, l->md, id, err)) return -1;
        if (id < 4 && read_block(l, &L.bias[id], baddr, l->bd, id, err)) return -1;
        if (id < 4 && !baddr)
            return ser_fail(err, "cudnnGetRNNWeightParams: no bias for input linLayerID %d (CUDNN_RNN_SINGLE_INP_BIAS)", id);
        if (id >= 4 && baddr)
            return ser_fail(err, "cudnnGetRNNWeightParams: a bias for recurrent linLayerID %d under "
                            "CUDNN_RNN_SINGLE_INP_BIAS (ser has one bias per gate)", id);
    }
    const size_t n = ser_lstm_param_count(I, U);
    int32_t *map = ser_malloc(n * sizeof(int32_t), "LSTM weight-space index map", err);
    if (!map) return -1;
    if (ser_lstm_param_map(map, &L, I, U, l->w_bytes / sizeof(float), err)) {
        free(map);
        return -1;
    }
    cudaError_t e = cudaMalloc((void **)&l->map, n * sizeof(int32_t));
    if (e == cudaSuccess) e = cudaMemcpy(l->map, map, n * sizeof(int32_t), cudaMemcpyHostToDevice);
    free(map);
    SER_CU(e);
    /* The memsets and copies above ran on the legacy default stream, which a non-blocking
     * stream of the handle does not wait for: finish them (and surface any async error). */
    SER_CU(cudaDeviceSynchronize());
    return 0;
}

int ser_lstm_create(ser_lstm **out, cudnnHandle_t h, int max_B, int T, int I, int U, int allow_tf32, ser_error *err) {
    *out = NULL;
    if (!h || max_B < 1 || T < 1 || I < 1 || U < 1 || (long long)max_B * T * I > INT32_MAX ||
        (long long)max_B * U > INT32_MAX)
        return ser_fail(err, "ser_lstm_create: bad arguments (handle %p, max_B %d, T %d, I %d, U %d)", (void *)h, max_B,
                        T, I, U);
    ser_lstm *l = ser_calloc(1, sizeof *l, "LSTM context", err);
    if (!l) return -1;
    l->h = h, l->max_B = max_B, l->T = T, l->I = I, l->U = U;
    if (create(l, allow_tf32, err)) {
        ser_fail_wrap(err, "cuDNN LSTM (max_B %d, T %d, I %d, U %d)", max_B, T, I, U);
        ser_lstm_destroy(l);
        return -1;
    }
    *out = l;
    return 0;
}

void ser_lstm_destroy(ser_lstm *l) {
    if (!l) return;
    /* Teardown: nothing useful to do with a failure here. */
    cudaFree(l->map);
    cudaFree(l->dx_scratch);
    cudaFree(l->reserve);
    cudaFree(l->work);
    cudaFree(l->dw);
    cudaFree(l->w);
    cudaFree(l->seq_dev);
    free(l->seq_host);
    if (l->bd) cudnnDestroyTensorDescriptor(l->bd);
    if (l->md) cudnnDestroyTensorDescriptor(l->md);
    if (l->cd) cudnnDestroyTensorDescriptor(l->cd);
    if (l->hd) cudnnDestroyTensorDescriptor(l->hd);
    if (l->yd) cudnnDestroyRNNDataDescriptor(l->yd);
    if (l->xd) cudnnDestroyRNNDataDescriptor(l->xd);
    if (l->rnn) cudnnDestroyRNNDescriptor(l->rnn);
    if (l->drop) cudnnDestroyDropoutDescriptor(l->drop);
    free(l);
}

int ser_lstm_pack(ser_lstm *l, const float *kernel, const float *recurrent_kernel, const float *bias,
                  ser_error *err) {
    if (!kernel || !recurrent_kernel || !bias) return ser_fail(err, "ser_lstm_pack: NULL weights");
    cudaStream_t s;
    SER_CUDNN(cudnnGetStream(l->h, &s));
    SER_CU(ser_k_lstm_pack(l->w, l->map, kernel, recurrent_kernel, bias, l->I, l->U, s));
    return 0;
}

int ser_lstm_fwd(ser_lstm *l, float *y, const float *x, int B, int training, ser_error *err) {
    if (B < 1 || B > l->max_B) return ser_fail(err, "ser_lstm_fwd: batch %d outside 1..%d", B, l->max_B);
    if (!x || !y) return ser_fail(err, "ser_lstm_fwd: NULL x or y");
    if (set_batch(l, B, err)) return -1;
    if (training) l->fwd_B = 0; /* the reserve space is being rewritten */
    SER_CUDNN(cudnnRNNForward(l->h, l->rnn, training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                              l->seq_dev, l->xd, x, l->yd, y, l->hd, NULL, NULL, l->cd, NULL, NULL, l->w_bytes, l->w,
                              l->work_bytes, l->work, training ? l->reserve_bytes : 0, training ? l->reserve : NULL));
    if (training) l->fwd_B = B;
    return 0;
}

int ser_lstm_bwd(ser_lstm *l, float *dx, const float *dy, const float *x, const float *y, int B, ser_error *err) {
    if (B < 1 || B != l->fwd_B)
        return ser_fail(err, "ser_lstm_bwd: batch %d, but the last training forward %s %d", B,
                        l->fwd_B ? "had batch" : "did not run; batch", l->fwd_B);
    if (!dy || !x || !y) return ser_fail(err, "ser_lstm_bwd: NULL dy, x or y");
    if (set_batch(l, B, err)) return -1;
    /* Data pass first: it leaves in the reserve space what the weights pass reads. */
    SER_CUDNN(cudnnRNNBackwardData_v8(l->h, l->rnn, l->seq_dev, l->yd, y, dy, l->xd, dx ? dx : l->dx_scratch, l->hd,
                                      NULL, NULL, NULL, l->cd, NULL, NULL, NULL, l->w_bytes, l->w, l->work_bytes,
                                      l->work, l->reserve_bytes, l->reserve));
    cudaStream_t s;
    SER_CUDNN(cudnnGetStream(l->h, &s));
    SER_CU(cudaMemsetAsync(l->dw, 0, l->w_bytes, s));
    SER_CUDNN(cudnnRNNBackwardWeights_v8(l->h, l->rnn, CUDNN_WGRAD_MODE_ADD, l->seq_dev, l->xd, x, l->hd, NULL, l->yd,
                                         y, l->w_bytes, l->dw, l->work_bytes, l->work, l->reserve_bytes,
                                         l->reserve));
    return 0;
}

int ser_lstm_unpack_grads(ser_lstm *l, float *dkernel, float *drecurrent_kernel, float *dbias, ser_error *err) {
    if (!dkernel || !drecurrent_kernel || !dbias) return ser_fail(err, "ser_lstm_unpack_grads: NULL gradients");
    cudaStream_t s;
    SER_CUDNN(cudnnGetStream(l->h, &s));
    SER_CU(ser_k_lstm_unpack(dkernel, drecurrent_kernel, dbias, l->dw, l->map, l->I, l->U, s));
    return 0;
}
