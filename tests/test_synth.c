/* Synthetic corpus: deterministic clips (same seed -> identical samples and files), TESS
 * layout and file names, valid 16-bit mono WAV of 1.5-3.0 s, no clipping, and the emotion
 * cues it promises (sad quieter and lower than neutral, angry louder, fear / ps higher). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sndfile.h>

#include "check.h"
#include "ser/synth.h"

/* Pitch of the loudest 2048-sample frame by autocorrelation over 70-600 Hz. */
static double pitch_of(const float *x, size_t n, int rate) {
    size_t best = 0, frame = 2048;
    double best_e = -1;
    for (size_t s = 0; s + frame <= n; s += 512) {
        double e = 0;
        for (size_t i = 0; i < frame; i++) e += (double)x[s + i] * x[s + i];
        if (e > best_e) best_e = e, best = s;
    }
    int lo = rate / 600, hi = rate / 70, arg = lo;
    double top = -1e300;
    for (int lag = lo; lag <= hi; lag++) {
        double a = 0;
        for (size_t i = 0; i + (size_t)lag < frame; i++) a += (double)x[best + i] * x[best + i + (size_t)lag];
        a /= (double)(frame - (size_t)lag);
        if (a > top) top = a, arg = lag;
    }
    return (double)rate / arg;
}

static double rms_of(const float *x, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) e += (double)x[i] * x[i];
    return sqrt(e / (double)n);
}

static long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_clips(void) {
    ser_synth_config cfg;
    ser_synth_config_default(&cfg);
    CHECK(cfg.per_class == 20 && cfg.speakers == 2 && cfg.rate == 24414);
    ser_error err = {{0}};
    double mean_rms[SER_SYNTH_NEMOTION] = {0}, mean_f0[SER_SYNTH_NEMOTION] = {0};
    const int per = 8;
    for (int e = 0; e < SER_SYNTH_NEMOTION; e++)
        for (int i = 0; i < per; i++) {
            float *x = NULL, *x2 = NULL;
            size_t n = 0, n2 = 0;
            CHECKF(ser_synth_clip(&cfg, 0, e, i, &x, &n, &err) == 0, "%s", err.msg);
            CHECKF(n >= (size_t)(1.5 * cfg.rate) - 1 && n <= (size_t)(3.0 * cfg.rate) + 1, "%zu samples", n);
            double peak = 0;
            int finite = 1;
            for (size_t k = 0; k < n; k++) {
                finite &= isfinite(x[k]);
                peak = fmax(peak, fabs(x[k]));
            }
            CHECK(finite && peak <= 0.99 && peak > 0.02);
            /* Same arguments, same samples, whatever else the config asks for. */
            ser_synth_config other = cfg;
            other.per_class = 3;
            other.speakers = 5;
            CHECK(ser_synth_clip(&other, 0, e, i, &x2, &n2, &err) == 0 && n2 == n && !memcmp(x, x2, n * sizeof *x));
            free(x2);
            mean_rms[e] += rms_of(x, n) / per;
            mean_f0[e] += pitch_of(x, n, cfg.rate) / per;
            free(x);
        }
    /* Emotion indices: angry 0, disgust 1, fear 2, happy 3, neutral 4, ps 5, sad 6. */
    for (int e = 0; e < SER_SYNTH_NEMOTION; e++)
        printf("%-8s rms %.4f  f0 %.0f Hz\n", ser_synth_emotions[e], mean_rms[e], mean_f0[e]);
    CHECK(mean_rms[6] < mean_rms[4] && mean_rms[4] < mean_rms[0]);
    CHECK(mean_f0[6] < mean_f0[4] && mean_f0[4] < mean_f0[2] && mean_f0[4] < mean_f0[5]);
    CHECK(mean_f0[4] < mean_f0[3] && mean_f0[4] < mean_f0[0]);

    /* A different seed, index or speaker gives different audio. */
    float *a, *b;
    size_t na, nb;
    ser_synth_config s2 = cfg;
    s2.seed = 2;
    CHECK(ser_synth_clip(&cfg, 1, 3, 0, &a, &na, &err) == 0 && ser_synth_clip(&s2, 1, 3, 0, &b, &nb, &err) == 0);
    CHECK(na != nb || memcmp(a, b, na * sizeof *a));
    free(b);
    CHECK(ser_synth_clip(&cfg, 0, 3, 0, &b, &nb, &err) == 0);
    CHECK(na != nb || memcmp(a, b, na * sizeof *a));
    free(a);
    free(b);

    char w[64];
    ser_synth_word(0, w, sizeof w);
    CHECK(!strcmp(w, "back"));
    ser_synth_word(50, w, sizeof w);
    CHECK(!strcmp(w, "back2"));
}

