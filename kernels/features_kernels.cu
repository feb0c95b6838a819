/* The custom kernels of the GPU MFCC (contracts in features_kernels.h). The float arithmetic
 * that must equal host/features/mfcc_cpu.c's is written with __fmul_rn / __fadd_rn: nvcc would fuse
 * a * b + c into one FMA, while the host C (ISO C11 mode, -ffp-contract=off) rounds each
 * operation, so the explicit intrinsics give the CPU's bits for the same inputs. */
#include <cfloat>
#include <stdint.h>

#include "features_kernels.h"

namespace {

constexpr int THREADS = 256;

/* Blocks for a grid-stride loop over n elements (the loop covers any n). */
unsigned grid_for(size_t n) {
    const size_t b = (n + THREADS - 1) / THREADS;
    return (unsigned)(b < 1 ? 1 : b > 65536 ? 65536 : b);
}

__global__ void frames_kernel(float *__restrict__ frames, const float *__restrict__ audio, size_t audio_stride,
                              const int *__restrict__ len, const float *__restrict__ window, int max_frames,
                              int n_fft, int hop) {
    const size_t row = blockIdx.x;
    const int c = (int)(row / (size_t)max_frames), t = (int)(row % (size_t)max_frames);
    const float *y = audio + (size_t)c * audio_stride;
    const long long n = len[c];
    /* Frame t covers the centred signal's [t hop, t hop + n_fft) = y[start, start + n_fft). */
    const long long start = (long long)t * hop - n_fft / 2;
    float *f = frames + row * (size_t)n_fft;
    for (int i = threadIdx.x; i < n_fft; i += blockDim.x) {
        const long long j = start + i;
        f[i] = (j >= 0 && j < n) ? __fmul_rn(window[i], y[j]) : 0.0f;
    }
}

__global__ void power_kernel(float *__restrict__ power, const cufftComplex *__restrict__ spec, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const cufftComplex z = spec[i];
        power[i] = __fadd_rn(__fmul_rn(z.x, z.x), __fmul_rn(z.y, z.y));
    }
}

/* 10 log10(x) for x >= amin > 0 (a normal float): host/features/mfcc_cpu.c's db_in_place (the Cephes
 * logf polynomial), operation for operation. */
__device__ float db_of(float x) {
    uint32_t b = __float_as_uint(x);
    int e = (int)(b >> 23) - 126; /* x = f 2^e, f in [0.5, 1) */
    b = (b & 0x007fffffu) | 0x3f000000u;
    float f = __uint_as_float(b);
    const int small = f < 0.70710678f;
    e -= small;
    f = small ? __fadd_rn(__fadd_rn(f, f), -1.0f) : __fadd_rn(f, -1.0f);
    const float z = __fmul_rn(f, f);
    float p = 7.0376836292e-2f;
    p = __fadd_rn(__fmul_rn(p, f), -1.1514610310e-1f);
    p = __fadd_rn(__fmul_rn(p, f), 1.1676998740e-1f);
    p = __fadd_rn(__fmul_rn(p, f), -1.2420140846e-1f);
    p = __fadd_rn(__fmul_rn(p, f), 1.4249322787e-1f);
    p = __fadd_rn(__fmul_rn(p, f), -1.6668057665e-1f);
    p = __fadd_rn(__fmul_rn(p, f), 2.0000714765e-1f);
    p = __fadd_rn(__fmul_rn(p, f), -2.4999993993e-1f);
    p = __fadd_rn(__fmul_rn(p, f), 3.3333331174e-1f);
    p = __fmul_rn(__fmul_rn(p, f), z);
    const float fe = (float)e;
    p = __fadd_rn(p, __fmul_rn(-2.12194440e-4f, fe));
    p = __fadd_rn(p, __fmul_rn(-0.5f, z));
    const float ln = __fadd_rn(__fadd_rn(f, p), __fmul_rn(0.693359375f, fe));
    return __fmul_rn(10.0f, __fmul_rn(ln, 0.43429448190325182765f));
}

/* One block per clip: dB in place and the clip's peak, then the floor. The maximum is exact
 * whatever the reduction order. */
__global__ void db_kernel(float *__restrict__ mel, const int *__restrict__ T, int max_frames, int n_mels, float amin,
                          float top_db) {
    __shared__ float peak_s[THREADS];
    const int c = blockIdx.x;
    float *m = mel + (size_t)c * max_frames * n_mels;
    const size_t count = (size_t)T[c] * n_mels;
    float peak = -FLT_MAX; /* as the CPU */
    for (size_t i = threadIdx.x; i < count; i += blockDim.x) {
        const float x = m[i];
        const float d = db_of(x > amin ? x : amin);
        m[i] = d;
        peak = d > peak ? d : peak;
    }
    peak_s[threadIdx.x] = peak;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) {
            const float o = peak_s[threadIdx.x + w];
            if (o > peak_s[threadIdx.x]) peak_s[threadIdx.x] = o;
        }
        __syncthreads();
    }
    const float floor_db = __fadd_rn(peak_s[0], -top_db);
    for (size_t i = threadIdx.x; i < count; i += blockDim.x)
        if (m[i] < floor_db) m[i] = floor_db;
}

__global__ void gather_kernel(float *__restrict__ out, const float *__restrict__ dct_out, const int *__restrict__ T,
                              int nclips, int max_frames, int n_mfcc, int frames) {
    const size_t total = (size_t)nclips * n_mfcc * frames, rows = (size_t)nclips * max_frames;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int t = (int)(i % (size_t)frames);
        const size_t ck = i / (size_t)frames;
        const int k = (int)(ck % (size_t)n_mfcc), c = (int)(ck / (size_t)n_mfcc);
        out[i] = t < T[c] ? dct_out[(size_t)k * rows + (size_t)c * max_frames + t] : 0.0f;
    }
}

} // namespace

extern "C" cudaError_t ser_k_mfcc_frames(float *frames, const float *audio, size_t audio_stride, const int *len,
                                         const float *window, int nclips, int max_frames, int n_fft, int hop,
                                         cudaStream_t s) {
    const size_t rows = (size_t)nclips * max_frames;
    if (rows == 0) return cudaGetLastError();
    if (rows > 0x7fffffffu) return cudaErrorInvalidValue;
    frames_kernel<<<(unsigned)rows, THREADS, 0, s>>>(frames, audio, audio_stride, len, window, max_frames, n_fft, hop);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_mfcc_power(float *power, const cufftComplex *spec, size_t n, cudaStream_t s) {
    if (n == 0) return cudaGetLastError();
    power_kernel<<<grid_for(n), THREADS, 0, s>>>(power, spec, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_mfcc_db(float *mel, const int *T, int nclips, int max_frames, int n_mels, float amin,
                                     float top_db, cudaStream_t s) {
    if (nclips <= 0) return cudaGetLastError();
    db_kernel<<<(unsigned)nclips, THREADS, 0, s>>>(mel, T, max_frames, n_mels, amin, top_db);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_mfcc_gather(float *out, const float *dct_out, const int *T, int nclips, int max_frames,
                                         int n_mfcc, int frames, cudaStream_t s) {
    const size_t total = (size_t)nclips * n_mfcc * frames;
    if (total == 0) return cudaGetLastError();
    gather_kernel<<<grid_for(total), THREADS, 0, s>>>(out, dct_out, T, nclips, max_frames, n_mfcc, frames);
    return cudaGetLastError();
}
