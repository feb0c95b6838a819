/* PNG plots through PLplot (pngcairo): training history, confusion matrix, emotion timeline.
 * PLplot exits the process on some internal errors, so everything that can fail for a
 * user-level reason (missing driver, unwritable folder) is checked before plinit. */
#include "ser/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plplot.h>

#define PLOT_DEVICE "pngcairo"

/* The cairo driver loads fonts through fontconfig, whose process-wide cache LeakSanitizer
 * reports at exit (SER_SANITIZE builds). It is fontconfig's by design, not ours: the hook
 * below tells LeakSanitizer so; in other builds nothing calls it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\nleak:libcairo.so\n"; }

/* cmap0 slots used below (slot 0 is the background). */
enum { C_BG = 0, C_FG = 1, C_TRAIN = 2, C_VAL = 3, C_GRID = 4, C_WHITE = 5, C_UA = 6 };

static int device_available(void) {
    const char *menus[256], *devs[256];
    const char **pm = menus, **pd = devs;
    int n = 256;
    plgDevs(&pm, &pd, &n);
    for (int i = 0; i < n; i++)
        if (!strcmp(pd[i], PLOT_DEVICE)) return 1;
    return 0;
}

/* Opens a fresh PLplot stream drawing into a temporary file next to path (its name in tmp). */
static int plot_begin(const char *path, int width, int height, char *tmp, size_t ntmp, ser_error *err) {
    if (!device_available())
        return ser_fail(err, "%s: PLplot has no %s device (install the Debian package plplot-driver-cairo)", path,
                        PLOT_DEVICE);
    if (snprintf(tmp, ntmp, "%s.tmpXXXXXX", path) >= (int)ntmp) return ser_fail(err, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return ser_fail(err, "%s: cannot create the plot file: %s", path, strerror(errno));
    close(fd);
    PLINT strm = -1;
    plmkstrm(&strm);
    if (strm < 0) {
        unlink(tmp);
        return ser_fail(err, "%s: PLplot could not open another stream", path);
    }
    plsdev(PLOT_DEVICE);
    plsfnam(tmp);
    plspage(0, 0, width, height, 0, 0);
    plscol0(C_BG, 255, 255, 255);
    plscol0(C_FG, 30, 30, 30);
    plscol0(C_TRAIN, 31, 119, 180);  /* matplotlib's blue and orange, what the reference drew */
    plscol0(C_VAL, 255, 127, 14);
    plscol0(C_GRID, 215, 215, 215);
    plscol0(C_WHITE, 255, 255, 255);
    plscol0(C_UA, 44, 160, 44);      /* matplotlib's green */
    plinit();
    plfontld(1);
    return 0;
}

/* Closes the stream, makes the file durable and moves it into place. */
static int plot_end(const char *path, const char *tmp, ser_error *err) {
    plend1();
    struct stat sb;
    int fd = open(tmp, O_RDONLY);
    int ok = fd >= 0 && fsync(fd) == 0 && fstat(fd, &sb) == 0 && sb.st_size > 0;
    if (fd >= 0) close(fd);
    if (!ok) {
        unlink(tmp);
        return ser_fail(err, "%s: PLplot wrote no image", path);
    }
    chmod(tmp, 0644);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ser_fail(err, "%s: cannot move the plot into place: %s", path, strerror(e));
    }
    return 0;
}

/* ---- training history --------------------------------------------------------------- */

static void range_of(int n, const double *a, const double *b, const double *c, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    const double *series[3] = {a, b, c};
    for (int s = 0; s < 3; s++)
        for (int i = 0; series[s] && i < n; i++)
            if (isfinite(series[s][i])) *lo = fmin(*lo, series[s][i]), *hi = fmax(*hi, series[s][i]);
    if (!isfinite(*lo)) *lo = 0, *hi = 1;
    double pad = (*hi - *lo) * 0.06;
    if (pad <= 0) pad = fabs(*hi) * 0.05 + 0.05;
    *lo -= pad;
    *hi += pad;
}

/* 1 when y has a finite point (a history written before UA has none). */
static int has_points(int n, const double *y) {
    for (int i = 0; y && i < n; i++)
        if (isfinite(y[i])) return 1;
    return 0;
}

/* A series as a polyline broken at NAN points, with dots when there are few epochs. */
static void draw_series(int n, const double *y, int colour, PLFLT *xs, PLFLT *ys) {
    if (!y) return;
    plcol0(colour);
    plwidth(2.5);
    int m = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && isfinite(y[i])) {
            xs[m] = i + 1;
            ys[m++] = y[i];
            continue;
        }
        if (m > 1) plline(m, xs, ys);
        if (m > 0 && n <= 40) plpoin(m, xs, ys, 17);
        m = 0;
    }
    plwidth(1.0);
}

