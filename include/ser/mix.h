/* The loss's targets for a batch: each sample's own label, or with mixup (train.mixup,
 * ser/augment.h draws it) a second label and the own label's weight. A loss input, so it belongs
 * to the model stage: the backends' forward passes take it, ser_mix_targets spells it out. */
#ifndef SER_MIX_H
#define SER_MIX_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

/* Mixed targets of a batch of B: the target of sample b is lam[b] onehot(labels[b]) +
 * (1 - lam[b]) onehot(labels2[b]) (ser_mixup_batch of ser/augment.h fills both). */
typedef struct ser_mix {
    const int32_t *labels2;     /* (B) the partners' class indices */
    const float *lam;           /* (B) the own label's weight, in [0.5, 1] (any [0, 1] is accepted) */
} ser_mix;

/* The targets every loss reads, mixed or not: labels2 / lam (B each) from mix, or for plain
 * labels (mix NULL) each sample's own label with weight 1. */
void ser_mix_targets(const int32_t *labels, const ser_mix *mix, int B, int32_t *labels2, float *lam);

#ifdef __cplusplus
}
#endif

#endif
