/* ser_audio_load against librosa.load (tests/fixtures/make_audio_golden.py made the goldens):
 *   1. synthetic files of every decoding path (WAV 24414 Hz, AIFF named .wav, 96 kHz, stereo
 *      48 kHz, FLAC, 22050 Hz, float WAV, a clip shorter than the window), several windows,
 *      all through ONE buffer (reuse + resampler cache), then each again through a fresh one;
 *   2. bad input written here into a temp dir: each fails with one line naming the file and
 *      the reason, or (truncated / lying header) loads what is there, as soundfile does;
 *   3. real clips from ../shared/data (length, sums, 512 samples) + time per TESS clip.
 *      Without the data the suite ends SKIPPED after parts 1 and 2 (which still fail loudly). */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "npy_read.h"
#include "ser/audio.h"
#include "ser/clock.h"

static char tmpdir[256];

/* ---- part 1: synthetic goldens -------------------------------------------------------------- */

static double max_abs, max_rel; /* worst errors over all comparisons */

/* Compares buf with a librosa output: exact length, relative L2 <= 1e-6. */
static void compare(const char *what, const float *got, size_t n, const float *ref, size_t nref) {
    CHECKF(n == nref, "%s: length %zu, librosa %zu", what, n, nref);
    if (n != nref) return;
    double d2 = 0, r2 = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)ref[i];
        d2 += d * d;
        r2 += (double)ref[i] * ref[i];
        if (fabs(d) > dmax) dmax = fabs(d);
    }
    double rel = sqrt(d2 / (r2 > 0 ? r2 : 1));
    if (dmax > max_abs) max_abs = dmax;
    if (rel > max_rel) max_rel = rel;
    CHECKF(rel <= 1e-6, "%s: relative L2 error %.3g (max abs %.3g)", what, rel, dmax);
}

static void test_golden(const char *fixtures) {
    char path[1024], line[1024], why[1024];
    snprintf(path, sizeof path, "%s/audio/golden.txt", fixtures);
    FILE *f = fopen(path, "r");
    CHECKF(f != NULL, "cannot open %s", path);
    if (!f) return;
    ser_audio_buf shared = {0};
    ser_error e = {{0}};
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256], npy[256];
        double off, dur;
        size_t len;
        if (line[0] == '#' || sscanf(line, "%255s %lf %lf %255s %zu", name, &off, &dur, npy, &len) != 5) continue;
        lines++;
        ser_audio_config cfg = {22050, off, dur, 0};
        char what[512];
        snprintf(what, sizeof what, "%s offset %g duration %g", name, off, dur);
        snprintf(path, sizeof path, "%s/audio/%s", fixtures, npy);
        npy_array ref;
        int ok = npy_read(path, &ref, why, sizeof why) == 0;
        CHECKF(ok, "%s", why);
        if (!ok) continue;
        CHECKF(strcmp(ref.descr, "<f4") == 0 && ref.ndim == 1 && ref.count == len, "%s: %s", path, ref.descr);
        snprintf(path, sizeof path, "%s/audio/%s", fixtures, name);
        int rc = ser_audio_load(path, &cfg, &shared, &e);
        CHECKF(rc == 0, "%s: %s", what, e.msg);
        if (rc == 0) {
            compare(what, shared.samples, shared.n, ref.data, ref.count);
            /* A fresh buffer (new resampler) must give the same bits as the reused one. */
            ser_audio_buf fresh = {0};
            rc = ser_audio_load(path, &cfg, &fresh, &e);
            CHECKF(rc == 0 && fresh.n == shared.n &&
                       memcmp(fresh.samples, shared.samples, shared.n * sizeof(float)) == 0,
                   "%s: fresh buffer differs from the reused one", what);
            if (strstr(name, "aiff")) CHECK(shared.source_rate == 24414 && shared.source_channels == 1);
            if (strstr(name, "stereo")) CHECK(shared.source_rate == 48000 && shared.source_channels == 2);
            if (strstr(name, "96k")) CHECK(shared.source_rate == 96000);
            ser_audio_buf_free(&fresh);
        }
        npy_free(&ref);
    }
    fclose(f);
    CHECKF(lines >= 12, "golden.txt: only %d cases", lines);
    printf("golden: %d cases, max abs error %.3g, max relative L2 error %.3g\n", lines, max_abs, max_rel);
    ser_audio_buf_free(&shared);
}

