/* The table of `ser sweep` (sweep.h): each combination's cv.json (mean and sample std over the
 * folds) and cv_cost.json (the folds' ser train wall and CPU seconds), sorted by the mean UA,
 * best first, into SWEEP/sweep.json and SWEEP/sweep.md and onto stdout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cv.h"

#include "ser/report.h"
#include "sweep.h"

typedef struct row {
    int order;                  /* in the plan */
    const char *name, *command;
    const cJSON *values;        /* array of strings, one per key */
    int done, folds, measured;
    double ua, ua_sd, wa, f1, wall, cpu;
} row;

/* dir/name parsed (cv_read_json). */
static cJSON *read_json(const char *dir, const char *name, ser_error *err) {
    char p[4200];
    if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) return ser_fail(err, "%s: path too long", dir), NULL;
    return cv_read_json(p, err);
}

/* o[a][b] as a number, NAN when missing or null. */
static double num2(const cJSON *o, const char *a, const char *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void load_row(const char *sweep, row *r) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", sweep, r->name);
    cJSON *cv = read_json(dir, "cv.json", NULL);
    r->done = cv && isfinite(num2(cv, "mean", "uar"));
    if (r->done) {
        r->ua = num2(cv, "mean", "uar"), r->ua_sd = num2(cv, "std_dev", "uar");
        r->wa = num2(cv, "mean", "accuracy"), r->f1 = num2(cv, "mean", "macro_f1");
        r->folds = (int)num2(cv, "folds", NULL);
    }
    cJSON_Delete(cv);
    cJSON *cost = read_json(dir, "cv_cost.json", NULL);
    r->wall = num2(cost, "wall_seconds", NULL), r->cpu = num2(cost, "cpu_seconds", NULL);
    r->measured = cost ? (int)num2(cost, "folds_measured", NULL) : 0;
    cJSON_Delete(cost);
}

