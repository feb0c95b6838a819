/* kernels/cudnn_ops.h against the CPU layers (host/model/layers/conv2d.c, batchnorm.c): every op on
 * random inputs, small shapes (odd sizes, Cin = 1, K = 5) and the network's reference shapes at
 * B = 64; then a captured CUDA graph of a training step's ops replayed against the uncaptured
 * results. Batch norm runs three times: through cuDNN (or its fallback, with the reason), forced
 * onto ser's own kernels, and through cuDNN engines whose first run is made wrong (the first-run
 * check must catch it and fall back); convolutions also run forced onto im2col + cuBLAS GEMM.
 * The path each op took is printed and asserted with the numbers.
 *
 * Each comparison prints one line: the op, the shape, the worst element as
 * |gpu - cpu| / (rtol |cpu| + atol_rel max|cpu|) (<= 1 passes), and where it is. TF32 is off, so
 * convolutions must agree with the CPU's float32 to rounding; a layout mistake shows as O(1)
 * errors, TF32 as about 1e-3.
 *
 * Exits 77 (SKIPPED, with the reason; a failure under SER_REQUIRE_CUDA=1) without a CUDA device. SER_CUDNN_VERBOSE=1 prints each engine choice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "check.h"
#include "cuda_test.h"
#include "cudnn_graph.h"
#include "cudnn_ops.h"
#include "layers/layers.h"
#include "ser/cuda.h"
#include "ser/rng.h"

static ser_error err;

/* A ser op that fails is a failed check with its error line; the case stops there. */
#define OP(call)                                                                                      \
    do {                                                                                              \
        if ((call) != 0) {                                                                            \
            check_failed_++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: %s\n    -> %s\n", __FILE__, __LINE__, #call, err.msg);      \
            return;                                                                                   \
        }                                                                                             \
    } while (0)

static float *host(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "FAIL: out of host memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}
static float *dev(size_t n) {
    void *p = NULL;
    CU(cudaMalloc(&p, (n ? n : 1) * sizeof(float)));
    return p;
}
/* Host -> device, finished before it returns. A cudaMemcpy from pageable memory returns once the
 * data is staged, before its DMA lands, and it runs on the legacy default stream, which the ops'
 * non-blocking stream does not wait for: without the device synchronisation an op could read the
 * buffer before the copy, and the host could reuse its memory early. */
static void upload(float *d, const float *h, size_t n) {
    CU(cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice));
    CU(cudaDeviceSynchronize());
}
static float *dev_from(const float *h, size_t n) {
    float *d = dev(n);
    upload(d, h, n);
    return d;
}
static void to_host(float *h, const float *d, size_t n, cudaStream_t s) {
    CU(cudaStreamSynchronize(s));
    CU(cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost));
}
static void fill(float *p, size_t n, ser_rng *r, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)ser_rng_uniform(r);
}

/* Worst |g - r| / (rtol |r| + atol_rel max|r|) over the tensor; passes when <= 1. */
static void compare(const char *op, const char *shape, const char *name, const float *g, const float *r, size_t n,
                    double rtol, double atol_rel) {
    double amax = 0.0;
    for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs((double)r[i]));
    const double atol = atol_rel * (amax > 0.0 ? amax : 1.0);
    double worst = 0.0;
    size_t wi = 0;
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            nan = 1;
            wi = i;
            break;
        }
        const double e = fabs((double)g[i] - (double)r[i]) / (rtol * fabs((double)r[i]) + atol);
        if (e > worst) worst = e, wi = i;
    }
    const int ok = !nan && worst <= 1.0;
    printf("%-4s %-30s %-34s %-12s worst %.3g of tol (rtol %.0e, atol %.0e x max|cpu| %.3g) at %zu: gpu %.9g cpu %.9g\n",
           ok ? "ok" : "FAIL", op, shape, name, nan ? INFINITY : worst, rtol, atol_rel, amax, wi, (double)g[wi],
           (double)r[wi]);
    CHECKF(ok, "%s %s %s: gpu and cpu differ (see the line above)", op, shape, name);
}

/* ---- convolution ---------------------------------------------------------------------------- */

