/* The key folders of a feature cache root (ser/feature_cache.h) and their removal: what
 * `ser cache list` shows and `ser cache prune` (or $SER_FEATURE_CACHE_MAX_MB at a run's start)
 * deletes. Only folders named like a key (32 hex digits) are ever touched; a folder that a run
 * holds open (its shared lock) is never removed. */
#ifndef SER_FEATURE_CACHE_PRUNE_H
#define SER_FEATURE_CACHE_PRUNE_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ser/error.h"

typedef struct ser_cache_folder {
    char name[33];        /* the key: 32 hex digits */
    uint64_t bytes;       /* of its files */
    size_t segments;      /* *.seg files */
    time_t last_used;     /* its lock file's mtime (touched by every run), else its newest file's */
    int in_use;           /* a run holds it now */
    char extractor[160];  /* key.txt's "extractor" line: cpu|cuda, version, build commit ("" unknown) */
} ser_cache_folder;

/* The key folders under root, least recently used first. A missing root is an empty list. */
int ser_cache_folders(const char *root, ser_cache_folder **out, size_t *n, ser_error *err);

/* A prune limit as written by a person (--max-mb, --older-than-days, $SER_FEATURE_CACHE_MAX_MB):
 * a number (strtod: 0.5 is one) >= 0 and <= 1e12 into *v; -1 when s is anything else. */
int ser_cache_parse_limit(const char *s, double *v);

typedef struct ser_cache_prune_opts {
    uint64_t max_bytes;      /* remove LRU folders until the root holds at most this (UINT64_MAX: no bound) */
    double older_than_s;     /* remove folders unused for longer (0: none) */
    const char *keep_build;  /* remove folders whose extractor names another build commit (NULL: keep all) */
    const char *keep;        /* a folder name never removed (the caller's own; NULL: none) */
    int dry_run;             /* say, do not remove */
} ser_cache_prune_opts;

/* Called for each folder removed (or, dry_run, that would be): why is "size", "age" or "build". */
typedef void (*ser_cache_prune_fn)(void *user, const ser_cache_folder *f, const char *why);

/* Removes folders by the rules of o (age and build first, then size, oldest use first), never a
 * folder in use. *freed: the bytes removed; *kept_bytes: what the root holds after. */
int ser_cache_prune(const char *root, const ser_cache_prune_opts *o, ser_cache_prune_fn fn, void *user,
                    uint64_t *freed, uint64_t *kept_bytes, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
