/* ser's custom CUDA kernels (kernels/kernels.h) against the CPU layers (host/model/layers/layers.h):
 * for every launcher, random inputs on the host, the CPU function and the kernel on the same
 * data, then a comparison per output, one line each:
 *   exact (bit for bit): fill, bias add, gather/scatter, ReLU + pool (values, argmax, gradient),
 *     statistics pooling (forward, backward, concatenation and split),
 *     dropout (mask, output, gradient), L2 gradient, loss total, Adam (shared element code),
 *     softmax_xent backward;
 *   max |gpu - cpu| / max |cpu| <= 1e-5 for forwards (attention, softmax, cross-entropy) and
 *     <= 1e-4 for reductions (bias gradient, attention backward, L2 term);
 *   determinism: reductions run twice give the same bits;
 *   the batch-norm statistics pass (bn_stats_add / write): each batch's and the pooled mean and
 *   variance <= 1e-4 of the CPU's.
 * Shapes are the network's (conv blocks at B = 64, attention B = 64, T = 3, D = A = 32, 7
 * classes, ~120k parameters) plus odd ones (partial blocks, P = 3 with padding before).
 * Exits 77 (SKIPPED, with the reason; a failure under SER_REQUIRE_CUDA=1) when no CUDA device is usable. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "check.h"
#include "cuda_check.h"
#include "cuda_test.h"
#include "kernels.h"
#include "layers/adam_elem.h"
#include "layers/layers.h"

/* ---- host data --------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t urand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 32);
}
static float frand(void) { return (float)((urand() >> 8) * 0x1p-24 * 2.0 - 1.0); } /* [-1, 1) */

static void *hmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    SER_ASSERT(p);
    return p;
}
static float *rand_buf(size_t n, float scale) {
    float *p = hmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = scale * frand();
    return p;
}

/* ---- device buffers: every one is remembered and freed by dev_free_all() at the end of a case -- */

#define MAX_DEV 64
static void *dev_list[MAX_DEV];
static int dev_n;

static int dev_alloc(void **d, size_t bytes, ser_error *err) {
    SER_ASSERT(dev_n < MAX_DEV);
    SER_CU(cudaMalloc(d, bytes ? bytes : 1));
    dev_list[dev_n++] = *d;
    return 0;
}
/* a new device buffer holding a copy of the host's h */
static int dev_put(void **d, const void *h, size_t bytes, ser_error *err) {
    if (dev_alloc(d, bytes, err)) return -1;
    SER_CU(cudaMemcpy(*d, h, bytes, cudaMemcpyHostToDevice));
    return 0;
}
static int dev_get(void *h, const void *d, size_t bytes, ser_error *err) {
    SER_CU(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost));
    return 0;
}
static int dev_free_all(ser_error *err) {
    while (dev_n > 0) SER_CU(cudaFree(dev_list[--dev_n]));
    return 0;
}

#define TRY(call)                                                                                      \
    do {                                                                                               \
        if ((call) != 0) return -1;                                                                    \
    } while (0)
/* A launcher on the default stream, then a synchronize so that an asynchronous fault is reported
 * at the launch that caused it. */
#define LAUNCH(call)                                                                                   \
    do {                                                                                               \
        SER_CU(call);                                                                                  \
        SER_CU(cudaDeviceSynchronize());                                                               \
    } while (0)

/* ---- comparisons ------------------------------------------------------------------------------- */

static void cmp_exact(const char *what, const void *got, const void *want, size_t bytes) {
    const unsigned char *g = got, *w = want;
    size_t first = bytes;
    for (size_t i = 0; i < bytes && first == bytes; i++)
        if (g[i] != w[i]) first = i;
    printf("  %-44s %s\n", what, first == bytes ? "bit-identical" : "DIFFERS");
    CHECKF(first == bytes, "%s: first differing byte %zu of %zu", what, first, bytes);
}

/* max |got - want| / max |want| (NaN counts as infinite) */
static void cmp_close(const char *what, const float *got, const float *want, size_t n, double bound) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= num)) num = isnan(d) ? INFINITY : d;
        if (fabs((double)want[i]) > den) den = fabs((double)want[i]);
    }
    const double e = num / (den > 0.0 ? den : 1.0);
    printf("  %-44s max rel err %.2e (bound %.0e)\n", what, e, bound);
    CHECKF(e <= bound, "%s: max rel err %.3e > %.0e", what, e, bound);
}

#define FWD_TOL 1e-5
#define RED_TOL 1e-4

/* ---- the batch-norm statistics pass ------------------------------------------------------------- */

/* Three batches of (rows, C) through ser_k_bn_stats_add: each batch's mean and variance against
 * the CPU's batchnorm_batch_stats, then the pooled statistics ser_k_bn_stats_write gives against
 * a two-pass mean and biased variance over all the rows (values offset from 0, so a sum of x^2
 * without the shift would lose digits). */
