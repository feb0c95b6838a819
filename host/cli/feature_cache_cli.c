/* Where the feature cache is, and AdaBN / precise BN over a cached split (feature_cache_cli.h). */
#include "feature_cache_cli.h"

#include <stdio.h>
#include <stdlib.h>

#include "build_info.h"
#include "device.h"
#include "ser/feature_source.h"

int cli_feature_cache_open(ser_feature_cache *fc, const char *override, const ser_config *cfg, int cuda,
                           ser_error *err) {
    char buf[4096], tag[160];
    const char *root = ser_feature_cache_root(override, buf, sizeof buf);
    if (!root || cfg->features.vtln > 0) return 0;
    snprintf(tag, sizeof tag, "%s %s %s", cuda ? "cuda" : "cpu", SER_VERSION_STRING, SER_GIT_COMMIT);
    return ser_feature_cache_open(fc, root, cfg, tag, err) != 0 ? -1 : 1;
}

int cli_adapt_bn_dataset(ser_backend *be, const ser_dataset *ds, int max_batches, uint64_t seed, ser_error *err) {
    if (ds->x) return cli_adapt_bn(be, ds->x, ds->n, max_batches, seed, err);
    /* read by batch from the cache: the pass holds one batch, not the split */
    return cli_adapt_bn_fill(be, ds->n, ser_feature_source_fill, ds->src, max_batches, seed, err);
}
