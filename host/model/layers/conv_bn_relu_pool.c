/* The first block fused: Conv2D with few taps + BatchNorm + ReLU + MaxPool2D (+ dropout), the
 * conv output recomputed where it is needed instead of stored (contract in layers.h).
 *
 * Why: the network's first conv reads a one-channel (B,40,130,1) input, 9 taps per output, and
 * writes a (B,40,130,64) tensor, 85 MB at batch 64. Stored, that tensor is written by the conv,
 * read by the BN statistics, read again by the fused BN/ReLU/pool, and in backward its gradient
 * (another 85 MB) is written and read back by the weight gradient: ~0.4 GB of memory traffic a
 * step for 6 MFLOP of arithmetic a clip, which made block 1 a third of the epoch. Recomputing a
 * conv row costs 9 multiply-adds per element from an input row that sits in L1, so each pass
 * here recomputes the rows it needs into a per-thread tile (P rows, (P, W, C) floats) and never
 * touches a (B,H,W,C) buffer. Forward: the batch statistics come from the input's patch moments
 * (the conv is linear: no conv at all), then one pass recomputes, normalises, pools and drops
 * out. Backward: no conv either: the weight gradient splits into the routed pooled gradient's
 * tap sums (one pass over the pooled rows, which also takes BN's own sums) and terms of the
 * patch moments (conv_bn_relu_pool_backward).
 *
 * The conv is the same function as conv2d_forward (stride 1, "same", kernel (K,K,Cin,C)):
 * out = bias + sum over taps (ky, kx, ci) of in * kernel, taps in that order, the padding
 * taps contributing 0. Its float sums are not conv2d_forward's (oneDNN or the im2col
 * GEMM order their sums differently), so results agree to rounding, not bit for bit; they are
 * deterministic and independent of the thread count (every sum over rows runs in fixed groups). */
#include <string.h>

#include "layers/bn_relu_pool_rows.h"
#include "layers/layers.h"
#include "layers/pool_window.h"
#include "layers/v16.h"
#include "ser/error.h"

#define CBRP_MAX_TAPS 64            /* Cin * K * K: beyond this a stored im2col conv is the better plan */
#define CBRP_MAX_TILE (256 * 1024)  /* floats of a per-thread tile (P, W, C) on the stack: 1 MB */
#define CBRP_GROUPS 16              /* fixed groups of rows for every sum: thread-count independent */
#define CBRP_MAX_K 7                /* the vector backward keeps K x K tap sums in registers */
#define CBRP_MAX_PART 8192          /* (taps + 3) x C doubles per group of the backward's sums (stack) */

int conv_bn_relu_pool_fits(int W, int Cin, int C, int K, int P) {
    const int T = Cin * K * K;
    return Cin >= 1 && K >= 1 && P >= 1 && C >= 1 && C <= BRP_MAX_C && T <= CBRP_MAX_TAPS &&
           (size_t)P * W * C <= CBRP_MAX_TILE && (T + 3) * C <= CBRP_MAX_PART;
}

/* The taps of output position (y, x) of image b: patch[t], t = (ky K + kx) Cin + ci (the
 * kernel's row order), 0 where the tap falls in the padding (its product adds nothing). */
static inline void conv_patch(float *patch, const float *in, int b, int y, int x, int H, int W, int Cin, int K) {
    const int p = K / 2;
    int t = 0;
    for (int ky = 0; ky < K; ky++) {
        const int iy = y + ky - p;
        for (int kx = 0; kx < K; kx++) {
            const int ix = x + kx - p;
            const int inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
            const float *src = in + (((size_t)b * H + (inside ? iy : 0)) * W + (inside ? ix : 0)) * Cin;
            for (int ci = 0; ci < Cin; ci++, t++) patch[t] = inside ? src[ci] : 0.0f;
        }
    }
}

/* ---- one input channel (the network's input), C a multiple of 16: explicit 16-float vectors
 * (GCC/Clang vector extensions: AVX-512 registers with -march=native, pairs of AVX2 ones or
 * SSE quadruples elsewhere), 64 channels at a time so the accumulators stay in registers. The
 * input rows are first copied into a zero-padded strip, so no tap needs a bounds test. ---- */

