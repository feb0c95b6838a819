/* The streaming path of `ser predict --window`:
 *   1. ser_audio_stream returns the samples of ser_audio_load(path, offset 0, duration 0): bit
 *      for bit at the file's own rate, and through libsoxr's streaming resampler (files longer
 *      than one decode block, stereo, read in odd-sized pieces);
 *   2. ser_window_features on a window's samples equals ser_features_extract (what `ser
 *      predict` runs) on a file holding exactly those samples, with and without per-clip
 *      normalisation and pitch rows;
 *   3. bad input: each fails with one line naming the file and the reason. */
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/audio.h"
#include "ser/audio_stream.h"
#include "ser/features.h"
#include "ser/normalize.h"
#include "ser/window_features.h"

static char tmpdir[256];

/* A float WAV (exact samples) of n frames x ch channels: a chirp plus noise, silent middle. */
static void write_file(const char *path, int rate, int ch, size_t n, int format) {
    SF_INFO info = {.samplerate = rate, .channels = ch, .format = format};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    SER_ASSERT(f);
    float *x = malloc(n * (size_t)ch * sizeof *x);
    SER_ASSERT(x);
    uint64_t r = 12345;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < ch; c++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            const double t = (double)i / rate, noise = ((double)(r >> 40) / (double)(1ull << 24) - 0.5) * 0.05;
            const int quiet = i > n / 3 && i < n / 2;
            x[i * (size_t)ch + (size_t)c] = quiet ? 0.0f : (float)(0.4 * sin(6.283185307179586 * (200 + 300 * t) * t + c) + noise);
        }
    SER_ASSERT(sf_writef_float(f, x, (sf_count_t)n) == (sf_count_t)n);
    sf_close(f);
    free(x);
}

/* Streams path at rate in pieces of `piece` samples; *n gets the count. */
static float *stream_all(const char *path, int rate, size_t piece, size_t *n) {
    ser_error e = {{0}};
    ser_audio_stream *s = ser_audio_stream_open(path, rate, &e);
    CHECKF(s != NULL, "%s", e.msg);
    if (!s) return NULL;
    size_t cap = ser_audio_stream_expected(s) + 1, len = 0, got;
    float *x = malloc(cap * sizeof *x);
    SER_ASSERT(x);
    do {
        size_t want = cap - len < piece ? cap - len : piece;
        int rc = ser_audio_stream_read(s, x + len, want, &got, &e);
        CHECKF(rc == 0, "%s", e.msg);
        if (rc) break;
        len += got;
    } while (got > 0 && len < cap);
    ser_audio_stream_close(s);
    *n = len;
    return x;
}

static void test_stream_equals_load(const char *path, int rate, const char *what) {
    ser_audio_config cfg = {.sample_rate = rate, .offset = 0, .duration = 0};
    ser_audio_buf buf = {0};
    ser_error e = {{0}};
    CHECKF(ser_audio_load(path, &cfg, &buf, &e) == 0, "%s", e.msg);
    const size_t pieces[] = {1000, 65536, 7};
    for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
        size_t n = 0;
        float *x = stream_all(path, rate, pieces[k], &n);
        if (!x) continue;
        CHECKF(n == buf.n, "%s, pieces of %zu: %zu samples, ser_audio_load %zu", what, pieces[k], n, buf.n);
        size_t diff = 0;
        double dmax = 0;
        for (size_t i = 0; i < n && i < buf.n; i++)
            if (x[i] != buf.samples[i]) diff++, dmax = fmax(dmax, fabs((double)x[i] - buf.samples[i]));
        CHECKF(diff == 0, "%s, pieces of %zu: %zu samples differ (max %.3g)", what, pieces[k], diff, dmax);
        free(x);
    }
    ser_audio_buf_free(&buf);
}

/* Window [a, a + len) of the 22050 Hz samples y as a file, through ser_features_extract (+ the
 * normalisation ser_dataset_build applies), against ser_window_features on the same samples. */