static void test_conv(ser_cudnn *c, cudaStream_t s, int B, int H, int W, int Cin, int Cout, int K, uint64_t seed) {
    char shape[96];
    snprintf(shape, sizeof shape, "B=%d H=%d W=%d Cin=%d Cout=%d K=%d", B, H, W, Cin, Cout, K);
    const size_t nx = (size_t)B * H * W * Cin, ny = (size_t)B * H * W * Cout, nw = (size_t)K * K * Cin * Cout;
    ser_rng r = {seed};
    float *x = host(nx), *w = host(nw), *dy = host(ny), *y_ref = host(ny), *dx_ref = host(nx), *dw_ref = host(nw);
    float *y = host(ny), *dxg = host(nx), *dwg = host(nw), *dw2 = host(nw);
    float *col = host(conv2d_col_size(B, H, W, Cin, K));
    fill(x, nx, &r, -1.0f, 1.0f);
    fill(w, nw, &r, -0.5f, 0.5f);
    fill(dy, ny, &r, -1.0f, 1.0f);
    conv2d_forward(y_ref, col, x, w, NULL, B, H, W, Cin, Cout, K);
    conv2d_backward(dx_ref, dw_ref, NULL, col, dy, x, w, B, H, W, Cin, Cout, K); /* dw_ref zeroed: += */

    float *d_x = dev_from(x, nx), *d_w = dev_from(w, nw), *d_dy = dev_from(dy, ny);
    float *d_y = dev(ny), *d_dx = dev(nx), *d_dw = dev(nw);
    do {
        OP(ser_conv_fwd(c, d_y, d_x, d_w, B, H, W, Cin, Cout, K, &err));
        to_host(y, d_y, ny, s);
        compare("conv forward", shape, "y", y, y_ref, ny, 0.0, 1e-5);
        OP(ser_conv_bwd_data(c, d_dx, d_dy, d_w, B, H, W, Cin, Cout, K, &err));
        to_host(dxg, d_dx, nx, s);
        compare("conv backward data", shape, "dx", dxg, dx_ref, nx, 0.0, 1e-5);
        /* weight gradients sum B*H*W products: float rounding grows with the sum's length */
        OP(ser_conv_bwd_filter(c, d_dw, d_x, d_dy, B, H, W, Cin, Cout, K, &err));
        to_host(dwg, d_dw, nw, s);
        compare("conv backward filter", shape, "dw", dwg, dw_ref, nw, 0.0, 1e-4);
        /* same plan again: cached (no new plan, no workspace growth), same bits if deterministic */
        const int plans = c->n_plans;
        const size_t ws = ser_cudnn_workspace_bytes(c);
        OP(ser_conv_bwd_filter(c, d_dw, d_x, d_dy, B, H, W, Cin, Cout, K, &err));
        to_host(dw2, d_dw, nw, s);
        CHECKF(c->n_plans == plans && ser_cudnn_workspace_bytes(c) == ws,
               "conv %s: a repeated call built a plan or grew the workspace (plans %d -> %d)", shape, plans,
               c->n_plans);
        const int shp[SER_CG_SHAPE] = {B, H, W, Cin, Cout, K};
        const ser_cg_plan *p = ser_cg_find(c, SER_CG_CONV_BWD_FILTER, shp);
        if (p && (p->strict || p->fallback))
            CHECKF(memcmp(dw2, dwg, nw * sizeof *dwg) == 0,
                   "conv backward filter %s: a deterministic path gave different bits on a second run", shape);
        /* the path each op took, asserted: forced -> im2col + GEMM; else an engine or a named refusal */
        for (int k = 0; k < 3; k++) {
            const ser_cg_plan *q = ser_cg_find(c, SER_CG_CONV_FWD + k, shp);
            char path[512] = "no plan";
            if (q) ser_cg_path(q, path, sizeof path);
            printf("     conv %s op %d: %s\n", shape, k, path);
            if (c->force_conv_fallback)
                CHECKF(q && q->fallback && !strcmp(q->why, "forced"), "conv %s op %d: forced fallback not taken: %s",
                       shape, k, path);
            else
                CHECKF(q && (q->fallback ? strstr(q->why, "no cuDNN engine") != NULL : q->plan != NULL),
                       "conv %s op %d: a path without an engine or a reason: %s", shape, k, path);
        }
    } while (0);
    cudaFree(d_x), cudaFree(d_w), cudaFree(d_dy), cudaFree(d_y), cudaFree(d_dx), cudaFree(d_dw);
    free(x), free(w), free(dy), free(y_ref), free(dx_ref), free(dw_ref), free(y), free(dxg), free(dwg), free(dw2);
    free(col);
}

