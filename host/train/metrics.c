/* Classification metrics as scikit-learn computes them (labels = every class, zero_division=0).
 * F1 uses sklearn's form 2 tp / (2 tp + fp + fn), which equals 2 p r / (p + r) where defined. */
#include "ser/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double safe_div(double num, double den) { return den > 0 ? num / den : 0.0; }

int ser_metrics_from_confusion(const int64_t *confusion, int nclass, ser_metrics *m, ser_error *err) {
    memset(m, 0, sizeof *m);
    if (nclass < 1) return ser_fail(err, "metrics: need at least one class (got %d)", nclass);
    size_t k = (size_t)nclass;
    m->nclass = nclass;
    m->confusion = ser_malloc(k * k * sizeof *m->confusion, "confusion matrix", err);
    m->precision = ser_calloc(3 * k, sizeof(double), "per-class metrics", err);
    m->support = ser_calloc(k, sizeof *m->support, "per-class support", err);
    if (!m->confusion || !m->precision || !m->support) {
        ser_metrics_free(m);
        return -1;
    }
    memcpy(m->confusion, confusion, k * k * sizeof *m->confusion);
    m->recall = m->precision + k;
    m->f1 = m->precision + 2 * k;
    int64_t correct = 0;
    for (size_t c = 0; c < k; c++) {
        int64_t tp = confusion[c * k + c], row = 0, col = 0;
        for (size_t j = 0; j < k; j++) row += confusion[c * k + j], col += confusion[j * k + c];
        m->support[c] = row;
        m->total += row;
        correct += tp;
        m->precision[c] = safe_div((double)tp, (double)col);
        m->recall[c] = safe_div((double)tp, (double)row);
        m->f1[c] = safe_div(2.0 * (double)tp, (double)(row + col)); /* 2tp + fp + fn = row + col */
    }
    m->accuracy = safe_div((double)correct, (double)m->total);
    size_t present = 0;
    for (size_t c = 0; c < k; c++) present += m->support[c] > 0;
    for (size_t c = 0; c < k; c++)
        if (m->support[c] > 0) m->uar += m->recall[c] / (double)present;
    for (size_t c = 0; c < k; c++) {
        m->macro_precision += m->precision[c] / (double)k;
        m->macro_recall += m->recall[c] / (double)k;
        m->macro_f1 += m->f1[c] / (double)k;
        double w = safe_div((double)m->support[c], (double)m->total);
        m->weighted_precision += m->precision[c] * w;
        m->weighted_recall += m->recall[c] * w;
        m->weighted_f1 += m->f1[c] * w;
    }
    return 0;
}

int ser_metrics_compute(const int *y_true, const int *y_pred, size_t n, int nclass, ser_metrics *m,
                        ser_error *err) {
    memset(m, 0, sizeof *m);
    if (nclass < 1) return ser_fail(err, "metrics: need at least one class (got %d)", nclass);
    size_t k = (size_t)nclass;
    int64_t *cm = ser_calloc(k * k, sizeof *cm, "confusion matrix", err);
    if (!cm) return -1;
    for (size_t i = 0; i < n; i++) {
        if (y_true[i] < 0 || y_true[i] >= nclass || y_pred[i] < 0 || y_pred[i] >= nclass) {
            free(cm);
            return ser_fail(err, "metrics: sample %zu has label %d / prediction %d outside [0, %d)", i, y_true[i],
                            y_pred[i], nclass);
        }
        cm[(size_t)y_true[i] * k + (size_t)y_pred[i]]++;
    }
    int rc = ser_metrics_from_confusion(cm, nclass, m, err);
    free(cm);
    return rc;
}

void ser_metrics_free(ser_metrics *m) {
    free(m->confusion);
    free(m->precision);
    free(m->support);
    memset(m, 0, sizeof *m);
}

