/* Each speaker's mel warp: vocal tract length normalisation (VTLN) of whole speakers
 * (features.vtln), transductive like features.normalize = 2: every speaker of a split (the test
 * speaker too, from its unlabelled clips) gets the mel frequency warp alpha
 * (ser_mel_filters_warped) whose long-term cepstral statistics come closest to the training
 * set's, and its features are computed with that warp.
 *
 * Statistics: per coefficient, the mean and standard deviation over the real frames of a set of
 * clips (unnormalised MFCC). Distance: the squared differences of both over c1..c(n_mfcc-1)
 * (c0, the level, is left out: the gain of a recording is not the vocal tract). Search: alpha on
 * the grid 1 + k / 100 within [1 - vtln, 1 + vtln], first minimum (ties to the smaller |k|),
 * over all clips of the speaker in the split (a lone training speaker is its own reference:
 * alpha exactly 1). The warp's upper knee is train.aug_vtlp_fhi.
 *
 * The reference (the training split's statistics, unwarped) travels in the model file
 * (ser.vtln_ref) so that `ser eval` / `ser predict` normalise a new speaker the same way. */
#ifndef SER_SPEAKER_WARP_H
#define SER_SPEAKER_WARP_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/error.h"

#define SER_VTLN_MAX_MFCC 128 /* the reference is 2 * n_mfcc doubles in ser_model_meta */

/* Per-coefficient mean (ref[0..H)) and standard deviation (ref[H..2H)) over the real frames of
 * the n clips x (n, H, W). */
void ser_speaker_warp_stats(const float *x, size_t n, int H, int W, double *ref);

/* Clip i's unnormalised, unwarped features (H * W values) into out: from an array, or read from
 * the feature cache. 0, or -1 with err. */
typedef int (*ser_clip_features_fn)(void *ctx, size_t i, float *out, ser_error *err);

/* ser_speaker_warp_stats over clips read one at a time (the same sums in the same order). */
int ser_speaker_warp_stats_read(size_t n, int H, int W, ser_clip_features_fn read, void *ctx, double *ref,
                                ser_error *err);

/* Every clip's warp alpha[i] (its speaker's, closest to ref): the search of ser_speaker_warp_apply,
 * the unwarped features read through `read`. Memory: the largest speaker's clips (m, H * W). */
int ser_speaker_warp_choose(size_t n, const ser_clip *clips, const ser_config *cfg, const double *ref, int threads,
                            const char *what, ser_clip_features_fn read, void *ctx, double *alpha, ser_error *err);

/* For every speaker group of clips (x (n, H, W): their unnormalised, unwarped features, in the
 * same order): the alpha closest to ref, then its features recomputed with that warp into x.
 * alpha_out (n, may be NULL) gets each clip's alpha. Decodes the audio again (CPU, threads <= 0:
 * all cores). Prints one line per speaker to stderr when what is not NULL. */
int ser_speaker_warp_apply(float *x, size_t n, const ser_clip *clips, const ser_config *cfg, const double *ref,
                           int threads, const char *what, double *alpha_out, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
