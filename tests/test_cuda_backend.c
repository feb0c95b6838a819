/* The CUDA backend against the CPU backend on a small model (2 conv blocks, 16 x 24 input):
 * every activation, gradient slice and the weight drift within ser/backend_check.h's
 * tolerances, the dropout masks bit-identical (host/model/backend_check.c); the training state moved
 * device -> host -> a second device backend continues bit-identically; CUDA graphs on and off
 * give the same weights; the batch-norm statistics pass (precise BN, AdaBN: bn_stats_*) gives the
 * CPU's moving statistics within the moving-statistics tolerance and changes nothing else. Label
 * smoothing is on (0.1), so the loss and its gradient are the smoothed ones on both. The agreement
 * is checked again with model.stats_pool on. Needs a GPU: SKIPPED (77) without one, with the
 * reason (tests/cuda_test.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cuda_test.h"
#include "ser/backend_check.h"
#include "ser/cuda.h"

enum { B = 8, C = 5 };

static ser_config small_config(void) {
    ser_config c;
    ser_config_defaults(&c);
    c.features.n_mfcc = 16;
    c.features.frames = 24;
    c.model.conv_blocks = 2;
    c.model.filters = 16;
    c.model.lstm_units = 16;
    c.train.label_smoothing = 0.1; /* the smoothed loss's gradient on both backends (ser check: 0) */
    return c;
}

static float xs[B * 16 * 24];
static int32_t ys[B];

static int train_mixed(ser_backend *be, int steps, const ser_mix *mix, ser_error *e) {
    for (int s = 0; s < steps; s++) {
        float loss;
        if (be->ops->forward(be, xs, ys, mix, B, 1, &loss, e) || be->ops->backward(be, e) || be->ops->step(be, 5e-4f, e))
            return -1;
    }
    return 0;
}

static int train(ser_backend *be, int steps, ser_error *e) { return train_mixed(be, steps, NULL, e); }

/* The largest |a - b| / (|b| + 1e-3) over n floats. */
static double max_rel(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]) / (fabs((double)b[i]) + 1e-3);
        if (d > worst) worst = d;
    }
    return worst;
}