/* A growing string for the text report. */
typedef struct strbuf {
    char *s;
    size_t n, cap;
    int oom;
} strbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(strbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = (b->cap + (size_t)w + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* Layout of sklearn.metrics.classification_report: a name column as wide as the longest
 * of the labels and "weighted avg", then four right-aligned 9-wide columns. */
char *ser_metrics_report_text(const ser_metrics *m, const char *const *labels, int digits) {
    int width = (int)strlen("weighted avg");
    for (int c = 0; c < m->nclass; c++)
        if ((int)strlen(labels[c]) > width) width = (int)strlen(labels[c]);
    if (digits > width) width = digits;
    strbuf b = {0};
    sb_printf(&b, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
    for (int c = 0; c < m->nclass; c++)
        sb_printf(&b, "%*s  %9.*f %9.*f %9.*f %9lld\n", width, labels[c], digits, m->precision[c], digits,
                  m->recall[c], digits, m->f1[c], (long long)m->support[c]);
    sb_printf(&b, "\n%*s  %9s %9s %9.*f %9lld\n", width, "accuracy", "", "", digits, m->accuracy,
              (long long)m->total);
    sb_printf(&b, "%*s  %9.*f %9.*f %9.*f %9lld\n", width, "macro avg", digits, m->macro_precision, digits,
              m->macro_recall, digits, m->macro_f1, (long long)m->total);
    sb_printf(&b, "%*s  %9.*f %9.*f %9.*f %9lld\n", width, "weighted avg", digits, m->weighted_precision, digits,
              m->weighted_recall, digits, m->weighted_f1, (long long)m->total);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static cJSON *prf_object(double p, double r, double f) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "precision", p);
    cJSON_AddNumberToObject(o, "recall", r);
    cJSON_AddNumberToObject(o, "f1", f);
    return o;
}

cJSON *ser_metrics_to_json(const ser_metrics *m, const char *const *labels) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddNumberToObject(root, "accuracy", m->accuracy);
    cJSON_AddNumberToObject(root, "uar", m->uar);
    cJSON_AddNumberToObject(root, "macro_f1", m->macro_f1);
    cJSON_AddNumberToObject(root, "weighted_f1", m->weighted_f1);
    cJSON_AddItemToObject(root, "macro", prf_object(m->macro_precision, m->macro_recall, m->macro_f1));
    cJSON_AddItemToObject(root, "weighted", prf_object(m->weighted_precision, m->weighted_recall, m->weighted_f1));
    cJSON_AddNumberToObject(root, "support", (double)m->total);
    cJSON *lab = cJSON_AddArrayToObject(root, "labels");
    cJSON *per = cJSON_AddObjectToObject(root, "per_class");
    cJSON *conf = cJSON_AddArrayToObject(root, "confusion");
    for (int c = 0; c < m->nclass; c++) {
        cJSON_AddItemToArray(lab, cJSON_CreateString(labels[c]));
        cJSON *o = prf_object(m->precision[c], m->recall[c], m->f1[c]);
        cJSON_AddNumberToObject(o, "support", (double)m->support[c]);
        cJSON_AddItemToObject(per, labels[c], o);
        cJSON *row = cJSON_CreateArray();
        for (int j = 0; j < m->nclass; j++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)m->confusion[(size_t)c * (size_t)m->nclass + (size_t)j]));
        cJSON_AddItemToArray(conf, row);
    }
    return root;
}

double ser_metrics_uar(const int32_t *y_true, const int32_t *y_pred, size_t n, int nclass) {
    if (n == 0) return NAN;
    int64_t *count = calloc(2 * (size_t)nclass, sizeof *count), *hit = count + nclass;
    if (!count) return -1;
    for (size_t i = 0; i < n; i++) {
        if (y_true[i] < 0 || y_true[i] >= nclass) return free(count), -1;
        count[y_true[i]]++;
        hit[y_true[i]] += y_pred[i] == y_true[i];
    }
    double sum = 0.0;
    int present = 0;
    for (int c = 0; c < nclass; c++)
        if (count[c] > 0) sum += (double)hit[c] / (double)count[c], present++;
    free(count);
    return sum / present;
}
