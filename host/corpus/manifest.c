/* Manifests: path<TAB>label<TAB>speaker<TAB>group<TAB>corpus lines after a '#' header (3- and
 * 4-field lines of older manifests still read); atomic writes, strict reads
 * that name file:line and the reason of a bad line. */
#include "ser/split.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HEADER[] = "# path\tlabel\tspeaker\tgroup\tcorpus\n";

static int field_ok(const char *s) {
    return !strpbrk(s, "\t\r\n");
}

int ser_manifest_print(FILE *f, const ser_clip *clips, const size_t *idx, size_t n) {
    if (fputs(HEADER, f) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        const ser_clip *c = &clips[idx ? idx[i] : i];
        if (fprintf(f, "%s\t%s\t%s\t%s\t%s\n", c->path, c->label, c->speaker, c->group, c->corpus ? c->corpus : "") < 0)
            return -1;
    }
    return 0;
}

int ser_manifest_write(const char *path, const ser_clip *clips, const size_t *idx, size_t n, ser_error *err) {
    for (size_t i = 0; i < n; i++) {
        const ser_clip *c = &clips[idx ? idx[i] : i];
        if (!field_ok(c->path) || !field_ok(c->label) || !field_ok(c->speaker) || !field_ok(c->group) ||
            (c->corpus && !field_ok(c->corpus)))
            return ser_fail(err, "%s: clip '%s' has a tab or newline in a field", path, c->path);
    }
    size_t pl = strlen(path);
    char *tmp = ser_malloc(pl + 16, "a temp file name", err);
    if (!tmp) return -1;
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        ser_fail(err, "%s: cannot create a temp file beside it: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        ser_fail(err, "%s: fdopen: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    int bad = ser_manifest_print(f, clips, idx, n) != 0;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !bad) bad = 1, saved = errno;
    if (bad) {
        ser_fail(err, "%s: write failed: %s", tmp, strerror(saved));
        goto fail;
    }
    if (rename(tmp, path)) {
        ser_fail(err, "%s: rename from %s failed: %s", path, tmp, strerror(errno));
        goto fail;
    }
    free(tmp);
    return 0;
fail:
    unlink(tmp);
    free(tmp);
    return -1;
}

/* Joins a relative manifest path with the manifest's folder; absolute ones are kept. */
static char *resolve(const char *manifest, const char *p, ser_error *err) {
    const char *slash = strrchr(manifest, '/');
    size_t dl = (p[0] == '/' || !slash) ? 0 : (size_t)(slash - manifest) + 1;
    size_t pl = strlen(p);
    char *out = ser_malloc(dl + pl + 1, "a path", err);
    if (!out) return NULL;
    memcpy(out, manifest, dl);
    memcpy(out + dl, p, pl + 1);
    return out;
}

int ser_manifest_read(const char *path, ser_clips *out, ser_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return ser_fail(err, "%s: cannot open manifest: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    errno = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            rc = ser_fail(err, "%s:%ld: NUL byte in line", path, lineno);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue;
        /* Fields: path, label, speaker[, group[, corpus]]. */
        char *fld[5] = {line, NULL, NULL, NULL, NULL};
        int nf = 1;
        for (char *p = strchr(line, '\t'); p; p = strchr(p + 1, '\t')) {
            if (nf == 5) {
                nf = 6;
                break;
            }
            *p = 0;
            fld[nf++] = p + 1;
        }
        if (nf < 3 || nf > 5) {
            rc = ser_fail(err, "%s:%ld: expected 5 tab-separated fields (path, label, speaker, group, corpus; group and corpus may be left out), found %s",
                          path, lineno, nf > 5 ? "more" : nf == 2 ? "2" : "1");
            break;
        }
        if (!*fld[0]) {
            rc = ser_fail(err, "%s:%ld: empty path", path, lineno);
            break;
        }
        if (!*fld[1]) {
            rc = ser_fail(err, "%s:%ld: empty label", path, lineno);
            break;
        }
        char *full = resolve(path, line, err);
        if (!full || ser_clips_push(out, full, fld[1], fld[2], fld[3], err) ||
            (fld[4] && ser_clip_set_corpus(&out->v[out->n - 1], fld[4], err)))
            rc = -1;
        free(full);
    }
    if (!rc && ferror(f)) rc = ser_fail(err, "%s: read failed: %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}
