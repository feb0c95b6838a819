/* Where the feature cache is (feature_cache_cli.h). */
#include "feature_cache_cli.h"

#include <stdio.h>

#include "build_info.h"
#include "ser/feature_cache.h"

int cli_feature_cache_open(ser_feature_cache *fc, const char *override, const ser_config *cfg, int cuda,
                           ser_error *err) {
    char buf[4096], tag[160];
    const char *root = ser_feature_cache_root(override, buf, sizeof buf);
    if (!root || cfg->features.vtln > 0) return 0;
    snprintf(tag, sizeof tag, "%s %s %s", cuda ? "cuda" : "cpu", SER_VERSION_STRING, SER_GIT_COMMIT);
    return ser_feature_cache_open(fc, root, cfg, tag, err) != 0 ? -1 : 1;
}
