/* features.normalize: per-clip and per-speaker CMVN over the real frames, padding untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "ser/normalize.h"

enum { H = 3, W = 8 };

/* Clip with `used` real frames of values a + b * c + t * (c + 1) (distinct per coefficient), zero padding. */
static void make_clip(float *x, int used, float a) {
    memset(x, 0, sizeof(float) * H * W);
    for (int c = 0; c < H; c++)
        for (int t = 0; t < used; t++) x[c * W + t] = a + 10.0f * c + (float)(t * (c + 1));
}

/* Mean and variance of coefficient c over frames [0, used) of clips x[0..n). */
static void moments(const float *x, int n, const int *used, int c, double *mean, double *var) {
    double s = 0, q = 0, k = 0;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < used[i]; t++) {
            const double v = x[(size_t)i * H * W + c * W + t];
            s += v, q += v * v, k++;
        }
    *mean = s / k;
    *var = q / k - *mean * *mean;
}

int main(void) {
    ser_error e = {{0}};
    float x[3 * H * W];
    make_clip(x, 5, 100.0f);
    CHECK(ser_clip_frames_used(x, H, W) == 5);
    x[1 * W + 6] = 1e-30f; /* one non-zero value in a later frame makes it real */
    CHECK(ser_clip_frames_used(x, H, W) == 7);
    memset(x, 0, sizeof x);
    CHECK(ser_clip_frames_used(x, H, W) == 0);

    /* per clip: every coefficient of every clip has mean 0 and variance 1 over its real frames */
    const int used[3] = {5, 8, 3};
    make_clip(x, used[0], 100.0f);
    make_clip(x + H * W, used[1], -40.0f);
    make_clip(x + 2 * H * W, used[2], 7.0f);
    float ref[3 * H * W];
    memcpy(ref, x, sizeof x);
    CHECK(ser_normalize(SER_NORM_NONE, x, 3, NULL, H, W, &e) == 0 && memcmp(x, ref, sizeof x) == 0);
    CHECKF(ser_normalize(SER_NORM_CLIP, x, 3, NULL, H, W, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 3; i++) {
        for (int c = 0; c < H; c++) {
            double mean, var;
            moments(x + i * H * W, 1, &used[i], c, &mean, &var);
            CHECKF(fabs(mean) < 1e-5 && fabs(var - 1.0) < 1e-4, "clip %d c%d mean %g var %g", i, c, mean, var);
        }
        for (int c = 0; c < H; c++)
            for (int t = used[i]; t < W; t++) CHECK(x[i * H * W + c * W + t] == 0.0f); /* padding stays zero */
    }

    /* per speaker: clips 0 and 2 are speaker A, clip 1 speaker B; statistics pooled per speaker */
    memcpy(x, ref, sizeof x);
    ser_clip clips[3] = {{"a0", "x", "A", "", ""}, {"b0", "x", "B", "", ""}, {"a1", "x", "A", "", ""}};
    CHECKF(ser_normalize(SER_NORM_SPEAKER, x, 3, clips, H, W, &e) == 0, "%s", e.msg);
    float a[2 * H * W];
    memcpy(a, x, sizeof(float) * H * W);
    memcpy(a + H * W, x + 2 * H * W, sizeof(float) * H * W);
    const int ua[2] = {used[0], used[2]};
    for (int c = 0; c < H; c++) {
        double mean, var;
        moments(a, 2, ua, c, &mean, &var);
        CHECKF(fabs(mean) < 1e-5 && fabs(var - 1.0) < 1e-4, "speaker A c%d mean %g var %g", c, mean, var);
        moments(x + H * W, 1, &used[1], c, &mean, &var);
        CHECKF(fabs(mean) < 1e-5 && fabs(var - 1.0) < 1e-4, "speaker B c%d mean %g var %g", c, mean, var);
        /* pooled, not per clip: speaker A's clips keep their offset against each other */
        double m0, v0;
        moments(a, 1, ua, c, &m0, &v0);
        CHECK(m0 > 0.5);
    }
    CHECK(ser_normalize(SER_NORM_SPEAKER, x, 3, NULL, H, W, &e) != 0 && strstr(e.msg, "speaker"));
    CHECK(ser_normalize(5, x, 3, NULL, H, W, &e) != 0 && strstr(e.msg, "features.normalize"));

    /* a constant coefficient is only centred (no division by ~0) */
    float k[H * W] = {0};
    for (int c = 0; c < H; c++)
        for (int t = 0; t < 4; t++) k[c * W + t] = c == 1 ? 5.0f : (float)t + 1.0f;
    CHECK(ser_normalize(SER_NORM_CLIP, k, 1, NULL, H, W, &e) == 0);
    for (int t = 0; t < 4; t++) CHECK(k[1 * W + t] == 0.0f && isfinite(k[t]));
    /* speaker groups: one per (speaker, corpus), numbered by first appearance ("A" of two
     * corpora is two speakers) */
    ser_clip g[5] = {{"p", "x", "A", "", "c1"}, {"p", "x", "B", "", "c1"}, {"p", "x", "A", "", "c2"},
                     {"p", "x", "A", "", "c1"}, {"p", "x", "", "", "c1"}};
    uint32_t gi[5];
    size_t ng = 0;
    CHECK(ser_speaker_groups(g, 5, gi, &ng, &e) == 0);
    CHECK(ng == 4 && gi[0] == 0 && gi[1] == 1 && gi[2] == 2 && gi[3] == 0 && gi[4] == 3);

    /* per speaker in O(clips): 200k clips of 50k speakers (each clip's speaker compared with
     * every other's was ~5e9 string compares, tens of seconds); every speaker's values end
     * with mean 0 (each normalised with its own speaker's statistics) */
    {
        const size_t n = 200000, S = 50000;
        enum { h = 1, w = 2 };
        float *xs = malloc(n * h * w * sizeof *xs);
        ser_clip *cs = calloc(n, sizeof *cs);
        char (*names)[16] = malloc(S * sizeof *names);
        CHECK(xs && cs && names);
        for (size_t s = 0; s < S; s++) snprintf(names[s], sizeof names[s], "spk%zu", s);
        for (size_t i = 0; i < n; i++) {
            cs[i] = (ser_clip){"p", "x", names[(i * 7919) % S], "", "c"};
            xs[i * 2] = (float)(i % 11), xs[i * 2 + 1] = (float)(1 + i % 13);
        }
        const clock_t t0 = clock();
        CHECK(ser_normalize(SER_NORM_SPEAKER, xs, n, cs, h, w, &e) == 0);
        const double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECKF(sec < 10.0, "per-speaker normalisation of %zu clips, %zu speakers: %.1f s CPU", n, S, sec);
        double *mean = calloc(S, sizeof *mean);
        CHECK(mean != NULL);
        for (size_t i = 0; mean && i < n; i++) mean[(i * 7919) % S] += (double)xs[i * 2] + xs[i * 2 + 1];
        int centred = mean != NULL;
        for (size_t s = 0; centred && s < S; s++) centred = fabs(mean[s]) < 1e-4;
        CHECK(centred);
        free(xs), free(cs), free(names), free(mean);
    }
    return check_finish("test_normalize");
}
