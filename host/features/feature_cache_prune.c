/* Listing and pruning the key folders of a feature cache root (ser/feature_cache_prune.h). */
#define _DEFAULT_SOURCE /* DT_DIR */
#include "ser/feature_cache_prune.h"
#include "ser/feature_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* a/b into out; 0, or -1 when it does not fit (never used truncated). */
static int join(char *out, size_t len, const char *a, const char *b) {
    const int n = snprintf(out, len, "%s/%s", a, b);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int ser_cache_parse_limit(const char *s, double *v) {
    char *end;
    errno = 0;
    const double x = strtod(s, &end);
    if (errno || end == s || *end || !(x >= 0) || x > 1e12) return -1;
    *v = x;
    return 0;
}

static int is_key_name(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n == 32;
}

/* key.txt's "extractor ..." value into out ("" when absent). */
static void read_extractor(const char *dir, char *out, size_t len) {
    char path[4200], line[256];
    out[0] = 0;
    FILE *f = join(path, sizeof path, dir, "key.txt") == 0 ? fopen(path, "r") : NULL;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "extractor ", 10)) continue;
        line[strcspn(line, "\n")] = 0;
        const size_t l = strlen(line + 10);
        if (l < len) memcpy(out, line + 10, l + 1);
        break;
    }
    fclose(f);
}

/* Size, segments and last use of one key folder; in_use by a non-blocking exclusive lock try. */
static int inspect(const char *root, ser_cache_folder *f, ser_error *err) {
    char dir[4200], path[4300];
    if (join(dir, sizeof dir, root, f->name) != 0) return ser_fail(err, "%s: path too long", root);
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 1 : ser_fail(err, "%s: cannot read: %s", dir, strerror(errno));
    struct dirent *e;
    time_t newest = 0, lock_mtime = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat st;
        if (join(path, sizeof path, dir, e->d_name) != 0 || lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        f->bytes += (uint64_t)st.st_size;
        const size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".seg") && e->d_name[0] != '.') f->segments++;
        if (st.st_mtime > newest) newest = st.st_mtime;
        if (!strcmp(e->d_name, SER_FEATURE_CACHE_LOCK)) lock_mtime = st.st_mtime;
    }
    closedir(d);
    f->last_used = lock_mtime ? lock_mtime : newest;
    const int fd = join(path, sizeof path, dir, SER_FEATURE_CACHE_LOCK) == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        f->in_use = flock(fd, LOCK_EX | LOCK_NB) != 0;
        close(fd); /* releases the probe's lock */
    }
    read_extractor(dir, f->extractor, sizeof f->extractor);
    return 0;
}

static int by_last_use(const void *a, const void *b) {
    const ser_cache_folder *x = a, *y = b;
    if (x->last_used != y->last_used) return x->last_used < y->last_used ? -1 : 1;
    return strcmp(x->name, y->name);
}

int ser_cache_folders(const char *root, ser_cache_folder **out, size_t *n, ser_error *err) {
    *out = NULL, *n = 0;
    DIR *d = opendir(root);
    if (!d) return errno == ENOENT ? 0 : ser_fail(err, "%s: cannot read the feature cache: %s", root, strerror(errno));
    ser_cache_folder *v = NULL;
    size_t cap = 0, k = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_key_name(e->d_name)) continue;
        if (k == cap) {
            cap = cap ? 2 * cap : 16;
            ser_cache_folder *g = realloc(v, cap * sizeof *v);
            if (!g) {
                rc = ser_fail(err, "out of memory listing %s", root);
                break;
            }
            v = g;
        }
        memset(&v[k], 0, sizeof v[k]);
        memcpy(v[k].name, e->d_name, 33);
        const int r = inspect(root, &v[k], err);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0) k++; /* r == 1: removed since readdir */
    }
    closedir(d);
    if (rc != 0) {
        free(v);
        return -1;
    }
    if (k) qsort(v, k, sizeof *v, by_last_use);
    *out = v, *n = k;
    return 0;
}

/* Removes one folder under its exclusive lock: 1 removed, 0 in use (left), -1 error. Its files
 * go first and the lock file last, so a run waiting for the lock sees it unlinked and makes
 * the folder again (feature_cache.c, lock_folder). */
static int remove_folder(const char *root, const char *name, ser_error *err) {
    char dir[4200], path[4300];
    if (join(dir, sizeof dir, root, name) != 0 || join(path, sizeof path, dir, SER_FEATURE_CACHE_LOCK) != 0)
        return ser_fail(err, "%s: path too long", root);
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ser_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) {
        const int e = errno;
        close(fd);
        return ser_fail(err, "%s: cannot read: %s", dir, strerror(e));
    }
    int rc = 1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, SER_FEATURE_CACHE_LOCK)) continue;
        char p[4300];
        if (join(p, sizeof p, dir, e->d_name) != 0) {
            rc = ser_fail(err, "%s: path too long", dir);
            break;
        }
        if (unlink(p) != 0 && errno != ENOENT) {
            rc = ser_fail(err, "%s: cannot remove: %s", p, strerror(errno));
            break;
        }
    }
    closedir(d);
    if (rc == 1 && unlink(path) != 0 && errno != ENOENT) rc = ser_fail(err, "%s: cannot remove: %s", path, strerror(errno));
    if (rc == 1 && rmdir(dir) != 0 && errno != ENOENT) rc = ser_fail(err, "%s: cannot remove: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

/* "cpu 0.9.0 abc123" -> "abc123": the build commit is the extractor's last word. */
static const char *build_of(const char *extractor) {
    const char *sp = strrchr(extractor, ' ');
    return sp ? sp + 1 : extractor;
}

int ser_cache_prune(const char *root, const ser_cache_prune_opts *o, ser_cache_prune_fn fn, void *user,
                    uint64_t *freed, uint64_t *kept_bytes, ser_error *err) {
    *freed = 0, *kept_bytes = 0;
    ser_cache_folder *v;
    size_t n;
    if (ser_cache_folders(root, &v, &n, err) != 0) return -1;
    unsigned char *gone = calloc(n ? n : 1, 1);
    if (!gone) {
        free(v);
        return ser_fail(err, "out of memory pruning %s", root);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += v[i].bytes;
    const time_t now = time(NULL);
    int rc = 0;
    /* pass 0: age and build; pass 1: size, least recently used first */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (gone[i] || v[i].in_use || (o->keep && !strcmp(o->keep, v[i].name))) continue;
            const char *why = NULL;
            if (pass == 0 && o->older_than_s > 0 && difftime(now, v[i].last_used) > o->older_than_s) why = "age";
            else if (pass == 0 && o->keep_build && v[i].extractor[0] && strcmp(build_of(v[i].extractor), o->keep_build))
                why = "build";
            else if (pass == 1 && total > o->max_bytes) why = "size";
            if (!why) continue;
            const int r = o->dry_run ? 1 : remove_folder(root, v[i].name, err);
            if (r < 0) rc = -1;
            if (r != 1) continue;
            gone[i] = 1, total -= v[i].bytes, *freed += v[i].bytes;
            if (fn) fn(user, &v[i], why);
        }
    }
    *kept_bytes = total;
    free(gone), free(v);
    return rc;
}
