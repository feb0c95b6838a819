/* Checked CUDA, cuDNN, cuBLAS and cuFFT calls (C and CUDA C). Every call that can fail goes
 * through one of these macros; a failure fills the ser_error `err` in scope with the library,
 * the status name/string, the call's text, file and line, and returns -1 from the enclosing
 * function (which must return int). Kernel launchers (kernels.h) return cudaError_t of
 * cudaGetLastError(): check them with SER_CU(ser_k_...(...)). */
#ifndef SER_CUDA_CHECK_H
#define SER_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <cufft.h>

#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Formats "<lib> error <code> (<reason>) in <call> at <file>:<line>" into err; returns -1. */
int ser_cuda_fail(ser_error *err, const char *lib, int code, const char *reason, const char *call,
                  const char *file, int line);
const char *ser_cufft_status_name(cufftResult r);

#ifdef __cplusplus
}
#endif

#define SER_CU(call)                                                                                   \
    do {                                                                                               \
        cudaError_t e_ = (call);                                                                       \
        if (e_ != cudaSuccess)                                                                         \
            return ser_cuda_fail(err, "CUDA", (int)e_, cudaGetErrorString(e_), #call, __FILE__, __LINE__); \
    } while (0)
#define SER_CUDNN(call)                                                                                \
    do {                                                                                               \
        cudnnStatus_t e_ = (call);                                                                     \
        if (e_ != CUDNN_STATUS_SUCCESS)                                                                \
            return ser_cuda_fail(err, "cuDNN", (int)e_, cudnnGetErrorString(e_), #call, __FILE__, __LINE__); \
    } while (0)
#define SER_CUBLAS(call)                                                                               \
    do {                                                                                               \
        cublasStatus_t e_ = (call);                                                                    \
        if (e_ != CUBLAS_STATUS_SUCCESS)                                                               \
            return ser_cuda_fail(err, "cuBLAS", (int)e_, cublasGetStatusString(e_), #call, __FILE__, __LINE__); \
    } while (0)
#define SER_CUFFT(call)                                                                                \
    do {                                                                                               \
        cufftResult e_ = (call);                                                                       \
        if (e_ != CUFFT_SUCCESS)                                                                       \
            return ser_cuda_fail(err, "cuFFT", (int)e_, ser_cufft_status_name(e_), #call, __FILE__, __LINE__); \
    } while (0)

#endif
