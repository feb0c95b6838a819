/* Each speaker's mel warp, chosen by its statistics: VTLN, features.vtln (contract in ser/speaker_warp.h). */
#include "ser/speaker_warp.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/features.h"
#include "ser/normalize.h"

void ser_speaker_warp_stats(const float *x, size_t n, int H, int W, double *ref) {
    double *sum = ref, *sq = ref + H, count = 0.0;
    for (int c = 0; c < H; c++) sum[c] = sq[c] = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * (size_t)H * W;
        const int used = ser_clip_frames_used(xi, H, W);
        for (int c = 0; c < H; c++)
            for (int t = 0; t < used; t++) {
                const double v = xi[(size_t)c * W + t];
                sum[c] += v, sq[c] += v * v;
            }
        count += used;
    }
    for (int c = 0; c < H; c++) {
        const double m = count > 0 ? sum[c] / count : 0.0, v = count > 0 ? sq[c] / count - m * m : 0.0;
        ref[c] = m;
        ref[H + c] = v > 0 ? sqrt(v) : 0.0;
    }
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

int ser_speaker_warp_apply(float *x, size_t n, const ser_clip *clips, const ser_config *cfg, const double *ref,
                           int threads, const char *what, double *alpha_out, ser_error *err) {
    const int H = cfg->features.n_mfcc, W = cfg->features.frames;
    const size_t F = (size_t)H * W;
    const double range = cfg->features.vtln;
    if (H > SER_VTLN_MAX_MFCC) return ser_fail(err, "features.vtln needs n_mfcc <= %d (got %d)", SER_VTLN_MAX_MFCC, H);
    if (threads <= 0) threads = omp_get_max_threads();
    const int kmax = (int)floor(range * 100.0 + 1e-9);
    size_t *idx = ser_malloc(n * sizeof *idx, "vtln clips", err);
    unsigned char *done = ser_calloc(n, 1, "vtln groups", err);
    float *probe = ser_malloc(n * F * sizeof *probe, "vtln features", err);
    double st[2 * SER_VTLN_MAX_MFCC];
    int rc = -1;
    if (!idx || !done || !probe) goto out;
    for (size_t g = 0; g < n; g++) {
        if (done[g]) continue;
        size_t m = 0; /* the speaker's clips, all of them (a lone training speaker: exactly alpha 1) */
        for (size_t i = g; i < n; i++)
            if (!done[i] && ser_clip_same_speaker(&clips[i], &clips[g])) idx[m++] = i, done[i] = 1;
        double best_d = INFINITY, best_a = 1.0;
        /* k = 0, -1, +1, -2, +2, ...: a tie keeps the smaller warp */
        for (int step = 0; step <= 2 * kmax; step++) {
            const int k = step == 0 ? 0 : (step % 2 ? -(step + 1) / 2 : step / 2);
            const double alpha = 1.0 + k / 100.0;
            if (k == 0) /* unwarped: the features already computed */
                for (size_t j = 0; j < m; j++) memcpy(probe + j * F, x + idx[j] * F, F * sizeof *x);
            else if (features_warped(clips, idx, m, cfg, alpha, threads, probe, err) != 0)
                goto out;
            ser_speaker_warp_stats(probe, m, H, W, st);
            const double d = stats_distance(st, ref, H);
            if (d < best_d) best_d = d, best_a = alpha;
        }
        if (best_a != 1.0) { /* the speaker's features with the chosen warp */
            if (features_warped(clips, idx, m, cfg, best_a, threads, probe, err) != 0) goto out;
            for (size_t j = 0; j < m; j++) memcpy(x + idx[j] * F, probe + j * F, F * sizeof *x);
        }
        for (size_t j = 0; alpha_out && j < m; j++) alpha_out[idx[j]] = best_a;
        if (what)
            fprintf(stderr, "ser: %s: speaker '%s' (%zu clips): vtln warp %.2f\n", what, clips[g].speaker, m, best_a);
    }
    rc = 0;
out:
    free(idx), free(done), free(probe);
    return rc;
}
