/* A split's features read by batch from the feature cache (ser/feature_cache.h) instead of one
 * corpus-sized array: each clip's record is read, normalised (features.normalize: per clip, or
 * with its speaker's statistics over THIS split, streamed once at init) and scaled with the
 * global scaler, exactly as ser_dataset_build + ser_scaler_apply do over the whole array (bit
 * for bit: the same sums in the same order). Memory: the per-clip record locations (40 bytes a
 * clip) and 2 * rows doubles a speaker. */
#ifndef SER_FEATURE_SOURCE_H
#define SER_FEATURE_SOURCE_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/corpus.h"
#include "ser/feature_cache.h"
#include "ser/normalize.h"
#include "ser/scaler.h"

typedef struct ser_feature_source {
    const ser_feature_cache *fc;   /* not owned */
    ser_feature_loc *loc;          /* (n) owned */
    size_t n, F;
    int H, W, mode;                /* rows, frames, features.normalize */
    ser_norm_stats speakers;       /* mode SER_NORM_SPEAKER */
    double *clip_sums;             /* (2 H) scratch of mode SER_NORM_CLIP */
    int scaled;                    /* scaler set */
    ser_scaler scaler;
} ser_feature_source;

/* Takes ownership of loc (n records of clips, in the split's order); per-speaker statistics
 * are streamed from the cache here when features.normalize = 2. */
int ser_feature_source_init(ser_feature_source *src, const ser_feature_cache *fc, ser_feature_loc *loc,
                            const ser_clip *clips, size_t n, const ser_config *cfg, ser_error *err);
void ser_feature_source_free(ser_feature_source *src);

/* Clip i's normalised features (F values), scaled once a scaler is set. */
int ser_feature_source_clip(const ser_feature_source *src, size_t i, float *out, ser_error *err);

/* ser_scaler_fit over every normalised value of the split, in clip order (two passes). */
int ser_feature_source_fit_scaler(const ser_feature_source *src, ser_scaler *out, ser_error *err);
void ser_feature_source_set_scaler(ser_feature_source *src, const ser_scaler *s);

/* B clips idx[0..B) into out (B, F): ser_loop_data's fill (source = a ser_feature_source). */
int ser_feature_source_fill(void *source, const uint32_t *idx, int B, float *out, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