/* strip (n + K - 1, W + K - 1, Cin): input rows y0 - p .. y0 + n - 1 + p of image b, zero outside. */
static void pad_strip(float *strip, const float *in, int b, int y0, int n, int H, int W, int Cin, int K) {
    const int p = K / 2;
    const size_t row = (size_t)(W + K - 1) * Cin;
    for (int r = 0; r < n + K - 1; r++) {
        float *dst = strip + (size_t)r * row;
        const int iy = y0 - p + r;
        memset(dst, 0, row * sizeof *dst);
        if (iy >= 0 && iy < H) memcpy(dst + (size_t)p * Cin, in + ((size_t)b * H + iy) * W * Cin, (size_t)W * Cin * sizeof *dst);
    }
}

/* tile rows [0, n) x channels [cb, cb + 16 NV) from the strip, two positions at a time: each
 * accumulator is a chain of K*K dependent adds, so two positions' 2 NV chains keep the adder busy
 * where one position's NV chains would wait on its latency. */
static inline __attribute__((always_inline)) void conv1_chunk(float *tile, const float *strip, const float *kernel,
                                                              const float *bias, int n, int W, int C, int K, int cb,
                                                              const int NV) {
    const int Wp = W + K - 1;
    for (int r = 0; r < n; r++) {
        int x = 0;
        for (; x + 2 <= W; x += 2) {
            v16 a0[4], a1[4];
            for (int j = 0; j < NV; j++) a0[j] = a1[j] = V16(bias + cb + 16 * j);
            for (int ky = 0; ky < K; ky++) {
                const float *sr = strip + (size_t)(r + ky) * Wp + x;
                for (int kx = 0; kx < K; kx++) {
                    const float v0 = sr[kx], v1 = sr[kx + 1];
                    const float *wk = kernel + (size_t)(ky * K + kx) * C + cb;
                    for (int j = 0; j < NV; j++) {
                        const v16 w = V16(wk + 16 * j);
                        a0[j] += v0 * w;
                        a1[j] += v1 * w;
                    }
                }
            }
            float *o = tile + ((size_t)r * W + x) * C + cb;
            for (int j = 0; j < NV; j++) memcpy(o + 16 * j, &a0[j], sizeof a0[j]), memcpy(o + C + 16 * j, &a1[j], sizeof a1[j]);
        }
        for (; x < W; x++) {
            v16 acc[4];
            for (int j = 0; j < NV; j++) acc[j] = V16(bias + cb + 16 * j);
            for (int ky = 0; ky < K; ky++) {
                const float *sr = strip + (size_t)(r + ky) * Wp + x;
                for (int kx = 0; kx < K; kx++) {
                    const float v = sr[kx];
                    const float *wk = kernel + (size_t)(ky * K + kx) * C + cb;
                    for (int j = 0; j < NV; j++) acc[j] += v * V16(wk + 16 * j);
                }
            }
            float *o = tile + ((size_t)r * W + x) * C + cb;
            for (int j = 0; j < NV; j++) memcpy(o + 16 * j, &acc[j], sizeof acc[j]);
        }
    }
}

static int vector_path(int Cin, int C, int K) { return Cin == 1 && C % 16 == 0 && K <= CBRP_MAX_K; }

/* o (C) = bias + sum_t patch[t] kernel[t] (C): the general path. */
static void conv_point(float *o, const float *patch, const float *kernel, const float *bias, int T, int C) {
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = bias[c];
    for (int t = 0; t < T; t++) {
        const float v = patch[t];
        const float *wk = kernel + (size_t)t * C;
#pragma omp simd
        for (int c = 0; c < C; c++) o[c] += v * wk[c];
    }
}

/* Image rows [y0, y1) of image b into tile (y1 - y0, W, C); strip: (y1 - y0 + K - 1) (W + K - 1)
 * floats of scratch, left holding the padded input rows (the backward reuses them). */
static void conv_rows(float *tile, float *strip, const float *in, const float *kernel, const float *bias, int b,
                      int y0, int y1, int H, int W, int Cin, int C, int K) {
    const int n = y1 - y0;
    if (vector_path(Cin, C, K)) {
        pad_strip(strip, in, b, y0, n, H, W, 1, K);
        for (int cb = 0; cb < C; cb += 64) {
            const int nv = (C - cb) / 16 < 4 ? (C - cb) / 16 : 4;
            if (nv == 4 && K == 3) conv1_chunk(tile, strip, kernel, bias, n, W, C, 3, cb, 4); /* the reference */
            else if (nv == 4) conv1_chunk(tile, strip, kernel, bias, n, W, C, K, cb, 4);
            else if (nv == 3) conv1_chunk(tile, strip, kernel, bias, n, W, C, K, cb, 3);
            else if (nv == 2) conv1_chunk(tile, strip, kernel, bias, n, W, C, K, cb, 2);
            else conv1_chunk(tile, strip, kernel, bias, n, W, C, K, cb, 1);
        }
        return;
    }
    float patch[CBRP_MAX_TAPS];
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < W; x++) {
            conv_patch(patch, in, b, y, x, H, W, Cin, K);
            conv_point(tile + ((size_t)(y - y0) * W + x) * C, patch, kernel, bias, Cin * K * K, C);
        }
}

