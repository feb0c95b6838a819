/* kernels/cudnn_ops_kernels.cu under the CPU emulator (tests/cuda_emu/run_cudnn_kernels.sh) against
 * host/model/layers/batchnorm.c: ser's fallback batch norm (training statistics and moving averages,
 * inference, backward), the moving-average update from cuDNN's inverse std, and the HWIO <-> KRSC
 * filter transposes; the convolution fallback (kernels/conv_gemm.c: im2col, cuBLAS GEMM as the
 * emulation's column-major cblas_sgemm, col2im) against host/model/layers/conv2d.c, forward, backward
 * data and backward filter, Cin = 1 included. Not cuDNN itself: test_cuda_cudnn needs a GPU for
 * that. Exit 0 when all agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_gemm.h"
#include "cudnn_ops_kernels.h"
#include "layers/layers.h"
static double maxrel(const float *a, const float *b, size_t n) {
    double amax = 0, e = 0;
    for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(b[i]));
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)a[i] - b[i]) / (amax > 0 ? amax : 1));
    return e;
}
static float *dv(size_t n) { void *p; cudaMalloc(&p, n * 4); return p; }

/* im2col + GEMM convolutions against the CPU layer (bias 0), 1e-5 of each tensor's largest value. */
static int conv_fallback(void) {
    static const int shapes[4][6] = {{2, 5, 7, 1, 4, 3}, {3, 6, 9, 3, 8, 3}, {1, 6, 5, 2, 3, 5}, {2, 4, 4, 8, 6, 1}};
    cublasHandle_t h;
    cublasCreate(&h);
    int fails = 0;
    for (int s = 0; s < 4; s++) {
        const int B = shapes[s][0], H = shapes[s][1], W = shapes[s][2], Ci = shapes[s][3], Co = shapes[s][4],
                  K = shapes[s][5];
        const size_t nx = (size_t)B * H * W * Ci, ny = (size_t)B * H * W * Co, nw = (size_t)K * K * Ci * Co;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *dy = malloc(ny * 4), *bias = calloc(Co, 4);
        float *y = malloc(ny * 4), *dx = malloc(nx * 4), *dw = calloc(nw, 4), *db = calloc(Co, 4);
        float *col = malloc(conv2d_col_size(B, H, W, Ci, K) * 4), *gy = malloc(ny * 4), *gdx = malloc(nx * 4),
              *gdw = malloc(nw * 4);
        srand(100 + s);
        for (size_t i = 0; i < nx; i++) x[i] = (float)rand() / RAND_MAX * 2 - 1;
        for (size_t i = 0; i < nw; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < ny; i++) dy[i] = (float)rand() / RAND_MAX * 2 - 1;
        conv2d_forward(y, col, x, w, bias, B, H, W, Ci, Co, K);
        conv2d_backward(dx, dw, db, col, dy, x, w, B, H, W, Ci, Co, K);
        float *d_x = dv(nx), *d_w = dv(nw), *d_dy = dv(ny), *d_y = dv(ny), *d_dx = dv(nx), *d_dw = dv(nw);
        float *d_cols = dv(ser_conv_gemm_cols(B, H, W, Ci, K));
        cudaMemcpy(d_x, x, nx * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(d_w, w, nw * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(d_dy, dy, ny * 4, cudaMemcpyHostToDevice);
        ser_error err = {{0}};
        int rc = ser_conv_gemm_fwd(h, 0, d_cols, d_y, d_x, d_w, B, H, W, Ci, Co, K, &err);
        rc = rc || ser_conv_gemm_bwd_data(h, 0, d_cols, d_dx, d_dy, d_w, B, H, W, Ci, Co, K, &err);
        rc = rc || ser_conv_gemm_bwd_filter(h, 0, d_cols, d_dw, d_x, d_dy, B, H, W, Ci, Co, K, &err);
        cudaMemcpy(gy, d_y, ny * 4, cudaMemcpyDeviceToHost);
        cudaMemcpy(gdx, d_dx, nx * 4, cudaMemcpyDeviceToHost);
        cudaMemcpy(gdw, d_dw, nw * 4, cudaMemcpyDeviceToHost);
        const double ey = maxrel(gy, y, ny), edx = maxrel(gdx, dx, nx), edw = maxrel(gdw, dw, nw);
        printf("conv im2col+GEMM B=%d H=%d W=%d Cin=%d Cout=%d K=%d: y %.3g, dx %.3g, dw %.3g%s%s\n", B, H, W, Ci, Co, K,
               ey, edx, edw, rc ? " FAILED: " : "", rc ? err.msg : "");
        fails += rc != 0 || !(ey <= 1e-5) || !(edx <= 1e-5) || !(edw <= 1e-5);
        float *hf[] = {x, w, dy, bias, y, dx, dw, db, col, gy, gdx, gdw};
        for (size_t i = 0; i < sizeof hf / sizeof *hf; i++) free(hf[i]);
        float *df[] = {d_x, d_w, d_dy, d_y, d_dx, d_dw, d_cols};
        for (size_t i = 0; i < sizeof df / sizeof *df; i++) cudaFree(df[i]);
    }
    cublasDestroy(h);
    return fails;
}

int main(void) {
    int fails = 0;
    const int shapes[3][2] = {{37, 5}, {1, 3}, {64 * 5 * 17, 64}};
    for (int s = 0; s < 3; s++) {
        const int N = shapes[s][0], C = shapes[s][1];
        size_t n = (size_t)N * C;
        float *x = malloc(n * 4), *dy = malloc(n * 4), *g = malloc(C * 4), *b = malloc(C * 4), *mm = malloc(C * 4),
              *mv = malloc(C * 4), *y = malloc(n * 4), *mean = malloc(C * 4), *rstd = malloc(C * 4), *mm2, *mv2,
              *out = malloc(n * 4), *oc = malloc(C * 4), *dx = malloc(n * 4), *dg = calloc(C, 4), *db = calloc(C, 4);
        srand(s + 1);
        for (size_t i = 0; i < n; i++) x[i] = 1.5f + (float)rand() / RAND_MAX * 2 - (i % C) * 0.1f, dy[i] = (float)rand() / RAND_MAX - 0.5f;
        for (int c = 0; c < C; c++) g[c] = 0.5f + c * 0.01f, b[c] = 0.1f * c, mm[c] = 0.2f, mv[c] = 1.3f;
        mm2 = malloc(C * 4), mv2 = malloc(C * 4);
        memcpy(mm2, mm, C * 4), memcpy(mv2, mv, C * 4);
        batchnorm_forward_train(y, mean, rstd, mm2, mv2, x, g, b, N, C, 0.99f, 1e-3f);
        float *dx_ = dv(n), *dy_ = dv(n), *dg_ = dv(C), *db_ = dv(C), *dmm = dv(C), *dmv = dv(C), *dmean = dv(C),
              *drstd = dv(C), *dcoef = dv(3 * C), *dout = dv(n);
        double *part;
        cudaMalloc((void **)&part, (size_t)SER_BN_GROUPS * 2 * C * 8);
        cudaMemcpy(dx_, x, n * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dy_, dy, n * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dg_, g, C * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(db_, b, C * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dmm, mm, C * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dmv, mv, C * 4, cudaMemcpyHostToDevice);
        ser_k_bn_train_stats(dmean, drstd, dmm, dmv, dcoef, part, dx_, dg_, db_, N, C, 0.99f, keras_one_minus(0.99f), 1e-3f, 0);
        ser_k_bn_apply(dout, dx_, dcoef, N, C, 0);
        cudaMemcpy(out, dout, n * 4, cudaMemcpyDeviceToHost);
        double e = maxrel(out, y, n); printf("N=%d C=%d train y %.3g\n", N, C, e); fails += e > 1e-6;
        cudaMemcpy(oc, dmean, C * 4, cudaMemcpyDeviceToHost); e = maxrel(oc, mean, C); printf("  mean %.3g\n", e); fails += e > 1e-6;
        cudaMemcpy(oc, drstd, C * 4, cudaMemcpyDeviceToHost); e = maxrel(oc, rstd, C); printf("  rstd %.3g\n", e); fails += e > 1e-6;
        cudaMemcpy(oc, dmm, C * 4, cudaMemcpyDeviceToHost); e = maxrel(oc, mm2, C); printf("  mm %.3g\n", e); fails += e > 1e-6;
        cudaMemcpy(oc, dmv, C * 4, cudaMemcpyDeviceToHost); e = maxrel(oc, mv2, C); printf("  mv %.3g\n", e); fails += e > 1e-6;
        /* moving update from rstd (the cuDNN path's kernel) */
        cudaMemcpy(dmm, mm, C * 4, cudaMemcpyHostToDevice); cudaMemcpy(dmv, mv, C * 4, cudaMemcpyHostToDevice);
        ser_k_bn_moving_update(dmm, dmv, dmean, drstd, C, 0.99f, keras_one_minus(0.99f), 1e-3f, 0);
        cudaMemcpy(oc, dmm, C * 4, cudaMemcpyDeviceToHost); e = maxrel(oc, mm2, C); printf("  mm(rstd) %.3g\n", e); fails += e > 1e-6;
        cudaMemcpy(oc, dmv, C * 4, cudaMemcpyDeviceToHost); e = maxrel(oc, mv2, C); printf("  mv(rstd) %.3g\n", e); fails += e > 1e-6;
        /* inference */
        batchnorm_forward_infer(y, x, g, b, mm, mv, N, C, 1e-3f);
        ser_k_bn_infer_coef(dcoef, dg_, db_, dmm, dmv, C, 1e-3f, 0); /* dmm/dmv now updated: reload */
        cudaMemcpy(dmm, mm, C * 4, cudaMemcpyHostToDevice); cudaMemcpy(dmv, mv, C * 4, cudaMemcpyHostToDevice);
        ser_k_bn_infer_coef(dcoef, dg_, db_, dmm, dmv, C, 1e-3f, 0);
        ser_k_bn_apply(dout, dx_, dcoef, N, C, 0);
        cudaMemcpy(out, dout, n * 4, cudaMemcpyDeviceToHost); e = maxrel(out, y, n); printf("  infer y %.3g (exact %d)\n", e, memcmp(out, y, n * 4) == 0); fails += e > 1e-6;
        /* backward with the CPU's stats */
        batchnorm_backward(dx, dg, db, dy, x, mean, rstd, g, N, C);
        cudaMemcpy(dmean, mean, C * 4, cudaMemcpyHostToDevice); cudaMemcpy(drstd, rstd, C * 4, cudaMemcpyHostToDevice);
        float *ddx = dv(n), *ddg = dv(C), *ddb = dv(C);
        ser_k_bn_backward(ddx, ddg, ddb, dcoef, part, dy_, dx_, dmean, drstd, dg_, N, C, 0);
        cudaMemcpy(out, ddx, n * 4, cudaMemcpyDeviceToHost); e = maxrel(out, dx, n); printf("  dx %.3g\n", e); fails += e > 1e-5;
        cudaMemcpy(oc, ddg, C * 4, cudaMemcpyDeviceToHost); e = maxrel(oc, dg, C); printf("  dgamma %.3g\n", e); fails += e > 1e-6;
        cudaMemcpy(oc, ddb, C * 4, cudaMemcpyDeviceToHost); e = maxrel(oc, db, C); printf("  dbeta %.3g\n", e); fails += e > 1e-6;
        float *hf[] = {x, dy, g, b, mm, mv, y, mean, rstd, mm2, mv2, out, oc, dx, dg, db};
        for (size_t i = 0; i < sizeof hf / sizeof *hf; i++) free(hf[i]);
        float *df[] = {dx_, dy_, dg_, db_, dmm, dmv, dmean, drstd, dcoef, dout, ddx, ddg, ddb};
        for (size_t i = 0; i < sizeof df / sizeof *df; i++) cudaFree(df[i]);
        cudaFree(part);
    }
    /* transposes */
    const int K = 3, Ci = 2, Co = 5; size_t nw = K * K * Ci * Co;
    float w[90], k2[90], w2[90];
    for (size_t i = 0; i < nw; i++) w[i] = (float)i;
    float *dw = dv(nw), *dk = dv(nw), *dw2 = dv(nw);
    cudaMemcpy(dw, w, nw * 4, cudaMemcpyHostToDevice);
    ser_k_hwio_to_krsc(dk, dw, K, Ci, Co, 0); ser_k_krsc_to_hwio(dw2, dk, K, Ci, Co, 0);
    cudaMemcpy(k2, dk, nw * 4, cudaMemcpyDeviceToHost); cudaMemcpy(w2, dw2, nw * 4, cudaMemcpyDeviceToHost);
    int okT = memcmp(w, w2, nw * 4) == 0;
    for (int co = 0; co < Co; co++) for (int r = 0; r < K; r++) for (int s2 = 0; s2 < K; s2++) for (int ci = 0; ci < Ci; ci++)
        okT &= k2[((co * K + r) * K + s2) * Ci + ci] == w[((r * K + s2) * Ci + ci) * Co + co];
    printf("transposes %s\n", okT ? "ok" : "WRONG"); fails += !okT;
    cudaFree(dw), cudaFree(dk), cudaFree(dw2);
    fails += conv_fallback();
    printf("fails %d\n", fails);
    return fails != 0;
}
