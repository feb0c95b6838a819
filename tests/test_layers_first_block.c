/* The fused first block (host/model/layers/conv_bn_relu_pool.c) against the layers it replaces:
 * conv2d_forward -> batchnorm_stats_train -> bn_relu_pool_[dropout_]forward, and
 * bn_relu_pool_backward -> conv2d_backward.
 * - its conv (conv_rows_forward) equals conv2d_forward to float rounding (rel 1e-5);
 * - its statistics equal batchnorm_stats_train's of that conv output (rel 1e-5);
 * - given the same conv values, the pooled output, argmax, xsel, dropout output and mask are
 *   bit-identical to bn_relu_pool's (same float expressions); dgamma/dbeta agree to 1e-6 (the
 *   same double sums, grouped differently);
 * - dkernel equals conv2d_backward's of bn_relu_pool_backward's din (rel 1e-5), dbias (zero in
 *   exact arithmetic) to 1e-6 of the mass of the terms it sums;
 * - results are bit-identical for 1 and 2 threads.
 * An input with a mean 20x its spread checks the statistics for cancellation. Shapes: the network's block 1 (40x130, 64 filters), odd sizes (clipped windows), P = 3,
 * C = 16/32/48/80 (vector chunks of 1-4 registers and a 64+16 split), K = 5, and Cin = 2 and
 * C = 20 (the general, non-vector path). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "float_test.h"
#include "layers/layers.h"

static uint64_t rng_state = 0x243f6a8885a308d3ULL;
static float frand(void) { return test_frand(&rng_state); }
#define rel_err test_rel_err

typedef struct outs {
    float *pool, *xsel, *drop, *dk, *db, *dg, *dbe, *mean, *rstd, *mm, *mv, *sc, *sh;
    int32_t *am;
    uint8_t *mask;
} outs;

static void outs_alloc(outs *o, size_t no, int C, int T) {
    o->pool = malloc(no * sizeof(float)), o->xsel = malloc(no * sizeof(float)), o->drop = malloc(no * sizeof(float));
    o->am = malloc(no * sizeof(int32_t)), o->mask = malloc(no);
    o->dk = malloc((size_t)T * C * sizeof(float));
    float **per_c[] = {&o->db, &o->dg, &o->dbe, &o->mean, &o->rstd, &o->mm, &o->mv, &o->sc, &o->sh};
    for (size_t i = 0; i < sizeof per_c / sizeof *per_c; i++) *per_c[i] = malloc((size_t)C * sizeof(float));
}

static void outs_free(outs *o) {
    float *f[] = {o->pool, o->xsel, o->drop, o->dk, o->db, o->dg, o->dbe, o->mean, o->rstd, o->mm, o->mv, o->sc, o->sh};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(f[i]);
    free(o->am), free(o->mask);
}

/* Every output of the fused path, gradients starting from the same non-zero values. */
static void run_fused(outs *o, const float *in, const float *kernel, const float *bias, const float *gamma,
                      const float *beta, const float *mm0, const float *mv0, const float *dout, int B, int H, int W,
                      int Cin, int C, int K, int P, float rate) {
    const int T = Cin * K * K;
    memcpy(o->mm, mm0, (size_t)C * sizeof(float)), memcpy(o->mv, mv0, (size_t)C * sizeof(float));
    for (int i = 0; i < T * C; i++) o->dk[i] = 0.125f;
    for (int c = 0; c < C; c++) o->db[c] = -0.25f, o->dg[c] = 0.25f, o->dbe[c] = -0.5f;
    double moments[conv_bn_moments_size(Cin, K)];
    conv_bn_stats_train(o->sc, o->sh, o->mean, o->rstd, o->mm, o->mv, moments, in, kernel, bias, gamma, beta, B, H, W,
                        Cin, C, K, 0.99f, 1e-3f);
    conv_bn_relu_pool_forward(rate > 0.0f ? o->drop : NULL, o->mask, o->pool, o->am, o->xsel, in, kernel, bias, o->sc,
                              o->sh, B, H, W, Cin, C, K, P, rate, 42, 7, 0);
    conv_bn_relu_pool_backward(o->dk, o->db, o->dg, o->dbe, dout, rate > 0.0f ? o->mask : NULL, rate, o->pool, o->am,
                               o->xsel, moments, in, kernel, bias, o->mean, o->rstd, gamma, B, H, W, Cin, C, K, P);
}