static int test_bn_stats(ser_error *err) {
    const int shapes[3][2] = {{4 * 40 * 130, 64}, {1025, 9}, {3 * 1024 + 17, 3}};
    for (int sh = 0; sh < 3; sh++) {
        const size_t rows = (size_t)shapes[sh][0];
        const int C = shapes[sh][1];
        const size_t n = rows * C;
        char what[96];
        float *x[3];
        for (int k = 0; k < 3; k++) {
            x[k] = rand_buf(n, 0.5f + 0.25f * (float)k);
            for (size_t i = 0; i < n; i++) x[k][i] += 3.0f + (float)(i % (size_t)C) * 0.1f;
        }
        float *dx, *dm, *dv, *gm = hmalloc((size_t)C * sizeof *gm), *gv = hmalloc((size_t)C * sizeof *gv);
        float *wm = hmalloc((size_t)C * sizeof *wm), *wv = hmalloc((size_t)C * sizeof *wv);
        double *acc, *part, bm[C], bv[C];
        TRY(dev_alloc((void **)&dx, n * sizeof *dx, err));
        TRY(dev_alloc((void **)&dm, (size_t)C * sizeof *dm, err));
        TRY(dev_alloc((void **)&dv, (size_t)C * sizeof *dv, err));
        TRY(dev_alloc((void **)&acc, 3 * (size_t)C * sizeof *acc, err));
        TRY(dev_alloc((void **)&part, ser_k_bn_stats_partials(rows, C) * sizeof *part, err));
        SER_CU(cudaMemset(acc, 0, 3 * (size_t)C * sizeof *acc));
        for (int k = 0; k < 3; k++) {
            SER_CU(cudaMemcpy(dx, x[k], n * sizeof *dx, cudaMemcpyHostToDevice));
            LAUNCH(ser_k_bn_stats_add(dm, dv, acc, part, dx, rows, C, 0));
        }
        TRY(dev_get(gm, dm, (size_t)C * sizeof *gm, err));
        TRY(dev_get(gv, dv, (size_t)C * sizeof *gv, err));
        batchnorm_batch_stats(bm, bv, x[2], (int)rows, C);
        for (int c = 0; c < C; c++) wm[c] = (float)bm[c], wv[c] = (float)bv[c];
        snprintf(what, sizeof what, "bn_stats_add rows=%zu C=%d batch mean", rows, C);
        cmp_close(what, gm, wm, (size_t)C, RED_TOL);
        snprintf(what, sizeof what, "bn_stats_add rows=%zu C=%d batch var", rows, C);
        cmp_close(what, gv, wv, (size_t)C, RED_TOL);
        LAUNCH(ser_k_bn_stats_write(dm, dv, acc, C, 0));
        TRY(dev_get(gm, dm, (size_t)C * sizeof *gm, err));
        TRY(dev_get(gv, dv, (size_t)C * sizeof *gv, err));
        for (int c = 0; c < C; c++) {
            double s = 0.0, q = 0.0;
            for (int k = 0; k < 3; k++)
                for (size_t r = 0; r < rows; r++) s += x[k][r * C + c];
            const double mean = s / (3.0 * rows);
            for (int k = 0; k < 3; k++)
                for (size_t r = 0; r < rows; r++) q += (x[k][r * C + c] - mean) * (x[k][r * C + c] - mean);
            wm[c] = (float)mean, wv[c] = (float)(q / (3.0 * rows));
        }
        snprintf(what, sizeof what, "bn_stats_write rows=3x%zu C=%d pooled mean", rows, C);
        cmp_close(what, gm, wm, (size_t)C, RED_TOL);
        snprintf(what, sizeof what, "bn_stats_write rows=3x%zu C=%d pooled var", rows, C);
        cmp_close(what, gv, wv, (size_t)C, RED_TOL);
        for (int k = 0; k < 3; k++) free(x[k]);
        free(gm), free(gv), free(wm), free(wv);
        TRY(dev_free_all(err));
    }
    return 0;
}

/* ---- element-wise and layout ------------------------------------------------------------------- */

static int test_fill(ser_error *err) {
    const size_t n = 1000003;
    float *d, *got = hmalloc(n * sizeof *got), *want = hmalloc(n * sizeof *want);
    for (size_t i = 0; i < n; i++) want[i] = 3.25f;
    TRY(dev_alloc((void **)&d, n * sizeof *d, err));
    LAUNCH(ser_k_fill(d, 3.25f, n, 0));
    TRY(dev_get(got, d, n * sizeof *got, err));
    cmp_exact("fill n=1000003", got, want, n * sizeof *got);
    free(got);
    free(want);
    return dev_free_all(err);
}

static int test_bias_rows(ser_error *err) {
    /* (rows, C): a conv block (20 chunks of 1024 rows, the last partial), the dense layer, one
     * chunk exactly, one row past it, odd columns */
    const int shapes[5][2] = {{4 * 40 * 130, 64}, {64, 7}, {1024, 16}, {1025, 9}, {3 * 1024 + 17, 3}};
    for (int s = 0; s < 5; s++) {
        const size_t rows = (size_t)shapes[s][0];
        const int C = shapes[s][1];
        const size_t n = rows * C;
        char what[96];
        float *y = rand_buf(n, 1.0f), *bias = rand_buf((size_t)C, 1.0f), *want = hmalloc(n * sizeof *want);
        float *got = hmalloc(n * sizeof *got);
        /* add: the CPU's orow[c] += bias[c] */
        for (size_t i = 0; i < n; i++) want[i] = y[i] + bias[i % C];
        float *dy, *dbias, *dgrad;
        double *part;
        TRY(dev_put((void **)&dy, y, n * sizeof *y, err));
        TRY(dev_put((void **)&dbias, bias, (size_t)C * sizeof *bias, err));
        LAUNCH(ser_k_bias_add_rows(dy, dbias, rows, C, 0));
        TRY(dev_get(got, dy, n * sizeof *got, err));
        snprintf(what, sizeof what, "bias_add_rows rows=%zu C=%d", rows, C);
        cmp_exact(what, got, want, n * sizeof *got);

        /* gradient: dense_backward's dbias (double column sums) with y as dout, I = 1 */
        float *x = rand_buf(rows, 1.0f), *kern = rand_buf((size_t)C, 1.0f), *dk = calloc((size_t)C, sizeof *dk);
        float *db_cpu = calloc((size_t)C, sizeof *db_cpu), *db_gpu = hmalloc((size_t)C * sizeof *db_gpu);
        float *db_gpu2 = hmalloc((size_t)C * sizeof *db_gpu2);
        SER_ASSERT(dk && db_cpu);
        dense_backward(NULL, dk, db_cpu, y, x, kern, (int)rows, 1, C);
        TRY(dev_put((void **)&dy, y, n * sizeof *y, err));
        TRY(dev_alloc((void **)&dgrad, (size_t)C * sizeof *dgrad, err));
        TRY(dev_alloc((void **)&part, ser_k_bias_grad_partials(rows, C) * sizeof *part, err));
        LAUNCH(ser_k_fill(dgrad, NAN, (size_t)C, 0)); /* overwritten, not accumulated */
        LAUNCH(ser_k_bias_grad_rows(dgrad, part, dy, rows, C, 0));
        TRY(dev_get(db_gpu, dgrad, (size_t)C * sizeof *db_gpu, err));
        LAUNCH(ser_k_fill((float *)part, NAN, ser_k_bias_grad_partials(rows, C) * 2, 0)); /* stale chunk sums */
        LAUNCH(ser_k_bias_grad_rows(dgrad, part, dy, rows, C, 0));
        TRY(dev_get(db_gpu2, dgrad, (size_t)C * sizeof *db_gpu2, err));
        snprintf(what, sizeof what, "bias_grad_rows rows=%zu C=%d", rows, C);
        cmp_close(what, db_gpu, db_cpu, (size_t)C, RED_TOL);
        snprintf(what, sizeof what, "bias_grad_rows rows=%zu C=%d twice", rows, C);
        cmp_exact(what, db_gpu2, db_gpu, (size_t)C * sizeof *db_gpu);
        free(y), free(bias), free(want), free(got), free(x), free(kern), free(dk), free(db_cpu), free(db_gpu);
        free(db_gpu2);
        TRY(dev_free_all(err));
    }
    return 0;
}

