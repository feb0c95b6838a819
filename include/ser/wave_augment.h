/* Waveform augmentation: the training features recomputed every epoch from the clips' audio,
 * each clip changed in the time domain first (train.aug_speed, aug_wave_shift, aug_wave_gain,
 * aug_noise_*), then, when train.aug_vtlp > 0, MFCC'd through its VTLP-warped mel bank
 * (ser/vtlp_draw.h); then features.normalize over the epoch's set and the global scaler fitted on the
 * unaugmented training features. Per clip, in this order:
 *   speed  resample by libsoxr (HQ) so that the clip plays `factor` times faster: n / factor
 *          samples, every frequency times factor (factor 1 - s, 1 or 1 + s, s = aug_speed);
 *   shift  y[t] = x[t + d], zeros outside, d uniform in +-aug_wave_shift seconds (a crop at one
 *          end, silence at the other);
 *   gain   times 10^(g / 20), g uniform in +-aug_wave_gain dB;
 *   noise  with probability aug_noise_prob, white, pink or a segment of a noise file (a folder
 *          of .wav files, as MUSAN's) scaled to an SNR uniform in [aug_noise_snr_min, max] dB
 *          over the clip's power.
 * Every draw is a Philox word keyed by (seed, epoch, clip), never a running generator: a resumed
 * run computes exactly the features an uninterrupted one would, whatever the thread count.
 *
 * Memory: the decoded samples of clips are kept (float, bit-identical to a fresh decode) while
 * they fit in train.audio_cache_mb; the others are decoded again every epoch. Noise files are
 * decoded once and kept as int16 (a peak scale per file). The epoch's features go to a spill
 * (ser/epoch_spill.h): an unlinked temporary file in the folder given to ser_wave_aug_spill_to
 * (memory independent of the number of clips), else an (n, F) array in memory; the training
 * loop reads them by batch (ser_wave_aug_begin, ser_wave_aug_fill). With prefetch, epoch e + 1
 * is computed on a background thread while epoch e trains, into a second spill.
 *
 * Files: the per-clip signal processing is ser/wave_dsp.h (wave_dsp.c), the noise folder's list
 * ser/noise_files.h (noise_files.c), the decode -> MFCC (+ pitch rows) loop ser/feature_loop.h;
 * wave_augment.c is the per-epoch engine (audio cache, noise bank, virtual speakers, spills,
 * prefetch). */
#ifndef SER_WAVE_AUGMENT_H
#define SER_WAVE_AUGMENT_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/error.h"
#include "ser/noise_files.h"
#include "ser/scaler.h"
#include "ser/wave_dsp.h"

/* 1 when a waveform augmentation key of tc is on (speed, shift, gain, noise): each training
 * clip's audio is changed every epoch before its features are computed. */
int ser_wave_aug_changes_audio(const ser_train_config *tc);
/* 1 when the training features are recomputed every epoch (ser_wave_aug_begin): waveform
 * augmentation, or VTLP (train.aug_vtlp > 0: the same audio through a warped mel bank). */
int ser_wave_aug_recomputes_features(const ser_train_config *tc);

typedef struct ser_wave_aug ser_wave_aug;

/* For the n training clips (they must outlive w: their speakers group the normalisation);
 * noise: the noise files (aug_noise_kind = folder; decoded now, failing naming a file that does
 * not decode or holds only silence); threads <= 0: all cores; prefetch: compute epoch e + 1 in
 * the background after epoch e's call (epochs: the last epoch + 1 that is ever asked for). */
ser_wave_aug *ser_wave_aug_create(const ser_config *cfg, const ser_clips *clips, const char *const *noise,
                                  size_t n_noise, int threads, int prefetch, ser_error *err);
void ser_wave_aug_free(ser_wave_aug *w);

/* Where the epochs' features go: unlinked temporary files in the folder dir (the feature
 * cache's, for ser train), or memory when dir is NULL (the default). Before the first epoch. */
int ser_wave_aug_spill_to(ser_wave_aug *w, const char *dir, ser_error *err);

/* Makes this epoch's features (every clip's, normalised and scaled by scaler) readable by
 * ser_wave_aug_fill: the prefetched ones when they are this epoch's, else computed now. With
 * prefetch on, then starts epoch + 1 (when below train.epochs). The same bits with or without
 * prefetch, in memory or spilled. A failure (a clip, the spill file) names what failed. */
int ser_wave_aug_begin(ser_wave_aug *w, uint64_t seed, int epoch, const ser_scaler *scaler, ser_error *err);
/* Clips idx[0..B) of the epoch of the last successful begin into out (B, n_mfcc * frames);
 * the thread that calls begin. */
int ser_wave_aug_fill(ser_wave_aug *w, const uint32_t *idx, int B, float *out, ser_error *err);

/* begin, then every clip in order into x (n, n_mfcc * frames). */
int ser_wave_aug_epoch(ser_wave_aug *w, uint64_t seed, int epoch, const ser_scaler *scaler, float *x, ser_error *err);

/* Bytes of decoded audio the cache holds now (for tests and the bench). */
size_t ser_wave_aug_cached_bytes(const ser_wave_aug *w);

#ifdef __cplusplus
}
#endif

#endif
