/* BatchNorm apply + ReLU + MaxPool2D fused, forward and backward (contract in layers.h).
 *
 * Why: unfused, block 1's (64,40,130,64) tensor (85 MB) is written by BN, read and rewritten by
 * ReLU, read by the pool; backward writes it in the pool scatter, rewrites it in the ReLU mask and
 * reads it twice in BN. Fused, forward reads the BN input once (after the statistics pass) and
 * writes only pooled tensors; backward reads the BN input once and writes din once, and takes
 * the dropout after the pool too (its mask), so the pooled gradient is read once.
 *
 * Numerics match the unfused layers: the same float expressions (x * scale + shift, the ReLU
 * select, the first-max tie rule, k (g - a - (x - mean) bb)). The backward BN sums add the same
 * non-zero terms in double (zeros add nothing) but in window order and pooled-row groups, so they
 * may differ from batchnorm_backward's in the last double bits. Windows: TF "same" padding as
 * maxpool2d.c (clipped to the image, padding never wins).
 *
 * The work is done per pooled row (bn_relu_pool_rows.h), so that the fused first block can run
 * the same code on rows it recomputes. */
#include <float.h>
#include <string.h>

#include "layers/bn_relu_pool_rows.h"
#include "layers/layers.h"
#include "layers/pool_window.h"
#include "layers/v16.h"
#include "ser/error.h"

#define BRP_GROUPS 16   /* fixed groups of pooled rows for the BN sums: thread-count independent */

/* brp_forward_row for C a multiple of 16: per window and 16 channels the running max, its index
 * and its BN input in registers (the generic loop below updates them in memory once per window
 * element). The same float expressions and first-max rule, lane by lane. */
static void brp_forward_row16(float *out, int32_t *argmax, float *xsel, const float *rows, size_t base,
                              const float *scale, const float *shift, int nrows, int W, int C, int P) {
    const int Wo = (W + P - 1) / P, px = pool_pad_before(W, P);
    const v16i iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int ox = 0; ox < Wo; ox++) {
        int x0, x1;
        pool_window(ox, P, px, W, &x0, &x1);
        for (int c0 = 0; c0 < C; c0 += 16) {
            const v16 sc = V16(scale + c0), sh = V16(shift + c0);
            v16 mo = {0}, xs = {0};
            v16i am = {0};
            for (int y = 0; y < nrows; y++)
                for (int x = x0; x < x1; x++) {
                    const size_t r = ((size_t)y * W + x) * C + c0;
                    const v16 xi = V16(rows + r);
                    v16 v = xi * sc + sh;
                    v = V16_SELECT(v > 0.0f, v, (v16){0});
                    const v16i idx = (v16i){0} + (int32_t)(base + r) + iota;
                    if (y == 0 && x == x0) { /* the first element always enters */
                        mo = v, am = idx, xs = xi;
                        continue;
                    }
                    const v16i win = v > mo;
                    mo = V16_SELECT(win, v, mo);
                    am = V16I_SELECT(win, idx, am);
                    xs = V16_SELECT(win, xi, xs);
                }
            const size_t o = (size_t)ox * C + c0;
            memcpy(out + o, &mo, sizeof mo);
            memcpy(argmax + o, &am, sizeof am);
            memcpy(xsel + o, &xs, sizeof xs);
        }
    }
}

void brp_forward_row(float *out, int32_t *argmax, float *xsel, const float *rows, size_t base, const float *scale,
                     const float *shift, int nrows, int W, int C, int P) {
    if (C % 16 == 0) {
        brp_forward_row16(out, argmax, xsel, rows, base, scale, shift, nrows, W, C, P);
        return;
    }
    const int Wo = (W + P - 1) / P, px = pool_pad_before(W, P);
    for (int ox = 0; ox < Wo; ox++) {
        int x0, x1;
        pool_window(ox, P, px, W, &x0, &x1);
        float *mo = out + (size_t)ox * C, *xs = xsel + (size_t)ox * C;
        int32_t *am = argmax + (size_t)ox * C;
        for (int y = 0; y < nrows; y++)
            for (int x = x0; x < x1; x++) {
                const size_t r = ((size_t)y * W + x) * C, i = base + r;
                const float *xi = rows + r;
                if (y == 0 && x == x0) { /* the first element always enters */
#pragma omp simd
                    for (int c = 0; c < C; c++) {
                        float v = xi[c] * scale[c] + shift[c];
                        v = v > 0.0f ? v : 0.0f;
                        mo[c] = v;
                        am[c] = (int32_t)(i + c);
                        xs[c] = xi[c];
                    }
                    continue;
                }
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    float v = xi[c] * scale[c] + shift[c];
                    v = v > 0.0f ? v : 0.0f;
                    const int win = v > mo[c];
                    mo[c] = win ? v : mo[c];
                    am[c] = win ? (int32_t)(i + c) : am[c];
                    xs[c] = win ? xi[c] : xs[c];
                }
            }
    }
}

