/* Softmax + cross-entropy of one sample, shared by host/layers/softmax_xent.c and
 * kernels/softmax_xent.cu so that the CPU tests exercise the arithmetic the GPU runs:
 * log-sum-exp in double from the logits (what tf.keras computes for a softmax output layer). */
#ifndef SER_SOFTMAX_ELEM_H
#define SER_SOFTMAX_ELEM_H

#include <math.h>
#include <stdint.h>

#include "ser/hd.h"

/* p (C) = softmax(z (C)); returns the sample's cross-entropy -log p[label] (NaN for a label
 * outside 0..C-1: pass -1 when there is none and ignore the result). */
static inline SER_HD double softmax_xent_row(float *p, const float *z, int C, int32_t label) {
    double zmax = z[0];
    for (int c = 1; c < C; c++)
        if (z[c] > zmax) zmax = z[c];
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += exp((double)z[c] - zmax);
    for (int c = 0; c < C; c++) p[c] = (float)(exp((double)z[c] - zmax) / sum);
    return label >= 0 && label < C ? log(sum) + zmax - (double)z[label] : (double)NAN;
}

#endif
