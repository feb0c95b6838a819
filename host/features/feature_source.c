/* Features by batch from the cache, normalised and scaled on the way (ser/feature_source.h). */
#include "ser/feature_source.h"

#include <stdlib.h>
#include <string.h>

int ser_feature_source_init(ser_feature_source *src, const ser_feature_cache *fc, ser_feature_loc *loc,
                            const ser_clip *clips, size_t n, const ser_config *cfg, ser_error *err) {
    memset(src, 0, sizeof *src);
    src->fc = fc, src->loc = loc, src->n = n, src->F = fc->F;
    src->H = ser_config_rows(cfg), src->W = cfg->features.frames, src->mode = cfg->features.normalize;
    SER_ASSERT((size_t)src->H * src->W == src->F);
    if (src->mode != SER_NORM_NONE && src->mode != SER_NORM_CLIP && src->mode != SER_NORM_SPEAKER)
        return ser_fail(err, "features.normalize = %d: must be 0 (none), 1 (per clip) or 2 (per speaker)", src->mode);
    if (src->mode == SER_NORM_CLIP &&
        !(src->clip_sums = ser_malloc(2 * (size_t)src->H * sizeof *src->clip_sums, "normalisation sums", err)))
        goto fail;
    if (src->mode != SER_NORM_SPEAKER) return 0;
    float *x = ser_malloc(src->F * sizeof *x, "feature record", err);
    if (!x || ser_norm_stats_init(&src->speakers, clips, n, src->H, err) != 0) {
        free(x);
        goto fail;
    }
    /* one pass in clip order: the sums ser_normalize takes, in its order */
    for (size_t i = 0; i < n; i++) {
        if (ser_feature_cache_read(fc, &loc[i], x, err) != 0) {
            free(x);
            goto fail;
        }
        ser_norm_stats_add(&src->speakers, i, x, src->W);
    }
    free(x);
    ser_norm_stats_finish(&src->speakers);
    return 0;
fail:
    src->loc = NULL; /* the caller still owns it on failure */
    ser_feature_source_free(src);
    return -1;
}

void ser_feature_source_free(ser_feature_source *src) {
    if (!src) return;
    ser_norm_stats_free(&src->speakers);
    free(src->loc), free(src->clip_sums);
    memset(src, 0, sizeof *src);
}

/* Normalised, unscaled. mode 1 uses the shared scratch: one thread reads a source at a time. */
static int clip_normalised(const ser_feature_source *src, size_t i, float *out, ser_error *err) {
    if (ser_feature_cache_read(src->fc, &src->loc[i], out, err) != 0) return -1;
    if (src->mode == SER_NORM_SPEAKER) {
        ser_norm_stats_apply(&src->speakers, i, out, src->W);
    } else if (src->mode == SER_NORM_CLIP) {
        double *sum = src->clip_sums, *sq = sum + src->H, count = 0.0;
        memset(sum, 0, 2 * (size_t)src->H * sizeof *sum);
        ser_norm_accumulate(out, src->H, src->W, sum, sq, &count);
        ser_norm_finish(sum, sq, count, src->H);
        ser_norm_apply(out, src->H, src->W, sum, sq);
    }
    return 0;
}

int ser_feature_source_clip(const ser_feature_source *src, size_t i, float *out, ser_error *err) {
    SER_ASSERT(i < src->n);
    if (clip_normalised(src, i, out, err) != 0) return -1;
    if (src->scaled) ser_scaler_apply(&src->scaler, out, src->F);
    return 0;
}

int ser_feature_source_fit_scaler(const ser_feature_source *src, ser_scaler *out, ser_error *err) {
    float *x = ser_malloc(src->F * sizeof *x, "feature record", err);
    if (!x) return -1;
    /* ser_scaler_fit's two passes over the same values in the same order */
    double sum = 0.0, ss = 0.0;
    const size_t total = src->n * src->F;
    for (size_t i = 0; i < src->n; i++) {
        if (clip_normalised(src, i, x, err) != 0) goto fail;
        sum = ser_scaler_sum(x, src->F, sum);
    }
    const double mean = total ? sum / (double)total : 0.0;
    for (size_t i = 0; i < src->n; i++) {
        if (clip_normalised(src, i, x, err) != 0) goto fail;
        ss = ser_scaler_sum_sq(x, src->F, mean, ss);
    }
    free(x);
    *out = ser_scaler_from_sums(sum, ss, total);
    return 0;
fail:
    free(x);
    return -1;
}

void ser_feature_source_set_scaler(ser_feature_source *src, const ser_scaler *s) {
    src->scaler = *s;
    src->scaled = 1;
}

int ser_feature_source_fill(void *source, const uint32_t *idx, int B, float *out, ser_error *err) {
    const ser_feature_source *src = source;
    for (int b = 0; b < B; b++)
        if (ser_feature_source_clip(src, idx[b], out + (size_t)b * src->F, err) != 0) return -1;
    return 0;
}
