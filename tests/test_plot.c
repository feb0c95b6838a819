/* Plots: training history and confusion matrix PNGs are written (valid PNG signature and
 * IHDR of the requested size, no temporary file left), and a bad output path is a clear error.
 * The pixels are read back (libpng): each curve's colour where its data puts it and not where
 * no data is, each confusion cell's colour by its fraction, and text (titles, tick labels,
 * class names, counts) around and inside the axes. Set SER_PLOT_KEEP=DIR to keep the images. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

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

/* ---- the pixels ---------------------------------------------------------------------- */

typedef struct image {
    int w, h;
    unsigned char *rgb; /* (h, w, 3) */
} image;

static int image_read(const char *path, image *im) {
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    im->rgb = NULL;
    if (!png_image_begin_read_from_file(&p, path)) {
        CHECKF(0, "%s: libpng: %s", path, p.message);
        return -1;
    }
    p.format = PNG_FORMAT_RGB;
    im->w = (int)p.width, im->h = (int)p.height;
    im->rgb = malloc(PNG_IMAGE_SIZE(p));
    if (!im->rgb || !png_image_finish_read(&p, NULL, im->rgb, 0, NULL)) {
        CHECKF(0, "%s: libpng: %s", path, p.message);
        free(im->rgb);
        im->rgb = NULL;
        png_image_free(&p);
        return -1;
    }
    return 0;
}

static const unsigned char *px(const image *im, int x, int y) { return im->rgb + ((size_t)y * im->w + x) * 3; }

/* Largest channel difference between pixel (x, y) and the colour c. */
static int colour_dist(const image *im, int x, int y, const unsigned char c[3]) {
    const unsigned char *p = px(im, x, y);
    int d = 0;
    for (int k = 0; k < 3; k++) d = abs(p[k] - c[k]) > d ? abs(p[k] - c[k]) : d;
    return d;
}

/* 1 when a pixel within r of (x, y) has colour c (within tol per channel). */
static int colour_near(const image *im, int x, int y, int r, const unsigned char c[3], int tol) {
    for (int yy = y - r; yy <= y + r; yy++)
        for (int xx = x - r; xx <= x + r; xx++)
            if (xx >= 0 && yy >= 0 && xx < im->w && yy < im->h && colour_dist(im, xx, yy, c) <= tol) return 1;
    return 0;
}

/* Pixels of the text colour (dark grey, every channel < 100) in the box [x0, x1) x [y0, y1). */
static int dark_pixels(const image *im, int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < im->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < im->w; x++) {
            const unsigned char *p = px(im, x, y);
            n += p[0] < 100 && p[1] < 100 && p[2] < 100;
        }
    return n;
}

/* The colours host/train/plot.c draws with (matplotlib's tab10 blue, orange, green). */
static const unsigned char BLUE[3] = {31, 119, 180}, ORANGE[3] = {255, 127, 14}, GREEN[3] = {44, 160, 44};

/* A history panel: viewport [vx0, vx1] x [0.17, 0.88] of the page (plot.c's history_panel),
 * world x 1..n, y the series' range padded by 6 %. */
typedef struct panel {
    double vx0, vx1, lo, hi;
    int n;
} panel;

static panel panel_of(double vx0, double vx1, int n, const double *a, const double *b, const double *c) {
    panel p = {vx0, vx1, INFINITY, -INFINITY, n};
    const double *series[3] = {a, b, c};
    for (int s = 0; s < 3; s++)
        for (int i = 0; series[s] && i < n; i++)
            if (isfinite(series[s][i])) p.lo = fmin(p.lo, series[s][i]), p.hi = fmax(p.hi, series[s][i]);
    const double pad = (p.hi - p.lo) * 0.06;
    p.lo -= pad, p.hi += pad;
    return p;
}

static void to_pixel(const image *im, const panel *p, double epoch, double v, int *x, int *y) {
    const double fx = p->vx0 + (p->vx1 - p->vx0) * (epoch - 1) / (p->n - 1);
    const double fy = 0.17 + (0.88 - 0.17) * (v - p->lo) / (p->hi - p->lo);
    *x = (int)lround(fx * im->w);
    *y = (int)lround((1 - fy) * im->h);
}

