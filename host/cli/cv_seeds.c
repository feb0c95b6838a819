/* The summary of `ser cv --seeds` (cv.h): every seed trained the same folds (the same
 * manifests) with its own train.seed into DIR/seed_S/; each seed's own summary is
 * DIR/seed_S/cv.json, and DIR/cv.json puts them together:
 *   mean          over every (seed, fold) run;
 *   std_dev       the sample std over the folds of each fold's metric averaged over the seeds
 *                 (the spread between speakers, as a single seed's std_dev);
 *   seed_std_dev  the sample std of the seeds' means (the spread a seed alone makes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cv.h"
#include "cv_cost.h"
#include "ser/report.h"

#define SEEDS_MAX_FOLDS 4096

static const char *const KEYS[3] = {"accuracy", "uar", "macro_f1"};

static double sample_std(const double *v, int n, double mean) {
    if (n < 2) return NAN;
    double q = 0;
    for (int i = 0; i < n; i++) q += (v[i] - mean) * (v[i] - mean);
    return sqrt(q / (n - 1));
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

int cv_seeds_collect(const char *dir, const int *seeds, int n_seeds, ser_error *err) {
    char p[4200];
    int n_folds = -1, rc = 0;
    /* m[(s * n_folds + f) * 3 + metric] */
    double *m = NULL, wall = 0, cpu = 0;
    int folds[SEEDS_MAX_FOLDS], measured = 0;
    cJSON *out = cJSON_CreateObject(), *per_seed = cJSON_CreateArray();
    for (int s = 0; !rc && s < n_seeds; s++) {
        snprintf(p, sizeof p, "%s/seed_%d", dir, seeds[s]);
        int *nums = NULL;
        const int nn = cv_fold_numbers(p, &nums);
        if (cv_collect(p, 0, err) != 0 || cv_cost_collect(p, nums, nn, err) != 0) {
            free(nums);
            rc = ser_fail_wrap(err, "seed %d", seeds[s]);
            break;
        }
        free(nums);
        snprintf(p, sizeof p, "%s/seed_%d/cv.json", dir, seeds[s]);
        cJSON *js = cv_read_json(p, err);
        const cJSON *pf = js ? cJSON_GetObjectItemCaseSensitive(js, "per_fold") : NULL;
        const int nf = cJSON_GetArraySize(pf);
        if (!js) rc = -1;
        else if (nf < 1 || nf > SEEDS_MAX_FOLDS || (n_folds >= 0 && nf != n_folds))
            rc = ser_fail(err, "%s: %d folds (the other seeds: %d)", p, nf, n_folds);
        if (!rc && n_folds < 0) {
            n_folds = nf;
            if (!(m = calloc((size_t)n_seeds * (size_t)nf * 3, sizeof *m))) rc = ser_fail(err, "out of memory");
        }
        for (int f = 0; !rc && f < nf; f++) {
            const cJSON *o = cJSON_GetArrayItem(pf, f), *fk = cJSON_GetObjectItemCaseSensitive(o, "fold");
            if (!cJSON_IsNumber(fk) || (s && fk->valueint != folds[f])) rc = ser_fail(err, "%s: per_fold[%d]: another fold than seed %d's", p, f, seeds[0]);
            else folds[f] = fk->valueint;
            for (int k = 0; !rc && k < 3; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, KEYS[k]);
                if (!cJSON_IsNumber(v)) rc = ser_fail(err, "%s: per_fold[%d].%s is not a number", p, f, KEYS[k]);
                else m[((size_t)s * nf + f) * 3 + k] = v->valuedouble;
            }
        }
        if (!rc) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "seed", seeds[s]);
            cJSON_AddItemToObject(o, "mean", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(js, "mean"), 1));
            cJSON_AddItemToObject(o, "std_dev", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(js, "std_dev"), 1));
            cJSON_AddItemToArray(per_seed, o);
        }
        cJSON_Delete(js);
        snprintf(p, sizeof p, "%s/seed_%d/cv_cost.json", dir, seeds[s]);
        cJSON *cost = rc ? NULL : cv_read_json(p, NULL);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(cost, "wall_seconds"), *c = cJSON_GetObjectItemCaseSensitive(cost, "cpu_seconds");
        const cJSON *fm = cJSON_GetObjectItemCaseSensitive(cost, "folds_measured");
        if (cJSON_IsNumber(w) && cJSON_IsNumber(c)) wall += w->valuedouble, cpu += c->valuedouble;
        if (cJSON_IsNumber(fm)) measured += fm->valueint;
        cJSON_Delete(cost);
    }
    if (!rc) {
        const int nf = n_folds;
        cJSON_AddItemToObject(out, "seeds", cJSON_CreateIntArray(seeds, n_seeds));
        cJSON_AddNumberToObject(out, "folds", nf);
        cJSON_AddStringToObject(out, "std", "std_dev: sample std over the folds of each fold's metric averaged over the "
                                            "seeds (n - 1); seed_std_dev: sample std of the seeds' means");
        cJSON_AddItemToObject(out, "per_seed", per_seed);
        per_seed = NULL;
        cJSON *mean = cJSON_AddObjectToObject(out, "mean"), *sd = cJSON_AddObjectToObject(out, "std_dev");
        cJSON *ssd = cJSON_AddObjectToObject(out, "seed_std_dev");
        double fold_avg[SEEDS_MAX_FOLDS], *seed_mean = malloc((size_t)n_seeds * sizeof *seed_mean);
        if (!seed_mean) rc = ser_fail(err, "out of memory");
        printf("over %d seeds x %d folds:", n_seeds, nf);
        for (int k = 0; !rc && k < 3; k++) {
            double all = 0;
            for (int f = 0; f < nf; f++) {
                fold_avg[f] = 0;
                for (int s = 0; s < n_seeds; s++) fold_avg[f] += m[((size_t)s * nf + f) * 3 + k] / n_seeds;
                all += fold_avg[f] / nf;
            }
            for (int s = 0; s < n_seeds; s++) {
                seed_mean[s] = 0;
                for (int f = 0; f < nf; f++) seed_mean[s] += m[((size_t)s * nf + f) * 3 + k] / nf;
            }
            add_num(mean, KEYS[k], all);
            add_num(sd, KEYS[k], sample_std(fold_avg, nf, all));
            add_num(ssd, KEYS[k], sample_std(seed_mean, n_seeds, all));
            printf("  %s %.4f +- %.4f (seeds +- %.4f)", KEYS[k], all, sample_std(fold_avg, nf, all),
                   sample_std(seed_mean, n_seeds, all));
        }
        printf("\n");
        free(seed_mean);
    }
    if (!rc) {
        char *text = cJSON_Print(out);
        snprintf(p, sizeof p, "%s/cv.json", dir);
        rc = text ? ser_write_text_file(p, text, err) : ser_fail(err, "out of memory");
        free(text);
    }
    if (!rc) {
        cJSON *cost = cJSON_CreateObject();
        cJSON_AddNumberToObject(cost, "folds", (double)n_folds * n_seeds);
        cJSON_AddNumberToObject(cost, "folds_measured", measured);
        cJSON_AddNumberToObject(cost, "wall_seconds", wall);
        cJSON_AddNumberToObject(cost, "cpu_seconds", cpu);
        char *text = cJSON_Print(cost);
        snprintf(p, sizeof p, "%s/cv_cost.json", dir);
        rc = text ? ser_write_text_file(p, text, err) : ser_fail(err, "out of memory");
        free(text);
        cJSON_Delete(cost);
    }
    if (!rc) printf("%s/: cv.json cv_cost.json (each seed's in seed_S/)\n", dir);
    free(m);
    cJSON_Delete(per_seed);
    cJSON_Delete(out);
    return rc;
}
