/* Element-wise and layout kernels of kernels/kernels.h: fill, bias add and bias gradient over
 * rows, and the (B, T, U) <-> (B, U) time-step gather/scatter. */
#include "kernels.h"
#include "col_reduce.cuh"
#include "launch.cuh"

static __global__ void k_fill(float *x, float v, size_t n) {
    SER_GRID_LOOP(i, n) x[i] = v;
}

extern "C" cudaError_t ser_k_fill(float *x, float v, size_t n, cudaStream_t s) {
    k_fill<<<ser_grid(n), SER_BLOCK, 0, s>>>(x, v, n);
    return cudaGetLastError();
}

static __global__ void k_bias_add_rows(float *y, const float *bias, size_t n, int C) {
    SER_GRID_LOOP(i, n) y[i] += bias[i % (size_t)C];
}

extern "C" cudaError_t ser_k_bias_add_rows(float *y, const float *bias, size_t rows, int C, cudaStream_t s) {
    if (C < 1) return cudaErrorInvalidValue;
    const size_t n = rows * (size_t)C;
    k_bias_add_rows<<<ser_grid(n), SER_BLOCK, 0, s>>>(y, bias, n, C);
    return cudaGetLastError();
}

/* Column sums (kernels/col_reduce.cuh): the first conv block's gradient (64 x 40 x 130 rows,
 * C = 64) is 8 x 325 blocks, where one block per column group (8 blocks: 8 of an H100's 132 SMs)
 * ran before. The CPU sums in double too. */
static __global__ void __launch_bounds__(SER_COL_GROUP *SER_COL_LANES) k_bias_grad_part(double *partials, const float *dy, size_t rows, size_t chunk, int C) {
    __shared__ double part[SER_COL_LANES][SER_COL_GROUP];
    const int cx = threadIdx.x, ly = threadIdx.y;
    const int c = blockIdx.x * SER_COL_GROUP + cx;
    const size_t r0 = (size_t)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    double s = 0.0;
    if (c < C)
        for (size_t r = r0 + ly; r < r1; r += SER_COL_LANES) s += dy[r * (size_t)C + c];
    part[ly][cx] = s;
    __syncthreads();
    ser_col_lane_tree(part, ly, cx);
    if (ly == 0 && c < C) partials[(size_t)blockIdx.y * C + c] = part[0][cx];
}

static __global__ void k_bias_grad_finish(float *dbias, const double *partials, size_t chunks, int C) {
    SER_GRID_LOOP(c, (size_t)C) {
        double s = 0.0;
        for (size_t k = 0; k < chunks; k++) s += partials[k * C + c];
        dbias[c] = (float)s;
    }
}

extern "C" size_t ser_k_bias_grad_partials(size_t rows, int C) { return ser_col_chunks(rows) * (size_t)(C > 0 ? C : 1); }

extern "C" cudaError_t ser_k_bias_grad_rows(float *dbias, double *partials, const float *dy, size_t rows, int C, cudaStream_t s) {
    if (C < 1 || !partials) return cudaErrorInvalidValue;
    k_bias_grad_part<<<ser_col_grid(rows, C), ser_col_block(), 0, s>>>(partials, dy, rows, ser_col_chunk(rows), C);
    k_bias_grad_finish<<<ser_grid((size_t)C), SER_BLOCK, 0, s>>>(dbias, partials, ser_col_chunks(rows), C);
    return cudaGetLastError();
}

/* dst (B, U) = src (B, T, U)[:, t, :] */
static __global__ void k_gather_step(float *dst, const float *src, int T, int U, int t, size_t n) {
    SER_GRID_LOOP(i, n) {
        const size_t b = i / (size_t)U, u = i % (size_t)U;
        dst[i] = src[(b * T + t) * U + u];
    }
}

/* dst (B, T, U): src (B, U) at step t, 0 elsewhere (every element written: no separate zeroing) */
static __global__ void k_scatter_step(float *dst, const float *src, int T, int U, int t, size_t n) {
    SER_GRID_LOOP(i, n) {
        const size_t u = i % (size_t)U, bt = i / (size_t)U;
        const size_t b = bt / (size_t)T, tt = bt % (size_t)T;
        dst[i] = tt == (size_t)t ? src[b * U + u] : 0.0f;
    }
}

extern "C" cudaError_t ser_k_gather_step(float *dst, const float *src, int B, int T, int U, int t, cudaStream_t s) {
    if (B < 0 || T < 1 || U < 0 || t < 0 || t >= T) return cudaErrorInvalidValue;
    const size_t n = (size_t)B * U;
    k_gather_step<<<ser_grid(n), SER_BLOCK, 0, s>>>(dst, src, T, U, t, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_scatter_step(float *dst, const float *src, int B, int T, int U, int t, cudaStream_t s) {
    if (B < 0 || T < 1 || U < 0 || t < 0 || t >= T) return cudaErrorInvalidValue;
    const size_t n = (size_t)B * T * U;
    k_scatter_step<<<ser_grid(n), SER_BLOCK, 0, s>>>(dst, src, T, U, t, n);
    return cudaGetLastError();
}
