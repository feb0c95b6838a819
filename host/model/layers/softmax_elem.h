/* Softmax + cross-entropy of one sample, shared by host/model/layers/softmax_xent.c and
 * kernels/softmax_xent.cu so that the CPU tests exercise the arithmetic the GPU runs:
 * log-sum-exp in double from the logits (what tf.keras computes for a softmax output layer).
 * Every product that meets a sum is spelled with SER_FMUL / SER_FADD (SER_D* in double,
 * ser/hd.h): nvcc would contract it into one FMA, the host does not, and the two sides would
 * round differently (tests/test_hd_rounding.c). */
#ifndef SER_SOFTMAX_ELEM_H
#define SER_SOFTMAX_ELEM_H

#include <math.h>
#include <stdint.h>

#include "ser/hd.h"

/* The target of a sample: lam of class `label` and 1 - lam of class `label2` (mixup; a plain
 * sample has label2 = label, lam = 1), smoothed as Keras's CategoricalCrossentropy(label_smoothing
 * = ls) smooths a one-hot: y = (1 - ls) (lam onehot(label) + (1 - lam) onehot(label2)) + ls / C. */

/* p (C) = softmax(z (C)); returns the sample's cross-entropy against y:
 * -sum_c y_c log p_c = lse(z) - sum_c y_c z_c (a plain sample with ls = 0: -log p[label], the
 * same bits as before smoothing and mixup existed). NaN for a label outside 0..C-1: pass -1 when
 * there is none and ignore the result. */
static inline SER_HD double softmax_xent_row(float *p, const float *z, int C, int32_t label, int32_t label2, float lam,
                                             float ls) {
    double zmax = z[0];
    for (int c = 1; c < C; c++)
        if (z[c] > zmax) zmax = z[c];
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += exp((double)z[c] - zmax);
    for (int c = 0; c < C; c++) p[c] = (float)(exp((double)z[c] - zmax) / sum);
    if (label < 0 || label >= C || label2 < 0 || label2 >= C) return (double)NAN;
    /* sum_c y_c z_c; lam = 1: exactly z[label] */
    double target = SER_DADD(SER_DMUL((double)lam, (double)z[label]), SER_DMUL(1.0 - (double)lam, (double)z[label2]));
    if (ls > 0.0f) {
        double zsum = 0.0;
        for (int c = 0; c < C; c++) zsum += (double)z[c];
        target = SER_DADD(SER_DMUL(1.0 - (double)ls, target), SER_DMUL((double)ls / C, zsum));
    }
    return log(sum) + zmax - target;
}

/* y_c in float, as the gradient p - y uses it (a plain sample with ls = 0: exactly 1 or 0). */
static inline SER_HD float softmax_xent_target(int c, int32_t label, int32_t label2, float lam, float ls, int C) {
    const float t = SER_FADD(SER_FMUL(lam, c == label ? 1.0f : 0.0f), SER_FMUL(1.0f - lam, c == label2 ? 1.0f : 0.0f));
    return SER_FADD(SER_FMUL(1.0f - ls, t), ls / (float)C);
}

#endif
