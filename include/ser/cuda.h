/* The CUDA backend's public face. Always declared; when the build has no CUDA backend
 * (no nvcc at configure time) kernels/cuda_absent.c answers: no devices, and a clear error from
 * every constructor. */
#ifndef SER_CUDA_H
#define SER_CUDA_H

#include <stddef.h>

#include "ser/backend.h"
#include "ser/config.h"
#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this binary contains the CUDA backend. */
int ser_cuda_built(void);
/* Number of usable CUDA devices (0 when not built, no driver or no device); desc (may be NULL)
 * gets one line: device 0's name, compute capability and memory, or why there is none. */
int ser_cuda_devices(char *desc, size_t n);

/* The CUDA backend over m's description (m's host buffers are the upload/download side). */
ser_backend *ser_backend_cuda_create(ser_model *m, const ser_config *cfg, int max_B, ser_error *err);
/* Bytes of the backend's one device arena (0 for another backend). */
size_t ser_backend_cuda_arena_bytes(const ser_backend *be);
/* The path each convolution / batch-norm shape took so far (cuDNN engine, ser's kernels or
 * im2col + cuBLAS, with the reason), one line each, into buf; 0 for another backend. */
int ser_backend_cuda_describe(const ser_backend *be, char *buf, size_t n);

/* ser_features_extract (ser/features.h) with the MFCC on the GPU: decoding and resampling on
 * CPU threads into pinned double buffers, copied on their own stream while the previous batch
 * computes. Same contract and output. */
int ser_features_extract_cuda(const ser_config *cfg, char *const *paths, size_t n, int threads, float *out,
                              unsigned char *ok, char **why, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
