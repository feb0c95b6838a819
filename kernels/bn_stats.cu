/* The batch-norm statistics pass's reductions (kernels/kernels.h; the CPU's is
 * host/model/bn_stats.c): a batch's per-channel mean and biased variance of a (rows, C) conv output,
 * joined to a pooled mean and variance over every batch of the pass.
 *
 * Deterministic and spread over the whole GPU like ser_k_bias_grad_rows (kernels/elementwise.cu):
 * 1. grid (column groups of BS_COLS) x (row chunks): lane y of a block sums d = x - x[row 0] and
 *    d^2 over its chunk's rows y, y + BS_LANES, ... in double (the shift keeps E[d^2] - E[d]^2
 *    free of cancellation, as the CPU's batchnorm_batch_stats does), the lanes are added in a
 *    fixed tree, the chunk's two sums go to partials[chunk][2][c].
 * 2. one thread per column adds the chunks in order, writes the batch's mean and variance as
 *    floats (what the pass normalises the block with) and joins them to the pooled statistics
 *    acc (3, C) = (rows, mean, sum of squared deviations) by Chan, Golub and LeVeque's update.
 * The chunking depends only on rows: the bits depend only on the inputs, on any GPU. */
#include "kernels.h"
#include "launch.cuh"

#define BS_COLS 8
#define BS_LANES 32
#define BS_CHUNK 1024   /* rows per chunk, unless there would be more than BS_MAX_CHUNKS chunks */
#define BS_MAX_CHUNKS 65535u /* gridDim.y */

static size_t bs_chunk(size_t rows) {
    const size_t need = (rows + BS_CHUNK - 1) / BS_CHUNK;
    const size_t scale = need > BS_MAX_CHUNKS ? (need + BS_MAX_CHUNKS - 1) / BS_MAX_CHUNKS : 1;
    return (size_t)BS_CHUNK * scale;
}
static size_t bs_chunks(size_t rows) {
    const size_t k = (rows + bs_chunk(rows) - 1) / bs_chunk(rows);
    return k ? k : 1;
}

static __global__ void __launch_bounds__(BS_COLS *BS_LANES) k_bn_stats_part(double *partials, const float *x, size_t rows, size_t chunk, int C) {
    __shared__ double ps[BS_LANES][BS_COLS];
    __shared__ double pq[BS_LANES][BS_COLS];
    const int cx = threadIdx.x, ly = threadIdx.y;
    const int c = blockIdx.x * BS_COLS + cx;
    const size_t r0 = (size_t)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    double s = 0.0, q = 0.0;
    if (c < C) {
        const double shift = x[c];
        for (size_t r = r0 + ly; r < r1; r += BS_LANES) {
            const double d = (double)x[r * (size_t)C + c] - shift;
            s += d;
            q += d * d;
        }
    }
    ps[ly][cx] = s;
    pq[ly][cx] = q;
    __syncthreads();
    for (int h = BS_LANES / 2; h > 0; h /= 2) {
        if (ly < h) {
            ps[ly][cx] += ps[ly + h][cx];
            pq[ly][cx] += pq[ly + h][cx];
        }
        __syncthreads();
    }
    if (ly == 0 && c < C) {
        partials[((size_t)blockIdx.y * 2) * C + c] = ps[0][cx];
        partials[((size_t)blockIdx.y * 2 + 1) * C + c] = pq[0][cx];
    }
}

static __global__ void k_bn_stats_join(float *batch_mean, float *batch_var, double *acc, const double *partials,
                                       size_t chunks, size_t rows, const float *x, int C) {
    SER_GRID_LOOP(c, (size_t)C) {
        double s = 0.0, q = 0.0;
        for (size_t k = 0; k < chunks; k++) s += partials[(k * 2) * C + c], q += partials[(k * 2 + 1) * C + c];
        const double n = (double)rows, md = s / n;
        double var = q / n - md * md;
        if (var < 0.0) var = 0.0; /* rounding can take a zero variance below 0 */
        const double mean = md + (double)x[c];
        batch_mean[c] = (float)mean;
        batch_var[c] = (float)var;
        const double n0 = acc[c], nt = n0 + n, d = mean - acc[C + c];
        acc[c] = nt;
        acc[C + c] += d * (n / nt);
        acc[2 * C + c] += var * n + d * d * (n0 * n / nt);
    }
}

static __global__ void k_bn_stats_write(float *moving_mean, float *moving_var, const double *acc, int C) {
    SER_GRID_LOOP(c, (size_t)C) {
        moving_mean[c] = (float)acc[C + c];
        moving_var[c] = (float)(acc[2 * C + c] / acc[c]);
    }
}

extern "C" size_t ser_k_bn_stats_partials(size_t rows, int C) { return 2 * bs_chunks(rows) * (size_t)(C > 0 ? C : 1); }

extern "C" cudaError_t ser_k_bn_stats_add(float *batch_mean, float *batch_var, double *acc, double *partials,
                                          const float *x, size_t rows, int C, cudaStream_t s) {
    if (C < 1 || rows < 1 || !partials) return cudaErrorInvalidValue;
    const dim3 block(BS_COLS, BS_LANES), grid((unsigned)((C + BS_COLS - 1) / BS_COLS), (unsigned)bs_chunks(rows));
    k_bn_stats_part<<<grid, block, 0, s>>>(partials, x, rows, bs_chunk(rows), C);
    k_bn_stats_join<<<ser_grid((size_t)C), SER_BLOCK, 0, s>>>(batch_mean, batch_var, acc, partials, bs_chunks(rows), rows, x, C);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_bn_stats_write(float *moving_mean, float *moving_var, const double *acc, int C,
                                            cudaStream_t s) {
    if (C < 1) return cudaErrorInvalidValue;
    k_bn_stats_write<<<ser_grid((size_t)C), SER_BLOCK, 0, s>>>(moving_mean, moving_var, acc, C);
    return cudaGetLastError();
}
