/* Waveform augmentation (ser/wave_augment.h): speed 1.1 by soxr shortens a tone to n / 1.1 samples
 * and raises its pitch by 1.1 (0.9: the other way); noise mixed at SNR s measures s; white noise
 * is flat, pink falls with frequency; the draws stay in their ranges; the per-epoch features of a
 * synthetic corpus are a function of (seed, epoch, clip) alone: the same with 1 or 2 threads,
 * with or without the audio cache (or a cache too small for all clips), with or without the
 * prefetch thread (also when the first epoch asked for is not 0, as after --resume), and every
 * augmentation changes them; noise folders fail clearly when empty or holding a bad file. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "synth_corpus.h"
#include "ser/audio.h"
#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/dataset.h"
#include "ser/features.h"
#include "ser/normalize.h"
#include "ser/scaler.h"
#include "ser/wave_augment.h"

/* Frequency of a tone from its rising zero crossings (first to last, interpolated). */
static double tone_hz(const float *y, size_t n, double sr) {
    double first = -1, last = -1;
    int count = 0;
    for (size_t i = 1000; i + 1000 < n; i++) /* away from the filter's edges */
        if (y[i - 1] < 0 && y[i] >= 0) {
            const double t = (double)(i - 1) + y[i - 1] / (double)(y[i - 1] - y[i]);
            if (first < 0) first = t;
            else count++;
            last = t;
        }
    return count > 0 ? count * sr / (last - first) : 0;
}

static void test_speed(void) {
    const size_t n = 22050;
    float *x = malloc(n * sizeof *x), *y = malloc(2 * n * sizeof *y), *y2 = malloc(2 * n * sizeof *y2);
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * sin(2 * 3.14159265358979323846 * 440.0 * i / 22050.0));
    ser_error err = {{0}};
    void *cache = NULL;
    double cf = 0;
    const double f[3] = {1.1, 0.9, 1.0};
    for (int k = 0; k < 3; k++) {
        const size_t ny = ser_wave_speed_len(n, f[k]);
        CHECKF(ny == (size_t)ceil(n / f[k]), "speed %g: %zu samples", f[k], ny);
        CHECKF(ser_wave_speed(x, n, f[k], y, &cache, &cf, &err) == 0, "%s", err.msg);
        const double hz = tone_hz(y, ny, 22050.0);
        CHECKF(fabs(hz / (440.0 * f[k]) - 1.0) < 0.002, "speed %g: tone at %.2f Hz, want %.2f", f[k], hz, 440.0 * f[k]);
        /* the content really is resampled, not cut: the last samples are the tone, not zeros */
        double tail = 0;
        for (size_t i = ny - 400; i < ny - 200; i++) tail += fabs(y[i]);
        CHECKF(tail / 200 > 0.2, "speed %g: tail level %g", f[k], tail / 200);
        /* a fresh soxr state and a reused (cleared) one give the same bits */
        CHECK(ser_wave_speed(x, n, f[k], y2, NULL, NULL, &err) == 0 && !memcmp(y, y2, ny * sizeof *y));
        CHECK(ser_wave_speed(x, n, f[k], y2, &cache, &cf, &err) == 0 && !memcmp(y, y2, ny * sizeof *y));
    }
    ser_wave_speed_free(&cache);
    free(x), free(y), free(y2);
}

static double power(const float *x, size_t n) {
    double p = 0;
    for (size_t i = 0; i < n; i++) p += (double)x[i] * x[i];
    return p / n;
}

/* var of the first difference / var: 2 for white noise, small when low frequencies dominate */
static double diff_ratio(const float *z, size_t n) {
    double d = 0;
    for (size_t i = 1; i < n; i++) d += (double)(z[i] - z[i - 1]) * (z[i] - z[i - 1]);
    return d / (n - 1) / power(z, n);
}

