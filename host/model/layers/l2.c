/* L2 kernel regulariser (keras.regularizers.l2): loss l2 * sum(w^2), gradient 2 l2 w. The sum is
 * accumulated in double in a fixed order, so it does not depend on the thread count. */
#include "layers/layers.h"

float l2_forward(const float *w, size_t n, float l2) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)w[i] * w[i];
    return (float)((double)l2 * s);
}

void l2_backward(float *dw, const float *w, size_t n, float l2) {
    const float k = 2.0f * l2;
    for (size_t i = 0; i < n; i++) dw[i] += k * w[i];
}
