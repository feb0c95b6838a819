/* AdaBN, exact: the BN moving statistics re-estimated on a target set block by block (contract in
 * ser/model.h). The reference the one-pass statistics of host/model/bn_stats.c (what precise BN
 * and AdaBN run on both backends) are tested against.
 *
 * Why: a network trained on one speaker normalises every conv block with that speaker's
 * statistics; another voice shifts them, and the shift compounds block by block. Taking the
 * statistics over the target clips (unlabelled, the same transductive information that
 * features.normalize = 2 uses) re-centres each block. Exact over the set, not a moving average:
 * one inference pass per block, each stopping at that block's BN input (ser_model_forward's
 * bn_acc hook): on the reference network ~2.8 inferences of the conv blocks (block 2's conv,
 * 72 % of the work, runs in three of the four passes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/model.h"

int ser_model_bn_adapt(ser_model *m, const float *x, size_t n, ser_error *err) {
    if (!m->arena || m->acts.B < 1) return ser_fail(err, "adapt-bn: the model has no activation arena (reserve first)");
    if (n == 0) return ser_fail(err, "adapt-bn: no clips to take the batch-norm statistics from");
    const int F = m->F, Bmax = m->acts.B;
    const size_t clip = (size_t)m->H * m->W;
    double *acc = ser_malloc(2 * (size_t)F * sizeof *acc, "adapt-bn sums", err);
    float *shift = ser_malloc((size_t)F * sizeof *shift, "adapt-bn shift", err);
    if (!acc || !shift) {
        free(acc), free(shift);
        return -1;
    }
    /* blocks that train.freeze keeps (i < bn_frozen) keep their statistics too */
    for (int i = m->bn_frozen; i < m->blocks; i++) {
        char nm[40], nv[40];
        snprintf(nm, sizeof nm, "bn%d.moving_mean", i + 1);
        snprintf(nv, sizeof nv, "bn%d.moving_variance", i + 1);
        const ser_slice *sm = ser_model_slice(m, nm), *sv = ser_model_slice(m, nv);
        SER_ASSERT(sm && sv);
        float *mean = m->params + sm->offset, *var = m->params + sv->offset;
        /* the old moving mean as shift: fixed for the whole pass, near the new mean */
        memcpy(shift, mean, (size_t)F * sizeof *shift);
        memset(acc, 0, 2 * (size_t)F * sizeof *acc);
        float *conv = NULL;
        if (ser_model_block_fused(m, i)) {
            const size_t cn = (size_t)Bmax * m->blk[i].H * m->blk[i].W * F;
            if (!(conv = ser_malloc(cn * sizeof *conv, "adapt-bn conv output", err))) {
                free(acc), free(shift);
                return -1;
            }
        }
        m->bn_acc = acc, m->bn_acc_shift = shift, m->bn_acc_block = i, m->bn_acc_rows = 0, m->bn_acc_conv = conv;
        for (size_t s = 0; s < n; s += (size_t)Bmax) {
            const int B = (int)(n - s < (size_t)Bmax ? n - s : (size_t)Bmax);
            ser_model_forward(m, x + s * clip, NULL, NULL, B, 0);
        }
        const double N = (double)m->bn_acc_rows;
        m->bn_acc = NULL, m->bn_acc_shift = NULL, m->bn_acc_conv = NULL;
        free(conv);
        for (int c = 0; c < F; c++) {
            const double md = acc[c] / N;
            double v = acc[F + c] / N - md * md;
            if (v < 0.0) v = 0.0;
            mean[c] = (float)(md + shift[c]);
            var[c] = (float)v;
        }
    }
    free(acc), free(shift);
    return 0;
}
