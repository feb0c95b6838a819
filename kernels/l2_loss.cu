/* The L2 kernel regulariser (host/model/layers/l2.c) and the loss total of host/model/model.c (kernels.h).
 * l2_term: one block, thread i sums w[i], w[i + 1024], ... squared in double, then a fixed tree:
 * deterministic; it differs from the CPU's sequential double sum only in the last double bits,
 * before the cast to float. (One block is enough for conv kernels: 37k floats at 64 x 64 x 3 x 3.) */
#include "kernels.h"
#include "launch.cuh"
#include "ser/hd.h"

#define L2_THREADS 1024

static __global__ void __launch_bounds__(L2_THREADS) k_l2_term(float *term, const float *w, size_t n, float l2) {
    __shared__ double part[L2_THREADS];
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += L2_THREADS) s = SER_DADD(s, SER_DMUL((double)w[i], (double)w[i]));
    part[threadIdx.x] = s;
    __syncthreads();
    for (int h = L2_THREADS / 2; h > 0; h /= 2) {
        if ((int)threadIdx.x < h) part[threadIdx.x] += part[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) *term = (float)((double)l2 * part[0]);
}

extern "C" cudaError_t ser_k_l2_term(float *term, const float *w, size_t n, float l2, cudaStream_t s) {
    k_l2_term<<<1, L2_THREADS, 0, s>>>(term, w, n, l2);
    return cudaGetLastError();
}

/* dw += k w with k = 2 l2 in float, unfused as the CPU's dw[i] += k * w[i] */
static __global__ void k_l2_grad(float *dw, const float *w, size_t n, float k) {
    SER_GRID_LOOP(i, n) dw[i] = SER_FADD(dw[i], SER_FMUL(k, w[i]));
}

extern "C" cudaError_t ser_k_l2_grad(float *dw, const float *w, size_t n, float l2, cudaStream_t s) {
    k_l2_grad<<<ser_grid(n), SER_BLOCK, 0, s>>>(dw, w, n, 2.0f * l2);
    return cudaGetLastError();
}

/* The CPU model's loss: l2 = 0.0; l2 += term_i (double, in order); loss = (float)(xent + l2). */
static __global__ void k_loss_total(float *loss, const float *xent, const float *terms, int n) {
    double l2 = 0.0;
    for (int i = 0; i < n; i++) l2 += terms[i];
    *loss = (float)((double)*xent + l2);
}

extern "C" cudaError_t ser_k_loss_total(float *loss, const float *xent, const float *terms, int n, cudaStream_t s) {
    if (n < 0) return cudaErrorInvalidValue;
    k_loss_total<<<1, 1, 0, s>>>(loss, xent, terms, n);
    return cudaGetLastError();
}
