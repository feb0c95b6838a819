/* Several corpora in one run: scan each source (a parent of several corpora subfolder by
 * subfolder), name the corpora, map and filter the labels, count what was dropped. */
#define _XOPEN_SOURCE 700
#include "ser/corpus_set.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ser_label_rules_init(ser_label_rules *r) {
    memset(r, 0, sizeof *r);
    for (int i = 0; i < SER_LABEL_COUNT; i++) r->map[i] = -1;
}

/* Calls fn(word) for each comma-separated word of list (a copy is cut); fails on an empty one. */
static int each_word(const char *list, const char *opt, int (*fn)(void *, char *, ser_error *), void *user,
                     ser_error *err) {
    char *copy = strdup(list);
    if (!copy) return ser_fail(err, "out of memory");
    int rc = 0;
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (!*p) {
            rc = ser_fail(err, "%s '%s': empty label name", opt, list);
            break;
        }
        if ((rc = fn(user, p, err)) != 0) break;
        if (!comma) break;
        p = comma + 1;
    }
    free(copy);
    return rc;
}

static int label_or_fail(const char *opt, const char *word, ser_error *err) {
    int k = ser_label_parse(word);
    if (k < 0)
        return ser_fail(err, "%s: '%s' is not a label (angry calm disgust fear happy neutral sad surprise, or a synonym)",
                        opt, word);
    return k;
}

static int keep_one(void *user, char *word, ser_error *err) {
    ser_label_rules *r = user;
    int k = label_or_fail("--labels", word, err);
    if (k < 0) return -1;
    if (!r->keep[k]) r->keep[k] = 1, r->n_keep++;
    return 0;
}

int ser_label_rules_keep(ser_label_rules *r, const char *list, ser_error *err) {
    return each_word(list, "--labels", keep_one, r, err);
}

static int map_one(void *user, char *word, ser_error *err) {
    ser_label_rules *r = user;
    char *eq = strchr(word, '=');
    if (!eq) return ser_fail(err, "--label-map '%s': expected FROM=TO (calm=neutral)", word);
    *eq = 0;
    int a = label_or_fail("--label-map", word, err);
    if (a < 0) return -1;
    int b = label_or_fail("--label-map", eq + 1, err);
    if (b < 0) return -1;
    if (r->map[a] >= 0 && r->map[a] != b)
        return ser_fail(err, "--label-map: '%s' is mapped onto both %s and %s", word, ser_label_name(r->map[a]),
                        ser_label_name(b));
    r->map[a] = a == b ? -1 : b;
    return 0;
}

int ser_label_rules_map(ser_label_rules *r, const char *list, ser_error *err) {
    return each_word(list, "--label-map", map_one, r, err);
}

const char *ser_label_rules_apply(const ser_label_rules *r, const char *label) {
    const int k0 = ser_label_parse(label);
    const int k = k0 >= 0 && r->map[k0] >= 0 ? r->map[k0] : k0;
    if (r->n_keep > 0 && (k < 0 || !r->keep[k])) return NULL;
    return k != k0 ? ser_label_name(k) : label;
}

void ser_corpus_set_free(ser_corpus_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        ser_corpus_free(&s->corpora[i]);
        free(s->names[i]), free(s->source[i]);
    }
    free(s->corpora), free(s->names), free(s->source);
    ser_clips_free(&s->clips);
    for (size_t i = 0; i < s->n_dropped; i++) free(s->dropped[i].corpus), free(s->dropped[i].label);
    free(s->dropped);
    memset(s, 0, sizeof *s);
}

