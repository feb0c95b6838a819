/* AdaBN (ser_model_bn_adapt): the adapted moving statistics equal a direct two-pass mean and
 * variance of every block's BN input over the whole set (with the blocks before it adapted),
 * whatever the batching; nothing but the moving statistics changes; and with adaptation the
 * network no longer sees a per-set scale of the input (epsilon 0: exactly), which without it
 * moves the logits.
 * The one-pass batch-norm statistics of the backends (ser_model_bn_stats_*, the CPU backend's
 * bn_stats_* ops; what precise BN and AdaBN run): the pooled mean and variance of exactly the
 * rows a training forward without dropout shows each block, batch by batch; with one batch
 * holding the whole set, ser_model_bn_adapt's statistics; only the moving statistics change;
 * the ops' misuse fails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ser/backend.h"
#include "ser/model.h"

#define NCLIP 10
#define NH 36
#define NW 18

static void fill_random(float *x, size_t n, unsigned *state) {
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        x[i] = (float)((*state >> 8) * 0x1p-24) * 2.0f - 1.0f;
    }
}

static void small_config(ser_config *cfg) {
    ser_config_defaults(cfg);
    cfg->features.n_mfcc = NH;
    cfg->features.frames = NW;
    cfg->model.filters = 4;
    cfg->model.lstm_units = 5;
}

static float *slice(ser_model *m, const char *fmt, int i) {
    char name[40];
    snprintf(name, sizeof name, fmt, i);
    const ser_slice *s = ser_model_slice(m, name);
    return s ? m->params + s->offset : NULL;
}

/* Adapted over x in batches of `batch`, then one forward over all NCLIP clips: each block's
 * conv output (its BN input) has the adapted statistics. */
static void test_exact_stats(int batch) {
    ser_config cfg;
    small_config(&cfg);
    ser_model m;
    ser_error err = {0};
    CHECK(ser_model_create(&m, &cfg, 3, &err) == 0);
    static float x[NCLIP * NH * NW];
    unsigned st = 7;
    fill_random(x, NCLIP * NH * NW, &st);
    for (size_t i = 0; i < NCLIP * NH * NW; i++) x[i] = x[i] * 2.0f + 0.5f; /* away from the init statistics */
    float *before = malloc(m.nparams_padded * sizeof *before);
    memcpy(before, m.params, m.nparams_padded * sizeof *before);
    CHECK(ser_model_reserve(&m, batch, &err) == 0);
    CHECK(ser_model_bn_adapt(&m, x, NCLIP, &err) == 0);
    CHECK(m.bn_acc == NULL);
    /* only the moving statistics changed, and all of them did */
    size_t changed_other = 0;
    for (int s = 0; s < m.nslices; s++) {
        const ser_slice *sl = &m.slices[s];
        const int moving = strstr(sl->name, ".moving_") != NULL;
        const int same = !memcmp(before + sl->offset, m.params + sl->offset, sl->count * sizeof(float));
        if (moving) CHECKF(!same, "%s unchanged", sl->name);
        else if (!same) changed_other++;
    }
    CHECK(changed_other == 0);
    CHECK(ser_model_reserve(&m, NCLIP, &err) == 0);
    ser_model_forward(&m, x, NULL, NULL, NCLIP, 0);
    CHECK(ser_model_block_fused(&m, 0)); /* both paths of the statistics pass are covered */
    for (int i = 0; i < m.blocks; i++) {
        const ser_block_shape *b = &m.blk[i];
        const size_t N = (size_t)NCLIP * b->H * b->W;
        float *fused = NULL; /* a fused block stores no conv output: the model recomputes it */
        if (ser_model_block_fused(&m, i)) {
            fused = malloc(N * m.F * sizeof *fused);
            ser_model_fused_conv(&m, i, fused);
        }
        const float *c = fused ? fused : m.acts.conv[i], *mm = slice(&m, "bn%d.moving_mean", i + 1),
                    *mv = slice(&m, "bn%d.moving_variance", i + 1);
        for (int f = 0; f < m.F; f++) {
            double s = 0.0, q = 0.0;
            for (size_t r = 0; r < N; r++) s += c[r * m.F + f];
            const double mean = s / N;
            for (size_t r = 0; r < N; r++) q += (c[r * m.F + f] - mean) * (c[r * m.F + f] - mean);
            const double var = q / N;
            CHECKF(fabs(mm[f] - mean) <= 1e-5 * (1.0 + sqrt(var)), "batch %d block %d ch %d mean %g vs %g", batch, i, f,
                   mm[f], mean);
            CHECKF(fabs(mv[f] - var) <= 1e-5 * var, "batch %d block %d ch %d var %g vs %g", batch, i, f, mv[f], var);
        }
        free(fused);
    }
    free(before);
    ser_model_destroy(&m);
}

