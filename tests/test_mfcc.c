/* MFCC against librosa 0.11: golden features made by tests/fixtures/make_mfcc_golden.py.
 * Generated signals (always): ser_mfcc on librosa's own input y. Real clips (with
 * ../shared/data): the full path, ser_audio_load + ser_mfcc, against librosa.load + mfcc.
 * Accuracy: relative L2 per clip, ||ser - librosa|| / ||librosa||, <= 1e-4 on average and
 * <= 1e-3 for the worst clip. Plus the pad/cut, n_mfcc and bad-input behaviour. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "test_util.h"
#include "ser/audio.h"
#include "ser/config.h"
#include "ser/mfcc.h"
#include "ser/npy.h"

static const double MEAN_TOL = 1e-4, WORST_TOL = 1e-3;

static float *load_npy(const char *dir, const char *name, int *ndim, size_t *shape) {
    char path[4096];
    snprintf(path, sizeof path, "%s/mfcc/%s", dir, name);
    float *data;
    ser_error e = {{0}};
    if (ser_npy_read(path, &data, ndim, shape, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return NULL;
    }
    return data;
}

static void test_generated(const char *fixtures, ser_mfcc *m) {
    static const char *NAMES[] = {"chirp", "voiced", "burst", "silence_tone", "short", "silent"};
    const int n_names = (int)(sizeof NAMES / sizeof NAMES[0]);
    float out[40 * 130];
    double sum = 0, worst = 0;
    for (int i = 0; i < n_names; i++) {
        char name[128];
        int nd_y, nd_m;
        size_t sh_y[SER_NPY_MAX_DIMS], sh_m[SER_NPY_MAX_DIMS];
        snprintf(name, sizeof name, "gen_%s_y.npy", NAMES[i]);
        float *y = load_npy(fixtures, name, &nd_y, sh_y);
        snprintf(name, sizeof name, "gen_%s_mfcc.npy", NAMES[i]);
        float *ref = load_npy(fixtures, name, &nd_m, sh_m);
        CHECKF(y && ref, "fixture gen_%s missing", NAMES[i]);
        if (!y || !ref) continue;
        CHECK(nd_y == 1 && nd_m == 2 && sh_m[0] == 40 && sh_m[1] == 130);
        ser_error e = {{0}};
        CHECKF(ser_mfcc_compute(m, y, sh_y[0], out, &e) == 0, "%s", e.msg);
        const double r = test_rel_l2(out, ref, 40 * 130);
        printf("  generated %-13s %6zu samples  rel L2 %.3g\n", NAMES[i], sh_y[0], r);
        sum += r;
        if (r > worst) worst = r;
        free(y);
        free(ref);
    }
    const double mean = sum / n_names;
    printf("generated clips: %d, rel L2 mean %.3g, worst %.3g\n", n_names, mean, worst);
    CHECKF(mean <= MEAN_TOL && worst <= WORST_TOL, "mean %.3g worst %.3g", mean, worst);
}

/* A non-default recipe (make_mfcc_golden.py ALT): every parameter comes from the config. */
static void test_alt_recipe(const char *fixtures, const ser_config *base) {
    ser_config c = *base;
    c.audio.sample_rate = 16000;
    c.features.n_fft = 1024;
    c.features.hop_length = 256;
    c.features.n_mels = 64;
    c.features.fmin = 50;
    c.features.fmax = 7000;
    c.features.top_db = 60;
    c.features.n_mfcc = 20;
    c.features.frames = 200;
    ser_error e = {{0}};
    ser_mfcc *m = ser_mfcc_create(&c, &e);
    int nd_y, nd_m;
    size_t sh_y[SER_NPY_MAX_DIMS], sh_m[SER_NPY_MAX_DIMS];
    float *y = load_npy(fixtures, "gen_voiced_y.npy", &nd_y, sh_y);
    float *ref = load_npy(fixtures, "gen_voiced_alt_mfcc.npy", &nd_m, sh_m);
    CHECKF(m && y && ref, "%s", e.msg);
    if (m && y && ref) {
        CHECK(nd_m == 2 && sh_m[0] == 20 && sh_m[1] == 200 && ser_mfcc_out_size(m) == 20 * 200);
        float out[20 * 200];
        CHECKF(ser_mfcc_compute(m, y, sh_y[0], out, &e) == 0, "%s", e.msg);
        const double r = test_rel_l2(out, ref, 20 * 200);
        printf("alternative recipe (16 kHz, n_fft 1024, hop 256, 64 mels 50-7000 Hz, top_db 60, 20 x 200): "
               "rel L2 %.3g\n", r);
        CHECKF(r <= MEAN_TOL, "rel L2 %.3g", r);
    }
    ser_mfcc_free(m);
    free(y);
    free(ref);
}

