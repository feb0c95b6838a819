/* Statistics pooling over time (model.stats_pool), beside the attention:
 *   mean[u] = (1/T) sum_t x_t[u]
 *   std[u]  = sqrt((1/T) sum_t (x_t[u] - mean[u])^2 + eps)      (biased variance)
 *   out = [mean | std]  (B, 2U)
 * Backward (dvar/dx_t = 2 (x_t - mean) / T: the mean's own dependence sums to zero):
 *   dx_t[u] += dmean[u] / T + dstd[u] (x_t[u] - mean[u]) / (T std[u])
 * It adds to dx because LSTM1's outputs also feed the attention, whose backward writes dx first.
 * T is a handful of steps and U = lstm_units: plain loops with double accumulators, the same
 * order as the CUDA kernel (kernels/stats_pool.cu), deterministic. */
#include <math.h>
#include <string.h>

#include "layers/layers.h"

void stats_pool_forward(float *out, const float *x, int B, int T, int U, float eps) {
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * T * U;
        float *ob = out + (size_t)b * 2 * U;
        for (int u = 0; u < U; u++) {
            double s = 0.0;
            for (int t = 0; t < T; t++) s += xb[(size_t)t * U + u];
            const double mean = s / T;
            double q = 0.0;
            for (int t = 0; t < T; t++) {
                const double d = xb[(size_t)t * U + u] - mean;
                q += d * d;
            }
            ob[u] = (float)mean;
            ob[U + u] = (float)sqrt(q / T + (double)eps);
        }
    }
}

void stats_pool_backward(float *dx, const float *dout, const float *out, const float *x, int B, int T, int U) {
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * T * U, *gb = dout + (size_t)b * 2 * U, *ob = out + (size_t)b * 2 * U;
        float *dxb = dx + (size_t)b * T * U;
        for (int u = 0; u < U; u++) {
            const double dmean = (double)gb[u] / T, k = (double)gb[U + u] / ((double)T * ob[U + u]);
            for (int t = 0; t < T; t++) {
                const size_t i = (size_t)t * U + u;
                dxb[i] = (float)(dxb[i] + dmean + k * ((double)xb[i] - ob[u]));
            }
        }
    }
}

void concat_cols(float *out, const float *a, int na, const float *b, int nb, int B) {
    for (int r = 0; r < B; r++) {
        memcpy(out + (size_t)r * (na + nb), a + (size_t)r * na, (size_t)na * sizeof(float));
        memcpy(out + (size_t)r * (na + nb) + na, b + (size_t)r * nb, (size_t)nb * sizeof(float));
    }
}

void split_cols(float *a, int na, float *b, int nb, const float *in, int B) {
    for (int r = 0; r < B; r++) {
        memcpy(a + (size_t)r * na, in + (size_t)r * (na + nb), (size_t)na * sizeof(float));
        memcpy(b + (size_t)r * nb, in + (size_t)r * (na + nb) + na, (size_t)nb * sizeof(float));
    }
}