/* dacc (T + 1, C) += the weight and bias gradients of rows [y0, y1) of image b whose output
 * gradient is dtile: the general path (any Cin, C); the vector path has dconv1_routed. */
static void dconv_rows(float *dacc, const float *dtile, const float *in, int b, int y0, int y1, int H, int W, int Cin,
                       int C, int K) {
    const int T = Cin * K * K;
    float patch[CBRP_MAX_TAPS];
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < W; x++) {
            const float *dx = dtile + ((size_t)(y - y0) * W + x) * C;
            conv_patch(patch, in, b, y, x, H, W, Cin, K);
            for (int t = 0; t < T; t++) {
                const float v = patch[t];
                float *dst = dacc + (size_t)t * C;
#pragma omp simd
                for (int c = 0; c < C; c++) dst[c] += v * dx[c];
            }
#pragma omp simd
            for (int c = 0; c < C; c++) dacc[(size_t)T * C + c] += dx[c];
        }
}

/* dacc (T + 1, C) += sum over the positions of one pooled row's window rows of p_t g and of g,
 * g the routed gradient (brp_route_row's values, formed here in registers: the pooled gradient
 * gpool (Wo, C) where the position is its window's argmax, else 0). One input channel, C a
 * multiple of 16; 16 channels at a time with the K*K tap sums in registers. The sums run over
 * the positions in row order, as dconv_rows's would over a tile of g. */
static inline __attribute__((always_inline)) void dconv1_routed(float *dacc, const float *strip, const float *gpool,
                                                                const int32_t *argmax, size_t base, int n, int W,
                                                                int C, const int K, int P) {
    const int Wp = W + K - 1, px = pool_pad_before(W, P), T = K * K;
    const v16i iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int cb = 0; cb < C; cb += 16) {
        v16 s[CBRP_MAX_K * CBRP_MAX_K], sb = (v16){0};
        for (int t = 0; t < T; t++) s[t] = (v16){0};
        for (int r = 0; r < n; r++)
            for (int x = 0; x < W; x++) {
                const int ox = (x + px) / P;
                const size_t o = (size_t)ox * C + cb;
                const v16i idx = (v16i){0} + (int32_t)(base + ((size_t)r * W + x) * C + cb) + iota;
                const v16i hit = V16I(argmax + o) == idx; /* -1 where this position is the max */
                const v16 g = (v16)((v16i)V16(gpool + o) & hit);
                const float *sr = strip + (size_t)r * Wp + x;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++) s[ky * K + kx] += sr[(size_t)ky * Wp + kx] * g;
                sb += g;
            }
        for (int t = 0; t < T; t++)
            for (int l = 0; l < 16; l++) dacc[(size_t)t * C + cb + l] += s[t][l];
        for (int l = 0; l < 16; l++) dacc[(size_t)T * C + cb + l] += sb[l];
    }
}

/* Floats of the strip for n rows (one input channel; Cin times that for Cin). */
static size_t strip_size(int n, int W, int K) { return (size_t)(n + K - 1) * (W + K - 1); }

void conv_rows_forward(float *out, const float *in, const float *kernel, const float *bias, int B, int H, int W,
                       int Cin, int C, int K) {
    SER_ASSERT(conv_bn_relu_pool_fits(W, Cin, C, K, 1));
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H; y++) {
            float strip[strip_size(1, W, K)];
            conv_rows(out + ((size_t)b * H + y) * W * C, strip, in, kernel, bias, b, y, y + 1, H, W, Cin, C, K);
        }
}

/* Batch statistics of the conv output from the input's patch moments: the conv is linear,
 * x_c = bias_c + sum_t w_tc p_t, so over the N positions
 *   mean_c = bias_c + sum_t w_tc E[p_t],   var_c = sum_tu w_tc Cov(p_t, p_u) w_uc,
 * and the T x T patch covariance (T = K K Cin <= 64) comes from dot products of shifted input
 * rows: T (T + 1) / 2 of W terms per image row, instead of recomputing C outputs of T terms per
 * position (and summing them). All in double, the input shifted by in[0] first (covariances do
 * not change; the products stay free of cancellation when the input has a large mean). These
 * are the statistics of the exact conv output; the stored-tensor path takes them of its
 * float-rounded values (rel ~1e-7 apart). Rows in fixed groups: thread-count independent. */