static void test_window_features(const float *y, size_t ny, int normalize, int f0_rows) {
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.audio.offset = 0;
    cfg.features.normalize = normalize;
    cfg.features.f0_rows = f0_rows;
    const size_t per = ser_features_per_clip(&cfg);
    const size_t starts[] = {0, 12345, ny > 70000 ? ny - 70000 : 0}, lens[] = {66150, 30000, 70000};
    ser_error e = {{0}};
    ser_window_features *wf = ser_window_features_create(&cfg, 2, &e);
    CHECKF(wf != NULL, "%s", e.msg);
    if (!wf) return;
    float *raw = malloc(3 * per * sizeof *raw); /* each window's features as a file, unnormalised */
    const float *wy[3];
    size_t wlen[3];
    SER_ASSERT(raw);
    for (int k = 0; k < 3; k++) {
        const size_t a = starts[k], len = lens[k] < ny - a ? lens[k] : ny - a;
        char path[512];
        snprintf(path, sizeof path, "%s/window%d.wav", tmpdir, k);
        SF_INFO info = {.samplerate = 22050, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
        SNDFILE *f = sf_open(path, SFM_WRITE, &info);
        SER_ASSERT(f && sf_writef_float(f, y + a, (sf_count_t)len) == (sf_count_t)len);
        sf_close(f);
        cfg.audio.duration = (double)len / 22050.0; /* the whole file, as a window of that length */
        float *ref = malloc(per * sizeof *ref), *got = malloc(per * sizeof *got);
        unsigned char ok = 0;
        char *paths[1] = {path};
        SER_ASSERT(ref && got);
        CHECK(ser_features_extract(&cfg, paths, 1, 1, ref, &ok, NULL, &e) == 0 && ok);
        memcpy(raw + k * per, ref, per * sizeof *ref);
        wy[k] = y + a, wlen[k] = len;
        char empty[1] = "";
        const ser_clip lone = {path, empty, empty, empty, empty}; /* `ser predict FILE`: speaker "" */
        CHECKF(ser_normalize(normalize, ref, 1, &lone, ser_config_rows(&cfg), cfg.features.frames, &e) == 0, "%s", e.msg);
        const float *yp = y + a;
        CHECKF(ser_window_features_compute(wf, &yp, &len, 1, 1, got, &e) == 0, "%s", e.msg);
        size_t diff = 0;
        for (size_t i = 0; i < per; i++) diff += ref[i] != got[i];
        CHECKF(diff == 0, "window %d (normalize %d, f0_rows %d): %zu of %zu values differ", k, normalize, f0_rows,
               diff, per);
        free(ref), free(got);
    }
    if (normalize == SER_NORM_SPEAKER) {
        /* the recording's statistics from a first pass over the windows: the three files of one
         * speaker through ser_normalize */
        float *first = malloc(3 * per * sizeof *first), *got = malloc(3 * per * sizeof *got);
        SER_ASSERT(first && got);
        CHECK(ser_window_features_compute(wf, wy, wlen, 3, 0, first, &e) == 0);
        CHECK(!memcmp(first, raw, 3 * per * sizeof *raw)); /* normalized = 0: the features alone */
        ser_window_features_accumulate(wf, first, 3);
        ser_window_features_speaker_done(wf);
        CHECK(ser_window_features_compute(wf, wy, wlen, 3, 1, got, &e) == 0);
        char empty[1] = "", *one = "recording";
        const ser_clip same[3] = {{one, empty, one, empty, empty}, {one, empty, one, empty, empty},
                                  {one, empty, one, empty, empty}};
        CHECKF(ser_normalize(SER_NORM_SPEAKER, raw, 3, same, ser_config_rows(&cfg), cfg.features.frames, &e) == 0,
               "%s", e.msg);
        size_t diff = 0;
        for (size_t i = 0; i < 3 * per; i++) diff += raw[i] != got[i];
        CHECKF(diff == 0, "f0_rows %d: with the recording's speaker statistics, %zu of %zu values differ", f0_rows,
               diff, 3 * per);
        free(first), free(got);
    }
    free(raw);
    ser_window_features_free(wf);
}

static void expect_fail(const char *path, const char *needle) {
    ser_error e = {{0}};
    ser_audio_stream *s = ser_audio_stream_open(path, 22050, &e);
    CHECKF(s == NULL, "%s opened", path);
    ser_audio_stream_close(s);
    CHECKF(strstr(e.msg, path) && strstr(e.msg, needle), "message '%s' should name %s and say '%s'", e.msg, path,
           needle);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ser_test_audio_stream_XXXXXX");
    SER_ASSERT(mkdtemp(tmpdir));
    char p44[512], p22[512], p24[512];
    snprintf(p44, sizeof p44, "%s/stereo44k.wav", tmpdir);
    snprintf(p22, sizeof p22, "%s/mono22k.flac", tmpdir);
    snprintf(p24, sizeof p24, "%s/mono24414.wav", tmpdir);
    write_file(p44, 44100, 2, 300000, SF_FORMAT_WAV | SF_FORMAT_FLOAT); /* > 4 decode blocks */
    write_file(p22, 22050, 1, 150001, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
    write_file(p24, 24414, 1, 200000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    test_stream_equals_load(p22, 22050, "22050 Hz FLAC, same rate");
    test_stream_equals_load(p44, 22050, "44.1 kHz stereo -> 22050");
    test_stream_equals_load(p24, 22050, "24414 Hz -> 22050");

    size_t ny = 0;
    float *y = stream_all(p44, 22050, 65536, &ny);
    if (y) {
        test_window_features(y, ny, 0, 0);
        test_window_features(y, ny, 1, 0);
        test_window_features(y, ny, 2, 2);
        free(y);
    }
    CHECK(ser_rms_dbfs((const float[]){0, 0}, 2) == -INFINITY);
    CHECK(fabs(ser_rms_dbfs((const float[]){0.5f, -0.5f}, 2) - 20 * log10(0.5)) < 1e-9);

    char p[512];
    snprintf(p, sizeof p, "%s/missing.wav", tmpdir);
    expect_fail(p, "cannot open");
    expect_fail(tmpdir, "is a directory");
    snprintf(p, sizeof p, "%s/junk.wav", tmpdir);
    FILE *f = fopen(p, "w");
    SER_ASSERT(f);
    fputs("this is not audio, just text long enough to be looked at by libsndfile", f);
    fclose(f);
    expect_fail(p, "not a recognised audio file");

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_finish("test_audio_stream");
}
