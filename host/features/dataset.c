/* Splits in memory: decode + MFCC every clip once (ser_features_extract), keep the good ones. */
#include "ser/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/feature_cache.h"
#include "ser/feature_source.h"
#include "ser/features.h"
#include "ser/normalize.h"
#include "ser/speaker_warp.h"

/* Whether clip c (ok: its features were computed) stays; prints why not. *label: its class
 * index, -1 without labels. */
static int keep_clip(const ser_clip *c, int ok, const char *why, const char *const *labels, size_t n_labels,
                     const char *what, int32_t *label) {
    *label = -1;
    if (ok && labels) {
        for (size_t k = 0; k < n_labels; k++)
            if (!strcmp(labels[k], c->label)) *label = (int32_t)k;
        if (*label < 0) {
            fprintf(stderr, "ser: %s: skipped %s: label '%s' is not one of the model's classes\n", what, c->path,
                    c->label);
            return 0;
        }
    }
    if (!ok) fprintf(stderr, "ser: %s: skipped %s\n", what, why ? why : c->path);
    return ok;
}

int ser_dataset_build(ser_dataset *ds, const ser_clips *in, const ser_config *cfg, const char *const *labels,
                      size_t n_labels, int threads, const char *what, ser_error *err) {
    return ser_dataset_build_with(ds, in, cfg, labels, n_labels, threads, what, ser_features_extract, err);
}

int ser_dataset_build_with(ser_dataset *ds, const ser_clips *in, const ser_config *cfg, const char *const *labels,
                           size_t n_labels, int threads, const char *what, ser_features_fn extract, ser_error *err) {
    return ser_dataset_build_in_memory(ds, in, cfg, labels, n_labels, threads, what, extract, NULL, NULL, err);
}

int ser_dataset_build_in_memory(ser_dataset *ds, const ser_clips *in, const ser_config *cfg,
                                const char *const *labels, size_t n_labels, int threads, const char *what,
                                ser_features_fn extract, double *vtln_fit, const double *vtln_ref, ser_error *err) {
    memset(ds, 0, sizeof *ds);
    const size_t n = in->n, F = ser_features_per_clip(cfg);
    if (n == 0) return ser_fail(err, "%s set: no clips", what);
    char **paths = ser_malloc(n * sizeof *paths, "clip paths", err);
    unsigned char *ok = ser_malloc(n, "clip flags", err);
    char **why = ser_calloc(n, sizeof *why, "clip errors", err);
    float *x = ser_malloc(n * F * sizeof *x, "features", err);
    int32_t *y = ser_malloc(n * sizeof *y, "labels", err);
    int rc = -1;
    if (!paths || !ok || !why || !x || !y) goto done;
    for (size_t i = 0; i < n; i++) paths[i] = in->v[i].path;
    if (extract(cfg, paths, n, threads, x, ok, why, err) != 0) goto done;

    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t label;
        if (!keep_clip(&in->v[i], ok[i], why[i], labels, n_labels, what, &label)) {
            ds->n_dropped++;
            continue;
        }
        const ser_clip *c = &in->v[i];
        if (ser_clips_push_clip(&ds->clips, c, err) != 0) goto done;
        if (kept != i) memcpy(x + kept * F, x + i * F, F * sizeof *x);
        y[kept++] = label;
    }
    if (kept == 0) {
        ser_fail(err, "%s set: none of its %zu clips could be used (listed above)", what, n);
        goto done;
    }
    if (ds->n_dropped) fprintf(stderr, "ser: %s: %zu of %zu clips skipped (listed above)\n", what, ds->n_dropped, n);
    /* per-speaker VTLN before the normalisation (features.vtln): the reference is this split's
     * own statistics (vtln_fit: the training split) or the model's */
    if (cfg->features.vtln > 0) {
        const int H = cfg->features.n_mfcc, W = cfg->features.frames;
        if (vtln_fit && H <= SER_VTLN_MAX_MFCC) ser_speaker_warp_stats(x, kept, H, W, vtln_fit);
        const double *ref = vtln_fit ? vtln_fit : vtln_ref;
        if (!ref) {
            ser_fail(err, "%s set: features.vtln is on but there are no reference statistics", what);
            goto done;
        }
        if (ser_speaker_warp_apply(x, kept, ds->clips.v, cfg, ref, threads, what, NULL, err) != 0) goto done;
    }
    /* before the global scaler, on every split alike (features.normalize) */
    if (ser_normalize(cfg->features.normalize, x, kept, ds->clips.v, ser_config_rows(cfg), cfg->features.frames,
                      err) != 0)
        goto done;
    ds->x = x, ds->y = y, ds->n = kept;
    x = NULL, y = NULL;
    rc = 0;