/* S (T) += the row's tap sums, M (T x T, upper triangle) += its tap products; d: the shifted
 * strip. Tap t = (ky K + kx) Cin + ci reads d[ky row + (x + kx) Cin + ci], x = 0 .. W-1. */
static inline __attribute__((always_inline)) void moments_row(double *S, double *M, const double *d, int T, int W,
                                                              const int Cin, int K, size_t row) {
    for (int t = 0; t < T; t++) {
        const double *pt = d + (size_t)(t / Cin / K) * row + (size_t)(t / Cin % K) * Cin + t % Cin;
        double st = 0.0;
#pragma omp simd reduction(+ : st)
        for (int x = 0; x < W; x++) st += pt[(size_t)x * Cin];
        S[t] += st;
        for (int u = t; u < T; u++) {
            const double *pu = d + (size_t)(u / Cin / K) * row + (size_t)(u / Cin % K) * Cin + u % Cin;
            double m = 0.0;
#pragma omp simd reduction(+ : m)
            for (int x = 0; x < W; x++) m += pt[(size_t)x * Cin] * pu[(size_t)x * Cin];
            M[t * T + u] += m;
        }
    }
}

/* The patch moments over all B H W positions, the input shifted by s0: S (T) = sum p', M (T x T,
 * upper triangle) = sum p' p'^T, p' = p - s0, in double. Rows in fixed groups (thread-count
 * independent). */
static void patch_moments(double *S, double *M, const float *in, int B, int H, int W, int Cin, int K, double s0) {
    const int T = Cin * K * K, R = B * H, G = R < CBRP_GROUPS ? R : CBRP_GROUPS;
    const size_t ns = strip_size(1, W, K) * Cin, row = (size_t)(W + K - 1) * Cin;
    double part[G][T + T * T];
#pragma omp parallel for schedule(static)
    for (int gi = 0; gi < G; gi++) {
        double *Sg = part[gi], *Mg = part[gi] + T;
        memset(part[gi], 0, sizeof(double) * (size_t)(T + T * T));
        float strip[ns];
        double d[ns];
        for (int r = (int)((long long)R * gi / G); r < (int)((long long)R * (gi + 1) / G); r++) {
            pad_strip(strip, in, r / H, r % H, 1, H, W, Cin, K);
            for (size_t i = 0; i < ns; i++) d[i] = (double)strip[i] - s0;
            if (Cin == 1) moments_row(Sg, Mg, d, T, W, 1, K, row); /* contiguous taps: vector dot products */
            else moments_row(Sg, Mg, d, T, W, Cin, K, row);
        }
    }
    for (int i = 0; i < T + T * T; i++) {
        double v = 0.0;
        for (int gi = 0; gi < G; gi++) v += part[gi][i];
        if (i < T) S[i] = v;
        else M[i - T] = v;
    }
}

size_t conv_bn_moments_size(int Cin, int K) {
    const size_t T = (size_t)Cin * K * K;
    return T + T * T;
}

void conv_bn_batch_stats(double *batch_mean, double *batch_var, double *moments, const float *in, const float *kernel,
                         const float *bias, int B, int H, int W, int Cin, int C, int K) {
    SER_ASSERT(B >= 1 && H >= 1 && W >= 1 && conv_bn_relu_pool_fits(W, Cin, C, K, 1) && moments);
    const int T = Cin * K * K;
    const double s0 = in[0], N = (double)B * H * W;
    double *S = moments, *M = moments + T; /* kept for the backward */
    patch_moments(S, M, in, B, H, W, Cin, K, s0);
    double mp[T], cov[T][T]; /* E[p - s0], Cov(p) */
    for (int t = 0; t < T; t++) mp[t] = S[t] / N;
    for (int t = 0; t < T; t++)
        for (int u = t; u < T; u++) cov[t][u] = cov[u][t] = M[t * T + u] / N - mp[t] * mp[u];
    for (int c = 0; c < C; c++) {
        double mu = bias[c], var = 0.0;
        for (int t = 0; t < T; t++) {
            const double wt = kernel[(size_t)t * C + c];
            mu += wt * (mp[t] + s0);
            double acc = 0.0;
            for (int u = 0; u < T; u++) acc += cov[t][u] * (double)kernel[(size_t)u * C + c];
            var += wt * acc;
        }
        batch_mean[c] = mu;
        batch_var[c] = var;
    }
}

