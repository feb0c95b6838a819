/* BatchNormalization over the last axis: in is N rows of C channels (N = B*H*W for NHWC).
 *
 * Per-channel sums run in double. The rows are split into BN_GROUPS fixed groups (threads take
 * whole groups, static schedule), each group sums its rows in order, and the groups are added in
 * order: the statistics do not depend on the thread count, and every pass streams whole rows.
 * Training statistics take one pass: sums of d and d^2 with d = x - x[row 0] (a per-channel shift
 * that keeps E[d^2] - E[d]^2 free of cancellation), then var = E[d^2] - E[d]^2 in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "ser/error.h"

#define BN_GROUPS 16
#define BN_MAX_C 1024 /* the per-group partials live on the stack: BN_GROUPS * 2 * C doubles (256 KB) */

/* Training-mode moving variance: TF's fused batch norm (Keras 2) fed the moving average the
 * Bessel-corrected batch variance (N / (N - 1)); Keras 3's BatchNormalization feeds the biased
 * one. We match Keras 3, the framework tests/test_model_keras.c checks against (with the
 * correction bn4's moving variance was 1.2e-5 off, without it 8e-8). */
static const int bn_moving_var_bessel = 0;

/* Row range of group gi of G over N rows. */
static size_t bn_group_lo(int N, int G, int gi) { return (size_t)((long long)N * gi / G); }

void batchnorm_batch_stats(double *batch_mean, double *batch_var, const float *in, int N, int C) {
    SER_ASSERT(N >= 1 && C >= 1 && C <= BN_MAX_C);
    const int G = N < BN_GROUPS ? N : BN_GROUPS;
    double part[G][2][C]; /* per group: sum d, sum d^2 */
    const float *shift = in; /* row 0 */
#pragma omp parallel for schedule(static)
    for (int gi = 0; gi < G; gi++) {
        double *s = part[gi][0], *q = part[gi][1];
        for (int c = 0; c < C; c++) s[c] = q[c] = 0.0;
        for (size_t r = bn_group_lo(N, G, gi); r < bn_group_lo(N, G, gi + 1); r++) {
            const float *x = in + r * C;
#pragma omp simd
            for (int c = 0; c < C; c++) {
                double d = (double)x[c] - (double)shift[c];
                s[c] += d;
                q[c] += d * d;
            }
        }
    }
    for (int c = 0; c < C; c++) {
        double s = 0.0, q = 0.0;
        for (int gi = 0; gi < G; gi++) s += part[gi][0][c], q += part[gi][1][c];
        const double md = s / N;
        batch_mean[c] = md + shift[c];
        batch_var[c] = q / N - md * md;
    }
}

void batchnorm_stats_train(float *scale, float *shift_out, float *mean, float *rstd, float *moving_mean,
                           float *moving_var, const float *in, const float *gamma, const float *beta, int N, int C,
                           float momentum, float eps) {
    SER_ASSERT(N >= 1 && C >= 1 && C <= BN_MAX_C);
    double bmean[C], bvar[C];
    batchnorm_batch_stats(bmean, bvar, in, N, C);
    batchnorm_stats_finish(scale, shift_out, mean, rstd, moving_mean, moving_var, bmean, bvar, gamma, beta, N, C,
                           momentum, eps);
}

void batchnorm_stats_finish(float *scale, float *shift_out, float *mean, float *rstd, float *moving_mean,
                            float *moving_var, const double *batch_mean, const double *batch_var, const float *gamma,
                            const float *beta, int N, int C, float momentum, float eps) {
    const double one_m = keras_one_minus(momentum);
    for (int c = 0; c < C; c++) {
        const double m = batch_mean[c];
        const double var = batch_var[c] > 0.0 ? batch_var[c] : 0.0; /* rounding can take a zero variance below 0 */
        const double rs = 1.0 / sqrt(var + (double)eps);
        mean[c] = (float)m;
        rstd[c] = (float)rs;
        const double var_ma = (bn_moving_var_bessel && N > 1) ? var * N / (N - 1) : var;
        moving_mean[c] = (float)(moving_mean[c] * (double)momentum + m * one_m);
        moving_var[c] = (float)(moving_var[c] * (double)momentum + var_ma * one_m);
        /* out = (x - mean) * rstd * gamma + beta = x * sc + sh, as tf.nn.batch_normalization */
        scale[c] = (float)(rs * gamma[c]);
        shift_out[c] = (float)(beta[c] - m * rs * gamma[c]);
    }
}