/* One panel: train (tr), validation (va) and, when it has points, validation UA (ua). */
static void history_panel(double x0, double x1, int n, const double *tr, const double *va, const double *ua,
                          const char *ylabel, const char *title, PLINT legend_pos, PLFLT *xs, PLFLT *ys) {
    if (!has_points(n, ua)) ua = NULL;
    double lo, hi;
    range_of(n, tr, va, ua, &lo, &hi);
    plvpor(x0, x1, 0.17, 0.88);
    plwind(n > 1 ? 1 : 0.5, n > 1 ? n : 1.5, lo, hi);
    plcol0(C_GRID);
    plbox("g", 0, 0, "g", 0, 0);
    plcol0(C_FG);
    plschr(0, 1.1);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    plschr(0, 1.3);
    plmtex("b", 2.6, 0.5, 0.5, "Epoch");
    plmtex("l", 3.4, 0.5, 0.5, ylabel);
    plschr(0, 1.5);
    plmtex("t", 1.2, 0.5, 0.5, title);
    plschr(0, 1.0);
    draw_series(n, tr, C_TRAIN, xs, ys);
    draw_series(n, va, C_VAL, xs, ys);
    draw_series(n, ua, C_UA, xs, ys);

    /* legend entries: train, then validation and validation UA where drawn */
    int nleg = 1;
    PLINT opt[3] = {PL_LEGEND_LINE, PL_LEGEND_LINE, PL_LEGEND_LINE}, tcol[3] = {C_FG, C_FG, C_FG};
    PLINT lcol[3] = {C_TRAIN, C_VAL, C_UA}, lsty[3] = {1, 1, 1};
    PLFLT lw[3] = {2.5, 2.5, 2.5};
    const char *text[3] = {"Train", "Validation", "Validation UA"};
    if (va) nleg = 2;
    if (ua) {
        if (!va) lcol[1] = C_UA, text[1] = text[2];
        nleg++;
    }
    PLFLT lw_out, lh_out;
    plscol0a(C_WHITE, 255, 255, 255, 0.85);
    pllegend(&lw_out, &lh_out, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, legend_pos | PL_POSITION_INSIDE, 0.03,
             0.03, 0.08, C_WHITE, C_GRID, 1, 0, 0, nleg, opt, 0.6, 1.2, 2.0, 0.0, tcol, text, NULL, NULL, NULL, NULL,
             lcol, lsty, lw, NULL, NULL, NULL, NULL);
    (void)lw_out, (void)lh_out;
}

int ser_plot_history(const char *path, int n, const double *acc, const double *val_acc, const double *val_uar,
                     const double *loss, const double *val_loss, ser_error *err) {
    if (n < 1 || !acc || !loss) return ser_fail(err, "%s: no epochs to plot", path);
    PLFLT *buf = ser_malloc(2 * (size_t)n * sizeof *buf, "plot points", err);
    if (!buf) return -1;
    char tmp[4096];
    if (plot_begin(path, 1400, 560, tmp, sizeof tmp, err)) {
        free(buf);
        return -1;
    }
    pladv(0);
    history_panel(0.085, 0.475, n, acc, val_acc, val_uar, "Accuracy", "Model accuracy", PL_POSITION_BOTTOM | PL_POSITION_RIGHT,
                  buf, buf + n);
    history_panel(0.585, 0.975, n, loss, val_loss, NULL, "Loss", "Model loss", PL_POSITION_TOP | PL_POSITION_RIGHT, buf,
                  buf + n);
    free(buf);
    return plot_end(path, tmp, err);
}

/* ---- confusion matrix --------------------------------------------------------------- */

