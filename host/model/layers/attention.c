/* Additive attention over time, the reference's custom Keras layer:
 *   u = tanh(x W + b)      (B, T, A)
 *   s = u U               (B, T)
 *   a = softmax_t(s)      (B, T)
 *   out = sum_t a_t x_t   (B, D)
 * W (D, A), b (A), U (A, 1). The sizes are tiny (T = 3, D = A = 32), so plain loops with
 * double accumulators: no BLAS call, no scratch buffer, deterministic. */
#include <math.h>
#include <string.h>

#include "layers/layers.h"
#include "ser/error.h"

/* Largest A the backward's per-row buffer holds (A = lstm_units; config caps it at 4096). */
#define ATTENTION_MAX_A 4096

void attention_forward(float *out, float *u, float *a, const float *x, const float *W, const float *b,
                       const float *U, int B, int T, int D, int A) {
    for (int bi = 0; bi < B; bi++) {
        float *ab = a + (size_t)bi * T;
        double smax = -INFINITY;
        for (int t = 0; t < T; t++) {
            const float *xt = x + ((size_t)bi * T + t) * D;
            float *ut = u + ((size_t)bi * T + t) * A;
            double s = 0.0;
            for (int k = 0; k < A; k++) {
                double z = b[k];
                for (int d = 0; d < D; d++) z += (double)xt[d] * W[(size_t)d * A + k];
                ut[k] = tanhf((float)z);
                s += (double)ut[k] * U[k];
            }
            ab[t] = (float)s; /* the score, softmaxed below */
            if (s > smax) smax = s;
        }
        double sum = 0.0;
        for (int t = 0; t < T; t++) sum += exp((double)ab[t] - smax);
        for (int t = 0; t < T; t++) ab[t] = (float)(exp((double)ab[t] - smax) / sum);
        float *ob = out + (size_t)bi * D;
        for (int d = 0; d < D; d++) {
            double o = 0.0;
            for (int t = 0; t < T; t++) o += (double)ab[t] * x[((size_t)bi * T + t) * D + d];
            ob[d] = (float)o;
        }
    }
}

void attention_backward(float *dx, float *dW, float *db, float *dU, const float *dout, const float *x,
                        const float *u, const float *a, const float *W, const float *U, int B, int T, int D,
                        int A) {
    SER_ASSERT(A <= ATTENTION_MAX_A);
    float dpre[ATTENTION_MAX_A];
    for (int bi = 0; bi < B; bi++) {
        const float *ab = a + (size_t)bi * T, *go = dout + (size_t)bi * D;
        /* da_t = <dout, x_t>; ds_t = a_t (da_t - sum_t' a_t' da_t') (softmax backward) */
        double da[T > 0 ? T : 1], mean = 0.0;
        for (int t = 0; t < T; t++) {
            const float *xt = x + ((size_t)bi * T + t) * D;
            double s = 0.0;
            for (int d = 0; d < D; d++) s += (double)go[d] * xt[d];
            da[t] = s;
            mean += ab[t] * s;
        }
        for (int t = 0; t < T; t++) {
            const size_t row = (size_t)bi * T + t;
            const float *xt = x + row * D, *ut = u + row * A;
            float *dxt = dx + row * D;
            const double ds = ab[t] * (da[t] - mean);
            for (int k = 0; k < A; k++) {
                dU[k] += (float)(ds * ut[k]);
                dpre[k] = (float)(ds * U[k] * (1.0 - (double)ut[k] * ut[k]));
                db[k] += dpre[k];
            }
            for (int d = 0; d < D; d++) {
                double s = (double)ab[t] * go[d]; /* the direct path out = sum_t a_t x_t */
                const float *wd = W + (size_t)d * A;
                float *dwd = dW + (size_t)d * A;
                for (int k = 0; k < A; k++) {
                    s += (double)dpre[k] * wd[k];
                    dwd[k] += xt[d] * dpre[k];
                }
                dxt[d] = (float)s;
            }
        }
    }
}
