/* Softmax + cross-entropy of one sample, shared by host/layers/softmax_xent.c and
 * kernels/softmax_xent.cu so that the CPU tests exercise the arithmetic the GPU runs:
 * log-sum-exp in double from the logits (what tf.keras computes for a softmax output layer). */
#ifndef SER_SOFTMAX_ELEM_H
#define SER_SOFTMAX_ELEM_H

#include <math.h>
#include <stdint.h>

#include "ser/hd.h"

/* p (C) = softmax(z (C)); returns the sample's cross-entropy against the target y, the one-hot
 * label smoothed as Keras's CategoricalCrossentropy(label_smoothing = ls) does it:
 * y = (1 - ls) onehot(label) + ls / C, so -sum_c y_c log p_c = lse(z) - sum_c y_c z_c
 * (ls = 0: -log p[label], computed exactly as before smoothing existed). NaN for a label outside
 * 0..C-1: pass -1 when there is none and ignore the result. */
static inline SER_HD double softmax_xent_row(float *p, const float *z, int C, int32_t label, float ls) {
    double zmax = z[0];
    for (int c = 1; c < C; c++)
        if (z[c] > zmax) zmax = z[c];
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += exp((double)z[c] - zmax);
    for (int c = 0; c < C; c++) p[c] = (float)(exp((double)z[c] - zmax) / sum);
    if (label < 0 || label >= C) return (double)NAN;
    double target = (double)z[label]; /* sum_c y_c z_c */
    if (ls > 0.0f) {
        double zsum = 0.0;
        for (int c = 0; c < C; c++) zsum += (double)z[c];
        target = (1.0 - (double)ls) * (double)z[label] + (double)ls / C * zsum;
    }
    return log(sum) + zmax - target;
}

/* The smoothed target y_c of class c for a sample of class label, in float as the gradient
 * p - y uses it (ls = 0: exactly 1 or 0). */
static inline SER_HD float softmax_xent_target(int c, int32_t label, float ls, int C) {
    return (c == label ? 1.0f - ls : 0.0f) + ls / (float)C;
}

#endif
