// CPU emulation of the CUDA runtime / cuBLAS / cuFFT subset the CUDA BACKEND uses (the training
// network, kernels/backend_cuda*.c), with recordable streams: verification harness only
// (tests/cuda_emu/README.md, run_backend.sh). emu.cpp is the smaller emulation of the GPU features.
//
// - Device memory is host memory filled with 0xff bytes (NaN) on allocation.
// - Work enqueued on a stream (copies, memsets, kernel launches, cuBLAS and cuFFT calls, the
//   emulated cuDNN ops) is DEFERRED: it runs, in enqueue order, only when the host waits for it
//   (cudaStreamSynchronize, cudaEventSynchronize up to the event's record, cudaDeviceSynchronize,
//   the synchronous cudaMemcpy / cudaMemset / cudaFree). So a host that reads results it did
//   not wait for, or rewrites staging memory an enqueued copy has yet to read, sees wrong
//   values (EMU_EAGER=1 runs each piece at once instead). While a stream is being captured,
//   work is RECORDED (closures holding the arguments by value) into the graph, and
//   cudaGraphLaunch enqueues the recording. What real capture forbids fails here too: synchronous copies,
//   stream/device synchronisation and allocation during a capture.
// - A kernel runs its body once per (block, thread); a kernel that calls __syncthreads runs its
//   block's threads as ucontext fibers switched at each barrier. Dynamic shared memory is
//   filled with NaN bytes before each block.
#include "cuda_runtime.h"
#include "cufft.h"
#include "cublas_v2.h"
#include <cblas.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fftw3.h>
#include <sanitizer/asan_interface.h>
#include <ucontext.h>
#include <deque>
#include <vector>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
void *emu_dyn_smem;

static cudaError_t last_err = cudaSuccess;
static std::vector<std::function<void()>> *capturing; /* the graph being recorded, or NULL */
static cudaStream_t capture_stream;
static size_t n_launch, n_sync_launch, n_replayed, n_captured;
static std::deque<std::function<void()>> pending; /* enqueued, not yet run */
static unsigned long long n_enq, n_done;
static const bool eager = getenv("EMU_EAGER") != nullptr;

/* Runs the enqueued work up to (not including) enqueue number upto. */
static void flush_to(unsigned long long upto) {
    while (n_done < upto && !pending.empty()) {
        std::function<void()> f = std::move(pending.front());
        pending.pop_front();
        f();
        n_done++;
    }
}
static void flush() { flush_to(n_enq); }

/* Every piece of stream work goes through here: run now, or record into the capture. */
void emu_enqueue(cudaStream_t s, std::function<void()> fn) {
    if (capturing) {
        if (s != capture_stream) {
            fprintf(stderr, "EMU: work enqueued on another stream during a capture\n");
            abort();
        }
        capturing->push_back(std::move(fn));
        return;
    }
    n_enq++;
    if (eager) {
        fn();
        n_done++;
    } else {
        pending.push_back(std::move(fn));
    }
}
int emu_capturing(void) { return capturing != nullptr; }

static void need(const void *p, size_t bytes, const char *what) {
    if (bytes && (!p || __asan_region_is_poisoned(const_cast<void *>(p), bytes))) {
        fprintf(stderr, "EMU: out of bounds: %s (%zu bytes at %p)\n", what, bytes, p);
        abort();
    }
}
void emu_need(const void *p, size_t bytes, const char *what) { need(p, bytes, what); }

/* ---- kernels ---- */
static ucontext_t sched_ctx;
static std::vector<ucontext_t> ctxs;
static std::vector<int> fstate; /* 0 running, 1 at barrier, 2 done */
static int cur, direct_mode;
static const std::function<void()> *cur_body;

static void fiber_main(void) {
    (*cur_body)();
    fstate[cur] = 2;
    swapcontext(&ctxs[cur], &sched_ctx);
}
void __syncthreads() {
    if (direct_mode) {
        fprintf(stderr, "EMU: __syncthreads in a kernel the launch rewrite did not mark as synchronising\n");
        abort();
    }
    fstate[cur] = 1;
    swapcontext(&ctxs[cur], &sched_ctx);
}
static unsigned cnt(dim3 d) { return d.x * d.y * d.z; }

