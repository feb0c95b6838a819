/* Pitch (F0) feature rows with aubio's YIN (contract in ser/pitch.h). */
#include "ser/pitch.h"

#include <aubio/aubio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ser/mfcc.h"

struct ser_pitch {
    aubio_pitch_t *yin;
    fvec_t *block, *f0;
    int n_fft, hop, frames, rows;
    int lead;       /* blocks fed before the one whose window is frame 0's */
    int delay;      /* zeros fed before the first sample so that windows are centred */
    float *hz;      /* [frames]: F0 of the voiced frames, 0 elsewhere */
};

ser_pitch *ser_pitch_create(const ser_config *cfg, ser_error *err) {
    const ser_feature_config *f = &cfg->features;
    if (f->f0_rows < 1 || f->n_fft < 2 || f->hop_length < 1 || f->hop_length > f->n_fft || f->frames < 1) {
        ser_fail(err, "pitch: need features.f0_rows >= 1 and 1 <= hop_length <= n_fft (got f0_rows %d, n_fft %d, "
                      "hop_length %d)", f->f0_rows, f->n_fft, f->hop_length);
        return NULL;
    }
    ser_pitch *p = ser_calloc(1, sizeof *p, "pitch detector", err);
    if (!p) return NULL;
    p->n_fft = f->n_fft, p->hop = f->hop_length, p->frames = f->frames, p->rows = f->f0_rows;
    /* aubio's window after block j (0-based) ends at (j + 1) hop of what it was fed; frame t's
     * centred window ends at t hop + n_fft / 2 of the clip. With `delay` zeros fed first,
     * frame t is block t + lead where (lead + 1) hop - delay = n_fft / 2. */
    const int half = p->n_fft / 2;
    p->lead = (half + p->hop - 1) / p->hop - 1;
    p->delay = (p->lead + 1) * p->hop - half;
    /* aubio plans with the same FFTW as ser_mfcc, whose planner is not thread-safe */
#pragma omp critical(ser_fftw_planner)
    p->yin = new_aubio_pitch("yinfast", (uint_t)p->n_fft, (uint_t)p->hop, (uint_t)cfg->audio.sample_rate);
    p->block = new_fvec((uint_t)p->hop);
    p->f0 = new_fvec(1);
    p->hz = ser_malloc((size_t)p->frames * sizeof *p->hz, "pitch frames", err);
    if (!p->yin || !p->block || !p->f0 || !p->hz) {
        if (!p->yin || !p->block || !p->f0)
            ser_fail(err, "pitch: aubio could not build a YIN detector (window %d, hop %d, rate %d)", p->n_fft, p->hop,
                     cfg->audio.sample_rate);
        ser_pitch_free(p);
        return NULL;
    }
    aubio_pitch_set_unit(p->yin, "Hz");
    aubio_pitch_set_silence(p->yin, -90.0f); /* voicing is judged by the confidence, not the level */
    return p;
}

void ser_pitch_free(ser_pitch *p) {
    if (!p) return;
    if (p->yin) {
#pragma omp critical(ser_fftw_planner)
        del_aubio_pitch(p->yin);
    }
    if (p->block) del_fvec(p->block);
    if (p->f0) del_fvec(p->f0);
    free(p->hz);
    free(p);
}

/* Feeds samples [start, start + hop) of the delayed clip (zeros outside y) and returns the
 * voiced F0 of the window that ends there, or 0. */
static float feed(ser_pitch *p, const float *y, size_t n, long start) {
    for (int i = 0; i < p->hop; i++) {
        const long k = start + i - p->delay;
        p->block->data[i] = (smpl_t)(k >= 0 && (size_t)k < n ? y[k] : 0.0f);
    }
    aubio_pitch_do(p->yin, p->block, p->f0);
    const double hz = p->f0->data[0], conf = aubio_pitch_get_confidence(p->yin);
    return isfinite(hz) && isfinite(conf) && conf >= SER_PITCH_MIN_CONFIDENCE && hz >= SER_PITCH_FMIN &&
                   hz <= SER_PITCH_FMAX
               ? (float)hz
               : 0.0f;
}

int ser_pitch_compute(ser_pitch *p, const float *y, size_t n, float *out, unsigned char *voiced, ser_error *err) {
    if (n == 0) return ser_fail(err, "pitch: empty clip");
    const size_t T_clip = ser_mfcc_stft_frames(n, p->hop);
    const int T = T_clip < (size_t)p->frames ? (int)T_clip : p->frames;
    /* aubio keeps the last n_fft samples it was fed: zeros make it a fresh detector */
    memset(p->block->data, 0, (size_t)p->hop * sizeof *p->block->data);
    for (int j = 0; j < (p->n_fft + p->hop - 1) / p->hop; j++) aubio_pitch_do(p->yin, p->block, p->f0);
    for (int j = 0; j < p->lead; j++) feed(p, y, n, (long)j * p->hop);
    int n_voiced = 0, first = -1, last = -1;
    for (int t = 0; t < T; t++) {
        p->hz[t] = feed(p, y, n, (long)(t + p->lead) * p->hop);
        if (p->hz[t] > 0) {
            n_voiced++;
            if (first < 0) first = t;
            last = t;
        }
    }
    float *row = out;
    if (n_voiced == 0) {
        for (int t = 0; t < T; t++) row[t] = (float)log2(SER_PITCH_FMIN);
    } else {
        /* each voiced frame its own value, each gap between two the line between theirs */
        for (int t = first, prev = -1; t <= last; t++) {
            if (p->hz[t] <= 0) continue;
            const double b = log2(p->hz[t]);
            row[t] = (float)b;
            if (prev >= 0) {
                const double a = log2(p->hz[prev]);
                for (int u = prev + 1; u < t; u++) row[u] = (float)(a + (b - a) * (u - prev) / (double)(t - prev));
            }
            prev = t;
        }
        for (int t = 0; t < first; t++) row[t] = row[first];
        for (int t = last + 1; t < T; t++) row[t] = row[last];
    }
    for (int t = T; t < p->frames; t++) row[t] = 0.0f;
    for (int r = 1; r < p->rows; r++) memcpy(out + (size_t)r * p->frames, row, (size_t)p->frames * sizeof *row);
    if (voiced)
        for (int t = 0; t < p->frames; t++) voiced[t] = t < T && p->hz[t] > 0;
    return n_voiced;
}
