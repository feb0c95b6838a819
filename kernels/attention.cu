/* Additive attention over time (host/model/layers/attention.c, kernels.h):
 *   u = tanh(x W + b) (B,T,A);  s = u U (B,T);  a = softmax_t(s);  out = sum_t a_t x_t (B,D).
 * The CPU's expressions in its order: double accumulators over d, k and t, products and sums
 * unfused (SER_DMUL/SER_DADD, ser/hd.h) as the host rounds them; only tanhf/exp may differ from
 * glibc's in the last bits. One block per sample; the per-t doubles (scores, da, ds) live in
 * dynamic shared memory, so T <= ATT_MAX_T.
 *
 * Backward: each (sample, t) writes its terms of dW, db, dU into the scratch; a second kernel
 * adds them over (b, t) in the CPU's order (float, b-major), so the parameter gradients need no
 * atomics and have the CPU's bits when the terms do. dx is written directly. */
#include <math.h>

#include "kernels.h"
#include "launch.cuh"
#include "ser/hd.h"

#define ATT_THREADS 256
#define ATT_MAX_T 2048 /* 2 T doubles of shared memory: 32 KiB */

/* acc + a b with the two roundings of the CPU */
static __device__ __forceinline__ double dmadd(double acc, double a, double b) { return SER_DADD(acc, SER_DMUL(a, b)); }

static __global__ void __launch_bounds__(ATT_THREADS) k_attention_fwd(float *out, float *u, float *a, const float *x,
                                                                      const float *W, const float *bias,
                                                                      const float *U, int T, int D, int A) {
    extern __shared__ double att_sh[]; /* scores s_t (T) */
    const size_t bi = blockIdx.x;
    const float *xb = x + bi * T * D;
    float *ub = u + bi * T * A, *ab = a + bi * T;
    /* u[t][k] = tanhf(b[k] + sum_d x[t][d] W[d][k]) */
    for (int i = threadIdx.x; i < T * A; i += blockDim.x) {
        const int t = i / A, k = i % A;
        const float *xt = xb + (size_t)t * D;
        double z = bias[k];
        for (int d = 0; d < D; d++) z = dmadd(z, xt[d], W[(size_t)d * A + k]);
        ub[i] = tanhf((float)z);
    }
    __syncthreads(); /* u (global) is visible to the whole block */
    for (int t = threadIdx.x; t < T; t += blockDim.x) {
        const float *ut = ub + (size_t)t * A;
        double s = 0.0;
        for (int k = 0; k < A; k++) s = dmadd(s, ut[k], U[k]);
        att_sh[t] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        /* the CPU keeps the max of the double scores but softmaxes the float-rounded ones */
        double smax = -INFINITY;
        for (int t = 0; t < T; t++)
            if (att_sh[t] > smax) smax = att_sh[t];
        double sum = 0.0;
        for (int t = 0; t < T; t++) sum += exp((double)(float)att_sh[t] - smax);
        for (int t = 0; t < T; t++) ab[t] = (float)(exp((double)(float)att_sh[t] - smax) / sum);
    }
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        double o = 0.0;
        for (int t = 0; t < T; t++) o = dmadd(o, ab[t], xb[(size_t)t * D + d]);
        out[bi * D + d] = (float)o;
    }
}

/* Scratch rows, one per (b, t): [dW terms (D*A) | db terms (A) | dU terms (A)]. */
static __host__ __device__ size_t att_row(int D, int A) { return (size_t)D * A + 2 * (size_t)A; }

extern "C" size_t ser_k_attention_scratch(int B, int T, int D, int A) {
    return (size_t)B * T * att_row(D, A);
}

static int att_shape_ok(int B, int T, int D, int A) {
    return B >= 0 && T >= 1 && T <= ATT_MAX_T && D >= 1 && A >= 1 && (long long)T * A <= INT32_MAX &&
           (long long)T * D <= INT32_MAX;
}

extern "C" cudaError_t ser_k_attention_fwd(float *out, float *u, float *a, const float *x, const float *W,
                                           const float *b, const float *U, int B, int T, int D, int A,
                                           cudaStream_t s) {
    if (!att_shape_ok(B, T, D, A)) return cudaErrorInvalidValue;
    if (B == 0) return cudaGetLastError();
    k_attention_fwd<<<(unsigned)B, ATT_THREADS, (size_t)T * sizeof(double), s>>>(out, u, a, x, W, b, U, T, D, A);
    return cudaGetLastError();
}