/* ---- batch norm ----------------------------------------------------------------------------- */

/* tight: ser's own kernels (double sums, the CPU's expressions); otherwise cuDNN's float sums. */
/* What a context's BN plans must show after a shape ran (item 3 of issue 14: the path is asserted
 * with the numbers). ANY: a cuDNN engine whose first run was checked, or ser's kernels with the
 * reason; FORCED: ser's kernels because the test asked; CAUGHT: the engine's first run was made
 * wrong (ser_cudnn_inject_bn_fault), so ser's kernels with that reason (or no engine at all). */
enum { BN_ANY, BN_FORCED, BN_CAUGHT };

static void test_bn(ser_cudnn *c, cudaStream_t s, int N, int C, uint64_t seed, const char *path, int expect) {
    char shape[96];
    snprintf(shape, sizeof shape, "N=%d C=%d [%s]", N, C, path);
    const int tight = c->force_fallback;
    const float momentum = 0.99f, eps = 1e-3f;
    const size_t n = (size_t)N * C;
    ser_rng r = {seed};
    float *x = host(n), *dy = host(n), *gamma = host(C), *beta = host(C), *mm0 = host(C), *mv0 = host(C);
    float *y_ref = host(n), *mean_ref = host(C), *rstd_ref = host(C), *mm_ref = host(C), *mv_ref = host(C);
    float *yi_ref = host(n), *dx_ref = host(n), *dg_ref = host(C), *db_ref = host(C);
    float *g = host(n), *gc = host(C);
    /* per-channel offsets and spreads, so the mean matters and no variance sits near eps */
    for (int ch = 0; ch < C; ch++) {
        const float off = -2.0f + 4.0f * (float)ser_rng_uniform(&r), sp = 0.3f + 2.0f * (float)ser_rng_uniform(&r);
        for (int i = 0; i < N; i++) x[(size_t)i * C + ch] = off + sp * (2.0f * (float)ser_rng_uniform(&r) - 1.0f);
    }
    fill(dy, n, &r, -1.0f, 1.0f);
    fill(gamma, C, &r, 0.5f, 1.5f);
    fill(beta, C, &r, -0.5f, 0.5f);
    fill(mm0, C, &r, -1.0f, 1.0f);
    fill(mv0, C, &r, 0.5f, 2.0f);
    memcpy(mm_ref, mm0, C * sizeof *mm0);
    memcpy(mv_ref, mv0, C * sizeof *mv0);
    batchnorm_forward_train(y_ref, mean_ref, rstd_ref, mm_ref, mv_ref, x, gamma, beta, N, C, momentum, eps);
    batchnorm_forward_infer(yi_ref, x, gamma, beta, mm0, mv0, N, C, eps);
    batchnorm_backward(dx_ref, dg_ref, db_ref, dy, x, mean_ref, rstd_ref, gamma, N, C); /* dg, db zeroed: += */

    float *d_x = dev_from(x, n), *d_dy = dev_from(dy, n), *d_g = dev_from(gamma, C), *d_b = dev_from(beta, C);
    float *d_mm = dev_from(mm0, C), *d_mv = dev_from(mv0, C), *d_mref = dev_from(mean_ref, C);
    float *d_rref = dev_from(rstd_ref, C), *d_mm0 = dev_from(mm0, C), *d_mv0 = dev_from(mv0, C);
    float *d_y = dev(n), *d_mean = dev(C), *d_rstd = dev(C), *d_dx = dev(n), *d_dg = dev(C), *d_db = dev(C);
    do {
        OP(ser_bn_fwd_train(c, d_y, d_mean, d_rstd, d_mm, d_mv, d_x, d_g, d_b, N, C, momentum, eps, &err));
        to_host(g, d_y, n, s);
        compare("bn forward train", shape, "y", g, y_ref, n, 0.0, tight ? 1e-6 : 1e-5);
        to_host(gc, d_mean, C, s);
        compare("bn forward train", shape, "saved mean", gc, mean_ref, C, tight ? 1e-6 : 1e-5, 1e-6);
        to_host(gc, d_rstd, C, s);
        compare("bn forward train", shape, "saved rstd", gc, rstd_ref, C, tight ? 1e-6 : 1e-5, 0.0);
        to_host(gc, d_mm, C, s);
        compare("bn forward train", shape, "moving mean", gc, mm_ref, C, 2e-6, 1e-7);
        to_host(gc, d_mv, C, s);
        compare("bn forward train", shape, "moving var", gc, mv_ref, C, 2e-6, 0.0);

        OP(ser_bn_fwd_infer(c, d_y, d_x, d_g, d_b, d_mm0, d_mv0, N, C, eps, &err));
        to_host(g, d_y, n, s);
        compare("bn forward inference", shape, "y", g, yi_ref, n, 0.0, tight ? 1e-6 : 1e-5);

        /* the CPU's saved statistics in, so only the backward is compared */
        OP(ser_bn_bwd(c, d_dx, d_dg, d_db, d_dy, d_x, d_mref, d_rref, d_g, N, C, eps, &err));
        to_host(g, d_dx, n, s);
        compare("bn backward", shape, "dx", g, dx_ref, n, 0.0, tight ? 1e-5 : 1e-4);
        to_host(gc, d_dg, C, s);
        compare("bn backward", shape, "dgamma", gc, dg_ref, C, tight ? 1e-6 : 1e-5, tight ? 1e-6 : 1e-4);
        to_host(gc, d_db, C, s);
        compare("bn backward", shape, "dbeta", gc, db_ref, C, tight ? 1e-6 : 1e-5, tight ? 1e-6 : 1e-4);
        const int key[SER_CG_SHAPE] = {N, C, 0, 0, 0, 0};
        const char *via[3];
        for (int k = 0; k < 3; k++) {
            const ser_cg_plan *p = ser_cg_find(c, SER_CG_BN_FWD_TRAIN + k, key);
            via[k] = !p ? "?" : p->fallback ? "ser kernels" : "cuDNN engine";
            char pathtxt[512] = "no plan";
            if (p) ser_cg_path(p, pathtxt, sizeof pathtxt);
            printf("     bn %s op %d: %s\n", shape, k, pathtxt);
            CHECKF(p != NULL, "bn %s op %d: no plan was made", shape, k);
            if (!p) continue;
            if (expect == BN_FORCED)
                CHECKF(p->fallback && !strcmp(p->why, "forced"), "bn %s op %d: forced fallback not taken: %s", shape, k,
                       pathtxt);
            else if (expect == BN_CAUGHT)
                CHECKF(p->fallback && (strstr(p->why, "wrong numbers") || strstr(p->why, "no cuDNN engine")),
                       "bn %s op %d: a wrong first run was not caught: %s", shape, k, pathtxt);
            else
                CHECKF(p->fallback ? p->why[0] != '\0' : p->checked && p->check_diff <= 1e-3,
                       "bn %s op %d: a path without its check or reason: %s", shape, k, pathtxt);
        }
        printf("     bn %s ran: train on %s, inference on %s, backward on %s\n", shape, via[0], via[1], via[2]);
    } while (0);
    float *bufs[] = {d_x, d_dy, d_g, d_b, d_mm, d_mv, d_mref, d_rref, d_mm0, d_mv0, d_y, d_mean, d_rstd, d_dx, d_dg, d_db};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cudaFree(bufs[i]);
    float *hb[] = {x, dy, gamma, beta, mm0, mv0, y_ref, mean_ref, rstd_ref, mm_ref, mv_ref, yi_ref, dx_ref, dg_ref,
                   db_ref, g, gc};
    for (size_t i = 0; i < sizeof hb / sizeof *hb; i++) free(hb[i]);
}

