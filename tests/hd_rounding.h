/* tests/test_hd_rounding.c <-> tests/hd_rounding_device.c: the shared headers' functions as the
 * device side compiles them. */
#ifndef SER_TESTS_HD_ROUNDING_H
#define SER_TESTS_HD_ROUNDING_H

#include <stdint.h>

float dev_softmax_target(int c, int32_t label, int32_t label2, float lam, float ls, int C);
double dev_softmax_row(float *p, const float *z, int C, int32_t label, int32_t label2, float lam, float ls);
void dev_adam(float *p, float *m, float *v, float g, float alpha, float one_b1, float one_b2, float eps);
float dev_dropout(float in, int keep, float scale);
float dev_bare_target(float t, float ls, int C);

#endif
