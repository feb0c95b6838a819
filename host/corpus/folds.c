/* Cross-validation folds over speakers: balanced seeded k-fold, leave one speaker out, and fold
 * lists (EmoBox's jsonl clip lists or plain speaker lists). See include/ser/folds.h. */
#define _DEFAULT_SOURCE
#include "ser/folds.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ser/split.h"

void ser_folds_free(ser_folds *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].in_test);
        for (size_t s = 0; s < f->v[i].n_speakers; s++) free(f->v[i].speakers[s]);
        free(f->v[i].speakers);
        free(f->v[i].source);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void ser_speaker_keys_free(char **keys, size_t n) {
    for (size_t i = 0; keys && i < n; i++) free(keys[i]);
    free(keys);
}

char **ser_speaker_keys(const ser_clips *clips, ser_error *err) {
    int multi = 0;
    for (size_t i = 1; i < clips->n && !multi; i++)
        multi = strcmp(clips->v[i].corpus ? clips->v[i].corpus : "", clips->v[0].corpus ? clips->v[0].corpus : "") != 0;
    char **keys = ser_calloc(clips->n ? clips->n : 1, sizeof *keys, "the speaker keys", err);
    for (size_t i = 0; keys && i < clips->n; i++) {
        const ser_clip *c = &clips->v[i];
        const char *spk = c->speaker ? c->speaker : "", *corpus = c->corpus ? c->corpus : "";
        size_t l = strlen(spk) + (multi ? strlen(corpus) + 1 : 0) + 1;
        if (!(keys[i] = malloc(l))) {
            ser_speaker_keys_free(keys, i);
            return ser_fail(err, "out of memory for the speaker keys"), NULL;
        }
        if (multi && *spk) snprintf(keys[i], l, "%s:%s", corpus, spk);
        else memcpy(keys[i], spk, strlen(spk) + 1);
    }
    return keys;
}

/* The corpus's speakers (their keys), sorted bytewise and unique, with their clip counts
 * (pointers into keys). Fails when a clip names no speaker: folds over speakers need them. */
static int speaker_table(const ser_clips *clips, char *const *keys, const char ***names, size_t **counts, size_t *n,
                         ser_error *err) {
    *names = NULL, *counts = NULL, *n = 0;
    if (!clips->n) return ser_fail(err, "the corpus has no clips");
    const char **all = ser_malloc(clips->n * sizeof *all, "the speaker list", err);
    size_t *cnt = ser_calloc(clips->n, sizeof *cnt, "the speaker list", err);
    if (!all || !cnt) {
        free(all), free(cnt);
        return -1;
    }
    for (size_t i = 0; i < clips->n; i++) {
        if (!clips->v[i].speaker[0]) {
            free(all), free(cnt);
            return ser_fail(err, "clip '%s' names no speaker (a folder-per-label corpus?): speaker folds need "
                                 "speakers", clips->v[i].path);
        }
        all[i] = keys[i];
    }
    qsort(all, clips->n, sizeof *all, cmp_str);
    size_t m = 0;
    for (size_t i = 0; i < clips->n; i++) {
        if (m && !strcmp(all[m - 1], all[i])) cnt[m - 1]++;
        else all[m] = all[i], cnt[m++] = 1;
    }
    *names = all, *counts = cnt, *n = m;
    return 0;
}

/* A corpus's speakers for the speaker folds: each clip's key, and the table above. */
typedef struct speaker_set {
    char **keys;         /* (n_clips) ser_speaker_keys */
    const char **names;  /* (n) sorted unique keys, pointers into keys */
    size_t *counts;      /* (n) clips per speaker */
    size_t n, n_clips;
} speaker_set;

static void speaker_set_free(speaker_set *s) {
    free(s->names), free(s->counts);
    ser_speaker_keys_free(s->keys, s->n_clips);
    memset(s, 0, sizeof *s);
}

static int speaker_set_of(const ser_clips *clips, speaker_set *s, ser_error *err) {
    memset(s, 0, sizeof *s);
    s->n_clips = clips->n;
    if (!(s->keys = ser_speaker_keys(clips, err))) return -1;
    if (speaker_table(clips, s->keys, &s->names, &s->counts, &s->n, err) != 0) {
        speaker_set_free(s);
        return -1;
    }
    return 0;
}

