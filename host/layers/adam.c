/* Adam as Keras applies it: epsilon outside the sqrt and the bias correction folded into the
 * step size, alpha = lr sqrt(1 - b2^t) / (1 - b1^t) (computed in double, t >= 1 counts updates):
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= alpha m / (sqrt(v) + eps),
 * evaluated in float32 in Keras 3's order (keras/src/optimizers/adam.py): m += (g - m)(1 - b1),
 * v += (g^2 - v)(1 - b2), p -= (m alpha) / (sqrt(v) + eps). Elementwise: threads change nothing. */
#include <math.h>

#include "layers/layers.h"
#include "ser/error.h"

void adam_update(float *params, float *m, float *v, const float *grads, size_t n, float lr,
                 float beta1, float beta2, float eps, int t) {
    SER_ASSERT(t >= 1);
    const float alpha = (float)((double)lr * sqrt(1.0 - pow((double)beta2, t)) / (1.0 - pow((double)beta1, t)));
    const float one_b1 = 1.0f - beta1, one_b2 = 1.0f - beta2;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        float mi = m[i] + (g - m[i]) * one_b1;
        float vi = v[i] + (g * g - v[i]) * one_b2;
        m[i] = mi;
        v[i] = vi;
        params[i] -= (mi * alpha) / (sqrtf(vi) + eps);
    }
}
