/* Classification metrics with scikit-learn's semantics (precision_recall_fscore_support and
 * classification_report with labels = every class index, zero_division=0): confusion matrix,
 * per-class precision / recall / F1 / support, macro and weighted averages, accuracy; the
 * report as sklearn's text table and as JSON. */
#ifndef SER_METRICS_H
#define SER_METRICS_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ser/error.h"

typedef struct ser_metrics {
    int nclass;
    int64_t total;
    int64_t *confusion;                  /* (nclass, nclass): row = true class, column = predicted */
    double *precision, *recall, *f1;     /* (nclass); 0 where the denominator is 0 */
    int64_t *support;                    /* (nclass): clips of each true class */
    double accuracy;                     /* WA: correct / total */
    double uar;                          /* UA: the mean recall over the classes present (support > 0) */
    double macro_precision, macro_recall, macro_f1;          /* unweighted mean over classes */
    double weighted_precision, weighted_recall, weighted_f1; /* mean weighted by support */
} ser_metrics;

/* Fills m from n (true, predicted) class indices in [0, nclass). A label outside the range
 * fails with its position. Free with ser_metrics_free. */
int ser_metrics_compute(const int *y_true, const int *y_pred, size_t n, int nclass, ser_metrics *m,
                        ser_error *err);

/* Same from a confusion matrix (nclass, nclass), row = true (copied). */
int ser_metrics_from_confusion(const int64_t *confusion, int nclass, ser_metrics *m, ser_error *err);

void ser_metrics_free(ser_metrics *m);

/* sklearn's classification_report text (labels[c] names class c; digits as sklearn's, 2 by
 * default there). Returns a malloc'd string, or NULL when out of memory. */
char *ser_metrics_report_text(const ser_metrics *m, const char *const *labels, int digits);

/* UA of n (true, predicted) class indices in [0, nclass): the mean of the per-class recalls over
 * the classes with at least one clip (the SER papers' unweighted accuracy; sklearn's
 * balanced_accuracy_score). NAN when n is 0; -1 on a label outside the range or no memory. */
double ser_metrics_uar(const int32_t *y_true, const int32_t *y_pred, size_t n, int nclass);

/* {"accuracy", "uar", "macro_f1", "weighted_f1", "macro": {precision, recall, f1},
 *  "weighted": {...}, "labels": [...], "per_class": {label: {precision, recall, f1, support}},
 *  "confusion": [[...], ...]}. Caller cJSON_Delete's it; NULL when out of memory. */
cJSON *ser_metrics_to_json(const ser_metrics *m, const char *const *labels);

#ifdef __cplusplus
}
#endif

#endif
