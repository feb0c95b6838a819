/* Plots: training history and confusion matrix PNGs are written (valid PNG signature and
 * IHDR of the requested size, more than a few KB, no temporary file left), and a bad output
 * path is a clear error. Set SER_PLOT_KEEP=DIR to keep the images for a look. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/plot.h"

/* Checks the PNG signature and IHDR width/height; returns the file size or -1. */
static long check_png(const char *path, unsigned want_w, unsigned want_h) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char h[24];
    size_t n = fread(h, 1, sizeof h, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECKF(n == 24 && !memcmp(h, sig, 8) && !memcmp(h + 12, "IHDR", 4), "%s: not a PNG", path);
    unsigned w = (unsigned)h[16] << 24 | (unsigned)h[17] << 16 | (unsigned)h[18] << 8 | h[19];
    unsigned hh = (unsigned)h[20] << 24 | (unsigned)h[21] << 16 | (unsigned)h[22] << 8 | h[23];
    CHECKF(w == want_w && hh == want_h, "%s: %ux%u, want %ux%u", path, w, hh, want_w, want_h);
    return size;
}

int main(void) {
    char dir[] = "/tmp/ser_test_plot_XXXXXX";
    const char *keep = getenv("SER_PLOT_KEEP");
    if (!keep && !mkdtemp(dir)) return 1;
    const char *out = keep ? keep : dir;
    char hist[512], conf[512];
    snprintf(hist, sizeof hist, "%s/training_history.png", out);
    snprintf(conf, sizeof conf, "%s/confusion_matrix_validation.png", out);
    ser_error err = {{0}};

    /* A plausible 40-epoch curve with a missing validation value. */
    enum { N = 40 };
    double acc[N], vacc[N], vuar[N], loss[N], vloss[N];
    for (int i = 0; i < N; i++) {
        acc[i] = 1.0 - 0.85 * exp(-i / 6.0);
        vacc[i] = 1.0 - 0.87 * exp(-i / 7.0) - 0.02 * sin(i);
        vuar[i] = vacc[i] - 0.03;
        loss[i] = 2.2 * exp(-i / 6.0) + 0.05;
        vloss[i] = 2.1 * exp(-i / 7.0) + 0.09 + 0.03 * cos(i);
    }
    vloss[12] = NAN;
    /* without UA (a history written before it), then with: the third series adds ink */
    CHECKF(ser_plot_history(hist, N, acc, vacc, NULL, loss, vloss, &err) == 0, "%s", err.msg);
    long s0 = check_png(hist, 1400, 560);
    CHECKF(ser_plot_history(hist, N, acc, vacc, vuar, loss, vloss, &err) == 0, "%s", err.msg);
    long s1 = check_png(hist, 1400, 560);
    CHECKF(s1 > 8 * 1024, "%s: %ld bytes", hist, s1);
    CHECKF(s1 > s0, "the validation UA series is drawn: %ld bytes with it, %ld without", s1, s0);

    const char *labels[7] = {"angry", "disgust", "fear", "happy", "neutral", "ps", "sad"};
    int64_t cm[49];
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 7; j++) cm[i * 7 + j] = i == j ? 70 + 3 * i : (i + 2 * j) % 5 == 0 ? 4 : (i * j) % 3;
    CHECKF(ser_plot_confusion(conf, "Confusion matrix (validation)", cm, 7, labels, &err) == 0, "%s", err.msg);
    long s2 = check_png(conf, 900, 780);
    CHECKF(s2 > 8 * 1024, "%s: %ld bytes", conf, s2);

    /* One epoch and no validation: still a plot. Re-plotting replaces the file. */
    char hist1[600];
    snprintf(hist1, sizeof hist1, "%s/history_1_epoch.png", out);
    CHECKF(ser_plot_history(hist1, 1, acc, NULL, NULL, loss, NULL, &err) == 0, "%s", err.msg);
    CHECK(check_png(hist1, 1400, 560) > 4 * 1024);
    CHECKF(ser_plot_history(hist1, N, acc, NULL, NULL, loss, NULL, &err) == 0, "%s", err.msg);
    CHECK(check_png(hist1, 1400, 560) > 4 * 1024);

    /* No temporary files left behind. */
    DIR *d = opendir(out);
    int tmps = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp")) tmps++;
    if (d) closedir(d);
    CHECK(tmps == 0);

    /* Bad output path: an error naming it, not a crash or an exit inside PLplot. */
    CHECK(ser_plot_history("/nonexistent-dir/h.png", N, acc, vacc, NULL, loss, vloss, &err) == -1);
    CHECKF(strstr(err.msg, "/nonexistent-dir/h.png") && strstr(err.msg, "No such file"), "%s", err.msg);
    CHECK(ser_plot_confusion("/nonexistent-dir/c.png", "x", cm, 7, labels, &err) == -1);
    CHECK(strstr(err.msg, "/nonexistent-dir/c.png") != NULL);
    CHECK(ser_plot_history(hist, 0, acc, vacc, NULL, loss, vloss, &err) == -1 && strstr(err.msg, "no epochs"));

    if (!keep) {
        unlink(hist);
        unlink(conf);
        unlink(hist1);
        rmdir(dir);
    }
    return check_finish("plot");
}
