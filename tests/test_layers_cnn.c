/* The CNN-side CPU layers (host/model/layers: conv2d, batchnorm, activation, maxpool2d, dropout, dense,
 * softmax_xent, l2, adam) and Philox: forward results against naive references and hand
 * computations, every input and parameter gradient against central finite differences of
 * loss = sum(out * R) (R random, loss accumulated in double), the Random123 known answers, and
 * the dropout mask's rate and determinism.
 *
 * `test_layers_cnn bench` instead times conv2d forward/backward on the network's four shapes at
 * B = 64 next to a plain large sgemm in the same process and prints GFLOP/s (no checks). */
#include <cblas.h>
#undef I
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "layers/conv2d_onednn.h"
#include "layers/layers.h"
#include "ser/clock.h"
#include "ser/philox.h"

/* ---- deterministic test data ---------------------------------------------------------------- */

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) * 0x1p-24 * 2.0 - 1.0);
}
static float *rand_buf(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}
static float *fill_buf(size_t n, float v) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = v;
    return p;
}
static double dot_d(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
/* max |a - b| / max |b| */
static double rel_err(const float *a, const double *b, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > num || d != d) num = d != d ? INFINITY : d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / (den > 0.0 ? den : 1.0);
}

/* ---- finite differences ----------------------------------------------------------------------
 * loss_fn evaluates the scalar loss with the current contents of the perturbed buffer. For every
 * index (or a strided sample of them) compare (L(x+h) - L(x-h)) / 2h with the analytic gradient;
 * skip(i) marks kinks (ReLU at 0, max-pool near-ties) where central differences mean nothing.
 * The error is normalised by the largest analytic gradient so one bound fits every layer. */
typedef double (*loss_fn)(void *ctx);
typedef int (*skip_fn)(void *ctx, size_t i);

static double grad_check(const char *what, loss_fn f, void *ctx, float *x, const float *grad, size_t n, float h,
                         skip_fn skip) {
    size_t stride = n > 400 ? n / 400 : 1, checked = 0;
    double maxd = 0.0, maxg = 1e-3;
    for (size_t i = 0; i < n; i += stride) {
        if (skip && skip(ctx, i)) continue;
        float x0 = x[i];
        x[i] = x0 + h;
        double lp = f(ctx);
        x[i] = x0 - h;
        double lm = f(ctx);
        x[i] = x0;
        double num = (lp - lm) / (2.0 * (double)h);
        double d = fabs(num - grad[i]);
        if (d > maxd || d != d) maxd = d != d ? INFINITY : d;
        if (fabs(grad[i]) > maxg) maxg = fabs(grad[i]);
        checked++;
    }
    double err = maxd / maxg;
    if (getenv("SER_TEST_VERBOSE")) printf("%-22s fd err %.2e over %zu\n", what, err, checked);
    CHECKF(checked > 0 && err <= 1e-3, "%s: finite-difference error %.3g over %zu entries", what, err, checked);
    return err;
}

/* ---- Philox ------------------------------------------------------------------------------------ */

static void test_philox(void) {
    /* Random123 kat_vectors, philox4x32_10: counter, key -> output */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        philox4x32_ctr c = {{kat[t][0], kat[t][1], kat[t][2], kat[t][3]}};
        philox4x32_key k = {{kat[t][4], kat[t][5]}};
        philox4x32_ctr r = philox4x32_10(c, k);
        for (int j = 0; j < 4; j++) CHECKF(r.v[j] == kat[t][6 + j], "KAT %d word %d: %08x", t, j, r.v[j]);
    }
    /* The dropout stream's key/counter mapping hits the KATs at the corners. */
    float u[4];
    philox_uniform_fill(u, 0, 4, 0, 0, 0);
    for (int j = 0; j < 4; j++) CHECK(u[j] == (float)(kat[0][6 + j] >> 8) * 0x1p-24f);
    philox_uniform_fill(u, 4ull * 0xffffffffu, 4, UINT64_MAX, UINT64_MAX, 0xffffffffu);
    for (int j = 0; j < 4; j++) CHECK(u[j] == (float)(kat[1][6 + j] >> 8) * 0x1p-24f);
    CHECK(philox_uniform24(0xffffffffu) < 1.0f && philox_uniform24(0xffu) == 0.0f);
}

/* ---- dropout ----------------------------------------------------------------------------------- */

static void test_dropout(void) {
    const size_t n = 100003; /* not a multiple of 4: the last Philox block is partial */
    float *in = rand_buf(n), *out = malloc(n * sizeof *out), *u = malloc(n * sizeof *u);
    uint8_t *m1 = malloc(n), *m2 = malloc(n);
    const float rates[2] = {0.2f, 0.5f};
    for (int t = 0; t < 2; t++) {
        float rate = rates[t], scale = (float)(1.0 / (1.0 - rate));
        dropout_forward(out, m1, in, n, rate, 42, 7, 3);
        philox_uniform_fill(u, 0, n, 42, 7, 3);
        size_t kept = 0, bad = 0;
        for (size_t i = 0; i < n; i++) {
            kept += m1[i];
            if (m1[i] != (u[i] >= rate)) bad++;
            if (out[i] != (m1[i] ? in[i] * scale : 0.0f)) bad++;
        }
        double frac = (double)kept / n, sigma = sqrt(rate * (1.0 - rate) / n);
        CHECKF(fabs(frac - (1.0 - rate)) < 5.0 * sigma, "rate %.1f: kept %.5f", rate, frac);
        CHECKF(bad == 0, "rate %.1f: %zu elements disagree with the reference stream / scaling", rate, bad);
    }
    /* same key -> same mask; another step, layer or seed -> a different one (~32 % differ at 0.2) */
    dropout_forward(out, m1, in, n, 0.2f, 42, 7, 3);
    dropout_forward(out, m2, in, n, 0.2f, 42, 7, 3);
    CHECK(memcmp(m1, m2, n) == 0);
    /* the high words of seed and step take part too */
    const uint64_t keys[5][3] = {{42, 8, 3}, {42, 7, 4}, {43, 7, 3}, {42, 7 + (1ull << 32), 3}, {42 + (1ull << 32), 7, 3}};
    for (int k = 0; k < 5; k++) {
        dropout_forward(out, m2, in, n, 0.2f, keys[k][0], keys[k][1], (uint32_t)keys[k][2]);
        size_t diff = 0;
        for (size_t i = 0; i < n; i++) diff += m1[i] != m2[i];
        CHECKF(fabs((double)diff / n - 0.32) < 0.01, "key %d: %.4f of the mask differs", k, (double)diff / n);
        /* and the mask is still the reference stream's (the vector Philox takes every key word) */
        philox_uniform_fill(u, 0, n, keys[k][0], keys[k][1], (uint32_t)keys[k][2]);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += m2[i] != (u[i] >= 0.2f);
        CHECKF(bad == 0, "key %d: %zu mask elements disagree with the reference stream", k, bad);
    }
    /* backward: din = dout * mask * scale; in place is allowed */
    dropout_forward(out, m1, in, n, 0.2f, 1, 2, 3);
    dropout_backward(u, in, m1, n, 0.2f);
    CHECK(memcmp(u, out, n * sizeof *u) == 0);
    /* rate 0: identity, every element kept */
    dropout_forward(out, m1, in, n, 0.0f, 1, 2, 3);
    CHECK(memcmp(out, in, n * sizeof *in) == 0 && m1[0] == 1 && m1[n - 1] == 1);
    free(in), free(out), free(u), free(m1), free(m2);
}