/* ---- a captured step -------------------------------------------------------------------------- */

/* conv -> BN train -> BN backward -> conv backward (data, filter), uncaptured once (the warm-up:
 * plans and workspace), then captured into a CUDA graph and replayed: same results, no plan or
 * workspace change. */
static void test_capture(ser_cudnn *c, cudaStream_t s, int B, int H, int W, int Cin, int Cout) {
    const int K = 3, N = B * H * W;
    char shape[96];
    snprintf(shape, sizeof shape, "B=%d H=%d W=%d Cin=%d Cout=%d", B, H, W, Cin, Cout);
    const size_t nx = (size_t)B * H * W * Cin, ny = (size_t)B * H * W * Cout, nw = (size_t)K * K * Cin * Cout;
    ser_rng r = {77};
    float *hx = host(nx), *hw = host(nw), *hdy = host(ny), *hg = host(Cout), *hb = host(Cout);
    float *ones = host(Cout), *zeros = host(Cout);
    fill(hx, nx, &r, -1.0f, 1.0f);
    fill(hw, nw, &r, -0.5f, 0.5f);
    fill(hdy, ny, &r, -1.0f, 1.0f);
    fill(hg, Cout, &r, 0.5f, 1.5f);
    fill(hb, Cout, &r, -0.5f, 0.5f);
    for (int i = 0; i < Cout; i++) ones[i] = 1.0f;
    float *x = dev_from(hx, nx), *w = dev_from(hw, nw), *dyn = dev_from(hdy, ny), *gm = dev_from(hg, Cout);
    float *bt = dev_from(hb, Cout), *mm = dev(Cout), *mv = dev(Cout), *y = dev(ny), *z = dev(ny), *mean = dev(Cout);
    float *rstd = dev(Cout), *dz = dev(ny), *dg = dev(Cout), *db = dev(Cout), *dx = dev(nx), *dw = dev(nw);
    float *out[2][4];
    const size_t outn[4] = {ny, nx, nw, Cout};
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++) out[k][j] = host(outn[j]);
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    for (int run = 0; run < 2; run++) {
        upload(mm, zeros, Cout);
        upload(mv, ones, Cout);
        const int plans = c->n_plans;
        const size_t ws = ser_cudnn_workspace_bytes(c);
        if (run == 1) CU(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
        int failed = ser_conv_fwd(c, y, x, w, B, H, W, Cin, Cout, K, &err) ||
                     ser_bn_fwd_train(c, z, mean, rstd, mm, mv, y, gm, bt, N, Cout, 0.99f, 1e-3f, &err) ||
                     ser_bn_bwd(c, dz, dg, db, dyn, y, mean, rstd, gm, N, Cout, 1e-3f, &err) ||
                     ser_conv_bwd_data(c, dx, dz, w, B, H, W, Cin, Cout, K, &err) ||
                     ser_conv_bwd_filter(c, dw, x, dz, B, H, W, Cin, Cout, K, &err);
        if (run == 1) {
            cudaError_t e = cudaStreamEndCapture(s, &graph);
            if (!failed && e != cudaSuccess)
                snprintf(err.msg, sizeof err.msg, "cudaStreamEndCapture: %s", cudaGetErrorString(e)), failed = 1;
            if (!failed) {
                e = cudaGraphInstantiate(&exec, graph, 0);
                if (e != cudaSuccess)
                    snprintf(err.msg, sizeof err.msg, "cudaGraphInstantiate: %s", cudaGetErrorString(e)), failed = 1;
            }
            if (!failed) {
                CU(cudaMemsetAsync(y, 0, ny * sizeof(float), s));
                CU(cudaMemsetAsync(dx, 0, nx * sizeof(float), s));
                CU(cudaMemsetAsync(dw, 0, nw * sizeof(float), s));
                CU(cudaGraphLaunch(exec, s));
            }
        }
        CHECKF(!failed, "captured step %s, run %d (%s): %s", shape, run, run ? "captured" : "warm-up", err.msg);
        if (failed) break;
        if (run == 1)
            CHECKF(c->n_plans == plans && ser_cudnn_workspace_bytes(c) == ws,
                   "captured step %s: the capture built plans or grew the workspace", shape);
        to_host(out[run][0], y, ny, s);
        to_host(out[run][1], dx, nx, s);
        to_host(out[run][2], dw, nw, s);
        to_host(out[run][3], mv, Cout, s);
    }
    if (exec) {
        compare("captured graph vs uncaptured", shape, "conv y", out[1][0], out[0][0], ny, 0.0, 1e-6);
        compare("captured graph vs uncaptured", shape, "dx", out[1][1], out[0][1], nx, 0.0, 1e-6);
        compare("captured graph vs uncaptured", shape, "dw", out[1][2], out[0][2], nw, 0.0, 1e-6);
        compare("captured graph vs uncaptured", shape, "moving var", out[1][3], out[0][3], Cout, 1e-6, 0.0);
        cudaGraphExecDestroy(exec);
    }
    if (graph) cudaGraphDestroy(graph);
    float *db_[] = {x, w, dyn, gm, bt, mm, mv, y, z, mean, rstd, dz, dg, db, dx, dw};
    for (size_t i = 0; i < sizeof db_ / sizeof *db_; i++) cudaFree(db_[i]);
    free(hx), free(hw), free(hdy), free(hg), free(hb), free(ones), free(zeros);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++) free(out[k][j]);
}

