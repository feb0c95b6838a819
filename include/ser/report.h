/* Evaluation outputs of a split: per-class precision / recall / F1 (sklearn's
 * classification_report), the confusion-matrix PNG, and the JSON object of `ser eval --json`. */
#ifndef SER_REPORT_H
#define SER_REPORT_H

#ifdef __cplusplus
extern "C" {
#endif

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "ser/error.h"
#include "ser/metrics.h"

/* Computes the metrics of predictions against labels. Writes the confusion matrix to png_path
 * (NULL: none) titled with `title`; returns the report text (malloc'd) in *text and a JSON
 * object in *json (caller deletes; may be NULL). */
int ser_report_split(const int32_t *y_true, const int32_t *y_pred, size_t n, const char *const *labels,
                     int n_labels, const char *title, const char *png_path, char **text, cJSON **json,
                     ser_error *err);

/* WA and UA by corpus: corpus[i] names clip i's corpus ("" or NULL: unknown, grouped as
 * "unknown"). Adds "by_corpus": {name: {"accuracy", "uar", "clips"}} to json (when not NULL)
 * and appends one line per corpus, "corpus NAME: N clips, WA x, UA y", to *text (when not
 * NULL), names in bytewise order. Always when at least one clip names its corpus (one corpus
 * too: the same numbers as the whole split); nothing when none does (an old manifest). UA is
 * ser_metrics_uar over the clips of that corpus (the classes present in it). */
int ser_report_by_corpus(const int32_t *y_true, const int32_t *y_pred, size_t n, const char *const *corpus,
                         int n_labels, char **text, cJSON *json, ser_error *err);

/* Writes text to path atomically (temp + rename). */
int ser_write_text_file(const char *path, const char *text, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
