/* `ser cv` summary (also `ser cv --collect DIR`): reads DIR/fold_N/report.json (N = 1, 2, ...
 * for every DIR/fold_N folder there), prints WA / UA / macro-F1 per fold with their mean and sample
 * standard deviation (n - 1), and writes DIR/cv.json and DIR/confusion_matrix_cv.png (the test
 * confusion matrices summed over the folds, on the union of their class lists). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cv.h"
#include "ser/corpus.h"
#include "ser/folds.h"
#include "ser/metrics.h"
#include "ser/plot.h"
#include "ser/report.h"
#include "ser/split.h"

#define CV_MAX_LABELS 64

static const char *const METRIC_KEYS[3] = {"accuracy", "uar", "macro_f1"};
static const char *const METRIC_NAMES[3] = {"WA", "UA", "macro-F1"};

typedef struct fold_result {
    double m[3];              /* accuracy, uar, macro_f1 of the test set */
    double clips;
    cJSON *report;            /* the parsed report.json */
    const cJSON *test;        /* its "test" object */
    cJSON *speakers;          /* array of the test speakers (from fold_N/test.tsv) */
} fold_result;

/* "a/b" in a malloc'd string (NULL when out of memory). */
static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static char *read_file(const char *path, ser_error *err) {
    if (!path) return ser_fail(err, "out of memory"), NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ser_fail(err, "%s: %s", path, strerror(errno)), NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, r;
    do {
        if (len + 4096 + 1 > cap) {
            cap = 2 * cap + 8192;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf), fclose(f);
                return ser_fail(err, "%s: out of memory", path), NULL;
            }
            buf = b;
        }
        r = fread(buf + len, 1, 4096, f);
        len += r;
    } while (r == 4096);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ser_fail(err, "%s: read error", path), NULL;
    }
    buf[len] = 0;
    return buf;
}

cJSON *cv_read_json(const char *path, ser_error *err) {
    char *text = read_file(path, err);
    if (!text) return NULL;
    cJSON *js = cJSON_Parse(text);
    free(text);
    if (!js) ser_fail(err, "%s: not valid JSON", path);
    return js;
}

int cv_fold_finished(const char *fold_dir) {
    char *p = join(fold_dir, "report.json");
    char *text = read_file(p, NULL);
    free(p);
    cJSON *js = text ? cJSON_Parse(text) : NULL;
    const int done = js && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(js, "test"));
    cJSON_Delete(js);
    free(text);
    return done;
}

/* The sorted unique speakers of fold_dir/test.tsv as a JSON array (empty when unreadable), keyed
 * as the folds were dealt (ser_speaker_keys): CORPUS:SPEAKER when the fold's train.tsv, val.tsv
 * and test.tsv together hold clips of several corpora. */
static cJSON *test_speakers(const char *fold_dir) {
    cJSON *arr = cJSON_CreateArray();
    ser_clips c = {0};
    size_t first_test = 0;
    int ok = 1;
    static const char *const NAMES[3] = {"train.tsv", "val.tsv", "test.tsv"};
    for (int k = 0; k < 3 && ok; k++) {
        char *p = join(fold_dir, NAMES[k]);
        if (k == 2) first_test = c.n;
        /* train / val unreadable: the test clips alone decide */
        if (!p || (ser_manifest_read(p, &c, NULL) != 0 && k == 2)) ok = 0; /* !p: out of memory */
        free(p);
    }
    char **keys = ok ? ser_speaker_keys(&c, NULL) : NULL;
    for (size_t i = first_test; keys && i < c.n; i++) {
        int seen = 0;
        for (size_t j = first_test; j < i && !seen; j++) seen = !strcmp(keys[i], keys[j]);
        if (!seen) {
            /* insertion in bytewise order */
            int at = 0, n = cJSON_GetArraySize(arr);
            while (at < n && strcmp(cJSON_GetArrayItem(arr, at)->valuestring, keys[i]) < 0) at++;
            cJSON_InsertItemInArray(arr, at, cJSON_CreateString(keys[i]));
        }
    }
    ser_speaker_keys_free(keys, c.n);
    ser_clips_free(&c);
    return arr;
}

static int load_fold(const char *dir, int k, fold_result *r, ser_error *err) {
    char name[32];
    snprintf(name, sizeof name, "fold_%d", k);
    char *fd = join(dir, name), *p = fd ? join(fd, "report.json") : NULL;
    char *text = read_file(p, err);
    int rc = 0;
    if (!text) rc = ser_fail_wrap(err, "fold %d is not finished", k);
    else if (!(r->report = cJSON_Parse(text))) rc = ser_fail(err, "%s: not valid JSON", p);
    free(text);
    if (!rc) r->test = cJSON_GetObjectItemCaseSensitive(r->report, "test");
    if (!rc && !cJSON_IsObject(r->test)) rc = ser_fail(err, "%s: no \"test\" section (a run without --test-list?)", p);
    for (int m = 0; !rc && m < 3; m++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->test, METRIC_KEYS[m]);
        if (!cJSON_IsNumber(v)) rc = ser_fail(err, "%s: test.%s is missing or not a number", p, METRIC_KEYS[m]);
        else r->m[m] = v->valuedouble;
    }
    if (!rc) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->test, "clips");
        r->clips = cJSON_IsNumber(c) ? c->valuedouble : NAN;
        r->speakers = test_speakers(fd);
    }
    free(fd), free(p);
    return rc;
}