/* Milliseconds per call of each op at a reference shape (information only). */
static void time_ops(ser_cudnn *c, cudaStream_t s, int B, int H, int W, int Cin, int Cout) {
    const int K = 3, N = B * H * W, reps = 20;
    const size_t nx = (size_t)N * Cin, ny = (size_t)N * Cout, nw = (size_t)K * K * Cin * Cout;
    float *x = dev(nx), *w = dev(nw), *y = dev(ny), *z = dev(ny), *dw = dev(nw), *dx = dev(nx);
    float *v[6];
    for (int i = 0; i < 6; i++) v[i] = dev(Cout);
    CU(cudaMemsetAsync(x, 0, nx * 4, s));
    CU(cudaMemsetAsync(w, 0, nw * 4, s));
    CU(cudaMemsetAsync(y, 0, ny * 4, s));
    for (int i = 0; i < 6; i++) CU(cudaMemsetAsync(v[i], 0, Cout * 4, s));
    cudaEvent_t e0, e1;
    CU(cudaEventCreate(&e0));
    CU(cudaEventCreate(&e1));
    float ms[5] = {0};
    for (int op = 0; op < 5; op++) {
        for (int it = -1; it < reps; it++) { /* it -1: warm-up */
            if (it == 0) CU(cudaEventRecord(e0, s));
            int rc = 0;
            switch (op) {
            case 0: rc = ser_conv_fwd(c, y, x, w, B, H, W, Cin, Cout, K, &err); break;
            case 1: rc = ser_conv_bwd_data(c, dx, y, w, B, H, W, Cin, Cout, K, &err); break;
            case 2: rc = ser_conv_bwd_filter(c, dw, x, y, B, H, W, Cin, Cout, K, &err); break;
            case 3: rc = ser_bn_fwd_train(c, z, v[0], v[1], v[2], v[3], y, v[4], v[5], N, Cout, 0.99f, 1e-3f, &err); break;
            default: rc = ser_bn_bwd(c, z, v[2], v[3], y, y, v[0], v[1], v[4], N, Cout, 1e-3f, &err); break;
            }
            if (rc) {
                printf("timing B=%d H=%d W=%d Cin=%d: op %d failed: %s\n", B, H, W, Cin, op, err.msg);
                goto done;
            }
        }
        CU(cudaEventRecord(e1, s));
        CU(cudaEventSynchronize(e1));
        CU(cudaEventElapsedTime(&ms[op], e0, e1));
        ms[op] /= reps;
    }
    printf("time B=%d H=%d W=%d Cin=%d Cout=%d: conv fwd %.3f ms, bwd data %.3f ms, bwd filter %.3f ms, "
           "bn train %.3f ms, bn bwd %.3f ms\n", B, H, W, Cin, Cout, ms[0], ms[1], ms[2], ms[3], ms[4]);
done:
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    cudaFree(x), cudaFree(w), cudaFree(y), cudaFree(z), cudaFree(dw), cudaFree(dx);
    for (int i = 0; i < 6; i++) cudaFree(v[i]);
}