int ser_plot_confusion(const char *path, const char *title, const int64_t *confusion, int nclass,
                       const char *const *labels, ser_error *err) {
    if (nclass < 1) return ser_fail(err, "%s: no classes to plot", path);
    char tmp[4096];
    if (plot_begin(path, 900, 780, tmp, sizeof tmp, err)) return -1;
    /* cmap1: white -> matplotlib "Blues" dark end, by the fraction of the true class. */
    PLFLT pos[3] = {0, 0.5, 1}, r[3] = {1, 0.42, 0.03}, g[3] = {1, 0.68, 0.19}, b[3] = {1, 0.84, 0.42};
    plscmap1n(256);
    plscmap1l(1, 3, pos, r, g, b, NULL);
    pladv(0);
    const double vx0 = 0.19, vx1 = 0.84, vy0 = 0.15, vy1 = 0.90;
    plvpor(vx0, vx1, vy0, vy1);
    plwind(0, nclass, 0, nclass);
    double cell_chr = nclass <= 8 ? 1.3 : nclass <= 14 ? 1.0 : 0.7;
    for (int i = 0; i < nclass; i++) {
        int64_t row = 0;
        for (int j = 0; j < nclass; j++) row += confusion[(size_t)i * (size_t)nclass + (size_t)j];
        /* Row i (true class i) is drawn from the top, as sklearn and the reference do. */
        PLFLT y0 = nclass - i - 1, y1 = nclass - i;
        for (int j = 0; j < nclass; j++) {
            int64_t c = confusion[(size_t)i * (size_t)nclass + (size_t)j];
            double frac = row > 0 ? (double)c / (double)row : 0.0;
            PLFLT xs[4] = {j, j + 1, j + 1, j}, ys[4] = {y0, y0, y1, y1};
            plcol1(frac);
            plfill(4, xs, ys);
            char txt[32];
            snprintf(txt, sizeof txt, "%lld", (long long)c);
            plcol0(frac > 0.5 ? C_WHITE : C_FG);
            plschr(0, cell_chr);
            plptex(j + 0.5, y0 + 0.5, 1, 0, 0.5, txt);
        }
    }
    plcol0(C_FG);
    plschr(0, 1.0);
    plbox("bc", 0, 0, "bc", 0, 0);
    /* Column labels alternate between two lines when there are many, so they never touch. */
    double lab_chr = nclass <= 7 ? 0.95 : nclass <= 10 ? 0.85 : 0.7;
    for (int i = 0; i < nclass; i++) {
        plschr(0, lab_chr);
        plmtex("b", nclass > 7 && i % 2 ? 2.6 : 1.3, (i + 0.5) / nclass, 0.5, labels[i]);
        plschr(0, nclass <= 10 ? 1.05 : 0.8);
        plmtex("lv", 0.8, 1.0 - (i + 0.5) / nclass, 1.0, labels[i]);
    }
    plschr(0, 1.3);
    plmtex("b", nclass > 7 ? 3.6 : 2.9, 0.5, 0.5, "Predicted label");
    plmtex("l", 5.6, 0.5, 0.5, "True label");
    plschr(0, 1.5);
    plmtex("t", 1.3, 0.5, 0.5, title ? title : "Confusion matrix");

    /* Colour bar: fraction of the true class in each cell. */
    plvpor(0.87, 0.89, vy0, vy1);
    plwind(0, 1, 0, 1);
    for (int s = 0; s < 100; s++) {
        PLFLT xs[4] = {0, 1, 1, 0}, ys[4] = {s / 100.0, s / 100.0, (s + 1) / 100.0, (s + 1) / 100.0};
        plcol1((s + 0.5) / 100.0);
        plfill(4, xs, ys);
    }
    plcol0(C_FG);
    plschr(0, 0.9);
    plbox("bc", 0, 0, "bcmstv", 0.2, 2);
    plmtex("r", 4.2, 0.5, 0.5, "fraction of the true class");
    return plot_end(path, tmp, err);
}

/* ---- emotion over time ------------------------------------------------------------- */

enum { C_WAVE = 6, C_CLASS0 = 7, N_CLASS_COLOURS = 10 };

