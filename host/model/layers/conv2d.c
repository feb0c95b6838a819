/* Conv2D, stride 1, padding same (odd K, pad = K / 2 on every side), NHWC, kernel (K,K,Cin,Cout)
 * row-major as Keras stores it, i.e. a (K*K*Cin, Cout) matrix whose row index is (ky, kx, ci).
 *
 * The batch is processed in chunks of `nb` whole images (conv2d_chunk_images): im2col of a chunk
 * gives col (rows = nb*H*W, KKC = K*K*Cin) with the same (ky, kx, ci) column order, so
 *   forward:   out (rows, Cout)     = col @ kernel + bias
 *   backward:  dkernel (KKC, Cout) += col^T @ dout          (beta = 1, chunk after chunk)
 *              dcol (rows, KKC)     = dout @ kernel^T, then col2im (a gather: each din pixel sums
 *              its K*K taps in a fixed order, so no two threads write the same float).
 * Chunking keeps col to ~6 MB (2 images of the 20x65x64 layer), re-read by the GEMMs while still
 * in cache, instead of the 190 MB a whole-batch im2col would take. conv2d_col_size() grows with B,
 * so a col sized for the largest batch serves every smaller one (a last partial batch).
 *
 * Threads: ONE pool, OpenMP's. The output rows (of out / dcol, of dkernel) are cut into blocks of
 * CONV_GEMM_BLOCK rows at fixed offsets, and each block is ONE single-threaded sgemm call; threads
 * take whole blocks. So every output float comes from the same sgemm call (same sizes, same
 * pointers) whatever the thread count. Splitting along output rows alone is not enough: OpenBLAS's
 * Haswell/Zen sgemm kernels round a row differently depending on where it falls in the call (rows
 * agree only when the split is a multiple of 48 from the call's start), so a thread-count-dependent
 * split changed bits there (issue 17; docs/portability.md). No sum is split across threads.
 * OpenBLAS's own pthread pool is switched to 1 thread for the duration of a call (and
 * restored): its workers and libgomp's both busy-wait after a parallel section, and on two cores
 * the two spinning pools cost 2-4x (measured).
 *
 * When K*K*Cin is tiny (the first layer: Cin = 1, 9 taps) a GEMM is all memory traffic: the
 * forward and the kernel/bias gradients are direct loops vectorised over Cout.
 *
 * When the build has oneDNN (host/model/layers/conv2d_onednn.c) its primitives do the work instead,
 * except the kernel/bias gradients of the tiny-K*K*Cin case, where the direct loops below beat
 * oneDNN's (tests/test_layers_cnn bench-ab compares the two per op). Everything below remains the
 * implementation without oneDNN (SER_ONEDNN=OFF, or SER_ONEDNN=0 in the environment). Unlike
 * oneDNN's, its results do not depend on the thread count. */
#include <cblas.h>
/* OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would break layers.h's (B, I, O) names. */
#undef I
#include <omp.h>
#include <string.h>

#include "layers/conv2d_onednn.h"
#include "layers/layers.h"
#include "ser/error.h"

/* Rows of col per chunk: big enough for efficient GEMMs, small enough that col stays in cache.
 * 1024..8192 measured within 5 % of each other on the 4 reference shapes. */
#ifndef SER_CONV_CHUNK_ROWS
#define SER_CONV_CHUNK_ROWS 2048
#endif

/* Rows of one sgemm call (see Threads above): a fixed size, never derived from the thread count.
 * 96 = 2 * 48 keeps whole Haswell/Zen tiles; a chunk of 2600 rows is 28 blocks and the 576 rows of
 * the 64-channel layers' dkernel 6, so 2, 3 or 4 threads share them evenly enough. */
#ifndef CONV_GEMM_BLOCK
#define CONV_GEMM_BLOCK 96
#endif

/* Up to this many taps (K*K*Cin) the direct loops replace im2col + GEMM. */
#define CONV_DIRECT_TAPS 16
/* Cout tile of the direct loops: one AVX-512 register of floats. */
#define CONV_CO_TILE 16
/* Cout tile of the direct kernel-gradient loops: all 64 channels of a pixel at once, so each dout
 * row is read once and the taps gathered once (16 or 32: 1.5-1.75x slower, measured, although
 * 9 x 4 accumulators spill). Tiling leaves every sum in the same order. */
