/* Where the feature cache is (feature_cache_cli.h). */
#include "feature_cache_cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_info.h"
#include "ser/feature_cache.h"
#include "ser/feature_cache_prune.h"

/* $SER_FEATURE_CACHE_MAX_MB: the other folders pruned, least recently used first, until the
 * root holds at most that (the run's own folder and folders in use stay). */
static int prune_to_budget(const char *root, const ser_feature_cache *fc) {
    const char *v = getenv("SER_FEATURE_CACHE_MAX_MB");
    if (!v || !*v) return 0;
    double mb;
    ser_error err = {0};
    if (ser_cache_parse_limit(v, &mb) != 0) {
        fprintf(stderr, "SER_FEATURE_CACHE_MAX_MB: '%s' is not a number of MiB >= 0\n", v);
        return -1;
    }
    const ser_cache_prune_opts o = {.max_bytes = (uint64_t)(mb * 1048576.0), .keep = strrchr(fc->dir, '/') + 1};
    uint64_t freed, kept;
    if (ser_cache_prune(root, &o, NULL, NULL, &freed, &kept, &err) != 0) {
        fprintf(stderr, "SER_FEATURE_CACHE_MAX_MB: %s\n", err.msg);
        return -1;
    }
    if (freed)
        fprintf(stderr, "feature cache: pruned %.1f MiB of least recently used folders (SER_FEATURE_CACHE_MAX_MB=%s)\n",
                (double)freed / 1048576.0, v);
    return 0;
}

int cli_feature_cache_open(ser_feature_cache *fc, const char *override, const ser_config *cfg, int cuda,
                           ser_error *err) {
    char buf[4096], tag[160];
    const char *root = ser_feature_cache_root(override, buf, sizeof buf);
    if (!root) return 0;
    snprintf(tag, sizeof tag, "%s %s %s", cuda ? "cuda" : "cpu", SER_VERSION_STRING, SER_GIT_COMMIT);
    if (ser_feature_cache_open(fc, root, cfg, tag, err) != 0) return -1;
    return prune_to_budget(root, fc) != 0 ? (ser_feature_cache_close(fc), ser_fail_wrap(err, "SER_FEATURE_CACHE_MAX_MB"))
                                          : 1;
}
