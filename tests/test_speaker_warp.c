/* Per-speaker VTLN (ser/speaker_warp.h): the statistics over real frames equal a direct computation;
 * a speaker matched against its own statistics keeps alpha 1 and its features bit for bit;
 * against the statistics of its own clips warped by 0.92 (or 1.06) the search finds exactly that
 * warp and the features become the warped MFCCs; two speakers are matched each on its own; the
 * dataset builder applies it before the normalisation, with the training split as reference. */
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
#include "ser/synth.h"
#include "ser/speaker_warp.h"

static void test_stats(void) {
    enum { H = 3, W = 5 };
    /* clip 0 uses 4 frames, clip 1 uses 2 (trailing zero columns are padding) */
    float x[2][H][W] = {{{1, 2, 3, 4, 0}, {0, 0, 0, 1, 0}, {5, 5, 5, 5, 0}},
                        {{7, 8, 0, 0, 0}, {2, 0, 0, 0, 0}, {1, 1, 0, 0, 0}}};
    double ref[2 * H];
    ser_speaker_warp_stats(&x[0][0][0], 2, H, W, ref);
    const double v0[] = {1, 2, 3, 4, 7, 8}, v1[] = {0, 0, 0, 1, 2, 0}, v2[] = {5, 5, 5, 5, 1, 1};
    const double *v[3] = {v0, v1, v2};
    for (int c = 0; c < H; c++) {
        double m = 0, q = 0;
        for (int i = 0; i < 6; i++) m += v[c][i];
        m /= 6;
        for (int i = 0; i < 6; i++) q += (v[c][i] - m) * (v[c][i] - m);
        CHECKF(fabs(ref[c] - m) < 1e-12 && fabs(ref[H + c] - sqrt(q / 6)) < 1e-12, "c%d: %g %g vs %g %g", c, ref[c],
               ref[H + c], m, sqrt(q / 6));
    }
}

/* Features of every clip with warp alpha (1: plain). */
static float *features(const ser_clips *clips, const ser_config *cfg, double alpha) {
    const size_t F = ser_features_per_clip(cfg);
    float *x = malloc(clips->n * F * sizeof *x);
    ser_mfcc *m = ser_mfcc_create(cfg, NULL);
    ser_audio_buf buf = {0};
    ser_mfcc_set_warp(m, alpha, cfg->train.aug_vtlp_fhi);
    for (size_t i = 0; i < clips->n; i++) {
        CHECK(ser_audio_load(clips->v[i].path, &cfg->audio, &buf, NULL) == 0);
        CHECK(ser_mfcc_compute(m, buf.samples, buf.n, x + i * F, NULL) == 0);
    }
    ser_audio_buf_free(&buf);
    ser_mfcc_free(m);
    return x;
}

int main(void) {
    openblas_set_num_threads(1); /* as the feature workers run the DCT: the same bits */
    test_stats();
    char dir[TEST_DIR_MAX];
    ser_corpus c;
    if (test_synth_corpus(dir, "vtln", 2, &c) != 0) return 1;
    ser_error err = {{0}};
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.features.frames = 60;
    cfg.features.vtln = 0.1;
    const int H = cfg.features.n_mfcc, W = cfg.features.frames;
    const size_t F = ser_features_per_clip(&cfg);
    /* speaker SPA alone */
    ser_clips a = {0};
    for (size_t i = 0; i < c.clips.n; i++)
        if (!strcmp(c.clips.v[i].speaker, "SPA"))
            ser_clips_push(&a, c.clips.v[i].path, c.clips.v[i].label, c.clips.v[i].speaker, NULL, NULL);
    CHECK(a.n == 14);
    float *plain = features(&a, &cfg, 1.0), *x = malloc(a.n * F * sizeof *x);
    double ref[2 * SER_VTLN_MAX_MFCC], alpha[14];
    ser_speaker_warp_stats(plain, a.n, H, W, ref);
    memcpy(x, plain, a.n * F * sizeof *x);
    CHECKF(ser_speaker_warp_apply(x, a.n, a.v, &cfg, ref, 2, NULL, alpha, &err) == 0, "%s", err.msg);
    CHECK(alpha[0] == 1.0 && alpha[13] == 1.0 && !memcmp(x, plain, a.n * F * sizeof *x));
    const double targets[2] = {1.0 + -8 / 100.0, 1.0 + 6 / 100.0}; /* the search's own grid values */
    for (int t = 0; t < 2; t++) {
        float *warped = features(&a, &cfg, targets[t]);
        ser_speaker_warp_stats(warped, a.n, H, W, ref);
        memcpy(x, plain, a.n * F * sizeof *x);
        CHECKF(ser_speaker_warp_apply(x, a.n, a.v, &cfg, ref, 2, NULL, alpha, &err) == 0, "%s", err.msg);
        CHECKF(fabs(alpha[0] - targets[t]) < 1e-12 && alpha[5] == alpha[0], "found %g for %g", alpha[0], targets[t]);
        CHECK(!memcmp(x, warped, a.n * F * sizeof *x));
        free(warped);
    }
    /* both speakers against SPA: SPA keeps 1, SPB gets its own warp; one line per speaker */
    float *all = features(&c.clips, &cfg, 1.0);
    ser_speaker_warp_stats(plain, a.n, H, W, ref);
    double al[28];
    CHECKF(ser_speaker_warp_apply(all, c.clips.n, c.clips.v, &cfg, ref, 1, "test", al, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < c.clips.n; i++) {
        const int spa = !strcmp(c.clips.v[i].speaker, "SPA");
        if (spa) CHECK(al[i] == 1.0);
        else CHECK(al[i] >= 0.9 && al[i] <= 1.1);
    }
    /* the dataset builder: the training split (SPA) fits the reference and keeps alpha 1 */
    ser_dataset ds;
    double fit[2 * SER_VTLN_MAX_MFCC];
    CHECKF(ser_dataset_build_in_memory(&ds, &a, &cfg, NULL, 0, 2, "train", ser_features_extract, fit, NULL, &err) == 0,
           "%s", err.msg);
    ser_speaker_warp_stats(plain, a.n, H, W, ref);
    CHECK(!memcmp(fit, ref, 2 * (size_t)H * sizeof *fit));
    CHECK(!memcmp(ds.x, plain, a.n * F * sizeof *x)); /* normalize 0: the features themselves */
    ser_dataset_free(&ds);
    CHECK(ser_dataset_build_in_memory(&ds, &a, &cfg, NULL, 0, 2, "test", ser_features_extract, NULL, NULL, &err) != 0 &&
          strstr(err.msg, "reference"));
    free(plain), free(x), free(all);
    ser_clips_free(&a);
    ser_corpus_free(&c);
    test_synth_corpus_remove(dir);
    return check_finish("test_speaker_warp");
}