/* ---- conv2d ------------------------------------------------------------------------------------ */

/* Naive references in double: out, and with dout the three gradients. */
static void conv_naive(double *out, const float *in, const float *k, const float *bias, int B, int H, int W,
                       int Ci, int Co, int K) {
    int p = K / 2;
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int co = 0; co < Co; co++) {
                    double s = bias[co];
                    for (int ky = 0; ky < K; ky++)
                        for (int kx = 0; kx < K; kx++) {
                            int iy = y + ky - p, ix = x + kx - p;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            for (int ci = 0; ci < Ci; ci++)
                                s += (double)in[(((size_t)b * H + iy) * W + ix) * Ci + ci] *
                                     k[(((size_t)ky * K + kx) * Ci + ci) * Co + co];
                        }
                    out[(((size_t)b * H + y) * W + x) * Co + co] = s;
                }
}
static void conv_naive_backward(double *din, double *dk, double *db, const float *g, const float *in,
                                const float *k, int B, int H, int W, int Ci, int Co, int K) {
    int p = K / 2;
    memset(din, 0, sizeof(double) * B * H * W * Ci);
    memset(dk, 0, sizeof(double) * K * K * Ci * Co);
    memset(db, 0, sizeof(double) * Co);
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int co = 0; co < Co; co++) {
                    double gv = g[(((size_t)b * H + y) * W + x) * Co + co];
                    db[co] += gv;
                    for (int ky = 0; ky < K; ky++)
                        for (int kx = 0; kx < K; kx++) {
                            int iy = y + ky - p, ix = x + kx - p;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            for (int ci = 0; ci < Ci; ci++) {
                                size_t ii = (((size_t)b * H + iy) * W + ix) * Ci + ci;
                                size_t ki = (((size_t)ky * K + kx) * Ci + ci) * Co + co;
                                din[ii] += gv * k[ki];
                                dk[ki] += gv * in[ii];
                            }
                        }
                }
}

typedef struct {
    float *out, *col, *in, *k, *bias, *r;
    int B, H, W, Ci, Co, K;
} conv_ctx;
static double conv_loss(void *v) {
    conv_ctx *c = v;
    conv2d_forward(c->out, c->col, c->in, c->k, c->bias, c->B, c->H, c->W, c->Ci, c->Co, c->K);
    return dot_d(c->out, c->r, (size_t)c->B * c->H * c->W * c->Co);
}

static void test_conv2d_case(int B, int H, int W, int Ci, int Co, int K, int fd) {
    size_t nin = (size_t)B * H * W * Ci, nout = (size_t)B * H * W * Co, nk = (size_t)K * K * Ci * Co;
    conv_ctx c = {.B = B, .H = H, .W = W, .Ci = Ci, .Co = Co, .K = K};
    c.in = rand_buf(nin), c.k = rand_buf(nk), c.bias = rand_buf(Co), c.r = rand_buf(nout);
    c.out = malloc(nout * sizeof(float));
    c.col = malloc(conv2d_col_size(B, H, W, Ci, K) * sizeof(float));
    double *ref = malloc(nout * sizeof *ref);
    conv2d_forward(c.out, c.col, c.in, c.k, c.bias, B, H, W, Ci, Co, K);
    conv_naive(ref, c.in, c.k, c.bias, B, H, W, Ci, Co, K);
    double e = rel_err(c.out, ref, nout);
    CHECKF(e <= 1e-5, "conv2d forward %dx%dx%dx%d->%d K%d: rel err %.3g", B, H, W, Ci, Co, K, e);

    /* backward with dout = R against the naive gradients; parameter grads accumulate (start at 1),
     * din is overwritten (starts as NaN) */
    float *din = fill_buf(nin, NAN), *dk = fill_buf(nk, 1.0f), *db = fill_buf(Co, 1.0f);
    double *rdin = malloc(nin * sizeof *rdin), *rdk = malloc(nk * sizeof *rdk), *rdb = malloc(Co * sizeof *rdb);
    conv2d_backward(din, dk, db, c.col, c.r, c.in, c.k, B, H, W, Ci, Co, K);
    conv_naive_backward(rdin, rdk, rdb, c.r, c.in, c.k, B, H, W, Ci, Co, K);
    for (size_t i = 0; i < nk; i++) rdk[i] += 1.0;
    for (int i = 0; i < Co; i++) rdb[i] += 1.0;
    double ed = rel_err(din, rdin, nin), ek = rel_err(dk, rdk, nk), eb = rel_err(db, rdb, Co);
    CHECKF(ed <= 1e-5 && ek <= 1e-5 && eb <= 1e-5, "conv2d backward %dx%dx%dx%d->%d K%d: din %.3g dk %.3g db %.3g",
           B, H, W, Ci, Co, K, ed, ek, eb);

    /* determinism: a second backward gives the same bits */
    float *din2 = fill_buf(nin, 0.0f), *dk2 = fill_buf(nk, 1.0f), *db2 = fill_buf(Co, 1.0f);
    conv2d_backward(din2, dk2, db2, c.col, c.r, c.in, c.k, B, H, W, Ci, Co, K);
    CHECK(memcmp(din, din2, nin * 4) == 0 && memcmp(dk, dk2, nk * 4) == 0 && memcmp(db, db2, Co * 4) == 0);

    if (!conv2d_onednn_enabled()) {
        /* own implementation: 1, 2, 3 and 4 threads give the bits of the suite's thread count.
         * Every output float is one sgemm call's, over rows at fixed offsets, whatever the count
         * (host/layers/conv2d.c); checked for every count here, not only the suite's, because
         * OpenBLAS's Haswell/Zen kernels agreed at some splits and not at others (issue 17). */
        const int nt = omp_get_max_threads();
        float *o1 = malloc(nout * 4), *din1 = malloc(nin * 4), *dk1 = malloc(nk * 4), *db1 = malloc(Co * 4);
        for (int t = 1; t <= 4; t++) {
            if (t == nt) continue;
            for (size_t i = 0; i < nk; i++) dk1[i] = 1.0f;
            for (int i = 0; i < Co; i++) db1[i] = 1.0f;
            omp_set_num_threads(t);
            conv2d_forward(o1, c.col, c.in, c.k, c.bias, B, H, W, Ci, Co, K);
            conv2d_backward(din1, dk1, db1, c.col, c.r, c.in, c.k, B, H, W, Ci, Co, K);
            omp_set_num_threads(nt);
            CHECKF(memcmp(o1, c.out, nout * 4) == 0 && memcmp(din1, din, nin * 4) == 0 &&
                       memcmp(dk1, dk, nk * 4) == 0 && memcmp(db1, db, Co * 4) == 0,
                   "conv2d %dx%dx%dx%d->%d: %d threads differ from %d (out %d din %d dkernel %d dbias %d)", B, H, W,
                   Ci, Co, t, nt, memcmp(o1, c.out, nout * 4) != 0, memcmp(din1, din, nin * 4) != 0,
                   memcmp(dk1, dk, nk * 4) != 0, memcmp(db1, db, Co * 4) != 0);
        }
        free(o1), free(din1), free(dk1), free(db1);
    } else {
        /* oneDNN: the same thread count gives the same bits, also from freshly created primitives
         * (a new process, a resumed run); a different thread count may round differently */
        float *o1 = malloc(nout * 4), *din1 = fill_buf(nin, 0.0f), *dk1 = fill_buf(nk, 1.0f), *db1 = fill_buf(Co, 1.0f);
        conv2d_onednn_release();
        conv2d_forward(o1, c.col, c.in, c.k, c.bias, B, H, W, Ci, Co, K);
        conv2d_backward(din1, dk1, db1, c.col, c.r, c.in, c.k, B, H, W, Ci, Co, K);
        CHECKF(memcmp(o1, c.out, nout * 4) == 0 && memcmp(din1, din, nin * 4) == 0 && memcmp(dk1, dk, nk * 4) == 0 &&
                   memcmp(db1, db, Co * 4) == 0,
               "conv2d %dx%dx%dx%d->%d (oneDNN): re-created primitives differ", B, H, W, Ci, Co);
        free(o1), free(din1), free(dk1), free(db1);
    }

    /* NULL din (first layer) still gives the parameter gradients */
    float *dk3 = fill_buf(nk, 1.0f);
    conv2d_backward(NULL, dk3, NULL, c.col, c.r, c.in, c.k, B, H, W, Ci, Co, K);
    CHECK(memcmp(dk, dk3, nk * 4) == 0);

    if (fd) { /* the layer is linear in each argument: central differences are exact up to rounding */
        for (size_t i = 0; i < nk; i++) dk[i] -= 1.0f;
        for (int i = 0; i < Co; i++) db[i] -= 1.0f;
        grad_check("conv2d din", conv_loss, &c, c.in, din, nin, 1e-2f, NULL);
        grad_check("conv2d dkernel", conv_loss, &c, c.k, dk, nk, 1e-2f, NULL);
        grad_check("conv2d dbias", conv_loss, &c, c.bias, db, Co, 1e-2f, NULL);
    }
    free(c.in), free(c.k), free(c.bias), free(c.r), free(c.out), free(c.col), free(ref);
    free(din), free(dk), free(db), free(rdin), free(rdk), free(rdb), free(din2), free(dk2), free(db2), free(dk3);
}