/* Appends one scanned corpus (moved in) from source folder src. */
static int add_corpus(ser_corpus_set *s, ser_corpus *c, const char *src, ser_error *err) {
    ser_corpus *v = realloc(s->corpora, (s->n + 1) * sizeof *v);
    if (v) s->corpora = v;
    char **nm = realloc(s->names, (s->n + 1) * sizeof *nm);
    if (nm) s->names = nm;
    char **sr = realloc(s->source, (s->n + 1) * sizeof *sr);
    if (sr) s->source = sr;
    if (!v || !nm || !sr) {
        ser_corpus_free(c);
        return ser_fail(err, "out of memory listing corpora");
    }
    const char *name = c->clips.n ? c->clips.v[0].corpus : ser_corpus_kind_name(c->kind);
    s->names[s->n] = strdup(name);
    s->source[s->n] = strdup(src);
    s->corpora[s->n++] = *c;
    memset(c, 0, sizeof *c);
    if (!s->names[s->n - 1] || !s->source[s->n - 1]) return ser_fail(err, "out of memory");
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The immediate subfolders of dir holding audio, sorted, with the kind each is detected as.
 * Returns 1 (and fills *subs / *kinds / *n) when dir is several corpora, 0 when it is one. */
static int split_parent(const char *dir, size_t n_match, size_t n_audio, ser_corpus_kind whole, char ***subs,
                        ser_corpus_kind **kinds, size_t *n, size_t *n_loose, ser_error *err) {
    *subs = NULL, *kinds = NULL, *n = 0;
    DIR *d = opendir(dir);
    if (!d) return ser_fail(err, "%s: cannot read folder: %s", dir, strerror(errno));
    size_t cap = 0, in_subs = 0;
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        struct stat st;
        if (!p) {
            rc = ser_fail(err, "out of memory");
            break;
        }
        snprintf(p, len, "%s/%s", dir, e->d_name);
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(p);
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **v = realloc(*subs, cap * sizeof *v);
            if (!v) {
                free(p);
                rc = ser_fail(err, "out of memory");
                break;
            }
            *subs = v;
        }
        (*subs)[(*n)++] = p;
    }
    closedir(d);
    if (!rc && *n) qsort(*subs, *n, sizeof **subs, cmp_str);
    if (!rc) *kinds = calloc(*n ? *n : 1, sizeof **kinds);
    if (!rc && !*kinds) rc = ser_fail(err, "out of memory");
    size_t k = 0;
    int seen[SER_CORPUS_FOLDERS + 1] = {0};
    for (size_t i = 0; !rc && i < *n; i++) {
        size_t m, a;
        ser_corpus_kind kind;
        rc = ser_corpus_detect((*subs)[i], &kind, &m, &a, err);
        if (rc || a == 0) { /* a subfolder without audio is no corpus */
            free((*subs)[i]);
            continue;
        }
        (*subs)[k] = (*subs)[i], (*kinds)[k++] = kind;
        seen[kind] = 1;
        in_subs += a;
    }
    for (size_t i = k; rc && i < *n; i++) free((*subs)[i]); /* on failure, the not yet visited */
    *n = k;
    int kinds_named = 0;
    for (int i = SER_CORPUS_TESS; i < SER_CORPUS_FOLDERS; i++) kinds_named += seen[i];
    const int majority = n_match * 2 > n_audio && whole != SER_CORPUS_FOLDERS;
    int several = !rc && (kinds_named >= 2 || (!majority && kinds_named >= 1 && k >= 2));
    if (!several) {
        for (size_t i = 0; i < *n; i++) free((*subs)[i]);
        free(*subs), free(*kinds);
        *subs = NULL, *kinds = NULL, *n = 0;
    } else {
        *n_loose += n_audio - in_subs;
    }
    return rc ? -1 : several;
}

/* Scans one source into s: one corpus, or one per subfolder. The folder is walked once when
 * it is one corpus that every file matches (the common case); only a scan that skipped files
 * or fell back to folders looks at the subfolders. */
static int scan_source(ser_corpus_set *s, const ser_data_source *src, int strict, ser_error *err) {
    const int autod = src->kind == SER_CORPUS_AUTO;
    ser_corpus c;
    if (ser_corpus_scan(src->dir, src->kind, autod ? 0 : strict, &c, err) != 0) return -1;
    if (autod && (c.n_skips || c.kind == SER_CORPUS_FOLDERS)) {
        size_t m = 0, a = 0;
        ser_corpus_kind whole;
        char **subs;
        ser_corpus_kind *kinds;
        size_t n;
        int several = ser_corpus_detect(src->dir, &whole, &m, &a, err) != 0
                          ? -1
                          : split_parent(src->dir, m, a, whole, &subs, &kinds, &n, &s->n_loose, err);
        if (several != 0) {
            ser_corpus_free(&c);
            if (several < 0) return -1;
            int rc = 0;
            for (size_t i = 0; i < n; i++) {
                ser_corpus sub;
                if (!rc) rc = ser_corpus_scan(subs[i], kinds[i], strict, &sub, err) || add_corpus(s, &sub, src->dir, err);
                free(subs[i]);
            }
            free(subs), free(kinds);
            return rc ? -1 : 0;
        }
    }
    if (autod && strict && c.n_skips) { /* the scan again, strict: it fails with its usual message */
        ser_corpus_free(&c);
        if (ser_corpus_scan(src->dir, SER_CORPUS_AUTO, strict, &c, err) != 0) return -1;
        ser_corpus_free(&c);
        return ser_fail(err, "%s: files skipped (strict)", src->dir);
    }
    return add_corpus(s, &c, src->dir, err);
}