void conv_bn_stats_train(float *scale, float *shift, float *mean, float *rstd, float *moving_mean,
                         float *moving_var, double *moments, const float *in, const float *kernel,
                         const float *bias, const float *gamma, const float *beta, int B, int H, int W, int Cin,
                         int C, int K, float momentum, float eps) {
    double bmean[C], bvar[C];
    conv_bn_batch_stats(bmean, bvar, moments, in, kernel, bias, B, H, W, Cin, C, K);
    batchnorm_stats_finish(scale, shift, mean, rstd, moving_mean, moving_var, bmean, bvar, gamma, beta, B * H * W, C,
                           momentum, eps);
}

void conv_bn_relu_pool_forward(float *drop, uint8_t *mask, float *out, int32_t *argmax, float *xsel, const float *in,
                               const float *kernel, const float *bias, const float *scale, const float *shift, int B,
                               int H, int W, int Cin, int C, int K, int P, float rate, uint64_t seed, uint64_t step,
                               uint32_t layer) {
    SER_ASSERT(conv_bn_relu_pool_fits(W, Cin, C, K, P) && (int64_t)B * H * W * C <= INT32_MAX);
    SER_ASSERT(!drop || (mask && rate > 0.0f && rate < 1.0f));
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P, py = pool_pad_before(H, P);
    const int rowwise = ((size_t)Wo * C) % 64 == 0; /* as bn_relu_pool.c: dropout per pooled row when aligned */
#pragma omp parallel
    {
        float tile[(size_t)P * W * C], strip[strip_size(P, W, K)];
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int oy = 0; oy < Ho; oy++) {
                int y0, y1;
                pool_window(oy, P, py, H, &y0, &y1);
                conv_rows(tile, strip, in, kernel, bias, b, y0, y1, H, W, Cin, C, K);
                const size_t o = ((size_t)b * Ho + oy) * Wo * C, base = ((size_t)b * H + y0) * W * C;
                brp_forward_row(out + o, argmax + o, xsel + o, tile, base, scale, shift, y1 - y0, W, C, P);
                if (drop && rowwise)
                    dropout_forward_span(drop, mask, out, o, o + (size_t)Wo * C, rate, seed, step, layer);
            }
    }
    if (drop && !rowwise) dropout_forward(drop, mask, out, (size_t)B * Ho * Wo * C, rate, seed, step, layer);
}

/* The backward without recomputing the conv. With g the gradient reaching the BN output (the
 * routed pooled gradient: non-zero only at each window's argmax) and BN's
 * dx = k (g - a - (x - mean) bb), the weight gradient sum_pos p_t dx splits into
 *   dW_tc = k_c (sum_pos p_t g_c  -  a_c sum_pos p_t  -  bb_c sum_pos p_t (x_c - mean_c)),
 * and since x_c = beta_c + sum_u w_uc p'_u (p' = p - s0, beta_c = bias_c + s0 sum_u w_uc) the last
 * two sums are the patch moments (conv_bn_stats_train's, in double):
 *   sum_pos p_t = S_t + N s0,
 *   sum_pos p_t (x_c - mean_c) = sum_u w_uc M_tu + e_c S_t + s0 (sum_u w_uc S_u + N e_c),
 *   e_c = beta_c - mean_c.
 * Only the first sum needs a pass over the positions, and only over g: per pooled row the routed
 * gradient goes into a tile and its tap products are summed in float (P W terms), per group of
 * pooled rows in double. dbias is the same with p_t = 1 (zero in exact arithmetic: BN follows). */
