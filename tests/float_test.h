/* Helpers the layer tests share: a seeded LCG for test data and the relative error they judge by. */
#ifndef SER_TEST_FLOAT_TEST_H
#define SER_TEST_FLOAT_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Uniform in [-1, 1) from *state (a 64-bit LCG: the same sequence on every platform). */
static inline float test_frand(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*state >> 40) * 0x1p-24 * 2.0 - 1.0);
}

/* max |a - b| / max |b| (infinite when a holds a NaN). */
static inline double test_rel_err(const float *a, const float *b, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (d > num || d != d) num = d != d ? INFINITY : d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / (den > 0.0 ? den : 1.0);
}

#endif
