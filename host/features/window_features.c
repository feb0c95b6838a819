/* Window features: one clip's chain of ser_features_extract + ser_normalize per window, through
 * the per-clip feature loop (ser/feature_loop.h). */
#include "ser/window_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ser/feature_loop.h"
#include "ser/features.h"
#include "ser/normalize.h"

struct ser_window_features {
    ser_config cfg;
    size_t per_clip;
    ser_feature_loop *loop; /* the MFCC and pitch states, one per thread */
    /* features.normalize = 2: the recording's sums per coefficient (H rows), then mean and 1/std */
    double *sum, *sq, count;
    int speaker_ready;
};

void ser_window_features_free(ser_window_features *w) {
    if (!w) return;
    ser_feature_loop_free(w->loop);
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
    w->sum = ser_calloc(2 * (size_t)ser_config_rows(cfg), sizeof *w->sum, "speaker statistics", err);
    if (!w->sum || !(w->loop = ser_feature_loop_create(cfg, threads, err))) goto fail;
    w->sq = w->sum + ser_config_rows(cfg);
    w->per_clip = ser_feature_loop_per_clip(w->loop);
    SER_ASSERT(w->per_clip == ser_features_per_clip(cfg));
    return w;
fail:
    ser_window_features_free(w);
    return NULL;
}

/* features.normalize = 2: the recording is one speaker, its statistics normalize.c's */
void ser_window_features_accumulate(ser_window_features *w, const float *x, size_t n) {
    if (w->cfg.features.normalize != SER_NORM_SPEAKER) return;
    const int H = ser_config_rows(&w->cfg), W = w->cfg.features.frames;
    for (size_t i = 0; i < n; i++) ser_norm_accumulate(x + i * w->per_clip, H, W, w->sum, w->sq, &w->count);
}

void ser_window_features_speaker_done(ser_window_features *w) {
    if (w->cfg.features.normalize != SER_NORM_SPEAKER) return;
    ser_norm_finish(w->sum, w->sq, w->count, ser_config_rows(&w->cfg));
    w->speaker_ready = 1;
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

typedef struct windows_job {
    ser_window_features *w;
    const float *const *y;
    const size_t *len;
    int normalized;
    float *out;
} windows_job;

static int window_samples(void *ctx, int thread, size_t i, ser_clip_audio *a, ser_error *err) {
    (void)thread, (void)err;
    const windows_job *j = ctx;
    a->y = j->y[i], a->n = j->len[i];
    return 0;
}

/* The window's features, then features.normalize: the recording's speaker statistics once they
 * are gathered, else the window alone (clip mode) or none (a first pass: normalized = 0). */
static int window_store(void *ctx, int thread, size_t i, float *x, ser_error *err) {
    (void)thread;
    const windows_job *j = ctx;
    const ser_window_features *w = j->w;
    float *o = j->out + i * w->per_clip;
    memcpy(o, x, w->per_clip * sizeof *o);
    const int speaker = j->normalized && w->speaker_ready && w->cfg.features.normalize == SER_NORM_SPEAKER;
    const int mode = !j->normalized || speaker || !w->cfg.features.normalize ? SER_NORM_NONE : SER_NORM_CLIP;
    if (ser_normalize(mode, o, 1, NULL, ser_config_rows(&w->cfg), w->cfg.features.frames, err) != 0) return -1;
    if (speaker) ser_norm_apply(o, ser_config_rows(&w->cfg), w->cfg.features.frames, w->sum, w->sq);
    return 0;
}

int ser_window_features_compute(ser_window_features *w, const float *const *y, const size_t *len, size_t n,
                                int normalized, float *out, ser_error *err) {
    windows_job job = {.w = w, .y = y, .len = len, .normalized = normalized, .out = out};
    /* failed NULL: the first error stops the batch */
    const ser_feature_loop_calls calls = {.samples = window_samples, .store = window_store, .ctx = &job, .chunk = 2};
    return ser_feature_loop_run(w->loop, n, &calls, err);
}

double ser_rms_dbfs(const float *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * (double)y[i];
    return n ? 10.0 * log10(s / (double)n) : -INFINITY;
}
