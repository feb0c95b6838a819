/* BatchNormalization over the last axis: in is N rows of C channels (N = B*H*W for NHWC).
 *
 * Per-channel sums run in double, each channel summed sequentially in row order, and the work is
 * split across threads by channel tiles of 16 floats (one cache line of a row): the result does
 * not depend on the thread count, and each thread reads only its own cache lines of every row.
 * The variance is two-pass (mean first), as TF's moments. */
#include <math.h>
#include <string.h>

#include "layers/layers.h"
#include "ser/error.h"

#define BN_TILE 16

/* Training-mode moving variance: TF's fused batch norm (Keras 2) feeds the moving average the
 * Bessel-corrected batch variance (N / (N - 1)); Keras 3's non-fused layer feeds the biased one.
 * We follow the contract in layers.h (fused). */
static const int bn_moving_var_bessel = 1;

void batchnorm_forward_train(float *out, float *mean, float *rstd, float *moving_mean, float *moving_var,
                             const float *in, const float *gamma, const float *beta, int N, int C,
                             float momentum, float eps) {
    SER_ASSERT(N >= 1 && C >= 1);
    const int ntiles = (C + BN_TILE - 1) / BN_TILE;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < ntiles; t++) {
        const int c0 = t * BN_TILE, nc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
        double s[BN_TILE] = {0}, q[BN_TILE] = {0}, m[BN_TILE];
        for (size_t r = 0; r < (size_t)N; r++) {
            const float *x = in + r * C + c0;
            for (int j = 0; j < nc; j++) s[j] += x[j];
        }
        for (int j = 0; j < nc; j++) m[j] = s[j] / N;
        for (size_t r = 0; r < (size_t)N; r++) {
            const float *x = in + r * C + c0;
            for (int j = 0; j < nc; j++) {
                double d = x[j] - m[j];
                q[j] += d * d;
            }
        }
        float sc[BN_TILE], sh[BN_TILE];
        for (int j = 0; j < nc; j++) {
            const int c = c0 + j;
            double var = q[j] / N;
            double rs = 1.0 / sqrt(var + (double)eps);
            mean[c] = (float)m[j];
            rstd[c] = (float)rs;
            double var_ma = (bn_moving_var_bessel && N > 1) ? var * N / (N - 1) : var;
            moving_mean[c] = (float)(moving_mean[c] * (double)momentum + m[j] * (1.0 - (double)momentum));
            moving_var[c] = (float)(moving_var[c] * (double)momentum + var_ma * (1.0 - (double)momentum));
            /* out = (x - mean) * rstd * gamma + beta = x * sc + sh */
            sc[j] = (float)(rs * gamma[c]);
            sh[j] = (float)(beta[c] - m[j] * rs * gamma[c]);
        }
        for (size_t r = 0; r < (size_t)N; r++) {
            const float *x = in + r * C + c0;
            float *y = out + r * C + c0;
            for (int j = 0; j < nc; j++) y[j] = x[j] * sc[j] + sh[j];
        }
    }
}

void batchnorm_forward_infer(float *out, const float *in, const float *gamma, const float *beta,
                             const float *moving_mean, const float *moving_var, int N, int C, float eps) {
    /* Same affine form as tf.nn.batch_normalization: x * inv + (beta - mean * inv). */
    float sc[C], sh[C];
    for (int c = 0; c < C; c++) {
        double inv = gamma[c] / sqrt((double)moving_var[c] + (double)eps);
        sc[c] = (float)inv;
        sh[c] = (float)(beta[c] - moving_mean[c] * inv);
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
        for (int c = 0; c < C; c++) y[c] = x[c] * sc[c] + sh[c];
    }
}

/* With xhat = (x - mean) rstd: dbeta = sum dout, dgamma = sum dout xhat,
 * din = gamma rstd / N * (N dout - dbeta - xhat dgamma)   (training-mode statistics). */
void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *mean, const float *rstd, const float *gamma, int N, int C) {
    const int ntiles = (C + BN_TILE - 1) / BN_TILE;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < ntiles; t++) {
        const int c0 = t * BN_TILE, nc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
        double sd[BN_TILE] = {0}, sdx[BN_TILE] = {0};
        float mu[BN_TILE], rs[BN_TILE];
        for (int j = 0; j < nc; j++) {
            mu[j] = mean[c0 + j];
            rs[j] = rstd[c0 + j];
        }
        for (size_t r = 0; r < (size_t)N; r++) {
            const float *x = in + r * C + c0, *g = dout + r * C + c0;
            for (int j = 0; j < nc; j++) {
                sd[j] += g[j];
                sdx[j] += (double)g[j] * ((x[j] - mu[j]) * rs[j]);
            }
        }
        float k[BN_TILE], a[BN_TILE], bb[BN_TILE];
        for (int j = 0; j < nc; j++) {
            const int c = c0 + j;
            dbeta[c] += (float)sd[j];
            dgamma[c] += (float)sdx[j];
            /* din = k * (dout - a - xhat * bb) with k = gamma rstd, a = dbeta / N, bb = dgamma / N */
            k[j] = gamma[c] * rs[j];
            a[j] = (float)(sd[j] / N);
            bb[j] = (float)(sdx[j] / N);
        }
        if (!din) continue;
        for (size_t r = 0; r < (size_t)N; r++) {
            const float *x = in + r * C + c0, *g = dout + r * C + c0;
            float *dx = din + r * C + c0;
            for (int j = 0; j < nc; j++) dx[j] = k[j] * (g[j] - a[j] - (x[j] - mu[j]) * rs[j] * bb[j]);
        }
    }
}
