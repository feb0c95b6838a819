// Emulated cuDNN layer of ser for the CPU emulation of the CUDA backend (run_backend.sh): the
// contracts of kernels/cudnn_ops.h and kernels/cudnn_lstm.h implemented over the CPU layers
// (host/layers/conv2d.c, batchnorm.c, lstm.c), enqueued on the emulated stream (so they are
// recorded into a captured graph like the rest). It replaces kernels/cudnn_conv.c, cudnn_bn.c,
// cudnn_graph.c and cudnn_lstm.c (+ the pack kernels): what it checks is the BACKEND's use of
// those contracts (pointers, shapes, gradients overwritten, Keras moving statistics, pack after
// every parameter change, backward after a training forward of the same tensors), not cuDNN.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda_runtime.h"
#include "cudnn_lstm.h"
#include "cudnn_ops.h"
extern "C" {
#include "layers/layers.h"
}

void emu_enqueue(cudaStream_t s, std::function<void()> fn);
void emu_need(const void *p, size_t bytes, const char *what);

static void fail(const char *what) {
    fprintf(stderr, "EMU cuDNN: %s\n", what);
    abort();
}
static std::vector<float> nan_vec(size_t n) { return std::vector<float>(n, NAN); }

struct ser_cudnn {
    cudaStream_t s;
    std::vector<float> col, zeros, scratch, dbias;
};
struct emu_cudnn {
    ser_cudnn *c;
};

