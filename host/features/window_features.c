/* Window features: one clip's chain of ser_features_extract + ser_normalize per window. */
#include "ser/window_features.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ser/features.h"
#include "ser/mfcc.h"
#include "ser/normalize.h"
#include "ser/pitch.h"

struct ser_window_features {
    ser_config cfg;
    int threads;
    size_t mfcc_size, per_clip;
    ser_mfcc **mfcc;   /* [threads] */
    ser_pitch **pitch; /* [threads], NULL entries without pitch rows */
};

void ser_window_features_free(ser_window_features *w) {
    if (!w) return;
    for (int t = 0; t < w->threads; t++) {
        if (w->mfcc) ser_mfcc_free(w->mfcc[t]);
        if (w->pitch) ser_pitch_free(w->pitch[t]);
    }
    free(w->mfcc);
    free(w->pitch);
    free(w);
}

ser_window_features *ser_window_features_create(const ser_config *cfg, int threads, ser_error *err) {
    if (cfg->features.vtln > 0) {
        ser_fail(err, "the model uses features.vtln = %g (per-speaker warps searched over whole files), which "
                      "windowed prediction cannot apply", cfg->features.vtln);
        return NULL;
    }
    if (cfg->features.normalize < SER_NORM_NONE || cfg->features.normalize > SER_NORM_SPEAKER) {
        ser_fail(err, "features.normalize = %d: must be 0, 1 or 2", cfg->features.normalize);
        return NULL;
    }
    ser_window_features *w = ser_calloc(1, sizeof *w, "window features", err);
    if (!w) return NULL;
    w->cfg = *cfg;
    w->threads = threads > 0 ? threads : omp_get_max_threads();
    w->mfcc = ser_calloc((size_t)w->threads, sizeof *w->mfcc, "MFCC states", err);
    w->pitch = ser_calloc((size_t)w->threads, sizeof *w->pitch, "pitch states", err);
    if (!w->mfcc || !w->pitch) goto fail;
    for (int t = 0; t < w->threads; t++) {
        if (!(w->mfcc[t] = ser_mfcc_create(cfg, err))) goto fail;
        if (cfg->features.f0_rows > 0 && !(w->pitch[t] = ser_pitch_create(cfg, err))) goto fail;
    }
    w->mfcc_size = ser_mfcc_out_size(w->mfcc[0]);
    w->per_clip = ser_features_per_clip(cfg);
    SER_ASSERT(w->mfcc_size + (size_t)cfg->features.f0_rows * (size_t)cfg->features.frames == w->per_clip);
    return w;
fail:
    ser_window_features_free(w);
    return NULL;
}

int ser_window_features_compute(ser_window_features *w, const float *const *y, const size_t *len, size_t n,
                                float *out, ser_error *err) {
    if (n == 0) return 0;
    int threads = w->threads;
    if ((size_t)threads > n) threads = (int)n;
    /* the small DCT sgemm inside each window must not start BLAS threads of its own */
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    int failed = 0;
    ser_error first = {{0}};
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        ser_error terr = {{0}};
#pragma omp for schedule(dynamic, 2)
        for (size_t i = 0; i < n; i++) {
            float *o = out + i * w->per_clip;
            if (ser_mfcc_compute(w->mfcc[t], y[i], len[i], o, &terr) != 0 ||
                (w->pitch[t] && ser_pitch_compute(w->pitch[t], y[i], len[i], o + w->mfcc_size, NULL, &terr) < 0) ||
                ser_normalize(w->cfg.features.normalize ? SER_NORM_CLIP : SER_NORM_NONE, o, 1, NULL,
                              ser_config_rows(&w->cfg), w->cfg.features.frames, &terr) != 0) {
#pragma omp critical(ser_window_features_err)
                if (!failed) failed = 1, first = terr;
            }
        }
    }
    openblas_set_num_threads(blas_threads);
    if (failed) {
        if (err) *err = first;
        return -1;
    }
    return 0;
}

double ser_rms_dbfs(const float *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * (double)y[i];
    return n ? 10.0 * log10(s / (double)n) : -INFINITY;
}