static void test_conv2d_cases(void) {
    test_conv2d_case(2, 5, 7, 3, 4, 3, 1);     /* odd sizes, im2col path */
    test_conv2d_case(2, 5, 7, 1, 6, 3, 1);     /* Cin = 1: direct forward */
    test_conv2d_case(3, 6, 5, 8, 5, 5, 1);     /* K = 5 */
    test_conv2d_case(2, 1, 1, 2, 3, 3, 1);     /* every tap but the centre is padding */
    test_conv2d_case(5, 20, 33, 4, 6, 3, 0);   /* several chunks of images, last one partial */
    test_conv2d_case(3, 20, 65, 64, 64, 3, 0); /* the second layer's shape, B = 3 */
    test_conv2d_case(2, 40, 130, 1, 64, 3, 0); /* the first layer's shape, B = 2 */
}

/* oneDNN's results, repeated: a training step's convolutions (forward, then backward with din,
 * at the network's 64-channel shapes, B = 8) run 5 times give identical bits every time. */
static void test_conv2d_onednn_repeat(void) {
    const int shapes[3][3] = {{20, 65, 64}, {10, 33, 64}, {5, 17, 64}};
    for (int s = 0; s < 3; s++) {
        const int B = 8, H = shapes[s][0], W = shapes[s][1], Ci = shapes[s][2], Co = 64, K = 3;
        size_t nin = (size_t)B * H * W * Ci, nout = (size_t)B * H * W * Co, nk = (size_t)K * K * Ci * Co;
        float *in = rand_buf(nin), *k = rand_buf(nk), *bias = rand_buf(Co), *g = rand_buf(nout);
        float *col = malloc(conv2d_col_size(B, H, W, Ci, K) * 4);
        float *out[2], *din[2], *dk[2], *db[2];
        int same = 1;
        for (int r = 0; r < 5; r++) {
            const int i = r ? 1 : 0;
            if (r < 2) out[i] = malloc(nout * 4), din[i] = malloc(nin * 4), dk[i] = malloc(nk * 4), db[i] = malloc(Co * 4);
            memset(dk[i], 0, nk * 4), memset(db[i], 0, Co * 4);
            conv2d_forward(out[i], col, in, k, bias, B, H, W, Ci, Co, K);
            conv2d_backward(din[i], dk[i], db[i], col, g, in, k, B, H, W, Ci, Co, K);
            if (r)
                same &= memcmp(out[0], out[1], nout * 4) == 0 && memcmp(din[0], din[1], nin * 4) == 0 &&
                        memcmp(dk[0], dk[1], nk * 4) == 0 && memcmp(db[0], db[1], Co * 4) == 0;
        }
        CHECKF(same, "conv2d %dx%dx%d->%d B%d (oneDNN, %d threads): repeated calls differ", H, W, Ci, Co, B,
               omp_get_max_threads());
        free(in), free(k), free(bias), free(g), free(col);
        for (int i = 0; i < 2; i++) free(out[i]), free(din[i]), free(dk[i]), free(db[i]);
    }
}

/* Every case through conv2d's own implementation, then again through oneDNN when the build has it. */
static void test_conv2d(void) {
    const int have_onednn = conv2d_onednn_enabled();
    conv2d_onednn_enable(0);
    test_conv2d_cases();
    if (have_onednn) {
        conv2d_onednn_enable(1);
        printf("conv2d through oneDNN: %s\n", conv2d_onednn_impl(3, 20, 65, 64, 64, 3));
        test_conv2d_cases();
        test_conv2d_onednn_repeat();
        conv2d_onednn_release();
    }
}

