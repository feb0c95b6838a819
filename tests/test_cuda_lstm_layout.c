/* The Keras <-> cuDNN weight-space index map of kernels/cudnn_lstm_layout.h, on the CPU (no GPU
 * needed). An LSTM written from cuDNN's equations reads its weights through the layout
 * description alone (offset + row * stride + col * stride, the way cuDNN's API reference
 * defines the matrices); fed with Keras weights moved by the map, it must reproduce
 * host/model/layers/lstm.c, and its finite-difference weight-space gradients moved back by the map
 * must reproduce lstm_backward. Two layouts: PyTorch's contiguous row-major one and a scrambled
 * one (gates out of order, gaps, column-major matrices, interleaved biases) that a map with
 * baked-in assumptions would get wrong. Then the map's refusals. Named test_cuda_* because the
 * map is part of the CUDA backend's sources (built only where nvcc is); it needs no device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cudnn_lstm_layout.h"
#include "layers/layers.h"

static unsigned rng_state = 2024;
static float frand(float scale) { /* uniform in [-scale, scale), deterministic */
    rng_state = rng_state * 1664525u + 1013904223u;
    return scale * ((float)(rng_state >> 8) / 8388608.0f - 1.0f);
}
static void fill(float *p, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) p[i] = frand(scale);
}

static void *xcalloc(size_t n, size_t size) { /* zeroed; a test without memory stops */
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "FAIL: out of host memory (%zu x %zu bytes)\n", n, size);
        exit(1);
    }
    return p;
}

static void block(ser_lstm_block *b, long long off, int rows, int cols, int s1, int s2) {
    b->off = off, b->nbdims = 3;
    b->dims[0] = 1, b->dims[1] = rows, b->dims[2] = cols;
    b->strides[0] = rows * cols, b->strides[1] = s1, b->strides[2] = s2;
}

/* PyTorch's view of the weight space: W_i..W_o, R_i..R_o row-major, then b_i..b_o. */
static size_t layout_pytorch(ser_lstm_layout *L, int I, int U) {
    long long at = 0;
    for (int id = 0; id < 8; id++) {
        const int cols = id < 4 ? I : U;
        block(&L->mat[id], at, U, cols, cols, 1);
        at += (long long)U * cols;
    }
    for (int g = 0; g < 4; g++, at += U) block(&L->bias[g], at, U, 1, 1, 1);
    return (size_t)at;
}

/* Scrambled: recurrent matrices first in gate order o, c, f, i with 3-float gaps, column-major;
 * then the input matrices in order f, o, i, c row-major with a 5-float gap; then the biases
 * interleaved in pairs (stride 2). */
static size_t layout_odd(ser_lstm_layout *L, int I, int U) {
    long long at = 7;
    static const int rec_order[4] = {3, 2, 1, 0}, in_order[4] = {1, 3, 0, 2};
    for (int n = 0; n < 4; n++) {
        block(&L->mat[4 + rec_order[n]], at, U, U, 1, U);
        at += (long long)U * U + 3;
    }
    for (int n = 0; n < 4; n++) {
        block(&L->mat[in_order[n]], at, U, I, I, 1);
        at += (long long)U * I + 5;
    }
    for (int g = 0; g < 4; g++) block(&L->bias[g], at + (g / 2) * 2 * U + g % 2, U, 1, 2, 1);
    return (size_t)(at + 4 * U + 2);
}

static double at(const float *ws, const ser_lstm_block *b, int r, int c) {
    return ws[b->off + (long long)r * b->strides[1] + (long long)c * b->strides[2]];
}
static double sigm(double z) { return 1.0 / (1.0 + exp(-z)); }

/* cuDNN's LSTM equations over the weight space as L describes it (double; zero initial state):
 * z_g = W_g x_t + R_g h_{t-1} + b_g (g = i, f, c, o = linLayerID 0..3 / 4..7). y (B, T, U). */
