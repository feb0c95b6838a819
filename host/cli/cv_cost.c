/* The cost records of ser cv's folds (cv_cost.h). */
#include "cv_cost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ser/report.h"

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static cJSON *read_json(const char *path) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return NULL;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return cJSON_Parse(buf);
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

int cv_cost_read(const char *fold_dir, double *wall_s, double *cpu_s, int *attempts) {
    char *p = join(fold_dir, "cv_cost.json");
    cJSON *js = read_json(p);
    free(p);
    const double w = num(js, "wall_seconds"), c = num(js, "cpu_seconds"), a = num(js, "attempts");
    cJSON_Delete(js);
    if (w < 0 || c < 0 || a < 0) return -1;
    *wall_s = w, *cpu_s = c;
    if (attempts) *attempts = (int)a;
    return 0;
}

static int write_json(const char *path, cJSON *js, ser_error *err) {
    char *text = js ? cJSON_Print(js) : NULL;
    int rc = text && path ? ser_write_text_file(path, text, err) : ser_fail(err, "out of memory");
    free(text);
    return rc;
}

int cv_cost_add(const char *fold_dir, double wall_s, double cpu_s, ser_error *err) {
    double w = 0, c = 0;
    int a = 0;
    cv_cost_read(fold_dir, &w, &c, &a); /* none yet: the first attempt */
    cJSON *js = cJSON_CreateObject();
    if (js) {
        cJSON_AddNumberToObject(js, "wall_seconds", w + wall_s);
        cJSON_AddNumberToObject(js, "cpu_seconds", c + cpu_s);
        cJSON_AddNumberToObject(js, "attempts", a + 1);
    }
    char *p = join(fold_dir, "cv_cost.json");
    int rc = write_json(p, js, err);
    free(p);
    cJSON_Delete(js);
    return rc;
}

int cv_cost_collect(const char *dir, const int *folds, int n_folds, ser_error *err) {
    double wall = 0, cpu = 0;
    int measured = 0;
    for (int i = 0; i < n_folds; i++) {
        char name[32];
        snprintf(name, sizeof name, "fold_%d", folds ? folds[i] : i + 1);
        char *fd = join(dir, name);
        double w, c;
        if (fd && cv_cost_read(fd, &w, &c, NULL) == 0) wall += w, cpu += c, measured++;
        free(fd);
    }
    cJSON *js = cJSON_CreateObject();
    if (js) {
        cJSON_AddNumberToObject(js, "folds", n_folds);
        cJSON_AddNumberToObject(js, "folds_measured", measured);
        cJSON_AddNumberToObject(js, "wall_seconds", wall);
        cJSON_AddNumberToObject(js, "cpu_seconds", cpu);
    }
    char *p = join(dir, "cv_cost.json");
    int rc = write_json(p, js, err);
    free(p);
    cJSON_Delete(js);
    return rc;
}
