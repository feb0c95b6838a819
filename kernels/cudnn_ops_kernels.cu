/* Small kernels behind kernels/cudnn_ops.h: filter transposes, the Keras moving-statistics update
 * and ser's own batch norm for shapes cuDNN has no engine for (see cudnn_ops_kernels.h).
 * Float expressions follow host/model/layers/batchnorm.c; products and sums that the CPU rounds one
 * at a time use __fmul_rn / __fadd_rn so that nvcc's FMA contraction does not change the bits. */
#include <math.h>
#include <stdint.h>

#include "cudnn_ops_kernels.h"

static unsigned blocks_for(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b > 65535u * 16u ? 65535u * 16u : (b ? b : 1));
}

/* ---- the convolution fallback's im2col / col2im (cudnn_ops_kernels.h) ------------------------ */

__global__ void k_im_to_cols(float *cols, const float *x, int B, int H, int W, int Cin, int K) {
    const size_t kc = (size_t)K * K * Cin, n = (size_t)B * H * W * kc;
    const int pad = (K - 1) / 2;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const size_t r = i / kc, j = i % kc;
        const int ci = (int)(j % Cin), kx = (int)(j / Cin % K), ky = (int)(j / Cin / K);
        const int xx = (int)(r % W) + kx - pad, yy = (int)(r / W % H) + ky - pad;
        const size_t b = r / ((size_t)W * H);
        cols[i] = yy >= 0 && yy < H && xx >= 0 && xx < W ? x[((b * H + yy) * W + xx) * Cin + ci] : 0.0f;
    }
}

__global__ void k_cols_to_im(float *dx, const float *dcols, int B, int H, int W, int Cin, int K) {
    const size_t kc = (size_t)K * K * Cin, n = (size_t)B * H * W * Cin;
    const int pad = (K - 1) / 2;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const int ci = (int)(i % Cin), x0 = (int)(i / Cin % W), y0 = (int)(i / Cin / W % H);
        const size_t b = i / ((size_t)Cin * W * H);
        float s = 0.0f;
        for (int ky = 0; ky < K; ky++) {
            const int yy = y0 - ky + pad; /* the output row whose window reads (y0, x0) at tap ky */
            if (yy < 0 || yy >= H) continue;
            for (int kx = 0; kx < K; kx++) {
                const int xx = x0 - kx + pad;
                if (xx < 0 || xx >= W) continue;
                s += dcols[((b * H + yy) * W + xx) * kc + ((size_t)ky * K + kx) * Cin + ci];
            }
        }
        dx[i] = s;
    }
}

extern "C" cudaError_t ser_k_im2col(float *cols, const float *x, int B, int H, int W, int Cin, int K, cudaStream_t s) {
    if (B < 1 || H < 1 || W < 1 || Cin < 1 || K < 1 || K % 2 == 0) return cudaErrorInvalidValue;
    const size_t n = (size_t)B * H * W * K * K * Cin;
    k_im_to_cols<<<blocks_for(n, 256), 256, 0, s>>>(cols, x, B, H, W, Cin, K);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_col2im(float *dx, const float *dcols, int B, int H, int W, int Cin, int K, cudaStream_t s) {
    if (B < 1 || H < 1 || W < 1 || Cin < 1 || K < 1 || K % 2 == 0) return cudaErrorInvalidValue;
    const size_t n = (size_t)B * H * W * Cin;
    k_cols_to_im<<<blocks_for(n, 256), 256, 0, s>>>(dx, dcols, B, H, W, Cin, K);
    return cudaGetLastError();
}

/* ---- filter layouts ------------------------------------------------------------------------- */

/* HWIO index ((r K + s) Cin + ci) Cout + co  <->  KRSC index ((co K + r) K + s) Cin + ci. */
__global__ void k_hwio_krsc(float *dst, const float *src, int K, int Cin, int Cout, int to_krsc) {
    const size_t n = (size_t)K * K * Cin * Cout;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        /* i indexes the HWIO element */
        const int co = (int)(i % Cout);
        size_t t = i / Cout;
        const int ci = (int)(t % Cin);
        t /= Cin;
        const int sx = (int)(t % K), r = (int)(t / K);
        const size_t j = (((size_t)co * K + r) * K + sx) * Cin + ci;
        if (to_krsc) dst[j] = src[i];
        else dst[i] = src[j];
    }
}

