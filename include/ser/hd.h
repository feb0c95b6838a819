/* SER_HD marks a static inline function whose per-element arithmetic the CPU layers and the
 * CUDA kernels share (the CPU tests exercise it): __host__ __device__ under nvcc, nothing in C. */
#ifndef SER_HD_H
#define SER_HD_H

#ifdef __CUDACC__
#define SER_HD __host__ __device__
#else
#define SER_HD
#endif

#endif