/* Adds the fold's test confusion matrix into pooled (n_labels x n_labels over labels), adding
 * its class names to labels first. */
static int pool_confusion(const fold_result *r, const char *what, char **labels, int *n_labels, int64_t *pooled,
                          ser_error *err) {
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(r->test, "labels");
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(r->test, "confusion");
    const int n = cJSON_GetArraySize(lab);
    if (!cJSON_IsArray(lab) || !cJSON_IsArray(conf) || cJSON_GetArraySize(conf) != n || n < 1)
        return ser_fail(err, "%s: test.labels / test.confusion missing or of different sizes", what);
    int map[CV_MAX_LABELS];
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(lab, i);
        if (!cJSON_IsString(s)) return ser_fail(err, "%s: test.labels[%d] is not a string", what, i);
        int j = 0;
        while (j < *n_labels && strcmp(labels[j], s->valuestring)) j++;
        if (j == *n_labels) {
            if (*n_labels == CV_MAX_LABELS) return ser_fail(err, "%s: more than %d classes", what, CV_MAX_LABELS);
            /* the pooled matrix grows: move its rows to the new stride */
            const int o = *n_labels;
            for (int a = o - 1; a >= 0; a--)
                for (int b = o - 1; b >= 0; b--) pooled[a * (o + 1) + b] = pooled[a * o + b];
            for (int a = 0; a <= o; a++) pooled[a * (o + 1) + o] = 0, pooled[o * (o + 1) + a] = 0;
            if (!(labels[o] = strdup(s->valuestring))) return ser_fail(err, "out of memory");
            (*n_labels)++;
        }
        map[i] = j;
    }
    const int L = *n_labels;
    for (int a = 0; a < n; a++) {
        const cJSON *row = cJSON_GetArrayItem(conf, a);
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != n) return ser_fail(err, "%s: test.confusion row %d", what, a);
        for (int b = 0; b < n; b++) {
            const cJSON *v = cJSON_GetArrayItem(row, b);
            if (!cJSON_IsNumber(v) || v->valuedouble < 0) return ser_fail(err, "%s: test.confusion[%d][%d]", what, a, b);
            pooled[map[a] * L + map[b]] += (int64_t)v->valuedouble;
        }
    }
    return 0;
}

