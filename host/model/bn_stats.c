/* The batch-norm statistics pass of the CPU backend (precise BN and AdaBN; contract in
 * ser/model.h and ser/backend.h): batches run through the conv blocks with every block
 * normalised by its own batch statistics, as a training forward does, but with no dropout, no
 * moving-average update, and nothing past the last block's batch-norm input (the rest of the
 * network does not change a statistic). Each block's batch mean and biased variance join a
 * pooled mean and variance over every row seen (Chan, Golub and LeVeque's pairwise update, in
 * double), so the result is the exact mean and variance of the rows the pass saw, whatever the
 * batching of the last block, and close to ser_model_bn_adapt's block-by-block statistics for the
 * blocks before it (they see the batch's normalisation, not the set's). One pass, at the cost of
 * an inference forward of the conv blocks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "ser/model.h"

static float *param(ser_model *m, const char *fmt, int i) {
    char name[40];
    snprintf(name, sizeof name, fmt, i + 1);
    const ser_slice *s = ser_model_slice(m, name);
    SER_ASSERT(s != NULL);
    return m->params + s->offset;
}

int ser_model_bn_stats_begin(ser_model *m, ser_error *err) {
    if (!m->arena || m->acts.B < 1) return ser_fail(err, "batch-norm statistics: the model has no activation arena (reserve first)");
    free(m->bn_stats);
    m->bn_stats = ser_calloc(2 * (size_t)m->blocks * m->F, sizeof *m->bn_stats, "batch-norm statistics sums", err);
    memset(m->bn_stats_rows, 0, sizeof m->bn_stats_rows);
    return m->bn_stats ? 0 : -1;
}

/* Joins a batch of n rows (its mean bm and biased variance bv, F each) to the pooled mean and
 * sum of squared deviations m2 over *rows rows. */
static void stats_join(double *mean, double *m2, double *rows, const double *bm, const double *bv, double n, int F) {
    const double n0 = *rows, nt = n0 + n;
    for (int c = 0; c < F; c++) {
        const double d = bm[c] - mean[c];
        mean[c] += d * (n / nt);
        m2[c] += (bv[c] > 0.0 ? bv[c] : 0.0) * n + d * d * (n0 * n / nt);
    }
    *rows = nt;
}

void ser_model_bn_stats_add(ser_model *m, const float *x, int B) {
    SER_ASSERT(m->bn_stats && m->arena && B >= 1 && B <= m->acts.B);
    ser_acts *a = &m->acts;
    const int F = m->F, last = m->blocks - 1;
    const float eps = (float)m->cfg.bn_epsilon;
    const float *in = x;
    for (int i = 0; i <= last; i++) {
        const ser_block_shape *b = &m->blk[i];
        const int N = B * b->H * b->W;
        const float *kernel = param(m, "conv%d.kernel", i), *bias = param(m, "conv%d.bias", i);
        const int fused = ser_model_block_fused(m, i);
        double bm[F], bv[F];
        if (fused) {
            conv_bn_batch_stats(bm, bv, a->moments, in, kernel, bias, B, b->H, b->W, b->Cin, F, m->K);
        } else {
            conv2d_forward(a->conv[i], a->col, in, kernel, bias, B, b->H, b->W, b->Cin, F, m->K);
            batchnorm_batch_stats(bm, bv, a->conv[i], N, F);
        }
        double *acc = m->bn_stats + (size_t)i * 2 * F;
        stats_join(acc, acc + F, &m->bn_stats_rows[i], bm, bv, (double)N, F);
        if (i == last) break; /* nothing after the last batch norm's input changes a statistic */
        /* the training forward's normalisation (batchnorm_stats_finish, momentum 1: the moving
         * statistics, a copy here, stay as they are) */
        float sc[F], sh[F], keep_mean[F], keep_var[F];
        memcpy(keep_mean, param(m, "bn%d.moving_mean", i), sizeof keep_mean);
        memcpy(keep_var, param(m, "bn%d.moving_variance", i), sizeof keep_var);
        batchnorm_stats_finish(sc, sh, a->bn_mean[i], a->bn_rstd[i], keep_mean, keep_var, bm, bv,
                               param(m, "bn%d.gamma", i), param(m, "bn%d.beta", i), N, F, 1.0f, eps);
        if (fused)
            conv_bn_relu_pool_forward(NULL, a->mask[i], a->pool[i], a->argmax[i], a->xsel[i], in, kernel, bias, sc, sh, B,
                                      b->H, b->W, b->Cin, F, m->K, m->P, 0.0f, m->seed, m->step, (uint32_t)i);
        else
            bn_relu_pool_forward(a->pool[i], a->argmax[i], a->xsel[i], a->conv[i], sc, sh, B, b->H, b->W, F, m->P);
        in = a->pool[i];
    }
    m->last_B = B, m->last_training = 0, m->last_x = x, m->last_loss = m->last_xent = 0.0f;
}

int ser_model_bn_stats_end(ser_model *m, ser_error *err) {
    if (!m->bn_stats) return ser_fail(err, "batch-norm statistics: end without begin");
    int rc = 0;
    if (m->bn_stats_rows[0] <= 0.0) {
        rc = ser_fail(err, "batch-norm statistics: no clips to take them from");
    } else {
        const int F = m->F;
        /* blocks that train.freeze keeps (i < bn_frozen) keep their moving statistics */
        for (int i = m->bn_frozen; i < m->blocks; i++) {
            const double *acc = m->bn_stats + (size_t)i * 2 * F, n = m->bn_stats_rows[i];
            float *mean = param(m, "bn%d.moving_mean", i), *var = param(m, "bn%d.moving_variance", i);
            for (int c = 0; c < F; c++) {
                mean[c] = (float)acc[c];
                var[c] = (float)(acc[F + c] / n);
            }
        }
    }
    free(m->bn_stats);
    m->bn_stats = NULL;
    return rc;
}
