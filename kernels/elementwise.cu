/* Element-wise and layout kernels of kernels/kernels.h: fill, bias add and bias gradient over
 * rows, and the (B, T, U) <-> (B, U) time-step gather/scatter. */
#include "kernels.h"
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

/* Column sums, deterministic and spread over the whole GPU, in two passes without atomics:
 * 1. grid (column groups of BG_COLS) x (row chunks of bg_chunk(rows) rows): block = BG_COLS
 *    columns x BG_LANES row lanes; lane y sums its chunk's rows y, y + BG_LANES, ... in double (the
 *    CPU sums in double too), the lanes are added in a fixed tree, and the chunk's sum goes to
 *    partials[chunk][c]. A warp reads BG_COLS consecutive floats (one 32-byte sector) of
 *    32 / BG_COLS rows. The first conv block's gradient (64 x 40 x 130 rows, C = 64) is 8 x 325
 *    blocks, where one block per column group (8 blocks: 8 of an H100's 132 SMs) ran before.
 * 2. one thread per column adds its chunks' sums in chunk order.
 * The chunking depends only on rows, so the bits depend only on the inputs, on any GPU. */
#define BG_COLS 8
#define BG_LANES 32
#define BG_CHUNK 1024   /* rows per chunk, unless there would be more than BG_MAX_CHUNKS chunks */
#define BG_MAX_CHUNKS 65535u /* gridDim.y */

static size_t bg_chunk(size_t rows) {
    const size_t need = (rows + BG_CHUNK - 1) / BG_CHUNK;
    const size_t scale = need > BG_MAX_CHUNKS ? (need + BG_MAX_CHUNKS - 1) / BG_MAX_CHUNKS : 1;
    return (size_t)BG_CHUNK * scale;
}
static size_t bg_chunks(size_t rows) {
    const size_t k = (rows + bg_chunk(rows) - 1) / bg_chunk(rows);
    return k ? k : 1;
}

static __global__ void __launch_bounds__(BG_COLS *BG_LANES) k_bias_grad_part(double *partials, const float *dy, size_t rows, size_t chunk, int C) {
    __shared__ double part[BG_LANES][BG_COLS];
    const int cx = threadIdx.x, ly = threadIdx.y;
    const int c = blockIdx.x * BG_COLS + cx;
    const size_t r0 = (size_t)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    double s = 0.0;
    if (c < C)
        for (size_t r = r0 + ly; r < r1; r += BG_LANES) s += dy[r * (size_t)C + c];
    part[ly][cx] = s;
    __syncthreads();
    for (int h = BG_LANES / 2; h > 0; h /= 2) {
        if (ly < h) part[ly][cx] += part[ly + h][cx];
        __syncthreads();
    }
    if (ly == 0 && c < C) partials[(size_t)blockIdx.y * C + c] = part[0][cx];
}

static __global__ void k_bias_grad_finish(float *dbias, const double *partials, size_t chunks, int C) {
    SER_GRID_LOOP(c, (size_t)C) {
        double s = 0.0;
        for (size_t k = 0; k < chunks; k++) s += partials[k * C + c];
        dbias[c] = (float)s;
    }
}

extern "C" size_t ser_k_bias_grad_partials(size_t rows, int C) { return bg_chunks(rows) * (size_t)(C > 0 ? C : 1); }

extern "C" cudaError_t ser_k_bias_grad_rows(float *dbias, double *partials, const float *dy, size_t rows, int C, cudaStream_t s) {
    if (C < 1 || !partials) return cudaErrorInvalidValue;
    const dim3 block(BG_COLS, BG_LANES), grid((unsigned)((C + BG_COLS - 1) / BG_COLS), (unsigned)bg_chunks(rows));
    k_bias_grad_part<<<grid, block, 0, s>>>(partials, dy, rows, bg_chunk(rows), C);
    k_bias_grad_finish<<<ser_grid((size_t)C), SER_BLOCK, 0, s>>>(dbias, partials, bg_chunks(rows), C);
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