#ifndef DP_TILE
#define DP_TILE 64
#endif

static int conv2d_chunk_images(int B, int H, int W) {
    int nb = (SER_CONV_CHUNK_ROWS + H * W - 1) / (H * W);
    return nb < 1 ? 1 : (nb > B ? B : nb);
}

size_t conv2d_col_size(int B, int H, int W, int Cin, int K) {
    return (size_t)conv2d_chunk_images(B, H, W) * H * W * K * K * Cin;
}

static int blas_threads_single(void) {
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    return saved;
}
static void blas_threads_restore(int saved) {
    if (saved != 1) openblas_set_num_threads(saved);
}

/* Block i of n rows cut into CONV_GEMM_BLOCK-row blocks: [lo, hi). */
static int gemm_blocks(int n) { return (n + CONV_GEMM_BLOCK - 1) / CONV_GEMM_BLOCK; }
static void gemm_block(int n, int i, int *lo, int *hi) {
    *lo = i * CONV_GEMM_BLOCK;
    *hi = *lo + CONV_GEMM_BLOCK < n ? *lo + CONV_GEMM_BLOCK : n;
}

/* col (nb*H*W, K*K*Cin) from in (nb,H,W,Cin); taps outside the image are zero.
 * An orphaned worksharing loop: call it from inside a parallel region (ends with a barrier). */
static void im2col(float *col, const float *in, int nb, int H, int W, int Cin, int K) {
    const int p = K / 2;
    const size_t kkc = (size_t)K * K * Cin;
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < nb; b++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float *row = col + (((size_t)b * H + y) * W + x) * kkc;
                for (int ky = 0; ky < K; ky++) {
                    const int iy = y + ky - p;
                    float *dst = row + (size_t)ky * K * Cin;
                    if (iy < 0 || iy >= H) {
                        memset(dst, 0, (size_t)K * Cin * sizeof *dst);
                        continue;
                    }
                    const int x0 = x - p;
                    /* interior pixels: the K taps of one kernel row are contiguous in the input */
                    if (x0 >= 0 && x0 + K <= W) {
                        memcpy(dst, in + (((size_t)b * H + iy) * W + x0) * Cin, (size_t)K * Cin * sizeof *dst);
                        continue;
                    }
                    for (int kx = 0; kx < K; kx++) {
                        const int ix = x0 + kx;
                        if (ix < 0 || ix >= W) memset(dst + (size_t)kx * Cin, 0, (size_t)Cin * sizeof *dst);
                        else memcpy(dst + (size_t)kx * Cin, in + (((size_t)b * H + iy) * W + ix) * Cin,
                                    (size_t)Cin * sizeof *dst);
                    }
                }
            }
}

/* din (nb,H,W,Cin) = sum over the taps that read each input pixel of dcol (nb*H*W, K*K*Cin).
 * Orphaned worksharing loop, like im2col. */
static void col2im(float *din, const float *dcol, int nb, int H, int W, int Cin, int K) {
    const int p = K / 2;
    const size_t kkc = (size_t)K * K * Cin;
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < nb; b++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float *dst = din + (((size_t)b * H + y) * W + x) * Cin;
                for (int ci = 0; ci < Cin; ci++) dst[ci] = 0.0f;
                /* output pixel (oy, ox) reads this pixel through tap (ky, kx) = (y - oy + p, x - ox + p) */
                for (int ky = 0; ky < K; ky++) {
                    const int oy = y - ky + p;
                    if (oy < 0 || oy >= H) continue;
                    for (int kx = 0; kx < K; kx++) {
                        const int ox = x - kx + p;
                        if (ox < 0 || ox >= W) continue;
                        const float *src = dcol + (((size_t)b * H + oy) * W + ox) * kkc + ((size_t)ky * K + kx) * Cin;
#pragma omp simd
                        for (int ci = 0; ci < Cin; ci++) dst[ci] += src[ci];
                    }
                }
            }
}

