/* VTLP augmentation (train.aug_vtlp): the training features recomputed every epoch with each
 * clip's mel filter bank frequency-warped by its own factor alpha in [1 - a, 1 + a]
 * (ser_mel_filters_warped), so the network sees the same utterances from vocal tracts of
 * different lengths (train.aug_vtlp_speakers > 0: one factor per virtual speaker, a random
 * part of a speaker's clips, so that the differences between one speaker's clips, pitch
 * and formant movements that carry emotion, are kept). The audio is decoded per epoch or kept
 * (train.audio_cache_mb, ser/wave_augment.h); per epoch: warped MFCC of every clip,
 * then features.normalize over the epoch's set (per speaker: the warped statistics), then the
 * global scaler fitted on the unwarped training features.
 *
 * alpha is a Philox word keyed by (seed, epoch, clip), never a running generator: a resumed run
 * computes exactly the features an uninterrupted one would, whatever the thread count. */
#ifndef SER_VTLP_H
#define SER_VTLP_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/error.h"
#include "ser/scaler.h"

typedef struct ser_vtlp ser_vtlp;

/* Decodes the n clips (threads <= 0: all cores) and keeps their samples (clips must outlive v:
 * their speakers group the normalisation). Fails naming a clip that does not decode. */
ser_vtlp *ser_vtlp_create(const ser_config *cfg, const ser_clips *clips, int threads, ser_error *err);
void ser_vtlp_free(ser_vtlp *v);

/* The warp factor of clip `clip` in epoch `epoch` (0-based): 1 + a (2u - 1), u uniform in (0, 1)
 * from Philox counter (clip, epoch, 0x7f1, 0), key seed. */
double ser_vtlp_alpha(double a, uint64_t seed, int epoch, uint32_t clip);

/* train.aug_vtlp_speakers = K > 0: the virtual speaker (0..K-1) of clip `clip` in this epoch,
 * from Philox counter (clip, epoch, 0x7f2, 0); its warp is ser_vtlp_alpha(a, seed, epoch,
 * 0x80000000 + group), and the normalisation groups by (speaker, group). */
uint32_t ser_vtlp_group(int groups, uint64_t seed, int epoch, uint32_t clip);

/* The features of every clip for this epoch into x (n, n_mfcc * frames), scaled by scaler. */
int ser_vtlp_epoch(ser_vtlp *v, uint64_t seed, int epoch, const ser_scaler *scaler, float *x, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
