/* Adam as Keras applies it: epsilon outside the sqrt and the bias correction folded into the
 * step size, alpha = lr sqrt(1 - b2^t) / (1 - b1^t) (t >= 1 counts updates), in float32 as Keras 3
 * computes it (1 - 0.999^t in float carries ~1e-4 relative error at small t; matching it keeps
 * the 1e-4 parity):
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= alpha m / (sqrt(v) + eps),
 * evaluated in float32 in Keras 3's order (keras/src/optimizers/adam.py): m += (g - m)(1 - b1),
 * v += (g^2 - v)(1 - b2), p -= (m alpha) / (sqrt(v) + eps). Elementwise: threads change nothing.
 * The element update and alpha are layers/adam_elem.h's, shared with kernels/adam.cu. */
#include "layers/adam_elem.h"
#include "layers/layers.h"
#include "ser/error.h"

void adam_update(float *params, float *m, float *v, const float *grads, size_t n, float lr,
                 float beta1, float beta2, float eps, int t) {
    SER_ASSERT(t >= 1);
    const float alpha = adam_alpha(lr, beta1, beta2, t);
    const float one_b1 = keras_one_minus(beta1), one_b2 = keras_one_minus(beta2);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) adam_elem(&params[i], &m[i], &v[i], grads[i], alpha, one_b1, one_b2, eps);
}
