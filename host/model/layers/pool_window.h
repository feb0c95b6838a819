/* The windows of MaxPool2D with size P, stride P and TF's "same" padding along one axis of n:
 * n_out = ceil(n / P) windows; TF pads pad_total = n_out * P - n, pad_total / 2 before (0 for
 * P = 2) and the rest after, and padding never wins the max, so a window is clipped to the
 * image. Shared by the CPU layers (maxpool2d.c, bn_relu_pool.c) and the CUDA pooling kernel. */
#ifndef SER_POOL_WINDOW_H
#define SER_POOL_WINDOW_H

#include "ser/hd.h"

/* Rows of padding before the first window. */
static inline SER_HD int pool_pad_before(int n, int P) { return (((n + P - 1) / P) * P - n) / 2; }

/* [*lo, *hi): the image rows of output window o. */
static inline SER_HD void pool_window(int o, int P, int pad, int n, int *lo, int *hi) {
    const int a = o * P - pad, b = a + P;
    *lo = a < 0 ? 0 : a;
    *hi = b > n ? n : b;
}

#endif
