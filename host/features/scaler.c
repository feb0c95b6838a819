/* Global standardisation: two passes in double so that 2000 clips x 5200 values do not lose
 * precision in a float accumulator. */
#include "ser/scaler.h"

#include <math.h>

ser_scaler ser_scaler_fit(const float *x, size_t n) {
    ser_scaler s = {0.0, 1.0};
    if (n == 0) return s;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    s.mean = sum / (double)n;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = x[i] - s.mean;
        ss += d * d;
    }
    s.std = sqrt(ss / (double)n);
    if (!(s.std > 0)) s.std = 1.0; /* constant features: leave them centred */
    return s;
}

void ser_scaler_apply(const ser_scaler *s, float *x, size_t n) {
    const float m = (float)s->mean, inv = (float)(1.0 / s->std);
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - m) * inv;
}
