/* VTLP augmentation's random draws (train.aug_vtlp, aug_vtlp_speakers). VTLP recomputes the
 * training features every epoch with each clip's mel filter bank frequency-warped by its own
 * factor alpha in [1 - a, 1 + a] (ser_mel_filters_warped), so the network sees the same
 * utterances from vocal tracts of different lengths (train.aug_vtlp_speakers > 0: one factor per
 * virtual speaker, a random part of a speaker's clips, so that the differences between one
 * speaker's clips, pitch and formant movements that carry emotion, are kept). The per-epoch
 * features are the waveform augmentation's (ser/wave_augment.h): warped MFCC of every clip, then
 * features.normalize over the epoch's set (per speaker: per virtual speaker, the warped
 * statistics), then the global scaler fitted on the unwarped training features.
 *
 * Every draw is a Philox word keyed by (seed, epoch, clip), never a running generator: a resumed
 * run computes exactly the features an uninterrupted one would, whatever the thread count. */
#ifndef SER_VTLP_DRAW_H
#define SER_VTLP_DRAW_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

/* The warp factor of clip `clip` in epoch `epoch` (0-based): 1 + a (2u - 1), u uniform in (0, 1)
 * from Philox counter (clip, epoch, 0x7f1, 0), key seed. */
double ser_vtlp_alpha(double a, uint64_t seed, int epoch, uint32_t clip);

/* train.aug_vtlp_speakers = K > 0: the virtual speaker (0..K-1) of clip `clip` in this epoch,
 * from Philox counter (clip, epoch, 0x7f2, 0); its warp is ser_vtlp_alpha(a, seed, epoch,
 * 0x80000000 + group), and the normalisation groups by (speaker, group). */
uint32_t ser_vtlp_group(int groups, uint64_t seed, int epoch, uint32_t clip);

#ifdef __cplusplus
}
#endif

#endif