int main(void) {
    char desc[256];
    cuda_test_start("test_cuda_backend", 0, desc, sizeof desc);
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) xs[i] = (float)sin(0.61 * (double)i) * 1.3f;
    for (int i = 0; i < B; i++) ys[i] = i % C;
    ser_error e = {{0}};
    ser_config c = small_config();

    /* 1. agreement, masks included (6 steps: the graphs are captured at step 2 and replayed) */
    ser_model mr, mg;
    CHECK(ser_model_create(&mr, &c, C, &e) == 0 && ser_model_create(&mg, &c, C, &e) == 0);
    ser_backend *r = ser_backend_cpu_create(&mr, &c, B, &e), *g = ser_backend_cuda_create(&mg, &c, B, &e);
    CHECKF(r && g, "%s", e.msg);
    if (!r || !g) return check_finish("test_cuda_backend");
    printf("device: %s\n", g->device);
    const ser_check_tol tol = ser_check_tol_default(0);
    ser_check_result res = {0};
    CHECKF(ser_backend_check(r, g, xs, ys, B, 6, 5e-4f, &tol, &res, &e) == 0, "%s", e.msg);
    int masks = 0;
    for (size_t i = 0; i < res.n; i++) {
        const ser_check_row *w = &res.rows[i];
        if (w->judged && !w->ok)
            fprintf(stderr, "FAIL %s %s: error %.3e > tol %.1e (max|diff| %.3e)\n", w->group, w->what, w->err, w->tol,
                    w->max_abs);
        if (strstr(w->what, "dropout_mask")) {
            masks++;
            CHECKF(w->ok && w->err == 0.0, "%s: %g mismatching mask elements", w->what, w->err);
        }
    }
    CHECKF(res.failed == 0, "%d comparisons outside tolerance (listed above)", res.failed);
    CHECK(masks == 2);
    ser_check_result_free(&res);

    /* 2. state device -> host -> a second device backend: both continue with the same bits */
    const size_t np = mg.nparams_padded;
    float *st = malloc(3 * np * sizeof *st), *p1 = malloc(np * sizeof *p1), *p2 = malloc(np * sizeof *p2);
    CHECK(st && p1 && p2);
    CHECKF(g->ops->download_state(g, st, st + np, st + 2 * np, &e) == 0, "%s", e.msg);
    ser_model m2;
    CHECK(ser_model_create(&m2, &c, C, &e) == 0);
    m2.adam_t = mg.adam_t;
    m2.step = mg.step;
    ser_backend *g2 = ser_backend_cuda_create(&m2, &c, B, &e);
    CHECKF(g2 && g2->ops->upload_state(g2, st, st + np, st + 2 * np, &e) == 0, "%s", e.msg);
    CHECKF(train(g, 3, &e) == 0 && train(g2, 3, &e) == 0, "%s", e.msg);
    CHECK(g->ops->download_params(g, p1, &e) == 0 && g2->ops->download_params(g2, p2, &e) == 0);
    CHECKF(memcmp(p1, p2, np * sizeof *p1) == 0, "a backend resumed from the downloaded state diverged");
    ser_backend_destroy(g2);
    ser_model_destroy(&m2);

    /* 3. CUDA graphs off: the same kernels eagerly, the same weights after 5 steps */
    ser_model ma, mb;
    ser_config ce = c;
    ce.cuda.graphs = 0;
    CHECK(ser_model_create(&ma, &c, C, &e) == 0 && ser_model_create(&mb, &ce, C, &e) == 0);
    ser_backend *ga = ser_backend_cuda_create(&ma, &c, B, &e), *gb = ser_backend_cuda_create(&mb, &ce, B, &e);
    CHECKF(ga && gb && train(ga, 5, &e) == 0 && train(gb, 5, &e) == 0, "%s", e.msg);
    CHECK(ga->ops->download_params(ga, p1, &e) == 0 && gb->ops->download_params(gb, p2, &e) == 0);
    double worst = max_rel(p1, p2, np);
    printf("graphs vs eager after 5 steps: %s (max rel diff %.3e)\n",
           memcmp(p1, p2, np * sizeof *p1) ? "differ" : "bit-identical", worst);
    CHECKF(worst <= 1e-5, "graphs on / off differ by %.3e", worst);
    ser_backend_destroy(ga), ser_backend_destroy(gb);
    ser_model_destroy(&ma), ser_model_destroy(&mb);

    /* 4. mixup targets: CPU and CUDA take the same 4 steps (full batches: graphs) to the same
     * weights within the drift tolerance, and the targets change the training */
    int32_t partners[B];
    float lam[B];
    for (int i = 0; i < B; i++) partners[i] = (i * 3 + 1) % C, lam[i] = 0.55f + 0.05f * (float)i;
    const ser_mix mix = {partners, lam};
    ser_model mc, mm, mp;
    CHECK(ser_model_create(&mc, &c, C, &e) == 0 && ser_model_create(&mm, &c, C, &e) == 0 &&
          ser_model_create(&mp, &c, C, &e) == 0);
    float *start = malloc(np * sizeof *start);
    CHECK(start != NULL);
    memcpy(start, mc.params, np * sizeof *start);
    ser_backend *rc = ser_backend_cpu_create(&mc, &c, B, &e), *gm = ser_backend_cuda_create(&mm, &c, B, &e),
                *rp = ser_backend_cpu_create(&mp, &c, B, &e);
    CHECKF(rc && gm && rp && train_mixed(rc, 4, &mix, &e) == 0 && train_mixed(gm, 4, &mix, &e) == 0 &&
               train(rp, 4, &e) == 0,
           "%s", e.msg);
    CHECK(gm->ops->download_params(gm, p1, &e) == 0);
    /* the drift measure of ser/backend_check.h over all parameters: rms(cuda - cpu) / (rms(cpu -
     * start) + 0.1 lr N) */
    double dd = 0.0, dm = 0.0;
    for (size_t i = 0; i < np; i++) {
        dd += ((double)p1[i] - mc.params[i]) * ((double)p1[i] - mc.params[i]);
        dm += ((double)mc.params[i] - start[i]) * ((double)mc.params[i] - start[i]);
    }
    const double drift = sqrt(dd / np) / (sqrt(dm / np) + 0.1 * 5e-4 * 4);
    printf("mixup: cuda vs cpu after 4 steps: drift %.3e\n", drift);
    CHECKF(drift <= tol.drift, "mixup: cuda and cpu weights drift %.3e apart (tolerance %.2g)", drift, tol.drift);
    CHECKF(max_rel(mp.params, mc.params, np) > 1e-4, "mixup targets changed nothing");
    free(start);
    ser_backend_destroy(rc), ser_backend_destroy(gm), ser_backend_destroy(rp);
    ser_model_destroy(&mc), ser_model_destroy(&mm), ser_model_destroy(&mp);

    /* 5. the batch-norm statistics pass: 3 batches (8, 8 and a partial 5) of clips unlike the
     * training batch, on the weights of part 1's 6 steps (drifted within tolerance) */
    {
        enum { NS = 21 };
        static float xb[NS * 16 * 24];
        for (size_t i = 0; i < sizeof xb / sizeof xb[0]; i++) xb[i] = (float)cos(0.37 * (double)i) * 2.1f + 0.4f;
        float *gb0 = malloc(np * sizeof *gb0);
        CHECK(gb0 && g->ops->upload_params(g, mr.params, &e) == 0); /* the same weights on both */
        CHECK(g->ops->download_params(g, gb0, &e) == 0);
        int ok = r->ops->bn_stats_begin(r, &e) == 0 && g->ops->bn_stats_begin(g, &e) == 0;
        for (int s0 = 0; ok && s0 < NS; s0 += B) {
            const int nb = NS - s0 < B ? NS - s0 : B;
            ok = r->ops->bn_stats_add(r, xb + (size_t)s0 * 16 * 24, nb, &e) == 0 &&
                 g->ops->bn_stats_add(g, xb + (size_t)s0 * 16 * 24, nb, &e) == 0;
        }
        ok = ok && r->ops->bn_stats_end(r, &e) == 0 && g->ops->bn_stats_end(g, &e) == 0;
        CHECKF(ok, "%s", e.msg);
        CHECK(g->ops->download_params(g, p1, &e) == 0);
        size_t other = 0;
        int moved = 0;
        for (int k = 0; k < mg.nslices; k++) {
            const ser_slice *sl = &mg.slices[k];
            const float *got = p1 + sl->offset, *ref = mr.params + sl->offset;
            if (!strstr(sl->name, ".moving_")) {
                other += memcmp(got, gb0 + sl->offset, sl->count * sizeof *got) != 0;
                continue;
            }
            moved += memcmp(got, gb0 + sl->offset, sl->count * sizeof *got) != 0;
            /* ser/backend_check.h: |got - ref| <= rtol (|ref| + floor); a moving mean's floor is
             * sqrt(max moving variance) of its layer, a variance's max |ref| */
            char vname[40];
            snprintf(vname, sizeof vname, "%.*s_variance", (int)(strstr(sl->name, "_mean") ? strstr(sl->name, "_mean") - sl->name : 0), sl->name);
            const ser_slice *vs = strstr(sl->name, "_mean") ? ser_model_slice(&mr, vname) : sl;
            double scale = 0.0, serr = 0.0;
            for (size_t j = 0; j < vs->count; j++) scale = fmax(scale, fabs(mr.params[vs->offset + j]));
            if (vs != sl) scale = sqrt(scale);
            for (size_t j = 0; j < sl->count; j++)
                serr = fmax(serr, fabs((double)got[j] - ref[j]) / (fabs((double)ref[j]) + scale));
            printf("bn statistics pass: %s cuda vs cpu error %.3e (tolerance %.1e)\n", sl->name, serr, tol.fwd);
            CHECKF(serr <= tol.fwd, "bn statistics pass: %s error %.3e > %.1e", sl->name, serr, tol.fwd);
        }
        CHECKF(moved == 2 * mg.blocks, "the pass changed %d of %d moving statistics", moved, 2 * mg.blocks);
        CHECKF(other == 0, "the pass changed %zu other slices", other);
        CHECK(g->ops->bn_stats_add(g, xb, 1, &e) != 0 && strstr(e.msg, "without begin"));
        CHECK(g->ops->bn_stats_begin(g, &e) == 0 && g->ops->bn_stats_end(g, &e) != 0 && strstr(e.msg, "no clips"));
        free(gb0);
    }
    /* 6. statistics pooling (model.stats_pool): the same agreement, its activation compared too */
    ser_config cs = c;
    cs.model.stats_pool = 1;
    ser_model sr, sg;
    CHECK(ser_model_create(&sr, &cs, C, &e) == 0 && ser_model_create(&sg, &cs, C, &e) == 0);
    ser_backend *rs = ser_backend_cpu_create(&sr, &cs, B, &e), *gs = ser_backend_cuda_create(&sg, &cs, B, &e);
    CHECKF(rs && gs, "%s", e.msg);
    if (rs && gs) {
        ser_check_result rs_res = {0};
        CHECKF(ser_backend_check(rs, gs, xs, ys, B, 6, 5e-4f, &tol, &rs_res, &e) == 0, "%s", e.msg);
        int stats_rows = 0;
        for (size_t i = 0; i < rs_res.n; i++) {
            const ser_check_row *w = &rs_res.rows[i];
            if (w->judged && !w->ok)
                fprintf(stderr, "FAIL stats_pool %s %s: error %.3e > tol %.1e (max|diff| %.3e)\n", w->group, w->what,
                        w->err, w->tol, w->max_abs);
            stats_rows += !strcmp(w->what, "stats_pool");
        }
        CHECKF(rs_res.failed == 0, "stats_pool: %d comparisons outside tolerance (listed above)", rs_res.failed);
        CHECKF(stats_rows >= 1, "stats_pool: no stats_pool activation compared");
        ser_check_result_free(&rs_res);
    }
    ser_backend_destroy(rs), ser_backend_destroy(gs);
    ser_model_destroy(&sr), ser_model_destroy(&sg);

    free(st), free(p1), free(p2);
    ser_backend_destroy(r), ser_backend_destroy(g);
    ser_model_destroy(&mr), ser_model_destroy(&mg);
    return check_finish("test_cuda_backend");
}