static void test_corpus(void) {
    char d1[] = "/tmp/ser_test_synth_XXXXXX";
    if (!mkdtemp(d1)) {
        CHECK(0);
        return;
    }
    char out1[512], out2[512];
    snprintf(out1, sizeof out1, "%s/a/b", d1); /* nested: created as needed */
    snprintf(out2, sizeof out2, "%s/c", d1);
    ser_synth_config cfg;
    ser_synth_config_default(&cfg);
    cfg.per_class = 2;
    ser_error err = {{0}};
    size_t n = 0;
    CHECKF(ser_synth_corpus(out1, &cfg, &n, &err) == 0, "%s", err.msg);
    CHECK(n == 2 * 7 * 2);
    CHECKF(ser_synth_corpus(out2, &cfg, &n, &err) == 0, "%s", err.msg);
    for (int s = 0; s < 2; s++)
        for (int e = 0; e < SER_SYNTH_NEMOTION; e++)
            for (int i = 0; i < 2; i++) {
                char word[64], p1[1024], p2[1024];
                ser_synth_word(i, word, sizeof word);
                const char *spk = ser_synth_speaker(s), *emo = ser_synth_emotions[e];
                snprintf(p1, sizeof p1, "%s/%s_%s/%s_%s_%s.wav", out1, spk, emo, spk, word, emo);
                snprintf(p2, sizeof p2, "%s/%s_%s/%s_%s_%s.wav", out2, spk, emo, spk, word, emo);
                CHECKF(file_size(p1) > 1000, "%s missing", p1);
                CHECKF(same_bytes(p1, p2), "%s and %s differ", p1, p2);
                SF_INFO info = {0};
                SNDFILE *f = sf_open(p1, SFM_READ, &info);
                CHECKF(f != NULL, "%s: %s", p1, sf_strerror(NULL));
                if (!f) continue;
                CHECK(info.channels == 1 && info.samplerate == 24414);
                CHECK(info.format == (SF_FORMAT_WAV | SF_FORMAT_PCM_16));
                float *x;
                size_t nx;
                CHECK(ser_synth_clip(&cfg, s, e, i, &x, &nx, &err) == 0 && info.frames == (sf_count_t)nx);
                /* The file holds the clip rounded to 16 bits. */
                float *y = malloc(nx * sizeof *y);
                sf_command(f, SFC_SET_NORM_FLOAT, NULL, SF_FALSE);
                CHECK(sf_readf_float(f, y, (sf_count_t)nx) == (sf_count_t)nx);
                double maxd = 0;
                for (size_t k = 0; k < nx; k++) maxd = fmax(maxd, fabs(y[k] - x[k] * 32767.0));
                CHECKF(maxd <= 0.5 + 1e-3, "%s: max difference %g LSB", p1, maxd);
                free(x);
                free(y);
                sf_close(f);
            }

    /* Bad settings and an output path that cannot be a folder. */
    ser_synth_config bad = cfg;
    bad.speakers = 9;
    CHECK(ser_synth_corpus(out1, &bad, &n, &err) == -1 && strstr(err.msg, "speakers"));
    bad = cfg;
    bad.rate = 100;
    CHECK(ser_synth_corpus(out1, &bad, &n, &err) == -1 && strstr(err.msg, "rate"));
    char under_file[1200];
    snprintf(under_file, sizeof under_file, "%s/SPA_angry/SPA_back_angry.wav/x", out1);
    CHECK(ser_synth_corpus(under_file, &cfg, &n, &err) == -1 && strstr(err.msg, "SPA_back_angry.wav"));

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d1);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", d1);
}

int main(void) {
    test_clips();
    test_corpus();
    return check_finish("synth");
}
