/* Fused layers (host/model/layers/bn_relu_pool.c) against the unfused composition they replace:
 * batchnorm_forward_{train,infer} -> relu_forward -> maxpool2d_forward, and
 * [dropout_backward ->] maxpool2d_backward -> relu_backward -> batchnorm_backward. Pooled outputs and argmax must be
 * identical (same float expressions), xsel must be in[argmax], gradients within 1e-6 relative.
 * Shapes cover odd H/W (clipped last window), C not a multiple of 16, P = 2 and 3, and inputs
 * shifted negative so ReLU zeros make ties (the first element must win). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "float_test.h"
#include "layers/layers.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static float frand(void) { return test_frand(&rng_state); }
#define rel_err test_rel_err

static void check_case(int B, int H, int W, int C, int P, float offset, int training, float rate) {
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P;
    const size_t n = (size_t)B * H * W * C, no = (size_t)B * Ho * Wo * C;
    const int N = B * H * W;
    float *in = malloc(n * sizeof *in), *bn = malloc(n * sizeof *bn), *din_ref = malloc(n * sizeof(float)),
          *din = malloc(n * sizeof(float)), *dbn = malloc(n * sizeof(float));
    float *pool_ref = malloc(no * sizeof(float)), *pool = malloc(no * sizeof(float)), *xsel = malloc(no * sizeof(float)),
          *dout = malloc(no * sizeof(float));
    int32_t *am_ref = malloc(no * sizeof(int32_t)), *am = malloc(no * sizeof(int32_t));
    float gamma[C], beta[C], mm_ref[C], mv_ref[C], mm[C], mv[C], mean_ref[C], rstd_ref[C], mean[C], rstd[C];
    float sc[C], sh[C], dg_ref[C], db_ref[C], dg[C], db[C];
    for (size_t i = 0; i < n; i++) in[i] = 3.0f * frand() + offset;
    uint8_t *mask = malloc(no);
    float *ddrop = malloc(no * sizeof(float));
    for (size_t i = 0; i < no; i++) dout[i] = frand();
    for (size_t i = 0; i < no; i++) mask[i] = frand() >= 2.0f * rate - 1.0f;
    for (int c = 0; c < C; c++) {
        gamma[c] = 1.0f + 0.5f * frand();
        beta[c] = 0.3f * frand();
        mm_ref[c] = mm[c] = 0.2f * frand();
        mv_ref[c] = mv[c] = 1.0f + 0.5f * frand();
        dg_ref[c] = dg[c] = 0.25f; /* gradients accumulate: start from the same non-zero value */
        db_ref[c] = db[c] = -0.5f;
    }
    /* unfused reference */
    if (training) {
        batchnorm_forward_train(bn, mean_ref, rstd_ref, mm_ref, mv_ref, in, gamma, beta, N, C, 0.99f, 1e-3f);
        batchnorm_stats_train(sc, sh, mean, rstd, mm, mv, in, gamma, beta, N, C, 0.99f, 1e-3f);
    } else {
        batchnorm_forward_infer(bn, in, gamma, beta, mm_ref, mv_ref, N, C, 1e-3f);
        batchnorm_affine_infer(sc, sh, gamma, beta, mm, mv, C, 1e-3f);
    }
    relu_forward(bn, bn, n);
    maxpool2d_forward(pool_ref, am_ref, bn, B, H, W, C, P);
    bn_relu_pool_forward(pool, am, xsel, in, sc, sh, B, H, W, C, P);

    char what[96];
    snprintf(what, sizeof what, "B%d H%d W%d C%d P%d off%g %s drop%g", B, H, W, C, P, offset,
             training ? "train" : "infer", rate);
    CHECKF(!memcmp(pool, pool_ref, no * sizeof(float)), "%s: pooled output identical", what);
    CHECKF(!memcmp(am, am_ref, no * sizeof(int32_t)), "%s: argmax identical", what);
    int xsel_ok = 1;
    for (size_t o = 0; o < no; o++) xsel_ok &= am[o] >= 0 && xsel[o] == in[am[o]];
    CHECKF(xsel_ok, "%s: xsel = in[argmax]", what);
    if (rate > 0.0f) { /* the dropout-fused forward: same pooled output, dropout_forward's mask and output */
        float *drop_ref = malloc(no * sizeof(float)), *drop = malloc(no * sizeof(float)), *pool2 = malloc(no * sizeof(float));
        uint8_t *mask_ref = malloc(no), *mask2 = malloc(no);
        dropout_forward(drop_ref, mask_ref, pool_ref, no, rate, 42, 7, 3);
        bn_relu_pool_dropout_forward(drop, mask2, pool2, am, xsel, in, sc, sh, B, H, W, C, P, rate, 42, 7, 3);
        CHECKF(!memcmp(pool2, pool_ref, no * sizeof(float)) && !memcmp(drop, drop_ref, no * sizeof(float)) &&
                   !memcmp(mask2, mask_ref, no),
               "%s: dropout-fused forward identical", what);
        free(drop_ref), free(drop), free(pool2), free(mask_ref), free(mask2);
    }
    if (training) {
        CHECKF(!memcmp(mean, mean_ref, sizeof mean) && !memcmp(rstd, rstd_ref, sizeof rstd) &&
                   !memcmp(mm, mm_ref, sizeof mm) && !memcmp(mv, mv_ref, sizeof mv),
               "%s: statistics and moving averages identical", what);

        const uint8_t *mk = rate > 0.0f ? mask : NULL;
        if (mk) dropout_backward(ddrop, dout, mask, no, rate);
        maxpool2d_backward(dbn, mk ? ddrop : dout, am_ref, B, H, W, C, P);
        relu_backward(dbn, dbn, bn, n);
        batchnorm_backward(din_ref, dg_ref, db_ref, dbn, in, mean_ref, rstd_ref, gamma, N, C);
        bn_relu_pool_backward(din, dg, db, dout, mk, rate, pool, am, xsel, in, mean, rstd, gamma, B, H, W, C, P);
        const double ed = rel_err(din, din_ref, n), eg = rel_err(dg, dg_ref, C), eb = rel_err(db, db_ref, C);
        CHECKF(ed <= 1e-6, "%s: din rel err %.3g", what, ed);
        CHECKF(eg <= 1e-6, "%s: dgamma rel err %.3g", what, eg);
        CHECKF(eb <= 1e-6, "%s: dbeta rel err %.3g", what, eb);
        /* din = NULL: parameter gradients only */
        float dg2[C], db2[C];
        for (int c = 0; c < C; c++) dg2[c] = 0.25f, db2[c] = -0.5f;
        bn_relu_pool_backward(NULL, dg2, db2, dout, mk, rate, pool, am, xsel, in, mean, rstd, gamma, B, H, W, C, P);
        CHECKF(!memcmp(dg2, dg, sizeof dg2) && !memcmp(db2, db, sizeof db2), "%s: din = NULL same dgamma/dbeta", what);
    }
    free(in), free(bn), free(din_ref), free(din), free(dbn), free(pool_ref), free(pool), free(xsel), free(dout);
    free(am_ref), free(am), free(mask), free(ddrop);
}

int main(void) {
    for (int training = 1; training >= 0; training--) {
        for (int d = 0; d < 2; d++) {
            const float rate = d ? 0.3f : 0.0f; /* with and without the dropout backward folded in */
            check_case(3, 7, 9, 20, 2, 0.0f, training, rate);
            check_case(2, 8, 10, 64, 2, -2.0f, training, rate); /* mostly ReLU zeros: ties */
            check_case(2, 10, 11, 5, 3, 0.5f, training, rate);
            check_case(4, 40, 130, 16, 2, 0.0f, training, rate); /* block 1's H, W */
            check_case(1, 1, 1, 3, 2, 0.0f, training, rate);     /* a window clipped to one element */
        }
    }
    return check_finish("layers_fused");
}
