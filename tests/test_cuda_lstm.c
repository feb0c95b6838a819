/* kernels/cudnn_lstm.h on a GPU against the CPU reference host/model/layers/lstm.c: random x, Keras
 * weights and dy; forward y (training and inference), backward dx, dkernel, drecurrent_kernel,
 * dbias, at the network's shapes (LSTM1 (B, 3, 576) -> 32, LSTM2 (B, 1, 32) -> 32 and, with
 * attention off, (B, 3, 32) -> 32), with per-call batches below max_B on the same object, new
 * weights packed before every call, a second backward (gradients overwritten, not added), dx =
 * NULL, the TF32 path with its own bound, and the refusals. Every comparison prints one line:
 * max |gpu - cpu| / max |cpu| per tensor. Exits 77 without a CUDA device (tests/cuda_test.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <cudnn.h>

#include "check.h"
#include "cuda_test.h"
#include "cudnn_lstm.h"
#include "layers/layers.h"

#define DNN(call)                                                                                        \
    do {                                                                                                 \
        cudnnStatus_t e_ = (call);                                                                       \
        if (e_ != CUDNN_STATUS_SUCCESS) {                                                                \
            fprintf(stderr, "FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudnnGetErrorString(e_)); \
            exit(1);                                                                                     \
        }                                                                                                \
    } while (0)
/* A ser call that must succeed (err in scope). */
#define OK(call)                                                                                         \
    do {                                                                                                 \
        if ((call) != 0) {                                                                               \
            fprintf(stderr, "FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, err.msg);                 \
            exit(1);                                                                                     \
        }                                                                                                \
    } while (0)

static unsigned rng_state = 777;
static float frand(float scale) { /* uniform in [-scale, scale), deterministic */
    rng_state = rng_state * 1664525u + 1013904223u;
    return scale * ((float)(rng_state >> 8) / 8388608.0f - 1.0f);
}
static void fill(float *p, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) p[i] = frand(scale);
}

static cudaStream_t stream;

static float *host_alloc(size_t n) {
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "FAIL: out of host memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}
static float *dev_alloc(size_t n) {
    float *p = NULL;
    CU(cudaMalloc((void **)&p, n * sizeof(float)));
    return p;
}
/* Host -> device on the stream, finished before it returns: the host rewrites its buffers for
 * the next batch, and an asynchronous copy from pageable memory may still be reading them. */
static void up(float *d, const float *h, size_t n) {
    CU(cudaMemcpyAsync(d, h, n * sizeof(float), cudaMemcpyHostToDevice, stream));
    CU(cudaStreamSynchronize(stream));
}
static void down(float *h, const float *d, size_t n) {
    CU(cudaMemcpyAsync(h, d, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
    CU(cudaStreamSynchronize(stream));
}

/* max |gpu - ref| / max |ref| (both finite) must stay under bound. */
static void compare(const char *what, const char *tag, const float *gpu, const float *ref, size_t n, double bound) {
    double maxd = 0, maxr = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(gpu[i])) bad++;
        maxd = fmax(maxd, fabs((double)gpu[i] - ref[i]));
        maxr = fmax(maxr, fabs((double)ref[i]));
    }
    const double rel = maxd / fmax(maxr, 1e-30);
    printf("  %-32s %-18s max|ref| %.3e  max|gpu-cpu|/max|ref| %.2e\n", tag, what, maxr, rel);
    CHECKF(bad == 0 && rel <= bound && maxr > 0, "%s %s: %zu non-finite, relative error %.3e > %.1e", tag, what, bad,
           rel, bound);
}

typedef struct {
    int max_B, T, I, U, tf32;
    int nB;
    int Bs[3];
} lstm_case;

static void run_case(cudnnHandle_t h, const lstm_case *cs) {
    const int T = cs->T, I = cs->I, U = cs->U, G = 4 * U, mB = cs->max_B;
    const double bound = cs->tf32 ? 3e-2 : 1e-3;
    ser_error err = {{0}};
    ser_lstm *l = NULL;
    OK(ser_lstm_create(&l, h, mB, T, I, U, cs->tf32, &err));

    const size_t nx = (size_t)mB * T * I, ny = (size_t)mB * T * U, nK = (size_t)I * G, nR = (size_t)U * G;
    float *x = host_alloc(nx), *dy = host_alloc(ny), *K = host_alloc(nK), *R = host_alloc(nR), *b = host_alloc(G);
    float *hc = host_alloc(ny), *cc = host_alloc(ny), *gates = host_alloc(ny * 4);
    float *dx = host_alloc(nx), *dK = host_alloc(nK), *dR = host_alloc(nR), *db = host_alloc(G);
    float *scratch = host_alloc(lstm_scratch_size(mB, T, I, U));
    float *gy = host_alloc(ny), *gdx = host_alloc(nx), *gdK = host_alloc(nK), *gdR = host_alloc(nR), *gdb = host_alloc(G);
    float *d_x = dev_alloc(nx), *d_dy = dev_alloc(ny), *d_K = dev_alloc(nK), *d_R = dev_alloc(nR), *d_b = dev_alloc(G);
    float *d_y = dev_alloc(ny), *d_y2 = dev_alloc(ny), *d_dx = dev_alloc(nx);
    float *d_dK = dev_alloc(nK), *d_dR = dev_alloc(nR), *d_db = dev_alloc(G);

    for (int n = 0; n < cs->nB; n++) {
        const int B = cs->Bs[n];
        const size_t bx = (size_t)B * T * I, by = (size_t)B * T * U;
        char tag[96];
        snprintf(tag, sizeof tag, "B %2d/%2d T %d I %3d U %d%s", B, mB, T, I, U, cs->tf32 ? " tf32" : "");
        /* New weights every call (Keras-like scales, forget bias near 1): a stale pack shows. */
        fill(K, nK, 0.1f), fill(R, nR, 0.3f), fill(b, G, 0.1f);
        for (int u = 0; u < U; u++) b[U + u] += 1.0f;
        fill(x, bx, 1.0f), fill(dy, by, 1.0f);
        for (int bb = 0; bb < B; bb += 2) /* some steps unused: zero dy there, as the network does */
            memset(dy + ((size_t)bb * T) * U, 0, (size_t)U * sizeof(float));

        /* CPU reference */
        lstm_forward(hc, cc, gates, x, K, R, b, B, T, I, U);
        memset(dK, 0, nK * sizeof(float)), memset(dR, 0, nR * sizeof(float)), memset(db, 0, G * sizeof(float));
        lstm_backward(dx, dK, dR, db, scratch, dy, x, hc, cc, gates, K, R, B, T, I, U);

        /* GPU */
        up(d_x, x, bx), up(d_dy, dy, by), up(d_K, K, nK), up(d_R, R, nR), up(d_b, b, G);
        OK(ser_lstm_pack(l, d_K, d_R, d_b, &err));
        OK(ser_lstm_fwd(l, d_y2, d_x, B, 0, &err));
        down(gy, d_y2, by);
        compare("y (inference)", tag, gy, hc, by, bound);
        OK(ser_lstm_fwd(l, d_y, d_x, B, 1, &err));
        down(gy, d_y, by);
        compare("y (training)", tag, gy, hc, by, bound);
        OK(ser_lstm_bwd(l, d_dx, d_dy, d_x, d_y, B, &err));
        OK(ser_lstm_unpack_grads(l, d_dK, d_dR, d_db, &err));
        down(gdx, d_dx, bx), down(gdK, d_dK, nK), down(gdR, d_dR, nR), down(gdb, d_db, G);
        compare("dx", tag, gdx, dx, bx, bound);
        compare("dkernel", tag, gdK, dK, nK, bound);
        compare("drecurrent_kernel", tag, gdR, dR, nR, bound);
        compare("dbias", tag, gdb, db, G, bound);

        /* Again, without dx: the weight gradients must be overwritten, not accumulated. */
        OK(ser_lstm_bwd(l, NULL, d_dy, d_x, d_y, B, &err));
        OK(ser_lstm_unpack_grads(l, d_dK, d_dR, d_db, &err));
        down(gdK, d_dK, nK), down(gdR, d_dR, nR), down(gdb, d_db, G);
        compare("dkernel (2nd, dx NULL)", tag, gdK, dK, nK, bound);
        compare("drecurrent (2nd)", tag, gdR, dR, nR, bound);
        compare("dbias (2nd)", tag, gdb, db, G, bound);
    }

    /* Refusals: a batch past max_B; a backward whose batch is not the last training forward's. */
    ser_error e2 = {{0}};
    CHECK(ser_lstm_fwd(l, d_y, d_x, mB + 1, 1, &e2) == -1 && e2.msg[0]);
    printf("  refused: %s\n", e2.msg);
    if (mB > 1) {
        OK(ser_lstm_fwd(l, d_y, d_x, mB, 1, &err));
        memset(&e2, 0, sizeof e2);
        CHECK(ser_lstm_bwd(l, d_dx, d_dy, d_x, d_y, mB - 1, &e2) == -1 && e2.msg[0]);
        printf("  refused: %s\n", e2.msg);
    }
    CU(cudaStreamSynchronize(stream));

    ser_lstm_destroy(l);
    float *hostbufs[] = {x, dy, K, R, b, hc, cc, gates, dx, dK, dR, db, scratch, gy, gdx, gdK, gdR, gdb};
    for (size_t i = 0; i < sizeof hostbufs / sizeof hostbufs[0]; i++) free(hostbufs[i]);
    float *devbufs[] = {d_x, d_dy, d_K, d_R, d_b, d_y, d_y2, d_dx, d_dK, d_dR, d_db};
    for (size_t i = 0; i < sizeof devbufs / sizeof devbufs[0]; i++) CU(cudaFree(devbufs[i]));
}

int main(void) {
    char desc[256];
    cuda_test_start("test_cuda_lstm", CUDA_TEST_CUDNN, desc, sizeof desc);
    cudnnHandle_t h;
    DNN(cudnnCreate(&h));
    CU(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    DNN(cudnnSetStream(h, stream));
    printf("cuDNN %zu\n", cudnnGetVersion());

    static const lstm_case cases[] = {
        {64, 3, 576, 32, 0, 3, {64, 37, 64}}, /* LSTM1; the last batch of an epoch is smaller */
        {5, 1, 32, 32, 0, 2, {5, 2}},         /* LSTM2 after attention, small max_B */
        {64, 1, 32, 32, 0, 2, {64, 13}},      /* LSTM2 at the training batch */
        {64, 3, 32, 32, 0, 2, {64, 1}},       /* LSTM2 with attention off; B = 1 */
        {64, 3, 576, 32, 1, 1, {64, 0, 0}},   /* TF32 allowed: its own, looser bound */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        printf("case max_B %d T %d I %d U %d%s\n", cases[i].max_B, cases[i].T, cases[i].I, cases[i].U,
               cases[i].tf32 ? " (TF32)" : "");
        run_case(h, &cases[i]);
    }
    DNN(cudnnDestroy(h));
    CU(cudaStreamDestroy(stream));
    return check_finish("test_cuda_lstm");
}
