/* VTLP augmentation: the warp function; the warped mel bank at alpha 1 is ser_mel_filters bit
 * for bit (and its ranges ser_mel_filter_ranges'); a warped MFCC moves a tone's energy to the
 * mel band of alpha times its frequency; the draws are the documented Philox words. Through the
 * per-epoch engine (ser_wave_aug_*): the features of a synthetic corpus at aug_vtlp = 0 are the
 * dataset pipeline's (decode, MFCC, per-speaker normalisation, scaler) bit for bit, and with
 * aug_vtlp > 0 are a function of (seed, epoch): the same twice, another epoch differs. Each
 * clip's warped features (a warp per clip, per virtual speaker, and per virtual speaker with
 * per-speaker normalisation) are compared with a reference written here from the definitions
 * alone: frames, Hann window, a radix-2 FFT, the Slaney mel bank evaluated at warped bin
 * frequencies, dB with the clip's floor, the orthonormal DCT, all in double; the per-speaker
 * statistics over each (speaker, virtual speaker)'s real frames. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "check.h"
#include "synth_corpus.h"
#include "ser/audio.h"
#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/dataset.h"
#include "ser/features.h"
#include "ser/mfcc.h"
#include "ser/normalize.h"
#include "ser/scaler.h"
#include "ser/synth.h"
#include "ser/philox.h"
#include "ser/vtlp_draw.h"
#include "ser/wave_augment.h"

static void test_warp_function(void) {
    const double nyq = 11025.0, fhi = 4800.0;
    for (int ai = 0; ai < 5; ai++) {
        const double a = 0.8 + 0.1 * ai;
        CHECK(ser_vtlp_warp(0.0, a, fhi, nyq) == 0.0);
        CHECKF(fabs(ser_vtlp_warp(nyq, a, fhi, nyq) - nyq) < 1e-9, "alpha %g: nyquist -> %g", a,
               ser_vtlp_warp(nyq, a, fhi, nyq));
        CHECKF(fabs(ser_vtlp_warp(1000.0, a, fhi, nyq) - 1000.0 * a) < 1e-9, "alpha %g: 1 kHz", a);
        double prev = -1.0, maxjump = 0.0;
        for (int k = 0; k <= 1100; k++) { /* increasing and continuous (no step at the boundary) */
            const double w = ser_vtlp_warp(k * 10.0 < nyq ? k * 10.0 : nyq, a, fhi, nyq);
            if (k) maxjump = fmax(maxjump, w - prev);
            CHECK(w >= prev);
            prev = w;
        }
        CHECKF(maxjump < 10.0 * 1.31, "alpha %g: step %g over 10 Hz", a, maxjump);
    }
}

static void test_bank_identity(double sr, int n_fft, int n_mels, double fmin, double fmax) {
    const int n_bins = 1 + n_fft / 2;
    float *w = malloc(sizeof(float) * n_mels * n_bins), *ww = malloc(sizeof(float) * n_mels * n_bins);
    int *lo = malloc(sizeof(int) * n_mels), *hi = malloc(sizeof(int) * n_mels);
    int *wlo = malloc(sizeof(int) * n_mels), *whi = malloc(sizeof(int) * n_mels);
    ser_mel_filters(sr, n_fft, n_mels, fmin, fmax, w);
    ser_mel_filter_ranges(w, n_mels, n_bins, lo, hi);
    memset(ww, 0xff, sizeof(float) * n_mels * n_bins); /* NaN garbage: every value must be written */
    ser_mel_filters_warped(sr, n_fft, n_mels, fmin, fmax, 1.0, 4800.0, ww, wlo, whi);
    CHECKF(!memcmp(w, ww, sizeof(float) * n_mels * n_bins), "sr %g n_fft %d n_mels %d: alpha 1 bank differs", sr,
           n_fft, n_mels);
    CHECK(!memcmp(lo, wlo, sizeof(int) * n_mels) && !memcmp(hi, whi, sizeof(int) * n_mels));
    /* a warped bank's ranges are what ser_mel_filter_ranges finds in it */
    ser_mel_filters_warped(sr, n_fft, n_mels, fmin, fmax, 1.13, 4800.0, ww, wlo, whi);
    ser_mel_filter_ranges(ww, n_mels, n_bins, lo, hi);
    CHECK(!memcmp(lo, wlo, sizeof(int) * n_mels) && !memcmp(hi, whi, sizeof(int) * n_mels));
    CHECK(memcmp(w, ww, sizeof(float) * n_mels * n_bins) != 0);
    free(w), free(ww), free(lo), free(hi), free(wlo), free(whi);
}