static void cudnn_equations(double *y, const float *ws, const ser_lstm_layout *L, const float *x, int B, int T, int I,
                            int U) {
    double h[64], c[64], z[4][64];
    for (int b = 0; b < B; b++) {
        for (int u = 0; u < U; u++) h[u] = c[u] = 0.0;
        for (int t = 0; t < T; t++) {
            const float *xt = x + ((size_t)b * T + t) * I;
            for (int g = 0; g < 4; g++)
                for (int u = 0; u < U; u++) {
                    double s = at(ws, &L->bias[g], u, 0);
                    for (int k = 0; k < I; k++) s += at(ws, &L->mat[g], u, k) * xt[k];
                    for (int k = 0; k < U; k++) s += at(ws, &L->mat[4 + g], u, k) * h[k];
                    z[g][u] = s;
                }
            for (int u = 0; u < U; u++) {
                c[u] = sigm(z[1][u]) * c[u] + sigm(z[0][u]) * tanh(z[2][u]);
                h[u] = sigm(z[3][u]) * tanh(c[u]);
                y[((size_t)b * T + t) * U + u] = h[u];
            }
        }
    }
}

/* What the pack / unpack kernels do, element for element. */
static void pack(float *ws, const int32_t *map, const float *K, const float *R, const float *bias, int I, int U) {
    for (size_t j = 0; j < ser_lstm_param_count(I, U); j++) {
        int which;
        const size_t a = ser_lstm_keras_split(j, I, U, &which);
        ws[map[j]] = which == 0 ? K[a] : which == 1 ? R[a] : bias[a];
    }
}
static void unpack(float *dK, float *dR, float *db, const float *dws, const int32_t *map, int I, int U) {
    for (size_t j = 0; j < ser_lstm_param_count(I, U); j++) {
        int which;
        const size_t a = ser_lstm_keras_split(j, I, U, &which);
        (which == 0 ? dK : which == 1 ? dR : db)[a] = dws[map[j]];
    }
}

typedef size_t (*layout_fn)(ser_lstm_layout *, int, int);

/* Forward equivalence at size (B, T, I, U); returns max |cuDNN equations - lstm_forward|. Also
 * checks that packing leaves every unmapped weight-space element alone. */
static double forward_case(layout_fn make, int B, int T, int I, int U) {
    ser_lstm_layout L;
    const size_t nws = make(&L, I, U), G = 4 * (size_t)U;
    ser_error err = {{0}};
    int32_t *map = xcalloc(1, ser_lstm_param_count(I, U) * sizeof *map);
    float *ws = xcalloc(1, nws * sizeof *ws), *K = xcalloc(1, (size_t)I * G * sizeof *K), *R = xcalloc(1, (size_t)U * G * sizeof *R);
    float *bias = xcalloc(1, G * sizeof *bias), *x = xcalloc(1, (size_t)B * T * I * sizeof *x);
    float *h = xcalloc(1, (size_t)B * T * U * sizeof *h), *c = xcalloc(1, (size_t)B * T * U * sizeof *c);
    float *gates = xcalloc(1, (size_t)B * T * G * sizeof *gates);
    double *y = xcalloc(1, (size_t)B * T * U * sizeof *y);
    CHECKF(ser_lstm_param_map(map, &L, I, U, nws, &err) == 0, "%s", err.msg);
    fill(K, (size_t)I * G, 0.1f), fill(R, (size_t)U * G, 0.3f), fill(bias, G, 0.2f), fill(x, (size_t)B * T * I, 1.0f);
    for (size_t i = 0; i < nws; i++) ws[i] = 12345.0f; /* sentinel: no parameter maps here */
    pack(ws, map, K, R, bias, I, U);
    size_t untouched = 0;
    for (size_t i = 0; i < nws; i++) untouched += ws[i] == 12345.0f;
    CHECKF(untouched == nws - ser_lstm_param_count(I, U), "%zu of %zu weight-space floats untouched, expected %zu",
           untouched, nws, nws - ser_lstm_param_count(I, U));
    cudnn_equations(y, ws, &L, x, B, T, I, U);
    lstm_forward(h, c, gates, x, K, R, bias, B, T, I, U);
    double maxd = 0;
    for (size_t i = 0; i < (size_t)B * T * U; i++) maxd = fmax(maxd, fabs(y[i] - h[i]));
    free(map), free(ws), free(K), free(R), free(bias), free(x), free(h), free(c), free(gates), free(y);
    return maxd;
}

/* Gradients: weight-space gradients of L = sum(y * w) by central differences of the cuDNN
 * equations, moved to Keras layout by the map, against lstm_backward. Returns the normalised
 * error ||fd - analytic|| / ||analytic|| over all Keras parameters. */