/* ---- part 2: bad input ---------------------------------------------------------------------- */

/* Writes a mono WAV: a 44-byte header claiming `claimed` frames (fmt 1 = PCM16, 3 = float32),
 * then `have` frames from `pcm` (bytes, little-endian), then `extra` trailing bytes. */
static const char *write_wav(const char *name, int fmt, int rate, uint32_t claimed, const void *pcm,
                             size_t have, size_t extra) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    int bytes = fmt == 3 ? 4 : 2;
    uint32_t data = claimed * (uint32_t)bytes, riff = 36 + data, br = (uint32_t)rate * (uint32_t)bytes;
    uint16_t tag = (uint16_t)fmt, ch = 1, align = (uint16_t)bytes, bits = (uint16_t)(8 * bytes);
    uint32_t fmtlen = 16, sr = (uint32_t)rate;
    FILE *f = fopen(path, "wb");
    SER_ASSERT(f);
    fwrite("RIFF", 1, 4, f), fwrite(&riff, 4, 1, f), fwrite("WAVEfmt ", 1, 8, f);
    fwrite(&fmtlen, 4, 1, f), fwrite(&tag, 2, 1, f), fwrite(&ch, 2, 1, f), fwrite(&sr, 4, 1, f);
    fwrite(&br, 4, 1, f), fwrite(&align, 2, 1, f), fwrite(&bits, 2, 1, f);
    fwrite("data", 1, 4, f), fwrite(&data, 4, 1, f);
    if (have) fwrite(pcm, (size_t)bytes, have, f);
    for (size_t i = 0; i < extra; i++) fputc(0, f);
    fclose(f);
    return path;
}

static const char *write_bytes(const char *name, const void *b, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    SER_ASSERT(f);
    if (n) fwrite(b, 1, n, f);
    fclose(f);
    return path;
}

/* The load must fail, the message must name the file and hold every reason word given. */
static void expect_fail(const char *path, const ser_audio_config *cfg, ser_audio_buf *b,
                        const char *w1, const char *w2) {
    ser_error e = {{0}};
    int rc = ser_audio_load(path, cfg, b, &e);
    CHECKF(rc != 0, "%s: loaded %zu samples, expected a failure (%s)", path, b->n, w1);
    CHECKF(strstr(e.msg, path) != NULL, "message does not name the file: %s", e.msg);
    CHECKF(strstr(e.msg, w1) && (!w2 || strstr(e.msg, w2)), "%s: expected '%s'%s%s: %s", path, w1,
           w2 ? " and " : "", w2 ? w2 : "", e.msg);
    CHECKF(strchr(e.msg, '\n') == NULL, "message is not one line: %s", e.msg);
    CHECK(rc != 0 && b->n == 0);
    printf("  ok: %s\n", e.msg);
}

/* The load must succeed and equal the load of `same` (the same frames in a well-formed file). */
static void expect_same(const char *path, const char *same, const ser_audio_config *cfg, size_t len) {
    ser_audio_buf a = {0}, b = {0};
    ser_error e = {{0}};
    int ra = ser_audio_load(path, cfg, &a, &e);
    CHECKF(ra == 0, "%s", e.msg);
    int rb = ser_audio_load(same, cfg, &b, &e);
    CHECKF(rb == 0, "%s", e.msg);
    CHECKF(ra == 0 && rb == 0 && a.n == len && b.n == len &&
               memcmp(a.samples, b.samples, len * sizeof(float)) == 0,
           "%s: %zu samples, expected the %zu of %s", path, a.n, len, same);
    ser_audio_buf_free(&a);
    ser_audio_buf_free(&b);
}

