/* VTLP augmentation: the warp function; the warped mel bank at alpha 1 is ser_mel_filters bit
 * for bit (and its ranges ser_mel_filter_ranges'); a warped MFCC moves a tone's energy to the
 * mel band of alpha times its frequency; the per-epoch features of a synthetic corpus at
 * aug_vtlp = 0 are the dataset pipeline's (decode, MFCC, per-speaker normalisation, scaler) bit
 * for bit, and with aug_vtlp > 0 are a function of (seed, epoch): the same twice, another epoch
 * differs. */
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
#include "ser/vtlp.h"

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

static void test_alpha(void) {
    double lo = 2, hi = 0, sum = 0;
    for (uint32_t c = 0; c < 2000; c++) {
        const double a = ser_vtlp_alpha(0.1, 42, 3, c);
        lo = fmin(lo, a), hi = fmax(hi, a), sum += a;
        CHECK(a == ser_vtlp_alpha(0.1, 42, 3, c));
    }
    CHECKF(lo >= 0.9 && hi <= 1.1 && lo < 0.905 && hi > 1.095, "range %g..%g", lo, hi);
    CHECKF(fabs(sum / 2000 - 1.0) < 0.005, "mean %g", sum / 2000);
    CHECK(ser_vtlp_alpha(0.1, 42, 3, 5) != ser_vtlp_alpha(0.1, 42, 4, 5));
    CHECK(ser_vtlp_alpha(0.1, 42, 3, 5) != ser_vtlp_alpha(0.1, 43, 3, 5));
    CHECK(ser_vtlp_alpha(0.0, 42, 3, 5) == 1.0);
}

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
    ser_vtlp *v = ser_vtlp_create(&cfg, &ds.clips, 2, &err); /* aug_vtlp 0: alpha is exactly 1 */
    CHECKF(v != NULL, "%s", err.msg);
    CHECK(v && ser_vtlp_epoch(v, 42, 0, &sc0, e0, &err) == 0);
    CHECK(!memcmp(e0, ds.x, n * F * sizeof *e0));
    ser_vtlp_free(v);
    cfg.train.aug_vtlp = 0.15;
    v = ser_vtlp_create(&cfg, &ds.clips, 2, &err);
    ser_vtlp *v1 = ser_vtlp_create(&cfg, &ds.clips, 1, &err); /* another thread count */
    CHECK(v && v1 && ser_vtlp_epoch(v, 42, 0, &sc0, e0, &err) == 0 && ser_vtlp_epoch(v1, 42, 0, &sc0, e0b, &err) == 0);
    CHECK(!memcmp(e0, e0b, n * F * sizeof *e0));
    CHECK(memcmp(e0, ds.x, n * F * sizeof *e0) != 0);
    CHECK(ser_vtlp_epoch(v, 42, 1, &sc0, e1, &err) == 0 && memcmp(e0, e1, n * F * sizeof *e0) != 0);
    CHECK(ser_vtlp_epoch(v, 42, 0, &sc0, e1, &err) == 0 && !memcmp(e0, e1, n * F * sizeof *e0));
    /* the warp moves the features; continuously: a tiny warp moves them a little */
    double d = 0, r = 0;
    for (size_t i = 0; i < n * F; i++) d += (e0[i] - ds.x[i]) * (e0[i] - ds.x[i]), r += ds.x[i] * ds.x[i];
    CHECKF(sqrt(d / r) > 0.05, "relative change %g", sqrt(d / r));
    ser_vtlp_free(v), ser_vtlp_free(v1);
    cfg.train.aug_vtlp = 1e-5;
    v = ser_vtlp_create(&cfg, &ds.clips, 2, &err);
    CHECK(v && ser_vtlp_epoch(v, 42, 0, &sc0, e0, &err) == 0);
    d = 0;
    for (size_t i = 0; i < n * F; i++) d += (e0[i] - ds.x[i]) * (e0[i] - ds.x[i]);
    CHECKF(sqrt(d / r) > 0 && sqrt(d / r) < 0.01, "relative change %g for alpha within 1e-5 of 1", sqrt(d / r));
    ser_vtlp_free(v);
    /* virtual speakers: every clip gets its group's warp (normalize 0: the scaled MFCC itself) */
    cfg.features.normalize = 0;
    cfg.train.aug_vtlp = 0.15;
    cfg.train.aug_vtlp_speakers = 3;
    v = ser_vtlp_create(&cfg, &ds.clips, 2, &err);
    CHECK(v && ser_vtlp_epoch(v, 7, 2, &sc0, e0, &err) == 0);
    ser_mfcc *m = ser_mfcc_create(&cfg, &err);
    ser_audio_buf buf = {0};
    int used[3] = {0, 0, 0}, same = 1;
    openblas_set_num_threads(1);
    for (size_t i = 0; i < n; i++) {
        const uint32_t g = ser_vtlp_group(3, 7, 2, (uint32_t)i);
        CHECK(g < 3);
        used[g < 3 ? g : 0] = 1;
        ser_mfcc_set_warp(m, ser_vtlp_alpha(0.15, 7, 2, 0x80000000u + g), cfg.train.aug_vtlp_fhi);
        CHECK(ser_audio_load(ds.clips.v[i].path, &cfg.audio, &buf, &err) == 0);
        CHECK(ser_mfcc_compute(m, buf.samples, buf.n, e1 + i * F, &err) == 0);
        ser_scaler_apply(&sc0, e1 + i * F, F);
        same &= !memcmp(e1 + i * F, e0 + i * F, F * sizeof *e1);
    }
    CHECK(same);
    CHECKF(used[0] + used[1] + used[2] >= 2, "groups used: %d %d %d", used[0], used[1], used[2]);
    ser_audio_buf_free(&buf);
    ser_mfcc_free(m);
    ser_vtlp_free(v);
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
