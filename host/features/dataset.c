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

/* What became of each input clip of a build: its features computed or not (and why), and,
 * after pick_clips, the kept ones with their labels. */
typedef struct clip_outcome {
    size_t n;
    char **paths;       /* (n) into the input clips */
    unsigned char *ok;  /* (n) */
    char **why;         /* (n) malloc'd reasons, NULL entries allowed */
    int32_t *y;         /* (kept) class indices of the kept clips */
    size_t *from;       /* (kept) input index of kept clip j, increasing */
    size_t kept;
} clip_outcome;

static void outcome_free(clip_outcome *o) {
    for (size_t i = 0; o->why && i < o->n; i++) free(o->why[i]);
    free(o->why), free(o->ok), free(o->paths), free(o->y), free(o->from);
    memset(o, 0, sizeof *o);
}

static int outcome_init(clip_outcome *o, const ser_clips *in, ser_error *err) {
    memset(o, 0, sizeof *o);
    o->n = in->n;
    o->paths = ser_malloc(o->n * sizeof *o->paths, "clip paths", err);
    o->ok = ser_malloc(o->n, "clip flags", err);
    o->why = ser_calloc(o->n, sizeof *o->why, "clip errors", err);
    o->y = ser_malloc(o->n * sizeof *o->y, "labels", err);
    o->from = ser_malloc(o->n * sizeof *o->from, "kept clips", err);
    if (!o->paths || !o->ok || !o->why || !o->y || !o->from) return -1;
    for (size_t i = 0; i < o->n; i++) o->paths[i] = in->v[i].path;
    return 0;
}

/* The clips that stay (keep_clip, one line per dropped clip), their labels; the count of the
 * others in *n_dropped, with a summary line. Fails when none is left. */
static int pick_clips(clip_outcome *o, const ser_clips *in, const char *const *labels, size_t n_labels,
                      const char *what, size_t *n_dropped, ser_error *err) {
    o->kept = 0;
    for (size_t i = 0; i < o->n; i++) {
        int32_t label;
        if (!keep_clip(&in->v[i], o->ok[i], o->why[i], labels, n_labels, what, &label)) continue;
        o->from[o->kept] = i;
        o->y[o->kept++] = label;
    }
    *n_dropped = o->n - o->kept;
    if (o->kept == 0) return ser_fail(err, "%s set: none of its %zu clips could be used (listed above)", what, o->n);
    if (*n_dropped) fprintf(stderr, "ser: %s: %zu of %zu clips skipped (listed above)\n", what, *n_dropped, o->n);
    return 0;
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
    clip_outcome o;
    float *x = NULL;
    int rc = -1;
    if (outcome_init(&o, in, err) != 0 || !(x = ser_malloc(n * F * sizeof *x, "features", err))) goto done;
    if (extract(cfg, o.paths, n, threads, x, o.ok, o.why, err) != 0) goto done;
    if (pick_clips(&o, in, labels, n_labels, what, &ds->n_dropped, err) != 0) goto done;
    for (size_t j = 0; j < o.kept; j++) {
        if (ser_clips_push_clip(&ds->clips, &in->v[o.from[j]], err) != 0) goto done;
        if (o.from[j] != j) memcpy(x + j * F, x + o.from[j] * F, F * sizeof *x);
    }
    const size_t kept = o.kept;
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
    ds->x = x, ds->y = o.y, ds->n = kept;
    x = NULL, o.y = NULL;
    rc = 0;
done:
    outcome_free(&o);
    free(x);
    if (rc) ser_dataset_free(ds);
    return rc;
}

static void clip_free_strings(ser_clip *c) {
    free(c->path), free(c->label), free(c->speaker), free(c->group), free(c->corpus);
    memset(c, 0, sizeof *c);
}

typedef struct cache_reader {
    const ser_feature_cache *fc;
    const ser_feature_loc *loc;
} cache_reader;

static int read_cached(void *ctx, size_t i, float *out, ser_error *err) {
    const cache_reader *r = ctx;
    return ser_feature_cache_read(r->fc, &r->loc[i], out, err);
}

/* features.vtln through the cache: the reference statistics (vtln_fit: this split's) streamed
 * from the unwarped records, each speaker's warp chosen as ser_speaker_warp_apply chooses it,
 * and the warped speakers' records located (computed once, then shared like the others). */
