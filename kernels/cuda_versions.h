/* The run-time versions of what the CUDA backend loads (driver, CUDA runtime, cuDNN, cuBLAS,
 * NVRTC), and the one check at start that each is at least what the code needs. The code was
 * built against one toolkit and one cuDNN (their headers); a machine may load older libraries
 * (another cuDNN 9.x on the library path, a driver from before the toolkit), and what then fails
 * deep inside a plan build or a kernel launch is named here instead, on one line. */
#ifndef SER_CUDA_VERSIONS_H
#define SER_CUDA_VERSIONS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Versions as the libraries encode them; 0 (or -1 for NVRTC) when not found. */
typedef struct ser_cuda_versions {
    int driver;         /* cudaDriverGetVersion: the newest CUDA the driver supports, 1000 major + 10 minor */
    int runtime;        /* cudaRuntimeGetVersion, same encoding */
    size_t cudnn;       /* cudnnGetVersion: 10000 major + 100 minor + patch */
    size_t cudnn_cudart; /* cudnnGetCudartVersion: the CUDA runtime cuDNN was built for */
    int cublas;         /* cublasGetProperty: 10000 major + 100 minor + patch */
    int nvrtc;          /* nvrtcVersion of the libnvrtc cuDNN's runtime-compiled engines load: 1000 major +
                         * 10 minor; -1: not found (those engines then fail and ser falls back) */
} ser_cuda_versions;

/* The minimums (same encodings). The runtime, cuBLAS and NVRTC must be of the toolkit's major
 * version (their sonames are); the driver must support that major version (minor version
 * compatibility covers the rest: every kernel is built as SASS for sm_80..sm_120); cuDNN must be
 * a 9.x built for the same CUDA major, at least SER_CUDNN_MIN. */
#define SER_CUDNN_MIN 90800 /* 9.8.0: device property descriptors (graphs made without a handle,
                              * kernels/cudnn_graph.h); cudnn_graph.c's create checks it again */

/* Fills v from the loaded libraries (no device needed; NVRTC through dlopen). */
void ser_cuda_versions_query(ser_cuda_versions *v);
/* Built-against values: the toolkit's CUDART_VERSION and cuDNN's / cuBLAS's header versions. */
void ser_cuda_versions_built(ser_cuda_versions *v);
/* 0 when every version in have meets the minimum for a build against built; else -1 and why gets
 * one line naming the first one that is too old (or missing), with both versions. */
int ser_cuda_versions_check(const ser_cuda_versions *have, const ser_cuda_versions *built, char *why, size_t n);
/* One line: "driver 13.0, runtime 13.0, cuDNN 9.19.0 (for CUDA 13.0), cuBLAS 13.1.0, NVRTC 13.0". */
void ser_cuda_versions_format(const ser_cuda_versions *v, char *buf, size_t n);
/* ser_cuda_versions_query + _check against this build: the check at start of the backend and the
 * GPU features (0, or -1 with why filled). */
int ser_cuda_versions_ok(char *why, size_t n);

#ifdef __cplusplus
}
#endif

#endif