static void run_kernel(dim3 g, dim3 b, size_t smem, int uses_sync, const std::function<void()> &body) {
    gridDim = g, blockDim = b;
    std::vector<char> dyn(smem + 16);
    emu_dyn_smem = dyn.data();
    const unsigned nt = cnt(b);
    std::vector<dim3> tid(nt);
    for (unsigned z = 0, i = 0; z < b.z; z++)
        for (unsigned y = 0; y < b.y; y++)
            for (unsigned x = 0; x < b.x; x++) tid[i++] = dim3(x, y, z);
    static std::vector<std::vector<char>> stacks;
    if (uses_sync) {
        n_sync_launch++;
        if (stacks.size() < nt) stacks.resize(nt);
        for (unsigned i = 0; i < nt; i++) stacks[i].resize(256 * 1024);
    }
    for (unsigned bz = 0; bz < g.z; bz++)
        for (unsigned by = 0; by < g.y; by++)
            for (unsigned bx = 0; bx < g.x; bx++) {
                blockIdx = dim3(bx, by, bz);
                memset(dyn.data(), 0xff, dyn.size()); /* shared memory: written before read */
                if (!uses_sync) {
                    direct_mode = 1;
                    for (unsigned i = 0; i < nt; i++) {
                        threadIdx = tid[i];
                        body();
                    }
                    direct_mode = 0;
                    continue;
                }
                ctxs.assign(nt, ucontext_t());
                fstate.assign(nt, 0);
                cur_body = &body;
                for (unsigned i = 0; i < nt; i++) {
                    getcontext(&ctxs[i]);
                    ctxs[i].uc_stack.ss_sp = stacks[i].data();
                    ctxs[i].uc_stack.ss_size = stacks[i].size();
                    ctxs[i].uc_link = nullptr;
                    makecontext(&ctxs[i], fiber_main, 0);
                }
                for (;;) {
                    int running = 0;
                    for (unsigned i = 0; i < nt; i++) {
                        if (fstate[i] == 2) continue;
                        fstate[i] = 0;
                        cur = (int)i;
                        threadIdx = tid[i];
                        swapcontext(&sched_ctx, &ctxs[i]);
                        running++;
                    }
                    if (!running) break;
                    int at_bar = 0, done = 0;
                    for (unsigned i = 0; i < nt; i++) at_bar += fstate[i] == 1, done += fstate[i] == 2;
                    if (at_bar && done) {
                        fprintf(stderr, "EMU: divergent barrier (%d threads at a barrier, %d exited)\n", at_bar, done);
                        abort();
                    }
                }
            }
}

/* The launch rewrite of run_backend.sh turns `k<<<g, b, smem, s>>>(args);` into
 * emu_launch3(g, b, smem, sync, [=] { k(args); }) - the arguments are captured by value, as
 * CUDA captures them at launch (a graph replays the launch-time values). The stream is not
 * passed: the backend uses one stream, and emu_enqueue checks a capture sees only that one. */
void emu_launch3(dim3 g, dim3 b, size_t smem, int uses_sync, std::function<void()> body) {
    n_launch++;
    if (cnt(b) < 1 || cnt(b) > 1024 || cnt(g) < 1 || g.y > 65535 || g.z > 65535 || smem > 48 * 1024) {
        fprintf(stderr, "EMU: bad launch config grid %u,%u,%u block %u,%u,%u smem %zu\n", g.x, g.y, g.z, b.x, b.y, b.z,
                smem);
        last_err = cudaErrorInvalidConfiguration;
        return;
    }
    emu_enqueue(capture_stream, [=] { run_kernel(g, b, smem, uses_sync, body); });
}
/* the features' launches (emu.cpp's interface) run at once */
void emu_launch(unsigned grid, unsigned block, const std::function<void()> &fn) {
    run_kernel(dim3(grid), dim3(block), 0, 0, fn);
}
void emu_launch_sync(unsigned grid, unsigned block, const std::function<void()> &fn) {
    run_kernel(dim3(grid), dim3(block), 0, 1, fn);
}

