/* ser cache: the on-disk feature cache's key folders: list them, prune them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build_info.h"
#include "commands.h"
#include "ser/feature_cache.h"
#include "ser/feature_cache_prune.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser cache list  [--feature-cache DIR]\n"
            "       ser cache prune [--feature-cache DIR] [--max-mb N] [--older-than-days D] [--other-builds]\n"
            "                       [--dry-run]\n"
            "  The feature cache (default $SER_FEATURE_CACHE, else $XDG_CACHE_HOME/ser/features, else\n"
            "  ~/.cache/ser/features) holds one folder per feature recipe and ser build.\n"
            "  list: each folder, least recently used first: size, segments, last use, in use, extractor.\n"
            "  prune: removes whole folders, never one a running ser holds:\n"
            "    --older-than-days D  those unused for more than D days\n"
            "    --other-builds       those written by another ser build (they are never read again by\n"
            "                         this one: the build is part of the key)\n"
            "    --max-mb N           then the least recently used until the cache holds at most N MiB\n"
            "    --dry-run            say what would go, remove nothing\n"
            "  $SER_FEATURE_CACHE_MAX_MB=N makes every run that opens the cache prune the others to N MiB.\n");
}

static int parse_number(const char *opt, const char *s, double *out) {
    if (ser_cache_parse_limit(s, out) == 0) return 0;
    fprintf(stderr, "ser cache: %s: '%s' is not a number >= 0\n", opt, s);
    return -1;
}

static void print_when(time_t t) {
    char buf[32];
    struct tm tm;
    if (t > 0 && gmtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm)) printf("%s UTC", buf);
    else printf("%-20s", "unknown");
}

static int list(const char *root) {
    ser_cache_folder *v;
    size_t n;
    ser_error err = {0};
    if (ser_cache_folders(root, &v, &n, &err) != 0) {
        fprintf(stderr, "ser cache: %s\n", err.msg);
        return 1;
    }
    uint64_t total = 0;
    printf("%-32s %10s %8s  %-20s  %-6s  %s\n", "folder", "MiB", "segments", "last used", "in use", "extractor");
    for (size_t i = 0; i < n; i++) {
        printf("%-32s %10.1f %8zu  ", v[i].name, (double)v[i].bytes / 1048576.0, v[i].segments);
        print_when(v[i].last_used);
        printf("  %-6s  %s\n", v[i].in_use ? "yes" : "no", v[i].extractor[0] ? v[i].extractor : "?");
        total += v[i].bytes;
    }
    printf("%s: %zu folders, %.1f MiB (this build: %s)\n", root, n, (double)total / 1048576.0, SER_GIT_COMMIT);
    free(v);
    return 0;
}

static void say_removed(void *user, const ser_cache_folder *f, const char *why) {
    printf("%s %s (%.1f MiB, %s, %s)\n", *(int *)user ? "would remove" : "removed", f->name,
           (double)f->bytes / 1048576.0, why, f->extractor[0] ? f->extractor : "?");
}

int cmd_cache(int argc, char **argv) {
    if (cli_wants_help(argc, argv) || argc < 2) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1], *dir = NULL;
    const int is_list = !strcmp(action, "list"), is_prune = !strcmp(action, "prune");
    if (!is_list && !is_prune) {
        fprintf(stderr, "ser cache: unknown action '%s' (list or prune)\n", action);
        return 2;
    }
    ser_cache_prune_opts o = {.max_bytes = UINT64_MAX};
    int limits = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const int has_value = i + 1 < argc;
        double v;
        if (!strcmp(a, "--feature-cache") && has_value) dir = argv[++i];
        else if (is_prune && !strcmp(a, "--max-mb") && has_value) {
            if (parse_number(a, argv[++i], &v) != 0) return 2;
            o.max_bytes = (uint64_t)(v * 1048576.0), limits++;
        } else if (is_prune && !strcmp(a, "--older-than-days") && has_value) {
            if (parse_number(a, argv[++i], &v) != 0) return 2;
            o.older_than_s = v * 86400.0, limits++;
            if (v == 0) o.older_than_s = 1e-9; /* 0 days: every folder not in use */
        } else if (is_prune && !strcmp(a, "--other-builds")) o.keep_build = SER_GIT_COMMIT, limits++;
        else if (is_prune && !strcmp(a, "--dry-run")) o.dry_run = 1;
        else {
            fprintf(stderr, "ser cache %s: unknown option or missing value: %s\n", action, a);
            return 2;
        }
    }
    char buf[4096];
    const char *root = ser_feature_cache_root(dir, buf, sizeof buf);
    if (!root) {
        fprintf(stderr, "ser cache: the feature cache is off (--feature-cache / $SER_FEATURE_CACHE = off, or no $HOME)\n");
        return 2;
    }
    if (is_list) return list(root);
    if (!limits) {
        fprintf(stderr, "ser cache prune: say what to remove: --max-mb, --older-than-days or --other-builds\n");
        return 2;
    }
    uint64_t freed, kept;
    ser_error err = {0};
    const int rc = ser_cache_prune(root, &o, say_removed, &o.dry_run, &freed, &kept, &err);
    printf("%s %.1f MiB; %.1f MiB %s in %s\n", o.dry_run ? "would free" : "freed", (double)freed / 1048576.0,
           (double)kept / 1048576.0, o.dry_run ? "would stay" : "stay", root);
    if (rc != 0) {
        fprintf(stderr, "ser cache prune: %s\n", err.msg);
        return 1;
    }
    return 0;
}
