/* Metrics + report text + JSON + confusion matrix PNG for one evaluated split. */
#include "ser/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/plot.h"

int ser_write_text_file(const char *path, const char *text, ser_error *err) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return ser_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return ser_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
    const size_t n = strlen(text);
    if (fwrite(text, 1, n, f) != n || fflush(f) != 0) {
        int e = errno;
        fclose(f);
        remove(tmp);
        return ser_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return ser_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int ser_report_split(const int32_t *y_true, const int32_t *y_pred, size_t n, const char *const *labels,
                     int n_labels, const char *title, const char *png_path, char **text, cJSON **json,
                     ser_error *err) {
    int *t = ser_malloc(n * sizeof *t, "labels", err), *p = ser_malloc(n * sizeof *p, "predictions", err);
    if (!t || !p) {
        free(t), free(p);
        return -1;
    }
    for (size_t i = 0; i < n; i++) t[i] = y_true[i], p[i] = y_pred[i];
    ser_metrics m;
    int rc = ser_metrics_compute(t, p, n, n_labels, &m, err);
    free(t), free(p);
    if (rc != 0) return -1;
    if (png_path && ser_plot_confusion(png_path, title, m.confusion, n_labels, labels, err) != 0) {
        ser_metrics_free(&m);
        return -1;
    }
    if (text) {
        /* sklearn's table, then the three numbers SER papers report, named */
        char *table = ser_metrics_report_text(&m, labels, 4);
        const char *fmt = "%s\nWA (accuracy) %.4f   UA (unweighted average recall) %.4f   macro-F1 %.4f\n";
        int len = table ? snprintf(NULL, 0, fmt, table, m.accuracy, m.uar, m.macro_f1) : -1;
        *text = len > 0 ? malloc((size_t)len + 1) : NULL;
        if (*text) snprintf(*text, (size_t)len + 1, fmt, table, m.accuracy, m.uar, m.macro_f1);
        free(table);
    }
    if (json) *json = ser_metrics_to_json(&m, labels);
    ser_metrics_free(&m);
    if ((text && !*text) || (json && !*json)) return ser_fail(err, "out of memory formatting the report");
    return 0;
}