static int by_ua(const void *x, const void *y) {
    const row *a = x, *b = y;
    if (a->done != b->done) return b->done - a->done;
    if (a->done && a->ua != b->ua) return a->ua < b->ua ? 1 : -1;
    return a->order - b->order;
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

/* A markdown table cell: | escaped. */
static void md_cell(FILE *f, const char *s, int code) {
    fputs(code ? " `" : " ", f);
    for (; *s; s++) *s == '|' ? fputs("\\|", f) : fputc(*s, f);
    fputs(code ? "` |" : " |", f);
}

static void md_num(FILE *f, double v, const char *fmt) {
    if (isfinite(v)) fputc(' ', f), fprintf(f, fmt, v), fputs(" |", f);
    else fputs(" - |", f);
}

int sweep_collect(const char *sweep, int *n_unfinished, ser_error *err) {
    cJSON *plan = read_json(sweep, "sweep_plan.json", err);
    if (!plan) return ser_fail_wrap(err, "not a ser sweep folder (no plan)");
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(plan, "keys");
    const cJSON *combos = cJSON_GetObjectItemCaseSensitive(plan, "combinations");
    const int nk = cJSON_GetArraySize(keys), n = cJSON_GetArraySize(combos);
    row *rows = calloc((size_t)(n ? n : 1), sizeof *rows);
    int rc = rows ? 0 : ser_fail(err, "out of memory");
    for (int i = 0; !rc && i < n; i++) {
        const cJSON *c = cJSON_GetArrayItem(combos, i);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name"), *cmd = cJSON_GetObjectItemCaseSensitive(c, "command");
        rows[i].values = cJSON_GetObjectItemCaseSensitive(c, "values");
        if (!cJSON_IsString(nm) || !cJSON_IsString(cmd) || cJSON_GetArraySize(rows[i].values) != nk ||
            strchr(nm->valuestring, '/'))
            rc = ser_fail(err, "%s/sweep_plan.json: combination %d is malformed", sweep, i + 1);
        else rows[i].order = i, rows[i].name = nm->valuestring, rows[i].command = cmd->valuestring, load_row(sweep, &rows[i]);
    }
    if (rc) goto out;
    qsort(rows, (size_t)n, sizeof *rows, by_ua);
    *n_unfinished = 0;
    for (int i = 0; i < n; i++) *n_unfinished += !rows[i].done;

    cJSON *js = cJSON_CreateObject();
    cJSON_AddItemToObject(js, "keys", cJSON_Duplicate(keys, 1));
    cJSON_AddStringToObject(js, "sort", "mean UA (uar) over the folds, best first; unfinished combinations last");
    cJSON_AddStringToObject(js, "std", "sample standard deviation over the folds (n - 1)");
    cJSON_AddStringToObject(js, "cost", "the folds' ser train wall and CPU (user + system) seconds, summed");
    cJSON *arr = cJSON_AddArrayToObject(js, "rows");
    char *md = NULL;
    size_t mdlen = 0;
    FILE *f = open_memstream(&md, &mdlen);
    if (!f) {
        cJSON_Delete(js);
        rc = ser_fail(err, "sweep.md: %s", strerror(errno));
        goto out;
    }
    fprintf(f, "# ser sweep\n\n%d combinations (%d finished), sorted by the mean UA over the folds (best first).\n"
               "UA std: the sample standard deviation over the folds. Cost: the folds' `ser train` wall and\n"
               "CPU seconds, summed. Each command runs its row again (a finished fold is kept).\n\n| rank |",
            n, n - *n_unfinished);
    for (int k = 0; k < nk; k++) fprintf(f, " %s |", cJSON_GetArrayItem(keys, k)->valuestring);
    fputs(" UA mean | UA std | WA mean | macro-F1 | folds | wall s | CPU s | command |\n| ---: |", f);
    for (int k = 0; k < nk; k++) fputs(" --- |", f);
    fputs(" ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n", f);
    printf("%-4s", "rank");
    for (int k = 0; k < nk; k++) printf(" %-14s", cJSON_GetArrayItem(keys, k)->valuestring);
    printf(" %-17s %-7s %-7s %9s %9s\n", "UA mean +- std", "WA", "F1", "wall s", "CPU s");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        cJSON *o = cJSON_CreateObject(), *vals = cJSON_AddObjectToObject(o, "values");
        if (r->done) cJSON_AddNumberToObject(o, "rank", i + 1);
        else cJSON_AddNullToObject(o, "rank");
        cJSON_AddStringToObject(o, "name", r->name);
        for (int k = 0; k < nk; k++)
            cJSON_AddStringToObject(vals, cJSON_GetArrayItem(keys, k)->valuestring, cJSON_GetArrayItem(r->values, k)->valuestring);
        cJSON_AddBoolToObject(o, "finished", r->done);
        add_num(o, "folds", r->done ? r->folds : NAN);
        add_num(o, "ua_mean", r->done ? r->ua : NAN);
        add_num(o, "ua_std", r->done ? r->ua_sd : NAN);
        add_num(o, "wa_mean", r->done ? r->wa : NAN);
        add_num(o, "macro_f1_mean", r->done ? r->f1 : NAN);
        add_num(o, "wall_seconds", r->wall);
        add_num(o, "cpu_seconds", r->cpu);
        cJSON_AddNumberToObject(o, "folds_measured", r->measured);
        cJSON_AddStringToObject(o, "command", r->command);
        cJSON_AddItemToArray(arr, o);

        char rank[16];
        snprintf(rank, sizeof rank, "%d", i + 1);
        fputc('|', f);
        md_cell(f, r->done ? rank : "-", 0);
        printf("%-4s", r->done ? rank : "-");
        for (int k = 0; k < nk; k++) {
            const char *v = cJSON_GetArrayItem(r->values, k)->valuestring;
            md_cell(f, v, 0);
            printf(" %-14s", v);
        }
        md_num(f, r->done ? r->ua : NAN, "%.4f"), md_num(f, r->done ? r->ua_sd : NAN, "%.4f");
        md_num(f, r->done ? r->wa : NAN, "%.4f"), md_num(f, r->done ? r->f1 : NAN, "%.4f");
        md_num(f, r->done ? r->folds : NAN, "%.0f"), md_num(f, r->wall, "%.1f"), md_num(f, r->cpu, "%.1f");
        md_cell(f, r->command, 1);
        fputc('\n', f);
        if (r->done) printf(" %.4f +- %-7.4f %-7.4f %-7.4f %9.1f %9.1f\n", r->ua, r->ua_sd, r->wa, r->f1, r->wall, r->cpu);
        else printf(" not finished\n");
    }
    fclose(f);
    char *text = cJSON_Print(js), p[4200];
    snprintf(p, sizeof p, "%s/sweep.json", sweep);
    rc = text ? ser_write_text_file(p, text, err) : ser_fail(err, "out of memory");
    snprintf(p, sizeof p, "%s/sweep.md", sweep);
    if (!rc) rc = md ? ser_write_text_file(p, md, err) : ser_fail(err, "out of memory");
    if (!rc) printf("%s/: sweep.json sweep.md\n", sweep);
    free(text), free(md);
    cJSON_Delete(js);
out:
    free(rows);
    cJSON_Delete(plan);
    return rc;
}
