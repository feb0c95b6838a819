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

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ser_report_by_corpus(const int32_t *y_true, const int32_t *y_pred, size_t n, const char *const *corpus,
                         int n_labels, char **text, cJSON *json, ser_error *err) {
    int known = 0;
    for (size_t i = 0; i < n && !known; i++) known = corpus[i] && *corpus[i];
    if (!known) return 0;
    const char **names = ser_malloc(n * sizeof *names, "corpus names", err);
    int32_t *t = ser_malloc(n * sizeof *t, "labels", err), *p = ser_malloc(n * sizeof *p, "predictions", err);
    cJSON *by = cJSON_CreateObject();
    int rc = names && t && p && by ? 0 : ser_fail(err, "out of memory for the by-corpus report");
    size_t k = 0;
    for (size_t i = 0; !rc && i < n; i++) names[i] = corpus[i] && *corpus[i] ? corpus[i] : "unknown";
    if (!rc) {
        qsort(names, n, sizeof *names, cmp_name);
        for (size_t i = 0; i < n; i++)
            if (k == 0 || strcmp(names[k - 1], names[i])) names[k++] = names[i];
    }
    for (size_t c = 0; !rc && c < k; c++) {
        size_t m = 0, right = 0;
        for (size_t i = 0; i < n; i++) {
            const char *ci = corpus[i] && *corpus[i] ? corpus[i] : "unknown";
            if (strcmp(ci, names[c])) continue;
            t[m] = y_true[i], p[m] = y_pred[i], right += y_true[i] == y_pred[i], m++;
        }
        const double wa = (double)right / (double)m, ua = ser_metrics_uar(t, p, m, n_labels);
        if (ua < 0) {
            rc = ser_fail(err, "corpus %s: UA: a label outside the %d classes, or out of memory", names[c], n_labels);
            break;
        }
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddNumberToObject(o, "accuracy", wa) || !cJSON_AddNumberToObject(o, "uar", ua) ||
            !cJSON_AddNumberToObject(o, "clips", (double)m) || !cJSON_AddItemToObject(by, names[c], o)) {
            cJSON_Delete(o);
            rc = ser_fail(err, "out of memory for the by-corpus report");
            break;
        }
        if (text) {
            const char *fmt = "corpus %s: %zu clips, WA %.4f, UA %.4f\n";
            size_t old = *text ? strlen(*text) : 0, add = (size_t)snprintf(NULL, 0, fmt, names[c], m, wa, ua) + 1;
            char *nt = realloc(*text, old + add);
            if (!nt) {
                rc = ser_fail(err, "out of memory for the by-corpus report");
                break;
            }
            snprintf(nt + old, add, fmt, names[c], m, wa, ua);
            *text = nt;
        }
    }
    if (!rc && json) {
        cJSON_AddItemToObject(json, "by_corpus", by);
        by = NULL;
    }
    cJSON_Delete(by);
    free(names), free(t), free(p);
    return rc;
}