/* matplotlib's tab10, one per class (cycled past 10) */
static void set_class_colours(void) {
    static const unsigned char tab10[N_CLASS_COLOURS][3] = {
        {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
        {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
    plscmap0n(C_CLASS0 + N_CLASS_COLOURS);
    plscol0(C_WAVE, 70, 90, 120);
    for (int i = 0; i < N_CLASS_COLOURS; i++) plscol0(C_CLASS0 + i, tab10[i][0], tab10[i][1], tab10[i][2]);
}

int ser_plot_timeline(const char *path, const char *title, int n, const double *start, const double *end,
                      const unsigned char *silent, const float *probs, int nclass, const char *const *labels,
                      int n_env, const float *env, double env_step, double total_s, ser_error *err) {
    if (n < 1 || nclass < 1) return ser_fail(err, "%s: no windows to plot", path);
    const size_t npts = 2 * (size_t)(n > n_env ? n : n_env) + 4;
    PLFLT *xs = ser_malloc(2 * npts * sizeof *xs, "plot points", err);
    if (!xs) return -1;
    PLFLT *ys = xs + npts;
    char tmp[4096];
    if (plot_begin(path, 1600, 700, tmp, sizeof tmp, err)) {
        free(xs);
        return -1;
    }
    set_class_colours();
    pladv(0);
    const double t1 = total_s > 0 ? total_s : end[n - 1];

    /* waveform envelope, mirrored */
    double peak = 1e-9;
    for (int i = 0; i < n_env; i++) peak = fmax(peak, env[i]);
    plvpor(0.075, 0.84, 0.71, 0.91);
    plwind(0, t1, -peak * 1.05, peak * 1.05);
    if (n_env > 0) {
        for (int i = 0; i < n_env; i++) xs[i] = (i + 0.5) * env_step, ys[i] = env[i];
        for (int i = 0; i < n_env; i++) xs[n_env + i] = (n_env - i - 0.5) * env_step, ys[n_env + i] = -env[n_env - 1 - i];
        plcol0(C_WAVE);
        plfill(2 * n_env, xs, ys);
    }
    plcol0(C_FG);
    plschr(0, 1.0);
    plbox("bcst", 0, 0, "bc", 0, 0);
    plschr(0, 1.4);
    plmtex("t", 1.0, 0.5, 0.5, title ? title : "Emotion over time");
    plschr(0, 1.1);
    plmtex("l", 1.5, 0.5, 0.5, "waveform");

    /* stacked probabilities at the window centres; a run of non-silent windows is one band set */
    plvpor(0.075, 0.84, 0.13, 0.66);
    plwind(0, t1, 0, 1);
    for (int i = 0; i < n; i++) { /* silent windows shaded light grey over their span */
        if (!silent[i]) continue;
        PLFLT bx[4] = {start[i], end[i], end[i], start[i]}, by[4] = {0, 0, 1, 1};
        plcol0(C_GRID);
        plfill(4, bx, by);
    }
    for (int a = 0; a < n;) {
        if (silent[a]) {
            a++;
            continue;
        }
        int b = a;
        while (b < n && !silent[b]) b++; /* run [a, b) */
        const int m = b - a;
        for (int c = 0; c < nclass; c++) {
            int k = 0;
            /* upper edge forward: the cumulative sum through class c; lower edge back: through c - 1 */
            for (int pass = 0; pass < 2; pass++) {
                for (int j0 = 0; j0 < m; j0++) {
                    const int j = pass ? b - 1 - j0 : a + j0;
                    double cum = 0;
                    for (int q = 0; q < c + 1 - pass; q++) cum += probs[(size_t)j * (size_t)nclass + (size_t)q];
                    const double mid = 0.5 * (start[j] + end[j]);
                    if (m == 1) { /* a lone window: a bar as wide as the window */
                        xs[k] = pass ? end[j] : start[j], ys[k++] = fmin(cum, 1.0);
                        xs[k] = pass ? start[j] : end[j], ys[k++] = fmin(cum, 1.0);
                    } else {
                        xs[k] = mid, ys[k++] = fmin(cum, 1.0);
                    }
                }
            }
            plcol0(C_CLASS0 + c % N_CLASS_COLOURS);
            plfill(k, xs, ys);
        }
        a = b;
    }
    plcol0(C_FG);
    plschr(0, 1.0);
    plbox("bcnst", 0, 0, "bcnstv", 0.25, 0);
    plschr(0, 1.2);
    plmtex("b", 2.4, 0.5, 0.5, "Time (s)");
    plmtex("l", 3.0, 0.5, 0.5, "Probability (stacked)");

    /* legend: one swatch per class, then the silent shade */
    PLINT opt[64], tcol[64], bcol[64], bpat[64];
    PLFLT bscale[64], bwidth[64];
    const char *text[64];
    const int nl = nclass < 63 ? nclass : 63;
    for (int c = 0; c <= nl; c++) {
        opt[c] = PL_LEGEND_COLOR_BOX, tcol[c] = C_FG, bpat[c] = 0, bscale[c] = 1.0, bwidth[c] = 0;
        bcol[c] = c < nl ? C_CLASS0 + c % N_CLASS_COLOURS : C_GRID;
        text[c] = c < nl ? labels[c] : "silent";
    }
    PLFLT lw_out, lh_out;
    pllegend(&lw_out, &lh_out, PL_LEGEND_BOUNDING_BOX, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.015, 0.0, 0.04, C_WHITE,
             C_GRID, 1, 0, 0, nl + 1, opt, 0.4, 1.0, 1.6, 0.0, tcol, text, bcol, bpat, bscale, bwidth, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL);
    (void)lw_out, (void)lh_out;
    free(xs);
    return plot_end(path, tmp, err);
}
