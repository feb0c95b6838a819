/* Per-utterance feature normalisation (features.normalize), applied to the unscaled MFCCs of a
 * split before the global scaler, in training, evaluation and prediction alike: each
 * coefficient is centred and scaled to unit variance over the REAL frames of a clip (1), or of
 * all clips of the same speaker (2), removing the speaker's average spectral envelope and level
 * (cepstral mean and variance normalisation). The padding frames (the zero columns pad/cut adds
 * after the audio) stay zero and do not count.
 *
 * Layout: one clip is (H = n_mfcc + f0_rows, W = frames) row-major, as ser_features_extract writes it. */
#ifndef SER_NORMALIZE_H
#define SER_NORMALIZE_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/corpus.h"
#include "ser/error.h"

enum { SER_NORM_NONE = 0, SER_NORM_CLIP = 1, SER_NORM_SPEAKER = 2 };

/* Frames holding audio: 1 + the last column with a non-zero value (0 for an all-zero clip).
 * A real MFCC frame is never exactly all zero (c0 alone is a sum of dB values). */
int ser_clip_frames_used(const float *x, int H, int W);

/* Normalises n clips (n, H, W) in place. SER_NORM_SPEAKER groups the clips by clips[i].speaker
 * ("" is one group of its own); clips may be NULL for the other modes. A coefficient whose
 * variance is (nearly) zero is only centred. */
int ser_normalize(int mode, float *x, size_t n, const ser_clip *clips, int H, int W, ser_error *err);

/* Speaker groups in O(n) (a hash map): group[i] in [0, *n_groups), numbered by first appearance;
 * clips i and j share a group when ser_clip_same_speaker(i, j). */
int ser_speaker_groups(const ser_clip *clips, size_t n, uint32_t *group, size_t *n_groups, ser_error *err);

/* The pieces of ser_normalize, for features read clip by clip (ser/feature_source.h): a clip's
 * real frames added to per-coefficient sums (H doubles each); the sums turned into mean and
 * 1/std in place; a clip normalised with them. */
void ser_norm_accumulate(const float *x, int H, int W, double *sum, double *sq, double *count);
void ser_norm_finish(double *sum, double *sq, double count, int H);
void ser_norm_apply(float *x, int H, int W, const double *mean, const double *inv);

/* Per-speaker statistics of n clips, streamed: add every clip once in clip order (the order
 * ser_normalize sums in, so the result is bit-identical), finish, then apply to any clip. */
typedef struct ser_norm_stats {
    uint32_t *group;     /* (n) speaker group of each clip */
    size_t n_groups;
    double *sum;         /* (n_groups, 2, H): sums, then mean and 1/std after finish */
    double *count;       /* (n_groups) real frames */
    int H;
} ser_norm_stats;
int ser_norm_stats_init(ser_norm_stats *st, const ser_clip *clips, size_t n, int H, ser_error *err);
void ser_norm_stats_add(ser_norm_stats *st, size_t i, const float *x, int W);
void ser_norm_stats_finish(ser_norm_stats *st);
void ser_norm_stats_apply(const ser_norm_stats *st, size_t i, float *x, int W);
void ser_norm_stats_free(ser_norm_stats *st);

#ifdef __cplusplus
}
#endif

#endif
