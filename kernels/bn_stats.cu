/* The batch-norm statistics pass's reductions (kernels/kernels.h; the CPU's is
 * host/model/bn_stats.c): a batch's per-channel mean and biased variance of a (rows, C) conv output,
 * joined to a pooled mean and variance over every batch of the pass.
 *
 * Deterministic and spread over the whole GPU, the column reduction of kernels/col_reduce.cuh
 * (as ser_k_bias_grad_rows):
 * 1. lane y of a block sums d = x - x[row 0] and d^2 over its chunk's rows in double (the shift
 *    keeps E[d^2] - E[d]^2 free of cancellation, as the CPU's batchnorm_batch_stats does), the
 *    lanes are added in the fixed tree, the chunk's two sums go to partials[chunk][2][c].
 * 2. one thread per column adds the chunks in order, writes the batch's mean and variance as
 *    floats (what the pass normalises the block with) and joins them to the pooled statistics
 *    acc (3, C) = (rows, mean, sum of squared deviations) by Chan, Golub and LeVeque's update. */
#include "col_reduce.cuh"
#include "kernels.h"
#include "launch.cuh"

static __global__ void __launch_bounds__(SER_COL_GROUP *SER_COL_LANES) k_bn_stats_part(double *partials, const float *x, size_t rows, size_t chunk, int C) {
    __shared__ double ps[SER_COL_LANES][SER_COL_GROUP];
    __shared__ double pq[SER_COL_LANES][SER_COL_GROUP];
    const int cx = threadIdx.x, ly = threadIdx.y;
    const int c = blockIdx.x * SER_COL_GROUP + cx;
    const size_t r0 = (size_t)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    double s = 0.0, q = 0.0;
    if (c < C) {
        const double shift = x[c];
        for (size_t r = r0 + ly; r < r1; r += SER_COL_LANES) {
            const double d = (double)x[r * (size_t)C + c] - shift;
            s += d;
            q += d * d;
        }
    }
    ps[ly][cx] = s;
    pq[ly][cx] = q;
    __syncthreads();
    ser_col_lane_tree(ps, ly, cx);
    ser_col_lane_tree(pq, ly, cx);
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

extern "C" size_t ser_k_bn_stats_partials(size_t rows, int C) { return 2 * ser_col_chunks(rows) * (size_t)(C > 0 ? C : 1); }

extern "C" cudaError_t ser_k_bn_stats_add(float *batch_mean, float *batch_var, double *acc, double *partials,
                                          const float *x, size_t rows, int C, cudaStream_t s) {
    if (C < 1 || rows < 1 || !partials) return cudaErrorInvalidValue;
    k_bn_stats_part<<<ser_col_grid(rows, C), ser_col_block(), 0, s>>>(partials, x, rows, ser_col_chunk(rows), C);
    k_bn_stats_join<<<ser_grid((size_t)C), SER_BLOCK, 0, s>>>(batch_mean, batch_var, acc, partials, ser_col_chunks(rows),
                                                              rows, x, C);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_bn_stats_write(float *moving_mean, float *moving_var, const double *acc, int C,
                                            cudaStream_t s) {
    if (C < 1) return cudaErrorInvalidValue;
    k_bn_stats_write<<<ser_grid((size_t)C), SER_BLOCK, 0, s>>>(moving_mean, moving_var, acc, C);
    return cudaGetLastError();
}
