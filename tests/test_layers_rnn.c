/* LSTM, attention and statistics pooling: forward against a scalar double-precision reference written here from
 * the Keras formulas, backward against central finite differences of L = sum(out * w). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "layers/layers.h"

#define SER_TEST_SP_EPS 1e-5f

static unsigned rng_state = 12345;
static float frand(float scale) { /* uniform in [-scale, scale), deterministic */
    rng_state = rng_state * 1664525u + 1013904223u;
    return scale * ((float)(rng_state >> 8) / 8388608.0f - 1.0f);
}
static void fill(float *p, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) p[i] = frand(scale);
}
static double sigm(double z) { return 1.0 / (1.0 + exp(-z)); }

/* ---------------- LSTM ---------------- */
typedef struct {
    int B, T, I, U;
    float *x, *W, *R, *bias, *wout;     /* inputs, weights, loss weights on h (B,T,U) */
    float *h, *c, *gates, *scratch;
} lstm_case;

static double lstm_loss(lstm_case *k) {
    lstm_forward(k->h, k->c, k->gates, k->x, k->W, k->R, k->bias, k->B, k->T, k->I, k->U);
    double L = 0;
    for (size_t i = 0; i < (size_t)k->B * k->T * k->U; i++) L += (double)k->h[i] * k->wout[i];
    return L;
}

/* Scalar reference forward in double; returns max abs difference to k->h. */
static double lstm_reference_diff(lstm_case *k) {
    int B = k->B, T = k->T, I = k->I, U = k->U, G = 4 * U;
    double maxd = 0;
    for (int b = 0; b < B; b++) {
        double hp[64] = {0}, cp[64] = {0};
        for (int t = 0; t < T; t++) {
            double hn[64], cn[64];
            for (int u = 0; u < U; u++) {
                double z[4];
                for (int g = 0; g < 4; g++) {
                    double s = k->bias[g * U + u];
                    for (int i = 0; i < I; i++) s += (double)k->x[((size_t)b * T + t) * I + i] * k->W[(size_t)i * G + g * U + u];
                    for (int j = 0; j < U; j++) s += hp[j] * k->R[(size_t)j * G + g * U + u];
                    z[g] = s;
                }
                double ig = sigm(z[0]), fg = sigm(z[1]), gg = tanh(z[2]), og = sigm(z[3]);
                cn[u] = fg * cp[u] + ig * gg;
                hn[u] = og * tanh(cn[u]);
                double d = fabs(hn[u] - k->h[((size_t)b * T + t) * U + u]);
                if (d > maxd) maxd = d;
            }
            memcpy(hp, hn, sizeof hp);
            memcpy(cp, cn, sizeof cp);
        }
    }
    return maxd;
}

/* Normalised error ||num - ana|| / max(||num||, ||ana||, tiny) over every element of p. */
static double fd_check(double (*loss)(void *), void *ctx, float *p, size_t n, const float *ana) {
    double num2 = 0, ana2 = 0, diff2 = 0;
    for (size_t i = 0; i < n; i++) {
        const float save = p[i], eps = 1e-2f * fmaxf(1.0f, fabsf(save));
        p[i] = save + eps;
        double lp = loss(ctx);
        p[i] = save - eps;
        double lm = loss(ctx);
        p[i] = save;
        double num = (lp - lm) / (2.0 * eps);
        num2 += num * num, ana2 += (double)ana[i] * ana[i], diff2 += (num - ana[i]) * (num - ana[i]);
    }
    double denom = sqrt(fmax(fmax(num2, ana2), 1e-20));
    return sqrt(diff2) / denom;
}
static double lstm_loss_v(void *k) { return lstm_loss(k); }