static int same(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

static void check_case(int B, int H, int W, int Cin, int C, int K, int P, float rate, float offset) {
    const int Ho = (H + P - 1) / P, Wo = (W + P - 1) / P, T = Cin * K * K, N = B * H * W;
    const size_t n = (size_t)N * C, no = (size_t)B * Ho * Wo * C, nin = (size_t)N * Cin;
    char what[96];
    snprintf(what, sizeof what, "B%d H%d W%d Cin%d C%d K%d P%d drop%g off%g", B, H, W, Cin, C, K, P, rate, offset);
    CHECKF(conv_bn_relu_pool_fits(W, Cin, C, K, P), "%s: fits", what);

    float *in = malloc(nin * sizeof(float)), *kernel = malloc((size_t)T * C * sizeof(float));
    float *conv_ref = malloc(n * sizeof(float)), *conv = malloc(n * sizeof(float)), *din = malloc(n * sizeof(float));
    float *col = malloc(conv2d_col_size(B, H, W, Cin, K) * sizeof(float)), *dout = malloc(no * sizeof(float));
    float bias[C], gamma[C], beta[C], mm0[C], mv0[C];
    for (size_t i = 0; i < nin; i++) in[i] = 2.0f * frand() + offset;
    for (int i = 0; i < T * C; i++) kernel[i] = 0.4f * frand();
    for (int c = 0; c < C; c++) {
        bias[c] = 0.1f * frand(), gamma[c] = 1.0f + 0.5f * frand(), beta[c] = 0.3f * frand();
        mm0[c] = 0.2f * frand(), mv0[c] = 1.0f + 0.5f * frand();
    }
    for (size_t i = 0; i < no; i++) dout[i] = frand();

    /* the conv itself */
    conv2d_forward(conv_ref, col, in, kernel, bias, B, H, W, Cin, C, K);
    conv_rows_forward(conv, in, kernel, bias, B, H, W, Cin, C, K);
    const double ec = rel_err(conv, conv_ref, n);
    CHECKF(ec <= 1e-5, "%s: conv rel err %.3g", what, ec);

    outs f, r;
    outs_alloc(&f, no, C, T), outs_alloc(&r, no, C, T);
    run_fused(&f, in, kernel, bias, gamma, beta, mm0, mv0, dout, B, H, W, Cin, C, K, P, rate);

    /* statistics against batchnorm_stats_train of the reference conv output */
    memcpy(r.mm, mm0, sizeof mm0), memcpy(r.mv, mv0, sizeof mv0);
    batchnorm_stats_train(r.sc, r.sh, r.mean, r.rstd, r.mm, r.mv, conv_ref, gamma, beta, N, C, 0.99f, 1e-3f);
    const double es = fmax(fmax(rel_err(f.mean, r.mean, C), rel_err(f.rstd, r.rstd, C)),
                           fmax(rel_err(f.mm, r.mm, C), rel_err(f.mv, r.mv, C)));
    CHECKF(es <= 1e-5, "%s: statistics rel err %.3g", what, es);

    /* forward and backward against bn_relu_pool on the fused conv's values, with the fused scale/shift */
    const uint8_t *mk = rate > 0.0f ? f.mask : NULL;
    if (rate > 0.0f)
        bn_relu_pool_dropout_forward(r.drop, r.mask, r.pool, r.am, r.xsel, conv, f.sc, f.sh, B, H, W, C, P, rate, 42, 7,
                                     0);
    else
        bn_relu_pool_forward(r.pool, r.am, r.xsel, conv, f.sc, f.sh, B, H, W, C, P);
    CHECKF(same(f.pool, r.pool, no * sizeof(float)) && same(f.am, r.am, no * sizeof(int32_t)) &&
               same(f.xsel, r.xsel, no * sizeof(float)),
           "%s: pooled output, argmax, xsel identical", what);
    if (rate > 0.0f)
        CHECKF(same(f.drop, r.drop, no * sizeof(float)) && same(f.mask, r.mask, no), "%s: dropout identical", what);
    for (int i = 0; i < T * C; i++) r.dk[i] = 0.125f;
    for (int c = 0; c < C; c++) r.db[c] = -0.25f, r.dg[c] = 0.25f, r.dbe[c] = -0.5f;
    bn_relu_pool_backward(din, r.dg, r.dbe, dout, mk, rate, f.pool, f.am, f.xsel, conv, f.mean, f.rstd, gamma, B, H, W,
                          C, P);
    conv2d_backward(NULL, r.dk, r.db, col, din, in, kernel, B, H, W, Cin, C, K);
    /* the same double sums of the same float terms, grouped by pooled rows instead of positions */
    const double egb = fmax(rel_err(f.dg, r.dg, C), rel_err(f.dbe, r.dbe, C));
    CHECKF(egb <= 1e-6, "%s: dgamma, dbeta rel err %.3g", what, egb);
    const double ek = rel_err(f.dk, r.dk, (size_t)T * C);
    /* with a handful of positions the batch variance is ~0 and rstd ~ 1 / sqrt(eps): the float
     * rounding of each x - mean (exact x here, the float conv output there) is amplified ~1000x */
    const double ek_tol = N >= 16 ? 1e-5 : 1e-4;
    CHECKF(ek <= ek_tol, "%s: dkernel rel err %.3g (tolerance %g)", what, ek, ek_tol);
    /* A conv bias before a training-mode BN gets a zero gradient in exact arithmetic (BN takes
     * the mean out), so dbias is a sum of terms that cancel: compare it against the terms' mass. */
    double eb = 0.0;
    for (int c = 0; c < C; c++) {
        double mass = 0.0;
        for (int i = 0; i < N; i++) mass += fabs(din[(size_t)i * C + c]);
        const double e = fabs((double)f.db[c] - r.db[c]) / (mass > 0.0 ? mass : 1.0);
        if (e > eb) eb = e;
    }
    CHECKF(eb <= 1e-6, "%s: dbias error %.3g of the summed terms' mass", what, eb);

    /* the thread count changes nothing */
    outs f1;
    outs_alloc(&f1, no, C, T);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(threads == 1 ? 2 : 1);
    run_fused(&f1, in, kernel, bias, gamma, beta, mm0, mv0, dout, B, H, W, Cin, C, K, P, rate);
    omp_set_num_threads(threads);
    CHECKF(same(f1.pool, f.pool, no * sizeof(float)) && same(f1.sc, f.sc, C * sizeof(float)) &&
               same(f1.mv, f.mv, C * sizeof(float)) && same(f1.dk, f.dk, (size_t)T * C * sizeof(float)) &&
               same(f1.db, f.db, C * sizeof(float)) && same(f1.dg, f.dg, C * sizeof(float)),
           "%s: 1 and 2 threads bit-identical", what);

    outs_free(&f), outs_free(&r), outs_free(&f1);
    free(in), free(kernel), free(conv_ref), free(conv), free(din), free(col), free(dout);
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* `test_layers_first_block bench [N]`: one training step of the reference network's block 1
 * (B = 64, 40x130x1 -> 64, pool 2, dropout 0.2), the layers it replaces (conv2d_forward,
 * batchnorm_stats_train, bn_relu_pool_dropout_forward; bn_relu_pool_backward, conv2d_backward)
 * against the fused ones, interleaved, best of N, in process CPU time (run it with
 * OMP_NUM_THREADS=1: on a shared machine wall time measures the other processes). */
static int bench(int reps) {
    const int B = 64, H = 40, W = 130, C = 64, K = 3, P = 2, Ho = 20, Wo = 65;
    const size_t n = (size_t)B * H * W * C, no = (size_t)B * Ho * Wo * C, nin = (size_t)B * H * W;
    float *in = malloc(nin * sizeof(float)), *conv = malloc(n * sizeof(float)), *din = malloc(n * sizeof(float));
    float *col = malloc(conv2d_col_size(B, H, W, 1, K) * sizeof(float)), *dout = malloc(no * sizeof(float));
    float *pool = malloc(no * sizeof(float)), *xsel = malloc(no * sizeof(float)), *drop = malloc(no * sizeof(float));
    int32_t *am = malloc(no * sizeof(int32_t));
    uint8_t *mask = malloc(no);
    float kernel[9 * 64], bias[64], g[64], be[64], mm[64], mv[64], mean[64], rstd[64], sc[64], sh[64], dk[9 * 64],
        db[64], dg[64], dbe[64];
    for (size_t i = 0; i < nin; i++) in[i] = frand();
    for (size_t i = 0; i < no; i++) dout[i] = frand();
    for (int i = 0; i < 9 * 64; i++) kernel[i] = 0.3f * frand(), dk[i] = 0.0f;
    for (int c = 0; c < 64; c++) bias[c] = 0.1f * frand(), g[c] = 1.0f, be[c] = mm[c] = db[c] = dg[c] = dbe[c] = 0.0f, mv[c] = 1.0f;
    double best[2][2] = {{1e9, 1e9}, {1e9, 1e9}}, moments[conv_bn_moments_size(1, K)];
    for (int r = 0; r < reps; r++)
        for (int fused = 0; fused < 2; fused++) {
            const double t0 = cpu_s();
            if (!fused) {
                conv2d_forward(conv, col, in, kernel, bias, B, H, W, 1, C, K);
                batchnorm_stats_train(sc, sh, mean, rstd, mm, mv, conv, g, be, B * H * W, C, 0.99f, 1e-3f);
                bn_relu_pool_dropout_forward(drop, mask, pool, am, xsel, conv, sc, sh, B, H, W, C, P, 0.2f, 1, 1, 0);
            } else {
                conv_bn_stats_train(sc, sh, mean, rstd, mm, mv, moments, in, kernel, bias, g, be, B, H, W, 1, C, K, 0.99f,
                                    1e-3f);
                conv_bn_relu_pool_forward(drop, mask, pool, am, xsel, in, kernel, bias, sc, sh, B, H, W, 1, C, K, P, 0.2f,
                                          1, 1, 0);
            }
            const double t1 = cpu_s();
            if (!fused) {
                bn_relu_pool_backward(din, dg, dbe, dout, mask, 0.2f, pool, am, xsel, conv, mean, rstd, g, B, H, W, C, P);
                conv2d_backward(NULL, dk, db, col, din, in, kernel, B, H, W, 1, C, K);
            } else {
                conv_bn_relu_pool_backward(dk, db, dg, dbe, dout, mask, 0.2f, pool, am, xsel, moments, in, kernel, bias,
                                           mean, rstd, g, B, H, W, 1, C, K, P);
            }
            const double t2 = cpu_s();
            if (t1 - t0 < best[fused][0]) best[fused][0] = t1 - t0;
            if (t2 - t1 < best[fused][1]) best[fused][1] = t2 - t1;
        }
    printf("block 1 step, B = 64, best of %d, CPU ms (%d threads):\n", reps, omp_get_max_threads());
    printf("  stored  (conv2d + batchnorm + bn_relu_pool): forward %6.2f  backward %6.2f  total %6.2f\n",
           1e3 * best[0][0], 1e3 * best[0][1], 1e3 * (best[0][0] + best[0][1]));
    printf("  fused   (conv_bn_relu_pool)                : forward %6.2f  backward %6.2f  total %6.2f  (%.2fx)\n",
           1e3 * best[1][0], 1e3 * best[1][1], 1e3 * (best[1][0] + best[1][1]),
           (best[0][0] + best[0][1]) / (best[1][0] + best[1][1]));
    free(in), free(conv), free(din), free(col), free(dout), free(pool), free(xsel), free(drop), free(am), free(mask);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "bench")) return bench(argc > 2 ? atoi(argv[2]) : 5);
    CHECK(!conv_bn_relu_pool_fits(130, 64, 64, 3, 2)); /* a 576-tap conv is not this layer's */
    CHECK(!conv_bn_relu_pool_fits(130, 1, 64, 9, 2));  /* 81 taps */
    CHECK(conv_bn_relu_pool_fits(130, 1, 64, 3, 2));
    for (int d = 0; d < 2; d++) {
        const float rate = d ? 0.2f : 0.0f;
        check_case(4, 40, 130, 1, 64, 3, 2, rate, 0.3f); /* the reference network's block 1 */
        check_case(3, 7, 9, 1, 16, 3, 2, rate, 0.3f);
        check_case(2, 8, 10, 1, 32, 3, 3, rate, 0.3f);
        check_case(2, 9, 11, 1, 80, 3, 2, rate, 0.3f);
        check_case(1, 6, 7, 1, 48, 5, 2, rate, 0.3f);
        check_case(2, 6, 7, 2, 20, 3, 2, rate, 0.3f);
        check_case(1, 1, 1, 1, 16, 3, 2, rate, 0.3f);
        check_case(2, 12, 20, 1, 64, 3, 2, rate, 40.0f); /* input mean >> std: the statistics must not cancel */
    }
    return check_finish("layers_first_block");
}