/* The mel band holding most of a tone's energy in the middle frame, from an MFCC with
 * n_mfcc = n_mels (the ortho DCT inverts by its transpose). */
static int tone_band(ser_mfcc *m, const ser_config *cfg, double hz, double alpha) {
    const int sr = cfg->audio.sample_rate, n = sr, H = cfg->features.n_mfcc, W = cfg->features.frames;
    float *y = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * H * W), *dct = malloc(sizeof(float) * H * H);
    for (int i = 0; i < n; i++) y[i] = (float)(0.5 * sin(2.0 * 3.14159265358979323846 * hz * i / sr));
    ser_error err = {{0}};
    ser_mfcc_set_warp(m, alpha, 4800.0);
    CHECK(ser_mfcc_compute(m, y, (size_t)n, out, &err) == 0);
    ser_dct2_ortho_matrix(H, H, dct);
    const int t = W / 2;
    int best = 0;
    double bestv = -1e30;
    for (int b = 0; b < H; b++) {
        double v = 0.0;
        for (int k = 0; k < H; k++) v += (double)dct[(size_t)k * H + b] * out[(size_t)k * W + t];
        if (v > bestv) bestv = v, best = b;
    }
    free(y), free(out), free(dct);
    return best;
}

static void test_tone(void) {
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.features.n_mfcc = cfg.features.n_mels = 64;
    cfg.features.frames = 40;
    ser_error err = {{0}};
    ser_mfcc *m = ser_mfcc_create(&cfg, &err), *fresh = ser_mfcc_create(&cfg, &err);
    CHECK(m && fresh);
    const int b10 = tone_band(m, &cfg, 1000.0, 1.0), b12 = tone_band(m, &cfg, 1200.0, 1.0);
    const int b08 = tone_band(m, &cfg, 800.0, 1.0);
    const int w12 = tone_band(m, &cfg, 1000.0, 1.2), w08 = tone_band(m, &cfg, 1000.0, 0.8);
    CHECKF(b12 > b10 && b10 > b08, "bands of 800 / 1000 / 1200 Hz: %d %d %d", b08, b10, b12);
    CHECKF(abs(w12 - b12) <= 1, "1 kHz warped by 1.2: band %d, 1.2 kHz: band %d", w12, b12);
    CHECKF(abs(w08 - b08) <= 1, "1 kHz warped by 0.8: band %d, 800 Hz: band %d", w08, b08);
    /* back to alpha 1: the same bits as a state that was never warped */
    const int H = cfg.features.n_mfcc, W = cfg.features.frames, n = 22050;
    float *y = malloc(sizeof(float) * n), *a = malloc(sizeof(float) * H * W), *b = malloc(sizeof(float) * H * W);
    for (int i = 0; i < n; i++) y[i] = (float)(0.3 * sin(0.05 * i) + 0.2 * sin(0.31 * i + 0.001 * i * i / n));
    ser_mfcc_set_warp(m, 1.07, 4800.0);
    CHECK(ser_mfcc_compute(m, y, (size_t)n, a, &err) == 0);
    CHECK(ser_mfcc_compute(fresh, y, (size_t)n, b, &err) == 0);
    CHECK(memcmp(a, b, sizeof(float) * H * W) != 0);
    ser_mfcc_set_warp(m, 1.0, 4800.0);
    CHECK(ser_mfcc_compute(m, y, (size_t)n, a, &err) == 0);
    CHECK(!memcmp(a, b, sizeof(float) * H * W));
    free(y), free(a), free(b);
    ser_mfcc_free(m), ser_mfcc_free(fresh);
}