static double gradient_case(layout_fn make, int B, int T, int I, int U) {
    ser_lstm_layout L;
    const size_t nws = make(&L, I, U), G = 4 * (size_t)U, n = ser_lstm_param_count(I, U), ny = (size_t)B * T * U;
    ser_error err = {{0}};
    int32_t *map = xcalloc(1, n * sizeof *map);
    float *ws = xcalloc(nws, sizeof *ws), *dws = xcalloc(nws, sizeof *dws);
    float *K = xcalloc(1, (size_t)I * G * sizeof *K), *R = xcalloc(1, (size_t)U * G * sizeof *R), *bias = xcalloc(1, G * sizeof *bias);
    float *dK = xcalloc((size_t)I * G, sizeof *dK), *dR = xcalloc((size_t)U * G, sizeof *dR), *db = xcalloc(G, sizeof *db);
    float *fK = xcalloc(1, (size_t)I * G * sizeof *fK), *fR = xcalloc(1, (size_t)U * G * sizeof *fR), *fb = xcalloc(1, G * sizeof *fb);
    float *x = xcalloc(1, (size_t)B * T * I * sizeof *x), *wout = xcalloc(1, ny * sizeof *wout);
    float *h = xcalloc(1, ny * sizeof *h), *c = xcalloc(1, ny * sizeof *c), *gates = xcalloc(1, (size_t)B * T * G * sizeof *gates);
    float *scratch = xcalloc(1, lstm_scratch_size(B, T, I, U) * sizeof *scratch);
    double *y = xcalloc(1, ny * sizeof *y);
    CHECKF(ser_lstm_param_map(map, &L, I, U, nws, &err) == 0, "%s", err.msg);
    fill(K, (size_t)I * G, 0.5f), fill(R, (size_t)U * G, 0.5f), fill(bias, G, 0.5f), fill(x, (size_t)B * T * I, 1.0f);
    fill(wout, ny, 1.0f);
    pack(ws, map, K, R, bias, I, U);
    for (size_t i = 0; i < nws; i++) { /* every weight-space element, mapped or not */
        const float save = ws[i], eps = 1e-2f;
        double Lp = 0, Lm = 0;
        ws[i] = save + eps;
        cudnn_equations(y, ws, &L, x, B, T, I, U);
        for (size_t k = 0; k < ny; k++) Lp += y[k] * wout[k];
        ws[i] = save - eps;
        cudnn_equations(y, ws, &L, x, B, T, I, U);
        for (size_t k = 0; k < ny; k++) Lm += y[k] * wout[k];
        ws[i] = save;
        dws[i] = (float)((Lp - Lm) / (2.0 * eps));
    }
    unpack(fK, fR, fb, dws, map, I, U);
    lstm_forward(h, c, gates, x, K, R, bias, B, T, I, U);
    lstm_backward(NULL, dK, dR, db, scratch, wout, x, h, c, gates, K, R, B, T, I, U);
    double diff2 = 0, ana2 = 0;
    const float *num[3] = {fK, fR, fb}, *ana[3] = {dK, dR, db};
    const size_t len[3] = {(size_t)I * G, (size_t)U * G, G};
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < len[p]; i++) {
            diff2 += ((double)num[p][i] - ana[p][i]) * ((double)num[p][i] - ana[p][i]);
            ana2 += (double)ana[p][i] * ana[p][i];
        }
    free(map), free(ws), free(dws), free(K), free(R), free(bias), free(dK), free(dR), free(db), free(fK), free(fR);
    free(fb), free(x), free(wout), free(h), free(c), free(gates), free(scratch), free(y);
    return sqrt(diff2 / fmax(ana2, 1e-30));
}

/* The map refuses a layout it cannot trust; err names the problem. */
static void expect_refused(const ser_lstm_layout *L, int I, int U, size_t nws, const char *what) {
    ser_error err = {{0}};
    int32_t *map = xcalloc(1, ser_lstm_param_count(I, U) * sizeof *map);
    const int rc = ser_lstm_param_map(map, L, I, U, nws, &err);
    CHECKF(rc == -1 && err.msg[0], "%s: accepted (rc %d)", what, rc);
    if (rc == -1) printf("  refused %-34s %s\n", what, err.msg);
    free(map);
}

