/* ReLU + MaxPool2D P x P, stride P, padding same (kernels.h; CPU: relu_forward + maxpool2d_forward,
 * or bn_relu_pool_forward with the BN already applied). Windows are layers/pool_window.h's, the
 * CPU's: TF's split of the padding, clipped to the image (padding never wins). Ties keep the first
 * element in window scan order (y, then x): the first element always enters, a later one only if
 * strictly greater. */
#include "kernels.h"
#include "launch.cuh"
#include "layers/pool_window.h"

static inline int pool_out(int H, int P) { return (H + P - 1) / P; }

/* One thread per pooled element (b, oy, ox, c), c fastest: a warp reads consecutive channels. */
static __global__ void k_relu_pool_fwd(float *pool, int32_t *argmax, const float *y, int H, int W, int C, int P,
                                       int Ho, int Wo, int py, int px, size_t n) {
    SER_GRID_LOOP(o, n) {
        const int c = (int)(o % (size_t)C);
        size_t r = o / (size_t)C;
        const int ox = (int)(r % (size_t)Wo);
        r /= (size_t)Wo;
        const int oy = (int)(r % (size_t)Ho);
        const size_t b = r / (size_t)Ho;
        int y0, y1, x0, x1;
        pool_window(oy, P, py, H, &y0, &y1);
        pool_window(ox, P, px, W, &x0, &x1);
        float best = 0.0f;
        int32_t at = -1;
        for (int yy = y0; yy < y1; yy++)
            for (int xx = x0; xx < x1; xx++) {
                const size_t i = ((b * H + yy) * W + xx) * C + c;
                float v = y[i];
                v = v > 0.0f ? v : 0.0f; /* relu_forward's expression (NaN -> 0) */
                if (at < 0 || v > best) {
                    best = v;
                    at = (int32_t)i;
                }
            }
        pool[o] = best;
        argmax[o] = at;
    }
}

/* One thread per input element: it lies in exactly one window, so dy is written once, with
 * dpool where it is the window's argmax and the max passed the ReLU (pool > 0), else 0. */
static __global__ void k_relu_pool_bwd(float *dy, const float *dpool, const float *pool, const int32_t *argmax, int H,
                                       int W, int C, int P, int Ho, int Wo, int py, int px, size_t n) {
    SER_GRID_LOOP(i, n) {
        const int c = (int)(i % (size_t)C);
        size_t r = i / (size_t)C;
        const int x = (int)(r % (size_t)W);
        r /= (size_t)W;
        const int y = (int)(r % (size_t)H);
        const size_t b = r / (size_t)H;
        const int oy = (y + py) / P, ox = (x + px) / P;
        const size_t o = ((b * Ho + oy) * Wo + ox) * C + c;
        dy[i] = argmax[o] == (int32_t)i && pool[o] > 0.0f ? dpool[o] : 0.0f;
    }
}

/* argmax is int32: the image tensor must have at most INT32_MAX elements (as on the CPU). */
static int relu_pool_shape_ok(int B, int H, int W, int C, int P) {
    return B >= 0 && H >= 1 && W >= 1 && C >= 1 && P >= 1 && (long long)B * H * W * C <= INT32_MAX;
}

extern "C" cudaError_t ser_k_relu_pool_fwd(float *pool, int32_t *argmax, const float *y, int B, int H, int W, int C,
                                           int P, cudaStream_t s) {
    if (!relu_pool_shape_ok(B, H, W, C, P)) return cudaErrorInvalidValue;
    const int Ho = pool_out(H, P), Wo = pool_out(W, P);
    const size_t n = (size_t)B * Ho * Wo * C;
    k_relu_pool_fwd<<<ser_grid(n), SER_BLOCK, 0, s>>>(pool, argmax, y, H, W, C, P, Ho, Wo, pool_pad_before(H, P),
                                                      pool_pad_before(W, P), n);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_relu_pool_bwd(float *dy, const float *dpool, const float *pool, const int32_t *argmax,
                                           int B, int H, int W, int C, int P, cudaStream_t s) {
    if (!relu_pool_shape_ok(B, H, W, C, P)) return cudaErrorInvalidValue;
    const int Ho = pool_out(H, P), Wo = pool_out(W, P);
    const size_t n = (size_t)B * H * W * C;
    k_relu_pool_bwd<<<ser_grid(n), SER_BLOCK, 0, s>>>(dy, dpool, pool, argmax, H, W, C, P, Ho, Wo,
                                                      pool_pad_before(H, P), pool_pad_before(W, P), n);
    return cudaGetLastError();
}