/* The documented draws: u = (word + 0.5) 2^-32 of Philox counter (clip, epoch, tag, 0), key seed. */
static uint32_t philox_word(uint64_t seed, int epoch, uint32_t clip, uint32_t tag) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, tag, 0}};
    return philox4x32_10(c, k).v[0];
}
static double draw_alpha(double a, uint64_t seed, int epoch, uint32_t clip) {
    return 1.0 + a * (2.0 * (((double)philox_word(seed, epoch, clip, 0x7f1u) + 0.5) * 0x1p-32) - 1.0);
}
static uint32_t draw_group(int groups, uint64_t seed, int epoch, uint32_t clip) {
    return (uint32_t)(((uint64_t)philox_word(seed, epoch, clip, 0x7f2u) * (uint64_t)groups) >> 32);
}

static void test_alpha(void) {
    double lo = 2, hi = 0, sum = 0;
    for (uint32_t c = 0; c < 2000; c++) {
        const double a = ser_vtlp_alpha(0.1, 42, 3, c);
        lo = fmin(lo, a), hi = fmax(hi, a), sum += a;
        CHECK(a == draw_alpha(0.1, 42, 3, c));
        CHECK(ser_vtlp_group(5, 42, 3, c) == draw_group(5, 42, 3, c));
    }
    CHECKF(lo >= 0.9 && hi <= 1.1 && lo < 0.905 && hi > 1.095, "range %g..%g", lo, hi);
    CHECKF(fabs(sum / 2000 - 1.0) < 0.005, "mean %g", sum / 2000);
    CHECK(ser_vtlp_alpha(0.1, 42, 3, 5) != ser_vtlp_alpha(0.1, 42, 4, 5));
    CHECK(ser_vtlp_alpha(0.1, 42, 3, 5) != ser_vtlp_alpha(0.1, 43, 3, 5));
    CHECK(ser_vtlp_alpha(0.0, 42, 3, 5) == 1.0);
}

/* ---- the reference MFCC, from the definitions (ser/mfcc.h, ser/vtlp_draw.h), in double ---- */

/* In-place radix-2 FFT of (re, im)[0..n), n a power of 2; tw: cos and sin of -2 pi j / n, j < n / 2. */
static void fft(double *re, double *im, int n, const double *tw_re, const double *tw_im) {
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i];
            re[i] = re[j], re[j] = t;
            t = im[i], im[i] = im[j], im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        for (int i = 0; i < n; i += len)
            for (int k = 0; k < len / 2; k++) {
                const double wr = tw_re[k * (n / len)], wi = tw_im[k * (n / len)];
                const double xr = re[i + k + len / 2] * wr - im[i + k + len / 2] * wi;
                const double xi = re[i + k + len / 2] * wi + im[i + k + len / 2] * wr;
                re[i + k + len / 2] = re[i + k] - xr, im[i + k + len / 2] = im[i + k] - xi;
                re[i + k] += xr, im[i + k] += xi;
            }
    }
}

/* Slaney's mel scale (librosa htk=False): linear below 1 kHz, logarithmic above. */
static double hz_to_mel(double f) { return f < 1000.0 ? f * 3.0 / 200.0 : 15.0 + log(f / 1000.0) / (log(6.4) / 27.0); }
static double mel_to_hz(double m) { return m < 15.0 ? m * 200.0 / 3.0 : 1000.0 * exp((m - 15.0) * log(6.4) / 27.0); }

/* VTLP's warp: f alpha up to b = f_hi min(alpha, 1) / alpha, then the line to (nyquist, nyquist). */
static double warp(double f, double alpha, double f_hi, double nyq) {
    const double b = f_hi * fmin(alpha, 1.0) / alpha;
    return f <= b ? f * alpha : alpha * b + (nyq - alpha * b) * (f - b) / (nyq - b);
}

/* x (n_mfcc, W) row-major: the MFCC of y with its mel bank warped by alpha (1: none); returns the
 * clip's real frame count (min(1 + n / hop, W)). */