extern "C" cudaError_t ser_k_hwio_to_krsc(float *krsc, const float *hwio, int K, int Cin, int Cout, cudaStream_t s) {
    const size_t n = (size_t)K * K * Cin * Cout;
    k_hwio_krsc<<<blocks_for(n, 256), 256, 0, s>>>(krsc, hwio, K, Cin, Cout, 1);
    return cudaGetLastError();
}

extern "C" cudaError_t ser_k_krsc_to_hwio(float *hwio, const float *krsc, int K, int Cin, int Cout, cudaStream_t s) {
    const size_t n = (size_t)K * K * Cin * Cout;
    k_hwio_krsc<<<blocks_for(n, 256), 256, 0, s>>>(hwio, krsc, K, Cin, Cout, 0);
    return cudaGetLastError();
}

/* ---- moving statistics ---------------------------------------------------------------------- */

__global__ void k_bn_moving(float *mm, float *mv, const float *mean, const float *rstd, int C, float momentum,
                            float one_m, float eps) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double r = (double)rstd[c];
    double var = 1.0 / (r * r) - (double)eps; /* the biased batch variance cuDNN normalised with */
    if (var < 0.0) var = 0.0;
    mm[c] = (float)((double)mm[c] * (double)momentum + (double)mean[c] * (double)one_m);
    mv[c] = (float)((double)mv[c] * (double)momentum + var * (double)one_m);
}

extern "C" cudaError_t ser_k_bn_moving_update(float *moving_mean, float *moving_var, const float *mean,
                                              const float *rstd, int C, float momentum, float one_m, float eps,
                                              cudaStream_t s) {
    k_bn_moving<<<(C + 127) / 128, 128, 0, s>>>(moving_mean, moving_var, mean, rstd, C, momentum, one_m, eps);
    return cudaGetLastError();
}

__global__ void k_bn_inv_std(float *inv, const float *mv, int C, float eps) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < C) inv[c] = (float)(1.0 / sqrt((double)mv[c] + (double)eps));
}

extern "C" cudaError_t ser_k_bn_inv_std(float *inv, const float *moving_var, int C, float eps, cudaStream_t s) {
    k_bn_inv_std<<<(C + 127) / 128, 128, 0, s>>>(inv, moving_var, C, eps);
    return cudaGetLastError();
}

/* ---- ser's batch norm ----------------------------------------------------------------------- */

static __device__ size_t group_lo(int N, int G, int g) { return (size_t)((long long)N * g / G); }

/* Block g sums its rows, thread per channel (coalesced across a row): part[g][0][c], part[g][1][c].
 * mode 0 (training stats): d = x - x[row 0], sums of d and d^2.
 * mode 1 (backward): sums of dy and dy (x - mean). */
__global__ void k_bn_partials(double *part, const float *a, const float *b, const float *mean, int N, int C, int G,
                              int mode) {
    const int g = blockIdx.x;
    const size_t lo = group_lo(N, G, g), hi = group_lo(N, G, g + 1);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        double s0 = 0.0, s1 = 0.0;
        if (mode == 0) {
            const double shift = (double)a[c];
            for (size_t r = lo; r < hi; r++) {
                const double d = (double)a[r * C + c] - shift;
                s0 += d;
                s1 += d * d;
            }
        } else {
            const double m = (double)mean[c];
            for (size_t r = lo; r < hi; r++) {
                const double gy = (double)a[r * C + c];
                s0 += gy;
                s1 += gy * ((double)b[r * C + c] - m);
            }
        }
        part[((size_t)g * 2 + 0) * C + c] = s0;
        part[((size_t)g * 2 + 1) * C + c] = s1;
    }
}

static int bn_groups(int N) { return N < SER_BN_GROUPS ? N : SER_BN_GROUPS; }

/* coef = [scale (C), shift (C)]. */
__global__ void k_bn_train_final(float *mean, float *rstd, float *mm, float *mv, float *coef, const double *part,
                                 const float *x, const float *gamma, const float *beta, int N, int C, int G,
                                 float momentum, float one_m, float eps) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0.0, q = 0.0;
    for (int g = 0; g < G; g++) {
        s += part[((size_t)g * 2 + 0) * C + c];
        q += part[((size_t)g * 2 + 1) * C + c];
    }
    const double md = s / N, m = md + (double)x[c];
    double var = q / N - md * md;
    if (var < 0.0) var = 0.0;
    const double rs = 1.0 / sqrt(var + (double)eps);
    mean[c] = (float)m;
    rstd[c] = (float)rs;
    mm[c] = (float)((double)mm[c] * (double)momentum + m * (double)one_m);
    mv[c] = (float)((double)mv[c] * (double)momentum + var * (double)one_m);
    coef[c] = (float)(rs * gamma[c]);
    coef[C + c] = (float)(beta[c] - m * rs * gamma[c]);
}