/* drop == NULL: no dropout. Otherwise each pooled row (b, oy) gets its dropout right after it is
 * written, when its start is a whole Philox block (else one dropout_forward pass at the end). */
static void brp_forward(float *drop, uint8_t *mask, float *out, int32_t *argmax, float *xsel, const float *in,
                        const float *scale, const float *shift, int B, int H, int W, int C, int P, float rate,
                        uint64_t seed, uint64_t step, uint32_t layer) {
    SER_ASSERT(P >= 1 && C >= 1 && (int64_t)B * H * W * C <= INT32_MAX);
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P;
    const int py = pool_pad_before(H, P);
    const int rowwise = ((size_t)Wo * C) % 64 == 0; /* pooled rows start on Philox blocks of 64 elements */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int oy = 0; oy < Ho; oy++) {
            int y0, y1;
            pool_window(oy, P, py, H, &y0, &y1);
            const size_t o = ((size_t)b * Ho + oy) * Wo * C, base = ((size_t)b * H + y0) * W * C;
            brp_forward_row(out + o, argmax + o, xsel + o, in + base, base, scale, shift, y1 - y0, W, C, P);
            if (drop && rowwise) dropout_forward_span(drop, mask, out, o, o + (size_t)Wo * C, rate, seed, step, layer);
        }
    if (drop && !rowwise) dropout_forward(drop, mask, out, (size_t)B * Ho * Wo * C, rate, seed, step, layer);
}

void bn_relu_pool_forward(float *out, int32_t *argmax, float *xsel, const float *in, const float *scale,
                          const float *shift, int B, int H, int W, int C, int P) {
    brp_forward(NULL, NULL, out, argmax, xsel, in, scale, shift, B, H, W, C, P, 0.0f, 0, 0, 0);
}

void bn_relu_pool_dropout_forward(float *drop, uint8_t *mask, float *out, int32_t *argmax, float *xsel,
                                  const float *in, const float *scale, const float *shift, int B, int H, int W,
                                  int C, int P, float rate, uint64_t seed, uint64_t step, uint32_t layer) {
    SER_ASSERT(drop && mask && rate > 0.0f && rate < 1.0f);
    brp_forward(drop, mask, out, argmax, xsel, in, scale, shift, B, H, W, C, P, rate, seed, step, layer);
}

/* The gradient reaching the max of each channel of one pooled position: dout through the
 * dropout (mask) and the ReLU (out > 0), 0 where either blocked it. */
void brp_pooled_grad(float *gp, const float *g, const uint8_t *mk, float dscale, const float *y, int C) {
    if (mk) {
#pragma omp simd
        for (int c = 0; c < C; c++) gp[c] = mk[c] ? g[c] * dscale : 0.0f;
    } else {
        memcpy(gp, g, (size_t)C * sizeof *gp);
    }
#pragma omp simd
    for (int c = 0; c < C; c++) gp[c] = y[c] > 0.0f ? gp[c] : 0.0f;
}

void brp_backward_coeffs(float *k, float *a, float *bb, float *dgamma, float *dbeta, const float *dout,
                         const uint8_t *mask, float dscale, const float *out, const float *xsel, const float *mean,
                         const float *rstd, const float *gamma, int No, int N, int C) {
    const int G = No < BRP_GROUPS ? No : BRP_GROUPS;
    /* BN sums over the gradient reaching the BN output: dout at the argmax where relu passed */
    double part[G][2][C]; /* per group: sum g, sum g (x - mean) */
#pragma omp parallel for schedule(static)
    for (int gi = 0; gi < G; gi++) {
        double *sd = part[gi][0], *sdx = part[gi][1];
        for (int c = 0; c < C; c++) sd[c] = sdx[c] = 0.0;
        const size_t r0 = (size_t)((long long)No * gi / G), r1 = (size_t)((long long)No * (gi + 1) / G);
        for (size_t r = r0; r < r1; r++) {
            const float *x = xsel + r * C;
            float gp[C];
            brp_pooled_grad(gp, dout + r * C, mask ? mask + r * C : NULL, dscale, out + r * C, C);
#pragma omp simd
            for (int c = 0; c < C; c++) {
                sd[c] += gp[c];
                sdx[c] += (double)gp[c] * ((double)x[c] - (double)mean[c]);
            }
        }
    }
    double sd[C], sdx[C];
    for (int c = 0; c < C; c++) {
        sd[c] = sdx[c] = 0.0;
        for (int gi = 0; gi < G; gi++) sd[c] += part[gi][0][c], sdx[c] += part[gi][1][c];
    }
    brp_coeffs_finish(k, a, bb, dgamma, dbeta, sd, sdx, rstd, gamma, N, C);
}

