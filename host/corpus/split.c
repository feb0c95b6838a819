/* Seeded splits: reference per-folder test set, speaker-independent test set, sklearn-equal
 * validation fraction. See include/ser/split.h for the exact Python each one equals. */
#include "ser/split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- MT19937 exactly as numpy's legacy RandomState (init_genrand + genrand_int32) ---------- */

void ser_mt19937_seed(ser_mt19937 *r, uint32_t seed) {
    r->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = 624;
}

uint32_t ser_mt19937_next(ser_mt19937 *r) {
    if (r->mti >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[(k + 1) % 624] & 0x7fffffffu);
            r->mt[k] = r->mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        r->mti = 0;
    }
    uint32_t y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* numpy random_interval(max): a uniform value in [0, max] by masked rejection (32-bit draws
 * while max fits in 32 bits; a split never gets near 2^32 clips). */
static size_t random_interval(ser_mt19937 *r, size_t max) {
    if (max == 0) return 0;
    SER_ASSERT(max <= 0xffffffffu);
    uint32_t mask = (uint32_t)max;
    mask |= mask >> 1, mask |= mask >> 2, mask |= mask >> 4, mask |= mask >> 8, mask |= mask >> 16;
    uint32_t v;
    while ((v = ser_mt19937_next(r) & mask) > max) {
    }
    return v;
}