struct emu_graph {
    std::vector<std::function<void()>> ops;
};

extern "C" {
void emu_report(void) {
    fprintf(stderr, "EMU: %zu kernel launches (%zu with __syncthreads), %zu graphs captured, %zu replays\n", n_launch,
            n_sync_launch, n_captured, n_replayed);
}
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidConfiguration: return "emu: invalid launch configuration";
    case cudaErrorStreamCaptureUnsupported: return "emu: operation not permitted when stream is capturing";
    default: return "emu error";
    }
}
cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_err;
    last_err = cudaSuccess;
    return e;
}
cudaError_t cudaGetDeviceCount(int *n) {
    *n = getenv("EMU_NODEV") ? 0 : 1;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p);
    strcpy(p->name, "EMU (CPU emulation)");
    p->major = 9;
    p->totalGlobalMem = 80ull << 30;
    p->multiProcessorCount = 132;
    return cudaSuccess;
}
#define NOT_IN_CAPTURE(what)                                                                           \
    do {                                                                                               \
        if (capturing) {                                                                               \
            fprintf(stderr, "EMU: %s during a stream capture (invalidates it)\n", what);              \
            return last_err = cudaErrorStreamCaptureUnsupported;                                       \
        }                                                                                              \
    } while (0)
cudaError_t cudaDeviceSynchronize(void) {
    NOT_IN_CAPTURE("cudaDeviceSynchronize");
    flush();
    return cudaSuccess;
}
cudaError_t cudaMalloc(void **p, size_t n) {
    NOT_IN_CAPTURE("cudaMalloc");
    *p = malloc(n ? n : 1);
    if (!*p) return cudaErrorMemoryAllocation;
    memset(*p, 0xff, n);
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    NOT_IN_CAPTURE("cudaFree");
    flush();
    free(p);
    return cudaSuccess;
}
cudaError_t cudaHostAlloc(void **p, size_t n, unsigned) { return cudaMalloc(p, n); }
cudaError_t cudaMallocHost(void **p, size_t n) { return cudaMalloc(p, n); }
cudaError_t cudaFreeHost(void *p) { return cudaFree(p); } /* synchronises, as cudaFree */
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind) {
    NOT_IN_CAPTURE("cudaMemcpy");
    flush();
    need(d, n, "memcpy dst");
    need(s, n, "memcpy src");
    memcpy(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *d, int v, size_t n) {
    NOT_IN_CAPTURE("cudaMemset");
    flush();
    need(d, n, "memset");
    memset(d, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind, cudaStream_t st) {
    need(d, n, "memcpy dst");
    need(s, n, "memcpy src");
    emu_enqueue(st, [=] { memcpy(d, s, n); });
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t st) {
    need(d, n, "memset");
    emu_enqueue(st, [=] { memset(d, v, n); });
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) {
    *s = (cudaStream_t)malloc(8);
    if (!capture_stream) capture_stream = *s; /* the first stream: the one launches go to */
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    flush();
    if (s == capture_stream) capture_stream = nullptr;
    free(s);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
    NOT_IN_CAPTURE("cudaStreamSynchronize");
    flush();
    return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
struct emu_event {
    unsigned long long pos; /* the enqueue count when it was recorded */
};
cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = new emu_event{0};
    return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { return cudaEventCreate(e); }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
    if (capturing) return cudaErrorStreamCaptureUnsupported; /* ser records none inside a capture */
    e->pos = n_enq;
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    NOT_IN_CAPTURE("cudaEventSynchronize");
    flush_to(e->pos);
    return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t, cudaEvent_t b) {
    if (b->pos > n_done) return cudaErrorNotReady; /* the end event has not completed */
    *ms = 1;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode) {
    if (capturing) return cudaErrorStreamCaptureUnsupported;
    if (getenv("EMU_NO_CAPTURE")) return cudaErrorStreamCaptureUnsupported; /* exercise the eager fallback */
    capture_stream = s;
    capturing = new std::vector<std::function<void()>>();
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g) {
    if (!capturing || s != capture_stream) return cudaErrorInvalidValue;
    *g = new emu_graph{std::move(*capturing)};
    n_captured++;
    delete capturing;
    capturing = nullptr;
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g, unsigned long long) {
    *e = new emu_graph{g->ops};
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) {
    if (capturing) return cudaErrorStreamCaptureUnsupported;
    n_replayed++;
    for (auto &op : e->ops) emu_enqueue(s, op);
    return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
    delete g;
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
    delete e;
    return cudaSuccess;
}

/* ---- cuFFT (the GPU features, linked into the same program) ---- */
struct plan {
    long long n, idist, odist, batch;
    cudaStream_t s;
};
static std::vector<plan> plans;
cufftResult cufftCreate(cufftHandle *p) {
    plans.push_back({});
    *p = (int)plans.size() - 1;
    return CUFFT_SUCCESS;
}
cufftResult cufftMakePlanMany64(cufftHandle h, int rank, long long *n, long long *, long long istride, long long idist,
                                long long *, long long ostride, long long odist, cufftType type, long long batch,
                                size_t *work) {
    if (rank != 1 || istride != 1 || ostride != 1 || type != CUFFT_R2C) return CUFFT_INVALID_VALUE;
    plans[h] = {n[0], idist, odist, batch, nullptr};
    *work = 0;
    return CUFFT_SUCCESS;
}
cufftResult cufftSetStream(cufftHandle h, cudaStream_t s) {
    plans[h].s = s;
    return CUFFT_SUCCESS;
}
cufftResult cufftExecR2C(cufftHandle h, cufftReal *in, cufftComplex *out) {
    const plan p = plans[h];
    need(in, sizeof(float) * p.batch * p.idist, "fft in");
    need(out, sizeof(cufftComplex) * p.batch * p.odist, "fft out");
    emu_enqueue(p.s, [=] {
        int n = (int)p.n;
        fftwf_plan fp = fftwf_plan_many_dft_r2c(1, &n, (int)p.batch, in, nullptr, 1, (int)p.idist,
                                                (fftwf_complex *)out, nullptr, 1, (int)p.odist, FFTW_ESTIMATE);
        fftwf_execute(fp);
        fftwf_destroy_plan(fp);
    });
    return CUFFT_SUCCESS;
}
cufftResult cufftDestroy(cufftHandle) {
    flush();
    return CUFFT_SUCCESS;
}

/* ---- cuBLAS ---- */
struct emu_blas {
    cudaStream_t s;
    void *ws;
    size_t ws_bytes;
};
const char *cublasGetStatusString(cublasStatus_t s) { return s ? "emu blas error" : "ok"; }
cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = new emu_blas{nullptr, nullptr, 0};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
    h->s = s;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void *ws, size_t bytes) {
    need(ws, bytes, "cublas workspace");
    h->ws = ws, h->ws_bytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    // column-major extents of the stored matrices
    const long ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    const long br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (m < 1 || n < 1 || k < 1 || lda < ar || ldb < br || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
    need(A, sizeof(float) * ((ac - 1) * lda + ar), "gemm A");
    need(B, sizeof(float) * ((bc - 1) * ldb + br), "gemm B");
    need(C, sizeof(float) * ((long)(n - 1) * ldc + m), "gemm C");
    const float al = *alpha, be = *beta; /* host pointer mode: read at the call, as cuBLAS does */
    emu_enqueue(h->s, [=] {
        cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                    tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, al, A, lda, B, ldb, be, C, ldc);
    });
    return CUBLAS_STATUS_SUCCESS;
}
}

/* one line at exit: how much ran (and that graphs were replayed) */
static struct emu_at_exit {
    ~emu_at_exit() {
        if (n_launch) emu_report();
    }
} emu_at_exit_;