static int test_gather_scatter(ser_error *err) {
    const int B = 64, T = 3, U = 32;
    const size_t nseq = (size_t)B * T * U, nstep = (size_t)B * U;
    float *seq = rand_buf(nseq, 1.0f), *step = rand_buf(nstep, 1.0f);
    float *got_step = hmalloc(nstep * sizeof(float)), *want_step = hmalloc(nstep * sizeof(float));
    float *got_seq = hmalloc(nseq * sizeof(float)), *want_seq = hmalloc(nseq * sizeof(float));
    float *dseq, *dstep, *dout_step, *dout_seq;
    TRY(dev_put((void **)&dseq, seq, nseq * sizeof(float), err));
    TRY(dev_put((void **)&dstep, step, nstep * sizeof(float), err));
    TRY(dev_alloc((void **)&dout_step, nstep * sizeof(float), err));
    TRY(dev_alloc((void **)&dout_seq, nseq * sizeof(float), err));
    for (int t = 0; t < T; t += T - 1) { /* the first and the last step */
        char what[64];
        for (int b = 0; b < B; b++) /* host/model/model.c's copy of h2[:, T-1, :] */
            memcpy(want_step + (size_t)b * U, seq + ((size_t)b * T + t) * U, (size_t)U * sizeof(float));
        LAUNCH(ser_k_gather_step(dout_step, dseq, B, T, U, t, 0));
        TRY(dev_get(got_step, dout_step, nstep * sizeof(float), err));
        snprintf(what, sizeof what, "gather_step t=%d", t);
        cmp_exact(what, got_step, want_step, nstep * sizeof(float));

        memset(want_seq, 0, nseq * sizeof(float));
        for (int b = 0; b < B; b++)
            memcpy(want_seq + ((size_t)b * T + t) * U, step + (size_t)b * U, (size_t)U * sizeof(float));
        LAUNCH(ser_k_fill(dout_seq, NAN, nseq, 0)); /* every element must be written */
        LAUNCH(ser_k_scatter_step(dout_seq, dstep, B, T, U, t, 0));
        TRY(dev_get(got_seq, dout_seq, nseq * sizeof(float), err));
        snprintf(what, sizeof what, "scatter_step t=%d", t);
        cmp_exact(what, got_seq, want_seq, nseq * sizeof(float));
    }
    free(seq), free(step), free(got_step), free(want_step), free(got_seq), free(want_seq);
    return dev_free_all(err);
}

/* ---- ReLU + MaxPool ---------------------------------------------------------------------------- */

static int test_relu_pool(ser_error *err) {
    /* (B, H, W, C, P): the four conv blocks at B = 64, then odd shapes: P = 3 pads one row and
     * column before (H = 10 -> 4 windows from -1), a channel count that is not a warp's */
    const int shapes[6][5] = {{64, 40, 130, 64, 2}, {64, 20, 65, 64, 2}, {64, 10, 33, 64, 2},
                              {64, 5, 17, 64, 2},   {3, 10, 11, 5, 3},    {2, 7, 1, 3, 2}};
    for (int s = 0; s < 6; s++) {
        const int B = shapes[s][0], H = shapes[s][1], W = shapes[s][2], C = shapes[s][3], P = shapes[s][4];
        const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P;
        const size_t n = (size_t)B * H * W * C, no = (size_t)B * Ho * Wo * C;
        /* values on a grid of 5 levels in [-1, 1]: many ties, many all-negative windows */
        float *y = hmalloc(n * sizeof *y), *relu = hmalloc(n * sizeof *relu);
        for (size_t i = 0; i < n; i++) y[i] = (float)((int)(urand() % 5) - 2) * 0.5f;
        float *pool = hmalloc(no * sizeof *pool), *gpool = hmalloc(no * sizeof *gpool);
        int32_t *am = hmalloc(no * sizeof *am), *gam = hmalloc(no * sizeof *gam);
        relu_forward(relu, y, n);
        maxpool2d_forward(pool, am, relu, B, H, W, C, P);

        float *dy_d, *pool_d, *dpool_d, *dx_d;
        int32_t *am_d;
        TRY(dev_put((void **)&dy_d, y, n * sizeof *y, err));
        TRY(dev_alloc((void **)&pool_d, no * sizeof *pool, err));
        TRY(dev_alloc((void **)&am_d, no * sizeof *am, err));
        LAUNCH(ser_k_relu_pool_fwd(pool_d, am_d, dy_d, B, H, W, C, P, 0));
        TRY(dev_get(gpool, pool_d, no * sizeof *gpool, err));
        TRY(dev_get(gam, am_d, no * sizeof *gam, err));
        char what[96];
        snprintf(what, sizeof what, "relu_pool_fwd %dx%dx%dx%d P=%d pool", B, H, W, C, P);
        cmp_exact(what, gpool, pool, no * sizeof *pool);
        snprintf(what, sizeof what, "relu_pool_fwd %dx%dx%dx%d P=%d argmax", B, H, W, C, P);
        cmp_exact(what, gam, am, no * sizeof *am);

        /* backward: maxpool2d_backward then relu_backward (which reads the ReLU output) */
        float *dpool = rand_buf(no, 1.0f), *dtmp = hmalloc(n * sizeof *dtmp), *dx = hmalloc(n * sizeof *dx);
        float *gdx = hmalloc(n * sizeof *gdx);
        maxpool2d_backward(dtmp, dpool, am, B, H, W, C, P);
        relu_backward(dx, dtmp, relu, n);
        TRY(dev_put((void **)&dpool_d, dpool, no * sizeof *dpool, err));
        TRY(dev_put((void **)&pool_d, pool, no * sizeof *pool, err)); /* the CPU's forward: backward alone */
        TRY(dev_put((void **)&am_d, am, no * sizeof *am, err));
        TRY(dev_alloc((void **)&dx_d, n * sizeof *dx, err));
        LAUNCH(ser_k_fill(dx_d, NAN, n, 0)); /* overwritten everywhere */
        LAUNCH(ser_k_relu_pool_bwd(dx_d, dpool_d, pool_d, am_d, B, H, W, C, P, 0));
        TRY(dev_get(gdx, dx_d, n * sizeof *gdx, err));
        snprintf(what, sizeof what, "relu_pool_bwd %dx%dx%dx%d P=%d", B, H, W, C, P);
        cmp_exact(what, gdx, dx, n * sizeof *dx);
        free(y), free(relu), free(pool), free(gpool), free(am), free(gam), free(dpool), free(dtmp), free(dx);
        free(gdx);
        TRY(dev_free_all(err));
    }
    return 0;
}

