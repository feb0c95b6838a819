/* Dropout with ser's Philox stream (ser/philox.h), bit-identical to host/model/layers/dropout.c: the
 * key, counter, keep rule and scaling are layers/dropout_elem.h's, the functions the CPU runs.
 * One thread per Philox block of 4 consecutive elements (one philox4x32_10 call serves 4). The
 * step comes from device memory (ser_step_scalars) so a captured graph replays with the new one. */
#include "kernels.h"
#include "launch.cuh"
#include "layers/dropout_elem.h"

static __global__ void k_dropout_fwd(float *out, uint8_t *mask, const float *in, size_t n, float rate, float scale,
                                     uint64_t seed, const ser_step_scalars *sc, uint32_t layer) {
    const uint64_t step = sc->step;
    const philox4x32_key key = dropout_key(seed);
    const size_t groups = (n + 3) / 4;
    SER_GRID_LOOP(g, groups) {
        const philox4x32_ctr w = philox4x32_10(dropout_ctr((uint32_t)g, layer, step), key);
        const size_t e0 = 4 * g;
        for (int j = 0; j < 4 && e0 + j < n; j++) {
            const int keep = dropout_keep(w.v[j], rate);
            mask[e0 + j] = (uint8_t)keep;
            out[e0 + j] = dropout_apply(in[e0 + j], keep, scale);
        }
    }
}

extern "C" cudaError_t ser_k_dropout_fwd(float *out, uint8_t *mask, const float *in, size_t n, float rate,
                                         uint64_t seed, const ser_step_scalars *sc, uint32_t layer, cudaStream_t s) {
    /* the element counter word is 32 bits (as dropout_forward asserts) */
    if (!(rate >= 0.0f && rate < 1.0f) || (n + 3) / 4 > (size_t)UINT32_MAX + 1) return cudaErrorInvalidValue;
    k_dropout_fwd<<<ser_grid((n + 3) / 4), SER_BLOCK, 0, s>>>(out, mask, in, n, rate, dropout_scale(rate), seed, sc,
                                                              layer);
    return cudaGetLastError();
}

static __global__ void k_dropout_bwd(float *din, const float *dout, const uint8_t *mask, size_t n, float scale) {
    SER_GRID_LOOP(i, n) din[i] = dropout_apply(dout[i], mask[i], scale);
}

extern "C" cudaError_t ser_k_dropout_bwd(float *din, const float *dout, const uint8_t *mask, size_t n, float rate,
                                         cudaStream_t s) {
    if (!(rate >= 0.0f && rate < 1.0f)) return cudaErrorInvalidValue;
    k_dropout_bwd<<<ser_grid(n), SER_BLOCK, 0, s>>>(din, dout, mask, n, dropout_scale(rate));
    return cudaGetLastError();
}
