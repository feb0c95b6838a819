/* Conv2D, stride 1, padding same (odd K, pad = K / 2 on every side), NHWC, kernel (K,K,Cin,Cout)
 * row-major as Keras stores it, i.e. a (K*K*Cin, Cout) matrix whose row index is (ky, kx, ci).
 *
 * The batch is processed in chunks of `nb` whole images (conv2d_chunk_images): im2col of a chunk
 * gives col (nb*H*W, K*K*Cin) with the same (ky, kx, ci) column order, so
 *   forward:   out  (rows, Cout)      = col @ kernel + bias
 *   backward:  dkernel (KKC, Cout)   += col^T @ dout          (beta = 1, chunk after chunk)
 *              dcol (rows, KKC)       = dout @ kernel^T, then col2im (a gather: each din pixel
 *              sums its K*K taps in a fixed order, so no two threads write the same float).
 * Chunking keeps col to a few MB (it is re-read by the GEMM while still in cache) instead of the
 * 190 MB a whole-batch im2col of the 20x65x64 layer would take. The GEMMs are OpenBLAS's and
 * parallelise themselves; the im2col / col2im loops use OpenMP (static schedules). OpenBLAS splits
 * the output, not the reduction, so results are identical run to run for a given thread count.
 *
 * When K*K*Cin is tiny (the first layer: Cin = 1, 9 taps) a GEMM is all memory traffic, so the
 * forward is a direct loop vectorised over Cout. */
#include <cblas.h>
/* OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would break the (B, I, O) names. */
#undef I
#include <string.h>

#include "layers/layers.h"
#include "ser/error.h"

/* Rows of col per chunk: big enough for efficient GEMMs (M >= a few thousand), small enough that
 * col (rows * K*K*Cin floats) stays in the 2-4 MB caches of a core pair. */
#ifndef SER_CONV_CHUNK_ROWS
#define SER_CONV_CHUNK_ROWS 2048
#endif

/* Below this many taps the forward is a direct loop instead of im2col + GEMM. */
#define CONV_DIRECT_TAPS 16

static int conv2d_chunk_images(int B, int H, int W) {
    int nb = (SER_CONV_CHUNK_ROWS + H * W - 1) / (H * W);
    return nb < 1 ? 1 : (nb > B ? B : nb);
}

size_t conv2d_col_size(int B, int H, int W, int Cin, int K) {
    return (size_t)conv2d_chunk_images(B, H, W) * H * W * K * K * Cin;
}

/* col (nb*H*W, K*K*Cin) from in (nb,H,W,Cin); taps outside the image are zero. */
static void im2col(float *col, const float *in, int nb, int H, int W, int Cin, int K) {
    const int p = K / 2;
    const size_t kkc = (size_t)K * K * Cin;
#pragma omp parallel for collapse(2) schedule(static)
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

/* din (nb,H,W,Cin) = sum over the taps that read each input pixel of dcol (nb*H*W, K*K*Cin). */
static void col2im(float *din, const float *dcol, int nb, int H, int W, int Cin, int K) {
    const int p = K / 2;
    const size_t kkc = (size_t)K * K * Cin;
#pragma omp parallel for collapse(2) schedule(static)
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

/* Direct convolution for few taps: out (B,H,W,Cout), vectorised over Cout. */
static void conv2d_forward_direct(float *out, const float *in, const float *kernel, const float *bias,
                                  int B, int H, int W, int Cin, int Cout, int K) {
    const int p = K / 2;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float *o = out + (((size_t)b * H + y) * W + x) * Cout;
                for (int co = 0; co < Cout; co++) o[co] = bias ? bias[co] : 0.0f;
                for (int ky = 0; ky < K; ky++) {
                    const int iy = y + ky - p;
                    if (iy < 0 || iy >= H) continue;
                    for (int kx = 0; kx < K; kx++) {
                        const int ix = x + kx - p;
                        if (ix < 0 || ix >= W) continue;
                        const float *xi = in + (((size_t)b * H + iy) * W + ix) * Cin;
                        const float *k = kernel + ((size_t)ky * K + kx) * Cin * Cout;
                        for (int ci = 0; ci < Cin; ci++) {
                            const float v = xi[ci];
#pragma omp simd
                            for (int co = 0; co < Cout; co++) o[co] += v * k[(size_t)ci * Cout + co];
                        }
                    }
                }
            }
}

void conv2d_forward(float *out, float *col, const float *in, const float *kernel, const float *bias,
                    int B, int H, int W, int Cin, int Cout, int K) {
    SER_ASSERT(K >= 1 && K % 2 == 1 && B >= 1 && H >= 1 && W >= 1 && Cin >= 1 && Cout >= 1);
    const int kkc = K * K * Cin;
    if (kkc <= CONV_DIRECT_TAPS) {
        conv2d_forward_direct(out, in, kernel, bias, B, H, W, Cin, Cout, K);
        return;
    }
    const int nb_max = conv2d_chunk_images(B, H, W);
    const size_t hw = (size_t)H * W;
    for (int b0 = 0; b0 < B; b0 += nb_max) {
        const int nb = B - b0 < nb_max ? B - b0 : nb_max;
        const int rows = (int)(nb * hw);
        float *o = out + (size_t)b0 * hw * Cout;
        im2col(col, in + (size_t)b0 * hw * Cin, nb, H, W, Cin, K);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, Cout, kkc, 1.0f, col, kkc, kernel, Cout,
                    0.0f, o, Cout);
        if (bias) {
#pragma omp parallel for schedule(static)
            for (int r = 0; r < rows; r++) {
                float *orow = o + (size_t)r * Cout;
#pragma omp simd
                for (int co = 0; co < Cout; co++) orow[co] += bias[co];
            }
        }
    }
}

/* dbias (Cout) += column sums of dout (rows, Cout), in double, each channel in row order;
 * threads split the channels (16 at a time), so the sums do not depend on the thread count. */
static void conv2d_dbias(float *dbias, const float *dout, size_t rows, int Cout) {
    enum { T = 16 };
    const int ntiles = (Cout + T - 1) / T;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < ntiles; t++) {
        const int c0 = t * T, nc = Cout - c0 < T ? Cout - c0 : T;
        double s[T] = {0};
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
    const int nb_max = conv2d_chunk_images(B, H, W);
    const size_t hw = (size_t)H * W;
    if (dbias) conv2d_dbias(dbias, dout, (size_t)B * hw, Cout);
    for (int b0 = 0; b0 < B; b0 += nb_max) {
        const int nb = B - b0 < nb_max ? B - b0 : nb_max;
        const int rows = (int)(nb * hw);
        const float *g = dout + (size_t)b0 * hw * Cout;
        im2col(col, in + (size_t)b0 * hw * Cin, nb, H, W, Cin, K);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kkc, Cout, rows, 1.0f, col, kkc, g, Cout, 1.0f,
                    dkernel, Cout);
        if (din) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, kkc, Cout, 1.0f, g, Cout, kernel, Cout,
                        0.0f, col, kkc);
            col2im(din + (size_t)b0 * hw * Cin, col, nb, H, W, Cin, K);
        }
    }
}
