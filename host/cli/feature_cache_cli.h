/* The commands' side of the on-disk feature cache (ser/feature_cache.h): where it is, and the
 * key of this build's features. */
#ifndef SER_CLI_FEATURE_CACHE_CLI_H
#define SER_CLI_FEATURE_CACHE_CLI_H

#include "ser/config.h"
#include "ser/feature_cache.h"

/* Opens the cache of cfg's features (override: a --feature-cache value, else $SER_FEATURE_CACHE,
 * else ~/.cache/ser/features; "off": none). Returns 1 when opened, 0 when the cache is off,
 * -1 on an error. The key names the extractor
 * (cuda: the GPU's features) and this build. */
int cli_feature_cache_open(ser_feature_cache *fc, const char *override, const ser_config *cfg, int cuda,
                           ser_error *err);

#endif