static int ref_mfcc(const ser_config *cfg, const float *y, size_t n, double alpha, double *x) {
    const int N = cfg->features.n_fft, hop = cfg->features.hop_length, M = cfg->features.n_mels;
    const int Q = cfg->features.n_mfcc, W = cfg->features.frames, K = N / 2 + 1;
    const double sr = cfg->audio.sample_rate, f_lo = cfg->features.fmin;
    const double f_top = cfg->features.fmax > 0 ? cfg->features.fmax : sr / 2;
    const int T = 1 + (int)(n / (size_t)hop);
    double *bank = calloc((size_t)M * K, sizeof *bank), *hz = malloc((M + 2) * sizeof *hz);
    int *lo = malloc(M * sizeof *lo), *hi = malloc(M * sizeof *hi); /* filter m is 0 outside [lo, hi) */
    double *re = malloc(N * sizeof *re), *im = malloc(N * sizeof *im), *db = malloc((size_t)M * T * sizeof *db);
    for (int m = 0; m < M + 2; m++)
        hz[m] = mel_to_hz(hz_to_mel(f_lo) + (hz_to_mel(f_top) - hz_to_mel(f_lo)) * m / (M + 1));
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            const double f = alpha == 1.0 ? k * sr / N : warp(k * sr / N, alpha, cfg->train.aug_vtlp_fhi, sr / 2);
            const double rise = (f - hz[m]) / (hz[m + 1] - hz[m]), fall = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
            bank[(size_t)m * K + k] = fmax(0.0, fmin(rise, fall)) * 2.0 / (hz[m + 2] - hz[m]);
        }
    for (int m = 0; m < M; m++) {
        lo[m] = 0, hi[m] = K;
        while (lo[m] < K && bank[(size_t)m * K + lo[m]] == 0.0) lo[m]++;
        while (hi[m] > lo[m] && bank[(size_t)m * K + hi[m] - 1] == 0.0) hi[m]--;
    }
    double *tw_re = malloc(N / 2 * sizeof *tw_re), *tw_im = malloc(N / 2 * sizeof *tw_im);
    for (int j = 0; j < N / 2; j++) tw_re[j] = cos(-2.0 * M_PI * j / N), tw_im[j] = sin(-2.0 * M_PI * j / N);
    double top = -INFINITY;
    for (int t = 0; t < T; t++) { /* centred frames: n_fft / 2 zeros before the first sample */
        for (int j = 0; j < N; j++) {
            const long s = (long)t * hop + j - N / 2;
            re[j] = s >= 0 && (size_t)s < n ? y[s] * (0.5 - 0.5 * cos(2.0 * M_PI * j / N)) : 0.0;
            im[j] = 0.0;
        }
        fft(re, im, N, tw_re, tw_im);
        for (int m = 0; m < M; m++) {
            double e = 0.0;
            for (int k = lo[m]; k < hi[m]; k++) e += bank[(size_t)m * K + k] * (re[k] * re[k] + im[k] * im[k]);
            db[(size_t)m * T + t] = 10.0 * log10(fmax(e, 1e-10));
            top = fmax(top, db[(size_t)m * T + t]);
        }
    }
    const int used = T < W ? T : W;
    double *basis = malloc(M * sizeof *basis); /* row q of the orthonormal DCT-II */
    for (int q = 0; q < Q; q++) {
        for (int m = 0; m < M; m++) basis[m] = cos(M_PI * q * (2 * m + 1) / (2.0 * M)) * sqrt((q ? 2.0 : 1.0) / M);
        for (int t = 0; t < W; t++) {
            double v = 0.0;
            for (int m = 0; t < used && m < M; m++)
                v += fmax(db[(size_t)m * T + t], top - cfg->features.top_db) * basis[m];
            x[(size_t)q * W + t] = v;
        }
    }
    free(basis);
    free(bank), free(hz), free(lo), free(hi), free(tw_re), free(tw_im), free(re), free(im), free(db);
    return used;
}

