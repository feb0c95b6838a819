// CPU emulation of the CUDA runtime / cuFFT / cuBLAS subset (verification harness only).
#include "cuda_runtime.h"
#include "cufft.h"
#include "cublas_v2.h"
#include <barrier>
#include <cblas.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fftw3.h>
#include <thread>
#include <vector>
#include <sanitizer/asan_interface.h>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
static thread_local std::barrier<> *cur_bar;
void __syncthreads() { cur_bar->arrive_and_wait(); }
void emu_launch(unsigned grid, unsigned block, const std::function<void()> &fn) {
    gridDim.x = grid; blockDim.x = block;
    for (unsigned b = 0; b < grid; b++) for (unsigned t = 0; t < block; t++) { blockIdx.x = b; threadIdx.x = t; fn(); }
}
void emu_launch_sync(unsigned grid, unsigned block, const std::function<void()> &fn) {
    gridDim.x = grid; blockDim.x = block;
    for (unsigned b = 0; b < grid; b++) {
        std::barrier<> bar(block);
        std::vector<std::thread> th;
        for (unsigned t = 0; t < block; t++)
            th.emplace_back([&, t] { blockIdx.x = b; threadIdx.x = t; cur_bar = &bar; fn(); });
        for (auto &x : th) x.join();
    }
}
static void need(const void *p, size_t bytes, const char *what) {
    if (bytes && __asan_region_is_poisoned(const_cast<void *>(p), bytes)) {
        fprintf(stderr, "EMU: out of bounds: %s (%zu bytes)\n", what, bytes);
        abort();
    }
}
extern "C" {
const char *cudaGetErrorString(cudaError_t e) { return e ? "emu error" : "no error"; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int) { memset(p, 0, sizeof *p); strcpy(p->name, "EMU (CPU emulation)"); p->major = 9; p->totalGlobalMem = 80ull << 30; p->multiProcessorCount = 132; return cudaSuccess; }
cudaError_t cudaMalloc(void **p, size_t n) { *p = malloc(n ? n : 1); if (!*p) return cudaErrorMemoryAllocation; memset(*p, 0xff, n); return cudaSuccess; }
cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
cudaError_t cudaHostAlloc(void **p, size_t n, unsigned) { return cudaMalloc(p, n); }
cudaError_t cudaFreeHost(void *p) { free(p); return cudaSuccess; }
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind) { need(d, n, "memcpy dst"); need(s, n, "memcpy src"); memcpy(d, s, n); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind k, cudaStream_t) { return cudaMemcpy(d, s, n, k); }
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) { need(d, n, "memset"); memset(d, v, n); return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { *s = (cudaStream_t)malloc(8); return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t s) { free(s); return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t *e) { *e = (cudaEvent_t)malloc(8); return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { return cudaEventCreate(e); }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t, cudaEvent_t) { *ms = 1; return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) { free(e); return cudaSuccess; }

struct plan { long long n, idist, odist, batch; fftwf_plan p; };
static std::vector<plan> plans;
cufftResult cufftCreate(cufftHandle *p) { plans.push_back({}); *p = (int)plans.size() - 1; return CUFFT_SUCCESS; }
cufftResult cufftMakePlanMany64(cufftHandle h, int rank, long long *n, long long *, long long istride, long long idist,
                                long long *, long long ostride, long long odist, cufftType type, long long batch, size_t *work) {
    if (rank != 1 || istride != 1 || ostride != 1 || type != CUFFT_R2C) return CUFFT_INVALID_VALUE;
    plans[h] = {n[0], idist, odist, batch, nullptr};
    *work = 0;
    return CUFFT_SUCCESS;
}
cufftResult cufftSetStream(cufftHandle, cudaStream_t) { return CUFFT_SUCCESS; }
cufftResult cufftExecR2C(cufftHandle h, cufftReal *in, cufftComplex *out) {
    plan &p = plans[h];
    need(in, sizeof(float) * p.batch * p.idist, "fft in");
    need(out, sizeof(cufftComplex) * p.batch * p.odist, "fft out");
    int n = (int)p.n;
    fftwf_plan fp = fftwf_plan_many_dft_r2c(1, &n, (int)p.batch, in, nullptr, 1, (int)p.idist, (fftwf_complex *)out, nullptr, 1, (int)p.odist, FFTW_ESTIMATE);
    fftwf_execute(fp);
    fftwf_destroy_plan(fp);
    return CUFFT_SUCCESS;
}
cufftResult cufftDestroy(cufftHandle) { return CUFFT_SUCCESS; }

const char *cublasGetStatusString(cublasStatus_t s) { return s ? "emu blas error" : "ok"; }
cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = (cublasHandle_t)malloc(8); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t h) { free(h); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta, float *C, int ldc) {
    // column-major extents of the stored matrices
    const long ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    const long br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (lda < ar || ldb < br || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
    need(A, sizeof(float) * ((ac - 1) * lda + ar), "gemm A");
    need(B, sizeof(float) * ((bc - 1) * ldb + br), "gemm B");
    need(C, sizeof(float) * ((long)(n - 1) * ldc + m), "gemm C");
    cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}
}