static void test_noise(void) {
    const size_t n = 44100;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *z = malloc(n * sizeof *z), *z2 = malloc(n * sizeof *z);
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.3 * sin(0.05 * i) + 0.1 * sin(0.71 * i));
    ser_wave_noise(SER_NOISE_WHITE, 42, 3, 17, z, n);
    double m = 0;
    for (size_t i = 0; i < n; i++) m += z[i];
    CHECKF(fabs(m / n) < 0.02 && fabs(power(z, n) - 1.0) < 0.03, "white: mean %g power %g", m / n, power(z, n));
    const double rw = diff_ratio(z, n);
    CHECKF(fabs(rw - 2.0) < 0.05, "white: diff ratio %g (flat spectrum: 2)", rw);
    ser_wave_noise(SER_NOISE_WHITE, 42, 3, 17, z2, n);
    CHECK(!memcmp(z, z2, n * sizeof *z));
    ser_wave_noise(SER_NOISE_WHITE, 42, 4, 17, z2, n);
    CHECK(memcmp(z, z2, n * sizeof *z) != 0);
    ser_wave_noise(SER_NOISE_WHITE, 42, 3, 18, z2, n);
    CHECK(memcmp(z, z2, n * sizeof *z) != 0);
    ser_wave_noise(SER_NOISE_PINK, 42, 3, 17, z2, n);
    const double rp = diff_ratio(z2, n);
    CHECKF(rp < 0.5, "pink: diff ratio %g (1/f: well below white's 2)", rp);
    /* pink: -3 dB per octave: the power of a 2-sample average over the power at half rate... more
     * directly: the averaged signal keeps most of pink's power and half of white's */
    double pw = 0, pp = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        const double aw = 0.5 * (z[i] + z[i + 1]), ap = 0.5 * (z2[i] + z2[i + 1]);
        pw += aw * aw, pp += ap * ap;
    }
    pw /= power(z, n) * (n / 2), pp /= power(z2, n) * (n / 2);
    CHECKF(fabs(pw - 0.5) < 0.03 && pp > 0.8, "low half of the spectrum: white %g (0.5), pink %g", pw, pp);
    const double snrs[3] = {0.0, 10.0, 23.5};
    for (int k = 0; k < 3; k++) {
        memcpy(y, x, n * sizeof *y);
        ser_wave_mix_snr(y, z2, n, snrs[k]);
        for (size_t i = 0; i < n; i++) z[i] = y[i] - x[i];
        const double s = 10 * log10(power(x, n) / power(z, n));
        CHECKF(fabs(s - snrs[k]) < 0.01, "SNR %g: measured %g dB", snrs[k], s);
    }
    memset(y, 0, n * sizeof *y); /* silence stays silence (no SNR to keep) */
    ser_wave_mix_snr(y, z2, n, 10.0);
    CHECK(power(y, n) == 0);
    free(x), free(y), free(z), free(z2);
}

static void test_draws(void) {
    ser_config cfg;
    ser_config_defaults(&cfg);
    ser_train_config *t = &cfg.train;
    CHECK(!ser_wave_aug_changes_audio(t) && !ser_wave_aug_recomputes_features(t));
    t->aug_vtlp = 0.1; /* VTLP alone: new features every epoch from unchanged audio */
    CHECK(!ser_wave_aug_changes_audio(t) && ser_wave_aug_recomputes_features(t));
    t->aug_vtlp = 0;
    t->aug_speed = 0.1, t->aug_wave_shift = 0.25, t->aug_wave_gain = 6;
    t->aug_noise_kind = SER_NOISE_FOLDER, t->aug_noise_prob = 0.5, t->aug_noise_snr_min = 5, t->aug_noise_snr_max = 15;
    CHECK(ser_wave_aug_changes_audio(t) && ser_wave_aug_recomputes_features(t));
    int speeds[3] = {0, 0, 0}, noisy = 0, files[5] = {0};
    long smin = 0, smax = 0;
    for (uint32_t c = 0; c < 3000; c++) {
        ser_wave_draw d, d2;
        ser_wave_draw_make(t, 16000, 7, 2, c, 5, &d);
        ser_wave_draw_make(t, 16000, 7, 2, c, 5, &d2);
        CHECK(!memcmp(&d, &d2, sizeof d));
        const int s = d.speed == 0.9 ? 0 : d.speed == 1.0 ? 1 : d.speed == 1.1 ? 2 : -1;
        CHECKF(s >= 0, "speed %.17g", d.speed);
        if (s >= 0) speeds[s]++;
        CHECK(labs(d.shift) <= 4000 && fabs(d.gain_db) <= 6);
        smin = d.shift < smin ? d.shift : smin, smax = d.shift > smax ? d.shift : smax;
        CHECK(d.snr_db >= 5 && d.snr_db <= 15 && d.noise_file < 5 && d.noise_pos >= 0 && d.noise_pos < 1);
        noisy += d.noise;
        files[d.noise_file < 5 ? d.noise_file : 0]++;
    }
    CHECKF(speeds[0] > 900 && speeds[1] > 900 && speeds[2] > 900, "speeds %d %d %d", speeds[0], speeds[1], speeds[2]);
    CHECKF(smin < -3800 && smax > 3800, "shifts %ld..%ld", smin, smax);
    CHECKF(noisy > 1350 && noisy < 1650, "noise in %d of 3000 at p 0.5", noisy);
    for (int i = 0; i < 5; i++) CHECKF(files[i] > 450, "noise file %d drawn %d times", i, files[i]);
}

