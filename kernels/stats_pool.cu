/* Statistics pooling over time (host/model/layers/stats_pool.c, kernels.h): out (B,2U) =
 * [mean | std] of x (B,T,U) over t, std = sqrt(biased variance + eps); the backward adds
 * dmean / T + dstd (x_t - mean) / (T std) to dx. One thread per (b, u) loops over t with the
 * CPU's double expressions in its order, products and sums unfused (SER_DMUL/SER_DADD, ser/hd.h),
 * so the results have the CPU's bits. Also the row-wise concatenation [a | b] that makes LSTM2's
 * input, and its inverse for the gradient. */
#include <math.h>

#include "kernels.h"
#include "launch.cuh"
#include "ser/hd.h"

static __global__ void k_stats_pool_fwd(float *out, const float *x, int T, int U, float eps, size_t n) {
    SER_GRID_LOOP(i, n) {
        const size_t b = i / (size_t)U, u = i % (size_t)U;
        const float *xb = x + b * T * U + u;
        double s = 0.0;
        for (int t = 0; t < T; t++) s = SER_DADD(s, (double)xb[(size_t)t * U]);
        const double mean = s / T;
        double q = 0.0;
        for (int t = 0; t < T; t++) {
            const double d = SER_DSUB((double)xb[(size_t)t * U], mean);
            q = SER_DADD(q, SER_DMUL(d, d));
        }
        out[b * 2 * U + u] = (float)mean;
        out[b * 2 * U + U + u] = (float)sqrt(SER_DADD(q / T, (double)eps));
    }
}

static __global__ void k_stats_pool_bwd(float *dx, const float *dout, const float *out, const float *x, int T, int U,
                                        size_t n) {
    SER_GRID_LOOP(i, n) {
        const size_t b = i / (size_t)U, u = i % (size_t)U;
        const float *gb = dout + b * 2 * U, *ob = out + b * 2 * U;
        const double dmean = (double)gb[u] / T, k = (double)gb[U + u] / SER_DMUL((double)T, (double)ob[U + u]);
        const double mean = ob[u];
        for (int t = 0; t < T; t++) {
            const size_t j = (b * T + t) * U + u;
            dx[j] = (float)SER_DADD(SER_DADD((double)dx[j], dmean), SER_DMUL(k, SER_DSUB((double)x[j], mean)));
        }
    }
}

/* wide (rows, ld) columns [off, off + w) = narrow (rows, w) */
static __global__ void k_cols_into(float *wide, const float *narrow, int ld, int off, int w, size_t n) {
    SER_GRID_LOOP(i, n) wide[i / (size_t)w * ld + off + i % (size_t)w] = narrow[i];
}

/* narrow (rows, w) = wide (rows, ld) columns [off, off + w) */
static __global__ void k_cols_from(float *narrow, const float *wide, int ld, int off, int w, size_t n) {
    SER_GRID_LOOP(i, n) narrow[i] = wide[i / (size_t)w * ld + off + i % (size_t)w];
}

extern "C" cudaError_t ser_k_stats_pool_fwd(float *out, const float *x, int B, int T, int U, float eps, cudaStream_t s) {
    if (B < 0 || T < 1 || U < 0) return cudaErrorInvalidValue;
    const size_t n = (size_t)B * U;
    k_stats_pool_fwd<<<ser_grid(n), SER_BLOCK, 0, s>>>(out, x, T, U, eps, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_stats_pool_bwd(float *dx, const float *dout, const float *out, const float *x, int B, int T,
                                            int U, cudaStream_t s) {
    if (B < 0 || T < 1 || U < 0) return cudaErrorInvalidValue;
    const size_t n = (size_t)B * U;
    k_stats_pool_bwd<<<ser_grid(n), SER_BLOCK, 0, s>>>(dx, dout, out, x, T, U, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_concat_cols(float *out, const float *a, int na, const float *b, int nb, int B, cudaStream_t s) {
    if (B < 0 || na < 1 || nb < 1) return cudaErrorInvalidValue;
    const size_t n1 = (size_t)B * na, n2 = (size_t)B * nb;
    k_cols_into<<<ser_grid(n1), SER_BLOCK, 0, s>>>(out, a, na + nb, 0, na, n1);
    k_cols_into<<<ser_grid(n2), SER_BLOCK, 0, s>>>(out, b, na + nb, na, nb, n2);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_split_cols(float *a, int na, float *b, int nb, const float *in, int B, cudaStream_t s) {
    if (B < 0 || na < 1 || nb < 1) return cudaErrorInvalidValue;
    const size_t n1 = (size_t)B * na, n2 = (size_t)B * nb;
    k_cols_from<<<ser_grid(n1), SER_BLOCK, 0, s>>>(a, in, na + nb, 0, na, n1);
    k_cols_from<<<ser_grid(n2), SER_BLOCK, 0, s>>>(b, in, na + nb, na, nb, n2);
    return cudaGetLastError();
}
