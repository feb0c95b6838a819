/* The per-clip feature loop (contract in ser/feature_loop.h): samples -> MFCC (+ pitch) -> store,
 * parallel over clips, one MFCC state, pitch state and feature buffer per thread. */
#include "ser/feature_loop.h"

#include <cblas.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ser/mfcc.h"
#include "ser/pitch.h"

typedef struct loop_thread {
    ser_mfcc *mfcc;
    ser_pitch *pitch; /* NULL without pitch rows */
    float *x;         /* (per_clip): the clip's features before store */
} loop_thread;

struct ser_feature_loop {
    int threads, f0_rows;
    size_t mfcc_size, per_clip;
    loop_thread *t; /* [threads] */
};

void ser_feature_loop_free(ser_feature_loop *l) {
    if (!l) return;
    for (int i = 0; l->t && i < l->threads; i++) {
        ser_mfcc_free(l->t[i].mfcc);
        ser_pitch_free(l->t[i].pitch);
        free(l->t[i].x);
    }
    free(l->t);
    free(l);
}

ser_feature_loop *ser_feature_loop_create(const ser_config *cfg, int threads, ser_error *err) {
    ser_feature_loop *l = ser_calloc(1, sizeof *l, "feature loop", err);
    if (!l) return NULL;
    l->threads = threads > 0 ? threads : omp_get_max_threads();
    l->f0_rows = cfg->features.f0_rows;
    l->t = ser_calloc((size_t)l->threads, sizeof *l->t, "feature loop threads", err);
    if (!l->t) goto fail;
    /* thread 0's states first: a recipe that cannot work fails with their own message */
    for (int i = 0; i < l->threads; i++) {
        loop_thread *t = &l->t[i];
        if (!(t->mfcc = ser_mfcc_create(cfg, err))) goto fail;
        if (l->f0_rows > 0 && !(t->pitch = ser_pitch_create(cfg, err))) goto fail;
        if (i == 0) {
            l->mfcc_size = ser_mfcc_out_size(t->mfcc);
            l->per_clip = (size_t)ser_config_rows(cfg) * (size_t)cfg->features.frames;
            SER_ASSERT(l->mfcc_size + (size_t)l->f0_rows * (size_t)cfg->features.frames == l->per_clip);
        }
        if (!(t->x = ser_malloc(l->per_clip * sizeof *t->x, "clip features", err))) goto fail;
    }
    return l;
fail:
    ser_feature_loop_free(l);
    return NULL;
}

int ser_feature_loop_threads(const ser_feature_loop *l) { return l->threads; }

size_t ser_feature_loop_per_clip(const ser_feature_loop *l) { return l->per_clip; }

/* One clip on thread t: 0, or -1 with err. */
static int one_clip(ser_feature_loop *l, int t, size_t i, const ser_feature_loop_calls *calls, ser_error *err) {
    loop_thread *k = &l->t[t];
    ser_clip_audio a = {.y = NULL, .n = 0, .warp = 1.0, .warp_fhi = 0.0};
    if (calls->samples(calls->ctx, t, i, &a, err) != 0) return -1;
    ser_mfcc_set_warp(k->mfcc, a.warp, a.warp_fhi); /* a no-op while the warp stays the same */
    if (ser_mfcc_compute(k->mfcc, a.y, a.n, k->x, err) != 0) return -1;
    if (k->pitch && ser_pitch_compute(k->pitch, a.y, a.n, k->x + l->mfcc_size, NULL, err) < 0) return -1;
    return calls->store(calls->ctx, t, i, k->x, err);
}

int ser_feature_loop_run(ser_feature_loop *l, size_t n, const ser_feature_loop_calls *calls, ser_error *err) {
    if (n == 0) return 0;
    const int threads = (size_t)l->threads > n ? (int)n : l->threads;
    const int chunk = calls->chunk > 0 ? calls->chunk : 4;
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    atomic_int stopped;
    atomic_init(&stopped, 0);
    ser_error first = {{0}};
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        ser_error terr = {{0}};
#pragma omp for schedule(dynamic, chunk)
        for (size_t i = 0; i < n; i++) {
            if (atomic_load(&stopped)) continue;
            if (one_clip(l, t, i, calls, &terr) == 0) continue;
            if (calls->failed && calls->failed(calls->ctx, i, &terr) == 0) continue;
#pragma omp critical(ser_feature_loop_stop)
            {
                if (!atomic_load(&stopped)) first = terr;
                atomic_store(&stopped, 1);
            }
        }
    }
    openblas_set_num_threads(blas_threads);
    if (atomic_load(&stopped)) {
        if (err) *err = first;
        return -1;
    }
    return 0;
}
