#ifndef EMU_CUFFT_H
#define EMU_CUFFT_H
#include "cuda_runtime.h"
#ifdef __cplusplus
extern "C" {
#endif
typedef struct { float x, y; } cufftComplex;
typedef float cufftReal;
typedef int cufftHandle;
typedef enum cufftResult_t { CUFFT_SUCCESS = 0, CUFFT_INVALID_PLAN, CUFFT_ALLOC_FAILED, CUFFT_INVALID_TYPE, CUFFT_INVALID_VALUE,
  CUFFT_INTERNAL_ERROR, CUFFT_EXEC_FAILED, CUFFT_SETUP_FAILED, CUFFT_INVALID_SIZE, CUFFT_UNALIGNED_DATA, CUFFT_INVALID_DEVICE = 11,
  CUFFT_NO_WORKSPACE = 13, CUFFT_NOT_IMPLEMENTED, CUFFT_NOT_SUPPORTED = 16, CUFFT_MISSING_DEPENDENCY, CUFFT_NVRTC_FAILURE,
  CUFFT_NVJITLINK_FAILURE, CUFFT_NVSHMEM_FAILURE } cufftResult;
typedef enum cufftType_t { CUFFT_R2C = 0x2a } cufftType;
cufftResult cufftCreate(cufftHandle *p);
cufftResult cufftMakePlanMany64(cufftHandle plan, int rank, long long *n, long long *inembed, long long istride, long long idist,
                                long long *onembed, long long ostride, long long odist, cufftType type, long long batch, size_t *work);
cufftResult cufftSetStream(cufftHandle plan, cudaStream_t s);
cufftResult cufftExecR2C(cufftHandle plan, cufftReal *in, cufftComplex *out);
cufftResult cufftDestroy(cufftHandle plan);
#ifdef __cplusplus
}
#endif
#endif