/* ---- batch norm -------------------------------------------------------------------------------- */

typedef struct {
    float *out, *mean, *rstd, *mm, *mv, *in, *gamma, *beta, *r;
    int N, C;
} bn_ctx;
static double bn_loss(void *v) {
    bn_ctx *c = v;
    batchnorm_forward_train(c->out, c->mean, c->rstd, c->mm, c->mv, c->in, c->gamma, c->beta, c->N, c->C, 0.99f,
                            1e-3f);
    return dot_d(c->out, c->r, (size_t)c->N * c->C);
}

static void test_batchnorm(void) {
    /* Hand case: one channel x = 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased 5/3. */
    {
        float x[4] = {1, 2, 3, 4}, y[4], mean, rstd, mm = 0.0f, mv = 1.0f, g = 2.0f, b = 0.5f;
        batchnorm_forward_train(y, &mean, &rstd, &mm, &mv, x, &g, &b, 4, 1, 0.99f, 1e-3f);
        CHECK(mean == 2.5f);
        CHECKF(fabsf(rstd - (float)(1.0 / sqrt(1.251))) <= 1e-7f, "rstd %.9g", rstd);
        CHECKF(fabs(mm - 0.025) < 1e-7, "moving mean %.9g", mm); /* 1 - 0.99f is not 0.01 exactly */
        CHECKF(fabs(mv - (0.99 + 0.01 * 1.25)) < 1e-7, "moving var %.9g (biased batch variance, as Keras 3)", mv);
        for (int i = 0; i < 4; i++) {
            double want = (x[i] - 2.5) / sqrt(1.251) * 2.0 + 0.5;
            CHECKF(fabs(y[i] - want) < 1e-6, "y[%d] %.9g want %.9g", i, y[i], want);
        }
        float yi[4];
        batchnorm_forward_infer(yi, x, &g, &b, &mm, &mv, 4, 1, 1e-3f);
        for (int i = 0; i < 4; i++) {
            double want = (x[i] - (double)mm) / sqrt((double)mv + 1e-3) * 2.0 + 0.5;
            CHECKF(fabs(yi[i] - want) < 1e-6, "infer y[%d] %.9g want %.9g", i, yi[i], want);
        }
    }
    /* Statistics by hand computation on random data with an offset, C = 20 (a full and a partial
     * 16-channel tile), and the gradients by finite differences. */
    const int N = 2 * 5 * 7, C = 20;
    bn_ctx c = {.N = N, .C = C};
    size_t n = (size_t)N * C;
    c.in = rand_buf(n), c.gamma = rand_buf(C), c.beta = rand_buf(C), c.r = rand_buf(n);
    for (size_t i = 0; i < n; i++) c.in[i] = c.in[i] * (1.0f + (float)(i % C)) + 3.0f;
    c.out = malloc(n * 4), c.mean = malloc(C * 4), c.rstd = malloc(C * 4), c.mm = rand_buf(C), c.mv = fill_buf(C, 1.0f);
    float mm0[20], mv0[20];
    memcpy(mm0, c.mm, sizeof mm0), memcpy(mv0, c.mv, sizeof mv0);
    batchnorm_forward_train(c.out, c.mean, c.rstd, c.mm, c.mv, c.in, c.gamma, c.beta, N, C, 0.99f, 1e-3f);
    int bad = 0;
    for (int ch = 0; ch < C; ch++) {
        double s = 0, q = 0;
        for (int r = 0; r < N; r++) s += c.in[(size_t)r * C + ch];
        double mu = s / N;
        for (int r = 0; r < N; r++) q += pow(c.in[(size_t)r * C + ch] - mu, 2);
        double var = q / N, rs = 1.0 / sqrt(var + 1e-3);
        bad += fabs(c.mean[ch] - mu) > 1e-6 * fabs(mu) || fabs(c.rstd[ch] - rs) > 1e-6 * rs;
        bad += fabs(c.mm[ch] - (0.99 * mm0[ch] + 0.01 * mu)) > 1e-6;
        bad += fabs(c.mv[ch] - (0.99 * mv0[ch] + 0.01 * var)) > 1e-6 * c.mv[ch];
        for (int r = 0; r < N; r++) {
            size_t i = (size_t)r * C + ch;
            bad += fabs(c.out[i] - ((c.in[i] - mu) * rs * c.gamma[ch] + c.beta[ch])) > 1e-5;
        }
    }
    CHECKF(bad == 0, "batchnorm training statistics: %d mismatches", bad);

    float *din = fill_buf(n, NAN), *dg = fill_buf(C, 0.0f), *db = fill_buf(C, 0.0f);
    batchnorm_backward(din, dg, db, c.r, c.in, c.mean, c.rstd, c.gamma, N, C);
    grad_check("batchnorm din", bn_loss, &c, c.in, din, n, 1e-2f, NULL);
    grad_check("batchnorm dgamma", bn_loss, &c, c.gamma, dg, C, 1e-2f, NULL);
    grad_check("batchnorm dbeta", bn_loss, &c, c.beta, db, C, 1e-2f, NULL);

    /* thread-count independence: one thread gives the same bits as the suite's count (two when
     * the suite runs on one) */
    float *out1 = malloc(n * 4), *din1 = malloc(n * 4), *dg1 = fill_buf(C, 0.0f), *db1 = fill_buf(C, 0.0f);
    int nt = omp_get_max_threads();
    omp_set_num_threads(nt == 1 ? 2 : 1);
    batchnorm_forward_train(out1, c.mean, c.rstd, c.mm, c.mv, c.in, c.gamma, c.beta, N, C, 0.99f, 1e-3f);
    batchnorm_backward(din1, dg1, db1, c.r, c.in, c.mean, c.rstd, c.gamma, N, C);
    omp_set_num_threads(nt);
    batchnorm_forward_train(c.out, c.mean, c.rstd, c.mm, c.mv, c.in, c.gamma, c.beta, N, C, 0.99f, 1e-3f);
    batchnorm_backward(din, dg, db, c.r, c.in, c.mean, c.rstd, c.gamma, N, C);
    CHECK(memcmp(out1, c.out, n * 4) == 0 && memcmp(din1, din, n * 4) == 0);
    free(c.in), free(c.gamma), free(c.beta), free(c.r), free(c.out), free(c.mean), free(c.rstd), free(c.mm);
    free(c.mv), free(din), free(dg), free(db), free(out1), free(din1), free(dg1), free(db1);
}

/* ---- ReLU and max pooling ---------------------------------------------------------------------- */

typedef struct {
    float *out, *in, *r;
    int32_t *arg;
    size_t n;
    int B, H, W, C, P;
} pw_ctx;
static double relu_loss(void *v) {
    pw_ctx *c = v;
    relu_forward(c->out, c->in, c->n);
    return dot_d(c->out, c->r, c->n);
}
static int relu_skip(void *v, size_t i) { return fabsf(((pw_ctx *)v)->in[i]) < 2e-2f; }