/* ---- dropout ----------------------------------------------------------------------------------- */

static int test_dropout(ser_error *err) {
    /* n: not a multiple of 4 (a partial Philox block), then block 1's pooled tensor at B = 64 */
    const size_t sizes[2] = {100003, (size_t)64 * 20 * 65 * 64};
    const float rates[3] = {0.2f, 0.5f, 0.0f};
    /* the high words of the seed and the step take part */
    const uint64_t seed = 42 + (1ull << 40), steps[2] = {7, 7 + (1ull << 32)};
    const uint32_t layer = 3;
    for (int si = 0; si < 2; si++) {
        const size_t n = sizes[si];
        float *in = rand_buf(n, 1.0f), *out = hmalloc(n * sizeof *out), *gout = hmalloc(n * sizeof *gout);
        uint8_t *mask = hmalloc(n), *gmask = hmalloc(n);
        float *dout = rand_buf(n, 1.0f), *din = hmalloc(n * sizeof *din), *gdin = hmalloc(n * sizeof *gdin);
        float *in_d, *out_d, *dout_d, *din_d;
        uint8_t *mask_d;
        ser_step_scalars *sc_d;
        TRY(dev_put((void **)&in_d, in, n * sizeof *in, err));
        TRY(dev_put((void **)&dout_d, dout, n * sizeof *dout, err));
        TRY(dev_alloc((void **)&out_d, n * sizeof *out, err));
        TRY(dev_alloc((void **)&din_d, n * sizeof *din, err));
        TRY(dev_alloc((void **)&mask_d, n, err));
        TRY(dev_alloc((void **)&sc_d, sizeof *sc_d, err));
        for (int ri = 0; ri < 3; ri++)
            for (int st = 0; st < 2; st++) {
                const float rate = rates[ri];
                char what[96];
                /* the step is read from device memory, as in a captured graph */
                const ser_step_scalars sc = {steps[st], 0.0f, 0.0f};
                SER_CU(cudaMemcpy(sc_d, &sc, sizeof sc, cudaMemcpyHostToDevice));
                dropout_forward(out, mask, in, n, rate, seed, steps[st], layer);
                LAUNCH(ser_k_dropout_fwd(out_d, mask_d, in_d, n, rate, seed, sc_d, layer, 0));
                TRY(dev_get(gout, out_d, n * sizeof *gout, err));
                TRY(dev_get(gmask, mask_d, n, err));
                snprintf(what, sizeof what, "dropout_fwd n=%zu rate=%.1f step=%llu mask", n, rate,
                         (unsigned long long)steps[st]);
                cmp_exact(what, gmask, mask, n);
                snprintf(what, sizeof what, "dropout_fwd n=%zu rate=%.1f step=%llu out", n, rate,
                         (unsigned long long)steps[st]);
                cmp_exact(what, gout, out, n * sizeof *out);
                dropout_backward(din, dout, mask, n, rate);
                LAUNCH(ser_k_dropout_bwd(din_d, dout_d, mask_d, n, rate, 0));
                TRY(dev_get(gdin, din_d, n * sizeof *gdin, err));
                snprintf(what, sizeof what, "dropout_bwd n=%zu rate=%.1f step=%llu", n, rate,
                         (unsigned long long)steps[st]);
                cmp_exact(what, gdin, din, n * sizeof *din);
            }
        free(in), free(out), free(gout), free(mask), free(gmask), free(dout), free(din), free(gdin);
        TRY(dev_free_all(err));
    }
    return 0;
}

/* ---- attention --------------------------------------------------------------------------------- */

