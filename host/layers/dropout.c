/* Dropout with a counter-based mask (include/ser/philox.h): element e of layer `layer` at
 * training step `step` is kept iff uniform(seed, step, layer, e) >= rate, and a kept element is
 * scaled by 1 / (1 - rate) (inverted dropout, as Keras: out = in * scale * mask). The mask is a
 * pure function of its key, so the split of the loop across threads changes nothing. */
#include <string.h>

#include "layers/layers.h"
#include "ser/error.h"
#include "ser/philox.h"

/* TF builds the scale in double from the Python float rate and casts it to float32. */
static float dropout_scale(float rate) { return (float)(1.0 / (1.0 - (double)rate)); }

void dropout_forward(float *out, uint8_t *mask, const float *in, size_t n, float rate,
                     uint64_t seed, uint64_t step, uint32_t layer) {
    SER_ASSERT(rate >= 0.0f && rate < 1.0f);
    SER_ASSERT(n / 4 <= UINT32_MAX); /* the element counter word is 32 bits */
    if (rate == 0.0f) {
        if (out != in) memmove(out, in, n * sizeof *out);
        memset(mask, 1, n);
        return;
    }
    const float scale = dropout_scale(rate);
    const philox4x32_key key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    const int64_t groups = (int64_t)((n + 3) / 4);
#pragma omp parallel for schedule(static)
    for (int64_t g = 0; g < groups; g++) {
        philox4x32_ctr c = {{(uint32_t)g, layer, (uint32_t)step, (uint32_t)(step >> 32)}};
        philox4x32_ctr r = philox4x32_10(c, key);
        size_t e0 = (size_t)g * 4;
        for (int j = 0; j < 4 && e0 + (size_t)j < n; j++) {
            size_t e = e0 + (size_t)j;
            uint8_t keep = philox_uniform24(r.v[j]) >= rate;
            mask[e] = keep;
            out[e] = keep ? in[e] * scale : 0.0f;
        }
    }
}

void dropout_backward(float *din, const float *dout, const uint8_t *mask, size_t n, float rate) {
    SER_ASSERT(rate >= 0.0f && rate < 1.0f);
    const float scale = dropout_scale(rate);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = mask[i] ? dout[i] * scale : 0.0f;
}
