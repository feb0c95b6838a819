/* Metrics against scikit-learn: tests/fixtures/metrics/report.json holds sklearn's answer
 * (made by make_fixture.py there) for a fixed 7-class example; every number must agree to
 * 1e-12 and the text report byte for byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ser/metrics.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    s[n] = 0;
    fclose(f);
    return s;
}

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble; }

static void near(double got, double want, const char *what) {
    CHECKF(fabs(got - want) <= 1e-12, "%s: ser %.17g, sklearn %.17g", what, got, want);
}

int main(void) {
    const char *fx = getenv("SER_FIXTURES");
    if (!fx) SKIP("SER_FIXTURES not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics/report.json", fx);
    char *text = slurp(path);
    CHECKF(text != NULL, "cannot read %s", path);
    if (!text) return check_finish("metrics");
    cJSON *ref = cJSON_Parse(text);
    free(text);
    CHECK(ref != NULL);
    if (!ref) return check_finish("metrics");

    const cJSON *jl = cJSON_GetObjectItem(ref, "labels"), *jt = cJSON_GetObjectItem(ref, "y_true"),
                *jp = cJSON_GetObjectItem(ref, "y_pred");
    int k = cJSON_GetArraySize(jl), n = cJSON_GetArraySize(jt);
    const char *labels[16];
    int yt[256], yp[256];
    for (int c = 0; c < k; c++) labels[c] = cJSON_GetArrayItem(jl, c)->valuestring;
    for (int i = 0; i < n; i++) {
        yt[i] = cJSON_GetArrayItem(jt, i)->valueint;
        yp[i] = cJSON_GetArrayItem(jp, i)->valueint;
    }

    ser_metrics m;
    ser_error err = {{0}};
    CHECKF(ser_metrics_compute(yt, yp, (size_t)n, k, &m, &err) == 0, "%s", err.msg);
    CHECK(m.nclass == k && m.total == n);
    near(m.accuracy, num(ref, "accuracy"), "accuracy");
    /* UA = sklearn's balanced accuracy: over the classes that occur, so not the macro recall
     * here (sad never occurs; macro recall counts its recall 0) */
    near(m.uar, num(ref, "balanced_accuracy"), "uar (balanced accuracy)");
    CHECKF(fabs(m.uar - m.macro_recall) > 0.05, "uar %g differs from the macro recall %g", m.uar, m.macro_recall);
    {
        int32_t t32[256], p32[256];
        for (int i = 0; i < n; i++) t32[i] = yt[i], p32[i] = yp[i];
        near(ser_metrics_uar(t32, p32, (size_t)n, k), num(ref, "balanced_accuracy"), "ser_metrics_uar");
        t32[0] = k; /* out of range */
        CHECK(ser_metrics_uar(t32, p32, (size_t)n, k) < 0);
        CHECK(isnan(ser_metrics_uar(t32, p32, 0, k)));
    }
    char what[64];
    for (int c = 0; c < k; c++) {
        snprintf(what, sizeof what, "precision[%s]", labels[c]);
        near(m.precision[c], cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "precision"), c)->valuedouble, what);
        snprintf(what, sizeof what, "recall[%s]", labels[c]);
        near(m.recall[c], cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "recall"), c)->valuedouble, what);
        snprintf(what, sizeof what, "f1[%s]", labels[c]);
        near(m.f1[c], cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "f1"), c)->valuedouble, what);
        CHECK(m.support[c] == cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "support"), c)->valueint);
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "confusion"), c);
        for (int j = 0; j < k; j++)
            CHECKF(m.confusion[c * k + j] == cJSON_GetArrayItem(row, j)->valueint, "confusion[%d][%d]", c, j);
    }
    const cJSON *mac = cJSON_GetObjectItem(ref, "macro"), *wei = cJSON_GetObjectItem(ref, "weighted");
    near(m.macro_precision, num(mac, "precision"), "macro precision");
    near(m.macro_recall, num(mac, "recall"), "macro recall");
    near(m.macro_f1, num(mac, "f1"), "macro f1");
    near(m.weighted_precision, num(wei, "precision"), "weighted precision");
    near(m.weighted_recall, num(wei, "recall"), "weighted recall");
    near(m.weighted_f1, num(wei, "f1"), "weighted f1");

    /* The text table, byte for byte, at sklearn's default 2 digits and at 4. */
    for (int d = 2; d <= 4; d += 2) {
        char key[32];
        snprintf(key, sizeof key, "report_digits%d", d);
        char *rep = ser_metrics_report_text(&m, labels, d);
        const char *want = cJSON_GetObjectItem(ref, key)->valuestring;
        CHECKF(rep && !strcmp(rep, want), "digits %d:\n--- ser\n%s--- sklearn\n%s", d, rep ? rep : "(null)", want);
        free(rep);
    }

    /* JSON: the keys the CLI promises, values as computed. */
    cJSON *js = ser_metrics_to_json(&m, labels);
    CHECK(js != NULL);
    near(num(js, "accuracy"), m.accuracy, "json accuracy");
    near(num(js, "macro_f1"), m.macro_f1, "json macro_f1");
    near(num(js, "uar"), m.uar, "json uar");
    near(num(js, "weighted_f1"), m.weighted_f1, "json weighted_f1");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(js, "labels")) == k);
    const cJSON *fear = cJSON_GetObjectItem(cJSON_GetObjectItem(js, "per_class"), "fear");
    CHECK(fear && num(fear, "precision") == 0.0 && num(fear, "support") == (double)m.support[2]);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(js, "confusion")) == k);
    cJSON_Delete(js);

    /* From a confusion matrix: the same numbers. */
    ser_metrics m2;
    CHECKF(ser_metrics_from_confusion(m.confusion, k, &m2, &err) == 0, "%s", err.msg);
    CHECK(m2.weighted_f1 == m.weighted_f1 && m2.accuracy == m.accuracy);
    ser_metrics_free(&m2);
    ser_metrics_free(&m);

    /* Bad input: a label out of range names the sample; no clips gives zeros, not NaN. */
    int bt[2] = {0, 7}, bp[2] = {0, 0};
    CHECK(ser_metrics_compute(bt, bp, 2, 7, &m, &err) == -1 && strstr(err.msg, "sample 1"));
    CHECK(ser_metrics_compute(bt, bp, 0, 3, &m, &err) == 0 && m.accuracy == 0.0 && m.weighted_f1 == 0.0);
    ser_metrics_free(&m);
    CHECK(ser_metrics_compute(bt, bp, 0, 0, &m, &err) == -1);

    cJSON_Delete(ref);
    return check_finish("metrics");
}
