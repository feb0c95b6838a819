/* Dropout with a counter-based mask (include/ser/philox.h): element e of layer `layer` at
 * training step `step` is kept iff uniform(seed, step, layer, e) >= rate, and a kept element is
 * scaled by 1 / (1 - rate) (inverted dropout, as Keras: out = in * scale * mask). The mask is a
 * pure function of its key, so the split of the loop across threads changes nothing. The key,
 * keep rule and scaling are layers/dropout_elem.h's, shared with kernels/dropout.cu. */
#include <string.h>

#include "layers/dropout_elem.h"
#include "layers/layers.h"
#include "ser/error.h"
#include "ser/philox.h"

/* Philox4x32-10 for PHILOX_LANES consecutive counters (element groups g0 .. g0+15) at once;
 * bit-identical to philox4x32_10(dropout_ctr(g0 + l, layer, step), key) (the test compares
 * them). words[4 l + j]: word j of lane l, i.e. element order. */
#define PHILOX_LANES 16

#if defined(__AVX512F__)
#include <immintrin.h>

/* hi and lo 32 bits of the 32x32 -> 64 products c * m in every lane: vpmuludq on the even lanes
 * and on the odd lanes shifted down, recombined by two blends (GCC's generic lane loop used
 * vpmullq, a 64-bit multiply three times as costly, on zero-extended halves). */
static inline void mul_hilo(__m512i c, __m512i m, __m512i *hi, __m512i *lo) {
    const __m512i even = _mm512_mul_epu32(c, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

static void philox_lanes(uint32_t words[4 * PHILOX_LANES], uint32_t g0, uint32_t layer, uint64_t step,
                         philox4x32_key k) {
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)g0),
                                  _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i c1 = _mm512_set1_epi32((int)layer), c2 = _mm512_set1_epi32((int)(uint32_t)step),
            c3 = _mm512_set1_epi32((int)(uint32_t)(step >> 32));
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u), m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k.v[0] += 0x9E3779B9u;
            k.v[1] += 0xBB67AE85u;
        }
        __m512i hi0, lo0, hi1, lo1;
        mul_hilo(c0, m0, &hi0, &lo0);
        mul_hilo(c2, m1, &hi1, &lo1);
        const __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k.v[0]));
        const __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k.v[1]));
        c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
    }
    /* element order: words[4 l + j] = word j of lane l, a 4 x 16 transpose in registers */
    const __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
    const __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
    const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2); /* lanes 0,4,8,12 | 1,5,9,13 */
    const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3); /* lanes 2,6,10,14 | 3,7,11,15 */
    const __m512i v0 = _mm512_shuffle_i32x4(u0, u1, 0x44), v1 = _mm512_shuffle_i32x4(u2, u3, 0x44);
    const __m512i v2 = _mm512_shuffle_i32x4(u0, u1, 0xEE), v3 = _mm512_shuffle_i32x4(u2, u3, 0xEE);
    _mm512_storeu_si512((void *)(words + 0), _mm512_shuffle_i32x4(v0, v1, 0x88));  /* lanes 0-3 */
    _mm512_storeu_si512((void *)(words + 16), _mm512_shuffle_i32x4(v0, v1, 0xDD)); /* lanes 4-7 */
    _mm512_storeu_si512((void *)(words + 32), _mm512_shuffle_i32x4(v2, v3, 0x88)); /* lanes 8-11 */
    _mm512_storeu_si512((void *)(words + 48), _mm512_shuffle_i32x4(v2, v3, 0xDD)); /* lanes 12-15 */
}

#else /* written as lane loops so the compiler vectorises the 32x32->64 multiplies */

static void philox_lanes(uint32_t words[4 * PHILOX_LANES], uint32_t g0, uint32_t layer, uint64_t step,
                         philox4x32_key k) {
    uint32_t c0[PHILOX_LANES], c1[PHILOX_LANES], c2[PHILOX_LANES], c3[PHILOX_LANES];
    for (int l = 0; l < PHILOX_LANES; l++) {
        c0[l] = g0 + (uint32_t)l;
        c1[l] = layer;
        c2[l] = (uint32_t)step;
        c3[l] = (uint32_t)(step >> 32);
    }
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k.v[0] += 0x9E3779B9u;
            k.v[1] += 0xBB67AE85u;
        }
#pragma omp simd
        for (int l = 0; l < PHILOX_LANES; l++) {
            const uint64_t p0 = (uint64_t)0xD2511F53u * c0[l], p1 = (uint64_t)0xCD9E8D57u * c2[l];
            const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k.v[0], n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k.v[1];
            c0[l] = n0;
            c1[l] = (uint32_t)p1;
            c2[l] = n2;
            c3[l] = (uint32_t)p0;
        }
    }
    for (int l = 0; l < PHILOX_LANES; l++) {
        words[4 * l + 0] = c0[l];
        words[4 * l + 1] = c1[l];
        words[4 * l + 2] = c2[l];
        words[4 * l + 3] = c3[l];
    }
}

#endif

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
    const philox4x32_key key = dropout_key(seed);
    /* one block = PHILOX_LANES counters = 4 * PHILOX_LANES elements */
    const int64_t blocks = (int64_t)((n + 4 * PHILOX_LANES - 1) / (4 * PHILOX_LANES));
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < blocks; blk++) {
        uint32_t words[4 * PHILOX_LANES]; /* element e0 + i takes word i % 4 of lane i / 4 */
        philox_lanes(words, (uint32_t)(blk * PHILOX_LANES), layer, step, key);
        const size_t e0 = (size_t)blk * 4 * PHILOX_LANES;
        if (n - e0 >= 4 * PHILOX_LANES) {
#pragma omp simd
            for (int i = 0; i < 4 * PHILOX_LANES; i++) {
                const int keep = dropout_keep(words[i], rate);
                mask[e0 + i] = (uint8_t)keep;
                out[e0 + i] = dropout_apply(in[e0 + i], keep, scale);
            }
        } else {
            for (int i = 0; i < (int)(n - e0); i++) {
                const int keep = dropout_keep(words[i], rate);
                mask[e0 + i] = (uint8_t)keep;
                out[e0 + i] = dropout_apply(in[e0 + i], keep, scale);
            }
        }
    }
}

void dropout_forward_span(float *out, uint8_t *mask, const float *in, size_t e0, size_t e1, float rate,
                          uint64_t seed, uint64_t step, uint32_t layer) {
    SER_ASSERT(rate > 0.0f && rate < 1.0f && e0 % (4 * PHILOX_LANES) == 0 && e1 >= e0);
    SER_ASSERT(e1 / 4 <= UINT32_MAX);
    const float scale = dropout_scale(rate);
    const philox4x32_key key = dropout_key(seed);
    for (size_t b0 = e0; b0 < e1; b0 += 4 * PHILOX_LANES) {
        uint32_t words[4 * PHILOX_LANES];
        philox_lanes(words, (uint32_t)(b0 / 4), layer, step, key);
        const int m = e1 - b0 < 4 * PHILOX_LANES ? (int)(e1 - b0) : 4 * PHILOX_LANES;
#pragma omp simd
        for (int i = 0; i < m; i++) {
            const int keep = dropout_keep(words[i], rate);
            mask[b0 + i] = (uint8_t)keep;
            out[b0 + i] = dropout_apply(in[b0 + i], keep, scale);
        }
    }
}

void dropout_backward(float *din, const float *dout, const uint8_t *mask, size_t n, float rate) {
    SER_ASSERT(rate >= 0.0f && rate < 1.0f);
    const float scale = dropout_scale(rate);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = dropout_apply(dout[i], mask[i], scale);
}
