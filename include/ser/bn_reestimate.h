/* Precise BN and AdaBN on a backend: the BN moving statistics re-estimated over a set of clips
 * by the backend's batch-norm statistics pass (its bn_stats_* ops: on the device itself, no
 * parameter transfer). ser train runs it over the training clips (train.precise_bn) and, with
 * train.test_adapt_bn, over the test clips; ser eval --adapt-bn over the clips it evaluates. */
#ifndef SER_BN_REESTIMATE_H
#define SER_BN_REESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#include "ser/backend.h"
#include "ser/dataset.h"
#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Over clips of x (n scaled clips): batches of the backend's max_B clips, in an order shuffled
 * by seed (a batch of one class or speaker would normalise the blocks unlike the whole set
 * does), at most max_batches of them (0: every clip; the same clips for the same n and seed).
 * Only the moving statistics change. */
int ser_bn_reestimate(ser_backend *be, const float *x, size_t n, int max_batches, uint64_t seed, ser_error *err);

/* The same over n clips that fill(user, idx, count, out) writes into a batch buffer (count clips
 * of idx, scaled): a split read by batch from the feature cache, never held whole. */
typedef int (*ser_bn_fill_fn)(void *user, const uint32_t *idx, int n, float *out, ser_error *err);
int ser_bn_reestimate_fill(ser_backend *be, size_t n, ser_bn_fill_fn fill, void *user, int max_batches, uint64_t seed,
                           ser_error *err);

/* Over a split: ds->x, or (feature cache) its clips read by batch from the cache (one batch in
 * memory). */
int ser_bn_reestimate_dataset(ser_backend *be, const ser_dataset *ds, int max_batches, uint64_t seed, ser_error *err);

/* How many of n clips a pass of at most max_batches batches of batch_size takes (0: all). */
size_t ser_bn_reestimate_clips(int max_batches, int batch_size, size_t n);

#ifdef __cplusplus
}
#endif

#endif