void batchnorm_forward_train(float *out, float *mean, float *rstd, float *moving_mean, float *moving_var,
                             const float *in, const float *gamma, const float *beta, int N, int C,
                             float momentum, float eps) {
    SER_ASSERT(N >= 1 && C >= 1 && C <= BN_MAX_C);
    float sc[C], sh[C];
    batchnorm_stats_train(sc, sh, mean, rstd, moving_mean, moving_var, in, gamma, beta, N, C, momentum, eps);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
#pragma omp simd
        for (int c = 0; c < C; c++) y[c] = x[c] * sc[c] + sh[c];
    }
}

void batchnorm_affine_infer(float *scale, float *shift, const float *gamma, const float *beta,
                            const float *moving_mean, const float *moving_var, int C, float eps) {
    /* Same affine form as tf.nn.batch_normalization: x * inv + (beta - mean * inv). */
    for (int c = 0; c < C; c++) {
        double inv = gamma[c] / sqrt((double)moving_var[c] + (double)eps);
        scale[c] = (float)inv;
        shift[c] = (float)(beta[c] - moving_mean[c] * inv);
    }
}

void batchnorm_accumulate(double *sum, double *sq, const float *in, const float *shift, int N, int C) {
    SER_ASSERT(N >= 1 && C >= 1 && C <= BN_MAX_C);
    for (size_t r = 0; r < (size_t)N; r++) {
        const float *x = in + r * C;
#pragma omp simd
        for (int c = 0; c < C; c++) {
            const double d = (double)x[c] - (double)shift[c];
            sum[c] += d;
            sq[c] += d * d;
        }
    }
}

void batchnorm_forward_infer(float *out, const float *in, const float *gamma, const float *beta,
                             const float *moving_mean, const float *moving_var, int N, int C, float eps) {
    SER_ASSERT(N >= 1 && C >= 1 && C <= BN_MAX_C);
    float sc[C], sh[C];
    batchnorm_affine_infer(sc, sh, gamma, beta, moving_mean, moving_var, C, eps);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
#pragma omp simd
        for (int c = 0; c < C; c++) y[c] = x[c] * sc[c] + sh[c];
    }
}

/* With xhat = (x - mean) rstd: dbeta = sum dout, dgamma = sum dout xhat,
 * din = gamma rstd / N * (N dout - dbeta - xhat dgamma)   (training-mode statistics). */
void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *mean, const float *rstd, const float *gamma, int N, int C) {
    SER_ASSERT(N >= 1 && C >= 1 && C <= BN_MAX_C);
    const int G = N < BN_GROUPS ? N : BN_GROUPS;
    double part[G][2][C]; /* per group: sum dout, sum dout (x - mean) */
#pragma omp parallel for schedule(static)
    for (int gi = 0; gi < G; gi++) {
        double *sd = part[gi][0], *sdx = part[gi][1];
        for (int c = 0; c < C; c++) sd[c] = sdx[c] = 0.0;
        for (size_t r = bn_group_lo(N, G, gi); r < bn_group_lo(N, G, gi + 1); r++) {
            const float *x = in + r * C, *g = dout + r * C;
#pragma omp simd
            for (int c = 0; c < C; c++) {
                sd[c] += g[c];
                sdx[c] += (double)g[c] * ((double)x[c] - (double)mean[c]);
            }
        }
    }
    float k[C], a[C], bb[C];
    for (int c = 0; c < C; c++) {
        double sd = 0.0, sdx = 0.0;
        for (int gi = 0; gi < G; gi++) sd += part[gi][0][c], sdx += part[gi][1][c];
        sdx *= rstd[c]; /* sum dout * xhat */
        dbeta[c] += (float)sd;
        dgamma[c] += (float)sdx;
        /* din = k (dout - a - (x - mean) bb) with k = gamma rstd, a = dbeta / N, bb = rstd dgamma / N */
        k[c] = gamma[c] * rstd[c];
        a[c] = (float)(sd / N);
        bb[c] = (float)(sdx / N * rstd[c]);
    }
    if (!din) return;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *x = in + (size_t)r * C, *g = dout + (size_t)r * C;
        float *dx = din + (size_t)r * C;
#pragma omp simd
        for (int c = 0; c < C; c++) dx[c] = k[c] * (g[c] - a[c] - (x[c] - mean[c]) * bb[c]);
    }
}