static int folds_alloc(ser_folds *out, size_t n_folds, size_t n_clips, ser_error *err) {
    memset(out, 0, sizeof *out);
    out->n_clips = n_clips;
    out->v = ser_calloc(n_folds, sizeof *out->v, "the folds", err);
    if (!out->v) return -1;
    out->n = n_folds;
    for (size_t f = 0; f < n_folds; f++)
        if (!(out->v[f].in_test = ser_calloc(n_clips ? n_clips : 1, 1, "the folds", err))) return -1;
    return 0;
}

/* Fills every fold's n_test and sorted unique speakers from its mask, and n_untested; fails
 * when a clip is in two folds or a fold is empty. */
static int folds_finish(const ser_clips *clips, char *const *keys, ser_folds *out, ser_error *err) {
    for (size_t i = 0; i < clips->n; i++) {
        int hits = 0;
        for (size_t f = 0; f < out->n; f++) hits += out->v[f].in_test[i] != 0;
        if (hits > 1) return ser_fail(err, "clip '%s' is a test clip of %d folds", clips->v[i].path, hits);
        out->n_untested += hits == 0;
    }
    for (size_t f = 0; f < out->n; f++) {
        ser_fold *fd = &out->v[f];
        const char **sp = ser_malloc((clips->n ? clips->n : 1) * sizeof *sp, "the folds", err);
        if (!sp) return -1;
        size_t m = 0;
        for (size_t i = 0; i < clips->n; i++)
            if (fd->in_test[i]) sp[m++] = keys[i];
        fd->n_test = m;
        if (!m) {
            free(sp);
            return ser_fail(err, "fold %zu%s%s has no test clips", f + 1, fd->source ? " " : "",
                            fd->source ? fd->source : "");
        }
        qsort(sp, m, sizeof *sp, cmp_str);
        fd->speakers = ser_calloc(m, sizeof *fd->speakers, "the folds", err);
        for (size_t i = 0; fd->speakers && i < m; i++) {
            if (fd->n_speakers && !strcmp(fd->speakers[fd->n_speakers - 1], sp[i])) continue;
            if (!(fd->speakers[fd->n_speakers++] = strdup(sp[i]))) fd->speakers = NULL;
        }
        free(sp);
        if (!fd->speakers) return ser_fail(err, "out of memory for the folds");
    }
    return 0;
}

/* Marks every clip whose speaker key is spk in mask; returns the clips marked. */
static size_t mark_speaker(size_t n, char *const *keys, const char *spk, unsigned char *mask) {
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i], spk)) mask[i] = 1, hits++;
    return hits;
}

typedef struct spk_key {
    size_t count, pos; /* clip count; position in the seeded permutation */
    const char *name;
} spk_key;

static int cmp_count_desc(const void *a, const void *b) {
    const spk_key *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

int ser_folds_kfold(const ser_clips *clips, int k, uint32_t seed, ser_folds *out, ser_error *err) {
    memset(out, 0, sizeof *out);
    speaker_set sp;
    if (speaker_set_of(clips, &sp, err) != 0) return -1;
    const size_t n = sp.n;
    int rc = -1;
    spk_key *keys = NULL;
    size_t *perm = NULL, *load = NULL;
    if (k < 2) {
        ser_fail(err, "--folds %d: at least 2 folds are needed", k);
        goto done;
    }
    if ((size_t)k > n) {
        ser_fail(err, "--folds %d: the corpus has only %zu speaker%s", k, n, n == 1 ? "" : "s");
        goto done;
    }
    keys = ser_malloc(n * sizeof *keys, "the folds", err);
    perm = ser_malloc(n * sizeof *perm, "the folds", err);
    load = ser_calloc((size_t)k, sizeof *load, "the folds", err);
    if (!keys || !perm || !load || folds_alloc(out, (size_t)k, clips->n, err) != 0) goto done;
    ser_mt19937 rng;
    ser_mt19937_seed(&rng, seed);
    ser_mt19937_permutation(&rng, perm, n);
    for (size_t i = 0; i < n; i++) keys[i] = (spk_key){sp.counts[perm[i]], i, sp.names[perm[i]]};
    qsort(keys, n, sizeof *keys, cmp_count_desc);
    for (size_t i = 0; i < n; i++) {
        size_t g = 0;
        for (size_t j = 1; j < (size_t)k; j++)
            if (load[j] < load[g]) g = j;
        load[g] += mark_speaker(clips->n, sp.keys, keys[i].name, out->v[g].in_test);
    }
    rc = folds_finish(clips, sp.keys, out, err);
done:
    free(keys), free(perm), free(load);
    speaker_set_free(&sp);
    if (rc) ser_folds_free(out);
    return rc;
}

int ser_folds_loso(const ser_clips *clips, ser_folds *out, ser_error *err) {
    memset(out, 0, sizeof *out);
    speaker_set sp;
    if (speaker_set_of(clips, &sp, err) != 0) return -1;
    int rc = -1;
    if (sp.n < 2) ser_fail(err, "--folds loso: the corpus has only %zu speaker", sp.n);
    else if (folds_alloc(out, sp.n, clips->n, err) == 0) {
        for (size_t s = 0; s < sp.n; s++) mark_speaker(clips->n, sp.keys, sp.names[s], out->v[s].in_test);
        rc = folds_finish(clips, sp.keys, out, err);
    }
    speaker_set_free(&sp);
    if (rc) ser_folds_free(out);
    return rc;
}

/* ---- fold lists --------------------------------------------------------------------------- */

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Strips the line end and surrounding blanks in place. */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t l = strlen(s);
    while (l && strchr(" \t\r\n", s[l - 1])) s[--l] = 0;
    return s;
}