extern "C" {
int ser_cudnn_create(ser_cudnn **out, cudaStream_t stream, int, ser_error *) {
    *out = new ser_cudnn{stream, {}, {}, {}, {}};
    return 0;
}
void ser_cudnn_destroy(ser_cudnn *c) { delete c; }
cudnnHandle_t ser_cudnn_handle(ser_cudnn *c) { return reinterpret_cast<cudnnHandle_t>(c); }
size_t ser_cudnn_workspace_bytes(const ser_cudnn *) { return 0; }

static void conv_check(const float *y, const float *x, const float *w, int B, int H, int W, int Cin, int Cout, int K) {
    if (B < 1 || H < 1 || W < 1 || Cin < 1 || Cout < 1 || K < 1 || K % 2 == 0) fail("conv shape");
    emu_need(y, sizeof(float) * B * H * W * Cout, "conv (B,H,W,Cout)");
    emu_need(x, sizeof(float) * B * H * W * Cin, "conv (B,H,W,Cin)");
    emu_need(w, sizeof(float) * K * K * Cin * Cout, "conv kernel");
}

int ser_conv_fwd(ser_cudnn *c, float *y, const float *x, const float *w, int B, int H, int W, int Cin, int Cout, int K,
                 ser_error *) {
    conv_check(y, x, w, B, H, W, Cin, Cout, K);
    emu_enqueue(c->s, [=] {
        c->col.resize(conv2d_col_size(B, H, W, Cin, K));
        conv2d_forward(y, c->col.data(), x, w, nullptr, B, H, W, Cin, Cout, K);
    });
    return 0;
}
int ser_conv_bwd_data(ser_cudnn *c, float *dx, const float *dy, const float *w, int B, int H, int W, int Cin, int Cout,
                      int K, ser_error *) {
    conv_check(dy, dx, w, B, H, W, Cin, Cout, K);
    emu_enqueue(c->s, [=] {
        /* the CPU layer computes the kernel gradient too: of a zero input, into scratch */
        c->col.resize(conv2d_col_size(B, H, W, Cin, K));
        c->zeros.assign((size_t)B * H * W * Cin, 0.0f);
        c->scratch.assign((size_t)K * K * Cin * Cout, 0.0f);
        conv2d_backward(dx, c->scratch.data(), nullptr, c->col.data(), dy, c->zeros.data(), w, B, H, W, Cin, Cout, K);
    });
    return 0;
}
int ser_conv_bwd_filter(ser_cudnn *c, float *dw, const float *x, const float *dy, int B, int H, int W, int Cin,
                        int Cout, int K, ser_error *) {
    conv_check(dy, x, dw, B, H, W, Cin, Cout, K);
    emu_enqueue(c->s, [=] {
        c->col.resize(conv2d_col_size(B, H, W, Cin, K));
        memset(dw, 0, sizeof(float) * K * K * Cin * Cout); /* overwritten: the CPU layer adds */
        conv2d_backward(nullptr, dw, nullptr, c->col.data(), dy, x, dw, B, H, W, Cin, Cout, K);
    });
    return 0;
}
static void bn_check(const float *y, const float *x, int N, int C) {
    if (N < 1 || C < 1) fail("bn shape");
    emu_need(y, sizeof(float) * N * C, "bn y");
    emu_need(x, sizeof(float) * N * C, "bn x");
}
int ser_bn_fwd_train(ser_cudnn *c, float *y, float *saved_mean, float *saved_rstd, float *moving_mean,
                     float *moving_var, const float *x, const float *gamma, const float *beta, int N, int C,
                     float momentum, float eps, ser_error *) {
    bn_check(y, x, N, C);
    for (const float *p : {(const float *)saved_mean, (const float *)saved_rstd, (const float *)moving_mean,
                           (const float *)moving_var, gamma, beta})
        emu_need(p, sizeof(float) * C, "bn (C) vector");
    emu_enqueue(c->s, [=] {
        batchnorm_forward_train(y, saved_mean, saved_rstd, moving_mean, moving_var, x, gamma, beta, N, C, momentum, eps);
    });
    return 0;
}
int ser_bn_fwd_infer(ser_cudnn *c, float *y, const float *x, const float *gamma, const float *beta,
                     const float *moving_mean, const float *moving_var, int N, int C, float eps, ser_error *) {
    bn_check(y, x, N, C);
    emu_enqueue(c->s,
                [=] { batchnorm_forward_infer(y, x, gamma, beta, moving_mean, moving_var, N, C, eps); });
    return 0;
}
int ser_bn_bwd(ser_cudnn *c, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
               const float *saved_mean, const float *saved_rstd, const float *gamma, int N, int C, float,
               ser_error *) {
    bn_check(dx, x, N, C);
    emu_need(dy, sizeof(float) * N * C, "bn dy");
    emu_enqueue(c->s, [=] {
        memset(dgamma, 0, sizeof(float) * C); /* overwritten: the CPU layer adds */
        memset(dbeta, 0, sizeof(float) * C);
        batchnorm_backward(dx, dgamma, dbeta, dy, x, saved_mean, saved_rstd, gamma, N, C);
    });
    return 0;
}

/* ---- LSTM: the weight space is a private copy of the Keras weights, refreshed by pack ---- */
struct ser_lstm {
    ser_cudnn *c;
    int max_B, T, I, U;
    std::vector<float> k, r, b, cell, gates, dk, dr, db, scratch;
    /* the last training forward: backward must be of it (cuDNN's reserve space) */
    int fwd_B = 0;
    const float *fwd_x = nullptr, *fwd_y = nullptr;
    int bwd_done = 0;
};

int ser_lstm_create(ser_lstm **out, cudnnHandle_t h, int max_B, int T, int I, int U, int, ser_error *) {
    ser_lstm *l = new ser_lstm;
    const size_t G = 4 * (size_t)U;
    l->c = reinterpret_cast<ser_cudnn *>(h);
    l->max_B = max_B, l->T = T, l->I = I, l->U = U;
    l->k = nan_vec((size_t)I * G), l->r = nan_vec((size_t)U * G), l->b = nan_vec(G);
    l->cell = nan_vec((size_t)max_B * T * U), l->gates = nan_vec((size_t)max_B * T * G);
    l->dk = nan_vec((size_t)I * G), l->dr = nan_vec((size_t)U * G), l->db = nan_vec(G);
    l->scratch = nan_vec(lstm_scratch_size(max_B, T, I, U));
    *out = l;
    return 0;
}
void ser_lstm_destroy(ser_lstm *l) { delete l; }

int ser_lstm_pack(ser_lstm *l, const float *kernel, const float *recurrent_kernel, const float *bias, ser_error *) {
    const size_t G = 4 * (size_t)l->U;
    emu_need(kernel, sizeof(float) * l->I * G, "lstm kernel");
    emu_need(recurrent_kernel, sizeof(float) * l->U * G, "lstm recurrent kernel");
    emu_need(bias, sizeof(float) * G, "lstm bias");
    emu_enqueue(l->c->s, [=] {
        memcpy(l->k.data(), kernel, l->k.size() * sizeof(float));
        memcpy(l->r.data(), recurrent_kernel, l->r.size() * sizeof(float));
        memcpy(l->b.data(), bias, l->b.size() * sizeof(float));
    });
    return 0;
}
int ser_lstm_fwd(ser_lstm *l, float *y, const float *x, int B, int training, ser_error *) {
    if (B < 1 || B > l->max_B) fail("lstm fwd: batch outside 1..max_B");
    emu_need(y, sizeof(float) * B * l->T * l->U, "lstm y");
    emu_need(x, sizeof(float) * B * l->T * l->I, "lstm x");
    emu_enqueue(l->c->s, [=] {
        lstm_forward(y, l->cell.data(), l->gates.data(), x, l->k.data(), l->r.data(), l->b.data(), B, l->T, l->I, l->U);
        if (training) l->fwd_B = B, l->fwd_x = x, l->fwd_y = y, l->bwd_done = 0;
        else l->fwd_B = 0; /* an inference forward overwrites what a backward would need */
    });
    return 0;
}
int ser_lstm_bwd(ser_lstm *l, float *dx, const float *dy, const float *x, const float *y, int B, ser_error *) {
    emu_need(dy, sizeof(float) * B * l->T * l->U, "lstm dy");
    if (dx) emu_need(dx, sizeof(float) * B * l->T * l->I, "lstm dx");
    emu_enqueue(l->c->s, [=] {
        if (l->fwd_B != B || l->fwd_x != x || l->fwd_y != y)
            fail("lstm bwd is not of the last training forward (batch, x or y differ)");
        std::fill(l->dk.begin(), l->dk.end(), 0.0f);
        std::fill(l->dr.begin(), l->dr.end(), 0.0f);
        std::fill(l->db.begin(), l->db.end(), 0.0f);
        lstm_backward(dx, l->dk.data(), l->dr.data(), l->db.data(), l->scratch.data(), dy, x, y, l->cell.data(),
                      l->gates.data(), l->k.data(), l->r.data(), B, l->T, l->I, l->U);
        l->bwd_done = 1;
    });
    return 0;
}
int ser_lstm_unpack_grads(ser_lstm *l, float *dkernel, float *drecurrent_kernel, float *dbias, ser_error *) {
    const size_t G = 4 * (size_t)l->U;
    emu_need(dkernel, sizeof(float) * l->I * G, "lstm dkernel");
    emu_need(drecurrent_kernel, sizeof(float) * l->U * G, "lstm drecurrent kernel");
    emu_need(dbias, sizeof(float) * G, "lstm dbias");
    emu_enqueue(l->c->s, [=] {
        if (!l->bwd_done) fail("lstm unpack_grads before a backward");
        memcpy(dkernel, l->dk.data(), l->dk.size() * sizeof(float));
        memcpy(drecurrent_kernel, l->dr.data(), l->dr.size() * sizeof(float));
        memcpy(dbias, l->db.data(), l->db.size() * sizeof(float));
    });
    return 0;
}
}
