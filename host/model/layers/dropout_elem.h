/* Dropout's per-element decision, shared by host/model/layers/dropout.c and kernels/dropout.cu so that
 * the CPU tests exercise the arithmetic the GPU runs: the stream of ser/philox.h (key from the
 * seed, counter (e / 4, layer, step), word e % 4), TF's keep rule uniform >= rate and Keras's
 * inverted scaling out = in * scale where kept. */
#ifndef SER_DROPOUT_ELEM_H
#define SER_DROPOUT_ELEM_H

#include <stdint.h>

#include "ser/hd.h"
#include "ser/philox.h"

/* TF builds the scale in double from the Python float rate and casts it to float32. */
static inline SER_HD float dropout_scale(float rate) { return (float)(1.0 / (1.0 - (double)rate)); }

static inline SER_HD philox4x32_key dropout_key(uint64_t seed) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    return k;
}

/* The counter of Philox block `group` (elements 4 group .. 4 group + 3). */
static inline SER_HD philox4x32_ctr dropout_ctr(uint32_t group, uint32_t layer, uint64_t step) {
    philox4x32_ctr c = {{group, layer, (uint32_t)step, (uint32_t)(step >> 32)}};
    return c;
}

/* Kept (1) or dropped (0) for the element whose Philox word is w. */
static inline SER_HD int dropout_keep(uint32_t w, float rate) { return philox_uniform24(w) >= rate; }

/* The output of one element: in * scale if kept, else 0. */
static inline SER_HD float dropout_apply(float in, int keep, float scale) { return keep ? in * scale : 0.0f; }

#endif