/* Worst |a - b| over n values. */
static double worst_diff(const float *a, const double *b, size_t n) {
    double w = 0.0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]));
    return w;
}

/* Per-group standardisation over the real frames used[i] of each clip, in double: the
 * coefficients of normalize.c (a constant coefficient only centred). */
static void ref_normalize(double *x, size_t n, const int *used, const int *group, int n_groups, int H, int W) {
    for (int g = 0; g < n_groups; g++)
        for (int c = 0; c < H; c++) {
            double s = 0.0, q = 0.0, cnt = 0.0;
            for (size_t i = 0; i < n; i++)
                for (int t = 0; group[i] == g && t < used[i]; t++) {
                    const double v = x[i * (size_t)H * W + (size_t)c * W + t];
                    s += v, q += v * v, cnt += 1.0;
                }
            if (cnt == 0) continue;
            const double mean = s / cnt, var = q / cnt - mean * mean;
            const double inv = var > 1e-8 * q / cnt ? 1.0 / sqrt(var) : 1.0;
            for (size_t i = 0; i < n; i++)
                for (int t = 0; group[i] == g && t < used[i]; t++) {
                    double *v = &x[i * (size_t)H * W + (size_t)c * W + t];
                    *v = (*v - mean) * inv;
                }
        }
}

/* The decoded samples of every clip (decoding is not what is tested here). */
typedef struct decoded {
    float **y;
    size_t *n;
} decoded;

static void decode_all(const ser_clips *clips, const ser_config *cfg, decoded *d) {
    ser_audio_buf buf = {0};
    ser_error err = {{0}};
    d->y = calloc(clips->n, sizeof *d->y), d->n = calloc(clips->n, sizeof *d->n);
    for (size_t i = 0; i < clips->n; i++) {
        CHECKF(ser_audio_load(clips->v[i].path, &cfg->audio, &buf, &err) == 0, "%s", err.msg);
        d->y[i] = malloc(buf.n * sizeof *d->y[i]), d->n[i] = buf.n;
        memcpy(d->y[i], buf.samples, buf.n * sizeof *buf.samples);
    }
    ser_audio_buf_free(&buf);
}

/* One epoch of the engine (no prefetch) with the identity scaler: the features before scaling. */
static int engine_epoch(const ser_config *cfg, const ser_clips *clips, int threads, uint64_t seed, int epoch,
                        float *x) {
    ser_error err = {{0}};
    const ser_scaler id = {0.0, 1.0};
    ser_wave_aug *w = ser_wave_aug_create(cfg, clips, NULL, 0, threads, 0, &err);
    const int rc = w ? ser_wave_aug_epoch(w, seed, epoch, &id, x, &err) : -1;
    if (rc) fprintf(stderr, "engine: %s\n", err.msg);
    ser_wave_aug_free(w);
    return rc;
}

/* REF_TOL: float32 MFCC against the double reference, relative to the largest value (measured
 * 1.2e-6; another clip's or group's warp is ~0.1 away, checked below). NORM_TOL: the same after
 * per-speaker standardisation, absolute (measured 3.4e-5; the real speakers' statistics: ~2.5). */
#define REF_TOL 2e-5
#define NORM_TOL 5e-4