extern "C" cudaError_t ser_k_bn_train_stats(float *mean, float *rstd, float *moving_mean, float *moving_var,
                                            float *coef, double *part, const float *x, const float *gamma,
                                            const float *beta, int N, int C, float momentum, float one_m, float eps,
                                            cudaStream_t s) {
    const int G = bn_groups(N);
    k_bn_partials<<<G, 64, 0, s>>>(part, x, NULL, NULL, N, C, G, 0);
    const int cb = (C + 63) / 64;
    k_bn_train_final<<<cb, 64, 0, s>>>(mean, rstd, moving_mean, moving_var, coef, part, x, gamma, beta, N, C, G, momentum, one_m, eps);
    return cudaGetLastError();
}

__global__ void k_bn_infer_coef(float *coef, const float *gamma, const float *beta, const float *mm, const float *mv,
                                int C, float eps) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double inv = gamma[c] / sqrt((double)mv[c] + (double)eps);
    coef[c] = (float)inv;
    coef[C + c] = (float)(beta[c] - mm[c] * inv);
}

extern "C" cudaError_t ser_k_bn_infer_coef(float *coef, const float *gamma, const float *beta,
                                           const float *moving_mean, const float *moving_var, int C, float eps,
                                           cudaStream_t s) {
    k_bn_infer_coef<<<(C + 63) / 64, 64, 0, s>>>(coef, gamma, beta, moving_mean, moving_var, C, eps);
    return cudaGetLastError();
}

__global__ void k_bn_apply(float *y, const float *x, const float *coef, size_t n, int C) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % C);
        y[i] = __fadd_rn(__fmul_rn(x[i], coef[c]), coef[C + c]);
    }
}

extern "C" cudaError_t ser_k_bn_apply(float *y, const float *x, const float *coef, int N, int C, cudaStream_t s) {
    const size_t n = (size_t)N * C;
    k_bn_apply<<<blocks_for(n, 256), 256, 0, s>>>(y, x, coef, n, C);
    return cudaGetLastError();
}

/* coef = [k = gamma rstd, a = dbeta / N, bb = rstd dgamma / N] (C each), as the CPU rounds them. */
__global__ void k_bn_bwd_final(float *dgamma, float *dbeta, float *coef, const double *part, const float *rstd,
                               const float *gamma, int N, int C, int G) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double sd = 0.0, sdx = 0.0;
    for (int g = 0; g < G; g++) {
        sd += part[((size_t)g * 2 + 0) * C + c];
        sdx += part[((size_t)g * 2 + 1) * C + c];
    }
    sdx *= rstd[c];
    dbeta[c] = (float)sd;
    dgamma[c] = (float)sdx;
    coef[c] = __fmul_rn(gamma[c], rstd[c]);
    coef[C + c] = (float)(sd / N);
    coef[2 * C + c] = (float)(sdx / N * rstd[c]);
}

__global__ void k_bn_bwd_dx(float *dx, const float *dy, const float *x, const float *mean, const float *coef,
                            size_t n, int C) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % C);
        /* k (dy - a - (x - mean) bb), rounded step by step as the CPU */
        const float xm = __fmul_rn(__fsub_rn(x[i], mean[c]), coef[2 * C + c]);
        dx[i] = __fmul_rn(coef[c], __fsub_rn(__fsub_rn(dy[i], coef[C + c]), xm));
    }
}

extern "C" cudaError_t ser_k_bn_backward(float *dx, float *dgamma, float *dbeta, float *coef, double *part,
                                         const float *dy, const float *x, const float *mean, const float *rstd,
                                         const float *gamma, int N, int C, cudaStream_t s) {
    const int G = bn_groups(N);
    k_bn_partials<<<G, 64, 0, s>>>(part, dy, x, mean, N, C, G, 1);
    k_bn_bwd_final<<<(C + 63) / 64, 64, 0, s>>>(dgamma, dbeta, coef, part, rstd, gamma, N, C, G);
    const size_t n = (size_t)N * C;
    k_bn_bwd_dx<<<blocks_for(n, 256), 256, 0, s>>>(dx, dy, x, mean, coef, n, C);
    return cudaGetLastError();
}
