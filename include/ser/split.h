/* Deterministic, seeded train / validation / test splits of a scanned corpus, and manifests.
 *
 * Randomness is numpy's legacy generator, reimplemented: MT19937 seeded with init_genrand(seed)
 * (= np.random.RandomState(seed)) and RandomState.permutation's Fisher-Yates with masked
 * rejection sampling. So every split below can be reproduced in Python:
 *
 *   Test, per-folder protocol (reference: 40 per corpus folder):
 *     rng = np.random.RandomState(seed)
 *     for g in sorted(groups):                 # bytewise order of the group names
 *         clips_g = clips of g, sorted by path
 *         test += [clips_g[i] for i in rng.permutation(len(clips_g))[:per_folder]]
 *   Test, speaker-independent: every clip of the named test speakers. A name "CORPUS:SPEAKER"
 *     (CORPUS a clip's corpus field) takes that corpus's speaker only; a plain "SPEAKER" every
 *     clip of that speaker id, and fails when the id is found in two corpora.
 *   Validation: the remaining (training) clips in path order, then exactly
 *     train, val = sklearn.model_selection.train_test_split(rest, test_size=val_fraction,
 *                                                            random_state=seed)
 *     (n_val = ceil(val_fraction * n), train and val in sklearn's order: the permutation's).
 *     The validation generator is a fresh RandomState(seed), as sklearn makes one.
 *   test comes out sorted by path.
 */
#ifndef SER_SPLIT_H
#define SER_SPLIT_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ser/corpus.h"
#include "ser/error.h"

typedef struct ser_split_opts {
    int per_folder;                  /* test clips per group (reference 40; 0 = no test set) */
    const char *const *test_speakers; /* speaker-independent when n_test_speakers > 0 (per_folder ignored) */
    size_t n_test_speakers;
    double val_fraction;             /* of the training part, in [0, 1); reference 0.125 */
    uint32_t seed;                   /* reference 42 */
} ser_split_opts;

/* Indices into the corpus's clips. */
typedef struct ser_split {
    size_t *train, *val, *test;
    size_t n_train, n_val, n_test;
} ser_split;

/* Fails naming the group that has too few clips (<= per_folder), an unknown test speaker, an
 * empty training part, or a val_fraction out of range. */
int ser_split_make(const ser_clips *clips, const ser_split_opts *opts, ser_split *out, ser_error *err);
/* The same with the test clips given: in_test[i] != 0 marks clip i (n = clips->n bytes); the
 * rest is split into train and validation exactly as above (ser cv's folds). */
int ser_split_make_mask(const ser_clips *clips, const unsigned char *in_test, double val_fraction, uint32_t seed,
                        ser_split *out, ser_error *err);
void ser_split_free(ser_split *s);

/* The clips of one named speaker, as --test-speakers above and ser cv's speaker lists name it:
 * "CORPUS:SPEAKER" (CORPUS a clip's corpus field) that corpus's speaker only, a plain "SPEAKER"
 * every clip of that id. Marks them in mask (clips->n bytes); returns how many (0: none), or -1
 * when a plain id is found in two corpora (the message names both qualified names). */
long ser_speaker_mark(const ser_clips *clips, const char *spk, unsigned char *mask, ser_error *err);

/* ---- numpy-equivalent generator (exposed for tests) ---------------------------------------- */
typedef struct ser_mt19937 {
    uint32_t mt[624];
    int mti;
} ser_mt19937;

void ser_mt19937_seed(ser_mt19937 *r, uint32_t seed);
uint32_t ser_mt19937_next(ser_mt19937 *r);
/* perm[0..n) = np.random.RandomState(...).permutation(n) continuing from r's state. */
void ser_mt19937_permutation(ser_mt19937 *r, size_t *perm, size_t n);

/* ---- manifests (host/corpus/manifest.c) -----------------------------------------------------------
 * Plain text, UTF-8 bytes as found, one clip per line: path<TAB>label<TAB>speaker<TAB>group<TAB>corpus,
 * after one header line "# path<TAB>label<TAB>speaker<TAB>group<TAB>corpus". Readers skip lines
 * starting with '#' and blank lines, accept CRLF, accept 3- and 4-field lines (group / corpus "";
 * hand-written lists, manifests written before the corpus column) and resolve a relative path
 * against the manifest's folder. */

/* Writes clips[idx[i]] for i < n (idx NULL: clips[0..n)) atomically (temp file + rename).
 * Fails naming the file, or a clip whose fields hold a tab or newline. */
int ser_manifest_write(const char *path, const ser_clip *clips, const size_t *idx, size_t n, ser_error *err);

/* The same text (header + lines) to an open stream (ser scan's stdout); -1 on a write error. */
int ser_manifest_print(FILE *f, const ser_clip *clips, const size_t *idx, size_t n);

/* Appends the manifest's rows to out. Fails with "file:line: reason" on a bad line (not 3 to
 * 5 fields, empty path or label). */
int ser_manifest_read(const char *path, ser_clips *out, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