/* Two corpora of one name: both become "name-FOLDER"; a collision left is an error. */
static int unique_names(ser_corpus_set *s, ser_error *err) {
    int *dup = calloc(s->n ? s->n : 1, sizeof *dup);
    if (!dup) return ser_fail(err, "out of memory");
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = i + 1; j < s->n; j++)
            if (!strcmp(s->names[i], s->names[j])) dup[i] = dup[j] = 1;
    for (size_t i = 0; i < s->n; i++) {
        if (!dup[i]) continue;
        const char *root = s->corpora[i].root, *slash = strrchr(root, '/');
        const char *base = slash && slash[1] ? slash + 1 : root;
        size_t len = strlen(s->names[i]) + strlen(base) + 2;
        char *nm = malloc(len);
        if (!nm) {
            free(dup);
            return ser_fail(err, "out of memory");
        }
        snprintf(nm, len, "%s-%s", s->names[i], base);
        free(s->names[i]);
        s->names[i] = nm;
    }
    free(dup);
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = i + 1; j < s->n; j++)
            if (!strcmp(s->names[i], s->names[j]))
                return ser_fail(err, "%s and %s: two corpora named '%s' (the same folder given twice?)",
                                s->corpora[i].root, s->corpora[j].root, s->names[i]);
    return 0;
}

static int count_drop(ser_corpus_set *s, const char *corpus, const char *label, ser_error *err) {
    size_t j = 0;
    for (; j < s->n_dropped; j++) {
        int c = strcmp(s->dropped[j].corpus, corpus);
        if (!c) c = strcmp(s->dropped[j].label, label);
        if (!c) {
            s->dropped[j].n++;
            return 0;
        }
        if (c > 0) break;
    }
    ser_label_drop *v = realloc(s->dropped, (s->n_dropped + 1) * sizeof *v);
    if (!v) return ser_fail(err, "out of memory");
    s->dropped = v;
    memmove(v + j + 1, v + j, (s->n_dropped - j) * sizeof *v);
    v[j].corpus = strdup(corpus), v[j].label = strdup(label), v[j].n = 1;
    s->n_dropped++;
    if (!v[j].corpus || !v[j].label) return ser_fail(err, "out of memory");
    return 0;
}

int ser_corpus_set_scan(const ser_data_source *src, size_t n_src, int strict, const ser_label_rules *rules,
                        ser_corpus_set *out, ser_error *err) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n_src; i++)
        if (scan_source(out, &src[i], strict, err) != 0) goto fail;
    if (unique_names(out, err) != 0) goto fail;
    for (size_t k = 0; k < out->n; k++)
        for (size_t i = 0; i < out->corpora[k].clips.n; i++)
            if (ser_clip_set_corpus(&out->corpora[k].clips.v[i], out->names[k], err) != 0) goto fail;
    for (size_t k = 0; k < out->n; k++) {
        const ser_clips *cl = &out->corpora[k].clips;
        for (size_t i = 0; i < cl->n; i++) {
            const ser_clip *c = &cl->v[i];
            const char *label = rules ? ser_label_rules_apply(rules, c->label) : c->label;
            if (!label) {
                const int li = ser_label_parse(c->label), mi = li >= 0 && rules->map[li] >= 0 ? rules->map[li] : li;
                if (count_drop(out, out->names[k], mi >= 0 ? ser_label_name(mi) : c->label, err) != 0) goto fail;
                continue;
            }
            if (ser_clips_push_clip(&out->clips, c, err) != 0) goto fail;
            ser_clip *d = &out->clips.v[out->clips.n - 1];
            if (ser_clip_set_corpus(d, out->names[k], err) != 0) goto fail;
            if (label != c->label) {
                char *l = strdup(label);
                if (!l) {
                    ser_fail(err, "out of memory");
                    goto fail;
                }
                free(d->label);
                d->label = l;
            }
            if (out->n > 1) {
                size_t len = strlen(out->names[k]) + strlen(c->group) + 2;
                char *g = malloc(len);
                if (!g) {
                    ser_fail(err, "out of memory");
                    goto fail;
                }
                snprintf(g, len, "%s/%s", out->names[k], c->group);
                int rc = ser_clip_set_group(d, g, err);
                free(g);
                if (rc) goto fail;
            }
        }
    }
    if (out->clips.n == 0) {
        ser_fail(err, "--labels keeps none of the %s's clips", n_src > 1 || out->n > 1 ? "corpora" : "corpus");
        goto fail;
    }
    return 0;
fail:
    ser_corpus_set_free(out);
    return -1;
}
