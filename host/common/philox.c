/* The dropout stream of include/ser/philox.h, element by element. */
#include "ser/philox.h"

void philox_uniform_fill(float *u, uint64_t first, uint64_t n, uint64_t seed, uint64_t step, uint32_t layer) {
    philox4x32_key key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i;
        philox4x32_ctr c = {{(uint32_t)(e / 4), layer, (uint32_t)step, (uint32_t)(step >> 32)}};
        u[i] = philox_uniform24(philox4x32_10(c, key).v[e % 4]);
    }
}