void ser_mt19937_permutation(ser_mt19937 *r, size_t *perm, size_t n) {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    /* RandomState.shuffle: for i in reversed(range(1, n)): j = random_interval(i); swap. */
    for (size_t i = n; i-- > 1;) {
        size_t j = random_interval(r, i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void ser_split_free(ser_split *s) {
    if (!s) return;
    free(s->train), free(s->val), free(s->test);
    memset(s, 0, sizeof *s);
}

/* Sort keys: qsort has no context argument, so each key carries what it compares. */
typedef struct sort_key {
    const char *group, *path;
    size_t idx;
} sort_key;

static int cmp_by_group_path(const void *a, const void *b) {
    const sort_key *x = a, *y = b;
    int c = strcmp(x->group, y->group);
    if (!c) c = strcmp(x->path, y->path);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_by_path(const void *a, const void *b) {
    const sort_key *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* order[0..n) = clip indices sorted by cmp, using keys as scratch. */
static void sort_indices(const ser_clips *clips, sort_key *keys, size_t *order,
                         int (*cmp)(const void *, const void *)) {
    for (size_t i = 0; i < clips->n; i++)
        keys[i] = (sort_key){clips->v[i].group, clips->v[i].path, i};
    qsort(keys, clips->n, sizeof *keys, cmp);
    for (size_t i = 0; i < clips->n; i++) order[i] = keys[i].idx;
}

/* Marks in_test[] per the reference protocol: per_folder clips of every group. */
static int pick_per_folder(const ser_clips *clips, int per_folder, uint32_t seed, unsigned char *in_test,
                           sort_key *keys, size_t *order, size_t *perm, ser_error *err) {
    size_t n = clips->n;
    sort_indices(clips, keys, order, cmp_by_group_path);
    ser_mt19937 rng;
    ser_mt19937_seed(&rng, seed);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && !strcmp(clips->v[order[a]].group, clips->v[order[b]].group)) b++;
        size_t m = b - a;
        if (m <= (size_t)per_folder)
            return ser_fail(err, "group '%s' has %zu clips: --per-folder %d would leave none to train on",
                            clips->v[order[a]].group, m, per_folder);
        ser_mt19937_permutation(&rng, perm, m);
        for (int k = 0; k < per_folder; k++) in_test[order[a + perm[k]]] = 1;
        a = b;
    }
    return 0;
}

long ser_speaker_mark(const ser_clips *clips, const char *spk, unsigned char *mask, ser_error *err) {
    if (!spk || !*spk) return ser_fail(err, "empty speaker name");
    /* "CORPUS:SPEAKER" when CORPUS names a corpus of the clips; else a plain speaker id,
     * which must then belong to one corpus only (two corpora may both have a speaker "1"). */
    const char *colon = strchr(spk, ':'), *want = spk;
    size_t cl = colon ? (size_t)(colon - spk) : 0;
    int qualified = 0;
    for (size_t i = 0; colon && !qualified && i < clips->n; i++) {
        const char *c = clips->v[i].corpus ? clips->v[i].corpus : "";
        qualified = strlen(c) == cl && !strncmp(c, spk, cl);
    }
    if (qualified) want = colon + 1;
    long hits = 0;
    const char *first = NULL;
    for (size_t i = 0; i < clips->n; i++) {
        const char *c = clips->v[i].corpus ? clips->v[i].corpus : "";
        if (strcmp(clips->v[i].speaker, want) || (qualified && (strlen(c) != cl || strncmp(c, spk, cl)))) continue;
        if (!qualified && first && strcmp(first, c))
            return ser_fail(err, "speaker '%s' is in two corpora (%s and %s): name it %s:%s or %s:%s", spk, first, c,
                            first, spk, c, spk);
        if (!first) first = c;
        mask[i] = 1, hits++;
    }
    return hits;
}

static int pick_speakers(const ser_clips *clips, const ser_split_opts *o, unsigned char *in_test, ser_error *err) {
    for (size_t s = 0; s < o->n_test_speakers; s++) {
        const char *spk = o->test_speakers[s];
        if (!spk || !*spk) return ser_fail(err, "empty test speaker name");
        const long hits = ser_speaker_mark(clips, spk, in_test, err);
        if (hits < 0) return -1;
        if (!hits) return ser_fail(err, "test speaker '%s' has no clips in this corpus", spk);
    }
    return 0;
}

/* Test = the marked clips (sorted by path); the rest in path order, then sklearn's
 * train_test_split. keys, order, perm: n-element scratch. */
static int split_rest(const ser_clips *clips, const unsigned char *in_test, double val_fraction, uint32_t seed,
                      sort_key *keys, size_t *order, size_t *perm, ser_split *out, ser_error *err) {
    size_t n = clips->n;
    sort_indices(clips, keys, order, cmp_by_path);
    size_t n_rest = 0;
    size_t *rest = perm; /* reuse: perm is free again */
    for (size_t i = 0; i < n; i++) {
        if (in_test[order[i]]) out->test[out->n_test++] = order[i];
        else rest[n_rest++] = order[i];
    }
    if (n_rest == 0) return ser_fail(err, "no clips left to train on (all %zu are test clips)", n);
    size_t n_val = (size_t)ceil(val_fraction * (double)n_rest);
    if (n_val >= n_rest)
        return ser_fail(err, "validation fraction %g of %zu training clips leaves none to train on", val_fraction,
                        n_rest);
    if (n_val == 0) {
        /* sklearn would still permute; without a validation set the order stays by path. */
        memcpy(out->train, rest, n_rest * sizeof *rest);
        out->n_train = n_rest;
        return 0;
    }
    ser_mt19937 rng;
    ser_mt19937_seed(&rng, seed);
    ser_mt19937_permutation(&rng, order, n_rest);
    for (size_t i = 0; i < n_val; i++) out->val[i] = rest[order[i]];
    for (size_t i = n_val; i < n_rest; i++) out->train[i - n_val] = rest[order[i]];
    out->n_val = n_val;
    out->n_train = n_rest - n_val;
    return 0;
}

/* One allocation set for both entry points; mask NULL: pick the test clips per opts. */
static int split_make(const ser_clips *clips, const ser_split_opts *o, const unsigned char *mask, ser_split *out,
                      ser_error *err) {
    memset(out, 0, sizeof *out);
    if (!(o->val_fraction >= 0.0 && o->val_fraction < 1.0))
        return ser_fail(err, "validation fraction %g out of range [0, 1)", o->val_fraction);
    if (o->per_folder < 0) return ser_fail(err, "per-folder test count %d is negative", o->per_folder);
    size_t n = clips->n;
    unsigned char *in_test = ser_calloc(n ? n : 1, 1, "the split", err);
    size_t *order = ser_malloc((n ? n : 1) * sizeof *order, "the split", err);
    size_t *perm = ser_malloc((n ? n : 1) * sizeof *perm, "the split", err);
    sort_key *keys = ser_malloc((n ? n : 1) * sizeof *keys, "the split", err);
    out->train = ser_malloc((n ? n : 1) * sizeof *out->train, "the split", err);
    out->val = ser_malloc((n ? n : 1) * sizeof *out->val, "the split", err);
    out->test = ser_malloc((n ? n : 1) * sizeof *out->test, "the split", err);
    int rc = (in_test && order && perm && keys && out->train && out->val && out->test) ? 0 : -1;
    if (!rc && mask) memcpy(in_test, mask, n);
    else if (!rc && o->n_test_speakers) rc = pick_speakers(clips, o, in_test, err);
    else if (!rc) rc = pick_per_folder(clips, o->per_folder, o->seed, in_test, keys, order, perm, err);
    if (!rc) rc = split_rest(clips, in_test, o->val_fraction, o->seed, keys, order, perm, out, err);
    free(in_test), free(order), free(perm), free(keys);
    if (rc) ser_split_free(out);
    return rc;
}

int ser_split_make(const ser_clips *clips, const ser_split_opts *o, ser_split *out, ser_error *err) {
    return split_make(clips, o, NULL, out, err);
}

int ser_split_make_mask(const ser_clips *clips, const unsigned char *in_test, double val_fraction, uint32_t seed,
                        ser_split *out, ser_error *err) {
    ser_split_opts o = {.val_fraction = val_fraction, .seed = seed};
    return split_make(clips, &o, in_test, out, err);
}