/* The reference end to end on real files: ser_audio_load + ser_mfcc against librosa.load +
 * mfcc + pad (AIFF behind .wav, 96 kHz, 48 kHz, clips shorter than the 3 s window). */
static void test_real(const char *fixtures, const char *data, const ser_config *cfg, ser_mfcc *m) {
    int nd;
    size_t sh[SER_NPY_MAX_DIMS];
    float *ref = load_npy(fixtures, "real_mfcc.npy", &nd, sh);
    char path[4096];
    snprintf(path, sizeof path, "%s/mfcc/real_paths.txt", fixtures);
    FILE *f = fopen(path, "r");
    CHECKF(ref && f && nd == 3 && sh[1] == 40 && sh[2] == 130, "real-clip fixtures missing or malformed");
    if (!ref || !f) {
        free(ref);
        if (f) fclose(f);
        return;
    }
    ser_audio_buf buf = {0};
    float out[40 * 130];
    char rel[1024];
    double sum = 0, worst = 0;
    size_t n = 0;
    while (n < sh[0] && fgets(rel, sizeof rel, f)) {
        rel[strcspn(rel, "\n")] = '\0';
        snprintf(path, sizeof path, "%s/%s", data, rel);
        ser_error e = {{0}};
        const int ok = ser_audio_load(path, &cfg->audio, &buf, &e) == 0 &&
                       ser_mfcc_compute(m, buf.samples, buf.n, out, &e) == 0;
        CHECKF(ok, "%s", e.msg);
        const double r = ok ? test_rel_l2(out, ref + n * 40 * 130, 40 * 130) : INFINITY;
        printf("  real %-44s %6zu samples  rel L2 %.3g\n", rel, ok ? buf.n : 0, r);
        sum += r;
        if (r > worst) worst = r;
        n++;
    }
    fclose(f);
    CHECKF(n == sh[0], "real_paths.txt lists %zu of %zu clips", n, sh[0]);
    const double mean = n ? sum / n : INFINITY;
    printf("real clips: %zu, rel L2 mean %.3g, worst %.3g\n", n, mean, worst);
    CHECKF(mean <= MEAN_TOL && worst <= WORST_TOL, "mean %.3g worst %.3g", mean, worst);
    ser_audio_buf_free(&buf);
    free(ref);
}

/* The floor is taken over the whole clip, then the columns past `frames` are dropped; below
 * `frames` the output is zero-padded. Same clip at frames = 130 and 300 must agree. */