static void lstm_run(int B, int T, int I, int U, int last_only) {
    lstm_case k;
    memset(&k, 0, sizeof k);
    k.B = B, k.T = T, k.I = I, k.U = U;
    size_t nx = (size_t)B * T * I, nh = (size_t)B * T * U, G = 4 * (size_t)U;
    k.x = malloc(nx * 4), k.W = malloc(I * G * 4), k.R = malloc(U * G * 4), k.bias = malloc(G * 4);
    k.wout = calloc(nh, 4), k.h = malloc(nh * 4), k.c = malloc(nh * 4), k.gates = malloc(nh * 4 * 4);
    k.scratch = malloc(lstm_scratch_size(B, T, I, U) * 4);
    fill(k.x, nx, 1.0f), fill(k.W, I * G, 0.5f), fill(k.R, U * G, 0.5f), fill(k.bias, G, 0.3f);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            if (!last_only || t == T - 1) fill(k.wout + ((size_t)b * T + t) * U, U, 1.0f);

    lstm_loss(&k);
    double ref = lstm_reference_diff(&k);
    CHECKF(ref < 2e-6, "LSTM forward vs double reference: max abs diff %.3g (B%d T%d I%d U%d)", ref, B, T, I, U);

    float *dx = malloc(nx * 4), *dW = calloc(I * G, 4), *dR = calloc(U * G, 4), *db = calloc(G, 4);
    lstm_backward(dx, dW, dR, db, k.scratch, k.wout, k.x, k.h, k.c, k.gates, k.W, k.R, B, T, I, U);
    /* accumulation: a second backward adds the same again */
    float *dW2 = malloc(I * G * 4);
    memcpy(dW2, dW, I * G * 4);
    lstm_backward(NULL, dW2, dR, db, k.scratch, k.wout, k.x, k.h, k.c, k.gates, k.W, k.R, B, T, I, U);
    double acc = 0;
    for (size_t i = 0; i < I * G; i++) acc = fmax(acc, fabs(dW2[i] - 2 * dW[i]));
    CHECKF(acc < 1e-5, "parameter gradients accumulate (+=): %.3g", acc);
    for (size_t i = 0; i < U * G; i++) dR[i] *= 0.5f;
    for (size_t i = 0; i < G; i++) db[i] *= 0.5f;

    double ex = fd_check(lstm_loss_v, &k, k.x, nx, dx);
    double eW = fd_check(lstm_loss_v, &k, k.W, I * G, dW);
    double eR = fd_check(lstm_loss_v, &k, k.R, U * G, dR);
    double eb = fd_check(lstm_loss_v, &k, k.bias, G, db);
    printf("lstm B%d T%d I%d U%d %s: fd error x %.2e kernel %.2e recurrent %.2e bias %.2e\n", B, T, I, U,
           last_only ? "last" : "seq", ex, eW, eR, eb);
    CHECK(ex < 1e-3 && eW < 1e-3 && eb < 1e-3);
    CHECK(T == 1 ? eR < 1e-3 || eR != eR : eR < 1e-3); /* T=1: R has no effect, gradient 0 */
    if (T == 1) {
        double m = 0;
        for (size_t i = 0; i < U * G; i++) m = fmax(m, fabs(dR[i]));
        CHECK(m == 0);
    }
    free(k.x), free(k.W), free(k.R), free(k.bias), free(k.wout), free(k.h), free(k.c), free(k.gates);
    free(k.scratch), free(dx), free(dW), free(dR), free(db), free(dW2);
}

/* ---------------- attention ---------------- */
typedef struct {
    int B, T, D, A;
    float *x, *W, *b, *U, *wout, *out, *u, *a;
} att_case;

static double att_loss(void *p) {
    att_case *k = p;
    attention_forward(k->out, k->u, k->a, k->x, k->W, k->b, k->U, k->B, k->T, k->D, k->A);
    double L = 0;
    for (size_t i = 0; i < (size_t)k->B * k->D; i++) L += (double)k->out[i] * k->wout[i];
    return L;
}

static void att_run(int B, int T, int D, int A) {
    att_case k;
    memset(&k, 0, sizeof k);
    k.B = B, k.T = T, k.D = D, k.A = A;
    size_t nx = (size_t)B * T * D;
    k.x = malloc(nx * 4), k.W = malloc((size_t)D * A * 4), k.b = malloc(A * 4), k.U = malloc(A * 4);
    k.wout = malloc((size_t)B * D * 4), k.out = malloc((size_t)B * D * 4), k.u = malloc((size_t)B * T * A * 4);
    k.a = malloc((size_t)B * T * 4);
    fill(k.x, nx, 1.0f), fill(k.W, (size_t)D * A, 0.6f), fill(k.b, A, 0.3f), fill(k.U, A, 1.0f);
    fill(k.wout, (size_t)B * D, 1.0f);
    att_loss(&k);
    /* reference forward in double */
    double maxd = 0, sumerr = 0;
    for (int b = 0; b < B; b++) {
        double s[16], smax = -1e300, z = 0, asum = 0;
        for (int t = 0; t < T; t++) {
            s[t] = 0;
            for (int j = 0; j < A; j++) {
                double v = k.b[j];
                for (int d = 0; d < D; d++) v += (double)k.x[((size_t)b * T + t) * D + d] * k.W[(size_t)d * A + j];
                s[t] += tanh(v) * k.U[j];
            }
            smax = fmax(smax, s[t]);
        }
        for (int t = 0; t < T; t++) z += exp(s[t] - smax);
        for (int t = 0; t < T; t++) asum += k.a[(size_t)b * T + t];
        sumerr = fmax(sumerr, fabs(asum - 1));
        for (int d = 0; d < D; d++) {
            double o = 0;
            for (int t = 0; t < T; t++) o += exp(s[t] - smax) / z * k.x[((size_t)b * T + t) * D + d];
            maxd = fmax(maxd, fabs(o - k.out[(size_t)b * D + d]));
        }
    }
    CHECKF(maxd < 2e-6 && sumerr < 1e-6, "attention forward: max diff %.3g, softmax sum err %.3g", maxd, sumerr);

    float *dx = malloc(nx * 4), *dW = calloc((size_t)D * A, 4), *db = calloc(A, 4), *dU = calloc(A, 4);
    attention_backward(dx, dW, db, dU, k.wout, k.x, k.u, k.a, k.W, k.U, B, T, D, A);
    double ex = fd_check(att_loss, &k, k.x, nx, dx);
    double eW = fd_check(att_loss, &k, k.W, (size_t)D * A, dW);
    double eb = fd_check(att_loss, &k, k.b, A, db);
    double eU = fd_check(att_loss, &k, k.U, A, dU);
    printf("attention B%d T%d D%d A%d: fd error x %.2e W %.2e b %.2e U %.2e\n", B, T, D, A, ex, eW, eb, eU);
    CHECK(ex < 1e-3 && eW < 1e-3 && eb < 1e-3 && eU < 1e-3);

    /* equal scores (U = 0) -> a = 1/T, out = mean over t */
    memset(k.U, 0, A * 4);
    att_loss(&k);
    double md = 0;
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            double m = 0;
            for (int t = 0; t < T; t++) m += k.x[((size_t)b * T + t) * D + d];
            md = fmax(md, fabs(m / T - k.out[(size_t)b * D + d]));
        }
    CHECKF(md < 1e-6, "equal scores give the mean over time: %.3g", md);
    free(k.x), free(k.W), free(k.b), free(k.U), free(k.wout), free(k.out), free(k.u), free(k.a);
    free(dx), free(dW), free(db), free(dU);
}

