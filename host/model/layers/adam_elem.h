/* Adam's per-element update, shared by host/model/layers/adam.c and kernels/adam.cu so that the CPU
 * tests exercise the arithmetic the GPU runs: Keras 3's float32 order (keras/src/optimizers/adam.py)
 *   m += (g - m) one_b1;  v += (g^2 - v) one_b2;  p -= (m alpha) / (sqrt(v) + eps)
 * with one_b = keras_one_minus(beta) and alpha = adam_alpha(...). Products and sums go through
 * SER_FMUL/SER_FADD (ser/hd.h) so that nvcc does not fuse them: the same bits on both sides
 * (sqrtf and / are correctly rounded on both: nvcc's default -prec-sqrt/-prec-div). */
#ifndef SER_ADAM_ELEM_H
#define SER_ADAM_ELEM_H

#include <math.h>

#include "ser/hd.h"

/* The step size with the bias correction folded in, in float32 as Keras 3 computes it
 * (t >= 1 counts updates). Host only: the CUDA backend computes it here and uploads it
 * (kernels.h's ser_step_scalars.adam_alpha), so powf's rounding is the host's on both sides. */
static inline float adam_alpha(float lr, float beta1, float beta2, int t) {
    const float b1p = powf(beta1, (float)t), b2p = powf(beta2, (float)t);
    return lr * sqrtf(1.0f - b2p) / (1.0f - b1p);
}

/* One element: updates *p, *m, *v from the gradient g. */
static inline SER_HD void adam_elem(float *p, float *m, float *v, float g, float alpha, float one_b1, float one_b2,
                                    float eps) {
    const float mi = SER_FADD(*m, SER_FMUL(SER_FSUB(g, *m), one_b1));
    const float vi = SER_FADD(*v, SER_FMUL(SER_FSUB(SER_FMUL(g, g), *v), one_b2));
    *m = mi;
    *v = vi;
    *p = SER_FSUB(*p, SER_FMUL(mi, alpha) / (sqrtf(vi) + eps));
}

#endif
