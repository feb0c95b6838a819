/* A split in memory: the clips of a manifest or scan, their features (computed once per run:
 * the feature cache of docs/architecture.md) and their class indices. Clips that fail to decode are left
 * out and listed; clips whose label is not one of the model's classes likewise. */
#ifndef SER_DATASET_H
#define SER_DATASET_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/error.h"
#include "ser/features.h"

struct ser_feature_source;
struct ser_feature_cache;

typedef struct ser_dataset {
    ser_clips clips;      /* the clips kept, in input order */
    float *x;             /* (n, rows * frames) unscaled features, rows = ser_config_rows; NULL when
                           * src reads them by batch (ser_dataset_build_cached) */
    struct ser_feature_source *src;
    int32_t *y;           /* (n) class index into the label list; -1 when unlabelled (predict) */
    size_t n;
    size_t n_dropped;     /* clips left out (reasons printed to stderr with `what`) */
} ser_dataset;

/* Computes the features of every clip in `in` (threads <= 0: all cores). labels/n_labels is
 * the class list (NULL: no labels, y = -1). `what` names the split in messages ("train").
 * Dropped clips are printed one line each to stderr. Fails when nothing is left. */
int ser_dataset_build(ser_dataset *ds, const ser_clips *in, const ser_config *cfg, const char *const *labels,
                      size_t n_labels, int threads, const char *what, ser_error *err);

/* ser_dataset_build with that extractor. */
int ser_dataset_build_with(ser_dataset *ds, const ser_clips *in, const ser_config *cfg, const char *const *labels,
                           size_t n_labels, int threads, const char *what, ser_features_fn extract, ser_error *err);
/* The in-memory builder behind ser_dataset_build and ser_dataset_build_with (x holds every
 * clip's features); with features.vtln (ser/speaker_warp.h) each speaker's features are warped
 * toward reference statistics before the normalisation: vtln_fit (2 n_mfcc doubles, the
 * training split) receives this split's own unwarped statistics and is the reference; else
 * vtln_ref (the model's) is. Without features.vtln both are ignored and may be NULL. */
int ser_dataset_build_in_memory(ser_dataset *ds, const ser_clips *in, const ser_config *cfg,
                                const char *const *labels, size_t n_labels, int threads, const char *what,
                                ser_features_fn extract, double *vtln_fit, const double *vtln_ref, ser_error *err);
/* ser_dataset_build_with through the on-disk feature cache fc: the features are computed (or
 * found) there and x stays NULL; ds->src reads normalised clips by batch (ser/feature_source.h).
 * The same clips are kept and dropped, with the same messages. features.vtln as in
 * ser_dataset_build_in_memory (vtln_fit, vtln_ref; the same warps and features), its warped
 * records cached too; memory: the largest speaker's clips during the warp search.
 * take: in's clips are moved into ds (in is left empty), so a large list is never held twice;
 * else copied. */
int ser_dataset_build_cached(ser_dataset *ds, ser_clips *in, const ser_config *cfg, const char *const *labels,
                             size_t n_labels, int threads, const char *what, ser_features_fn extract,
                             struct ser_feature_cache *fc, int take, double *vtln_fit, const double *vtln_ref,
                             ser_error *err);
void ser_dataset_free(ser_dataset *ds);

#ifdef __cplusplus
}
#endif

#endif