int main(void) {
    char desc[256];
    cuda_test_start("test_cuda_cudnn", CUDA_TEST_CUDNN, desc, sizeof desc);
    printf("device: %s; cuDNN %zu (built against %d.%d.%d)\n", desc, cudnnGetVersion(), CUDNN_MAJOR, CUDNN_MINOR,
           CUDNN_PATCHLEVEL);
    cudaStream_t s;
    CU(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    /* c: cuDNN first; cf: ser's BN kernels and the im2col + GEMM convolutions, forced; cbad: cuDNN
     * BN engines whose first run is made wrong */
    ser_cudnn *c = NULL, *cf = NULL, *cbad = NULL;
    if (ser_cudnn_create(&c, s, 0, &err) || ser_cudnn_create(&cf, s, 0, &err) || ser_cudnn_create(&cbad, s, 0, &err)) {
        fprintf(stderr, "FAIL: ser_cudnn_create: %s\n", err.msg);
        return 1;
    }
    ser_cudnn_force_bn_fallback(cf, 1);
    ser_cudnn_force_conv_fallback(cf, 1);
    ser_cudnn_inject_bn_fault(cbad, 1);

    /* small shapes: odd sizes, one input channel, a 5x5 kernel, a single image */
    test_conv(c, s, 2, 5, 7, 3, 4, 3, 1);
    test_conv(c, s, 3, 6, 9, 1, 8, 3, 2);
    test_conv(c, s, 1, 6, 5, 2, 3, 5, 3);
    test_conv(c, s, 2, 4, 4, 8, 16, 1, 4);
    /* the network's blocks at B = 64 */
    const int ref[4][4] = {{40, 130, 1, 64}, {20, 65, 64, 64}, {10, 33, 64, 64}, {5, 17, 64, 64}};
    for (int i = 0; i < 4; i++) test_conv(c, s, 64, ref[i][0], ref[i][1], ref[i][2], ref[i][3], 3, 10 + i);
    /* the convolution fallback, forced: odd shapes, then the network's first two blocks */
    test_conv(cf, s, 2, 5, 7, 3, 4, 3, 1);
    test_conv(cf, s, 3, 6, 9, 1, 8, 3, 2);
    test_conv(cf, s, 1, 6, 5, 2, 3, 5, 3);
    for (int i = 0; i < 2; i++) test_conv(cf, s, 64, ref[i][0], ref[i][1], ref[i][2], ref[i][3], 3, 10 + i);

    const int bn_small[3][2] = {{37, 5}, {1, 3}, {2 * 5 * 7, 4}};
    for (int i = 0; i < 3; i++) {
        test_bn(c, s, bn_small[i][0], bn_small[i][1], 20 + i, "cuDNN", BN_ANY);
        test_bn(cf, s, bn_small[i][0], bn_small[i][1], 20 + i, "ser kernels", BN_FORCED);
        test_bn(cbad, s, bn_small[i][0], bn_small[i][1], 20 + i, "cuDNN, first run made wrong", BN_CAUGHT);
    }
    for (int i = 0; i < 4; i++) {
        test_bn(c, s, 64 * ref[i][0] * ref[i][1], ref[i][3], 30 + i, "cuDNN", BN_ANY);
        test_bn(cf, s, 64 * ref[i][0] * ref[i][1], ref[i][3], 30 + i, "ser kernels", BN_FORCED);
    }
    test_bn(cbad, s, 64 * ref[0][0] * ref[0][1], ref[0][3], 30, "cuDNN, first run made wrong", BN_CAUGHT);

    test_capture(c, s, 64, 20, 65, 64, 64);
    test_capture(c, s, 64, 40, 130, 1, 64);
    test_capture(cf, s, 64, 40, 130, 1, 64); /* the fallbacks captured: cuBLAS with its workspace */
    for (int i = 0; i < 4; i++) time_ops(c, s, 64, ref[i][0], ref[i][1], ref[i][2], ref[i][3]);

    static char plans[16384];
    ser_cudnn_describe(c, plans, sizeof plans);
    printf("plans (workspace %zu B):\n%s", ser_cudnn_workspace_bytes(c), plans);
    ser_cudnn_destroy(cbad);
    ser_cudnn_destroy(cf);
    ser_cudnn_destroy(c);
    CU(cudaStreamDestroy(s));
    return check_finish("test_cuda_cudnn");
}
