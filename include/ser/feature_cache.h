/* The on-disk feature cache: every clip's unnormalised features (as ser_features_extract gives
 * them) computed once and shared by every run that needs them: the folds of `ser cv`, several
 * seeds, a resume, `ser eval` of the same clips. Training then reads them by batch
 * (ser/feature_source.h), so memory does not grow with the corpus.
 *
 * Layout (docs/file-formats.md): ROOT/<key>/ holds segment files "*.seg"; <key> hashes the
 * format version, the build, the extractor (cpu/cuda) and every config key that changes the
 * features (the [audio] section and [features] but normalize and vtln, which apply after).
 * A record is keyed by the clip's path, size and modification time. A writer writes a new
 * segment under a temporary name and renames it into place, so concurrent runs never see a
 * partial file; a segment whose header, length, index or record checksum is wrong is deleted
 * and its clips computed again, never read as data. */
#ifndef SER_FEATURE_CACHE_H
#define SER_FEATURE_CACHE_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/config.h"
#include "ser/error.h"
#include "ser/features.h"

#define SER_FEATURE_CACHE_VERSION 1u

/* Where one clip's record lies. */
/* Where one clip's record lies (16 bytes a clip: what a run keeps per clip). */
typedef struct ser_feature_loc {
    uint64_t offset;   /* of the record in its segment */
    uint32_t seg;      /* index into the cache's open segments */
    uint32_t crc;      /* CRC-32 of the record's values, checked at every read */
} ser_feature_loc;

typedef struct ser_feature_cache {
    char *dir;              /* ROOT/<key> */
    size_t F;               /* values per clip (ser_features_per_clip) */
    ser_config cfg;
    int *fds;               /* open segments (read-only) */
    char **seg_paths;       /* their paths, for messages */
    size_t n_segs;
    size_t n_rebuilt;       /* segments found damaged and deleted by the last fill */
    size_t n_computed;      /* clips whose features the last fill computed */
    int lock_fd;            /* ROOT/<key>/lock, held shared while open (-1: none) */
} ser_feature_cache;

/* The lock file of a key folder: runs hold it shared, `ser cache prune` exclusively. */
#define SER_FEATURE_CACHE_LOCK "lock"

/* The cache root: $SER_FEATURE_CACHE when set, else $XDG_CACHE_HOME/ser/features, else
 * $HOME/.cache/ser/features. "off" (or "") disables the cache: NULL. override (a --feature-cache
 * option) wins over both when not NULL. */
const char *ser_feature_cache_root(const char *override, char *buf, size_t len);

/* Opens (creating the folders) the cache of cfg's features under root; `extractor` names how
 * the features are computed ("cpu", "cuda") and the build (its commit), both part of the key. */
int ser_feature_cache_open(ser_feature_cache *fc, const char *root, const ser_config *cfg, const char *extractor,
                           ser_error *err);
void ser_feature_cache_close(ser_feature_cache *fc);

/* Locates the features of paths[0..n), computing the missing ones with `extract` (in chunks,
 * into a new segment) and checking every record found: ok[i] = 1 and loc[i] set for each clip
 * that has features; a clip that cannot be decoded gets ok[i] = 0 and, when why is not NULL,
 * why[i] = a malloc'd reason (caller frees). Failures are not cached. Fails only when the cache
 * cannot be read or written or the recipe cannot work. */
int ser_feature_cache_fill(ser_feature_cache *fc, char *const *paths, size_t n, ser_features_fn extract, int threads,
                           ser_feature_loc *loc, unsigned char *ok, char **why, ser_error *err);

/* ser_feature_cache_fill of the VTLN-warped features of paths[i] under mel warp warps[i]
 * (ser_features_extract_warped, upper knee train.aug_vtlp_fhi; features.vtln): records of their
 * own in the same folder, keyed by the clip and its warp (a warp of 1 is the unwarped record). */
int ser_feature_cache_fill_warped(ser_feature_cache *fc, char *const *paths, const double *warps, size_t n, int threads,
                                  ser_feature_loc *loc, unsigned char *ok, char **why, ser_error *err);

/* Reads one clip's F values into out, checking its checksum (a mismatch is an error
 * naming the segment: the file changed under the run). */
int ser_feature_cache_read(const ser_feature_cache *fc, const ser_feature_loc *loc, float *out, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