/* mean and sample standard deviation (n - 1; NAN for one value) */
static void mean_std(const fold_result *r, int n, int m, double *mean, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += r[i].m[m];
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (r[i].m[m] - *mean) * (r[i].m[m] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : NAN;
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static int cmp_int(const void *x, const void *y) {
    const int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

int cv_fold_numbers(const char *dir, int **nums) { return cv_dir_numbers(dir, "fold_", nums); }

int cv_dir_numbers(const char *dir, const char *prefix, int **nums) {
    *nums = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const size_t pl = strlen(prefix);
        int k, len = 0;
        if (strncmp(e->d_name, prefix, pl) || sscanf(e->d_name + pl, "%d%n", &k, &len) != 1 || e->d_name[pl + len] ||
            k < 0 || (k == 0 && !strcmp(prefix, "fold_")))
            continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        const int folder = p && !stat(p, &st) && S_ISDIR(st.st_mode);
        free(p);
        if (!folder) continue;
        if (n == cap) {
            int *v = realloc(*nums, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *v);
            if (!v) break;
            *nums = v;
        }
        (*nums)[n++] = k;
    }
    closedir(d);
    if (n) qsort(*nums, (size_t)n, sizeof **nums, cmp_int);
    return n;
}

int cv_collect(const char *dir, int n_folds, ser_error *err) {
    int *nums = NULL, n = n_folds;
    if (n > 0) {
        if (!(nums = malloc((size_t)n * sizeof *nums))) return ser_fail(err, "out of memory");
        for (int k = 0; k < n; k++) nums[k] = k + 1;
    } else {
        n = cv_fold_numbers(dir, &nums);
    }
    int rc = n < 1 ? ser_fail(err, "%s: no fold_N/ folder: nothing to collect", dir) : cv_collect_folds(dir, nums, n, err);
    free(nums);
    return rc;
}

int cv_collect_folds(const char *dir, const int *folds, int n, ser_error *err) {
    fold_result *r = calloc((size_t)n, sizeof *r);
    char *labels[CV_MAX_LABELS];
    int n_labels = 0, rc = r ? 0 : ser_fail(err, "out of memory");
    int64_t *pooled = calloc(CV_MAX_LABELS * CV_MAX_LABELS, sizeof *pooled);
    if (!pooled) rc = ser_fail(err, "out of memory");
    for (int k = 0; !rc && k < n; k++) {
        rc = load_fold(dir, folds[k], &r[k], err);
        char what[64];
        snprintf(what, sizeof what, "fold_%d/report.json", folds[k]);
        if (!rc) rc = pool_confusion(&r[k], what, labels, &n_labels, pooled, err);
    }
    ser_metrics pm = {0};
    if (!rc) rc = ser_metrics_from_confusion(pooled, n_labels, &pm, err);
    cJSON *js = rc ? NULL : cJSON_CreateObject();
    if (js) {
        cJSON_AddNumberToObject(js, "folds", n);
        cJSON_AddStringToObject(js, "std", "sample standard deviation over the folds (n - 1)");
        cJSON *arr = cJSON_AddArrayToObject(js, "per_fold");
        printf("fold  %-24s %6s  %-8s %-8s %-8s\n", "test speakers", "clips", "WA", "UA", "macro-F1");
        for (int k = 0; k < n; k++) {
            cJSON *o = cJSON_CreateObject();
            char run[32], spk[25] = "";
            snprintf(run, sizeof run, "fold_%d", folds[k]);
            cJSON_AddNumberToObject(o, "fold", folds[k]);
            cJSON_AddStringToObject(o, "run", run);
            for (int i = 0, m = cJSON_GetArraySize(r[k].speakers); i < m; i++) {
                const char *s = cJSON_GetArrayItem(r[k].speakers, i)->valuestring;
                size_t l = strlen(spk);
                snprintf(spk + l, sizeof spk - l, "%s%s", i ? "," : "", s);
            }
            cJSON_AddItemToObject(o, "test_speakers", r[k].speakers);
            r[k].speakers = NULL;
            add_num(o, "clips", r[k].clips);
            for (int m = 0; m < 3; m++) add_num(o, METRIC_KEYS[m], r[k].m[m]);
            cJSON_AddItemToArray(arr, o);
            printf("%-5d %-24s %6.0f  %-8.4f %-8.4f %-8.4f\n", folds[k], spk, r[k].clips, r[k].m[0], r[k].m[1], r[k].m[2]);
        }
        cJSON *mean = cJSON_AddObjectToObject(js, "mean"), *sd = cJSON_AddObjectToObject(js, "std_dev");
        printf("mean +- sample std over %d folds:", n);
        for (int m = 0; m < 3; m++) {
            double mu, s;
            mean_std(r, n, m, &mu, &s);
            add_num(mean, METRIC_KEYS[m], mu);
            add_num(sd, METRIC_KEYS[m], s);
            printf("  %s %.4f +- %.4f", METRIC_NAMES[m], mu, s);
        }
        cJSON *po = cJSON_AddObjectToObject(js, "pooled");
        add_num(po, "accuracy", pm.accuracy);
        add_num(po, "uar", pm.uar);
        add_num(po, "macro_f1", pm.macro_f1);
        cJSON_AddNumberToObject(po, "clips", (double)pm.total);
        cJSON_AddItemToObject(po, "labels", cJSON_CreateStringArray((const char *const *)labels, n_labels));
        cJSON *cm = cJSON_AddArrayToObject(po, "confusion");
        for (int a = 0; a < n_labels; a++) {
            cJSON *row = cJSON_CreateArray();
            for (int b = 0; b < n_labels; b++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)pooled[a * n_labels + b]));
            cJSON_AddItemToArray(cm, row);
        }
        printf("\npooled over the %lld test clips of all folds: WA %.4f  UA %.4f  macro-F1 %.4f\n", (long long)pm.total,
               pm.accuracy, pm.uar, pm.macro_f1);
        char *text = cJSON_Print(js);
        char *pj = join(dir, "cv.json"), *pp = join(dir, "confusion_matrix_cv.png");
        rc = text && pj && pp ? ser_write_text_file(pj, text, err) : ser_fail(err, "out of memory");
        free(text);
        if (!rc) rc = ser_plot_confusion(pp, "Confusion matrix (cross-validation, test)", pooled,
                                         n_labels, (const char *const *)labels, err);
        if (!rc) printf("%s/: cv.json confusion_matrix_cv.png\n", dir);
        free(pj), free(pp);
        cJSON_Delete(js);
    } else if (!rc) {
        rc = ser_fail(err, "out of memory");
    }
    ser_metrics_free(&pm);
    for (int k = 0; r && k < n; k++) cJSON_Delete(r[k].report), cJSON_Delete(r[k].speakers);
    for (int i = 0; i < n_labels; i++) free(labels[i]);
    free(r), free(pooled);
    return rc;
}
