/* Softmax + categorical cross-entropy (host/model/layers/softmax_xent.c, kernels.h): the CPU's double
 * log-sum-exp per sample, the loss the batch mean. One block: thread i owns samples i, i + 256,
 * ..., summing their losses in order, and thread 0 adds the 256 partials in order; for B <= 256
 * that is exactly the CPU's sample order. Only exp/log may differ from glibc's in the last bits.
 * An out-of-range label makes the loss NaN (the CPU asserts). */
#include <math.h>

#include "kernels.h"
#include "launch.cuh"
#include "layers/softmax_elem.h"

#define XENT_THREADS 256

static __global__ void __launch_bounds__(XENT_THREADS) k_softmax_xent_fwd(float *probs, float *xent,
                                                                          const float *logits,
                                                                          const int32_t *labels, const int32_t *labels2,
                                                                          const float *lam, int B, int C, float ls) {
    __shared__ double part[XENT_THREADS];
    double total = 0.0;
    for (int b = threadIdx.x; b < B; b += blockDim.x) {
        const int32_t l = labels ? labels[b] : -1;
        const double loss = softmax_xent_row(probs + (size_t)b * C, logits + (size_t)b * C, C, l,
                                             labels2 ? labels2[b] : l, lam ? lam[b] : 1.0f, ls);
        if (labels) total += loss;
    }
    part[threadIdx.x] = total;
    __syncthreads();
    if (labels && threadIdx.x == 0) {
        double t = 0.0;
        for (int i = 0; i < XENT_THREADS; i++) t += part[i];
        *xent = (float)(t / B);
    }
}

extern "C" cudaError_t ser_k_softmax_xent_fwd(float *probs, float *xent, const float *logits, const int32_t *labels,
                                              const int32_t *labels2, const float *lam, int B, int C, float ls,
                                              cudaStream_t s) {
    if (B < 1 || C < 1) return cudaErrorInvalidValue;
    k_softmax_xent_fwd<<<1, XENT_THREADS, 0, s>>>(probs, xent, logits, labels, labels2, lam, B, C, ls);
    return cudaGetLastError();
}

/* dlogits = (probs - y) / B as the CPU: (p - softmax_xent_target) * (1.0f / B) */
static __global__ void k_softmax_xent_bwd(float *dlogits, const float *probs, const int32_t *labels,
                                          const int32_t *labels2, const float *lam, int C, float ls, float inv_b,
                                          size_t n) {
    SER_GRID_LOOP(i, n) {
        const size_t b = i / (size_t)C;
        const int c = (int)(i % (size_t)C);
        dlogits[i] = (probs[i] - softmax_xent_target(c, labels[b], labels2 ? labels2[b] : labels[b],
                                                     lam ? lam[b] : 1.0f, ls, C)) * inv_b;
    }
}

extern "C" cudaError_t ser_k_softmax_xent_bwd(float *dlogits, const float *probs, const int32_t *labels,
                                              const int32_t *labels2, const float *lam, int B, int C, float ls,
                                              cudaStream_t s) {
    if (B < 1 || C < 1) return cudaErrorInvalidValue;
    const size_t n = (size_t)B * C;
    k_softmax_xent_bwd<<<ser_grid(n), SER_BLOCK, 0, s>>>(dlogits, probs, labels, labels2, lam, C, ls, 1.0f / (float)B, n);
    return cudaGetLastError();
}