/* audio.trim_db: 0.7 s of near-silence (a -80 dB hum), then a tone. Trimmed at 40 dB the
 * window starts at the tone (0.70 s: block 35 of 20 ms at 22050 Hz) plus the offset; untrimmed
 * it starts in the silence; a file that is all hum keeps onset 0. */
static void test_trim(void) {
    enum { RATE = 22050, N = RATE * 2, ON = (RATE * 7) / 10 };
    static int16_t pcm[N];
    for (int i = 0; i < N; i++)
        pcm[i] = (int16_t)(i < ON ? lrint(2 * sin(0.01 * i)) : lrint(12000 * sin(0.05 * i)));
    const char *path = write_wav("trim.wav", 1, RATE, N, pcm, N, 0);
    char trim_path[512];
    snprintf(trim_path, sizeof trim_path, "%s", path);
    ser_audio_buf b = {0};
    ser_error e = {{0}};
    ser_audio_config c = {RATE, 0.1, 0.5, 40.0};
    CHECKF(ser_audio_load(trim_path, &c, &b, &e) == 0, "%s", e.msg);
    size_t want = (size_t)(0.5 * RATE);
    double first = b.n ? (double)b.samples[0] * 32768.0 : 0, ref = 12000 * sin(0.05 * (ON + (int)(0.1 * RATE)));
    CHECKF(b.n == want && fabs(first - ref) < 1.0, "trimmed: %zu samples (want %zu), first %g (want %g)", b.n, want,
           first, ref);
    c.trim_db = 0;
    CHECKF(ser_audio_load(trim_path, &c, &b, &e) == 0 && b.n == want && fabs(b.samples[0] * 32768.0) < 3,
           "untrimmed: starts in the silence (%g)", b.n ? b.samples[0] * 32768.0 : -1);
    /* an offset past the end counted from the onset fails naming the file */
    c.trim_db = 40, c.offset = 1.4;
    CHECK(ser_audio_load(trim_path, &c, &b, &e) != 0 && strstr(e.msg, "trim.wav") && strstr(e.msg, "offset"));
    for (int i = 0; i < N; i++) pcm[i] = (int16_t)lrint(2 * sin(0.01 * i));
    c.offset = 0;
    CHECKF(ser_audio_load(write_wav("hum.wav", 1, RATE, N, pcm, N, 0), &c, &b, &e) == 0 && b.n == want,
           "all hum: %s", e.msg);
    ser_audio_buf_free(&b);
}

