/* Global standardisation: two passes in double so that 2000 clips x 5200 values do not lose
 * precision in a float accumulator. */
#include "ser/scaler.h"

#include <math.h>

double ser_scaler_sum(const float *x, size_t n, double acc) {
    for (size_t i = 0; i < n; i++) acc += x[i];
    return acc;
}

double ser_scaler_sum_sq(const float *x, size_t n, double mean, double acc) {
    for (size_t i = 0; i < n; i++) {
        const double d = x[i] - mean;
        acc += d * d;
    }
    return acc;
}

ser_scaler ser_scaler_from_sums(double sum, double ss, size_t n) {
    ser_scaler s = {0.0, 1.0};
    if (n == 0) return s;
    s.mean = sum / (double)n;
    s.std = sqrt(ss / (double)n);
    if (!(s.std > 0)) s.std = 1.0; /* constant features: leave them centred */
    return s;
}

ser_scaler ser_scaler_fit(const float *x, size_t n) {
    if (n == 0) return ser_scaler_from_sums(0.0, 0.0, 0);
    const double sum = ser_scaler_sum(x, n, 0.0);
    return ser_scaler_from_sums(sum, ser_scaler_sum_sq(x, n, sum / (double)n, 0.0), n);
}

void ser_scaler_apply(const ser_scaler *s, float *x, size_t n) {
    const float m = (float)s->mean, inv = (float)(1.0 / s->std);
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - m) * inv;
}
