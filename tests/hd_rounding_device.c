/* The "device side" of tests/test_hd_rounding.c: the headers whose arithmetic the CPU layers and
 * the CUDA kernels share (SER_HD, ser/hd.h), compiled the way nvcc compiles device code: with
 * __CUDA_ARCH__ defined (so SER_FMUL / SER_FADD / ... are the _rn intrinsics) and with
 * floating-point contraction ON (CMakeLists.txt: -ffp-contract=fast -mfma), which fuses every
 * a * b + c the source leaves bare, as nvcc's default --fmad=true does. The _rn intrinsics are
 * functions the compiler cannot see into (noipa), so, like nvcc's, they are never fused. */
#define __CUDA_ARCH__ 800 /* what nvcc defines in device code; only ser/hd.h looks at it here */

#define RN __attribute__((noipa, unused)) static
RN float __fmul_rn(float a, float b) { return a * b; }
RN float __fadd_rn(float a, float b) { return a + b; }
RN float __fsub_rn(float a, float b) { return a - b; }
RN double __dmul_rn(double a, double b) { return a * b; }
RN double __dadd_rn(double a, double b) { return a + b; }
RN double __dsub_rn(double a, double b) { return a - b; }

#include "hd_rounding.h"
#include "layers/adam_elem.h"
#include "layers/dropout_elem.h"
#include "layers/softmax_elem.h"

float dev_softmax_target(int c, int32_t label, int32_t label2, float lam, float ls, int C) {
    return softmax_xent_target(c, label, label2, lam, ls, C);
}
double dev_softmax_row(float *p, const float *z, int C, int32_t label, int32_t label2, float lam, float ls) {
    return softmax_xent_row(p, z, C, label, label2, lam, ls);
}
void dev_adam(float *p, float *m, float *v, float g, float alpha, float one_b1, float one_b2, float eps) {
    adam_elem(p, m, v, g, alpha, one_b1, one_b2, eps);
}
float dev_dropout(float in, int keep, float scale) { return dropout_apply(in, keep, scale); }

/* The label-smoothing target as it was written before it used SER_FMUL / SER_FADD: the test
 * shows it would have caught that (this TU contracts it, the host build does not). */
float dev_bare_target(float t, float ls, int C) { return (1.0f - ls) * t + ls / (float)C; }