/* ---------------- statistics pooling ---------------- */
typedef struct {
    int B, T, U;
    float *x, *wout, *out;
} sp_case;

static double sp_loss(void *p) {
    sp_case *k = p;
    stats_pool_forward(k->out, k->x, k->B, k->T, k->U, SER_TEST_SP_EPS);
    double L = 0;
    for (size_t i = 0; i < (size_t)k->B * 2 * k->U; i++) L += (double)k->out[i] * k->wout[i];
    return L;
}

static void sp_run(int B, int T, int U) {
    sp_case k = {B, T, U, NULL, NULL, NULL};
    const size_t nx = (size_t)B * T * U, no = (size_t)B * 2 * U;
    k.x = malloc(nx * 4), k.wout = malloc(no * 4), k.out = malloc(no * 4);
    fill(k.x, nx, 1.0f), fill(k.wout, no, 1.0f);
    sp_loss(&k);
    /* reference: two-pass mean and biased variance in double */
    double maxd = 0;
    for (int b = 0; b < B; b++)
        for (int u = 0; u < U; u++) {
            double m = 0, v = 0;
            for (int t = 0; t < T; t++) m += k.x[((size_t)b * T + t) * U + u];
            m /= T;
            for (int t = 0; t < T; t++) v += pow(k.x[((size_t)b * T + t) * U + u] - m, 2);
            maxd = fmax(maxd, fabs(m - k.out[(size_t)b * 2 * U + u]));
            maxd = fmax(maxd, fabs(sqrt(v / T + SER_TEST_SP_EPS) - k.out[(size_t)b * 2 * U + U + u]));
        }
    CHECKF(maxd < 1e-6, "stats_pool forward B%d T%d U%d: max diff %.3g", B, T, U, maxd);
    /* the backward adds: start dx at a known value and take it off again */
    float *dx = malloc(nx * 4), *pre = malloc(nx * 4);
    fill(pre, nx, 0.5f);
    memcpy(dx, pre, nx * 4);
    stats_pool_backward(dx, k.wout, k.out, k.x, B, T, U);
    for (size_t i = 0; i < nx; i++) dx[i] -= pre[i];
    const double ex = fd_check(sp_loss, &k, k.x, nx, dx);
    printf("stats_pool B%d T%d U%d: forward max diff %.2e, fd error x %.2e\n", B, T, U, maxd, ex);
    CHECKF(ex < 1e-3, "stats_pool backward B%d T%d U%d: fd error %.3g", B, T, U, ex);
    /* concatenation and its inverse */
    float *cat = malloc((size_t)B * (U + 2 * U) * 4), *a2 = malloc((size_t)B * U * 4), *s2 = malloc(no * 4);
    concat_cols(cat, k.x, U, k.out, 2 * U, B);
    CHECK(cat[3 * U] == k.x[U] && cat[U] == k.out[0] && cat[3 * U - 1] == k.out[2 * U - 1]);
    split_cols(a2, U, s2, 2 * U, cat, B);
    CHECK(!memcmp(a2, k.x, (size_t)B * U * 4) && !memcmp(s2, k.out, no * 4));
    free(k.x), free(k.wout), free(k.out), free(dx), free(pre), free(cat), free(a2), free(s2);
}

int main(void) {
    lstm_run(3, 3, 7, 5, 0);  /* return_sequences=True, odd sizes */
    lstm_run(3, 3, 7, 5, 1);  /* return_sequences=False: only the last h is used */
    lstm_run(2, 1, 4, 6, 1);  /* one step, as the reference's second LSTM */
    lstm_run(4, 5, 3, 8, 0);
    att_run(3, 3, 6, 5);
    att_run(2, 4, 5, 7);
    att_run(2, 1, 3, 3); /* one step: a = 1, out = x */
    sp_run(3, 3, 5);     /* the reference's T = 3 */
    sp_run(2, 7, 4);
    sp_run(2, 1, 3);     /* one step: std = sqrt(eps), no gradient through it */
    return check_finish("test_layers_rnn");
}