/* One fold from a list file: jsonl clip names, else one speaker a line. */
static int read_list(const ser_clips *clips, const char *path, unsigned char *mask, ser_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return ser_fail(err, "%s: %s", path, strerror(errno));
    const size_t pl = strlen(path);
    const int jsonl = pl > 6 && !strcmp(path + pl - 6, ".jsonl");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rc = 0;
    while (!rc && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = trim(line);
        if (!*s || (!jsonl && *s == '#')) continue;
        if (!jsonl) {
            /* as ser split --test-speakers: CORPUS:SPEAKER, or a plain id found in one corpus */
            const long hits = ser_speaker_mark(clips, s, mask, err);
            if (hits < 0) rc = ser_fail_wrap(err, "%s:%zu", path, lineno);
            else if (!hits) rc = ser_fail(err, "%s:%zu: speaker '%s' has no clips in the corpus", path, lineno, s);
            continue;
        }
        cJSON *o = cJSON_Parse(s);
        const cJSON *w = o ? cJSON_GetObjectItemCaseSensitive(o, "wav") : NULL;
        if (!cJSON_IsString(w) || !w->valuestring[0]) {
            rc = ser_fail(err, "%s:%zu: %s", path, lineno, o ? "no \"wav\" string (EmoBox's clip path)" : "not a JSON object");
        } else {
            const char *want = base_name(w->valuestring);
            size_t hit = 0, hits = 0;
            for (size_t i = 0; i < clips->n; i++)
                if (!strcmp(base_name(clips->v[i].path), want)) hit = i, hits++;
            if (hits == 1) mask[hit] = 1;
            else
                rc = ser_fail(err, "%s:%zu: clip '%s' %s", path, lineno, want,
                              hits ? "names several clips of the corpus (same file name in two folders)"
                                   : "is not in the corpus");
        }
        cJSON_Delete(o);
    }
    if (!rc && ferror(f)) rc = ser_fail(err, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

static int is_dir(const char *p) {
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* EmoBox: DIR/fold_N/<anything>_test_fold_N.jsonl, exactly one per fold. */
static int emobox_file(const char *dir, size_t n, char **path, ser_error *err) {
    char sub[4096], suffix[64];
    snprintf(sub, sizeof sub, "%s/fold_%zu", dir, n);
    snprintf(suffix, sizeof suffix, "_test_fold_%zu.jsonl", n);
    DIR *d = opendir(sub);
    if (!d) return ser_fail(err, "%s: %s", sub, strerror(errno));
    *path = NULL;
    int found = 0;
    const size_t sl = strlen(suffix);
    for (struct dirent *e; (e = readdir(d));) {
        const size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix) || e->d_name[0] == '.') continue;
        if (found++) break;
        size_t pl = strlen(sub) + l + 2;
        if (!(*path = malloc(pl))) {
            closedir(d);
            return ser_fail(err, "%s: out of memory", sub);
        }
        snprintf(*path, pl, "%s/%s", sub, e->d_name);
    }
    closedir(d);
    if (found != 1 || !*path) {
        free(*path), *path = NULL;
        return ser_fail(err, "%s: expected one *%s, found %d", sub, suffix, found);
    }
    return 0;
}

/* The list files of dir: EmoBox's fold_N/ layout, else its plain files sorted bytewise. */
static int list_files(const char *dir, char ***files, size_t *n, ser_error *err) {
    *files = NULL, *n = 0;
    char sub[4096];
    size_t cap = 0;
    snprintf(sub, sizeof sub, "%s/fold_1", dir);
    if (is_dir(sub)) {
        for (size_t k = 1;; k++) {
            snprintf(sub, sizeof sub, "%s/fold_%zu", dir, k);
            if (!is_dir(sub)) break;
            char *p;
            if (emobox_file(dir, k, &p, err) != 0) return -1;
            if (*n == cap) {
                cap = cap ? 2 * cap : 8;
                char **v = realloc(*files, cap * sizeof *v);
                if (!v) return free(p), ser_fail(err, "out of memory");
                *files = v;
            }
            (*files)[(*n)++] = p;
        }
        return 0;
    }
    struct dirent **ents = NULL;
    int m = scandir(dir, &ents, NULL, alphasort);
    if (m < 0) return ser_fail(err, "--fold-lists %s: %s", dir, strerror(errno));
    int rc = 0;
    *files = calloc((size_t)m + 1, sizeof **files);
    if (!*files) rc = ser_fail(err, "out of memory");
    for (int i = 0; i < m; i++) {
        if (!rc && ents[i]->d_name[0] != '.') {
            snprintf(sub, sizeof sub, "%s/%s", dir, ents[i]->d_name);
            struct stat st;
            if (!stat(sub, &st) && S_ISREG(st.st_mode)) {
                if (!((*files)[*n] = strdup(sub))) rc = ser_fail(err, "out of memory");
                else (*n)++;
            }
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int ser_folds_from_dir(const ser_clips *clips, const char *dir, ser_folds *out, ser_error *err) {
    memset(out, 0, sizeof *out);
    char **files = NULL;
    size_t n = 0;
    int rc = list_files(dir, &files, &n, err);
    if (!rc && n < 2) rc = ser_fail(err, "--fold-lists %s: %zu fold list%s found; at least 2 are needed", dir, n, n == 1 ? "" : "s");
    if (!rc) rc = folds_alloc(out, n, clips->n, err);
    for (size_t f = 0; !rc && f < n; f++) {
        out->v[f].source = files[f], files[f] = NULL;
        rc = read_list(clips, out->v[f].source, out->v[f].in_test, err);
    }
    char **sk = rc ? NULL : ser_speaker_keys(clips, err);
    if (!rc) rc = sk ? folds_finish(clips, sk, out, err) : -1;
    ser_speaker_keys_free(sk, clips->n);
    for (size_t f = 0; f < n; f++) free(files ? files[f] : NULL);
    free(files);
    if (rc) ser_folds_free(out);
    return rc;
}

int ser_fold_val_speakers(const ser_clips *clips, const ser_fold *fold, int n, uint32_t seed, unsigned char *in_val,
                          ser_error *err) {
    memset(in_val, 0, clips->n ? clips->n : 1);
    if (n < 1) return ser_fail(err, "--val-speakers %d: expected a count >= 1", n);
    speaker_set sp;
    if (speaker_set_of(clips, &sp, err) != 0) return -1;
    /* the training speakers: those without a test clip in this fold, bytewise */
    const char **names = sp.names;
    size_t nt = 0;
    for (size_t s = 0; s < sp.n; s++) {
        int test = 0;
        for (size_t i = 0; i < fold->n_speakers && !test; i++) test = !strcmp(fold->speakers[i], names[s]);
        if (!test) names[nt++] = names[s];
    }
    int rc = 0;
    size_t *perm = NULL;
    if ((size_t)n >= nt)
        rc = ser_fail(err, "--val-speakers %d: the fold has %zu training speaker%s: none would be left to train on", n, nt,
                      nt == 1 ? "" : "s");
    else if (!(perm = ser_malloc(nt * sizeof *perm, "the validation speakers", err)))
        rc = -1;
    if (!rc) {
        ser_mt19937 rng;
        ser_mt19937_seed(&rng, seed);
        ser_mt19937_permutation(&rng, perm, nt);
        for (int v = 0; v < n; v++) mark_speaker(clips->n, sp.keys, names[perm[v]], in_val);
    }
    free(perm);
    speaker_set_free(&sp);
    return rc;
}