static int test_attention(ser_error *err) {
    const int shapes[2][4] = {{64, 3, 32, 32}, {5, 7, 9, 13}}; /* (B, T, D, A) */
    for (int s = 0; s < 2; s++) {
        const int B = shapes[s][0], T = shapes[s][1], D = shapes[s][2], A = shapes[s][3];
        const size_t nx = (size_t)B * T * D, nu = (size_t)B * T * A, na = (size_t)B * T, no = (size_t)B * D;
        const size_t nW = (size_t)D * A;
        float *x = rand_buf(nx, 1.0f), *W = rand_buf(nW, 0.5f), *b = rand_buf((size_t)A, 0.1f);
        float *U = rand_buf((size_t)A, 0.5f), *dout = rand_buf(no, 1.0f);
        float *out = hmalloc(no * sizeof(float)), *u = hmalloc(nu * sizeof(float)), *a = hmalloc(na * sizeof(float));
        float *gout = hmalloc(no * sizeof(float)), *gu = hmalloc(nu * sizeof(float)), *ga = hmalloc(na * sizeof(float));
        attention_forward(out, u, a, x, W, b, U, B, T, D, A);

        float *x_d, *W_d, *b_d, *U_d, *out_d, *u_d, *a_d;
        TRY(dev_put((void **)&x_d, x, nx * sizeof(float), err));
        TRY(dev_put((void **)&W_d, W, nW * sizeof(float), err));
        TRY(dev_put((void **)&b_d, b, (size_t)A * sizeof(float), err));
        TRY(dev_put((void **)&U_d, U, (size_t)A * sizeof(float), err));
        TRY(dev_alloc((void **)&out_d, no * sizeof(float), err));
        TRY(dev_alloc((void **)&u_d, nu * sizeof(float), err));
        TRY(dev_alloc((void **)&a_d, na * sizeof(float), err));
        LAUNCH(ser_k_attention_fwd(out_d, u_d, a_d, x_d, W_d, b_d, U_d, B, T, D, A, 0));
        TRY(dev_get(gout, out_d, no * sizeof(float), err));
        TRY(dev_get(gu, u_d, nu * sizeof(float), err));
        TRY(dev_get(ga, a_d, na * sizeof(float), err));
        char what[96];
        snprintf(what, sizeof what, "attention_fwd B=%d T=%d D=%d A=%d out", B, T, D, A);
        cmp_close(what, gout, out, no, FWD_TOL);
        snprintf(what, sizeof what, "attention_fwd B=%d T=%d D=%d A=%d u", B, T, D, A);
        cmp_close(what, gu, u, nu, FWD_TOL);
        snprintf(what, sizeof what, "attention_fwd B=%d T=%d D=%d A=%d a", B, T, D, A);
        cmp_close(what, ga, a, na, FWD_TOL);

        /* backward from the CPU's caches (u, a), so it is compared on its own */
        float *dx = hmalloc(nx * sizeof(float)), *dW = calloc(nW, sizeof(float)), *db = calloc((size_t)A, sizeof(float));
        float *dU = calloc((size_t)A, sizeof(float));
        SER_ASSERT(dW && db && dU);
        attention_backward(dx, dW, db, dU, dout, x, u, a, W, U, B, T, D, A);
        const size_t nscr = ser_k_attention_scratch(B, T, D, A);
        float *dout_d, *dx_d, *dW_d, *db_d, *dU_d, *scr_d;
        TRY(dev_put((void **)&dout_d, dout, no * sizeof(float), err));
        TRY(dev_put((void **)&u_d, u, nu * sizeof(float), err));
        TRY(dev_put((void **)&a_d, a, na * sizeof(float), err));
        TRY(dev_alloc((void **)&dx_d, nx * sizeof(float), err));
        TRY(dev_alloc((void **)&dW_d, nW * sizeof(float), err));
        TRY(dev_alloc((void **)&db_d, (size_t)A * sizeof(float), err));
        TRY(dev_alloc((void **)&dU_d, (size_t)A * sizeof(float), err));
        TRY(dev_alloc((void **)&scr_d, nscr * sizeof(float), err));
        /* every output is overwritten: start from NaN */
        LAUNCH(ser_k_fill(dx_d, NAN, nx, 0));
        LAUNCH(ser_k_fill(dW_d, NAN, nW, 0));
        LAUNCH(ser_k_fill(db_d, NAN, (size_t)A, 0));
        LAUNCH(ser_k_fill(dU_d, NAN, (size_t)A, 0));
        LAUNCH(ser_k_attention_bwd(dx_d, dW_d, db_d, dU_d, scr_d, dout_d, x_d, u_d, a_d, W_d, U_d, B, T, D, A, 0));
        float *gdx = hmalloc(nx * sizeof(float)), *gdW = hmalloc(nW * sizeof(float));
        float *gdb = hmalloc((size_t)A * sizeof(float)), *gdU = hmalloc((size_t)A * sizeof(float));
        float *gdW2 = hmalloc(nW * sizeof(float));
        TRY(dev_get(gdx, dx_d, nx * sizeof(float), err));
        TRY(dev_get(gdW, dW_d, nW * sizeof(float), err));
        TRY(dev_get(gdb, db_d, (size_t)A * sizeof(float), err));
        TRY(dev_get(gdU, dU_d, (size_t)A * sizeof(float), err));
        snprintf(what, sizeof what, "attention_bwd B=%d T=%d D=%d A=%d dx", B, T, D, A);
        cmp_close(what, gdx, dx, nx, FWD_TOL);
        snprintf(what, sizeof what, "attention_bwd B=%d T=%d D=%d A=%d dW", B, T, D, A);
        cmp_close(what, gdW, dW, nW, RED_TOL);
        snprintf(what, sizeof what, "attention_bwd B=%d T=%d D=%d A=%d db", B, T, D, A);
        cmp_close(what, gdb, db, (size_t)A, RED_TOL);
        snprintf(what, sizeof what, "attention_bwd B=%d T=%d D=%d A=%d dU", B, T, D, A);
        cmp_close(what, gdU, dU, (size_t)A, RED_TOL);
        LAUNCH(ser_k_attention_bwd(dx_d, dW_d, db_d, dU_d, scr_d, dout_d, x_d, u_d, a_d, W_d, U_d, B, T, D, A, 0));
        TRY(dev_get(gdW2, dW_d, nW * sizeof(float), err));
        snprintf(what, sizeof what, "attention_bwd B=%d T=%d D=%d A=%d dW twice", B, T, D, A);
        cmp_exact(what, gdW2, gdW, nW * sizeof(float));
        free(x), free(W), free(b), free(U), free(dout), free(out), free(u), free(a), free(gout), free(gu), free(ga);
        free(dx), free(dW), free(db), free(dU), free(gdx), free(gdW), free(gdb), free(gdU), free(gdW2);
        TRY(dev_free_all(err));
    }
    return 0;
}

/* ---- statistics pooling ------------------------------------------------------------------------ */

