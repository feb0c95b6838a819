/* SER_HD marks a static inline function whose per-element arithmetic the CPU layers and the
 * CUDA kernels share (the CPU tests exercise it): __host__ __device__ under nvcc, nothing in C. */
#ifndef SER_HD_H
#define SER_HD_H

#ifdef __CUDACC__
#define SER_HD __host__ __device__
#else
#define SER_HD
#endif

/* Unfused arithmetic for shared expressions that must round the same on both sides: nvcc
 * contracts a * b + c into one FMA by default (--fmad=true, one rounding), while the host's ISO C
 * build does not (GCC's -std=c11 implies -ffp-contract=off: two roundings). The _rn intrinsics are
 * never contracted, so a product and a sum spelled with these round separately on the device as
 * they do on the host. */
#ifdef __CUDA_ARCH__
#define SER_FMUL(a, b) __fmul_rn((a), (b))
#define SER_FADD(a, b) __fadd_rn((a), (b))
#define SER_FSUB(a, b) __fsub_rn((a), (b))
#define SER_DMUL(a, b) __dmul_rn((a), (b))
#define SER_DADD(a, b) __dadd_rn((a), (b))
#define SER_DSUB(a, b) __dsub_rn((a), (b))
#else
#define SER_FMUL(a, b) ((a) * (b))
#define SER_FADD(a, b) ((a) + (b))
#define SER_FSUB(a, b) ((a) - (b))
#define SER_DMUL(a, b) ((a) * (b))
#define SER_DADD(a, b) ((a) + (b))
#define SER_DSUB(a, b) ((a) - (b))
#endif

#endif