/* Each series' colour at its points (dots are drawn at every point for n <= 40), unless a
 * series drawn later covers that point; at a height no series is near, none of the colours
 * (checked left of the legend). */
static void check_curves(const image *im, const char *name, const panel *p, const double *const *series,
                         const unsigned char *const *colours, int nseries) {
    int seen = 0, missed = 0, stray = 0;
    for (int i = 0; i < p->n; i++) {
        int ys[3], x = 0;
        for (int s = 0; s < nseries; s++) to_pixel(im, p, i + 1, isfinite(series[s][i]) ? series[s][i] : NAN, &x, &ys[s]);
        for (int s = 0; s < nseries; s++) {
            if (!isfinite(series[s][i])) continue;
            int covered = 0;
            for (int t = s + 1; t < nseries; t++) covered |= isfinite(series[t][i]) && abs(ys[t] - ys[s]) < 10;
            if (covered) continue;
            if (colour_near(im, x, ys[s], 3, colours[s], 40)) seen++;
            else {
                missed++;
                if (missed <= 3) fprintf(stderr, "%s: series %d epoch %d: no colour near (%d, %d)\n", name, s, i + 1, x, ys[s]);
            }
        }
        /* a height 40 px away from every series (and inside the panel): none of the colours;
         * in the first third of the epochs, left of the legend (which has them all) */
        if (3 * i >= p->n) continue;
        int top, bottom;
        to_pixel(im, p, 1, p->hi, &x, &top);
        to_pixel(im, p, 1, p->lo, &x, &bottom);
        to_pixel(im, p, i + 1, p->lo, &x, &bottom);
        for (int y = top + 5; y < bottom - 5; y += 7) {
            int far = 1;
            for (int s = 0; s < nseries; s++) far &= !isfinite(series[s][i]) || abs(y - ys[s]) > 40;
            if (!far) continue;
            for (int s = 0; s < nseries; s++) stray += colour_near(im, x, y, 1, colours[s], 40);
        }
    }
    CHECKF(seen > 0 && missed == 0, "%s: %d points found in their colour, %d missing", name, seen, missed);
    CHECKF(stray == 0, "%s: %d series-coloured pixels far from every series", name, stray);
}

/* Text present: dark pixels above the axes (title), below (tick labels, "Epoch") and left
 * (tick labels, the y label). */
static void check_text(const image *im, const char *name, int ax0, int ay0, int ax1, int ay1) {
    const int above = dark_pixels(im, ax0, 0, ax1, ay0 - 4), below = dark_pixels(im, ax0, ay1 + 4, ax1, im->h);
    const int left = dark_pixels(im, ax0 - 115 < 0 ? 0 : ax0 - 115, ay0, ax0 - 4, ay1);
    CHECKF(above > 300 && below > 300 && left > 300, "%s: text pixels above %d, below %d, left %d", name, above, below, left);
}

/* Confusion matrix: viewport [0.19, 0.84] x [0.15, 0.90] (plot.c); cell (i, j) with row i
 * from the top, coloured white -> Blues by the fraction of its row, its count written inside. */