void conv_bn_relu_pool_backward(float *dkernel, float *dbias, float *dgamma, float *dbeta, const float *dout,
                                const uint8_t *mask, float rate, const float *out, const int32_t *argmax,
                                const float *xsel, const double *moments, const float *in, const float *kernel,
                                const float *bias, const float *mean, const float *rstd, const float *gamma, int B,
                                int H, int W, int Cin, int C, int K, int P) {
    SER_ASSERT(conv_bn_relu_pool_fits(W, Cin, C, K, P) && rate >= 0.0f && rate < 1.0f);
    const float dscale = (float)(1.0 / (1.0 - (double)rate)); /* as bn_relu_pool_backward */
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P, py = pool_pad_before(H, P), T = Cin * K * K;
    /* one pass over the pooled rows: sum_pos p_t g_c (t < T), sum_pos g_c (t = T), and BN's own
     * sums sum g, sum g (xsel - mean) (brp_backward_coeffs's, here in pooled-row groups) */
    const int R = B * Ho, G = R < CBRP_GROUPS ? R : CBRP_GROUPS; /* pooled rows (b, oy), in groups */
    double part[G][T + 3][C];
#pragma omp parallel for schedule(static)
    for (int gi = 0; gi < G; gi++) {
        double(*pg)[C] = part[gi];
        memset(pg, 0, sizeof(double) * (size_t)(T + 3) * C);
        float gtile[(size_t)P * W * C], strip[strip_size(P, W, K)];
        float acc[T + 1][C];
        for (int r = (int)((long long)R * gi / G); r < (int)((long long)R * (gi + 1) / G); r++) {
            const int b = r / Ho, oy = r % Ho;
            int y0, y1;
            pool_window(oy, P, py, H, &y0, &y1);
            const size_t o = (size_t)r * Wo * C, base = ((size_t)b * H + y0) * W * C;
            for (int ox = 0; ox < Wo; ox++) { /* the pooled gradient reaching each max, into gtile (Wo, C) */
                const size_t q = o + (size_t)ox * C;
                float *gp = gtile + (size_t)ox * C;
                brp_pooled_grad(gp, dout + q, mask ? mask + q : NULL, dscale, out + q, C);
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    pg[T + 1][c] += gp[c];
                    pg[T + 2][c] += (double)gp[c] * ((double)xsel[q + c] - (double)mean[c]);
                }
            }
            memset(acc, 0, sizeof acc);
            if (vector_path(Cin, C, K)) { /* the routed gradient stays in registers */
                pad_strip(strip, in, b, y0, y1 - y0, H, W, 1, K);
                if (K == 3) dconv1_routed(&acc[0][0], strip, gtile, argmax + o, base, y1 - y0, W, C, 3, P);
                else dconv1_routed(&acc[0][0], strip, gtile, argmax + o, base, y1 - y0, W, C, K, P);
            } else {
                brp_route_row(gtile, base, dout + o, mask ? mask + o : NULL, dscale, out + o, argmax + o, y1 - y0, W,
                              C, P);
                dconv_rows(&acc[0][0], gtile, in, b, y0, y1, H, W, Cin, C, K);
            }
            for (int t = 0; t <= T; t++)
#pragma omp simd
                for (int c = 0; c < C; c++) pg[t][c] += acc[t][c];
        }
    }
    float k[C], a[C], bb[C];
    {
        double sd[C], sdx[C];
        for (int c = 0; c < C; c++) {
            sd[c] = sdx[c] = 0.0;
            for (int gi = 0; gi < G; gi++) sd[c] += part[gi][T + 1][c], sdx[c] += part[gi][T + 2][c];
        }
        brp_coeffs_finish(k, a, bb, dgamma, dbeta, sd, sdx, rstd, gamma, B * H * W, C);
    }
    const double s0 = in[0], N = (double)B * H * W;
    const double *S = moments, *M = moments + T; /* conv_bn_stats_train's, of this input */
    for (int c = 0; c < C; c++) {
        double wsum = 0.0, wS = 0.0;
        for (int u = 0; u < T; u++) {
            const double w = kernel[(size_t)u * C + c];
            wsum += w;
            wS += w * S[u];
        }
        const double e = (double)bias[c] + s0 * wsum - (double)mean[c];
        for (int t = 0; t <= T; t++) {
            double g1 = 0.0;
            for (int gi = 0; gi < G; gi++) g1 += part[gi][t][c];
            double sp, sx; /* sum_pos p_t, sum_pos p_t (x_c - mean_c); p_T = 1 */
            if (t < T) {
                double wM = 0.0;
                for (int u = 0; u < T; u++)
                    wM += (double)kernel[(size_t)u * C + c] * (u >= t ? M[t * T + u] : M[u * T + t]);
                sp = S[t] + N * s0;
                sx = wM + e * S[t] + s0 * (wS + N * e);
            } else {
                sp = N;
                sx = wS + N * e;
            }
            const double d = (double)k[c] * (g1 - (double)a[c] * sp - (double)bb[c] * sx);
            float *dst = t < T ? dkernel + (size_t)t * C : dbias;
            dst[c] += (float)d;
        }
    }
}
