/* Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11), the
 * generator of Random123's philox4x32_10 and curand's Philox4_32_10: 10 rounds, multipliers
 * 0xD2511F53 / 0xCD9E8D57, Weyl key increments 0x9E3779B9 / 0xBB67AE85. Pure function of
 * (counter, key): no state, so any element of any mask is computed independently, on the CPU
 * or in a CUDA kernel, with the same bits.
 *
 * ser's dropout stream (the contract the CUDA kernel must reproduce bit for bit):
 *   key     = { (uint32)seed, (uint32)(seed >> 32) }
 *   counter = { (uint32)(e / 4), layer, (uint32)step, (uint32)(step >> 32) }
 *   word    = philox4x32_10(counter, key)[e % 4]           e: flat element index, e / 4 < 2^32
 *   uniform = (float)(word >> 8) * 0x1p-24f                in [0, 1), exact in float32
 *   kept    = uniform >= rate                              (TF's keep rule: random >= rate)
 * so one Philox call serves four consecutive elements. */
#ifndef SER_PHILOX_H
#define SER_PHILOX_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

#include "ser/hd.h"

typedef struct {
    uint32_t v[4];
} philox4x32_ctr;

typedef struct {
    uint32_t v[2];
} philox4x32_key;

/* The 10-round block function: Random123 philox4x32_10(ctr, key). */
static inline SER_HD philox4x32_ctr philox4x32_10(philox4x32_ctr c, philox4x32_key k) {
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k.v[0] += 0x9E3779B9u;
            k.v[1] += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * c.v[0];
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c.v[2];
        philox4x32_ctr o;
        o.v[0] = (uint32_t)(p1 >> 32) ^ c.v[1] ^ k.v[0];
        o.v[1] = (uint32_t)p1;
        o.v[2] = (uint32_t)(p0 >> 32) ^ c.v[3] ^ k.v[1];
        o.v[3] = (uint32_t)p0;
        c = o;
    }
    return c;
}

/* The top 24 bits of a word as a float in [0, 1); every value is exact in float32. */
static inline SER_HD float philox_uniform24(uint32_t w) { return (float)(w >> 8) * 0x1p-24f; }

/* Fill u[0..n) with the dropout stream's uniforms for elements first .. first+n-1 (see above). */
void philox_uniform_fill(float *u, uint64_t first, uint64_t n, uint64_t seed, uint64_t step, uint32_t layer);

#ifdef __cplusplus
}
#endif

#endif