static void test_pad_cut(const ser_config *base) {
    const size_t n = 6 * 22050; /* 259 frames */
    float *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = (float)(0.3 * sin(0.05 * i + 1e-6 * (double)i * i));
    ser_config c = *base;
    ser_error e = {{0}};
    c.features.frames = 130;
    ser_mfcc *a = ser_mfcc_create(&c, &e);
    c.features.frames = 300;
    ser_mfcc *b = ser_mfcc_create(&c, &e);
    CHECK(a && b);
    float *oa = malloc(40 * 130 * sizeof *oa), *ob = malloc(40 * 300 * sizeof *ob);
    CHECK(ser_mfcc_compute(a, y, n, oa, &e) == 0 && ser_mfcc_compute(b, y, n, ob, &e) == 0);
    /* The same values up to the DCT GEMM's rounding: OpenBLAS may pick another kernel (and
     * summation order) for 130 and 300 columns or 20 and 40 rows, so bits can differ. */
    double worst = 0.0, scale = 0.0;
    for (int i = 0; i < 40 * 130; i++) scale = fmax(scale, fabs(oa[i]));
    int zeros = 1, nonzero = 1;
    for (int r = 0; r < 40; r++) {
        for (int t = 0; t < 130; t++) worst = fmax(worst, fabs(oa[r * 130 + t] - ob[r * 300 + t]));
        for (int t = 259; t < 300; t++) zeros &= ob[r * 300 + t] == 0.0f;
    }
    for (int t = 0; t < 259; t++) nonzero &= ob[t] != 0.0f; /* c0 of every real frame */
    CHECKF(worst <= 1e-5 * scale, "cut to 130 differs from the first 130 of 300 frames by %g (scale %g)", worst, scale);
    CHECKF(zeros && nonzero, "padding: zeros %d, real frames nonzero %d", zeros, nonzero);
    CHECK(ser_mfcc_stft_frames(n, 512) == 259 && ser_mfcc_stft_frames(66150, 512) == 130);

    /* n_mfcc = 20 keeps the first 20 rows of the same DCT. */
    c.features.frames = 130;
    c.features.n_mfcc = 20;
    ser_mfcc *s = ser_mfcc_create(&c, &e);
    float o20[20 * 130];
    CHECK(s && ser_mfcc_compute(s, y, n, o20, &e) == 0);
    double worst20 = 0.0;
    for (int i = 0; s && i < 20 * 130; i++) worst20 = fmax(worst20, fabs(o20[i] - oa[i]));
    CHECKF(s && worst20 <= 1e-5 * scale, "n_mfcc 20 differs from the first 20 rows of 40 by %g", worst20);
    CHECK(s && ser_mfcc_out_size(s) == 20 * 130);
    ser_mfcc_free(s);
    ser_mfcc_free(a);
    ser_mfcc_free(b);
    free(oa);
    free(ob);
    free(y);
}

/* One ser_mfcc per thread, created and used concurrently (the FFTW planner is serialised
 * inside ser_mfcc_create): every thread's result equals the serial one bit for bit. */
static void test_threads(const ser_config *cfg, ser_mfcc *m) {
    enum { JOBS = 16, N = 50000 };
    static float y[N], ref[40 * 130], outs[JOBS][40 * 130];
    for (int i = 0; i < N; i++) y[i] = (float)(0.2 * sin(0.031 * i) + 0.1 * sin(0.0007 * (double)i * i / 50));
    ser_error e = {{0}};
    CHECK(ser_mfcc_compute(m, y, N, ref, &e) == 0);
    int failures = 0;
#pragma omp parallel num_threads(4) reduction(+ : failures)
    {
        ser_error te = {{0}};
        ser_mfcc *mine = ser_mfcc_create(cfg, &te);
        if (!mine) failures++;
#pragma omp for schedule(dynamic, 1)
        for (int j = 0; j < JOBS; j++)
            if (!mine || ser_mfcc_compute(mine, y, N - j * 100, outs[j], &te) != 0) failures++;
        ser_mfcc_free(mine);
    }
    CHECKF(failures == 0, "%d thread failures", failures);
    CHECK(memcmp(outs[0], ref, sizeof ref) == 0);
    int same = 1;
    for (int j = 1; j < JOBS; j++) {
        float serial[40 * 130];
        CHECK(ser_mfcc_compute(m, y, N - j * 100, serial, &e) == 0);
        same &= memcmp(outs[j], serial, sizeof serial) == 0;
    }
    CHECKF(same, "threaded results differ from serial ones");
}

static void test_bad_input(const ser_config *base, ser_mfcc *m) {
    float out[40 * 130], y[1000] = {0};
    ser_error e = {{0}};
    CHECK(ser_mfcc_compute(m, y, 0, out, &e) != 0 && strstr(e.msg, "empty"));
    y[500] = NAN;
    CHECK(ser_mfcc_compute(m, y, 1000, out, &e) != 0 && strstr(e.msg, "sample 500"));
    y[500] = 0;
    /* One sample is enough for librosa (one centred frame). */
    CHECKF(ser_mfcc_compute(m, y, 1, out, &e) == 0, "%s", e.msg);
    ser_config c = *base;
    c.features.n_mfcc = 200;
    CHECK(ser_mfcc_create(&c, &e) == NULL && strstr(e.msg, "n_mfcc"));
    c = *base;
    c.features.fmax = 20000;
    CHECK(ser_mfcc_create(&c, &e) == NULL && strstr(e.msg, "fmax"));
}

