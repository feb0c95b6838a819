/* Cepstral mean and variance normalisation per clip or per speaker (ser/normalize.h). Sums in
 * double: a speaker holds ~10^5 frames of values in the hundreds of dB. */
#include "ser/normalize.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int ser_clip_frames_used(const float *x, int H, int W) {
    for (int t = W - 1; t >= 0; t--)
        for (int c = 0; c < H; c++)
            if (x[(size_t)c * W + t] != 0.0f) return t + 1;
    return 0;
}

/* FNV-1a over speaker '\0' corpus: the fields ser_clip_same_speaker compares (NULL = ""). */
static uint64_t speaker_hash(const ser_clip *c) {
    uint64_t h = 0xcbf29ce484222325ull;
    const char *f[2] = {c->speaker ? c->speaker : "", c->corpus ? c->corpus : ""};
    for (int k = 0; k < 2; k++) {
        for (const unsigned char *p = (const unsigned char *)f[k]; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
        h = (h ^ 0xffu) * 0x100000001b3ull; /* field separator */
    }
    return h ^ (h >> 32);
}

int ser_speaker_groups(const ser_clip *clips, size_t n, uint32_t *group, size_t *n_groups, ser_error *err) {
    *n_groups = 0;
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    size_t *slot = ser_calloc(cap, sizeof *slot, "speaker table", err); /* first clip of a group + 1 */
    if (!slot) return -1;
    for (size_t i = 0; i < n; i++) {
        size_t s = speaker_hash(&clips[i]) & (cap - 1);
        while (slot[s] && !ser_clip_same_speaker(&clips[slot[s] - 1], &clips[i])) s = (s + 1) & (cap - 1);
        if (!slot[s]) {
            slot[s] = i + 1;
            group[i] = (uint32_t)(*n_groups)++;
        } else {
            group[i] = group[slot[s] - 1];
        }
    }
    free(slot);
    return 0;
}

void ser_norm_accumulate(const float *x, int H, int W, double *sum, double *sq, double *count) {
    const int used = ser_clip_frames_used(x, H, W);
    for (int c = 0; c < H; c++) {
        const float *row = x + (size_t)c * W;
        double s = 0.0, q = 0.0;
        for (int t = 0; t < used; t++) s += row[t], q += (double)row[t] * row[t];
        sum[c] += s, sq[c] += q;
    }
    *count += used;
}

/* sum/sq -> mean and 1/std in place (1 when the variance is below 1e-8 of the mean square:
 * a constant coefficient is centred, not blown up). */
void ser_norm_finish(double *sum, double *sq, double count, int H) {
    for (int c = 0; c < H; c++) {
        if (count <= 0) {
            sum[c] = 0.0, sq[c] = 1.0;
            continue;
        }
        const double mean = sum[c] / count, ms = sq[c] / count, var = ms - mean * mean;
        sum[c] = mean;
        sq[c] = var > 1e-8 * ms && var > 0 ? 1.0 / sqrt(var) : 1.0;
    }
}

void ser_norm_apply(float *x, int H, int W, const double *mean, const double *inv) {
    const int used = ser_clip_frames_used(x, H, W);
    for (int c = 0; c < H; c++) {
        float *row = x + (size_t)c * W;
        for (int t = 0; t < used; t++) row[t] = (float)((row[t] - mean[c]) * inv[c]);
    }
}

int ser_normalize(int mode, float *x, size_t n, const ser_clip *clips, int H, int W, ser_error *err) {
    if (mode == SER_NORM_NONE || n == 0) return 0;
    if (mode != SER_NORM_CLIP && mode != SER_NORM_SPEAKER)
        return ser_fail(err, "features.normalize = %d: must be 0 (none), 1 (per clip) or 2 (per speaker)", mode);
    if (mode == SER_NORM_SPEAKER && !clips) return ser_fail(err, "per-speaker normalisation: no speakers given");
    const size_t F = (size_t)H * W;
    if (mode == SER_NORM_CLIP) {
        double *sum = ser_malloc(2 * (size_t)H * sizeof *sum, "normalisation sums", err);
        if (!sum) return -1;
        for (size_t i = 0; i < n; i++) {
            double count = 0.0;
            memset(sum, 0, 2 * (size_t)H * sizeof *sum);
            ser_norm_accumulate(x + i * F, H, W, sum, sum + H, &count);
            ser_norm_finish(sum, sum + H, count, H);
            ser_norm_apply(x + i * F, H, W, sum, sum + H);
        }
        free(sum);
        return 0;
    }
    /* per speaker: every speaker's sums in clip order (one pass), then apply (O(clips)) */
    ser_norm_stats st;
    if (ser_norm_stats_init(&st, clips, n, H, err) != 0) return -1;
    for (size_t i = 0; i < n; i++) ser_norm_stats_add(&st, i, x + i * F, W);
    ser_norm_stats_finish(&st);
    for (size_t i = 0; i < n; i++) ser_norm_stats_apply(&st, i, x + i * F, W);
    ser_norm_stats_free(&st);
    return 0;
}

int ser_norm_stats_init(ser_norm_stats *st, const ser_clip *clips, size_t n, int H, ser_error *err) {
    memset(st, 0, sizeof *st);
    st->H = H;
    if (!(st->group = ser_malloc((n ? n : 1) * sizeof *st->group, "speaker groups", err))) return -1;
    if (ser_speaker_groups(clips, n, st->group, &st->n_groups, err) != 0) {
        ser_norm_stats_free(st);
        return -1;
    }
    const size_t g = st->n_groups ? st->n_groups : 1;
    st->sum = ser_calloc(2 * g * (size_t)H, sizeof *st->sum, "speaker sums", err);
    st->count = ser_calloc(g, sizeof *st->count, "speaker frame counts", err);
    if (!st->sum || !st->count) {
        ser_norm_stats_free(st);
        return -1;
    }
    return 0;
}

void ser_norm_stats_add(ser_norm_stats *st, size_t i, const float *x, int W) {
    const size_t g = st->group[i], H = (size_t)st->H;
    ser_norm_accumulate(x, st->H, W, st->sum + 2 * g * H, st->sum + (2 * g + 1) * H, &st->count[g]);
}

void ser_norm_stats_finish(ser_norm_stats *st) {
    const size_t H = (size_t)st->H;
    for (size_t g = 0; g < st->n_groups; g++)
        ser_norm_finish(st->sum + 2 * g * H, st->sum + (2 * g + 1) * H, st->count[g], st->H);
}

void ser_norm_stats_apply(const ser_norm_stats *st, size_t i, float *x, int W) {
    const size_t g = st->group[i], H = (size_t)st->H;
    ser_norm_apply(x, st->H, W, st->sum + 2 * g * H, st->sum + (2 * g + 1) * H);
}

void ser_norm_stats_free(ser_norm_stats *st) {
    if (!st) return;
    free(st->group), free(st->sum), free(st->count);
    memset(st, 0, sizeof *st);
}
