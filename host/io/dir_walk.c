/* The folder walker: one rule set for every folder ser lists (documented in ser/dir_walk.h). */
#include "ser/dir_walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *const SER_AUDIO_EXTENSIONS[] = {".wav", ".aif", ".aiff", ".flac", ".ogg", NULL};
const char *const SER_WAV_EXTENSION[] = {".wav", NULL};

int ser_has_extension(const char *name, const char *const *exts) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (size_t i = 0; exts[i]; i++)
        if (!strcasecmp(dot, exts[i])) return 1;
    return 0;
}

typedef struct walk {
    const char *const *exts;
    char **v;
    size_t n, cap;
    dev_t dev[SER_DIR_WALK_MAX_DEPTH]; /* the folders being walked, root first: a link back to one */
    ino_t ino[SER_DIR_WALK_MAX_DEPTH]; /* of them is a loop */
} walk;

static int push(walk *w, char *path, ser_error *err) {
    if (w->n == w->cap) {
        const size_t cap = w->cap ? 2 * w->cap : 256;
        char **v = realloc(w->v, cap * sizeof *v);
        if (!v) return ser_fail(err, "out of memory listing %zu files", cap);
        w->v = v, w->cap = cap;
    }
    w->v[w->n++] = path;
    return 0;
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Walks dir at depth `depth` (dir's dev/ino in st). */
static int walk_dir(walk *w, const char *dir, const struct stat *st, int depth, ser_error *err) {
    for (int i = 0; i < depth; i++)
        if (w->dev[i] == st->st_dev && w->ino[i] == st->st_ino) return 0; /* a link back to an ancestor */
    if (depth >= SER_DIR_WALK_MAX_DEPTH)
        return ser_fail(err, "%s: folders nested deeper than %d", dir, SER_DIR_WALK_MAX_DEPTH);
    w->dev[depth] = st->st_dev, w->ino[depth] = st->st_ino;
    DIR *d = opendir(dir);
    if (!d) return ser_fail(err, "%s: cannot read folder: %s", dir, strerror(errno));
    const size_t dl = strlen(dir);
    const int slash = dl && dir[dl - 1] == '/';
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        const char *name = e->d_name;
        if (name[0] == '.') continue; /* ".", "..", hidden files and folders, macOS "._x.wav" */
        const size_t nl = strlen(name);
        char *child = ser_malloc(dl + nl + 2, "a path", err);
        if (!child) {
            rc = -1;
            break;
        }
        memcpy(child, dir, dl);
        if (!slash) child[dl] = '/';
        memcpy(child + dl + !slash, name, nl + 1);
        struct stat cs;
        if (stat(child, &cs) != 0) {
            /* a dangling link named like a wanted file is reported; anything else is ignored */
            if (ser_has_extension(name, w->exts)) rc = ser_fail(err, "%s: %s", child, strerror(errno));
        } else if (S_ISDIR(cs.st_mode)) {
            rc = walk_dir(w, child, &cs, depth + 1, err);
        } else if (S_ISREG(cs.st_mode) && ser_has_extension(name, w->exts)) {
            if (push(w, child, err) != 0) rc = -1;
            else child = NULL;
        }
        free(child);
    }
    closedir(d);
    return rc;
}

int ser_dir_list(const char *root, const char *const *exts, char ***paths, size_t *n, ser_error *err) {
    *paths = NULL, *n = 0;
    struct stat st;
    if (stat(root, &st) != 0) return ser_fail(err, "%s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return ser_fail(err, "%s: not a folder", root);
    walk w = {0};
    w.exts = exts;
    if (walk_dir(&w, root, &st, 0, err) != 0) {
        ser_dir_list_free(w.v, w.n);
        return -1;
    }
    if (w.n) qsort(w.v, w.n, sizeof *w.v, cmp_path);
    *paths = w.v, *n = w.n;
    return 0;
}

void ser_dir_list_free(char **paths, size_t n) {
    for (size_t i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}
