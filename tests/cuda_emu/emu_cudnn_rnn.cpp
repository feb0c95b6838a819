// CPU emulation of cuDNN's RNN API for a one-layer unidirectional LSTM (shim/cudnn.h), so that
// kernels/cudnn_lstm.c, cudnn_lstm_layout.c and the pack kernels run as they are.
//
// The weight space has a deliberately SCRAMBLED layout (as tests/test_cuda_lstm_layout.c's
// "odd" one): padding first, the recurrent matrices before the input ones, the gates in a
// permuted order, the biases last in another order, padding after. cuDNN documents none of
// this order; ser must take it from cudnnGetRNNWeightParams, so a hard-coded assumption fails.
// The equations are Keras's (= cuDNN's for LSTM): the forward gathers the Keras matrices out of
// the weight space through the layout and runs host/model/layers/lstm.c's lstm_forward.
// Reserve space (training): a stamp (which forward wrote it, whether the data pass ran), c and
// the gates (B, T, 5U), the weight gradient in Keras form; the data pass computes everything
// (as cuDNN's leaves its intermediates in the reserve), the weight pass adds the gradient into
// dweightSpace through the layout (CUDNN_WGRAD_MODE_ADD). Every call enqueues on the handle's
// stream (so graphs record them) and checks its sizes, descriptors and pointers.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cudnn.h"
#include "cudnn_ops.h"
extern "C" {
#include "layers/layers.h"
}

void emu_enqueue(cudaStream_t s, std::function<void()> fn);
void emu_need(const void *p, size_t bytes, const char *what);
cudaStream_t emu_cudnn_stream(cudnnHandle_t h); /* emu_dnn.cpp */

struct emu_tensor_desc {
    cudnnDataType_t type;
    int nb, dims[8], strides[8];
};
struct emu_dropout_desc {
    float p;
};
struct emu_rnn_desc {
    int set, I, U;
};
struct emu_rnn_data_desc {
    int set, T, B, V;
    cudnnRNNDataLayout_t layout;
};

#define BAD(...)                                                                                       \
    do {                                                                                               \
        fprintf(stderr, "EMU cuDNN RNN: " __VA_ARGS__);                                                \
        fputc('\n', stderr);                                                                           \
        return CUDNN_STATUS_BAD_PARAM;                                                                 \
    } while (0)

/* ---- the scrambled layout: float offsets of matrices (ids 0..7) and biases (ids 0..3) ---- */
namespace {
const int kLead = 3, kTail = 5;
const int kRecOrder[4] = {3, 2, 1, 0}, kInOrder[4] = {1, 3, 0, 2}, kBiasOrder[4] = {2, 0, 3, 1};
struct Layout {
    size_t mat[8], bias[4], floats;
};
Layout layout(int I, int U) {
    Layout L;
    size_t off = kLead;
    for (int k = 0; k < 4; k++) L.mat[4 + kRecOrder[k]] = off, off += (size_t)U * U;
    for (int k = 0; k < 4; k++) L.mat[kInOrder[k]] = off, off += (size_t)U * I;
    for (int k = 0; k < 4; k++) L.bias[kBiasOrder[k]] = off, off += (size_t)U;
    L.floats = off + kTail;
    return L;
}
size_t nparams(int I, int U) { return (size_t)4 * U * I + (size_t)4 * U * U + (size_t)4 * U; }
/* weight space -> Keras kernel (I, 4U), recurrent (U, 4U), bias (4U) */
void gather(float *k, float *r, float *b, const float *ws, const Layout &L, int I, int U) {
    const int G = 4 * U;
    for (int g = 0; g < 4; g++)
        for (int u = 0; u < U; u++) {
            for (int c = 0; c < I; c++) k[(size_t)c * G + g * U + u] = ws[L.mat[g] + (size_t)u * I + c];
            for (int c = 0; c < U; c++) r[(size_t)c * G + g * U + u] = ws[L.mat[4 + g] + (size_t)u * U + c];
            b[g * U + u] = ws[L.bias[g] + u];
        }
}
/* dws += the Keras-form gradient, through the layout */
void scatter_add(float *dws, const float *dk, const float *dr, const float *db, const Layout &L, int I, int U) {
    const int G = 4 * U;
    for (int g = 0; g < 4; g++)
        for (int u = 0; u < U; u++) {
            for (int c = 0; c < I; c++) dws[L.mat[g] + (size_t)u * I + c] += dk[(size_t)c * G + g * U + u];
            for (int c = 0; c < U; c++) dws[L.mat[4 + g] + (size_t)u * U + c] += dr[(size_t)c * G + g * U + u];
            dws[L.bias[g] + u] += db[g * U + u];
        }
}
struct Stamp {
    unsigned magic, B, data_done, pad;
    const float *x, *y;
};
const unsigned kMagic = 0x5e11u;
/* work: Keras k | r | b | lstm scratch | (inference) c, gates */
size_t work_floats(int B, int T, int I, int U) {
    return nparams(I, U) + lstm_scratch_size(B, T, I, U) + (size_t)B * T * 5 * U;
}
/* reserve: stamp | c, gates | Keras gradient */
size_t reserve_bytes(int B, int T, int I, int U) {
    return sizeof(Stamp) + ((size_t)B * T * 5 * U + nparams(I, U)) * sizeof(float);
}
} // namespace

