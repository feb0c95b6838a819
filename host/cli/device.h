/* `--device auto|cpu|cuda` for the commands that compute (train, eval, predict, bench-epoch,
 * mfcc): which backend runs, and the one line that says so. */
#ifndef SER_CLI_DEVICE_H
#define SER_CLI_DEVICE_H

#include <stddef.h>

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

/* The feature extractor for the pick: ser_features_extract or ser_features_extract_cuda. */
ser_features_fn cli_features_fn(int cuda);

#endif