int main(void) {
    /* Known indices, PyTorch layout, I = 3, U = 2: kernel[1][g=2 (c), u=1] is Keras j = 1*8 + 2*2 + 1
     * = 13 and cuDNN's W_c[1][1] = float 2*2*3 + 1*3 + 1 = 16; recurrent_kernel[0][g=3 (o), u=0]
     * is j = 24 + 6 = 30 -> R_o at 4*6 + 3*4 = 36; bias[g=1 (f), u=1] is j = 24 + 16 + 3 = 43 ->
     * 24 + 16 + 2 + 1 = 43. */
    {
        ser_lstm_layout L;
        const size_t nws = layout_pytorch(&L, 3, 2);
        int32_t map[48];
        ser_error err = {{0}};
        CHECK(nws == 48 && ser_lstm_param_count(3, 2) == 48);
        CHECKF(ser_lstm_param_map(map, &L, 3, 2, nws, &err) == 0, "%s", err.msg);
        CHECKF(map[13] == 16, "map[13] = %d", map[13]);
        CHECKF(map[30] == 36, "map[30] = %d", map[30]);
        CHECKF(map[43] == 43, "map[43] = %d", map[43]);
        int which;
        CHECK(ser_lstm_keras_split(13, 3, 2, &which) == 13 && which == 0);
        CHECK(ser_lstm_keras_split(30, 3, 2, &which) == 6 && which == 1);
        CHECK(ser_lstm_keras_split(43, 3, 2, &which) == 3 && which == 2);
    }

    /* Forward: the network's shapes (LSTM1 576 -> 32 over 3 steps, LSTM2 32 -> 32) and odd ones. */
    static const struct { int B, T, I, U; } fw[] = {{4, 3, 576, 32}, {3, 1, 32, 32}, {5, 3, 32, 32}, {2, 4, 7, 5}};
    static const layout_fn layouts[2] = {layout_pytorch, layout_odd};
    static const char *const lname[2] = {"pytorch", "scrambled"};
    for (int li = 0; li < 2; li++)
        for (size_t k = 0; k < sizeof fw / sizeof fw[0]; k++) {
            const double d = forward_case(layouts[li], fw[k].B, fw[k].T, fw[k].I, fw[k].U);
            printf("forward  %-9s B %d T %d I %3d U %2d: max |cuDNN equations - lstm_forward| = %.2e\n", lname[li],
                   fw[k].B, fw[k].T, fw[k].I, fw[k].U, d);
            CHECKF(d < 2e-5, "%s B %d T %d I %d U %d: %.3e", lname[li], fw[k].B, fw[k].T, fw[k].I, fw[k].U, d);
        }

    /* Gradients through the map (small sizes: one forward pair per weight-space element). */
    static const struct { int B, T, I, U; } gr[] = {{2, 3, 3, 2}, {3, 2, 5, 3}, {2, 1, 4, 3}};
    for (int li = 0; li < 2; li++)
        for (size_t k = 0; k < sizeof gr / sizeof gr[0]; k++) {
            const double e = gradient_case(layouts[li], gr[k].B, gr[k].T, gr[k].I, gr[k].U);
            printf("gradient %-9s B %d T %d I %3d U %2d: ||fd(cuDNN) - lstm_backward|| / ||lstm_backward|| = %.2e\n",
                   lname[li], gr[k].B, gr[k].T, gr[k].I, gr[k].U, e);
            CHECKF(e < 1e-3, "%s B %d T %d I %d U %d: %.3e", lname[li], gr[k].B, gr[k].T, gr[k].I, gr[k].U, e);
        }

    /* Refusals. */
    {
        const int I = 6, U = 4;
        ser_lstm_layout good, L;
        const size_t nws = layout_pytorch(&good, I, U);
        L = good, block(&L.mat[0], 0, I, U, U, 1);
        expect_refused(&L, I, U, nws, "input matrix transposed {1, I, U}");
        L = good, L.mat[5].nbdims = 2;
        expect_refused(&L, I, U, nws, "2-d recurrent matrix");
        L = good, L.bias[2].off = -1;
        expect_refused(&L, I, U, nws, "missing input bias");
        L = good, L.mat[7].off = -1;
        expect_refused(&L, I, U, nws, "missing recurrent matrix");
        L = good, L.mat[1].off = good.mat[0].off;
        expect_refused(&L, I, U, nws, "overlapping matrices");
        L = good, L.bias[3].strides[1] = 0;
        expect_refused(&L, I, U, nws, "zero bias stride");
        L = good;
        expect_refused(&L, I, U, nws - 1, "weight space one float short");
        expect_refused(&L, I, U, (size_t)INT32_MAX + 1, "weight space past int32");
    }
    return check_finish("test_cuda_lstm_layout");
}