/* Exact: one thread per (b, u) runs the CPU's double expressions in its order, unfused. */
static int test_stats_pool(ser_error *err) {
    const int shapes[3][3] = {{64, 3, 32}, {5, 7, 9}, {3, 1, 4}}; /* (B, T, U) */
    for (int s = 0; s < 3; s++) {
        const int B = shapes[s][0], T = shapes[s][1], U = shapes[s][2];
        const size_t nx = (size_t)B * T * U, no = (size_t)B * 2 * U, na = (size_t)B * U, nc = (size_t)B * 3 * U;
        float *x = rand_buf(nx, 1.0f), *dout = rand_buf(no, 1.0f), *dx = rand_buf(nx, 0.5f), *att = rand_buf(na, 1.0f);
        float *out = hmalloc(no * sizeof(float)), *cat = hmalloc(nc * sizeof(float));
        float *gout = hmalloc(no * sizeof(float)), *gdx = hmalloc(nx * sizeof(float)), *gcat = hmalloc(nc * sizeof(float));
        float *ga = hmalloc(na * sizeof(float)), *gs = hmalloc(no * sizeof(float));
        float *x_d, *out_d, *dout_d, *dx_d, *att_d, *cat_d, *a2_d, *s2_d;
        TRY(dev_put((void **)&x_d, x, nx * sizeof(float), err));
        TRY(dev_put((void **)&dout_d, dout, no * sizeof(float), err));
        TRY(dev_put((void **)&dx_d, dx, nx * sizeof(float), err)); /* the backward adds to it */
        TRY(dev_put((void **)&att_d, att, na * sizeof(float), err));
        TRY(dev_alloc((void **)&out_d, no * sizeof(float), err));
        TRY(dev_alloc((void **)&cat_d, nc * sizeof(float), err));
        TRY(dev_alloc((void **)&a2_d, na * sizeof(float), err));
        TRY(dev_alloc((void **)&s2_d, no * sizeof(float), err));
        LAUNCH(ser_k_fill(out_d, NAN, no, 0));
        LAUNCH(ser_k_fill(cat_d, NAN, nc, 0));
        stats_pool_forward(out, x, B, T, U, 1e-5f);
        LAUNCH(ser_k_stats_pool_fwd(out_d, x_d, B, T, U, 1e-5f, 0));
        TRY(dev_get(gout, out_d, no * sizeof(float), err));
        char what[96];
        snprintf(what, sizeof what, "stats_pool_fwd B=%d T=%d U=%d", B, T, U);
        cmp_exact(what, gout, out, no * sizeof(float));
        stats_pool_backward(dx, dout, out, x, B, T, U);
        LAUNCH(ser_k_stats_pool_bwd(dx_d, dout_d, out_d, x_d, B, T, U, 0));
        TRY(dev_get(gdx, dx_d, nx * sizeof(float), err));
        snprintf(what, sizeof what, "stats_pool_bwd B=%d T=%d U=%d dx (added)", B, T, U);
        cmp_exact(what, gdx, dx, nx * sizeof(float));
        concat_cols(cat, att, U, out, 2 * U, B);
        LAUNCH(ser_k_concat_cols(cat_d, att_d, U, out_d, 2 * U, B, 0));
        TRY(dev_get(gcat, cat_d, nc * sizeof(float), err));
        snprintf(what, sizeof what, "concat_cols B=%d %d+%d", B, U, 2 * U);
        cmp_exact(what, gcat, cat, nc * sizeof(float));
        LAUNCH(ser_k_split_cols(a2_d, U, s2_d, 2 * U, cat_d, B, 0));
        TRY(dev_get(ga, a2_d, na * sizeof(float), err));
        TRY(dev_get(gs, s2_d, no * sizeof(float), err));
        snprintf(what, sizeof what, "split_cols B=%d %d+%d", B, U, 2 * U);
        cmp_exact(what, ga, att, na * sizeof(float));
        cmp_exact(what, gs, out, no * sizeof(float));
        free(x), free(dout), free(dx), free(att), free(out), free(cat), free(gout), free(gdx), free(gcat), free(ga), free(gs);
        TRY(dev_free_all(err));
    }
    return 0;
}

/* ---- softmax + cross-entropy ------------------------------------------------------------------- */