done:
    if (why)
        for (size_t i = 0; i < n; i++) free(why[i]);
    free(why), free(ok), free(paths), free(x), free(y);
    if (rc) ser_dataset_free(ds);
    return rc;
}

static void clip_free_strings(ser_clip *c) {
    free(c->path), free(c->label), free(c->speaker), free(c->group), free(c->corpus);
    memset(c, 0, sizeof *c);
}

int ser_dataset_build_cached(ser_dataset *ds, ser_clips *in, const ser_config *cfg, const char *const *labels,
                             size_t n_labels, int threads, const char *what, ser_features_fn extract,
                             ser_feature_cache *fc, int take, ser_error *err) {
    memset(ds, 0, sizeof *ds);
    const size_t n = in->n;
    if (n == 0) return ser_fail(err, "%s set: no clips", what);
    if (cfg->features.vtln > 0) return ser_fail(err, "%s set: features.vtln does not read from the feature cache", what);
    char **paths = ser_malloc(n * sizeof *paths, "clip paths", err);
    unsigned char *ok = ser_malloc(n, "clip flags", err);
    char **why = ser_calloc(n, sizeof *why, "clip errors", err);
    ser_feature_loc *loc = ser_malloc(n * sizeof *loc, "feature locations", err);
    int32_t *y = ser_malloc(n * sizeof *y, "labels", err);
    ds->src = ser_calloc(1, sizeof *ds->src, "feature source", err);
    int rc = -1;
    if (!paths || !ok || !why || !loc || !y || !ds->src) goto done;
    for (size_t i = 0; i < n; i++) paths[i] = in->v[i].path;
    if (ser_feature_cache_fill(fc, paths, n, extract, threads, loc, ok, why, err) != 0) goto done;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t label;
        if (!keep_clip(&in->v[i], ok[i], why[i], labels, n_labels, what, &label)) {
            ds->n_dropped++;
            continue;
        }
        if (!take && ser_clips_push_clip(&ds->clips, &in->v[i], err) != 0) goto done;
        if (take) { /* in's array becomes ds's, compacted in place; a dropped clip's strings freed */
            const ser_clip c = in->v[i];
            in->v[i] = in->v[kept];
            in->v[kept] = c;
        }
        loc[kept] = loc[i];
        y[kept++] = label;
    }
    if (kept == 0) {
        ser_fail(err, "%s set: none of its %zu clips could be used (listed above)", what, n);
        goto done;
    }
    if (take) {
        ds->clips = *in;
        for (size_t i = kept; i < n; i++) clip_free_strings(&ds->clips.v[i]);
        ds->clips.n = kept;
        memset(in, 0, sizeof *in);
        paths = (free(paths), NULL); /* pointed into in */
    }
    if (ds->n_dropped) fprintf(stderr, "ser: %s: %zu of %zu clips skipped (listed above)\n", what, ds->n_dropped, n);
    if (ser_feature_source_init(ds->src, fc, loc, ds->clips.v, kept, cfg, err) != 0) goto done;
    loc = NULL; /* the source's */
    ds->y = y, ds->n = kept;
    y = NULL;
    rc = 0;
done:
    if (why)
        for (size_t i = 0; i < n; i++) free(why[i]);
    free(why), free(ok), free(paths), free(loc), free(y);
    if (rc) ser_dataset_free(ds);
    return rc;
}

void ser_dataset_free(ser_dataset *ds) {
    if (!ds) return;
    ser_clips_free(&ds->clips);
    if (ds->src) ser_feature_source_free(ds->src);
    free(ds->src);
    free(ds->x);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}
