// Emulated cuDNN convolution / batch norm of ser for the CPU emulation of the CUDA backend
// (run_backend.sh): the contract of kernels/cudnn_ops.h implemented over the CPU layers
// (host/model/layers/conv2d.c, batchnorm.c), enqueued on the emulated stream (so they are recorded
// into a captured graph like the rest). It replaces kernels/cudnn_conv.c, cudnn_bn.c and
// cudnn_graph.c (cuDNN's graph API is not emulated): what it checks is the BACKEND's use of
// the contract (pointers, shapes, gradients overwritten, Keras moving statistics), not cuDNN.
// The LSTM's cuDNN calls are emulated one level lower (emu_cudnn_rnn.cpp). The handle is the
// ser_cudnn context itself.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <array>
#include <set>
#include <vector>

#include "cuda_runtime.h"
#include "cudnn_ops.h"
extern "C" {
#include "layers/layers.h"
}

void emu_enqueue(cudaStream_t s, std::function<void()> fn);
void emu_need(const void *p, size_t bytes, const char *what);
int emu_capturing(void);

static void fail(const char *what) {
    fprintf(stderr, "EMU cuDNN: %s\n", what);
    abort();
}

struct ser_cudnn {
    cudaStream_t s;
    std::vector<float> col, zeros, scratch, dbias;
    std::set<std::array<int, 7>> plans; /* the shapes "planned" so far */
    size_t ws_bytes;
};

/* cuDNN builds a plan at the first call of a shape and may grow its workspace (a cudaMalloc).
 * The emulation counts EVERY new plan as a growth of 256 bytes (a stress: the backend must
 * re-capture a graph whose workspace changed), and a new plan during a stream capture fails,
 * as the real allocation would. */
static int plan(ser_cudnn *c, std::array<int, 7> key, ser_error *err) {
    if (c->plans.count(key)) return 0;
    if (emu_capturing())
        return ser_fail(err, "emu cuDNN: a plan for a new shape (op %d, %d x %d x %d x %d) during a stream capture", key[0],
                        key[1], key[2], key[3], key[4]);
    c->plans.insert(key);
    c->ws_bytes += 256;
    return 0;
}

extern "C" {
int ser_cudnn_create(ser_cudnn **out, cudaStream_t stream, int, ser_error *) {
    *out = new ser_cudnn{stream, {}, {}, {}, {}, {}, 0};
    return 0;
}
void ser_cudnn_destroy(ser_cudnn *c) { delete c; }
cudnnHandle_t ser_cudnn_handle(ser_cudnn *c) { return reinterpret_cast<cudnnHandle_t>(c); }
}
cudaStream_t emu_cudnn_stream(cudnnHandle_t h) { return reinterpret_cast<ser_cudnn *>(h)->s; }
extern "C" {
size_t ser_cudnn_workspace_bytes(const ser_cudnn *c) { return c->ws_bytes; }
void ser_cudnn_describe(const ser_cudnn *, char *buf, size_t n) {
    snprintf(buf, n, "every op: the emulation (host/model/layers/conv2d.c, batchnorm.c; no cuDNN)\n");
}

static void conv_check(const float *y, const float *x, const float *w, int B, int H, int W, int Cin, int Cout, int K) {
    if (B < 1 || H < 1 || W < 1 || Cin < 1 || Cout < 1 || K < 1 || K % 2 == 0) fail("conv shape");
    emu_need(y, sizeof(float) * B * H * W * Cout, "conv (B,H,W,Cout)");
    emu_need(x, sizeof(float) * B * H * W * Cin, "conv (B,H,W,Cin)");
    emu_need(w, sizeof(float) * K * K * Cin * Cout, "conv kernel");
}

int ser_conv_fwd(ser_cudnn *c, float *y, const float *x, const float *w, int B, int H, int W, int Cin, int Cout, int K,
                 ser_error *err) {
    if (plan(c, {0, B, H, W, Cin, Cout, K}, err)) return -1;
    conv_check(y, x, w, B, H, W, Cin, Cout, K);
    emu_enqueue(c->s, [=] {
        c->col.resize(conv2d_col_size(B, H, W, Cin, K));
        conv2d_forward(y, c->col.data(), x, w, nullptr, B, H, W, Cin, Cout, K);
    });
    return 0;
}
int ser_conv_bwd_data(ser_cudnn *c, float *dx, const float *dy, const float *w, int B, int H, int W, int Cin, int Cout,
                      int K, ser_error *err) {
    if (plan(c, {1, B, H, W, Cin, Cout, K}, err)) return -1;
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
                        int Cout, int K, ser_error *err) {
    if (plan(c, {2, B, H, W, Cin, Cout, K}, err)) return -1;
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
                     float momentum, float eps, ser_error *err) {
    if (plan(c, {3, N, C, 0, 0, 0, 0}, err)) return -1;
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
                     const float *moving_mean, const float *moving_var, int N, int C, float eps, ser_error *err) {
    if (plan(c, {4, N, C, 0, 0, 0, 0}, err)) return -1;
    bn_check(y, x, N, C);
    emu_enqueue(c->s,
                [=] { batchnorm_forward_infer(y, x, gamma, beta, moving_mean, moving_var, N, C, eps); });
    return 0;
}
int ser_bn_bwd(ser_cudnn *c, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
               const float *saved_mean, const float *saved_rstd, const float *gamma, int N, int C, float,
               ser_error *err) {
    if (plan(c, {5, N, C, 0, 0, 0, 0}, err)) return -1;
    bn_check(dx, x, N, C);
    emu_need(dy, sizeof(float) * N * C, "bn dy");
    emu_enqueue(c->s, [=] {
        memset(dgamma, 0, sizeof(float) * C); /* overwritten: the CPU layer adds */
        memset(dbeta, 0, sizeof(float) * C);
        batchnorm_backward(dx, dgamma, dbeta, dy, x, saved_mean, saved_rstd, gamma, N, C);
    });
    return 0;
}

}
