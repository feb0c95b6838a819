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
 * maxpool2d.c (clipped to the image, padding never wins). */
#include <float.h>
#include <string.h>

#include "layers/layers.h"
#include "layers/pool_window.h"
#include "ser/error.h"

#define BRP_GROUPS 16   /* fixed groups of pooled rows for the BN sums: thread-count independent */
#define BRP_MAX_C 1024

/* drop == NULL: no dropout. Otherwise each pooled row (b, oy) gets its dropout right after it is
 * written, when its start is a whole Philox block (else one dropout_forward pass at the end). */
static void brp_forward(float *drop, uint8_t *mask, float *out, int32_t *argmax, float *xsel, const float *in,
                        const float *scale, const float *shift, int B, int H, int W, int C, int P, float rate,
                        uint64_t seed, uint64_t step, uint32_t layer) {
    SER_ASSERT(P >= 1 && C >= 1 && (int64_t)B * H * W * C <= INT32_MAX);
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P;
    const int py = pool_pad_before(H, P), px = pool_pad_before(W, P);
    const int rowwise = ((size_t)Wo * C) % 64 == 0; /* pooled rows start on Philox blocks of 64 elements */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int oy = 0; oy < Ho; oy++) {
            int y0, y1;
            pool_window(oy, P, py, H, &y0, &y1);
            for (int ox = 0; ox < Wo; ox++) {
                int x0, x1;
                pool_window(ox, P, px, W, &x0, &x1);
                const size_t o = (((size_t)b * Ho + oy) * Wo + ox) * C;
                float *mo = out + o, *xs = xsel + o;
                int32_t *am = argmax + o;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        const size_t i = (((size_t)b * H + y) * W + x) * C;
                        const float *xi = in + i;
                        if (y == y0 && x == x0) { /* the first element always enters */
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
            if (drop && rowwise) {
                const size_t r0 = ((size_t)b * Ho + oy) * Wo * C;
                dropout_forward_span(drop, mask, out, r0, r0 + (size_t)Wo * C, rate, seed, step, layer);
            }
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

void bn_relu_pool_backward(float *din, float *dgamma, float *dbeta, const float *dout, const uint8_t *mask,
                           float rate, const float *out,
                           const int32_t *argmax, const float *xsel, const float *in, const float *mean,
                           const float *rstd, const float *gamma, int B, int H, int W, int C, int P) {
    SER_ASSERT(P >= 1 && C >= 1 && C <= BRP_MAX_C && rate >= 0.0f && rate < 1.0f);
    /* dropout_backward's scale: TF builds it in double from the Python float rate */
    const float dscale = (float)(1.0 / (1.0 - (double)rate));
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P;
    const int py = pool_pad_before(H, P), px = pool_pad_before(W, P);
    const int No = B * Ho * Wo, N = B * H * W;
    const int G = No < BRP_GROUPS ? No : BRP_GROUPS;
    /* BN sums over the gradient reaching the BN output: dout at the argmax where relu passed */
    double part[G][2][C]; /* per group: sum g, sum g (x - mean) */
#pragma omp parallel for schedule(static)
    for (int gi = 0; gi < G; gi++) {
        double *sd = part[gi][0], *sdx = part[gi][1];
        for (int c = 0; c < C; c++) sd[c] = sdx[c] = 0.0;
        const size_t r0 = (size_t)((long long)No * gi / G), r1 = (size_t)((long long)No * (gi + 1) / G);
        for (size_t r = r0; r < r1; r++) {
            const float *g = dout + r * C, *y = out + r * C, *x = xsel + r * C;
            float gp[C]; /* the pooled gradient before dropout; a separate loop keeps the next one branch-free */
            if (mask) {
                const uint8_t *mk = mask + r * C;
#pragma omp simd
                for (int c = 0; c < C; c++) gp[c] = mk[c] ? g[c] * dscale : 0.0f;
            } else {
                memcpy(gp, g, (size_t)C * sizeof *gp);
            }
#pragma omp simd
            for (int c = 0; c < C; c++) {
                const float gc = y[c] > 0.0f ? gp[c] : 0.0f;
                sd[c] += gc;
                sdx[c] += (double)gc * ((double)x[c] - (double)mean[c]);
            }
        }
    }
    float k[C], a[C], bb[C];
    for (int c = 0; c < C; c++) {
        double sd = 0.0, sdx = 0.0;
        for (int gi = 0; gi < G; gi++) sd += part[gi][0][c], sdx += part[gi][1][c];
        sdx *= rstd[c];
        dbeta[c] += (float)sd;
        dgamma[c] += (float)sdx;
        k[c] = gamma[c] * rstd[c];
        a[c] = (float)(sd / N);
        bb[c] = (float)(sdx / N * rstd[c]);
    }
    if (!din) return;
    /* every input element lies in exactly one window: written once, no zeroing pass */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int oy = 0; oy < Ho; oy++) {
            int y0, y1;
            pool_window(oy, P, py, H, &y0, &y1);
            for (int ox = 0; ox < Wo; ox++) {
                int x0, x1;
                pool_window(ox, P, px, W, &x0, &x1);
                const size_t o = (((size_t)b * Ho + oy) * Wo + ox) * C;
                const float *go = dout + o, *yo = out + o;
                const int32_t *am = argmax + o;
                float gp[C]; /* the gradient reaching the max, 0 where ReLU or dropout blocked it */
                if (mask) {
                    const uint8_t *mk = mask + o;
#pragma omp simd
                    for (int c = 0; c < C; c++) gp[c] = (mk[c] ? go[c] * dscale : 0.0f);
                } else {
                    memcpy(gp, go, (size_t)C * sizeof *gp);
                }
#pragma omp simd
                for (int c = 0; c < C; c++) gp[c] = yo[c] > 0.0f ? gp[c] : 0.0f;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        const size_t i = (((size_t)b * H + y) * W + x) * C;
                        const float *xi = in + i;
                        float *dx = din + i;
#pragma omp simd
                        for (int c = 0; c < C; c++) {
                            const float g = am[c] == (int32_t)(i + c) ? gp[c] : 0.0f;
                            dx[c] = k[c] * (g - a[c] - (xi[c] - mean[c]) * bb[c]);
                        }
                    }
            }
        }
}