static int test_softmax_xent(ser_error *err) {
    const int shapes[4][2] = {{64, 7}, {300, 5}, {64, 7}, {64, 7}}; /* (B, C); B > 256 uses every thread twice */
    const float smoothing[4] = {0.0f, 0.0f, 0.1f, 0.1f};                /* train.label_smoothing */
    const int mixed[4] = {0, 0, 0, 1};                                  /* mixup targets */
    for (int s = 0; s < 4; s++) {
        const int B = shapes[s][0], C = shapes[s][1];
        const float ls = smoothing[s];
        const size_t n = (size_t)B * C;
        float *logits = rand_buf(n, 5.0f), *probs = hmalloc(n * sizeof(float)), *gprobs = hmalloc(n * sizeof(float));
        int32_t *labels = hmalloc((size_t)B * sizeof(int32_t));
        int32_t *labels2 = hmalloc((size_t)B * sizeof(int32_t)), *l2_d = NULL;
        float *lam = hmalloc((size_t)B * sizeof(float)), *lam_d = NULL;
        for (int b = 0; b < B; b++) {
            labels[b] = (int32_t)(urand() % (uint32_t)C);
            labels2[b] = (int32_t)(urand() % (uint32_t)C);
            lam[b] = 0.5f + (float)(urand() % 1000u) / 2000.0f;
        }
        const int32_t *l2 = mixed[s] ? labels2 : NULL;
        const float *lm = mixed[s] ? lam : NULL;
        const float xent = softmax_xent_forward(probs, logits, labels, l2, lm, B, C, ls);
        float *logits_d, *probs_d, *xent_d, *dl_d;
        int32_t *labels_d;
        TRY(dev_put((void **)&logits_d, logits, n * sizeof(float), err));
        TRY(dev_put((void **)&labels_d, labels, (size_t)B * sizeof(int32_t), err));
        if (mixed[s]) {
            TRY(dev_put((void **)&l2_d, labels2, (size_t)B * sizeof(int32_t), err));
            TRY(dev_put((void **)&lam_d, lam, (size_t)B * sizeof(float), err));
        }
        TRY(dev_alloc((void **)&probs_d, n * sizeof(float), err));
        TRY(dev_alloc((void **)&xent_d, sizeof(float), err));
        TRY(dev_alloc((void **)&dl_d, n * sizeof(float), err));
        LAUNCH(ser_k_softmax_xent_fwd(probs_d, xent_d, logits_d, labels_d, l2_d, lam_d, B, C, ls, 0));
        float gxent, sentinel = -123.0f;
        TRY(dev_get(gprobs, probs_d, n * sizeof(float), err));
        TRY(dev_get(&gxent, xent_d, sizeof gxent, err));
        char what[96];
        snprintf(what, sizeof what, "softmax_xent_fwd B=%d C=%d ls=%g mix=%d probs", B, C, ls, mixed[s]);
        cmp_close(what, gprobs, probs, n, FWD_TOL);
        snprintf(what, sizeof what, "softmax_xent_fwd B=%d C=%d ls=%g mix=%d xent", B, C, ls, mixed[s]);
        cmp_close(what, &gxent, &xent, 1, FWD_TOL);

        /* labels == NULL: probabilities only, the loss is not written */
        LAUNCH(ser_k_fill(xent_d, sentinel, 1, 0));
        LAUNCH(ser_k_fill(probs_d, NAN, n, 0));
        LAUNCH(ser_k_softmax_xent_fwd(probs_d, xent_d, logits_d, NULL, NULL, NULL, B, C, ls, 0));
        TRY(dev_get(gprobs, probs_d, n * sizeof(float), err));
        TRY(dev_get(&gxent, xent_d, sizeof gxent, err));
        snprintf(what, sizeof what, "softmax_xent_fwd B=%d C=%d no labels: probs", B, C);
        cmp_close(what, gprobs, probs, n, FWD_TOL);
        snprintf(what, sizeof what, "softmax_xent_fwd B=%d C=%d no labels: xent kept", B, C);
        cmp_exact(what, &gxent, &sentinel, sizeof gxent);

        /* backward from the CPU's probabilities */
        float *dl = hmalloc(n * sizeof(float)), *gdl = hmalloc(n * sizeof(float));
        softmax_xent_backward(dl, probs, labels, l2, lm, B, C, ls);
        TRY(dev_put((void **)&probs_d, probs, n * sizeof(float), err));
        LAUNCH(ser_k_softmax_xent_bwd(dl_d, probs_d, labels_d, l2_d, lam_d, B, C, ls, 0));
        TRY(dev_get(gdl, dl_d, n * sizeof(float), err));
        snprintf(what, sizeof what, "softmax_xent_bwd B=%d C=%d ls=%g mix=%d", B, C, ls, mixed[s]);
        cmp_exact(what, gdl, dl, n * sizeof(float));
        free(logits), free(probs), free(gprobs), free(labels), free(labels2), free(lam), free(dl), free(gdl);
        TRY(dev_free_all(err));
    }
    return 0;
}

/* ---- L2 and the loss total --------------------------------------------------------------------- */

static int test_l2_loss(ser_error *err) {
    const size_t sizes[2] = {3 * 3 * 1 * 64, 3 * 3 * 64 * 64}; /* block 1's kernel, the others' */
    const float l2 = 0.01f;
    float terms[4];
    float *terms_d, *xent_d, *loss_d;
    TRY(dev_alloc((void **)&terms_d, sizeof terms, err));
    for (int s = 0; s < 2; s++) {
        const size_t n = sizes[s];
        float *w = rand_buf(n, 0.3f), *dw = rand_buf(n, 1.0f), *gdw = hmalloc(n * sizeof(float));
        float *w_d, *dw_d, gterm;
        char what[96];
        TRY(dev_put((void **)&w_d, w, n * sizeof(float), err));
        TRY(dev_put((void **)&dw_d, dw, n * sizeof(float), err));
        const float term = l2_forward(w, n, l2);
        LAUNCH(ser_k_l2_term(terms_d + s, w_d, n, l2, 0));
        TRY(dev_get(&gterm, terms_d + s, sizeof gterm, err));
        snprintf(what, sizeof what, "l2_term n=%zu", n);
        cmp_close(what, &gterm, &term, 1, RED_TOL);
        terms[s] = gterm; /* the loss total below adds the device's terms */
        l2_backward(dw, w, n, l2);
        LAUNCH(ser_k_l2_grad(dw_d, w_d, n, l2, 0));
        TRY(dev_get(gdw, dw_d, n * sizeof(float), err));
        snprintf(what, sizeof what, "l2_grad n=%zu (adds)", n);
        cmp_exact(what, gdw, dw, n * sizeof(float));
        free(w), free(dw), free(gdw);
    }
    terms[2] = 0.37f, terms[3] = 1e-3f;
    SER_CU(cudaMemcpy(terms_d + 2, terms + 2, 2 * sizeof(float), cudaMemcpyHostToDevice));
    const float xent = 1.9459f;
    TRY(dev_put((void **)&xent_d, &xent, sizeof xent, err));
    TRY(dev_alloc((void **)&loss_d, sizeof(float), err));
    LAUNCH(ser_k_loss_total(loss_d, xent_d, terms_d, 4, 0));
    /* host/model/model.c: double l2 = 0; l2 += term (per block); loss = (float)(xent + l2) */
    double l2sum = 0.0;
    for (int i = 0; i < 4; i++) l2sum += terms[i];
    const float want = (float)(xent + l2sum);
    float got;
    TRY(dev_get(&got, loss_d, sizeof got, err));
    cmp_exact("loss_total 4 terms", &got, &want, sizeof got);
    return dev_free_all(err);
}

/* ---- Adam -------------------------------------------------------------------------------------- */