/* Logits of x on a copy of m, adapted over `scale` * x first when adapt is set. */
static void logits_of(float *out, const ser_model *src, const ser_config *cfg, const float *x, float scale, int adapt) {
    ser_model m;
    ser_error err = {0};
    CHECK(ser_model_create(&m, cfg, 3, &err) == 0);
    memcpy(m.params, src->params, m.nparams_padded * sizeof(float));
    static float xs[NCLIP * NH * NW];
    for (size_t i = 0; i < NCLIP * NH * NW; i++) xs[i] = x[i] * scale;
    CHECK(ser_model_reserve(&m, 4, &err) == 0);
    if (adapt) CHECK(ser_model_bn_adapt(&m, xs, NCLIP, &err) == 0);
    for (int s = 0; s < NCLIP; s += 4) {
        const int B = NCLIP - s < 4 ? NCLIP - s : 4;
        ser_model_forward(&m, xs + (size_t)s * NH * NW, NULL, NULL, B, 0);
        memcpy(out + s * 3, m.acts.logits, (size_t)B * 3 * sizeof(float));
    }
    ser_model_destroy(&m);
}

static double max_diff(const float *a, const float *b, int n) {
    double d = 0.0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_scale_invariance(void) {
    ser_config cfg;
    small_config(&cfg);
    cfg.model.bn_epsilon = 0.0; /* then BN(a x) = BN(x) exactly: scale-free up to rounding */
    ser_model m;
    ser_error err = {0};
    CHECK(ser_model_create(&m, &cfg, 3, &err) == 0);
    /* a few training steps so that the moving statistics and weights are not the initial ones */
    ser_backend *be = ser_backend_cpu_create(&m, &cfg, 8, &err);
    static float xt[8 * NH * NW], x[NCLIP * NH * NW];
    int32_t labels[8];
    unsigned st = 3;
    for (int step = 0; step < 5; step++) {
        fill_random(xt, 8 * NH * NW, &st);
        for (int i = 0; i < 8; i++) labels[i] = (i + step) % 3;
        float loss;
        CHECK(be->ops->forward(be, xt, labels, NULL, 8, 1, &loss, &err) == 0);
        CHECK(be->ops->backward(be, &err) == 0);
        CHECK(be->ops->step(be, 1e-2f, &err) == 0);
    }
    fill_random(x, NCLIP * NH * NW, &st);
    float plain[NCLIP * 3], plain3[NCLIP * 3], ad[NCLIP * 3], ad3[NCLIP * 3];
    logits_of(plain, &m, &cfg, x, 1.0f, 0);
    logits_of(plain3, &m, &cfg, x, 3.0f, 0);
    logits_of(ad, &m, &cfg, x, 1.0f, 1);
    logits_of(ad3, &m, &cfg, x, 3.0f, 1);
    double scale = 0.0;
    for (int i = 0; i < NCLIP * 3; i++) scale = fmax(scale, fabs(ad[i]));
    const double d_ad = max_diff(ad, ad3, NCLIP * 3), d_plain = max_diff(plain, plain3, NCLIP * 3),
                 d_effect = max_diff(plain, ad, NCLIP * 3);
    CHECKF(d_ad <= 1e-4 * (1.0 + scale), "adapted logits of 3x vs x differ by %g", d_ad);
    CHECKF(d_plain > 1e-2, "without adaptation the scale moved the logits by only %g", d_plain);
    CHECKF(d_effect > 1e-3, "adaptation changed the logits by only %g", d_effect);
    ser_backend_destroy(be);
    ser_model_destroy(&m);
}

static void test_errors(void) {
    ser_config cfg;
    small_config(&cfg);
    ser_model m;
    ser_error err = {0};
    float x[NH * NW] = {0};
    CHECK(ser_model_create(&m, &cfg, 3, &err) == 0);
    CHECK(ser_model_bn_adapt(&m, x, 1, &err) != 0); /* no arena */
    CHECK(ser_model_reserve(&m, 2, &err) == 0);
    CHECK(ser_model_bn_adapt(&m, x, 0, &err) != 0 && strstr(err.msg, "no clips"));
    ser_model_destroy(&m);
}

/* Every block's conv output (its BN input) of the last forward into out (N rows of F). */
static void block_input(ser_model *m, int i, float *out) {
    const ser_block_shape *b = &m->blk[i];
    const size_t N = (size_t)m->last_B * b->H * b->W;
    if (ser_model_block_fused(m, i)) ser_model_fused_conv(m, i, out);
    else memcpy(out, m->acts.conv[i], N * m->F * sizeof *out);
}

/* The one-pass statistics over NCLIP clips in batches of `batch`, against a direct two-pass mean and
 * variance of the conv outputs training forwards (dropout 0) of the same batches give. */
static void test_pass_stats(int batch) {
    ser_config cfg;
    small_config(&cfg);
    cfg.model.dropout = 0.0;
    ser_model m, t;
    ser_error err = {0};
    CHECK(ser_model_create(&m, &cfg, 3, &err) == 0 && ser_model_create(&t, &cfg, 3, &err) == 0);
    static float x[NCLIP * NH * NW];
    unsigned st = 11;
    fill_random(x, NCLIP * NH * NW, &st);
    for (size_t i = 0; i < NCLIP * NH * NW; i++) x[i] = x[i] * 1.5f - 0.3f;
    /* the weights of a few training steps (not the initial ones) on both copies */
    CHECK(ser_model_reserve(&m, NCLIP, &err) == 0 && ser_model_reserve(&t, NCLIP, &err) == 0);
    int32_t labels[NCLIP];
    for (int i = 0; i < NCLIP; i++) labels[i] = i % 3;
    for (int s = 0; s < 3; s++) {
        ser_model_forward(&m, x, labels, NULL, NCLIP, 1);
        ser_model_backward(&m);
        ser_model_step(&m, 1e-2f, 0.9f, 0.999f, 1e-7f);
    }
    memcpy(t.params, m.params, m.nparams_padded * sizeof(float));
    float *before = malloc(m.nparams_padded * sizeof *before);
    memcpy(before, m.params, m.nparams_padded * sizeof *before);
    ser_backend *be = ser_backend_cpu_create(&m, &cfg, batch, &err);
    CHECKF(be != NULL, "%s", err.msg);
    CHECK(be->ops->bn_stats_begin(be, &err) == 0);
    for (int s = 0; s < NCLIP; s += batch)
        CHECK(be->ops->bn_stats_add(be, x + (size_t)s * NH * NW, NCLIP - s < batch ? NCLIP - s : batch, &err) == 0);
    CHECK(be->ops->bn_stats_end(be, &err) == 0);
    size_t changed_other = 0;
    for (int s = 0; s < m.nslices; s++) {
        const ser_slice *sl = &m.slices[s];
        const int same = !memcmp(before + sl->offset, m.params + sl->offset, sl->count * sizeof(float));
        if (strstr(sl->name, ".moving_")) CHECKF(!same, "%s unchanged", sl->name);
        else if (!same) changed_other++;
    }
    CHECKF(changed_other == 0, "%zu other slices changed", changed_other);
    /* the reference: each batch through a training forward of the copy, every block's input kept */
    for (int i = 0; i < m.blocks; i++) {
        const ser_block_shape *b = &m.blk[i];
        const size_t per = (size_t)b->H * b->W;
        float *rows = malloc((size_t)NCLIP * per * m.F * sizeof *rows);
        for (int s = 0; s < NCLIP; s += batch) {
            const int nb = NCLIP - s < batch ? NCLIP - s : batch;
            ser_model_forward(&t, x + (size_t)s * NH * NW, labels, NULL, nb, 1);
            block_input(&t, i, rows + (size_t)s * per * m.F);
        }
        const size_t N = (size_t)NCLIP * per;
        const float *mm = slice(&m, "bn%d.moving_mean", i + 1), *mv = slice(&m, "bn%d.moving_variance", i + 1);
        for (int f = 0; f < m.F; f++) {
            double sum = 0.0, q = 0.0;
            for (size_t r = 0; r < N; r++) sum += rows[r * m.F + f];
            const double mean = sum / N;
            for (size_t r = 0; r < N; r++) q += (rows[r * m.F + f] - mean) * (rows[r * m.F + f] - mean);
            const double var = q / N;
            CHECKF(fabs(mm[f] - mean) <= 1e-5 * (1.0 + sqrt(var)), "pass batch %d block %d ch %d mean %g vs %g", batch,
                   i, f, mm[f], mean);
            CHECKF(fabs(mv[f] - var) <= 1e-5 * var, "pass batch %d block %d ch %d var %g vs %g", batch, i, f, mv[f], var);
        }
        free(rows);
    }
    /* with the whole set in one batch, the pass is AdaBN's exact block-by-block statistics */
    if (batch >= NCLIP) {
        ser_model a;
        CHECK(ser_model_create(&a, &cfg, 3, &err) == 0 && ser_model_reserve(&a, NCLIP, &err) == 0);
        memcpy(a.params, before, m.nparams_padded * sizeof(float));
        CHECK(ser_model_bn_adapt(&a, x, NCLIP, &err) == 0);
        for (int i = 0; i < m.blocks; i++) {
            const float *pm = slice(&m, "bn%d.moving_mean", i + 1), *pv = slice(&m, "bn%d.moving_variance", i + 1),
                        *am = slice(&a, "bn%d.moving_mean", i + 1), *av = slice(&a, "bn%d.moving_variance", i + 1);
            for (int f = 0; f < m.F; f++) {
                CHECKF(fabs(pm[f] - am[f]) <= 1e-5 * (1.0 + sqrt(av[f])), "block %d ch %d: pass mean %g, AdaBN %g", i, f,
                       pm[f], am[f]);
                CHECKF(fabs(pv[f] - av[f]) <= 1e-5 * av[f], "block %d ch %d: pass var %g, AdaBN %g", i, f, pv[f], av[f]);
            }
        }
        ser_model_destroy(&a);
    }
    /* misuse: a batch or an end without begin, an end with no batch, a batch over the reservation */
    CHECK(be->ops->bn_stats_add(be, x, 1, &err) != 0 && strstr(err.msg, "without begin"));
    CHECK(be->ops->bn_stats_end(be, &err) != 0);
    CHECK(be->ops->bn_stats_begin(be, &err) == 0);
    CHECK(be->ops->bn_stats_add(be, x, batch + 1, &err) != 0);
    CHECK(be->ops->bn_stats_end(be, &err) != 0 && strstr(err.msg, "no clips"));
    CHECK(m.bn_stats == NULL);
    ser_backend_destroy(be);
    free(before);
    ser_model_destroy(&m), ser_model_destroy(&t);
}

int main(void) {
    test_exact_stats(4);   /* batches 4, 4, 2 */
    test_exact_stats(10);  /* one batch */
    test_pass_stats(4);    /* batches 4, 4, 2: the later blocks see each batch's normalisation */
    test_pass_stats(NCLIP); /* one batch: AdaBN's statistics */
    test_scale_invariance();
    test_errors();
    return check_finish("test_bn_adapt");
}
