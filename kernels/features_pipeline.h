/* ser_features_extract_cuda (ser/cuda.h) with its sizes explicit, for tests that need several
 * batches or the long-clip path from a few files (kernels/features_pipeline.c). */
#ifndef SER_FEATURES_PIPELINE_H
#define SER_FEATURES_PIPELINE_H

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* batch: clips per GPU batch (<= 0: SER_GPU_FEATURES_BATCH, fewer when memory or n asks);
 * max_samples: samples of a GPU slot (0: the configured window, see features_pipeline.c);
 * a clip longer than that is computed on the CPU by the thread that decoded it. */
enum { SER_GPU_FEATURES_BATCH = 256 };
int ser_features_extract_cuda_sized(const ser_config *cfg, char *const *paths, size_t n, int threads, int batch,
                                    size_t max_samples, float *out, unsigned char *ok, char **why, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
