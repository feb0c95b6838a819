/* The loss's targets, mixed or not (ser/mix.h). */
#include "ser/mix.h"

void ser_mix_targets(const int32_t *labels, const ser_mix *mix, int B, int32_t *labels2, float *lam) {
    for (int b = 0; b < B; b++) {
        labels2[b] = mix ? mix->labels2[b] : labels[b];
        lam[b] = mix ? mix->lam[b] : 1.0f;
    }
}
