/* The files ser cv writes into OUT before the folds run: the fold folders, their manifests and
 * the recipe, each compared with the one a rerun finds there (cv_args.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cv_args.h"
#include "ser/split.h"

int cv_mkdir_one(const char *p, ser_error *err) {
    if (mkdir(p, 0777) != 0 && errno != EEXIST) return ser_fail(err, "%s: cannot create: %s", p, strerror(errno));
    struct stat st;
    if (stat(p, &st) || !S_ISDIR(st.st_mode)) return ser_fail(err, "%s: not a folder", p);
    return 0;
}

/* Writes path through a temporary name of this process's own: the fold tasks of one OUT may
 * start together and each write the files they share (cv_recipe.json); the last rename wins and
 * every one of them holds the same text. */
static int write_new(const char *path, const char *text, size_t len, ser_error *err) {
    char tmp[PATH_MAX + 64];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ser_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return ser_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
    int rc = fwrite(text, 1, len, f) == len ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    if (!rc && rename(tmp, path) != 0) rc = -1;
    if (rc) {
        int e = errno;
        remove(tmp);
        return ser_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

/* Writes text to path; a rerun finds the file already there and must find the same text (else
 * the folds or the recipe of this command are not those of the run that made OUT). */
static int write_or_compare(const char *path, const char *text, size_t len, ser_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return write_new(path, text, len, err);
    char *old = malloc(len + 2);
    if (!old) {
        fclose(f);
        return ser_fail(err, "%s: out of memory reading it back (%zu bytes)", path, len + 2);
    }
    size_t got = fread(old, 1, len + 1, f);
    int rc = 0;
    if (got != len || memcmp(old, text, len))
        rc = ser_fail(err, "%s differs from what this command makes (another corpus, fold option, seed or recipe "
                           "made OUT): use another --out, or remove it",
                      path);
    free(old);
    fclose(f);
    return rc;
}

int cv_write_manifest(const char *path, const ser_clips *clips, const size_t *idx, size_t n, ser_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return ser_fail(err, "%s: %s", path, strerror(errno));
    int bad = ser_manifest_print(m, clips->v, idx, n);
    if (fclose(m) != 0 || bad) {
        free(text);
        return ser_fail(err, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) {
        const ser_clip *c = &clips->v[idx[i]];
        if (strpbrk(c->path, "\t\r\n") || strpbrk(c->label, "\t\r\n") || strpbrk(c->speaker, "\t\r\n") ||
            strpbrk(c->group, "\t\r\n")) {
            free(text);
            return ser_fail(err, "%s: clip '%s' has a tab or newline in a field", path, c->path);
        }
    }
    int rc = write_or_compare(path, text, len, err);
    free(text);
    return rc;
}

int cv_write_recipe(const char *out, const ser_config *cfg, ser_error *err) {
    ser_config c = *cfg;
    c.train.threads = 0;
    char *js = ser_config_to_json(&c);
    size_t n = strlen(out) + 32;
    char *p = malloc(n);
    int rc = js && p ? 0 : ser_fail(err, "out of memory");
    if (!rc) snprintf(p, n, "%s/cv_recipe.json", out), rc = write_or_compare(p, js, strlen(js), err);
    free(js), free(p);
    return rc;
}