extern "C" {
cudnnStatus_t cudnnGetStream(cudnnHandle_t h, cudaStream_t *s) {
    *s = emu_cudnn_stream(h);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) {
    *d = new emu_tensor_desc{};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t d, cudnnDataType_t type, int nb, const int dims[],
                                         const int strides[]) {
    if (nb < 1 || nb > 8) BAD("tensor descriptor with %d dims", nb);
    d->type = type, d->nb = nb;
    for (int i = 0; i < nb; i++) d->dims[i] = dims[i], d->strides[i] = strides[i];
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetTensorNdDescriptor(const cudnnTensorDescriptor_t d, int req, cudnnDataType_t *type, int *nb,
                                         int dims[], int strides[]) {
    *type = d->type, *nb = d->nb;
    for (int i = 0; i < d->nb && i < req; i++) dims[i] = d->dims[i], strides[i] = d->strides[i];
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateDropoutDescriptor(cudnnDropoutDescriptor_t *d) {
    *d = new emu_dropout_desc{-1};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyDropoutDescriptor(cudnnDropoutDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetDropoutDescriptor(cudnnDropoutDescriptor_t d, cudnnHandle_t, float p, void *, size_t,
                                        unsigned long long) {
    d->p = p;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateRNNDescriptor(cudnnRNNDescriptor_t *d) {
    *d = new emu_rnn_desc{};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyRNNDescriptor(cudnnRNNDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetRNNDescriptor_v8(cudnnRNNDescriptor_t d, cudnnRNNAlgo_t algo, cudnnRNNMode_t cell,
                                       cudnnRNNBiasMode_t bias, cudnnDirectionMode_t dir, cudnnRNNInputMode_t in,
                                       cudnnDataType_t type, cudnnDataType_t prec, cudnnMathType_t, int32_t I,
                                       int32_t U, int32_t proj, int32_t layers, cudnnDropoutDescriptor_t drop,
                                       uint32_t aux) {
    if (algo != CUDNN_RNN_ALGO_STANDARD || cell != CUDNN_LSTM || bias != CUDNN_RNN_SINGLE_INP_BIAS ||
        dir != CUDNN_UNIDIRECTIONAL || in != CUDNN_LINEAR_INPUT || type != CUDNN_DATA_FLOAT ||
        prec != CUDNN_DATA_FLOAT || proj != U || layers != 1 || !drop || drop->p != 0.0f ||
        aux != CUDNN_RNN_PADDED_IO_ENABLED || I < 1 || U < 1)
        BAD("an RNN descriptor the emulation does not implement");
    d->set = 1, d->I = I, d->U = U;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateRNNDataDescriptor(cudnnRNNDataDescriptor_t *d) {
    *d = new emu_rnn_data_desc{};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyRNNDataDescriptor(cudnnRNNDataDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetRNNDataDescriptor(cudnnRNNDataDescriptor_t d, cudnnDataType_t type, cudnnRNNDataLayout_t layout,
                                        int T, int B, int V, const int seq[], void *fill) {
    if (type != CUDNN_DATA_FLOAT || T < 1 || B < 1 || V < 1 || !seq || !fill) BAD("RNN data descriptor arguments");
    for (int b = 0; b < B; b++)
        if (seq[b] != T) BAD("sequence %d of length %d (the emulation runs full sequences only)", b, seq[b]);
    d->set = 1, d->T = T, d->B = B, d->V = V, d->layout = layout;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetRNNWeightSpaceSize(cudnnHandle_t, cudnnRNNDescriptor_t d, size_t *bytes) {
    if (!d->set) BAD("weight space size of an unset RNN descriptor");
    *bytes = layout(d->I, d->U).floats * sizeof(float);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetRNNTempSpaceSizes(cudnnHandle_t, cudnnRNNDescriptor_t d, cudnnForwardMode_t mode,
                                        cudnnRNNDataDescriptor_t x, size_t *work, size_t *reserve) {
    if (!d->set || !x->set || x->V != d->I) BAD("temp space sizes: descriptors");
    *work = work_floats(x->B, x->T, d->I, d->U) * sizeof(float);
    *reserve = mode == CUDNN_FWD_MODE_TRAINING ? reserve_bytes(x->B, x->T, d->I, d->U) : 0;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetRNNWeightParams(cudnnHandle_t, cudnnRNNDescriptor_t d, int32_t layer, size_t wbytes,
                                      const void *ws, int32_t id, cudnnTensorDescriptor_t md, void **maddr,
                                      cudnnTensorDescriptor_t bd, void **baddr) {
    const Layout L = layout(d->I, d->U);
    if (layer != 0 || id < 0 || id > 7 || wbytes != L.floats * sizeof(float) || !ws) BAD("weight params arguments");
    /* cuDNN 9.0 .. 9.x answer BAD_PARAM for a NULL descriptor or address of the matrix or the
     * bias (only recent releases accept NULL): emulate the strict ones */
    if (!md || !maddr || !bd || !baddr) BAD("weight params: NULL matrix or bias descriptor / address (earlier cuDNN 9 releases refuse)");
    float *w = (float *)const_cast<void *>(ws);
    if (maddr) {
        const int cols = id < 4 ? d->I : d->U;
        const int dims[3] = {1, d->U, cols}, strides[3] = {d->U * cols, cols, 1};
        cudnnSetTensorNdDescriptor(md, CUDNN_DATA_FLOAT, 3, dims, strides);
        *maddr = w + L.mat[id];
    }
    if (baddr) {
        if (id < 4) {
            const int dims[3] = {1, d->U, 1}, strides[3] = {d->U, 1, 1};
            cudnnSetTensorNdDescriptor(bd, CUDNN_DATA_FLOAT, 3, dims, strides);
            *baddr = w + L.bias[id];
        } else {
            *baddr = nullptr; /* SINGLE_INP_BIAS: no recurrent bias */
        }
    }
    return CUDNN_STATUS_SUCCESS;
}

static cudnnStatus_t check_common(cudnnRNNDescriptor_t d, const int32_t *seq, cudnnRNNDataDescriptor_t xd,
                                  cudnnRNNDataDescriptor_t yd, cudnnTensorDescriptor_t hd, cudnnTensorDescriptor_t cd,
                                  size_t wbytes, size_t work_bytes, const void *work) {
    if (!d->set || !xd->set || !yd->set) BAD("unset descriptor");
    if (xd->layout != CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED || yd->layout != xd->layout) BAD("data layout");
    if (xd->V != d->I || yd->V != d->U || xd->B != yd->B || xd->T != yd->T) BAD("x / y descriptors disagree");
    for (cudnnTensorDescriptor_t t : {hd, cd})
        if (t->nb != 3 || t->dims[0] != 1 || t->dims[1] != xd->B || t->dims[2] != d->U) BAD("h / c descriptor");
    if (wbytes != layout(d->I, d->U).floats * sizeof(float)) BAD("weight space of %zu bytes", wbytes);
    if (work_bytes < work_floats(xd->B, xd->T, d->I, d->U) * sizeof(float)) BAD("workspace too small");
    emu_need(work, work_bytes, "RNN workspace");
    emu_need(seq, xd->B * sizeof(int32_t), "devSeqLengths");
    for (int b = 0; b < xd->B; b++)
        if (seq[b] != xd->T) BAD("devSeqLengths[%d] = %d", b, seq[b]);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNForward(cudnnHandle_t h, cudnnRNNDescriptor_t d, cudnnForwardMode_t mode, const int32_t seq[],
                              cudnnRNNDataDescriptor_t xd, const void *x, cudnnRNNDataDescriptor_t yd, void *y,
                              cudnnTensorDescriptor_t hd, const void *hx, void *hy, cudnnTensorDescriptor_t cd,
                              const void *cx, void *cy, size_t wbytes, const void *ws, size_t work_bytes, void *work,
                              size_t rbytes, void *reserve) {
    if (cudnnStatus_t st = check_common(d, seq, xd, yd, hd, cd, wbytes, work_bytes, work)) return st;
    if (hx || hy || cx || cy) BAD("initial / final states (ser passes none)");
    const int B = xd->B, T = xd->T, I = d->I, U = d->U;
    const int training = mode == CUDNN_FWD_MODE_TRAINING;
    if (training && rbytes < reserve_bytes(B, T, I, U)) BAD("reserve space too small");
    if (training) emu_need(reserve, rbytes, "reserve space");
    emu_need(x, sizeof(float) * B * T * I, "RNN x");
    emu_need(y, sizeof(float) * B * T * U, "RNN y");
    emu_need(ws, wbytes, "weight space");
    const Layout L = layout(I, U);
    emu_enqueue(emu_cudnn_stream(h), [=] {
        float *k = (float *)work, *r = k + (size_t)I * 4 * U, *b = r + (size_t)U * 4 * U;
        float *c = b + 4 * U + lstm_scratch_size(B, T, I, U);
        if (training) {
            Stamp *st = (Stamp *)reserve;
            *st = Stamp{kMagic, (unsigned)B, 0, 0, (const float *)x, (const float *)y};
            c = (float *)(st + 1);
        }
        gather(k, r, b, (const float *)ws, L, I, U);
        lstm_forward((float *)y, c, c + (size_t)B * T * U, (const float *)x, k, r, b, B, T, I, U);
    });
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNBackwardData_v8(cudnnHandle_t h, cudnnRNNDescriptor_t d, const int32_t seq[],
                                      cudnnRNNDataDescriptor_t yd, const void *y, const void *dy,
                                      cudnnRNNDataDescriptor_t xd, void *dx, cudnnTensorDescriptor_t hd,
                                      const void *hx, const void *dhy, void *dhx, cudnnTensorDescriptor_t cd,
                                      const void *cx, const void *dcy, void *dcx, size_t wbytes, const void *ws,
                                      size_t work_bytes, void *work, size_t rbytes, void *reserve) {
    if (cudnnStatus_t st = check_common(d, seq, xd, yd, hd, cd, wbytes, work_bytes, work)) return st;
    if (hx || dhy || dhx || cx || dcy || dcx) BAD("state gradients (ser passes none)");
    const int B = xd->B, T = xd->T, I = d->I, U = d->U;
    if (rbytes < reserve_bytes(B, T, I, U) || !dx) BAD("reserve space too small, or no dx");
    emu_need(reserve, rbytes, "reserve space");
    emu_need(dx, sizeof(float) * B * T * I, "RNN dx");
    emu_need(dy, sizeof(float) * B * T * U, "RNN dy");
    const Layout L = layout(I, U);
    emu_enqueue(emu_cudnn_stream(h), [=] {
        Stamp *st = (Stamp *)reserve;
        if (st->magic != kMagic || st->B != (unsigned)B || st->y != y) {
            fprintf(stderr, "EMU cuDNN RNN: backward data is not of the last training forward in this reserve space\n");
            abort();
        }
        float *k = (float *)work, *r = k + (size_t)I * 4 * U, *b = r + (size_t)U * 4 * U, *scratch = b + 4 * U;
        float *c = (float *)(st + 1), *gates = c + (size_t)B * T * U, *dk = gates + (size_t)B * T * 4 * U;
        float *dr = dk + (size_t)I * 4 * U, *db = dr + (size_t)U * 4 * U;
        gather(k, r, b, (const float *)ws, L, I, U);
        memset(dk, 0, nparams(I, U) * sizeof(float));
        lstm_backward((float *)dx, dk, dr, db, scratch, (const float *)dy, st->x, (const float *)y, c, gates, k, r, B,
                      T, I, U);
        st->data_done = 1;
    });
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNBackwardWeights_v8(cudnnHandle_t h, cudnnRNNDescriptor_t d, cudnnWgradMode_t mode,
                                         const int32_t seq[], cudnnRNNDataDescriptor_t xd, const void *x,
                                         cudnnTensorDescriptor_t hd, const void *hx, cudnnRNNDataDescriptor_t yd,
                                         const void *y, size_t wbytes, void *dws, size_t work_bytes, void *work,
                                         size_t rbytes, void *reserve) {
    if (cudnnStatus_t st = check_common(d, seq, xd, yd, hd, hd, wbytes, work_bytes, work)) return st;
    if (hx || mode != CUDNN_WGRAD_MODE_ADD) BAD("hx or wgrad mode");
    const int B = xd->B, T = xd->T, I = d->I, U = d->U;
    if (rbytes < reserve_bytes(B, T, I, U)) BAD("reserve space too small");
    emu_need(dws, wbytes, "dweight space");
    const Layout L = layout(I, U);
    emu_enqueue(emu_cudnn_stream(h), [=] {
        Stamp *st = (Stamp *)reserve;
        if (st->magic != kMagic || st->B != (unsigned)B || st->x != x || st->y != y || !st->data_done) {
            fprintf(stderr, "EMU cuDNN RNN: backward weights without the data pass of the same forward (or other x / y)\n");
            abort();
        }
        const float *dk = (const float *)(st + 1) + (size_t)B * T * 5 * U;
        scatter_add((float *)dws, dk, dk + (size_t)I * 4 * U, dk + (size_t)I * 4 * U + (size_t)U * 4 * U, L, I, U);
    });
    return CUDNN_STATUS_SUCCESS;
}
}
