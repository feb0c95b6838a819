/* The per-clip feature loop (ser/feature_loop.h): each clip's stored features are its MFCC with
 * the clip's own warp, then its pitch rows, bit for bit what one fresh MFCC and pitch state
 * compute for the same samples, for any thread count; the thread numbers stay below
 * ser_feature_loop_threads; a failure that `failed` accepts skips that clip only, one it refuses
 * (or any with no `failed`) stops the run with that error; OpenBLAS's thread count is back after. */
#define _GNU_SOURCE
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ser/config.h"
#include "ser/feature_loop.h"
#include "ser/features.h"
#include "ser/mfcc.h"
#include "ser/pitch.h"

#define N_CLIPS 9

typedef struct job {
    float *y[N_CLIPS];
    size_t len[N_CLIPS];
    double warp[N_CLIPS];
    size_t per_clip;
    float *out;
    int threads;
    atomic_int stored[N_CLIPS], failed_calls[N_CLIPS], bad_thread;
    int fail_samples, fail_store; /* clip index, or -1 */
    int accept_failures;
} job;

static int samples(void *ctx, int thread, size_t i, ser_clip_audio *a, ser_error *err) {
    job *j = ctx;
    if (thread < 0 || thread >= j->threads) atomic_store(&j->bad_thread, 1);
    if ((int)i == j->fail_samples) return ser_fail(err, "clip %zu: no samples", i);
    a->y = j->y[i], a->n = j->len[i];
    if (j->warp[i] != 1.0) a->warp = j->warp[i], a->warp_fhi = 4800.0;
    return 0;
}

static int store(void *ctx, int thread, size_t i, float *x, ser_error *err) {
    job *j = ctx;
    if (thread < 0 || thread >= j->threads) atomic_store(&j->bad_thread, 1);
    if ((int)i == j->fail_store) return ser_fail(err, "clip %zu: store refused", i);
    memcpy(j->out + i * j->per_clip, x, j->per_clip * sizeof *x);
    atomic_fetch_add(&j->stored[i], 1);
    return 0;
}

static int failed(void *ctx, size_t i, ser_error *err) {
    (void)err;
    job *j = ctx;
    atomic_fetch_add(&j->failed_calls[i], 1);
    return j->accept_failures ? 0 : -1;
}

static void reset(job *j, int threads) {
    j->threads = threads;
    for (int i = 0; i < N_CLIPS; i++) atomic_store(&j->stored[i], 0), atomic_store(&j->failed_calls[i], 0);
    atomic_store(&j->bad_thread, 0);
    j->fail_samples = j->fail_store = -1;
    j->accept_failures = 0;
    memset(j->out, 0xff, N_CLIPS * j->per_clip * sizeof *j->out); /* NaN: every clip must be written */
}