/* The K*K*Cin input values under the kernel at output pixel (y, x) of image img, zero outside. */
static inline void gather_taps(float *v, const float *img, int H, int W, int Cin, int K, int y, int x) {
    const int p = K / 2;
    if (y >= p && y + p < H && x >= p && x + p < W) { /* interior: no bounds checks */
        for (int ky = 0; ky < K; ky++)
            memcpy(v + ky * K * Cin, img + ((size_t)(y + ky - p) * W + (x - p)) * Cin, (size_t)K * Cin * sizeof *v);
        return;
    }
    for (int ky = 0; ky < K; ky++)
        for (int kx = 0; kx < K; kx++) {
            const int iy = y + ky - p, ix = x + kx - p;
            const int ok = iy >= 0 && iy < H && ix >= 0 && ix < W;
            for (int ci = 0; ci < Cin; ci++)
                v[(ky * K + kx) * Cin + ci] = ok ? img[((size_t)iy * W + ix) * Cin + ci] : 0.0f;
        }
}

/* Direct convolution for few taps: out (B,H,W,Cout), 16 output channels at a time in registers. */
static void conv2d_forward_direct(float *out, const float *in, const float *kernel, const float *bias,
                                  int B, int H, int W, int Cin, int Cout, int K) {
    const int kkc = K * K * Cin;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H; y++) {
            const float *img = in + (size_t)b * H * W * Cin;
            for (int x = 0; x < W; x++) {
                float v[CONV_DIRECT_TAPS];
                gather_taps(v, img, H, W, Cin, K, y, x);
                float *o = out + (((size_t)b * H + y) * W + x) * Cout;
                int c0 = 0;
                for (; c0 + CONV_CO_TILE <= Cout; c0 += CONV_CO_TILE) {
                    float acc[CONV_CO_TILE];
                    for (int j = 0; j < CONV_CO_TILE; j++) acc[j] = bias ? bias[c0 + j] : 0.0f;
                    for (int t = 0; t < kkc; t++)
                        for (int j = 0; j < CONV_CO_TILE; j++) acc[j] += v[t] * kernel[(size_t)t * Cout + c0 + j];
                    for (int j = 0; j < CONV_CO_TILE; j++) o[c0 + j] = acc[j];
                }
                for (int co = c0; co < Cout; co++) {
                    float acc = bias ? bias[co] : 0.0f;
                    for (int t = 0; t < kkc; t++) acc += v[t] * kernel[(size_t)t * Cout + co];
                    o[co] = acc;
                }
            }
        }
}

/* One image's kernel/bias gradient partials for output channels c0 .. c0+nc-1, in float.
 * Inlined with K = 3, Cin = 1 (the first layer) so the 9 x 16 accumulators can live in registers. */
static inline __attribute__((always_inline)) void dparams_direct_image(
    float fk[CONV_DIRECT_TAPS][DP_TILE], float fb[DP_TILE], const float *g_img, const float *img,
    int H, int W, int Cin, int Cout, int K, const int kkc, int c0, int nc) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float v[CONV_DIRECT_TAPS], g[DP_TILE] = {0};
            gather_taps(v, img, H, W, Cin, K, y, x);
            const float *gp = g_img + ((size_t)y * W + x) * Cout + c0;
            if (nc == DP_TILE) memcpy(g, gp, sizeof g);
            else memcpy(g, gp, (size_t)nc * sizeof *g);
            for (int j = 0; j < DP_TILE; j++) fb[j] += g[j];
#pragma GCC unroll 16
            for (int t = 0; t < kkc; t++)
                for (int j = 0; j < DP_TILE; j++) fk[t][j] += v[t] * g[j];
        }
}

/* Direct kernel and bias gradients for few taps. The images are split into DP_GROUPS fixed groups
 * (threads take whole groups); an image's partials are summed in float one 16-channel tile at a
 * time (the image's dout, 1.3 MB for 40x130x64, stays in L2 across the tile passes), then added
 * in double to its group's partials, and the groups are added in order: the result does not
 * depend on the thread count, and each thread streams whole rows of dout. */
