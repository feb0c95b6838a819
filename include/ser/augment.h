/* Training-time augmentation of the scaled features of one clip (train.aug_* keys), and mixup
 * of a batch (train.mixup), applied per batch on the host by the training loop. Every random draw is a Philox word keyed by
 * (seed, epoch, clip index in the training set), never a running generator, so a resumed run
 * draws exactly what an uninterrupted one would, whatever the batch or thread layout.
 *
 * Layout: one clip is (H = n_mfcc + f0_rows, W = frames) row-major. Order of the operations: gain on c0,
 * circular time shift, gaussian noise, then SpecAugment masks (set to 0, the scaled mean). */
#ifndef SER_AUGMENT_H
#define SER_AUGMENT_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/config.h"

/* 1 when any train.aug_* key is on. */
int ser_augment_enabled(const ser_train_config *tc);

/* Augments clip x (H, W) in place: clip = its index in the training set, epoch 0-based.
 * scratch: at least W floats (the shift's row buffer). */
void ser_augment_clip(float *x, int H, int W, const ser_train_config *tc, uint64_t seed, int epoch, uint32_t clip,
                      float *scratch);

/* Mixup (Zhang et al. 2018) of a training batch, train.mixup = alpha > 0, after the per-clip
 * augmentation: clip b becomes lam x_b + (1 - lam) x_j and its target lam onehot(y_b) + (1 - lam)
 * onehot(y_j), j a clip of the same batch (itself possible: no change), lam ~ Beta(alpha, alpha)
 * folded to [0.5, 1] (max(lam, 1 - lam)) so that each clip keeps its own label as the larger
 * part. Drawn per clip, keyed by (seed, epoch, clip index in the training set) as above. The
 * targets reach the loss as a ser_mix (ser/mix.h). */

/* The draws of one clip of a batch of B: its weight and the partner's position in the batch. */
void ser_mixup_draw(double alpha, uint64_t seed, int epoch, uint32_t clip, int B, float *lam, int *partner);

/* Mixes the batch x (B, F) in place (scratch: B * F floats, the unmixed copy) and fills the
 * targets labels2 / lam (B each) from the labels y; clips: each sample's training-set index. */
void ser_mixup_batch(float *x, float *scratch, const int32_t *y, const uint32_t *clips, int B, size_t F, double alpha,
                     uint64_t seed, int epoch, int32_t *labels2, float *lam);

#ifdef __cplusplus
}
#endif

#endif