/* Per sample: da_t = <dout, x_t>; ds_t = a_t (da_t - sum_t' a_t' da_t'); then per (t, k)
 * dpre = ds U[k] (1 - u^2) and the terms dU = ds u, db = dpre, dW[d][k] = x[t][d] dpre[k];
 * dx[t][d] = a_t dout[d] + sum_k dpre[k] W[d][k]. */
static __global__ void __launch_bounds__(ATT_THREADS) k_attention_bwd_terms(float *dx, float *scratch, const float *dout,
                                                                            const float *x, const float *u,
                                                                            const float *a, const float *W,
                                                                            const float *U, int T, int D, int A) {
    extern __shared__ double att_sh[]; /* da (T), then ds (T) */
    double *da = att_sh, *ds = att_sh + T;
    const size_t bi = blockIdx.x, row = att_row(D, A);
    const float *xb = x + bi * T * D, *ub = u + bi * T * A, *ab = a + bi * T, *go = dout + bi * D;
    float *sb = scratch + bi * T * row;
    for (int t = threadIdx.x; t < T; t += blockDim.x) {
        const float *xt = xb + (size_t)t * D;
        double s = 0.0;
        for (int d = 0; d < D; d++) s = dmadd(s, go[d], xt[d]);
        da[t] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double mean = 0.0;
        for (int t = 0; t < T; t++) mean = dmadd(mean, ab[t], da[t]);
        for (int t = 0; t < T; t++) ds[t] = SER_DMUL((double)ab[t], SER_DSUB(da[t], mean));
    }
    __syncthreads();
    for (int i = threadIdx.x; i < T * A; i += blockDim.x) {
        const int t = i / A, k = i % A;
        const double ut = ub[i];
        float *st = sb + (size_t)t * row;
        st[(size_t)D * A + A + k] = (float)SER_DMUL(ds[t], ut); /* dU */
        /* ds U[k] (1 - u^2), left to right as the CPU */
        st[(size_t)D * A + k] = (float)SER_DMUL(SER_DMUL(ds[t], (double)U[k]), SER_DSUB(1.0, SER_DMUL(ut, ut)));
    }
    __syncthreads(); /* dpre (the db terms, global) is visible to the whole block */
    for (int i = threadIdx.x; i < T * D; i += blockDim.x) {
        const int t = i / D, d = i % D;
        const float *dpre = sb + (size_t)t * row + (size_t)D * A;
        const float *wd = W + (size_t)d * A;
        double s = SER_DMUL((double)ab[t], (double)go[d]); /* the direct path out = sum_t a_t x_t */
        for (int k = 0; k < A; k++) s = dmadd(s, dpre[k], wd[k]);
        dx[bi * T * D + i] = (float)s;
    }
    for (size_t i = threadIdx.x; i < (size_t)T * D * A; i += blockDim.x) {
        const size_t t = i / ((size_t)D * A), dk = i % ((size_t)D * A), d = dk / A, k = dk % A;
        float *st = sb + t * row;
        st[dk] = SER_FMUL(xb[t * D + d], st[(size_t)D * A + k]); /* dW term, a float product as the CPU */
    }
}

/* dW | db | dU element j = the float sum of its R = B*T terms in (b, t) order, from 0. */
static __global__ void k_attention_bwd_sum(float *dW, float *db, float *dU, const float *scratch, size_t R, int D,
                                           int A) {
    const size_t row = att_row(D, A), DA = (size_t)D * A;
    SER_GRID_LOOP(j, row) {
        float acc = 0.0f;
        for (size_t r = 0; r < R; r++) acc += scratch[r * row + j];
        if (j < DA) dW[j] = acc;
        else if (j < DA + A) db[j - DA] = acc;
        else dU[j - DA - A] = acc;
    }
}

extern "C" cudaError_t ser_k_attention_bwd(float *dx, float *dW, float *db, float *dU, float *scratch,
                                           const float *dout, const float *x, const float *u, const float *a,
                                           const float *W, const float *U, int B, int T, int D, int A,
                                           cudaStream_t s) {
    if (!att_shape_ok(B, T, D, A)) return cudaErrorInvalidValue;
    if (B > 0)
        k_attention_bwd_terms<<<(unsigned)B, ATT_THREADS, 2 * (size_t)T * sizeof(double), s>>>(dx, scratch, dout, x, u,
                                                                                               a, W, U, T, D, A);
    k_attention_bwd_sum<<<ser_grid(att_row(D, A)), SER_BLOCK, 0, s>>>(dW, db, dU, scratch, (size_t)B * T, D, A);
    return cudaGetLastError();
}
