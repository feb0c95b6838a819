/* Column reductions over a (rows, C) row-major matrix, deterministic and spread over the whole
 * GPU, in two passes without atomics (ser_k_bias_grad_rows in elementwise.cu, the batch-norm
 * statistics pass in bn_stats.cu):
 * 1. grid (column groups of SER_COL_GROUP) x (row chunks of ser_col_chunk(rows) rows), block =
 *    SER_COL_GROUP columns x SER_COL_LANES row lanes: lane y sums its chunk's rows y,
 *    y + SER_COL_LANES, ... in double, ser_col_lane_tree adds the lanes in a fixed tree, and the
 *    chunk's sums go to partials[chunk]. A warp reads SER_COL_GROUP consecutive floats (one
 *    32-byte sector) of 32 / SER_COL_GROUP rows.
 * 2. one thread per column adds its chunks' sums in chunk order.
 * The chunking depends only on rows, so the bits depend only on the inputs, on any GPU. */
#ifndef SER_COL_REDUCE_CUH
#define SER_COL_REDUCE_CUH

#include <stddef.h>

#define SER_COL_GROUP 8
#define SER_COL_LANES 32
#define SER_COL_CHUNK 1024        /* rows per chunk, unless there would be more than SER_COL_MAX_CHUNKS */
#define SER_COL_MAX_CHUNKS 65535u /* gridDim.y */

/* Rows per chunk for a matrix of rows rows. */
static inline size_t ser_col_chunk(size_t rows) {
    const size_t need = (rows + SER_COL_CHUNK - 1) / SER_COL_CHUNK;
    const size_t scale = need > SER_COL_MAX_CHUNKS ? (need + SER_COL_MAX_CHUNKS - 1) / SER_COL_MAX_CHUNKS : 1;
    return (size_t)SER_COL_CHUNK * scale;
}

/* Chunks (at least 1): gridDim.y of pass 1, and the partial sums per column. */
static inline size_t ser_col_chunks(size_t rows) {
    const size_t k = (rows + ser_col_chunk(rows) - 1) / ser_col_chunk(rows);
    return k ? k : 1;
}

/* Pass 1's grid and block for C columns. */
static inline dim3 ser_col_grid(size_t rows, int C) {
    return dim3((unsigned)((C + SER_COL_GROUP - 1) / SER_COL_GROUP), (unsigned)ser_col_chunks(rows));
}
static inline dim3 ser_col_block(void) { return dim3(SER_COL_GROUP, SER_COL_LANES); }

/* Adds the lanes' sums part[ly][cx] in a fixed tree: afterwards part[0][cx] holds the block's
 * sum of column cx. Every thread of the block calls it, after a __syncthreads() that publishes
 * every lane's part (written in the kernel, where tests/cuda_emu's rewrite sees that the kernel
 * synchronises). */
static __device__ void ser_col_lane_tree(double part[SER_COL_LANES][SER_COL_GROUP], int ly, int cx) {
    for (int h = SER_COL_LANES / 2; h > 0; h /= 2) {
        if (ly < h) part[ly][cx] += part[ly + h][cx];
        __syncthreads();
    }
}

#endif
