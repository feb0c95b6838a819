/* Pitch rows (ser/pitch.h): on a made-up clip of silence, a 200 Hz voice, white noise and a
 * 300 Hz voice, the frames whose centred window lies inside a voice are voiced at its pitch,
 * those inside silence or noise are not and hold / interpolate their neighbours' log2 F0, the
 * padding is zero and every row the same; a clip without voice gets log2(fmin); the feature
 * extractor appends the rows to the MFCCs of the same audio; f0_rows does not combine with
 * VTLN / VTLP. */
#define _GNU_SOURCE
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/audio.h"
#include "ser/config.h"
#include "ser/features.h"
#include "ser/mfcc.h"
#include "ser/pitch.h"
#include "ser/rng.h"

enum { SR = 22050, HOP = 512, HALF = 1024, FRAMES = 130, ROWS = 3 };

/* A voiced sound: five harmonics of f0 with falling amplitudes. */
static void voice(float *y, size_t from, size_t to, double f0) {
    for (size_t i = from; i < to; i++) {
        double s = 0;
        for (int h = 1; h <= 5; h++) s += sin(2 * M_PI * f0 * h * (double)i / SR) / h;
        y[i] = (float)(0.3 * s);
    }
}

static void noise(float *y, size_t from, size_t to, uint64_t seed) {
    ser_rng r = {seed};
    for (size_t i = from; i < to; i++) y[i] = (float)(0.3 * (2.0 * ser_rng_uniform(&r) - 1.0));
}

/* first and last frame whose window [t hop - n_fft/2, t hop + n_fft/2) lies inside [a, b) */
static int first_inside(size_t a) { return (int)((a + HALF + HOP - 1) / HOP); }
static int last_inside(size_t b) { return (int)((b - HALF) / HOP); }

static void test_segments(const ser_config *cfg) {
    ser_error e = {{0}};
    const size_t t1 = SR / 2, t2 = SR, t3 = SR + 6615, n = SR + 6615 + 11025; /* 0.5 s each, 0.3 s noise */
    float *y = calloc(n, sizeof *y), *out = calloc((size_t)ROWS * FRAMES, sizeof *out);
    unsigned char voiced[FRAMES];
    voice(y, t1, t2, 200.0);
    noise(y, t2, t3, 7);
    voice(y, t3, n, 300.0);
    ser_pitch *p = ser_pitch_create(cfg, &e);
    CHECKF(p != NULL, "%s", e.msg);
    if (!p) return;
    const int nv = ser_pitch_compute(p, y, n, out, voiced, &e);
    const int T = (int)ser_mfcc_stft_frames(n, HOP);
    int count = 0;
    for (int t = 0; t < FRAMES; t++) count += voiced[t];
    CHECKF(nv == count && nv > 0, "returned %d, flags %d", nv, count);
    /* inside the voices: voiced at their pitch (within 1 %) */
    for (int t = first_inside(t1); t <= last_inside(t2); t++)
        CHECKF(voiced[t] && fabs(out[t] - log2(200.0)) < 0.015, "frame %d (200 Hz): voiced %d, %g Hz", t, voiced[t],
               exp2(out[t]));
    for (int t = first_inside(t3); t <= last_inside(n) && t < T; t++)
        CHECKF(voiced[t] && fabs(out[t] - log2(300.0)) < 0.015, "frame %d (300 Hz): voiced %d, %g Hz", t, voiced[t],
               exp2(out[t]));
    /* inside the silence: unvoiced, holding the first voiced frame's value (the window of a
     * frame off by one hop would reach into the voice and be voiced) */
    int first = 0;
    while (first < FRAMES && !voiced[first]) first++;
    CHECKF(first >= last_inside(t1) + 1 && first <= first_inside(t1), "first voiced frame %d, expected %d..%d", first,
           last_inside(t1) + 1, first_inside(t1));
    for (int t = 0; t <= last_inside(t1); t++) CHECK(!voiced[t] && out[t] == out[first]);
    /* inside the noise: unvoiced, strictly between the voices, rising linearly */
    const int a = first_inside(t2), b = last_inside(t3);
    for (int t = a; t <= b; t++) {
        CHECKF(!voiced[t], "frame %d (noise) voiced", t);
        CHECKF(out[t] > log2(200.0) && out[t] < log2(300.0) && out[t] > out[t - 1], "frame %d (noise): %g", t, out[t]);
        if (t > a) CHECKF(fabs((out[t + 1] - out[t]) - (out[t] - out[t - 1])) < 1e-5, "frame %d: not linear", t);
    }
    /* the padding is zero, the rows are equal */
    for (int t = T; t < FRAMES; t++) CHECK(out[t] == 0.0f && !voiced[t]);
    for (int r = 1; r < ROWS; r++) CHECK(memcmp(out, out + (size_t)r * FRAMES, FRAMES * sizeof *out) == 0);
    /* a second clip through the same detector gives the same rows (no state carried over) */
    float *again = calloc((size_t)ROWS * FRAMES, sizeof *again);
    float *other = calloc(SR, sizeof *other);
    voice(other, 0, SR, 440.0);
    CHECK(ser_pitch_compute(p, other, SR, again, NULL, &e) > 0);
    CHECK(ser_pitch_compute(p, y, n, again, NULL, &e) == nv && memcmp(again, out, (size_t)ROWS * FRAMES * 4) == 0);

    /* no voice at all: every real frame log2(fmin), none voiced */
    noise(other, 0, SR, 11);
    CHECK(ser_pitch_compute(p, other, SR, again, voiced, &e) == 0);
    const int T2 = (int)ser_mfcc_stft_frames(SR, HOP);
    for (int t = 0; t < FRAMES; t++) CHECK(again[t] == (t < T2 ? (float)log2(SER_PITCH_FMIN) : 0.0f) && !voiced[t]);
    /* an empty clip is an error */
    CHECK(ser_pitch_compute(p, y, 0, again, NULL, &e) == -1 && strstr(e.msg, "empty"));
    ser_pitch_free(p);
    free(y), free(out), free(again), free(other);
}

