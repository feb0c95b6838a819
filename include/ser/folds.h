/* Speaker-independent cross-validation folds of a scanned corpus (`ser cv`): which clips each
 * fold tests on. Every fold's training and validation clips then come from
 * ser_split_make_mask (include/ser/split.h): the other clips, seeded validation fraction; or,
 * with ser_fold_val_speakers, every clip of some training speakers validates.
 *
 *   k-fold  the corpus's speakers dealt into K groups balanced by clip count: speakers sorted
 *           bytewise, permuted by np.random.RandomState(seed).permutation, stably sorted by clip
 *           count (descending), then each in turn to the group with the fewest clips so far
 *           (ties: the lowest group number). Fold g tests on group g.
 *   loso    one fold per speaker, speakers in bytewise order.
 *   lists   a folder of fold lists:
 *             DIR/fold_N/..._test_fold_N.jsonl (N = 1, 2, ...; EmoBox's layout): one JSON object
 *               a line whose "wav" names a clip; matched to the scanned clips by file name
 *               (the last '/'-part), which must name exactly one of them. The fold's training
 *               clips are all the others (EmoBox's ..._train_fold_N.jsonl is their complement).
 *             or else every file of DIR (not hidden, bytewise order) is one fold: NAME.jsonl a
 *               clip list as above, any other file plain text with one test speaker a line
 *               (blank lines and lines starting with '#' skipped).
 *           A speaker line names a speaker as ser split --test-speakers does (ser_speaker_mark):
 *           CORPUS:SPEAKER, or a plain id found in one corpus only.
 *           A clip in two folds' test sets, an unknown clip or speaker, or fewer than 2 folds fail,
 *           naming the file (and line).
 *
 * Speakers are keyed by ser_speaker_keys: with clips of one corpus the plain speaker id, with
 * clips of several corpora "CORPUS:SPEAKER" (a speaker id is unique within its corpus only), so
 * two corpora's speaker "1" are two speakers, dealt, held out and named each on its own.
 */
#ifndef SER_FOLDS_H
#define SER_FOLDS_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/corpus.h"
#include "ser/error.h"

typedef struct ser_fold {
    unsigned char *in_test; /* (n_clips): 1 = a test clip of this fold */
    size_t n_test;          /* test clips */
    char **speakers;        /* the test clips' speaker keys (ser_speaker_keys), sorted bytewise, unique */
    size_t n_speakers;
    char *source;           /* the list file it came from (lists only; else NULL) */
} ser_fold;

typedef struct ser_folds {
    ser_fold *v;
    size_t n;
    size_t n_clips;    /* clips of the corpus (length of every in_test) */
    size_t n_untested; /* clips in no fold's test set (lists that leave speakers out) */
} ser_folds;

/* keys[i] = clip i's speaker key: "CORPUS:SPEAKER" when the clips come from more than one corpus
 * (corpus fields differ), else its speaker ("" stays ""). NULL (err set) when out of memory.
 * Free with ser_speaker_keys_free(keys, clips->n). */
char **ser_speaker_keys(const ser_clips *clips, ser_error *err);
void ser_speaker_keys_free(char **keys, size_t n);

/* K-fold over speakers (above). Fails when a clip has no speaker, K < 2 or K > the speakers. */
int ser_folds_kfold(const ser_clips *clips, int k, uint32_t seed, ser_folds *out, ser_error *err);
/* Leave one speaker out. Fails when a clip has no speaker or there are fewer than 2 speakers. */
int ser_folds_loso(const ser_clips *clips, ser_folds *out, ser_error *err);
/* The fold lists of dir (above). */
int ser_folds_from_dir(const ser_clips *clips, const char *dir, ser_folds *out, ser_error *err);
void ser_folds_free(ser_folds *f);

/* Speaker-level validation (ser cv --val-speakers n): marks in in_val (clips->n bytes) every clip
 * of n of the fold's training speakers (those with no test clip in the fold): the training
 * speakers sorted bytewise, permuted by np.random.RandomState(seed).permutation, the first n.
 * Fails when n < 1 or n leaves no training speaker. */
int ser_fold_val_speakers(const ser_clips *clips, const ser_fold *fold, int n, uint32_t seed, unsigned char *in_val,
                          ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