static void test_bad_input(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ser_test_audio_XXXXXX");
    SER_ASSERT(mkdtemp(tmpdir));
    const ser_audio_config ref = {22050, 0.5, 3.0, 0};
    ser_audio_buf b = {0};
    char p[512];
    test_trim();

    /* 1 s of a 16-bit tone at 24414 Hz, TESS's rate. */
    enum { RATE = 24414 };
    static int16_t pcm[RATE];
    for (int i = 0; i < RATE; i++) pcm[i] = (int16_t)lrint(12000 * sin(0.05 * i) + 3000 * sin(0.31 * i));

    expect_fail(write_bytes("empty.wav", "", 0), &ref, &b, "empty file", NULL);
    expect_fail(write_wav("header_only.wav", 1, RATE, 0, NULL, 0, 0), &ref, &b, "no audio frames", NULL);
    /* The header claims 1 s, no data follows: libsndfile clamps to 0 frames. */
    expect_fail(write_wav("header_claims.wav", 1, RATE, RATE, NULL, 0, 0), &ref, &b, "no audio frames", NULL);

    unsigned char junk[3000];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)((s = s * 1664525u + 1013904223u) >> 24);
    memcpy(junk, "not audio", 9);
    expect_fail(write_bytes("random.wav", junk, sizeof junk), &ref, &b, "not a recognised audio file", NULL);

    /* A WAV cut inside its header. */
    write_wav("full.wav", 1, RATE, RATE, pcm, RATE, 0);
    snprintf(p, sizeof p, "%s/full.wav", tmpdir);
    FILE *f = fopen(p, "rb");
    unsigned char head[30];
    SER_ASSERT(f && fread(head, 1, sizeof head, f) == sizeof head);
    fclose(f);
    expect_fail(write_bytes("cut_header.wav", head, sizeof head), &ref, &b, "not a recognised audio file", NULL);

    /* Truncated data (claims 1 s, holds 15000 frames, plus half a frame) and a data chunk that
     * claims 100 MB: soundfile reads the frames that are there, and so do we. */
    char same[512];
    snprintf(same, sizeof same, "%s", write_wav("frames15000.wav", 1, RATE, 15000, pcm, 15000, 0));
    /* (15000 - 12207) frames -> ceil(2793 * 22050 / 24414) = 2523 samples */
    expect_same(write_wav("truncated.wav", 1, RATE, RATE, pcm, 15000, 1), same, &ref, 2523);
    snprintf(same, sizeof same, "%s/full.wav", tmpdir);
    expect_same(write_wav("lying_size.wav", 1, RATE, 50000000, pcm, RATE, 0), same, &ref, 11025);
    /* ... but when what is there ends before the offset, there is nothing to load. */
    expect_fail(write_wav("truncated_early.wav", 1, RATE, RATE, pcm, 10000, 0), &ref, &b, "shorter than the offset", NULL);
    expect_fail(write_wav("short.wav", 1, RATE, 12000, pcm, 12000, 0), &ref, &b, "shorter than the offset", NULL);

    /* Non-finite samples in a float WAV: inside the window they fail (librosa's valid_audio),
     * before the offset they are never read. */
    static float fl[RATE];
    for (int i = 0; i < RATE; i++) fl[i] = pcm[i] / 32768.0f;
    fl[20000] = NAN;
    expect_fail(write_wav("nan.wav", 3, RATE, RATE, fl, RATE, 0), &ref, &b, "non-finite", "NaN");
    fl[20000] = 0, fl[13000] = INFINITY;
    expect_fail(write_wav("inf.wav", 3, RATE, RATE, fl, RATE, 0), &ref, &b, "non-finite", "Inf");
    fl[13000] = 0, fl[100] = NAN;
    ser_error e = {{0}};
    int rc = ser_audio_load(write_wav("nan_before_offset.wav", 3, RATE, RATE, fl, RATE, 0), &ref, &b, &e);
    CHECKF(rc == 0 && b.n == 11025, "NaN before the offset: %s", rc ? e.msg : "wrong length");

    snprintf(p, sizeof p, "%s/missing.wav", tmpdir);
    expect_fail(p, &ref, &b, "cannot open", "No such file");
    snprintf(p, sizeof p, "%s/full.wav/inside.wav", tmpdir); /* a file used as a directory */
    expect_fail(p, &ref, &b, "cannot open", "Not a directory");
    if (geteuid() != 0) {
        snprintf(p, sizeof p, "%s/full.wav", tmpdir);
        chmod(p, 0);
        expect_fail(p, &ref, &b, "cannot open", "Permission denied");
        chmod(p, 0644);
    } /* else: root reads through mode 000, so that sub-case cannot be made here */
    expect_fail(tmpdir, &ref, &b, "is a directory", NULL);

    /* A golden fixture shorter than the reference offset (the script skips that window). */
    const char *fx = getenv("SER_FIXTURES");
    snprintf(p, sizeof p, "%s/audio/short_16k.wav", fx);
    expect_fail(p, &ref, &b, "shorter than the offset", NULL);

    /* The buffer still works after all those failures. */
    snprintf(p, sizeof p, "%s/full.wav", tmpdir);
    rc = ser_audio_load(p, &ref, &b, &e);
    CHECKF(rc == 0 && b.n == 11025, "load after failures: %s", rc ? e.msg : "wrong length");
    ser_audio_buf_free(&b);

    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name), unlink(p);
    if (d) closedir(d);
    rmdir(tmpdir);
}

/* ---- part 3: real clips ---------------------------------------------------------------------- */

