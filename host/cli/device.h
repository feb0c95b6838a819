/* `--device auto|cpu|cuda` for the commands that compute (train, eval, predict, bench-epoch,
 * mfcc): which backend runs, and the one line that says so. */
#ifndef SER_CLI_DEVICE_H
#define SER_CLI_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "ser/backend.h"
#include "ser/dataset.h"

/* 0 when name is auto, cpu or cuda. */
int cli_device_valid(const char *name);

/* Resolves name: *cuda = 1 for the GPU (auto: when ser_cuda_devices() > 0). Fails for cuda
 * without a usable device, naming why. why (may be NULL) gets the device line (the GPU's
 * description, or for auto -> cpu why there is no GPU). */
int cli_device_pick(const char *name, int *cuda, char *why, size_t n, ser_error *err);

/* The backend for the pick (the CPU backend reserves the model's host arena). */
ser_backend *cli_backend_create(int cuda, ser_model *m, const ser_config *cfg, int max_B, ser_error *err);

/* Precise BN and AdaBN: the BN moving statistics re-estimated over clips of x (n scaled clips)
 * by the backend's batch-norm statistics pass (its bn_stats_* ops: on the device itself, no
 * parameter transfer). Batches of the backend's max_B clips, in an order shuffled by seed (a
 * batch of one class or speaker would normalise the blocks unlike the whole set does), at most
 * max_batches of them (0: every clip; the same clips for the same n and seed). Only the moving
 * statistics change. */
int cli_adapt_bn(ser_backend *be, const float *x, size_t n, int max_batches, uint64_t seed, ser_error *err);
/* The same over n clips that fill(user, idx, count, out) writes into a batch buffer (count clips
 * of idx, scaled): a split read by batch from the feature cache, never held whole. */
typedef int (*cli_fill_fn)(void *user, const uint32_t *idx, int n, float *out, ser_error *err);
int cli_adapt_bn_fill(ser_backend *be, size_t n, cli_fill_fn fill, void *user, int max_batches, uint64_t seed,
                      ser_error *err);

/* The feature extractor for the pick: ser_features_extract or ser_features_extract_cuda. */
ser_features_fn cli_features_fn(int cuda);

#endif