static void test_epochs(void) {
    char dir[TEST_DIR_MAX];
    ser_corpus c;
    if (test_synth_corpus(dir, "vtlp", 2, &c) != 0) {
        CHECK(0);
        return;
    }
    ser_error err = {{0}};
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.features.normalize = SER_NORM_SPEAKER;
    cfg.features.frames = 60;
    ser_dataset ds;
    CHECKF(ser_dataset_build(&ds, &c.clips, &cfg, NULL, 0, 2, "train", &err) == 0, "%s", err.msg);
    const size_t F = ser_features_per_clip(&cfg), n = ds.n;
    CHECK(n == c.clips.n && n == 28);
    const ser_scaler sc0 = ser_scaler_fit(ds.x, n * F);
    ser_scaler_apply(&sc0, ds.x, n * F);
    float *e0 = malloc(n * F * sizeof *e0), *e0b = malloc(n * F * sizeof *e0), *e1 = malloc(n * F * sizeof *e1);
    /* aug_vtlp 0: alpha is exactly 1, the dataset pipeline's features */
    ser_wave_aug *v = ser_wave_aug_create(&cfg, &ds.clips, NULL, 0, 2, 0, &err);
    CHECKF(v != NULL, "%s", err.msg);
    CHECK(v && ser_wave_aug_epoch(v, 42, 0, &sc0, e0, &err) == 0);
    CHECK(!memcmp(e0, ds.x, n * F * sizeof *e0));
    ser_wave_aug_free(v);
    cfg.train.aug_vtlp = 0.15;
    v = ser_wave_aug_create(&cfg, &ds.clips, NULL, 0, 2, 0, &err);
    ser_wave_aug *v1 = ser_wave_aug_create(&cfg, &ds.clips, NULL, 0, 1, 0, &err); /* another thread count */
    CHECK(v && v1 && ser_wave_aug_epoch(v, 42, 0, &sc0, e0, &err) == 0 &&
          ser_wave_aug_epoch(v1, 42, 0, &sc0, e0b, &err) == 0);
    CHECK(!memcmp(e0, e0b, n * F * sizeof *e0));
    CHECK(memcmp(e0, ds.x, n * F * sizeof *e0) != 0);
    CHECK(ser_wave_aug_epoch(v, 42, 1, &sc0, e1, &err) == 0 && memcmp(e0, e1, n * F * sizeof *e0) != 0);
    CHECK(ser_wave_aug_epoch(v, 42, 0, &sc0, e1, &err) == 0 && !memcmp(e0, e1, n * F * sizeof *e0));
    /* the warp moves the features; continuously: a tiny warp moves them a little */
    double d = 0, r = 0;
    for (size_t i = 0; i < n * F; i++) d += (e0[i] - ds.x[i]) * (e0[i] - ds.x[i]), r += ds.x[i] * ds.x[i];
    CHECKF(sqrt(d / r) > 0.05, "relative change %g", sqrt(d / r));
    ser_wave_aug_free(v), ser_wave_aug_free(v1);
    cfg.train.aug_vtlp = 1e-5;
    v = ser_wave_aug_create(&cfg, &ds.clips, NULL, 0, 2, 0, &err);
    CHECK(v && ser_wave_aug_epoch(v, 42, 0, &sc0, e0, &err) == 0);
    d = 0;
    for (size_t i = 0; i < n * F; i++) d += (e0[i] - ds.x[i]) * (e0[i] - ds.x[i]);
    CHECKF(sqrt(d / r) > 0 && sqrt(d / r) < 0.01, "relative change %g for alpha within 1e-5 of 1", sqrt(d / r));
    ser_wave_aug_free(v);

    /* Each clip's features against the reference (normalize 0, identity scaler): a warp per clip,
     * then per virtual speaker (K = 3: the group's warp, keyed 0x80000000 + group). */
    decoded dec;
    decode_all(&ds.clips, &cfg, &dec);
    double *ref = malloc(n * F * sizeof *ref), *wrong = malloc(n * F * sizeof *wrong);
    int *used = malloc(n * sizeof *used), *group = malloc(n * sizeof *group);
    cfg.features.normalize = SER_NORM_NONE;
    cfg.train.aug_vtlp = 0.15;
    for (int K = 0; K <= 3; K += 3) {
        cfg.train.aug_vtlp_speakers = K;
        const uint64_t seed = 7;
        const int epoch = 2;
        CHECK(engine_epoch(&cfg, &ds.clips, 2, seed, epoch, e0) == 0);
        int groups_seen[3] = {0, 0, 0};
        double scale = 0.0;
        for (size_t i = 0; i < n; i++) {
            const uint32_t g = K ? draw_group(K, seed, epoch, (uint32_t)i) : 0;
            groups_seen[g % 3] = 1;
            const uint32_t key = K ? 0x80000000u + g : (uint32_t)i;
            /* the wrong warp: the next clip's, or the next group's */
            const uint32_t other = K ? 0x80000000u + (g + 1) % K : (uint32_t)(i + 1) % n;
            ref_mfcc(&cfg, dec.y[i], dec.n[i], draw_alpha(0.15, seed, epoch, key), ref + i * F);
            ref_mfcc(&cfg, dec.y[i], dec.n[i], draw_alpha(0.15, seed, epoch, other), wrong + i * F);
        }
        for (size_t i = 0; i < n * F; i++) scale = fmax(scale, fabs(ref[i]));
        const double err_ref = worst_diff(e0, ref, n * F) / scale, err_wrong = worst_diff(e0, wrong, n * F) / scale;
        CHECKF(err_ref <= REF_TOL, "K = %d: the warped features differ from the reference by %.3g of the scale", K,
               err_ref);
        CHECKF(err_wrong > 20 * REF_TOL, "K = %d: another warp's reference is as close (%.3g): the test cannot tell",
               K, err_wrong);
        if (K) CHECKF(groups_seen[0] + groups_seen[1] + groups_seen[2] >= 2, "groups used: only one");
    }

    /* train.aug_vtlp_speakers with features.normalize = 2: every clip standardised by the
     * statistics of its (speaker, virtual speaker), the warped real frames of that group alone */
    cfg.features.normalize = SER_NORM_SPEAKER;
    cfg.train.aug_vtlp_speakers = 3;
    const uint64_t seed = 11;
    const int epoch = 4, H = cfg.features.n_mfcc, W = cfg.features.frames;
    CHECK(engine_epoch(&cfg, &ds.clips, 2, seed, epoch, e0) == 0);
    /* groups: (speaker, virtual speaker), numbered here; and the real speakers alone */
    int *real = malloc(n * sizeof *real), n_groups = 0, n_real = 0;
    for (size_t i = 0; i < n; i++) {
        const uint32_t g = draw_group(3, seed, epoch, (uint32_t)i);
        group[i] = real[i] = -1;
        for (size_t j = 0; j < i; j++) {
            const int same = !strcmp(ds.clips.v[i].speaker, ds.clips.v[j].speaker);
            if (same && real[i] < 0) real[i] = real[j];
            if (same && draw_group(3, seed, epoch, (uint32_t)j) == g && group[i] < 0) group[i] = group[j];
        }
        if (real[i] < 0) real[i] = n_real++;
        if (group[i] < 0) group[i] = n_groups++;
        const double alpha = draw_alpha(0.15, seed, epoch, 0x80000000u + g);
        used[i] = ref_mfcc(&cfg, dec.y[i], dec.n[i], alpha, ref + i * F);
    }
    CHECKF(n_groups > n_real, "%d virtual speakers over %d speakers: the test needs a speaker split", n_groups, n_real);
    memcpy(wrong, ref, n * F * sizeof *ref);
    ref_normalize(ref, n, used, group, n_groups, H, W);
    ref_normalize(wrong, n, used, real, n_real, H, W); /* statistics of the whole real speaker */
    const double err_ref = worst_diff(e0, ref, n * F), err_wrong = worst_diff(e0, wrong, n * F);
    CHECKF(err_ref <= NORM_TOL, "normalised per virtual speaker: %.3g from the reference", err_ref);
    CHECKF(err_wrong > 20 * NORM_TOL, "the real speakers' statistics give features as close (%.3g)",
           err_wrong);

    for (size_t i = 0; i < n; i++) free(dec.y[i]);
    free(dec.y), free(dec.n), free(ref), free(wrong), free(used), free(group), free(real);
    free(e0), free(e0b), free(e1);
    ser_dataset_free(&ds);
    ser_corpus_free(&c);
    test_synth_corpus_remove(dir);
}

int main(void) {
    test_warp_function();
    test_bank_identity(22050, 2048, 128, 0, 11025);
    test_bank_identity(16000, 512, 40, 50, 7000);
    test_bank_identity(22050, 2048, 256, 0, 11025); /* narrow filters: some are empty */
    test_tone();
    test_alpha();
    test_epochs();
    return check_finish("test_vtlp");
}
