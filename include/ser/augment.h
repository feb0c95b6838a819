/* Training-time augmentation of the scaled features of one clip (train.aug_* keys), applied per
 * batch on the host by the training loop. Every random draw is a Philox word keyed by
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

#ifdef __cplusplus
}
#endif

#endif
