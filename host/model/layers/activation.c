/* ReLU. The backward pass reads the forward OUTPUT (out > 0 <=> in > 0), so the forward may run
 * in place and the input need not be kept. The gradient at 0 is 0, as TF's ReluGrad. */
#include "layers/layers.h"

void relu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward(float *din, const float *dout, const float *out, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}