/* Tables: the mel bank's nonzero ranges are narrow, and the DCT rows are orthonormal. */
static void test_tables(void) {
    static float w[128 * 1025], d[128 * 128];
    int lo[128], hi[128], width = 0;
    ser_mel_filters(22050, 2048, 128, 0, 11025, w);
    ser_mel_filter_ranges(w, 128, 1025, lo, hi);
    for (int m = 0; m < 128; m++) width += hi[m] - lo[m];
    CHECKF(width < 2 * 1025 + 128 && lo[0] <= 1 && hi[127] <= 1025 && hi[0] > lo[0], "total filter width %d", width);
    ser_dct2_ortho_matrix(128, 128, d);
    double worst = 0;
    for (int i = 0; i < 128; i++)
        for (int j = 0; j < 128; j++) {
            double s = 0;
            for (int k = 0; k < 128; k++) s += (double)d[i * 128 + k] * d[j * 128 + k];
            worst = fmax(worst, fabs(s - (i == j)));
        }
    CHECKF(worst < 1e-5, "DCT not orthonormal: %g", worst);
}

/* features.logmel: the rows are the log-mel dB values the DCT would take, so the DCT of the
 * log-mel rows is the MFCC of the same clip with n_mfcc = n_mels; the values span at most top_db;
 * n_mfcc != n_mels is refused naming the keys. */
static void test_logmel(const ser_config *base) {
    enum { N = 22050, R = 64 };
    static float y[N], lm[R * 130], mf[R * 130], d[R * R];
    for (int i = 0; i < N; i++) y[i] = 0.3f * sinf(2.0f * 3.14159265f * (200.0f + 0.02f * i) * i / 22050.0f);
    ser_config c = *base;
    ser_error e = {{0}};
    c.features.n_mfcc = c.features.n_mels = R;
    ser_mfcc *m_mf = ser_mfcc_create(&c, &e);
    c.features.logmel = 1;
    CHECKF(ser_config_validate(&c, &e) == 0, "%s", e.msg);
    ser_mfcc *m_lm = ser_mfcc_create(&c, &e);
    CHECKF(m_mf && m_lm, "%s", e.msg);
    if (!m_mf || !m_lm) goto out;
    CHECK(ser_mfcc_compute(m_lm, y, N, lm, &e) == 0 && ser_mfcc_compute(m_mf, y, N, mf, &e) == 0);
    ser_dct2_ortho_matrix(R, R, d);
    const int T = 1 + N / c.features.hop_length;
    double worst = 0, hi = -1e30, lo = 1e30;
    for (int k = 0; k < R; k++)
        for (int t = 0; t < T; t++) {
            double s = 0;
            for (int i = 0; i < R; i++) s += (double)d[k * R + i] * lm[i * 130 + t];
            worst = fmax(worst, fabs(s - mf[k * 130 + t]));
            hi = fmax(hi, lm[k * 130 + t]), lo = fmin(lo, lm[k * 130 + t]);
        }
    CHECKF(worst < 1e-2, "DCT(log-mel) vs MFCC: max |diff| %g", worst);
    CHECKF(hi - lo <= c.features.top_db + 1e-3 && hi - lo > 10, "log-mel span %g dB (top_db %g)", hi - lo, c.features.top_db);
    c.features.n_mfcc = 40;
    CHECK(ser_config_validate(&c, &e) != 0 && strstr(e.msg, "features.logmel") && strstr(e.msg, "n_mfcc"));
out:
    ser_mfcc_free(m_mf);
    ser_mfcc_free(m_lm);
}

int main(void) {
    const char *fixtures = getenv("SER_FIXTURES");
    if (!fixtures) SKIP("SER_FIXTURES not set");
    ser_config cfg;
    ser_config_defaults(&cfg);
    ser_error e = {{0}};
    ser_mfcc *m = ser_mfcc_create(&cfg, &e);
    CHECKF(m != NULL, "%s", e.msg);
    if (!m) return check_finish("test_mfcc");
    CHECK(ser_mfcc_out_size(m) == 40 * 130);
    test_tables();
    test_logmel(&cfg);
    test_generated(fixtures, m);
    test_alt_recipe(fixtures, &cfg);
    test_pad_cut(&cfg);
    test_threads(&cfg, m);
    test_bad_input(&cfg, m);
    const char *data = check_shared_data();
    if (data) test_real(fixtures, data, &cfg, m);
    else printf("real clips: SKIPPED (no shared data)\n");
    ser_mfcc_free(m);
    return check_finish("test_mfcc");
}