static void test_relu(void) {
    pw_ctx c = {.n = 1001};
    c.in = rand_buf(c.n), c.r = rand_buf(c.n), c.out = malloc(c.n * 4);
    float *din = malloc(c.n * 4), *tmp = malloc(c.n * 4);
    relu_forward(c.out, c.in, c.n);
    int bad = 0;
    for (size_t i = 0; i < c.n; i++) bad += c.out[i] != (c.in[i] > 0 ? c.in[i] : 0.0f);
    CHECK(bad == 0);
    memcpy(tmp, c.in, c.n * 4); /* in place */
    relu_forward(tmp, tmp, c.n);
    CHECK(memcmp(tmp, c.out, c.n * 4) == 0);
    relu_backward(din, c.r, c.out, c.n);
    grad_check("relu din", relu_loss, &c, c.in, din, c.n, 1e-2f, relu_skip);
    free(c.in), free(c.r), free(c.out), free(din), free(tmp);
}

static double pool_loss(void *v) {
    pw_ctx *c = v;
    maxpool2d_forward(c->out, c->arg, c->in, c->B, c->H, c->W, c->C, c->P);
    return dot_d(c->out, c->r, c->n);
}

static void test_maxpool(void) {
    /* 1-D shapes against TF's max_pool2d(SAME) (values checked with tensorflow 2.21):
     * H = 7, P = 3 pads one row before: windows {0,1}, {2,3,4}, {5,6}. */
    {
        float x[7] = {6, 5, 4, 3, 2, 1, 0}, y[3];
        int32_t a[3];
        maxpool2d_forward(y, a, x, 1, 7, 1, 1, 3);
        CHECK(y[0] == 6 && y[1] == 4 && y[2] == 1 && a[0] == 0 && a[1] == 2 && a[2] == 5);
        float x5[5] = {4, 3, 2, 1, 0}, y5[3]; /* H = 5, P = 2: {0,1}, {2,3}, {4} */
        maxpool2d_forward(y5, a, x5, 1, 5, 1, 1, 2);
        CHECK(y5[0] == 4 && y5[1] == 2 && y5[2] == 0 && a[2] == 4);
        float xn[3] = {-5, -7, -9}, yn[2]; /* all-negative last window covering padding only partly */
        maxpool2d_forward(yn, a, xn, 1, 3, 1, 1, 2);
        CHECK(yn[0] == -5 && yn[1] == -9 && a[1] == 2);
        /* the network's second pooling: 20 x 65 -> 10 x 33, the last column window is column 64 alone */
        float *xw = malloc(20 * 65 * 2 * 4), yw[10 * 33 * 2];
        int32_t aw[10 * 33 * 2];
        for (int i = 0; i < 20 * 65 * 2; i++) xw[i] = (float)((i * 37) % 101);
        maxpool2d_forward(yw, aw, xw, 1, 20, 65, 2, 2);
        int badw = 0;
        for (int oy = 0; oy < 10; oy++)
            for (int ch = 0; ch < 2; ch++) {
                float m = fmaxf(xw[((2 * oy) * 65 + 64) * 2 + ch], xw[((2 * oy + 1) * 65 + 64) * 2 + ch]);
                badw += yw[(oy * 33 + 32) * 2 + ch] != m;
            }
        CHECKF(badw == 0, "maxpool 20x65 -> 10x33: %d last-column mismatches", badw);
        free(xw);
        float xt[4] = {1, 3, 3, 3}; /* ties: the first in window order takes the gradient, as TF */
        maxpool2d_forward(yn, a, xt, 1, 2, 2, 1, 2);
        CHECK(yn[0] == 3 && a[0] == 1);
    }
    /* B = 2, H = 5, W = 7, C = 3, P = 2 -> 3 x 4, against a naive max over clipped windows; values
     * distinct by >= 0.01 so a +-1e-3 perturbation never changes a window's winner. */
    pw_ctx c = {.B = 2, .H = 5, .W = 7, .C = 3, .P = 2};
    const int Ho = 3, Wo = 4;
    size_t nin = (size_t)c.B * c.H * c.W * c.C;
    c.n = (size_t)c.B * Ho * Wo * c.C;
    c.in = malloc(nin * 4), c.r = rand_buf(c.n), c.out = malloc(c.n * 4), c.arg = malloc(c.n * 4);
    for (size_t i = 0; i < nin; i++) c.in[i] = (float)((i * 7919) % nin) * 0.01f - 1.0f;
    maxpool2d_forward(c.out, c.arg, c.in, c.B, c.H, c.W, c.C, c.P);
    int bad = 0;
    for (int b = 0; b < c.B; b++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++)
                for (int ch = 0; ch < c.C; ch++) {
                    float m = -INFINITY;
                    for (int y = 2 * oy; y < 2 * oy + 2 && y < c.H; y++)
                        for (int x = 2 * ox; x < 2 * ox + 2 && x < c.W; x++) {
                            float v = c.in[(((size_t)b * c.H + y) * c.W + x) * c.C + ch];
                            if (v > m) m = v;
                        }
                    size_t o = (((size_t)b * Ho + oy) * Wo + ox) * c.C + ch;
                    bad += c.out[o] != m || c.in[c.arg[o]] != m;
                }
    CHECKF(bad == 0, "maxpool forward: %d mismatches", bad);
    float *din = fill_buf(nin, NAN);
    maxpool2d_backward(din, c.r, c.arg, c.B, c.H, c.W, c.C, c.P);
    grad_check("maxpool din", pool_loss, &c, c.in, din, nin, 1e-3f, NULL);
    free(c.in), free(c.r), free(c.out), free(c.arg), free(din);
}

/* ---- dense, softmax + cross-entropy, L2, Adam -------------------------------------------------- */

typedef struct {
    float *out, *in, *k, *bias, *r;
    int B, I, O;
} dense_ctx;
static double dense_loss(void *v) {
    dense_ctx *c = v;
    dense_forward(c->out, c->in, c->k, c->bias, c->B, c->I, c->O);
    return dot_d(c->out, c->r, (size_t)c->B * c->O);
}