static int speaker_warp_cached(ser_feature_cache *fc, ser_feature_loc *loc, const ser_clips *clips, const ser_config *cfg,
                               int threads, const char *what, double *vtln_fit, const double *vtln_ref,
                               ser_error *err) {
    const size_t n = clips->n;
    const int H = cfg->features.n_mfcc, W = cfg->features.frames;
    cache_reader r = {fc, loc};
    if (vtln_fit && H <= SER_VTLN_MAX_MFCC && ser_speaker_warp_stats_read(n, H, W, read_cached, &r, vtln_fit, err) != 0)
        return -1;
    const double *ref = vtln_fit ? vtln_fit : vtln_ref;
    if (!ref) return ser_fail(err, "%s set: features.vtln is on but there are no reference statistics", what);
    double *warp = ser_malloc(n * sizeof *warp, "vtln warps", err);
    char **paths = ser_malloc(n * sizeof *paths, "vtln paths", err), **why = ser_calloc(n, sizeof *why, "vtln", err);
    size_t *at = ser_malloc(n * sizeof *at, "vtln clips", err);
    ser_feature_loc *wloc = ser_malloc(n * sizeof *wloc, "vtln locations", err);
    unsigned char *ok = ser_malloc(n, "vtln flags", err);
    int rc = -1;
    if (!warp || !paths || !why || !at || !wloc || !ok ||
        ser_speaker_warp_choose(n, clips->v, cfg, ref, threads, what, read_cached, &r, warp, err) != 0)
        goto done;
    size_t m = 0; /* the clips whose speaker is warped */
    for (size_t i = 0; i < n; i++)
        if (warp[i] != 1.0) at[m] = i, paths[m] = clips->v[i].path, warp[m] = warp[i], m++;
    if (m && ser_feature_cache_fill_warped(fc, paths, warp, m, threads, wloc, ok, why, err) != 0) goto done;
    for (size_t j = 0; j < m; j++) {
        if (!ok[j]) {
            ser_fail(err, "vtln: warp %.2f: %s", warp[j], why[j] ? why[j] : paths[j]);
            goto done;
        }
        loc[at[j]] = wloc[j];
    }
    rc = 0;
done:
    for (size_t j = 0; why && j < n; j++) free(why[j]);
    free(warp), free(paths), free(why), free(at), free(wloc), free(ok);
    return rc;
}

int ser_dataset_build_cached(ser_dataset *ds, ser_clips *in, const ser_config *cfg, const char *const *labels,
                             size_t n_labels, int threads, const char *what, ser_features_fn extract,
                             ser_feature_cache *fc, int take, double *vtln_fit, const double *vtln_ref,
                             ser_error *err) {
    memset(ds, 0, sizeof *ds);
    const size_t n = in->n;
    if (n == 0) return ser_fail(err, "%s set: no clips", what);
    clip_outcome o;
    ser_feature_loc *loc = NULL;
    int rc = -1;
    if (outcome_init(&o, in, err) != 0 || !(loc = ser_malloc(n * sizeof *loc, "feature locations", err)) ||
        !(ds->src = ser_calloc(1, sizeof *ds->src, "feature source", err)))
        goto done;
    if (ser_feature_cache_fill(fc, o.paths, n, extract, threads, loc, o.ok, o.why, err) != 0) goto done;
    if (pick_clips(&o, in, labels, n_labels, what, &ds->n_dropped, err) != 0) goto done;
    for (size_t j = 0; j < o.kept; j++) {
        loc[j] = loc[o.from[j]];
        if (!take && ser_clips_push_clip(&ds->clips, &in->v[o.from[j]], err) != 0) goto done;
        if (take) { /* in's array becomes ds's, compacted in place (from[j] >= j, untouched so far) */
            const ser_clip c = in->v[o.from[j]];
            in->v[o.from[j]] = in->v[j];
            in->v[j] = c;
        }
    }
    if (take) { /* the dropped clips, now past the kept ones: their strings freed */
        ds->clips = *in;
        for (size_t i = o.kept; i < n; i++) clip_free_strings(&ds->clips.v[i]);
        ds->clips.n = o.kept;
        memset(in, 0, sizeof *in);
    }
    if (cfg->features.vtln > 0 && speaker_warp_cached(fc, loc, &ds->clips, cfg, threads, what, vtln_fit, vtln_ref, err) != 0)
        goto done;
    if (ser_feature_source_init(ds->src, fc, loc, ds->clips.v, o.kept, cfg, err) != 0) goto done;
    loc = NULL; /* the source's */
    ds->y = o.y, ds->n = o.kept;
    o.y = NULL;
    rc = 0;
done:
    outcome_free(&o);
    free(loc);
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