static int close_rel(double a, double b, double scale) { return fabs(a - b) <= 1e-5 * scale; }

static void test_real(const char *data, const char *fixtures) {
    char path[1024], line[2048], why[1024];
    snprintf(path, sizeof path, "%s/audio/real.txt", fixtures);
    FILE *f = fopen(path, "r");
    CHECKF(f != NULL, "cannot open %s", path);
    if (!f) return;
    ser_audio_config cfg = {22050, 0.5, 3.0, 0};
    ser_audio_buf b = {0};
    ser_error e = {{0}};
    int clips = 0;
    while (fgets(line, sizeof line, f)) {
        char rel[512], npy[256];
        size_t len, pos2;
        double sum, sumabs, sumsq;
        if (line[0] == '#' ||
            sscanf(line, "%511s %zu %lf %lf %lf %zu %255s", rel, &len, &sum, &sumabs, &sumsq, &pos2, npy) != 7)
            continue;
        clips++;
        snprintf(path, sizeof path, "%s/%s", data, rel);
        int rc = ser_audio_load(path, &cfg, &b, &e);
        CHECKF(rc == 0, "%s", e.msg);
        if (rc) continue;
        CHECKF(b.n == len, "%s: length %zu, librosa %zu", rel, b.n, len);
        if (b.n != len) continue;
        double s = 0, sa = 0, sq = 0;
        for (size_t i = 0; i < b.n; i++) s += b.samples[i], sa += fabs(b.samples[i]), sq += (double)b.samples[i] * b.samples[i];
        CHECKF(close_rel(s, sum, sumabs) && close_rel(sa, sumabs, sumabs) && close_rel(sq, sumsq, sumsq),
               "%s: sums %.9g %.9g %.9g, librosa %.9g %.9g %.9g", rel, s, sa, sq, sum, sumabs, sumsq);
        snprintf(path, sizeof path, "%s/audio/%s", fixtures, npy);
        npy_array ref;
        int ok = npy_read(path, &ref, why, sizeof why) == 0 && ref.count == 512;
        CHECKF(ok, "%s", why);
        if (ok) {
            compare(rel, b.samples, 256, ref.data, 256);
            compare(rel, b.samples + pos2, 256, (const float *)ref.data + 256, 256);
            npy_free(&ref);
        }
    }
    fclose(f);
    CHECK(clips == 6);
    printf("real clips: %d, max abs error %.3g, max relative L2 error %.3g (over all comparisons)\n", clips,
           max_abs, max_rel);

    /* Time per clip: the first 200 clips of two TESS folders, through one buffer. */
    static const char *folders[] = {"tess/OAF_angry", "tess/YAF_neutral"};
    int n = 0;
    double t = 0;
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", data, folders[k]);
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && n < 100 * (k + 1) && (de = readdir(d))) {
            if (!strstr(de->d_name, ".wav")) continue;
            snprintf(path, sizeof path, "%s/%s/%s", data, folders[k], de->d_name);
            double t0 = ser_now_s();
            int rc = ser_audio_load(path, &cfg, &b, &e);
            t += ser_now_s() - t0;
            CHECKF(rc == 0, "%s", e.msg);
            n++;
        }
        if (d) closedir(d);
    }
    printf("time: %.3f ms per TESS clip (ser_audio_load, %d clips, one thread)\n", n ? 1e3 * t / n : 0.0, n);
    ser_audio_buf_free(&b);
}

int main(void) {
    const char *fixtures = getenv("SER_FIXTURES");
    if (!fixtures) SKIP("SER_FIXTURES not set (run through ctest)");
    test_golden(fixtures);
    test_bad_input();
    const char *data = check_shared_data();
    if (!data) {
        if (check_failed_) return check_finish("audio");
        printf("audio: %d passed (golden + bad input); real-clip part needs ../shared/data\n", check_passed_);
        SKIP("no ../shared/data for the real-clip part");
    }
    test_real(data, fixtures);
    return check_finish("audio");
}
