/* The Keras -> cuDNN weight-space index map of kernels/cudnn_lstm_layout.h. Host C only: it
 * reads what cudnnGetRNNWeightParams reported (collected by kernels/cudnn_lstm.c) and trusts
 * nothing it did not check. */
#include <stdint.h>
#include <stdlib.h>

#include "cudnn_lstm_layout.h"

static const char *const gate_name[4] = {"i", "f", "c", "o"};

/* Checks that block b (rows x cols) lies inside the weight space. what: "matrix" / "bias". */
static int check_block(const ser_lstm_block *b, int id, const char *what, int rows, int cols, size_t ws_floats,
                       ser_error *err) {
    if (b->off < 0)
        return ser_fail(err, "cuDNN LSTM weight space: linLayerID %d (gate %s) has no %s", id, gate_name[id % 4],
                        what);
    if (b->nbdims != 3 || b->dims[0] != 1 || b->dims[1] != rows || b->dims[2] != cols)
        return ser_fail(err,
                        "cuDNN LSTM weight space: linLayerID %d (gate %s) %s is %d-d {%d, %d, %d}, expected "
                        "{1, %d, %d}",
                        id, gate_name[id % 4], what, b->nbdims, b->dims[0], b->dims[1], b->dims[2], rows, cols);
    if (b->strides[1] < 1 || (cols > 1 && b->strides[2] < 1))
        return ser_fail(err, "cuDNN LSTM weight space: linLayerID %d %s has strides {%d, %d, %d}", id, what,
                        b->strides[0], b->strides[1], b->strides[2]);
    const long long last =
        b->off + (long long)(rows - 1) * b->strides[1] + (cols > 1 ? (long long)(cols - 1) * b->strides[2] : 0);
    if ((unsigned long long)last >= ws_floats)
        return ser_fail(err, "cuDNN LSTM weight space: linLayerID %d %s ends at float %lld, past the %zu floats", id,
                        what, last, ws_floats);
    return 0;
}

int ser_lstm_param_map(int32_t *map, const ser_lstm_layout *L, int I, int U, size_t ws_floats, ser_error *err) {
    if (I < 1 || U < 1) return ser_fail(err, "cuDNN LSTM weight space: bad sizes I %d, U %d", I, U);
    if (ws_floats > (size_t)INT32_MAX)
        return ser_fail(err, "cuDNN LSTM weight space: %zu floats do not fit the int32 index map", ws_floats);
    for (int id = 0; id < 8; id++) {
        if (check_block(&L->mat[id], id, "matrix", U, id < 4 ? I : U, ws_floats, err)) return -1;
        if (id < 4 && check_block(&L->bias[id], id, "bias", U, 1, ws_floats, err)) return -1;
    }
    const size_t G = (size_t)4 * U, nk = (size_t)I * G, nr = (size_t)U * G;
    /* kernel[k][g*U + u] -> M_g[u][k]; recurrent_kernel[k][g*U + u] -> M_{4+g}[u][k]. */
    for (int part = 0; part < 2; part++) {
        const int K = part == 0 ? I : U;
        int32_t *m = map + (part == 0 ? 0 : nk);
        for (int k = 0; k < K; k++)
            for (int g = 0; g < 4; g++) {
                const ser_lstm_block *b = &L->mat[part * 4 + g];
                for (int u = 0; u < U; u++)
                    m[(size_t)k * G + (size_t)g * U + u] =
                        (int32_t)(b->off + (long long)u * b->strides[1] + (long long)k * b->strides[2]);
            }
    }
    /* bias[g*U + u] -> b_g[u] */
    for (int g = 0; g < 4; g++)
        for (int u = 0; u < U; u++)
            map[nk + nr + (size_t)g * U + u] = (int32_t)(L->bias[g].off + (long long)u * L->bias[g].strides[1]);

    /* A permutation into the weight space: no element written twice. */
    unsigned char *seen = ser_calloc(ws_floats, 1, "cuDNN LSTM weight-space occupancy", err);
    if (!seen) return -1;
    const size_t n = ser_lstm_param_count(I, U);
    for (size_t j = 0; j < n; j++) {
        if (seen[map[j]]) {
            free(seen);
            return ser_fail(err, "cuDNN LSTM weight space: two Keras parameters land on float %d (the reported "
                                 "matrices overlap)",
                            (int)map[j]);
        }
        seen[map[j]] = 1;
    }
    free(seen);
    return 0;
}
