/* Corpus scan: the audio files of a folder (ser_dir_list: sorted, deterministic, hidden entries
 * skipped, links followed), each labelled with the corpus's name parser
 * (host/corpus/corpus_names.c); what could not be labelled is listed. */
/* realpath is XSI: not in plain _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700
#include "ser/corpus.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ser/dir_walk.h"

static char *dup_str(const char *s, ser_error *err) {
    size_t n = strlen(s) + 1;
    char *d = ser_malloc(n, "a string", err);
    if (d) memcpy(d, s, n);
    return d;
}

int ser_clips_push(ser_clips *list, const char *path, const char *label, const char *speaker,
                   const char *group, ser_error *err) {
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 256;
        ser_clip *v = realloc(list->v, cap * sizeof *v);
        if (!v) return ser_fail(err, "out of memory growing the clip list to %zu", cap);
        list->v = v;
        list->cap = cap;
    }
    ser_clip *c = &list->v[list->n];
    c->path = dup_str(path, err);
    c->label = dup_str(label, err);
    c->speaker = dup_str(speaker ? speaker : "", err);
    c->group = dup_str(group ? group : "", err);
    c->corpus = dup_str("", err);
    if (!c->path || !c->label || !c->speaker || !c->group || !c->corpus) {
        free(c->path), free(c->label), free(c->speaker), free(c->group), free(c->corpus);
        return -1;
    }
    list->n++;
    return 0;
}

int ser_clip_same_speaker(const ser_clip *a, const ser_clip *b) {
    return !strcmp(a->speaker ? a->speaker : "", b->speaker ? b->speaker : "") &&
           !strcmp(a->corpus ? a->corpus : "", b->corpus ? b->corpus : "");
}

static int replace_str(char **field, const char *name, ser_error *err) {
    char *d = dup_str(name ? name : "", err);
    if (!d) return -1;
    free(*field);
    *field = d;
    return 0;
}

int ser_clip_set_corpus(ser_clip *c, const char *name, ser_error *err) {
    return replace_str(&c->corpus, name, err);
}

int ser_clip_set_group(ser_clip *c, const char *name, ser_error *err) {
    return replace_str(&c->group, name, err);
}

int ser_clips_push_clip(ser_clips *list, const ser_clip *c, ser_error *err) {
    if (ser_clips_push(list, c->path, c->label, c->speaker, c->group, err) != 0) return -1;
    if (ser_clip_set_corpus(&list->v[list->n - 1], c->corpus, err) == 0) return 0;
    list->n--;
    ser_clip *d = &list->v[list->n];
    free(d->path), free(d->label), free(d->speaker), free(d->group), free(d->corpus);
    return -1;
}

void ser_clips_free(ser_clips *list) {
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i].path), free(list->v[i].label);
        free(list->v[i].speaker), free(list->v[i].group), free(list->v[i].corpus);
    }
    free(list->v);
    list->v = NULL;
    list->n = list->cap = 0;
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ser_clips_label_set(const ser_clips *clips, const char ***names, size_t *n_names, ser_error *err) {
    const char **v = ser_malloc((clips->n ? clips->n : 1) * sizeof *v, "the label set", err);
    if (!v) return -1;
    for (size_t i = 0; i < clips->n; i++) v[i] = clips->v[i].label;
    qsort(v, clips->n, sizeof *v, cmp_str_ptr);
    size_t k = 0;
    for (size_t i = 0; i < clips->n; i++)
        if (k == 0 || strcmp(v[k - 1], v[i])) v[k++] = v[i];
    *names = v;
    *n_names = k;
    return 0;
}

int ser_clips_label_index(const ser_clips *clips, const char *const *names, size_t n_names, int *idx,
                          ser_error *err) {
    for (size_t i = 0; i < clips->n; i++) {
        idx[i] = -1;
        for (size_t k = 0; k < n_names && idx[i] < 0; k++)
            if (!strcmp(clips->v[i].label, names[k])) idx[i] = (int)k;
        if (idx[i] < 0)
            return ser_fail(err, "%s: label '%s' is not one of the %zu classes", clips->v[i].path,
                            clips->v[i].label, n_names);
    }
    return 0;
}

/* One audio file found by the walk, before parsing. */
typedef struct found_file {
    char *path;   /* absolute */
    char *file;   /* points into path: the file name */
    char *folder; /* name of the folder holding it (own allocation) */
    char *group;  /* folder relative to the root, or the root's name (own allocation) */
} found_file;

typedef struct walk {
    found_file *v;
    size_t n;
    const char *root_name;
    size_t root_len;
} walk;

static void walk_free(walk *w) {
    for (size_t i = 0; i < w->n; i++) free(w->v[i].path), free(w->v[i].folder), free(w->v[i].group);
    free(w->v);
}

/* The audio files under root (an absolute path; ser_dir_list's rules: hidden entries skipped,
 * links followed, sorted by path), each with its folder's name and its group. */
static int walk_root(walk *w, const char *root, ser_error *err) {
    char **paths = NULL;
    size_t n = 0;
    if (ser_dir_list(root, SER_AUDIO_EXTENSIONS, &paths, &n, err) != 0) return -1;
    w->v = ser_calloc(n ? n : 1, sizeof *w->v, "the file list", err);
    int rc = w->v ? 0 : -1;
    for (size_t i = 0; !rc && i < n; i++) {
        found_file f = {0};
        f.path = paths[i], paths[i] = NULL; /* the list's string, now the file's */
        char *slash = strrchr(f.path, '/');
        f.file = slash + 1;
        *slash = 0; /* f.path up to the slash: the folder holding the file */
        const size_t dl = strlen(f.path);
        const char *up = strrchr(f.path, '/');
        f.folder = dup_str(up ? up + 1 : f.path, err);
        f.group = dup_str(dl > w->root_len ? f.path + w->root_len + 1 : w->root_name, err);
        *slash = '/';
        w->v[w->n++] = f;
        if (!f.folder || !f.group) rc = -1;
    }
    ser_dir_list_free(paths, n);
    return rc;
}

