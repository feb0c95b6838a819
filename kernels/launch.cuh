/* Launch shapes shared by ser's kernels (the .cu files of kernels/): 256-thread blocks over a
 * grid-stride loop. The grid is capped so that huge sizes loop instead of overflowing gridDim; every kernel
 * is correct for any n (the loop's bound), the cap only limits the blocks in flight. */
#ifndef SER_LAUNCH_CUH
#define SER_LAUNCH_CUH

#include <stddef.h>

#define SER_BLOCK 256
#define SER_MAX_GRID 8192u

/* Blocks for n elements at SER_BLOCK threads each (at least 1, so n = 0 launches a no-op). */
static inline unsigned ser_grid(size_t n) {
    size_t g = (n + SER_BLOCK - 1) / SER_BLOCK;
    if (g < 1) g = 1;
    return g > SER_MAX_GRID ? SER_MAX_GRID : (unsigned)g;
}

/* for (size_t i = first index of this thread; i < n; i += all threads of the grid) */
#define SER_GRID_LOOP(i, n)                                                                            \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

#endif
