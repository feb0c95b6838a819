/* MaxPool2D, size P, stride P, padding same: Ho = ceil(H / P), Wo = ceil(W / P). TF pads
 * pad_total = Ho * P - H rows, pad_total / 2 before and the rest after; for P = 2 that is 0 before,
 * so for H = 65 windows start at 0, 2, ..., 64 and the last one covers row 64 only. Padding never
 * wins the max (TF pads with -inf): windows are clipped to the image.
 *
 * Windows do not overlap, so backward is a scatter without conflicts. argmax holds the flat index
 * into in (B,H,W,C); ties keep the first element in row-major window order, as TF's MaxPool. */
#include <float.h>

#include "layers/layers.h"
#include "layers/pool_window.h"
#include "ser/error.h"

void maxpool2d_forward(float *out, int32_t *argmax, const float *in, int B, int H, int W, int C, int P) {
    SER_ASSERT(P >= 1 && (int64_t)B * H * W * C <= INT32_MAX);
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P;
    const int py = pool_pad_before(H, P), px = pool_pad_before(W, P);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int oy = 0; oy < Ho; oy++) {
            int y0, y1;
            pool_window(oy, P, py, H, &y0, &y1);
            for (int ox = 0; ox < Wo; ox++) {
                int x0, x1;
                pool_window(ox, P, px, W, &x0, &x1);
                size_t o = (((size_t)b * Ho + oy) * Wo + ox) * C;
                for (int c = 0; c < C; c++) {
                    out[o + c] = -FLT_MAX;
                    argmax[o + c] = -1;
                }
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        size_t i = (((size_t)b * H + y) * W + x) * C;
                        for (int c = 0; c < C; c++) {
                            /* the first element always enters, even when it is -inf */
                            if (in[i + c] > out[o + c] || argmax[o + c] < 0) {
                                out[o + c] = in[i + c];
                                argmax[o + c] = (int32_t)(i + c);
                            }
                        }
                    }
            }
        }
    }
}

/* Every input element lies in exactly one window: walk the windows and write each element once,
 * dout where it was the window's argmax and 0 elsewhere (no separate zeroing pass). */
void maxpool2d_backward(float *din, const float *dout, const int32_t *argmax, int B, int H, int W, int C, int P) {
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P;
    const int py = pool_pad_before(H, P), px = pool_pad_before(W, P);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int oy = 0; oy < Ho; oy++) {
            int y0, y1;
            pool_window(oy, P, py, H, &y0, &y1);
            for (int ox = 0; ox < Wo; ox++) {
                int x0, x1;
                pool_window(ox, P, px, W, &x0, &x1);
                const size_t o = (((size_t)b * Ho + oy) * Wo + ox) * C;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        const size_t i = (((size_t)b * H + y) * W + x) * C;
#pragma omp simd
                        for (int c = 0; c < C; c++)
                            din[i + c] = argmax[o + c] == (int32_t)(i + c) ? dout[o + c] : 0.0f;
                    }
            }
        }
    }
}
