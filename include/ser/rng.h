/* splitmix64: a small seeded generator for initialisers and synthetic data (not for dropout,
 * which uses Philox keyed by position, ser/philox.h). Deterministic, platform-independent. */
#ifndef SER_RNG_H
#define SER_RNG_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

typedef struct ser_rng {
    uint64_t s;
} ser_rng;

static inline uint64_t ser_rng_next(ser_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 bits */
static inline double ser_rng_uniform(ser_rng *r) { return (double)(ser_rng_next(r) >> 11) * 0x1p-53; }

#ifdef __cplusplus
}
#endif

#endif