/* Features of epochs 0..2 of one wave_aug, into out (3, n, F). */
static int epochs3(const ser_config *cfg, const ser_clips *clips, const char *const *noise, size_t n_noise, int threads,
                   int prefetch, int first, const ser_scaler *sc, float *out, size_t nF) {
    ser_error err = {{0}};
    ser_wave_aug *w = ser_wave_aug_create(cfg, clips, noise, n_noise, threads, prefetch, &err);
    if (!w) {
        fprintf(stderr, "FAIL: create: %s\n", err.msg);
        return -1;
    }
    int rc = 0;
    for (int e = first; !rc && e < 3; e++) {
        rc = ser_wave_aug_epoch(w, 42, e, sc, out + (size_t)e * nF, &err);
        if (rc) fprintf(stderr, "FAIL: epoch %d: %s\n", e, err.msg);
    }
    ser_wave_aug_free(w);
    return rc;
}

static void test_epochs(void) {
    char dir[TEST_DIR_MAX], ndir[TEST_DIR_MAX];
    ser_corpus c, nc;
    if (test_synth_corpus(dir, "wave", 2, &c) != 0 || test_synth_corpus(ndir, "wave_noise", 1, &nc) != 0) {
        CHECK(0);
        return;
    }
    ser_error err = {{0}};
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.features.normalize = SER_NORM_SPEAKER;
    cfg.features.frames = 60;
    cfg.train.epochs = 3;
    ser_dataset ds;
    CHECKF(ser_dataset_build(&ds, &c.clips, &cfg, NULL, 0, 2, "train", &err) == 0, "%s", err.msg);
    const size_t F = ser_features_per_clip(&cfg), n = ds.n, nF = n * F;
    const ser_scaler sc = ser_scaler_fit(ds.x, nF);
    ser_scaler_apply(&sc, ds.x, nF);
    float *ref = malloc(3 * nF * sizeof *ref), *got = malloc(3 * nF * sizeof *got);
    char **noise = NULL;
    size_t n_noise = 0;
    CHECKF(ser_noise_list(ndir, &noise, &n_noise, &err) == 0 && n_noise == nc.clips.n, "%s (%zu files)", err.msg,
           n_noise);
    const char *const *nz = (const char *const *)noise;

    /* VTLP off, no waveform key: the dataset pipeline's features, bit for bit */
    CHECK(epochs3(&cfg, &ds.clips, NULL, 0, 2, 1, 0, &sc, got, nF) == 0);
    for (int e = 0; e < 3; e++) CHECKF(!memcmp(got + e * nF, ds.x, nF * sizeof *got), "no augmentation: epoch %d differs", e);
    CHECK(epochs3(&cfg, &ds.clips, NULL, 0, 2, 0, 0, &sc, got, nF) == 0);
    for (int e = 0; e < 3; e++) CHECKF(!memcmp(got + e * nF, ds.x, nF * sizeof *got), "no augmentation, no prefetch: epoch %d differs", e);

    const struct {
        const char *name;
        double speed, shift, gain;
        int noise;
        double vtlp;
    } cases[] = {{"speed", 0.1, 0, 0, 0, 0},       {"shift", 0, 0.3, 0, 0, 0},
                 {"gain", 0, 0, 6, 0, 0},          {"white", 0, 0, 0, SER_NOISE_WHITE, 0},
                 {"pink", 0, 0, 0, SER_NOISE_PINK, 0}, {"folder", 0, 0, 0, SER_NOISE_FOLDER, 0},
                 {"all + vtlp", 0.1, 0.2, 6, SER_NOISE_FOLDER, 0.1}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ser_config a = cfg;
        a.train.aug_speed = cases[k].speed, a.train.aug_wave_shift = cases[k].shift, a.train.aug_wave_gain = cases[k].gain;
        a.train.aug_noise_kind = cases[k].noise, a.train.aug_vtlp = cases[k].vtlp;
        a.train.aug_noise_snr_min = 0, a.train.aug_noise_snr_max = 10;
        a.train.audio_cache_mb = 0; /* the reference: decoded every epoch, 1 thread, no prefetch */
        if (epochs3(&a, &ds.clips, nz, n_noise, 1, 0, 0, &sc, ref, nF) != 0) {
            CHECK(0);
            continue;
        }
        CHECKF(memcmp(ref, ds.x, nF * sizeof *ref) != 0, "%s: features unchanged", cases[k].name);
        CHECKF(memcmp(ref, ref + nF, nF * sizeof *ref) != 0, "%s: epochs 0 and 1 equal", cases[k].name);
        /* 2 threads, cache for all, prefetch */
        a.train.audio_cache_mb = 1024;
        CHECK(epochs3(&a, &ds.clips, nz, n_noise, 2, 1, 0, &sc, got, nF) == 0);
        CHECKF(!memcmp(ref, got, 3 * nF * sizeof *ref), "%s: 2 threads + cache + prefetch differ", cases[k].name);
        /* a cache of 1 MiB (3 of the 28 clips), prefetch, starting at epoch 1 (a resume) */
        a.train.audio_cache_mb = 1;
        memset(got, 0, 3 * nF * sizeof *got);
        CHECK(epochs3(&a, &ds.clips, nz, n_noise, 2, 1, 1, &sc, got, nF) == 0);
        CHECKF(!memcmp(ref + nF, got + nF, 2 * nF * sizeof *ref), "%s: partial cache / resumed prefetch differ",
               cases[k].name);
    }
    /* the cache holds what it may: nothing, up to 1 MiB, every clip */
    {
        ser_config a = cfg;
        a.train.aug_wave_gain = 3;
        size_t all = 0, biggest = 0;
        ser_audio_buf buf = {0};
        for (size_t i = 0; i < n; i++) {
            CHECK(ser_audio_load(ds.clips.v[i].path, &a.audio, &buf, &err) == 0);
            all += buf.n * sizeof(float), biggest = buf.n * sizeof(float) > biggest ? buf.n * sizeof(float) : biggest;
        }
        ser_audio_buf_free(&buf);
        CHECKF(all > 2 << 20, "the corpus decodes to %zu bytes: too few for the 1 MiB case", all);
        const int mbs[3] = {0, 1, 1024};
        for (int k = 0; k < 3; k++) {
            a.train.audio_cache_mb = mbs[k];
            ser_wave_aug *w = ser_wave_aug_create(&a, &ds.clips, NULL, 0, 2, 0, &err);
            CHECK(w && ser_wave_aug_epoch(w, 42, 0, &sc, got, &err) == 0 && ser_wave_aug_epoch(w, 42, 1, &sc, got, &err) == 0);
            const size_t held = w ? ser_wave_aug_cached_bytes(w) : 0, cap = (size_t)mbs[k] << 20;
            CHECKF(k == 2 ? held == all : held <= cap && held + biggest > cap, "cache of %d MiB holds %zu bytes (all: %zu)",
                   mbs[k], held, all);
            ser_wave_aug_free(w);
        }
    }
    /* bad input: clear errors naming the thing */
    {
        char empty[TEST_DIR_MAX + 16], bad[TEST_DIR_MAX + 32];
        snprintf(empty, sizeof empty, "%s/empty", ndir);
        CHECK(mkdir(empty, 0777) == 0);
        char **p = NULL;
        size_t np = 0;
        CHECKF(ser_noise_list(empty, &p, &np, &err) == -1 && strstr(err.msg, "no .wav files") && strstr(err.msg, empty),
               "%s", err.msg);
        CHECKF(ser_noise_list("/nonexistent/noise", &p, &np, &err) == -1 && strstr(err.msg, "/nonexistent/noise"),
               "%s", err.msg);
        snprintf(bad, sizeof bad, "%s/empty/Bad.WAV", ndir);
        FILE *f = fopen(bad, "w");
        CHECK(f && fputs("not audio at all", f) >= 0 && fclose(f) == 0);
        CHECK(ser_noise_list(empty, &p, &np, &err) == 0 && np == 1);
        ser_config a = cfg;
        a.train.aug_noise_kind = SER_NOISE_FOLDER;
        ser_wave_aug *w = ser_wave_aug_create(&a, &ds.clips, (const char *const *)p, np, 1, 0, &err);
        CHECKF(!w && strstr(err.msg, "Bad.WAV") && strstr(err.msg, "noise file"), "bad noise file: %s", err.msg);
        ser_noise_list_free(p, np);
        CHECKF(!ser_wave_aug_create(&a, &ds.clips, NULL, 0, 1, 0, &err) && strstr(err.msg, "--noise-dir"), "%s", err.msg);
        a.train.aug_noise_kind = SER_NOISE_WHITE, a.train.aug_noise_snr_min = 20, a.train.aug_noise_snr_max = 10;
        CHECKF(!ser_wave_aug_create(&a, &ds.clips, NULL, 0, 1, 0, &err) && strstr(err.msg, "aug_noise_snr_min"), "%s",
               err.msg);
        ser_config b;
        ser_config_defaults(&b);
        CHECK(ser_config_set(&b, "train.aug_noise_kind=pink", &err) == 0 && b.train.aug_noise_kind == SER_NOISE_PINK);
        CHECKF(ser_config_set(&b, "train.aug_noise_kind=brown", &err) == -1 && strstr(err.msg, "aug_noise_kind"), "%s",
               err.msg);
        /* waveform augmentation and VTLP take pitch rows (the one feature loop computes them);
         * the speaker warp of features.vtln does not */
        CHECKF(ser_config_set(&b, "features.f0_rows=2", &err) == 0, "%s", err.msg);
        CHECKF(ser_config_set(&b, "train.aug_vtlp=0.1", &err) == 0, "%s", err.msg);
        CHECKF(ser_config_set(&b, "features.vtln=0.1", &err) == -1 && strstr(err.msg, "features.vtln"), "%s", err.msg);
    }
    /* pitch rows (features.f0_rows): no augmentation gives the dataset's features (MFCC and pitch
     * rows) bit for bit; a gain changes them, the same with and without threads / prefetch */
    {
        ser_config a = cfg;
        a.features.f0_rows = 2;
        ser_dataset dp;
        CHECKF(ser_dataset_build(&dp, &c.clips, &a, NULL, 0, 2, "train", &err) == 0, "%s", err.msg);
        const size_t Fp = ser_features_per_clip(&a), nFp = dp.n * Fp;
        CHECK(Fp == F + 2 * (size_t)a.features.frames);
        const ser_scaler sp = ser_scaler_fit(dp.x, nFp);
        ser_scaler_apply(&sp, dp.x, nFp);
        float *pg = malloc(3 * nFp * sizeof *pg), *pr = malloc(3 * nFp * sizeof *pr);
        CHECK(pg && pr && epochs3(&a, &dp.clips, NULL, 0, 2, 1, 0, &sp, pg, nFp) == 0);
        for (int e = 0; pg && e < 3; e++)
            CHECKF(!memcmp(pg + e * nFp, dp.x, nFp * sizeof *pg), "f0_rows, no augmentation: epoch %d differs", e);
        a.train.aug_wave_gain = 6, a.train.audio_cache_mb = 0;
        CHECK(pr && epochs3(&a, &dp.clips, NULL, 0, 1, 0, 0, &sp, pr, nFp) == 0);
        CHECK(pg && epochs3(&a, &dp.clips, NULL, 0, 2, 1, 0, &sp, pg, nFp) == 0);
        CHECKF(pr && memcmp(pr, dp.x, nFp * sizeof *pr) != 0, "f0_rows + gain: features unchanged");
        CHECKF(pr && pg && !memcmp(pr, pg, 3 * nFp * sizeof *pr), "f0_rows + gain: 2 threads + prefetch differ");
        free(pg), free(pr);
        ser_dataset_free(&dp);
    }
    ser_noise_list_free(noise, n_noise);
    free(ref), free(got);
    ser_dataset_free(&ds);
    ser_corpus_free(&c), ser_corpus_free(&nc);
    test_synth_corpus_remove(dir), test_synth_corpus_remove(ndir);
}

int main(void) {
    test_speed();
    test_noise();
    test_draws();
    test_epochs();
    return check_finish("test_wave_augment");
}
