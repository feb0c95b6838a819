/* The commands' side of the on-disk feature cache (ser/feature_cache.h): where it is, and the
 * passes that still want a split as one array. */
#ifndef SER_CLI_FEATURE_CACHE_CLI_H
#define SER_CLI_FEATURE_CACHE_CLI_H

#include "ser/backend.h"
#include "ser/dataset.h"
#include "ser/feature_cache.h"

/* Opens the cache of cfg's features (override: a --feature-cache value, else $SER_FEATURE_CACHE,
 * else ~/.cache/ser/features; "off": none). Returns 1 when opened, 0 when the cache is off or
 * features.vtln is on (features in memory), -1 on an error. The key names the extractor
 * (cuda: the GPU's features) and this build. */
int cli_feature_cache_open(ser_feature_cache *fc, const char *override, const ser_config *cfg, int cuda,
                           ser_error *err);

/* cli_adapt_bn over a split: ds->x, or (feature cache) its clips read by batch from the cache
 * (cli_adapt_bn_fill: one batch in memory). */
int cli_adapt_bn_dataset(ser_backend *be, const ser_dataset *ds, int max_batches, uint64_t seed, ser_error *err);

#endif
