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

/* Column sums without atomics or scratch: block = BG_COLS columns x BG_LANES row lanes; lane y sums
 * rows y, y + BG_LANES, ... in double (the CPU sums in double too), then the lanes are added in a
 * fixed tree, so the bits depend only on the inputs. A warp reads BG_COLS consecutive floats
 * (one 32-byte sector) of 32 / BG_COLS rows; one block per BG_COLS columns (C = 64: 8 blocks). */
#define BG_COLS 8
#define BG_LANES 128

static __global__ void __launch_bounds__(BG_COLS *BG_LANES) k_bias_grad_rows(float *dbias, const float *dy, size_t rows, int C) {
    __shared__ double part[BG_LANES][BG_COLS];
    const int cx = threadIdx.x, ly = threadIdx.y;
    const int c = blockIdx.x * BG_COLS + cx;
    double s = 0.0;
    if (c < C)
        for (size_t r = ly; r < rows; r += BG_LANES) s += dy[r * (size_t)C + c];
    part[ly][cx] = s;
    __syncthreads();
    for (int h = BG_LANES / 2; h > 0; h /= 2) {
        if (ly < h) part[ly][cx] += part[ly + h][cx];
        __syncthreads();
    }
    if (ly == 0 && c < C) dbias[c] = (float)part[0][cx];
}

extern "C" cudaError_t ser_k_bias_grad_rows(float *dbias, const float *dy, size_t rows, int C, cudaStream_t s) {
    if (C < 1) return cudaErrorInvalidValue;
    const dim3 block(BG_COLS, BG_LANES);
    k_bias_grad_rows<<<(unsigned)((C + BG_COLS - 1) / BG_COLS), block, 0, s>>>(dbias, dy, rows, C);
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