#define DP_GROUPS 8
#define DP_COUT 64
static void conv2d_dparams_direct(float *dkernel, float *dbias, const float *dout, const float *in,
                                  int B, int H, int W, int Cin, int Cout, int K) {
    const int kkc = K * K * Cin, G = B < DP_GROUPS ? B : DP_GROUPS;
    for (int cb = 0; cb < Cout; cb += DP_COUT) { /* usually one pass: Cout <= 64 */
        const int ncb = Cout - cb < DP_COUT ? Cout - cb : DP_COUT;
        /* part[g][t][c]: taps t < kkc, then the bias row at t = kkc */
        double part[DP_GROUPS][CONV_DIRECT_TAPS + 1][DP_COUT];
#pragma omp parallel for schedule(static)
        for (int gi = 0; gi < G; gi++) {
            double(*acc)[DP_COUT] = part[gi];
            memset(acc, 0, sizeof part[gi]);
            for (int b = (int)((long long)B * gi / G); b < (int)((long long)B * (gi + 1) / G); b++) {
                const float *img = in + (size_t)b * H * W * Cin, *g_img = dout + (size_t)b * H * W * Cout;
                for (int c0 = cb; c0 < cb + ncb; c0 += DP_TILE) {
                    const int nc = cb + ncb - c0 < DP_TILE ? cb + ncb - c0 : DP_TILE;
                    float fk[CONV_DIRECT_TAPS][DP_TILE] = {{0}}, fb[DP_TILE] = {0};
                    if (K == 3 && Cin == 1) dparams_direct_image(fk, fb, g_img, img, H, W, 1, Cout, 3, 9, c0, nc);
                    else dparams_direct_image(fk, fb, g_img, img, H, W, Cin, Cout, K, kkc, c0, nc);
                    for (int j = 0; j < nc; j++) {
                        for (int t = 0; t < kkc; t++) acc[t][c0 - cb + j] += fk[t][j];
                        acc[kkc][c0 - cb + j] += fb[j];
                    }
                }
            }
        }
        for (int j = 0; j < ncb; j++) {
            for (int t = 0; t <= kkc; t++) {
                double s = 0.0;
                for (int gi = 0; gi < G; gi++) s += part[gi][t][j];
                if (t < kkc) dkernel[(size_t)t * Cout + cb + j] += (float)s;
                else if (dbias) dbias[cb + j] += (float)s;
            }
        }
    }
}

void conv2d_forward(float *out, float *col, const float *in, const float *kernel, const float *bias,
                    int B, int H, int W, int Cin, int Cout, int K) {
    SER_ASSERT(K >= 1 && K % 2 == 1 && B >= 1 && H >= 1 && W >= 1 && Cin >= 1 && Cout >= 1);
    const int kkc = K * K * Cin;
    if (conv2d_onednn_enabled()) {
        const int saved = blas_threads_single();
        const int done = conv2d_onednn_forward(out, col, conv2d_col_size(B, H, W, Cin, K), in, kernel, bias, B, H,
                                               W, Cin, Cout, K);
        blas_threads_restore(saved);
        if (done) return;
    }
    if (kkc <= CONV_DIRECT_TAPS) {
        conv2d_forward_direct(out, in, kernel, bias, B, H, W, Cin, Cout, K);
        return;
    }
    const int nb_max = conv2d_chunk_images(B, H, W);
    const size_t hw = (size_t)H * W;
    const int saved = blas_threads_single();
#pragma omp parallel
    for (int b0 = 0; b0 < B; b0 += nb_max) {
        const int nb = B - b0 < nb_max ? B - b0 : nb_max;
        const int rows = (int)(nb * hw);
        float *o = out + (size_t)b0 * hw * Cout;
        im2col(col, in + (size_t)b0 * hw * Cin, nb, H, W, Cin, K); /* ends with a barrier */
#pragma omp for schedule(static) /* ends with a barrier: col is rewritten by the next chunk */
        for (int blk = 0; blk < gemm_blocks(rows); blk++) {
            int r0, r1;
            gemm_block(rows, blk, &r0, &r1);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, Cout, kkc, 1.0f, col + (size_t)r0 * kkc,
                        kkc, kernel, Cout, 0.0f, o + (size_t)r0 * Cout, Cout);
            if (bias)
                for (int r = r0; r < r1; r++) {
                    float *orow = o + (size_t)r * Cout;
#pragma omp simd
                    for (int co = 0; co < Cout; co++) orow[co] += bias[co];
                }
        }
    }
    blas_threads_restore(saved);
}

