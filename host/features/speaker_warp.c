/* Each speaker's mel warp, chosen by its statistics: VTLN, features.vtln (contract in ser/speaker_warp.h). */
#include "ser/speaker_warp.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/features.h"
#include "ser/normalize.h"

/* One clip's frames into the running sums (the same order for an array and a stream). */
static void stats_add(const float *xi, int H, int W, double *sum, double *sq, double *count) {
    const int used = ser_clip_frames_used(xi, H, W);
    for (int c = 0; c < H; c++)
        for (int t = 0; t < used; t++) {
            const double v = xi[(size_t)c * W + t];
            sum[c] += v, sq[c] += v * v;
        }
    *count += used;
}

static void stats_finish(int H, double count, double *ref) {
    for (int c = 0; c < H; c++) {
        const double m = count > 0 ? ref[c] / count : 0.0, v = count > 0 ? ref[H + c] / count - m * m : 0.0;
        ref[c] = m;
        ref[H + c] = v > 0 ? sqrt(v) : 0.0;
    }
}

void ser_speaker_warp_stats(const float *x, size_t n, int H, int W, double *ref) {
    double count = 0.0;
    for (int c = 0; c < 2 * H; c++) ref[c] = 0.0;
    for (size_t i = 0; i < n; i++) stats_add(x + i * (size_t)H * W, H, W, ref, ref + H, &count);
    stats_finish(H, count, ref);
}

int ser_speaker_warp_stats_read(size_t n, int H, int W, ser_clip_features_fn read, void *ctx, double *ref,
                                ser_error *err) {
    float *xi = ser_malloc((size_t)H * W * sizeof *xi, "vtln statistics", err);
    if (!xi) return -1;
    double count = 0.0;
    for (int c = 0; c < 2 * H; c++) ref[c] = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (read(ctx, i, xi, err) != 0) {
            free(xi);
            return -1;
        }
        stats_add(xi, H, W, ref, ref + H, &count);
    }
    free(xi);
    stats_finish(H, count, ref);
    return 0;
}

static double stats_distance(const double *a, const double *b, int H) {
    double d = 0.0;
    for (int c = 1; c < H; c++) {
        const double dm = a[c] - b[c], ds = a[H + c] - b[H + c];
        d += dm * dm + ds * ds;
    }
    return d;
}

/* Features of clips idx[0..m) with warp alpha into out (m, F); a clip that fails fails the
 * call, naming the file and the reason (it decoded unwarped before: it changed or vanished). */
static int features_warped(const ser_clip *clips, const size_t *idx, size_t m, const ser_config *cfg, double alpha,
                           int threads, float *out, ser_error *err) {
    char **paths = ser_malloc(m * sizeof *paths, "vtln paths", err), **why = ser_calloc(m, sizeof *why, "vtln", err);
    unsigned char *ok = ser_malloc(m, "vtln", err);
    int rc = -1;
    if (!paths || !why || !ok) goto out;
    for (size_t j = 0; j < m; j++) paths[j] = clips[idx[j]].path;
    if (ser_features_extract_warped(cfg, paths, m, threads, alpha, cfg->train.aug_vtlp_fhi, out, ok, why, err) != 0)
        goto out;
    rc = 0;
    for (size_t j = 0; j < m && rc == 0; j++)
        if (!ok[j]) rc = ser_fail(err, "vtln: warp %.2f: %s", alpha, why[j] ? why[j] : paths[j]);
out:
    for (size_t j = 0; why && j < m; j++) free(why[j]);
    free(paths), free(why), free(ok);
    return rc;
}

/* The clips of g's speaker not yet taken (from g on) into idx, marked done: their count. */
static size_t speaker_clips(const ser_clip *clips, size_t n, size_t g, unsigned char *done, size_t *idx) {
    size_t m = 0;
    for (size_t i = g; i < n; i++)
        if (!done[i] && ser_clip_same_speaker(&clips[i], &clips[g])) idx[m++] = i, done[i] = 1;
    return m;
}