int main(void) {
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.features.frames = 60;
    cfg.features.f0_rows = 2;
    const int sr = cfg.audio.sample_rate;
    ser_error err = {{0}};
    job j = {0};
    j.per_clip = ser_features_per_clip(&cfg);
    j.out = malloc(N_CLIPS * j.per_clip * sizeof *j.out);
    float *ref = malloc(N_CLIPS * j.per_clip * sizeof *ref);
    /* voiced-like clips of different lengths and pitches; a third of them warped */
    for (int i = 0; i < N_CLIPS; i++) {
        j.len[i] = (size_t)(sr * (0.4 + 0.15 * i));
        j.y[i] = malloc(j.len[i] * sizeof *j.y[i]);
        const double f0 = 110.0 + 20.0 * i;
        for (size_t t = 0; t < j.len[i]; t++) {
            double v = 0;
            for (int h = 1; h <= 6; h++) v += sin(2 * M_PI * f0 * h * (double)t / sr) / h;
            j.y[i][t] = (float)(0.2 * v * (0.6 + 0.4 * sin(2 * M_PI * 3.0 * (double)t / sr)));
        }
        j.warp[i] = i % 3 == 1 ? 0.9 + 0.05 * i / 3 : 1.0;
    }

    /* the reference: a fresh MFCC and pitch state per clip, on this thread */
    openblas_set_num_threads(1);
    const size_t mfcc_size = (size_t)cfg.features.n_mfcc * cfg.features.frames;
    for (int i = 0; i < N_CLIPS; i++) {
        ser_mfcc *m = ser_mfcc_create(&cfg, &err);
        ser_pitch *p = ser_pitch_create(&cfg, &err);
        CHECKF(m && p, "%s", err.msg);
        if (!m || !p) return check_finish("test_feature_loop");
        if (j.warp[i] != 1.0) ser_mfcc_set_warp(m, j.warp[i], 4800.0);
        CHECK(ser_mfcc_compute(m, j.y[i], j.len[i], ref + i * j.per_clip, &err) == 0);
        CHECK(ser_pitch_compute(p, j.y[i], j.len[i], ref + i * j.per_clip + mfcc_size, NULL, &err) > 0);
        ser_mfcc_free(m), ser_pitch_free(p);
    }

    for (int threads = 1; threads <= 3; threads++) {
        ser_feature_loop *l = ser_feature_loop_create(&cfg, threads, &err);
        CHECKF(l != NULL, "%s", err.msg);
        if (!l) continue;
        CHECK(ser_feature_loop_threads(l) == threads && ser_feature_loop_per_clip(l) == j.per_clip);
        ser_feature_loop_calls calls = {.samples = samples, .store = store, .failed = failed, .ctx = &j, .chunk = 1};

        /* every clip once, the reference's bits; twice (warps switched back and forth) */
        for (int pass = 0; pass < 2; pass++) {
            reset(&j, threads);
            openblas_set_num_threads(2);
            CHECKF(ser_feature_loop_run(l, N_CLIPS, &calls, &err) == 0, "%s", err.msg);
            CHECKF(openblas_get_num_threads() == 2, "OpenBLAS threads %d after a run", openblas_get_num_threads());
            int once = 1;
            for (int i = 0; i < N_CLIPS; i++) once &= atomic_load(&j.stored[i]) == 1;
            CHECK(once && !atomic_load(&j.bad_thread));
            for (int i = 0; i < N_CLIPS; i++)
                CHECKF(!memcmp(j.out + i * j.per_clip, ref + i * j.per_clip, j.per_clip * sizeof *ref),
                       "threads %d pass %d: clip %d differs from a fresh state's features", threads, pass, i);
        }

        /* an accepted failure: that clip alone is missing, `failed` saw it once */
        reset(&j, threads);
        j.fail_samples = 4, j.accept_failures = 1;
        CHECK(ser_feature_loop_run(l, N_CLIPS, &calls, &err) == 0);
        for (int i = 0; i < N_CLIPS; i++) {
            CHECKF(atomic_load(&j.stored[i]) == (i != 4), "threads %d: clip %d stored %d times", threads, i,
                   atomic_load(&j.stored[i]));
            CHECK(atomic_load(&j.failed_calls[i]) == (i == 4));
        }

        /* a refused failure stops the run with its error; with one thread, no later clip starts */
        reset(&j, threads);
        j.fail_store = 2;
        memset(&err, 0, sizeof err);
        CHECK(ser_feature_loop_run(l, N_CLIPS, &calls, &err) == -1);
        CHECKF(strstr(err.msg, "clip 2: store refused") != NULL, "error: %s", err.msg);
        if (threads == 1)
            for (int i = 3; i < N_CLIPS; i++) CHECK(atomic_load(&j.stored[i]) == 0);

        /* no `failed`: the MFCC's own error (no samples) stops it */
        reset(&j, threads);
        calls.failed = NULL;
        const size_t keep = j.len[5];
        j.len[5] = 0;
        memset(&err, 0, sizeof err);
        CHECK(ser_feature_loop_run(l, N_CLIPS, &calls, &err) == -1 && err.msg[0]);
        CHECK(atomic_load(&j.stored[5]) == 0);
        j.len[5] = keep;
        CHECK(ser_feature_loop_run(l, 0, &calls, &err) == 0); /* nothing to do */
        ser_feature_loop_free(l);
    }

    /* a recipe that cannot work fails at create */
    cfg.features.n_mfcc = cfg.features.n_mels + 1;
    memset(&err, 0, sizeof err);
    CHECK(ser_feature_loop_create(&cfg, 2, &err) == NULL && err.msg[0]);

    for (int i = 0; i < N_CLIPS; i++) free(j.y[i]);
    free(j.out), free(ref);
    return check_finish("test_feature_loop");
}
