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
    /* features.normalize = 2: the recording's sums per coefficient (H rows), then mean and 1/std */
    double *sum, *sq, count;
    int speaker_ready;
};

void ser_window_features_free(ser_window_features *w) {
    if (!w) return;
    for (int t = 0; t < w->threads; t++) {
        if (w->mfcc) ser_mfcc_free(w->mfcc[t]);
        if (w->pitch) ser_pitch_free(w->pitch[t]);
    }
    free(w->mfcc);
    free(w->pitch);
    free(w->sum);
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
    w->sum = ser_calloc(2 * (size_t)ser_config_rows(cfg), sizeof *w->sum, "speaker statistics", err);
    if (!w->mfcc || !w->pitch || !w->sum) goto fail;
    w->sq = w->sum + ser_config_rows(cfg);
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

void ser_window_features_accumulate(ser_window_features *w, const float *x, size_t n) {
    if (w->cfg.features.normalize != SER_NORM_SPEAKER) return;
    const int H = ser_config_rows(&w->cfg), W = w->cfg.features.frames;
    for (size_t i = 0; i < n; i++) {
        const float *clip = x + i * w->per_clip;
        const int used = ser_clip_frames_used(clip, H, W);
        for (int c = 0; c < H; c++) {
            const float *row = clip + (size_t)c * W;
            double s = 0.0, q = 0.0;
            for (int t = 0; t < used; t++) s += row[t], q += (double)row[t] * row[t];
            w->sum[c] += s, w->sq[c] += q;
        }
        w->count += used;
    }
}

void ser_window_features_speaker_done(ser_window_features *w) {
    if (w->cfg.features.normalize != SER_NORM_SPEAKER) return;
    const int H = ser_config_rows(&w->cfg);
    for (int c = 0; c < H; c++) { /* as normalize.c's finish() */
        if (w->count <= 0) {
            w->sum[c] = 0.0, w->sq[c] = 1.0;
            continue;
        }
        const double mean = w->sum[c] / w->count, ms = w->sq[c] / w->count, var = ms - mean * mean;
        w->sum[c] = mean;
        w->sq[c] = var > 1e-8 * ms && var > 0 ? 1.0 / sqrt(var) : 1.0;
    }
    w->speaker_ready = 1;
}

/* One clip's features with the recording's speaker statistics (the real frames only). */
static void apply_speaker(const ser_window_features *w, float *x) {
    const int H = ser_config_rows(&w->cfg), W = w->cfg.features.frames;
    const int used = ser_clip_frames_used(x, H, W);
    for (int c = 0; c < H; c++) {
        float *row = x + (size_t)c * W;
        for (int t = 0; t < used; t++) row[t] = (float)((row[t] - w->sum[c]) * w->sq[c]);
    }
}

size_t ser_window_clip_placement(const ser_audio_config *a, double rate, const float *y, size_t n, size_t *start) {
    size_t onset = 0;
    if (a->trim_db > 0) { /* audio.c's sound_onset, mono */
        const size_t block = rate / 50 >= 1 ? (size_t)(rate / 50) : 1;
        double loudest = 0;
        for (size_t b = 0; b < n; b += block) {
            const size_t m = n - b < block ? n - b : block;
            double e = 0;
            for (size_t i = 0; i < m; i++) e += (double)y[b + i] * y[b + i];
            if (e / (double)m > loudest) loudest = e / (double)m;
        }
        const double floor = loudest * pow(10.0, -a->trim_db / 10.0);
        for (size_t b = 0; b < n; b += block) {
            const size_t m = n - b < block ? n - b : block;
            double e = 0;
            for (size_t i = 0; i < m; i++) e += (double)y[b + i] * y[b + i];
            if (e > 0 && e / (double)m >= floor) {
                onset = b;
                break;
            }
        }
    }
    /* Python's int(offset * sr) and int(duration * sr), as ser_audio_load */
    const double first = (double)onset + a->offset * rate;
    *start = first < (double)n ? (size_t)first : onset;
    size_t count = n - *start;
    if (a->duration > 0 && a->duration * rate < (double)count) count = (size_t)(a->duration * rate);
    return count;
}

int ser_window_features_compute(ser_window_features *w, const float *const *y, const size_t *len, size_t n,
                                int normalized, float *out, ser_error *err) {
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
            const int speaker = normalized && w->speaker_ready && w->cfg.features.normalize == SER_NORM_SPEAKER;
            const int mode = !normalized || speaker || !w->cfg.features.normalize ? SER_NORM_NONE : SER_NORM_CLIP;
            if (ser_mfcc_compute(w->mfcc[t], y[i], len[i], o, &terr) != 0 ||
                (w->pitch[t] && ser_pitch_compute(w->pitch[t], y[i], len[i], o + w->mfcc_size, NULL, &terr) < 0) ||
                ser_normalize(mode, o, 1, NULL, ser_config_rows(&w->cfg), w->cfg.features.frames, &terr) != 0) {
#pragma omp critical(ser_window_features_err)
                if (!failed) failed = 1, first = terr;
            } else if (speaker) {
                apply_speaker(w, o);
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