void brp_coeffs_finish(float *k, float *a, float *bb, float *dgamma, float *dbeta, const double *sum_g,
                       const double *sum_gx, const float *rstd, const float *gamma, int N, int C) {
    for (int c = 0; c < C; c++) {
        const double sd = sum_g[c], sdx = sum_gx[c] * rstd[c];
        dbeta[c] += (float)sd;
        dgamma[c] += (float)sdx;
        k[c] = gamma[c] * rstd[c];
        a[c] = (float)(sd / N);
        bb[c] = (float)(sdx / N * rstd[c]);
    }
}

/* The image rows of one pooled row from its pooled gradient: route_only, the gradient reaching
 * each BN output (the pooled one at the window's argmax, else 0); otherwise BN's input gradient
 * k (g - a - (x - mean) bb) of it. Inlined into both with route_only a constant. */
static inline __attribute__((always_inline)) void brp_rows_grad(float *drows, const float *rows, size_t base,
                                                                const float *dout, const uint8_t *mask, float dscale,
                                                                const float *out, const int32_t *argmax,
                                                                const float *k, const float *a, const float *bb,
                                                                const float *mean, int nrows, int W, int C, int P,
                                                                const int route_only) {
    const int Wo = (W + P - 1) / P, px = pool_pad_before(W, P);
    for (int ox = 0; ox < Wo; ox++) {
        int x0, x1;
        pool_window(ox, P, px, W, &x0, &x1);
        const size_t o = (size_t)ox * C;
        const int32_t *am = argmax + o;
        float gp[C];
        brp_pooled_grad(gp, dout + o, mask ? mask + o : NULL, dscale, out + o, C);
        for (int y = 0; y < nrows; y++)
            for (int x = x0; x < x1; x++) {
                const size_t r = ((size_t)y * W + x) * C, i = base + r;
                float *dx = drows + r;
                if (route_only) {
#pragma omp simd
                    for (int c = 0; c < C; c++) dx[c] = am[c] == (int32_t)(i + c) ? gp[c] : 0.0f;
                    continue;
                }
                const float *xi = rows + r;
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    const float g = am[c] == (int32_t)(i + c) ? gp[c] : 0.0f;
                    dx[c] = k[c] * (g - a[c] - (xi[c] - mean[c]) * bb[c]);
                }
            }
    }
}

void brp_backward_row(float *drows, const float *rows, size_t base, const float *dout, const uint8_t *mask,
                      float dscale, const float *out, const int32_t *argmax, const float *k, const float *a,
                      const float *bb, const float *mean, int nrows, int W, int C, int P) {
    brp_rows_grad(drows, rows, base, dout, mask, dscale, out, argmax, k, a, bb, mean, nrows, W, C, P, 0);
}

void brp_route_row(float *grows, size_t base, const float *dout, const uint8_t *mask, float dscale, const float *out,
                   const int32_t *argmax, int nrows, int W, int C, int P) {
    brp_rows_grad(grows, NULL, base, dout, mask, dscale, out, argmax, NULL, NULL, NULL, NULL, nrows, W, C, P, 1);
}

void bn_relu_pool_backward(float *din, float *dgamma, float *dbeta, const float *dout, const uint8_t *mask,
                           float rate, const float *out,
                           const int32_t *argmax, const float *xsel, const float *in, const float *mean,
                           const float *rstd, const float *gamma, int B, int H, int W, int C, int P) {
    SER_ASSERT(P >= 1 && C >= 1 && C <= BRP_MAX_C && rate >= 0.0f && rate < 1.0f);
    /* dropout_backward's scale: TF builds it in double from the Python float rate */
    const float dscale = (float)(1.0 / (1.0 - (double)rate));
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P, py = pool_pad_before(H, P);
    float k[C], a[C], bb[C];
    brp_backward_coeffs(k, a, bb, dgamma, dbeta, dout, mask, dscale, out, xsel, mean, rstd, gamma, B * Ho * Wo,
                        B * H * W, C);
    if (!din) return;
    /* every input element lies in exactly one window: written once, no zeroing pass */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int oy = 0; oy < Ho; oy++) {
            int y0, y1;
            pool_window(oy, P, py, H, &y0, &y1);
            const size_t o = ((size_t)b * Ho + oy) * Wo * C, base = ((size_t)b * H + y0) * W * C;
            brp_backward_row(din + base, in + base, base, dout + o, mask ? mask + o : NULL, dscale, out + o,
                             argmax + o, k, a, bb, mean, y1 - y0, W, C, P);
        }
}