/* ser_features_extract: [n_mfcc MFCC rows of the decoded audio, then the pitch rows] */
static void test_extract(const ser_config *cfg) {
    ser_error e = {{0}};
    char path[] = "/tmp/ser_test_pitch_XXXXXX.wav";
    const int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    const size_t n = 2 * SR;
    float *y = calloc(n, sizeof *y);
    voice(y, SR / 4, n, 250.0);
    SF_INFO info = {.samplerate = SR, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    CHECK(f && sf_writef_float(f, y, (sf_count_t)n) == (sf_count_t)n);
    sf_close(f);

    const size_t per = ser_features_per_clip(cfg), mf = (size_t)cfg->features.n_mfcc * FRAMES;
    CHECK(per == (size_t)(cfg->features.n_mfcc + ROWS) * FRAMES && ser_config_rows(cfg) == cfg->features.n_mfcc + ROWS);
    float *x = calloc(per, sizeof *x), *m = calloc(mf, sizeof *m), *pr = calloc((size_t)ROWS * FRAMES, sizeof *pr);
    unsigned char ok = 0;
    char *paths[1] = {path};
    CHECKF(ser_features_extract(cfg, paths, 1, 1, x, &ok, NULL, &e) == 0 && ok, "%s", e.msg);
    /* the same clip 6 times on 2 threads: every clip's rows alike (each thread builds its own
     * detectors; aubio and ser_mfcc share FFTW's planner, which must not run concurrently) */
    enum { COPIES = 6 };
    float *xs = calloc(COPIES * per, sizeof *xs);
    unsigned char oks[COPIES] = {0};
    char *many[COPIES];
    for (int i = 0; i < COPIES; i++) many[i] = path;
    CHECKF(ser_features_extract(cfg, many, COPIES, 2, xs, oks, NULL, &e) == 0, "%s", e.msg);
    for (int i = 0; i < COPIES; i++)
        CHECKF(oks[i] && memcmp(xs + i * per + mf, x + mf, (size_t)ROWS * FRAMES * sizeof *x) == 0, "copy %d", i);
    free(xs);
    ser_audio_buf buf = {0};
    ser_mfcc *mc = ser_mfcc_create(cfg, &e);
    ser_pitch *p = ser_pitch_create(cfg, &e);
    CHECK(mc && p && ser_audio_load(path, &cfg->audio, &buf, &e) == 0);
    if (mc && p && buf.n) {
        /* The same MFCCs up to the rounding of the DCT product out = D (n_mfcc, n_mels) x S^T, S the
         * floored dB mel spectrogram. The extractor runs that sgemm on 1 BLAS thread, this call on
         * OpenBLAS's default count, and OpenBLAS's Haswell/Zen kernels round an output element
         * differently depending on where it falls in a thread's share: each element is the same
         * 128-term sum (n_mels terms, not n_mfcc) in another order. The terms D[i][j] S[t][j] are up
         * to ~0.125 x 80 dB and cancel in the higher coefficients, so relative to 1 + |out| the
         * difference reached 2.3e-5 (issue 17; SkylakeX / Sandybridge / Prescott kernels happen to
         * give the same bits). Whatever the order, with or without FMA, a float sum of n products
         * is within gamma_n = n u / (1 - n u) of sum |terms| from the exact value (Higham, Accuracy
         * and Stability of Numerical Algorithms, 3.1), so two orders differ by at most twice that. */
        CHECK(ser_mfcc_compute(mc, buf.samples, buf.n, m, &e) == 0);
        const float *db = ser_mfcc_db(mc);
        const int nmel = cfg->features.n_mels, nmfcc = cfg->features.n_mfcc;
        const size_t T = ser_mfcc_stft_frames(buf.n, cfg->features.hop_length);
        float *dct = calloc((size_t)nmfcc * nmel, sizeof *dct);
        ser_dct2_ortho_matrix(nmfcc, nmel, dct);
        const double u = ldexp(1.0, -24), gamma = nmel * u / (1.0 - nmel * u);
        double worst = 0, worst_u = 0; /* |x - m| / bound, and / (u sum |terms|) to show the margin */
        for (int i = 0; i < nmfcc; i++)
            for (int t = 0; t < FRAMES; t++) {
                double abs_terms = 0;
                for (int j = 0; t < (int)T && j < nmel; j++) abs_terms += fabs((double)dct[i * nmel + j] * db[t * nmel + j]);
                const double d = fabs((double)x[i * FRAMES + t] - m[i * FRAMES + t]);
                if (d == 0) continue;
                worst = fmax(worst, d / (2 * gamma * abs_terms));
                worst_u = fmax(worst_u, d / (u * abs_terms));
            }
        CHECKF(worst <= 1.0, "MFCC rows differ by %.3g of the rounding bound (%.3g u sum |terms|)", worst, worst_u);
        if (getenv("SER_TEST_VERBOSE"))
            printf("MFCC paths: worst difference %.3g of the bound, %.3g u sum |terms|\n", worst, worst_u);
        free(dct);
        CHECK(ser_pitch_compute(p, buf.samples, buf.n, pr, NULL, &e) > 0 &&
              memcmp(x + mf, pr, (size_t)ROWS * FRAMES * sizeof *pr) == 0);
        CHECKF(fabs(x[mf + 60] - log2(250.0)) < 0.015, "%g Hz", exp2(x[mf + 60]));
    }
    ser_audio_buf_free(&buf);
    ser_mfcc_free(mc);
    ser_pitch_free(p);
    unlink(path);
    free(x), free(m), free(pr), free(y);
}

int main(void) {
    ser_error e = {{0}};
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.audio.offset = 0, cfg.audio.duration = 0;
    CHECK(ser_config_set(&cfg, "features.f0_rows=3", &e) == 0 && cfg.features.f0_rows == ROWS);
    test_segments(&cfg);
    test_extract(&cfg);

    /* f0_rows with VTLN: refused, naming both keys; with VTLP accepted (the per-epoch features
     * compute the pitch rows too: test_wave_augment) */
    ser_config bad = cfg;
    CHECK(ser_config_set(&bad, "features.vtln=0.1", &e) == -1 && strstr(e.msg, "features.f0_rows") &&
          strstr(e.msg, "features.vtln"));
    ser_config vtlp = cfg;
    CHECK(ser_config_set(&vtlp, "train.aug_vtlp=0.1", &e) == 0);
    CHECK(ser_config_set(&bad, "features.f0_rows=65", &e) == -1 && strstr(e.msg, "f0_rows"));
    bad.features.f0_rows = 0;
    ser_pitch *none = ser_pitch_create(&bad, &e);
    CHECK(none == NULL && strstr(e.msg, "f0_rows"));
    return check_finish("test_pitch");
}
