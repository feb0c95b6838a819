/* Cepstral mean and variance normalisation per clip or per speaker (ser/normalize.h). Sums in
 * double: a speaker holds ~10^5 frames of values in the hundreds of dB. */
#include "ser/normalize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ser_clip_frames_used(const float *x, int H, int W) {
    for (int t = W - 1; t >= 0; t--)
        for (int c = 0; c < H; c++)
            if (x[(size_t)c * W + t] != 0.0f) return t + 1;
    return 0;
}

/* Adds the real frames of one clip to per-coefficient sums. */
static void accumulate(const float *x, int H, int W, double *sum, double *sq, double *count) {
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
static void finish(double *sum, double *sq, double count, int H) {
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

static void apply(float *x, int H, int W, const double *mean, const double *inv) {
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
    double *sum = ser_malloc(2 * (size_t)H * sizeof *sum, "normalisation sums", err);
    unsigned char *done = mode == SER_NORM_SPEAKER ? ser_calloc(n, 1, "normalisation groups", err) : NULL;
    if (!sum || (mode == SER_NORM_SPEAKER && !done)) {
        free(sum), free(done);
        return -1;
    }
    double *sq = sum + H;
    for (size_t i = 0; i < n; i++) {
        if (done && done[i]) continue;
        memset(sum, 0, 2 * (size_t)H * sizeof *sum);
        double count = 0.0;
        if (mode == SER_NORM_CLIP) {
            accumulate(x + i * F, H, W, sum, sq, &count);
            finish(sum, sq, count, H);
            apply(x + i * F, H, W, sum, sq);
            continue;
        }
        /* per speaker: every later clip of clips[i].speaker, two passes (stats, then apply) */
        for (size_t j = i; j < n; j++)
            if (!done[j] && ser_clip_same_speaker(&clips[j], &clips[i]))
                accumulate(x + j * F, H, W, sum, sq, &count);
        finish(sum, sq, count, H);
        for (size_t j = i; j < n; j++)
            if (!done[j] && ser_clip_same_speaker(&clips[j], &clips[i])) {
                apply(x + j * F, H, W, sum, sq);
                done[j] = 1;
            }
    }
    free(sum), free(done);
    return 0;
}