static int skip_push(ser_corpus *c, const char *path, const char *reason, ser_error *err) {
    if (c->n_skips == c->cap_skips) {
        size_t cap = c->cap_skips ? c->cap_skips * 2 : 64;
        ser_skip *v = realloc(c->skips, cap * sizeof *v);
        if (!v) return ser_fail(err, "out of memory growing the skip list to %zu", cap);
        c->skips = v;
        c->cap_skips = cap;
    }
    ser_skip *s = &c->skips[c->n_skips];
    s->path = dup_str(path, err);
    s->reason = dup_str(reason, err);
    if (!s->path || !s->reason) {
        free(s->path), free(s->reason);
        return -1;
    }
    c->n_skips++;
    return 0;
}

void ser_corpus_free(ser_corpus *c) {
    if (!c) return;
    ser_clips_free(&c->clips);
    for (size_t i = 0; i < c->n_skips; i++) free(c->skips[i].path), free(c->skips[i].reason);
    free(c->skips);
    free(c->root);
    memset(c, 0, sizeof *c);
}

/* Auto-detection: the kind whose shape the most files match (*n_best of them), if more than
 * half do. */
static ser_corpus_kind detect_kind_n(const walk *w, size_t *n_best) {
    static const ser_corpus_kind ORDER[] = {SER_CORPUS_RAVDESS, SER_CORPUS_CREMAD, SER_CORPUS_SAVEE,
                                            SER_CORPUS_TESS};
    ser_corpus_kind best = SER_CORPUS_FOLDERS;
    size_t best_n = 0;
    for (size_t k = 0; k < sizeof ORDER / sizeof ORDER[0]; k++) {
        size_t m = 0;
        for (size_t i = 0; i < w->n; i++) m += (size_t)ser_name_match(ORDER[k], w->v[i].file, w->v[i].folder);
        if (m > best_n) best = ORDER[k], best_n = m;
    }
    *n_best = best_n;
    return best_n * 2 > w->n ? best : SER_CORPUS_FOLDERS;
}

static ser_corpus_kind detect_kind(const walk *w) {
    size_t n_best;
    return detect_kind_n(w, &n_best);
}

int ser_corpus_detect(const char *dir, ser_corpus_kind *kind, size_t *n_match, size_t *n_audio, ser_error *err) {
    char *root = realpath(dir, NULL);
    if (!root) return ser_fail(err, "%s: cannot resolve the folder: %s", dir, strerror(errno));
    walk w = {0};
    w.root_name = ".";
    w.root_len = strlen(root);
    int rc = walk_root(&w, root, err);
    if (!rc) {
        *kind = detect_kind_n(&w, n_match);
        *n_audio = w.n;
    }
    walk_free(&w);
    free(root);
    return rc;
}

int ser_corpus_scan(const char *dir, ser_corpus_kind kind, int strict, ser_corpus *out, ser_error *err) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(dir, &st)) return ser_fail(err, "%s: cannot open corpus folder: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return ser_fail(err, "%s: not a folder", dir);
    char *root = realpath(dir, NULL);
    if (!root) return ser_fail(err, "%s: cannot resolve the folder: %s", dir, strerror(errno));
    out->root = root;

    walk w = {0};
    const char *slash = strrchr(root, '/');
    w.root_name = slash && slash[1] ? slash + 1 : ".";
    w.root_len = strlen(root);
    int rc = walk_root(&w, root, err);
    if (rc) goto fail;
    if (w.n == 0) {
        ser_fail(err, "%s: no audio files (.wav .aif .aiff .flac .ogg) in this folder or below", dir);
        goto fail;
    }
    /* the clips in the walk's order: by full path, bytewise */
    out->kind = kind == SER_CORPUS_AUTO ? detect_kind(&w) : kind;
    out->n_audio = w.n;
    for (size_t i = 0; i < w.n; i++) {
        const found_file *f = &w.v[i];
        const char *label = NULL;
        char spk[256];
        ser_error why;
        if (strpbrk(f->path, "\t\r\n")) {
            if (skip_push(out, f->path, "path holds a tab or newline (cannot go in a manifest)", err)) goto fail;
        } else if (ser_name_parse(out->kind, f->file, f->folder, &label, spk, sizeof spk, &why)) {
            if (skip_push(out, f->path, why.msg, err)) goto fail;
        } else if (ser_clips_push(&out->clips, f->path, label, spk, f->group, err)) {
            goto fail;
        }
    }
    /* The clips' corpus: the kind's name, or for a folders corpus the folder's own name. */
    for (size_t i = 0; i < out->clips.n; i++)
        if (ser_clip_set_corpus(&out->clips.v[i], out->kind == SER_CORPUS_FOLDERS ? w.root_name
                                                                                 : ser_corpus_kind_name(out->kind), err))
            goto fail;
    if (strict && out->n_skips) {
        ser_fail(err, "%s: %zu of %zu audio files skipped (strict), first: %s: %s", dir, out->n_skips, w.n,
                 out->skips[0].path, out->skips[0].reason);
        goto fail;
    }
    if (out->clips.n == 0) {
        ser_fail(err, "%s: none of the %zu audio files could be labelled as %s, first: %s: %s", dir, w.n,
                 ser_corpus_kind_name(out->kind), out->skips[0].path, out->skips[0].reason);
        goto fail;
    }
    walk_free(&w);
    return 0;
fail:
    walk_free(&w);
    ser_corpus_free(out);
    return -1;
}