static void test_dense(void) {
    dense_ctx c = {.B = 5, .I = 9, .O = 7};
    c.in = rand_buf(45), c.k = rand_buf(63), c.bias = rand_buf(7), c.r = rand_buf(35), c.out = malloc(35 * 4);
    dense_forward(c.out, c.in, c.k, c.bias, 5, 9, 7);
    double ref[35];
    for (int b = 0; b < 5; b++)
        for (int o = 0; o < 7; o++) {
            ref[b * 7 + o] = c.bias[o];
            for (int i = 0; i < 9; i++) ref[b * 7 + o] += (double)c.in[b * 9 + i] * c.k[i * 7 + o];
        }
    CHECK(rel_err(c.out, ref, 35) <= 1e-6);
    /* parameter gradients accumulate: start them at 1 and take the 1 back off */
    float din[45], dk[63], db[7];
    for (int i = 0; i < 63; i++) dk[i] = 1.0f;
    for (int i = 0; i < 7; i++) db[i] = 1.0f;
    dense_backward(din, dk, db, c.r, c.in, c.k, 5, 9, 7);
    for (int i = 0; i < 63; i++) dk[i] -= 1.0f;
    for (int i = 0; i < 7; i++) db[i] -= 1.0f;
    grad_check("dense din", dense_loss, &c, c.in, din, 45, 1e-2f, NULL);
    grad_check("dense dkernel", dense_loss, &c, c.k, dk, 63, 1e-2f, NULL);
    grad_check("dense dbias", dense_loss, &c, c.bias, db, 7, 1e-2f, NULL);
    free(c.in), free(c.k), free(c.bias), free(c.r), free(c.out);
}

typedef struct {
    float *probs, *logits;
    int32_t *labels, *labels2;
    float *lam;
    float ls;
} xent_ctx;
static double xent_loss(void *v) {
    xent_ctx *c = v;
    return softmax_xent_forward(c->probs, c->logits, c->labels, c->labels2, c->lam, 2, 3, c->ls);
}

static void test_softmax_xent(void) {
    /* by hand: row 0 logits (1, 2, 3), label 2: log(e + e^2 + e^3) - 3 = 0.407605964;
     * row 1 (0.5, -1, 2), label 0: log(e^.5 + e^-1 + e^2) - 0.5 = 1.741311297; mean 1.074458631 */
    float logits[6] = {1, 2, 3, 0.5f, -1, 2}, probs[6], dl[6];
    int32_t labels[2] = {2, 0};
    float loss = softmax_xent_forward(probs, logits, labels, NULL, NULL, 2, 3, 0.0f);
    CHECKF(fabsf(loss - 1.074458631f) < 1e-6f, "loss %.9g", loss);
    double e = exp(1) + exp(2) + exp(3);
    CHECK(fabs(probs[0] - exp(1) / e) < 1e-7 && fabs(probs[2] - exp(3) / e) < 1e-7);
    softmax_xent_backward(dl, probs, labels, NULL, NULL, 2, 3, 0.0f);
    CHECK(fabsf(dl[2] - (probs[2] - 1.0f) / 2) < 1e-7f && fabsf(dl[1] - probs[1] / 2) < 1e-7f);
    xent_ctx c = {probs, logits, labels, NULL, NULL, 0.0f};
    grad_check("softmax_xent dlogits", xent_loss, &c, logits, dl, 6, 1e-2f, NULL);

    /* label smoothing 0.3: targets (0.1, 0.1, 0.8) and (0.8, 0.1, 0.1); by hand
     * lse - sum y z: row 0 3.407605964 - 2.7, row 1 2.241311297 - 0.5; mean 1.224458631
     * (keras 3 CategoricalCrossentropy(from_logits=True, label_smoothing=0.3): 1.2244587) */
    loss = softmax_xent_forward(probs, logits, labels, NULL, NULL, 2, 3, 0.3f);
    CHECKF(fabsf(loss - 1.224458631f) < 1e-6f, "smoothed loss %.9g", loss);
    softmax_xent_backward(dl, probs, labels, NULL, NULL, 2, 3, 0.3f);
    CHECKF(fabsf(dl[2] - (probs[2] - 0.8f) / 2) < 1e-7f && fabsf(dl[0] - (probs[0] - 0.1f) / 2) < 1e-7f &&
               fabsf(dl[3] - (probs[3] - 0.8f) / 2) < 1e-7f,
           "smoothed dlogits %g %g %g", dl[0], dl[2], dl[3]);
    c.ls = 0.3f;
    grad_check("softmax_xent dlogits, label smoothing", xent_loss, &c, logits, dl, 6, 1e-2f, NULL);

    /* mixup targets: row 0 0.7 of class 2 and 0.3 of class 0, row 1 all class 0 (partner itself):
     * the loss is 0.7 CE(2) + 0.3 CE(0) for row 0 = 0.7 * 0.407605964 + 0.3 * 2.407605964 =
     * 1.007605964; mean with row 1 (1.741311297) 1.374458631; with smoothing 0.3 too: targets
     * (0.31, 0.1, 0.59) and (0.8, 0.1, 0.1): 3.407605964 - 2.28 and 1.741311297, mean 1.434458631
     * (keras 3 CategoricalCrossentropy on the soft targets (0.3, 0, 0.7), (1, 0, 0): 1.3744587
     * and, label_smoothing=0.3, 1.4344587) */
    int32_t partners[2] = {0, 0};
    float lam[2] = {0.7f, 1.0f};
    c.labels2 = partners, c.lam = lam, c.ls = 0.0f;
    loss = (float)xent_loss(&c);
    CHECKF(fabsf(loss - 1.374458631f) < 1e-6f, "mixup loss %.9g", loss);
    softmax_xent_backward(dl, probs, labels, partners, lam, 2, 3, 0.0f);
    CHECKF(fabsf(dl[0] - (probs[0] - 0.3f) / 2) < 1e-7f && fabsf(dl[2] - (probs[2] - 0.7f) / 2) < 1e-7f,
           "mixup dlogits %g %g", dl[0], dl[2]);
    grad_check("softmax_xent dlogits, mixup", xent_loss, &c, logits, dl, 6, 1e-2f, NULL);
    c.ls = 0.3f;
    loss = (float)xent_loss(&c);
    CHECKF(fabsf(loss - 1.434458631f) < 1e-6f, "mixup + smoothing loss %.9g", loss);
    softmax_xent_backward(dl, probs, labels, partners, lam, 2, 3, 0.3f);
    grad_check("softmax_xent dlogits, mixup + smoothing", xent_loss, &c, logits, dl, 6, 1e-2f, NULL);
    /* large logits do not overflow */
    float big[3] = {1000, 0, -1000};
    int32_t l0 = 1;
    loss = softmax_xent_forward(probs, big, &l0, NULL, NULL, 1, 3, 0.0f);
    CHECKF(fabsf(loss - 1000.0f) < 1e-3f && probs[0] == 1.0f, "large logits: loss %g", loss);
}