static void check_confusion(const image *im, const int64_t *cm, int nclass) {
    const double x0 = 0.19 * im->w, x1 = 0.84 * im->w, y0 = (1 - 0.90) * im->h, y1 = (1 - 0.15) * im->h;
    const double cw = (x1 - x0) / nclass, ch = (y1 - y0) / nclass;
    const double pos[3] = {0, 0.5, 1}, r[3] = {1, 0.42, 0.03}, g[3] = {1, 0.68, 0.19}, b[3] = {1, 0.84, 0.42};
    int bad_fill = 0, bad_text = 0;
    for (int i = 0; i < nclass; i++) {
        int64_t row = 0;
        for (int j = 0; j < nclass; j++) row += cm[i * nclass + j];
        for (int j = 0; j < nclass; j++) {
            const double f = (double)cm[i * nclass + j] / (double)row;
            const int k = f < 0.5 ? 0 : 1;
            const double t = (f - pos[k]) / (pos[k + 1] - pos[k]);
            const unsigned char want[3] = {(unsigned char)lround(255 * (r[k] + t * (r[k + 1] - r[k]))),
                                           (unsigned char)lround(255 * (g[k] + t * (g[k + 1] - g[k]))),
                                           (unsigned char)lround(255 * (b[k] + t * (b[k + 1] - b[k])))};
            /* the fill, away from the number in the middle */
            const int fx = (int)(x0 + (j + 0.12) * cw), fy = (int)(y0 + (i + 0.12) * ch);
            if (colour_dist(im, fx, fy, want) > 12) {
                bad_fill++;
                const unsigned char *p = px(im, fx, fy);
                fprintf(stderr, "confusion cell (%d, %d), fraction %.3f: (%d, %d, %d), want (%d, %d, %d)\n", i, j, f,
                        p[0], p[1], p[2], want[0], want[1], want[2]);
            }
            /* the count: pixels unlike the fill in the middle of the cell */
            int ink = 0;
            for (int y = (int)(y0 + (i + 0.3) * ch); y < (int)(y0 + (i + 0.7) * ch); y++)
                for (int x = (int)(x0 + (j + 0.3) * cw); x < (int)(x0 + (j + 0.7) * cw); x++) ink += colour_dist(im, x, y, want) > 80;
            bad_text += ink < 15;
        }
    }
    CHECKF(bad_fill == 0, "%d confusion cells not in the colour of their fraction", bad_fill);
    CHECKF(bad_text == 0, "%d confusion cells without their count written", bad_text);
    /* class names left of the matrix and below it, the titles */
    const int left = dark_pixels(im, 0, (int)y0, (int)x0 - 4, (int)y1), below = dark_pixels(im, (int)x0, (int)y1 + 4, (int)x1, im->h);
    const int above = dark_pixels(im, (int)x0, 0, (int)x1, (int)y0 - 4);
    CHECKF(left > 500 && below > 500 && above > 300, "confusion: text pixels left %d, below %d, above %d", left, below, above);
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
    image im;
    if (image_read(hist, &im) == 0) {
        const panel pa = panel_of(0.085, 0.475, N, acc, vacc, vuar), pl = panel_of(0.585, 0.975, N, loss, vloss, NULL);
        const double *acc_series[3] = {acc, vacc, vuar}, *loss_series[2] = {loss, vloss};
        const unsigned char *colours[3] = {BLUE, ORANGE, GREEN};
        check_curves(&im, "accuracy panel", &pa, acc_series, colours, 3);
        check_curves(&im, "loss panel", &pl, loss_series, colours, 2);
        int ax0, ay0, ax1, ay1;
        to_pixel(&im, &pa, 1, pa.hi, &ax0, &ay0);
        to_pixel(&im, &pa, N, pa.lo, &ax1, &ay1);
        check_text(&im, "accuracy panel", ax0, ay0, ax1, ay1);
        to_pixel(&im, &pl, 1, pl.hi, &ax0, &ay0);
        to_pixel(&im, &pl, N, pl.lo, &ax1, &ay1);
        check_text(&im, "loss panel", ax0, ay0, ax1, ay1);
        free(im.rgb);
    }

    const char *labels[7] = {"angry", "disgust", "fear", "happy", "neutral", "ps", "sad"};
    int64_t cm[49];
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 7; j++) cm[i * 7 + j] = i == j ? 70 + 3 * i : (i + 2 * j) % 5 == 0 ? 4 : (i * j) % 3;
    CHECKF(ser_plot_confusion(conf, "Confusion matrix (validation)", cm, 7, labels, &err) == 0, "%s", err.msg);
    long s2 = check_png(conf, 900, 780);
    CHECKF(s2 > 8 * 1024, "%s: %ld bytes", conf, s2);
    if (image_read(conf, &im) == 0) {
        check_confusion(&im, cm, 7);
        free(im.rgb);
    }

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
