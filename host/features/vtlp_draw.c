/* VTLP's draws (contract in ser/vtlp_draw.h): Philox words keyed by (seed, epoch, clip). */
#include "ser/vtlp_draw.h"

#include "ser/philox.h"

double ser_vtlp_alpha(double a, uint64_t seed, int epoch, uint32_t clip) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, 0x7f1u, 0}};
    const double u = ((double)philox4x32_10(c, k).v[0] + 0.5) * 0x1p-32;
    return 1.0 + a * (2.0 * u - 1.0);
}

uint32_t ser_vtlp_group(int groups, uint64_t seed, int epoch, uint32_t clip) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, 0x7f2u, 0}};
    return (uint32_t)(((uint64_t)philox4x32_10(c, k).v[0] * (uint64_t)groups) >> 32);
}