int ser_speaker_warp_choose(size_t n, const ser_clip *clips, const ser_config *cfg, const double *ref, int threads,
                            const char *what, ser_clip_features_fn read, void *ctx, double *alpha, ser_error *err) {
    const int H = cfg->features.n_mfcc, W = cfg->features.frames;
    const size_t F = (size_t)H * W;
    const double range = cfg->features.vtln;
    if (H > SER_VTLN_MAX_MFCC) return ser_fail(err, "features.vtln needs n_mfcc <= %d (got %d)", SER_VTLN_MAX_MFCC, H);
    if (threads <= 0) threads = omp_get_max_threads();
    const int kmax = (int)floor(range * 100.0 + 1e-9);
    size_t *idx = ser_malloc(n * sizeof *idx, "vtln clips", err), largest = 0;
    unsigned char *done = ser_calloc(n, 1, "vtln groups", err);
    float *probe = NULL; /* one speaker's clips (m, F) */
    double st[2 * SER_VTLN_MAX_MFCC];
    int rc = -1;
    if (!idx || !done) goto out;
    for (size_t g = 0; g < n; g++) {
        if (done[g]) continue;
        /* the speaker's clips, all of them (a lone training speaker: exactly alpha 1) */
        const size_t m = speaker_clips(clips, n, g, done, idx);
        if (m > largest) {
            float *p = realloc(probe, m * F * sizeof *p);
            if (!p) {
                ser_fail(err, "vtln: out of memory for %zu clips of speaker '%s'", m, clips[g].speaker);
                goto out;
            }
            probe = p, largest = m;
        }
        double best_d = INFINITY, best_a = 1.0;
        /* k = 0, -1, +1, -2, +2, ...: a tie keeps the smaller warp */
        for (int step = 0; step <= 2 * kmax; step++) {
            const int k = step == 0 ? 0 : (step % 2 ? -(step + 1) / 2 : step / 2);
            const double a = 1.0 + k / 100.0;
            if (k == 0) { /* unwarped: the features already computed */
                for (size_t j = 0; j < m; j++)
                    if (read(ctx, idx[j], probe + j * F, err) != 0) goto out;
            } else if (features_warped(clips, idx, m, cfg, a, threads, probe, err) != 0) {
                goto out;
            }
            ser_speaker_warp_stats(probe, m, H, W, st);
            const double d = stats_distance(st, ref, H);
            if (d < best_d) best_d = d, best_a = a;
        }
        for (size_t j = 0; j < m; j++) alpha[idx[j]] = best_a;
        if (what)
            fprintf(stderr, "ser: %s: speaker '%s' (%zu clips): vtln warp %.2f\n", what, clips[g].speaker, m, best_a);
    }
    rc = 0;
out:
    free(idx), free(done), free(probe);
    return rc;
}

typedef struct array_reader {
    const float *x;
    size_t F;
} array_reader;

static int read_array(void *ctx, size_t i, float *out, ser_error *err) {
    (void)err;
    const array_reader *a = ctx;
    memcpy(out, a->x + i * a->F, a->F * sizeof *out);
    return 0;
}

int ser_speaker_warp_apply(float *x, size_t n, const ser_clip *clips, const ser_config *cfg, const double *ref,
                           int threads, const char *what, double *alpha_out, ser_error *err) {
    const size_t F = (size_t)cfg->features.n_mfcc * cfg->features.frames;
    double *alpha = ser_malloc(n * sizeof *alpha, "vtln warps", err);
    size_t *idx = ser_malloc(n * sizeof *idx, "vtln clips", err);
    unsigned char *done = ser_calloc(n, 1, "vtln groups", err);
    float *probe = NULL;
    int rc = -1;
    array_reader ar = {x, F};
    if (!alpha || !idx || !done ||
        ser_speaker_warp_choose(n, clips, cfg, ref, threads, what, read_array, &ar, alpha, err) != 0)
        goto out;
    /* each warped speaker's features recomputed with its warp */
    for (size_t g = 0; g < n; g++) {
        if (done[g] || alpha[g] == 1.0) continue;
        const size_t m = speaker_clips(clips, n, g, done, idx);
        float *p = realloc(probe, m * F * sizeof *p);
        if (!p) {
            ser_fail(err, "vtln: out of memory for %zu clips", m);
            goto out;
        }
        probe = p;
        if (features_warped(clips, idx, m, cfg, alpha[g], threads, probe, err) != 0) goto out;
        for (size_t j = 0; j < m; j++) memcpy(x + idx[j] * F, probe + j * F, F * sizeof *x);
    }
    if (alpha_out) memcpy(alpha_out, alpha, n * sizeof *alpha);
    rc = 0;
out:
    free(alpha), free(idx), free(done), free(probe);
    return rc;
}