static int test_adam(ser_error *err) {
    const size_t n = 120011;
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    float *p = rand_buf(n, 0.5f), *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    SER_ASSERT(m && v);
    float *p_d, *m_d, *v_d, *g_d;
    ser_step_scalars *sc_d;
    TRY(dev_put((void **)&p_d, p, n * sizeof(float), err));
    TRY(dev_put((void **)&m_d, m, n * sizeof(float), err));
    TRY(dev_put((void **)&v_d, v, n * sizeof(float), err));
    TRY(dev_alloc((void **)&g_d, n * sizeof(float), err));
    TRY(dev_alloc((void **)&sc_d, sizeof *sc_d, err));
    for (int t = 1; t <= 3; t++) {
        float *g = rand_buf(n, 0.1f);
        if (t == 2)
            for (size_t i = 0; i < n; i += 7) g[i] = 0.0f; /* zero gradients (the padding between slices) */
        adam_update(p, m, v, g, n, lr, b1, b2, eps, t);
        /* the backend's side: alpha on the host, uploaded with the step's scalars */
        const ser_step_scalars sc = {(unsigned long long)t, adam_alpha(lr, b1, b2, t), 0.0f};
        SER_CU(cudaMemcpy(sc_d, &sc, sizeof sc, cudaMemcpyHostToDevice));
        SER_CU(cudaMemcpy(g_d, g, n * sizeof(float), cudaMemcpyHostToDevice));
        LAUNCH(ser_k_adam(p_d, m_d, v_d, g_d, n, sc_d, keras_one_minus(b1), keras_one_minus(b2), eps, 0));
        free(g);
    }
    float *gp = hmalloc(n * sizeof(float)), *gm = hmalloc(n * sizeof(float)), *gv = hmalloc(n * sizeof(float));
    TRY(dev_get(gp, p_d, n * sizeof(float), err));
    TRY(dev_get(gm, m_d, n * sizeof(float), err));
    TRY(dev_get(gv, v_d, n * sizeof(float), err));
    cmp_exact("adam n=120011 3 steps params", gp, p, n * sizeof(float));
    cmp_exact("adam n=120011 3 steps m", gm, m, n * sizeof(float));
    cmp_exact("adam n=120011 3 steps v", gv, v, n * sizeof(float));
    free(p), free(m), free(v), free(gp), free(gm), free(gv);
    return dev_free_all(err);
}

/* ---- shape checks ------------------------------------------------------------------------------ */

/* Launchers refuse shapes they cannot compute instead of launching (nothing is dereferenced). */
static void test_bad_shapes(void) {
    CHECK(ser_k_relu_pool_fwd(NULL, NULL, NULL, 1, 4, 4, 1, 0, 0) == cudaErrorInvalidValue);
    CHECK(ser_k_gather_step(NULL, NULL, 1, 3, 4, 3, 0) == cudaErrorInvalidValue);
    CHECK(ser_k_dropout_fwd(NULL, NULL, NULL, 8, 1.0f, 0, NULL, 0, 0) == cudaErrorInvalidValue);
    CHECK(ser_k_attention_fwd(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, 0, 4, 4, 0) == cudaErrorInvalidValue);
    CHECK(cudaGetLastError() == cudaSuccess); /* nothing was launched, nothing is pending */
}

/* bench/gpu.sh: ser_k_bias_grad_rows at the network's conv gradients (B = 64), one line each:
 * blocks launched against the SMs, microseconds, and the bandwidth it reaches reading dy. */
static int bench_bias_grad(ser_error *err) {
    struct cudaDeviceProp prop;
    SER_CU(cudaGetDeviceProperties(&prop, 0));
    const int shapes[4][3] = {{40, 130, 64}, {20, 65, 64}, {10, 33, 64}, {5, 17, 64}};
    cudaEvent_t e0, e1;
    SER_CU(cudaEventCreate(&e0));
    SER_CU(cudaEventCreate(&e1));
    for (int i = 0; i < 4; i++) {
        const size_t rows = (size_t)64 * shapes[i][0] * shapes[i][1];
        const int C = shapes[i][2], reps = 50;
        float *dy, *db;
        double *part;
        const size_t np = ser_k_bias_grad_partials(rows, C);
        TRY(dev_alloc((void **)&dy, rows * C * sizeof *dy, err));
        TRY(dev_alloc((void **)&db, (size_t)C * sizeof *db, err));
        TRY(dev_alloc((void **)&part, np * sizeof *part, err));
        LAUNCH(ser_k_fill(dy, 0.5f, rows * C, 0));
        LAUNCH(ser_k_bias_grad_rows(db, part, dy, rows, C, 0)); /* warm-up */
        SER_CU(cudaEventRecord(e0, 0));
        for (int r = 0; r < reps; r++) SER_CU(ser_k_bias_grad_rows(db, part, dy, rows, C, 0));
        SER_CU(cudaEventRecord(e1, 0));
        SER_CU(cudaEventSynchronize(e1));
        float ms = 0.0f;
        SER_CU(cudaEventElapsedTime(&ms, e0, e1));
        const double us = 1e3 * ms / reps, gbs = (double)rows * C * sizeof(float) / (us * 1e-6) / 1e9;
        printf("bias_grad_rows rows=%zu C=%d: %zu row chunks x the column groups, on %d SMs: %.1f us, %.0f GB/s reading dy\n",
               rows, C, np / (size_t)C, prop.multiProcessorCount, us, gbs);
        TRY(dev_free_all(err));
    }
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    return 0;
}

int main(int argc, char **argv) {
    char desc[256];
    cuda_test_start("test_cuda_kernels", 0, desc, sizeof desc);
    if (argc > 1 && !strcmp(argv[1], "--bench-bias-grad")) {
        ser_error err = {{0}};
        if (bench_bias_grad(&err) != 0) {
            fprintf(stderr, "FAIL: bench: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) printf("device 0: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);

    static const struct {
        const char *name;
        int (*fn)(ser_error *);
    } cases[] = {
        {"fill", test_fill},           {"bias rows", test_bias_rows},   {"gather/scatter", test_gather_scatter},
        {"relu pool", test_relu_pool}, {"dropout", test_dropout},       {"attention", test_attention},
        {"stats pool", test_stats_pool},
        {"softmax xent", test_softmax_xent}, {"l2 loss", test_l2_loss}, {"adam", test_adam},
        {"bn stats", test_bn_stats},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ser_error err = {{0}};
        printf("%s\n", cases[i].name);
        const int rc = cases[i].fn(&err);
        CHECKF(rc == 0, "%s: %s", cases[i].name, err.msg);
        if (rc != 0) {
            ser_error e2 = {{0}};
            (void)dev_free_all(&e2); /* best effort after a failed CUDA call */
        }
    }
    test_bad_shapes();
    return check_finish("test_cuda_kernels");
}