static void test_l2_adam(void) {
    float w[3] = {1, -2, 0.5f}, dw[3] = {1, 1, 1};
    CHECK(fabsf(l2_forward(w, 3, 0.01f) - 0.0525f) < 1e-8f);
    l2_backward(dw, w, 3, 0.01f);
    CHECK(fabsf(dw[0] - 1.02f) < 1e-7f && fabsf(dw[1] - 0.96f) < 1e-7f && fabsf(dw[2] - 1.01f) < 1e-7f);

    /* Adam, 3 steps, against the Keras formula evaluated by hand in double for each element, with
     * the decimal constants (Keras takes 1 - 0.9 and 1 - 0.999 in Python doubles):
     * alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t); p -= alpha_t m / (sqrt(v) + eps).
     * (Checked once against keras 3.15's Adam on these numbers: bit-identical after 3 steps.) */
    const float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    float p[4] = {1.0f, -0.5f, 0.0f, 2.0f}, m[4] = {0}, v[4] = {0};
    const float g[3][4] = {{0.1f, -0.2f, 0.0f, 3.0f}, {-0.3f, -0.2f, 1e-4f, 2.0f}, {0.2f, 0.1f, -1e-4f, -1.0f}};
    double pd[4] = {1.0, -0.5, 0.0, 2.0}, md[4] = {0}, vd[4] = {0};
    for (int t = 1; t <= 3; t++) {
        adam_update(p, m, v, g[t - 1], 4, lr, b1, b2, eps, t);
        double alpha = (double)lr * sqrt(1.0 - pow(0.999, t)) / (1.0 - pow(0.9, t));
        for (int i = 0; i < 4; i++) {
            md[i] = 0.9 * md[i] + 0.1 * g[t - 1][i];
            vd[i] = 0.999 * vd[i] + 0.001 * (double)g[t - 1][i] * g[t - 1][i];
            pd[i] -= alpha * md[i] / (sqrt(vd[i]) + eps);
        }
    }
    for (int i = 0; i < 4; i++)
        CHECKF(fabs(p[i] - pd[i]) < 1e-6 && fabs(m[i] - md[i]) < 1e-7 * (1 + fabs(md[i])) &&
                   fabs(v[i] - vd[i]) < 1e-6 * vd[i] + 1e-12,
               "adam element %d: p %.9g want %.9g, m %.9g want %.9g, v %.9g want %.9g", i, p[i], pd[i], m[i], md[i],
               v[i], vd[i]);
    /* step 1 by hand: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(.001) / .1, so p -= lr sign(g)
     * (to the float32 rounding of 1 - 0.999, which Keras shares) */
    float q = 1.0f, mq = 0, vq = 0, gq = 0.5f;
    adam_update(&q, &mq, &vq, &gq, 1, lr, b1, b2, eps, 1);
    CHECKF(fabsf(q - (1.0f - lr)) < 1e-6f, "adam first step %.9g", q);
}

/* ---- benchmark (not run by ctest) -------------------------------------------------------------- */

static int bench(void) {
    const int B = 64, reps = 3;
    const int shapes[4][3] = {{40, 130, 1}, {20, 65, 64}, {10, 33, 64}, {5, 17, 64}};
    for (int s = 0; s < 4; s++) {
        const int H = shapes[s][0], W = shapes[s][1], Ci = shapes[s][2], Co = 64, K = 3;
        size_t nin = (size_t)B * H * W * Ci, nout = (size_t)B * H * W * Co, nk = (size_t)K * K * Ci * Co;
        float *in = rand_buf(nin), *k = rand_buf(nk), *bias = rand_buf(Co), *out = malloc(nout * 4);
        float *g = rand_buf(nout), *din = malloc(nin * 4), *dk = fill_buf(nk, 0), *db = fill_buf(Co, 0);
        float *col = malloc(conv2d_col_size(B, H, W, Ci, K) * 4);
        double flop = 2.0 * B * H * W * K * K * Ci * Co;
        conv2d_forward(out, col, in, k, bias, B, H, W, Ci, Co, K);
        double t0 = ser_now_s();
        for (int r = 0; r < reps; r++) conv2d_forward(out, col, in, k, bias, B, H, W, Ci, Co, K);
        double tf = (ser_now_s() - t0) / reps;
        float *pdin = Ci == 1 ? NULL : din; /* the first layer needs no din */
        t0 = ser_now_s();
        for (int r = 0; r < reps; r++) conv2d_backward(pdin, dk, db, col, g, in, k, B, H, W, Ci, Co, K);
        double tb = (ser_now_s() - t0) / reps;
        double fb = pdin ? 2 * flop : flop;
        printf("conv %dx%dx%d->%d B%d: forward %.2f ms %.1f GFLOP/s, backward%s %.2f ms %.1f GFLOP/s\n", H, W,
               Ci, Co, B, tf * 1e3, flop / tf * 1e-9, pdin ? "" : " (no din)", tb * 1e3, fb / tb * 1e-9);
        free(in), free(k), free(bias), free(out), free(g), free(din), free(dk), free(db), free(col);
    }
    /* the memory-bound layers at the first block's size, (64,40,130,64) and pooled (64,20,65,64) */
    {
        const int H = 40, W = 130, C = 64, N = B * H * W;
        const size_t n = (size_t)N * C, np = (size_t)B * 20 * 65 * C;
        float *x = rand_buf(n), *y = malloc(n * 4), *g = rand_buf(n), *dx = malloc(n * 4);
        float *mean = malloc(C * 4), *rstd = malloc(C * 4), *mm = fill_buf(C, 0), *mv = fill_buf(C, 1);
        float *ga = rand_buf(C), *be = rand_buf(C), *dga = fill_buf(C, 0), *dbe = fill_buf(C, 0);
        int32_t *arg = malloc(np * 4);
        uint8_t *mask = malloc(np);
#define BENCH_MS(name, stmt)                                                                          \
    do {                                                                                              \
        stmt;                                                                                         \
        double t0_ = ser_now_s();                                                                         \
        for (int r_ = 0; r_ < reps; r_++) stmt;                                                       \
        printf("%-26s %.2f ms\n", name, (ser_now_s() - t0_) / reps * 1e3);                                \
    } while (0)
        BENCH_MS("batchnorm forward train", batchnorm_forward_train(y, mean, rstd, mm, mv, x, ga, be, N, C, 0.99f, 1e-3f));
        BENCH_MS("batchnorm backward", batchnorm_backward(dx, dga, dbe, g, x, mean, rstd, ga, N, C));
        BENCH_MS("relu forward (in place)", relu_forward(y, y, n));
        BENCH_MS("relu backward", relu_backward(dx, g, y, n));
        BENCH_MS("maxpool forward", maxpool2d_forward(dx, arg, y, B, H, W, C, 2));
        BENCH_MS("maxpool backward", maxpool2d_backward(dx, g, arg, B, H, W, C, 2));
        BENCH_MS("dropout forward (pooled)", dropout_forward(y, mask, x, np, 0.2f, 1, 2, 3));
        BENCH_MS("dropout backward (pooled)", dropout_backward(dx, g, mask, np, 0.2f));
#undef BENCH_MS
        free(x), free(y), free(g), free(dx), free(mean), free(rstd), free(mm), free(mv), free(ga), free(be);
        free(dga), free(dbe), free(arg), free(mask);
    }
    /* Last, because OpenBLAS's own pool (2 threads here) keeps spinning for a while after a call and
     * would slow the OpenMP loops measured above: the peak the convolutions are measured against,
     * as OpenBLAS's threaded sgemm and as the layers run it (one single-threaded sgemm per OpenMP
     * thread, each on half of the rows). */
    {
        const int n = 2048;
        float *a = rand_buf((size_t)n * n), *b = rand_buf((size_t)n * n), *cc = malloc((size_t)n * n * 4);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, cc, n);
        double t0 = ser_now_s();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, cc, n);
        double t = (ser_now_s() - t0) / reps;
        printf("sgemm %dx%dx%d, OpenBLAS threads %d: %.1f GFLOP/s\n", n, n, n, openblas_get_num_threads(),
               2.0 * n * n * n / t * 1e-9);
        const int saved = openblas_get_num_threads();
        openblas_set_num_threads(1);
        for (int pass = 0; pass < 2; pass++) {
            t0 = ser_now_s();
#pragma omp parallel
            {
                const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
                const int r0 = n * tid / nt, r1 = n * (tid + 1) / nt;
                for (int r = 0; r < reps; r++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, n, n, 1, a + (size_t)r0 * n, n, b,
                                n, 0, cc + (size_t)r0 * n, n);
            }
            t = (ser_now_s() - t0) / reps;
        }
        printf("sgemm %dx%dx%d, 1-thread sgemm per OpenMP thread (%d): %.1f GFLOP/s\n", n, n, n,
               omp_get_max_threads(), 2.0 * n * n * n / t * 1e-9);
        openblas_set_num_threads(saved);
        free(a), free(b), free(cc);
    }
    return 0;
}