/* dbias (Cout) += column sums of dout (rows, Cout), in double, each channel in row order;
 * threads split the channels (16 at a time), so the sums do not depend on the thread count. */
static void conv2d_dbias(float *dbias, const float *dout, size_t rows, int Cout) {
    const int ntiles = (Cout + CONV_CO_TILE - 1) / CONV_CO_TILE;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < ntiles; t++) {
        const int c0 = t * CONV_CO_TILE, nc = Cout - c0 < CONV_CO_TILE ? Cout - c0 : CONV_CO_TILE;
        double s[CONV_CO_TILE] = {0};
        for (size_t r = 0; r < rows; r++) {
            const float *g = dout + r * Cout + c0;
            for (int j = 0; j < nc; j++) s[j] += g[j];
        }
        for (int j = 0; j < nc; j++) dbias[c0 + j] += (float)s[j];
    }
}

void conv2d_backward(float *din, float *dkernel, float *dbias, float *col, const float *dout, const float *in,
                     const float *kernel, int B, int H, int W, int Cin, int Cout, int K) {
    SER_ASSERT(K >= 1 && K % 2 == 1 && B >= 1 && H >= 1 && W >= 1 && Cin >= 1 && Cout >= 1);
    const int kkc = K * K * Cin;
    /* oneDNN's weight gradient for a few taps (the first layer) is slower than the direct loops */
    if (conv2d_onednn_enabled() && kkc > CONV_DIRECT_TAPS) {
        const int saved = blas_threads_single();
        const int done = conv2d_onednn_backward(din, dkernel, dbias, col, conv2d_col_size(B, H, W, Cin, K), dout, in,
                                                kernel, B, H, W, Cin, Cout, K);
        blas_threads_restore(saved);
        if (done) return;
    }
    const int nb_max = conv2d_chunk_images(B, H, W);
    const size_t hw = (size_t)H * W;
    const int direct = kkc <= CONV_DIRECT_TAPS;
    if (direct) conv2d_dparams_direct(dkernel, dbias, dout, in, B, H, W, Cin, Cout, K);
    else if (dbias) conv2d_dbias(dbias, dout, (size_t)B * hw, Cout);
    if (direct && !din) return;
    const int saved = blas_threads_single();
#pragma omp parallel
    for (int b0 = 0; b0 < B; b0 += nb_max) {
        const int nb = B - b0 < nb_max ? B - b0 : nb_max;
        const int rows = (int)(nb * hw);
        const float *g = dout + (size_t)b0 * hw * Cout;
        if (!direct) {
            im2col(col, in + (size_t)b0 * hw * Cin, nb, H, W, Cin, K); /* ends with a barrier */
#pragma omp for schedule(static) /* rows of dkernel; ends with a barrier: col becomes dcol */
            for (int blk = 0; blk < gemm_blocks(kkc); blk++) {
                int r0, r1;
                gemm_block(kkc, blk, &r0, &r1);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, Cout, rows, 1.0f, col + r0, kkc, g,
                            Cout, 1.0f, dkernel + (size_t)r0 * Cout, Cout);
            }
        }
        if (din) {
#pragma omp for schedule(static) /* ends with a barrier: a din pixel gathers dcol rows of every block */
            for (int blk = 0; blk < gemm_blocks(rows); blk++) {
                int r0, r1;
                gemm_block(rows, blk, &r0, &r1);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, kkc, Cout, 1.0f, g + (size_t)r0 * Cout,
                            Cout, kernel, Cout, 0.0f, col + (size_t)r0 * kkc, kkc);
            }
            col2im(din + (size_t)b0 * hw * Cin, col, nb, H, W, Cin, K); /* ends with a barrier */
        }
    }
    blas_threads_restore(saved);
}
