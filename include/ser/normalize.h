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

#ifdef __cplusplus
}
#endif

#endif