/* `test_layers_cnn bench-ab [N]`: conv2d's own implementation (im2col + sgemm, direct loops for
 * Cin = 1) against oneDNN on the network's four shapes at B = 64, interleaved in one process, best
 * of N (default 7) per op: forward, backward-weights (+ bias) alone (din = NULL), and the full
 * backward (data + weights). GFLOP/s counts 2*B*H*W*K*K*Cin*Cout per convolution (x2 for the full
 * backward with din). */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int bench_ab(int n) {
    const int B = 64;
    const int shapes[4][3] = {{40, 130, 1}, {20, 65, 64}, {10, 33, 64}, {5, 17, 64}};
    if (!conv2d_onednn_enabled()) {
        printf("built without oneDNN (or SER_ONEDNN=0): nothing to compare\n");
        return 0;
    }
    /* On a shared machine wall time mostly measures the other processes; with one thread the
     * process CPU time is the op's own cost, so both are printed (best of n each). */
    printf("threads %d, best of %d; per op: wall ms, GFLOP/s by wall, CPU ms (all threads)\n", omp_get_max_threads(), n);
    for (int s = 0; s < 4; s++) {
        const int H = shapes[s][0], W = shapes[s][1], Ci = shapes[s][2], Co = 64, K = 3;
        size_t nin = (size_t)B * H * W * Ci, nout = (size_t)B * H * W * Co, nk = (size_t)K * K * Ci * Co;
        float *in = rand_buf(nin), *k = rand_buf(nk), *bias = rand_buf(Co), *out = malloc(nout * 4);
        float *g = rand_buf(nout), *din = malloc(nin * 4), *dk = fill_buf(nk, 0), *db = fill_buf(Co, 0);
        float *col = malloc(conv2d_col_size(B, H, W, Ci, K) * 4);
        const double flop = 2.0 * B * H * W * K * K * Ci * Co;
        double best[2][3], bcpu[2][3];
        for (int v = 0; v < 2; v++)
            for (int o = 0; o < 3; o++) best[v][o] = bcpu[v][o] = 1e30;
        for (int r = 0; r <= n; r++) /* r = 0 warms up (creates oneDNN's primitives) */
            for (int v = 0; v < 2; v++) {
                conv2d_onednn_enable(v);
                double t[4], c[4];
                t[0] = ser_now_s(), c[0] = cpu_s();
                conv2d_forward(out, col, in, k, bias, B, H, W, Ci, Co, K);
                t[1] = ser_now_s(), c[1] = cpu_s();
                conv2d_backward(NULL, dk, db, col, g, in, k, B, H, W, Ci, Co, K);
                t[2] = ser_now_s(), c[2] = cpu_s();
                if (Ci > 1) conv2d_backward(din, dk, db, col, g, in, k, B, H, W, Ci, Co, K);
                t[3] = ser_now_s(), c[3] = cpu_s();
                if (r == 0) continue;
                for (int o = 0; o < 3; o++) {
                    if (t[o + 1] - t[o] < best[v][o]) best[v][o] = t[o + 1] - t[o];
                    if (c[o + 1] - c[o] < bcpu[v][o]) bcpu[v][o] = c[o + 1] - c[o];
                }
            }
        conv2d_onednn_enable(1);
        printf("conv %dx%dx%d->%d B%d  [oneDNN: %s]\n", H, W, Ci, Co, B, conv2d_onednn_impl(B, H, W, Ci, Co, K));
        const char *op[3] = {"forward", "backward-weights", "backward (all)"};
        for (int o = 0; o < (Ci > 1 ? 3 : 2); o++) {
            const double f = o == 2 ? 2 * flop : flop;
            printf("  %-16s own %7.2f ms %6.1f GF/s cpu %7.2f | oneDNN %7.2f ms %6.1f GF/s cpu %7.2f | x%.2f wall x%.2f cpu\n",
                   op[o], best[0][o] * 1e3, f / best[0][o] * 1e-9, bcpu[0][o] * 1e3, best[1][o] * 1e3,
                   f / best[1][o] * 1e-9, bcpu[1][o] * 1e3, best[0][o] / best[1][o], bcpu[0][o] / bcpu[1][o]);
        }
        free(in), free(k), free(bias), free(out), free(g), free(din), free(dk), free(db), free(col);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "bench") == 0) return bench();
    if (argc > 1 && strcmp(argv[1], "bench-ab") == 0) return bench_ab(argc > 2 ? atoi(argv[2]) : 7);
    /* what the CPU matrix (scripts/cpu-matrix.sh) varies, so a log shows what this run saw */
    printf("OpenMP threads %d, OpenBLAS %s\n", omp_get_max_threads(), openblas_get_corename());
    test_philox();
    test_dropout();
    test_conv2d();
    test_batchnorm();
    test_relu();
    test_maxpool();
    test_dense();
    test_softmax_xent();
    test_l2_adam();
    return check_finish("layers_cnn");
}
