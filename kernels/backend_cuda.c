/* The CUDA backend: the vtable of ser/backend.h over cuDNN (convolution, batch norm, LSTM),
 * cuBLAS (the dense layer) and ser's kernels (kernels/kernels.h), wired as host/model/model.c wires
 * the CPU layers (shapes in ser/model.h; the wiring is kernels/backend_cuda_net.c, this file is
 * the backend object: arena, staging, graphs, vtable).
 *
 * MEMORY: ONE device allocation (cudaMalloc once, at create), zeroed once:
 *   params | grads | adam_m | adam_v   4 x nparams_padded floats, exactly ser/model.h's layout
 *                                      (upload/download are one memcpy each, slice offsets the
 *                                      host's; the gradient padding stays zero, so Adam keeps
 *                                      the parameter padding at zero)
 *   then, every piece 256-byte aligned, activations for max_B samples: the input x, per conv
 *   block conv out, BN out, saved mean / rstd, pool, argmax, dropout out / mask; LSTM outputs,
 *   attention out / u / a, LSTM2 last step, logits, probs, the targets (labels, mixup partners
 *   and weights), the loss scalars (xent, one L2 term per block, total), the step scalars
 *   (forward's, Adam's), three gradient buffers of the largest block tensor that the backward
 *   rotates, the small backward tensors, the attention scratch and cuBLAS's workspace. cuDNN's
 *   plans/workspace and the LSTM weight spaces are owned by kernels/cudnn_*.c (made at create
 *   or in the warm-up step).
 * Host side: one pinned staging block (x, targets, probs, loss, step scalars).
 *
 * A STEP is three phases, each enqueued by one function on one stream: forward (copies in,
 * network, loss; probs and loss copied out), backward, Adam (+ LSTM weight packing). With
 * cuda.graphs, each phase of a full batch (B = max_B, training) runs eagerly once (the warm-up
 * that builds every cuDNN plan), is captured into a CUDA graph on its second call, and is
 * replayed from then on; per-step values reach the graph through device memory (the step
 * scalars) and the pinned staging (x, targets), written by the host before each launch. Other
 * batch sizes (the last partial batch, evaluation) run eagerly. A capture that fails (a library
 * call that is not capturable) falls back to eager execution with one warning line. A graph
 * whose cuDNN workspace was re-allocated since (an eager run of a new shape grew it) is
 * captured again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda_net.h"
#include "cuda_versions.h"
#include "layers/adam_elem.h"
#include "layers/layers.h"
#include "ser/cuda.h"

enum { PH_FWD, PH_BWD, PH_ADAM, PH_N };

/* The backend object: the network wiring's state (net, kernels/backend_cuda_net.h) plus what only
 * the object needs: the arena and staging allocations, the graphs, the last forward. */
typedef struct cuda_impl {
    ser_cuda_net net;
    int dev;
    void *arena;
    size_t arena_bytes;
    void *pinned;                                    /* the staging block net.h_* point into */
    int32_t *h_labels2;                              /* the targets block after net.h_labels: */
    float *h_lam;                                    /* labels | labels2 | lam, max_B each */
    cudaEvent_t adam_copied;                         /* net.h_sc_adam is free again */
    /* graphs */
    int graphs;                                      /* cuda.graphs and no capture has failed */
    int gstate[PH_N];
    cudaGraphExec_t exec[PH_N];
    size_t ws_at_capture[PH_N];
    /* the last forward */
    int last_B, last_training, last_labelled;
    int bns_batches;                                 /* batches of the statistics pass (-1: none begun) */
} cuda_impl;

static const char *const PHASE_NAMES[PH_N] = {"forward", "backward", "Adam"};
enum { G_COLD, G_WARM, G_READY };

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* ---- graphs ------------------------------------------------------------------------------------- */

typedef struct phase_args {
    cuda_impl *ci;
    ser_backend *be;
    int B, training, labelled;
} phase_args;

static int enq_phase(int ph, const phase_args *p, ser_error *err) {
    switch (ph) {
    case PH_FWD: return ser_cuda_enq_forward(&p->ci->net, p->B, p->training, p->labelled, err);
    case PH_BWD: return ser_cuda_enq_backward(&p->ci->net, p->B, err);
    default: return ser_cuda_enq_adam(&p->ci->net, p->be->eps, err);
    }
}

static void graph_drop(cuda_impl *ci, int ph) {
    if (ci->exec[ph]) cudaGraphExecDestroy(ci->exec[ph]);
    ci->exec[ph] = NULL;
    ci->gstate[ph] = G_WARM; /* its shapes' plans exist: the next call captures again */
}

/* Gives up on graphs after a failed capture: one warning, then eager from now on. */
static void graphs_off(cuda_impl *ci, int ph, const char *why) {
    fprintf(stderr, "ser: cuda backend: CUDA graph capture of the %s phase failed (%s); running eagerly\n",
            PHASE_NAMES[ph], why);
    for (int k = 0; k < PH_N; k++) {
        if (ci->exec[k]) cudaGraphExecDestroy(ci->exec[k]);
        ci->exec[k] = NULL;
    }
    (void)cudaGetLastError(); /* capture errors are not sticky; clear the last one */
    ci->graphs = 0;
}

/* Runs phase ph: eagerly, or (graphable: the full-batch training step) warm-up / capture /
 * replay as the file comment says. */
static int run_phase(int ph, const phase_args *p, int graphable, ser_error *err) {
    cuda_impl *ci = p->ci;
    if (!ci->graphs || !graphable) return enq_phase(ph, p, err);
    if (ci->gstate[ph] == G_READY && ser_cudnn_workspace_bytes(ci->net.dnn) != ci->ws_at_capture[ph]) graph_drop(ci, ph);
    if (ci->gstate[ph] == G_COLD) {
        TRY(enq_phase(ph, p, err));
        ci->gstate[ph] = G_WARM;
        return 0;
    }
    if (ci->gstate[ph] == G_WARM) {
        const cudaError_t eb = cudaStreamBeginCapture(ci->net.s, cudaStreamCaptureModeThreadLocal);
        if (eb != cudaSuccess) {
            graphs_off(ci, ph, cudaGetErrorString(eb));
            return enq_phase(ph, p, err);
        }
        ser_error cerr = {{0}};
        const int rc = enq_phase(ph, p, &cerr);
        cudaGraph_t graph = NULL;
        cudaGraphExec_t exec = NULL;
        const cudaError_t e = cudaStreamEndCapture(ci->net.s, &graph);
        cudaError_t ei = cudaErrorUnknown;
        if (rc == 0 && e == cudaSuccess && graph) ei = cudaGraphInstantiate(&exec, graph, 0);
        if (graph) cudaGraphDestroy(graph);
        if (ei == cudaSuccess) ci->exec[ph] = exec;
        if (rc != 0 || e != cudaSuccess || ei != cudaSuccess) {
            graphs_off(ci, ph, rc != 0 ? cerr.msg : cudaGetErrorString(e != cudaSuccess ? e : ei));
            return enq_phase(ph, p, err); /* nothing ran during the capture: run it now */
        }
        ci->ws_at_capture[ph] = ser_cudnn_workspace_bytes(ci->net.dnn);
        ci->gstate[ph] = G_READY;
    }
    SER_CU(cudaGraphLaunch(ci->exec[ph], ci->net.s));
    return 0;
}

/* ---- the vtable ---------------------------------------------------------------------------------- */

/* Every entry makes the backend's device current: another part of the program (the GPU feature
 * extractor) may have switched the thread to another one since. */
#define USE_DEVICE(ci) SER_CU(cudaSetDevice((ci)->dev))

static int cu_forward(ser_backend *be, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training,
                      float *loss, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    ser_model *m = be->model;
    if (B < 1 || B > ci->net.max_B) return ser_fail(err, "cuda backend: batch of %d samples (reserved for %d)", B, ci->net.max_B);
    if (ser_backend_check_targets("cuda", labels, mix, B, m->classes, training, err) != 0) return -1;
    /* the staging is free: the previous forward synchronised after its copies */
    memcpy(ci->net.h_x, x, (size_t)B * m->H * m->W * sizeof(float));
    if (labels) {
        memcpy(ci->net.h_labels, labels, (size_t)B * sizeof(int32_t));
        ser_mix_targets(labels, mix, B, ci->h_labels2, ci->h_lam);
    }
    ci->net.h_sc_fwd->step = m->step;
    const phase_args p = {ci, be, B, training, labels != NULL};
    TRY(run_phase(PH_FWD, &p, training && B == ci->net.max_B, err));
    SER_CU(cudaStreamSynchronize(ci->net.s));
    const float l = labels ? *ci->net.h_loss : 0.0f;
    ci->last_B = B;
    ci->last_training = training;
    ci->last_labelled = labels != NULL;
    m->last_B = B;
    m->last_training = training;
    m->last_loss = l;
    if (training) m->step++;
    if (loss) *loss = l;
    return 0;
}

static int cu_backward(ser_backend *be, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    if (!ci->last_training) return ser_fail(err, "cuda backend: backward without a training forward");
    const phase_args p = {ci, be, ci->last_B, 1, 1};
    return run_phase(PH_BWD, &p, ci->last_B == ci->net.max_B, err);
}

static int cu_step(ser_backend *be, float lr, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    ser_model *m = be->model;
    m->adam_t++;
    /* alpha computed on the host by the CPU's own function: the same float32 bits */
    const float alpha = adam_alpha(lr, be->beta1, be->beta2, m->adam_t);
    SER_CU(cudaEventSynchronize(ci->adam_copied)); /* the previous step's copy of h_sc_adam is done */
    ci->net.h_sc_adam->step = m->step;
    ci->net.h_sc_adam->adam_alpha = alpha;
    const phase_args p = {ci, be, 0, 0, 0};
    TRY(run_phase(PH_ADAM, &p, 1, err));
    SER_CU(cudaEventRecord(ci->adam_copied, ci->net.s));
    return 0;
}

static int cu_download_probs(ser_backend *be, float *probs, ser_error *err) {
    cuda_impl *ci = be->impl;
    (void)err;
    memcpy(probs, ci->net.h_probs, (size_t)ci->last_B * be->model->classes * sizeof(float));
    return 0;
}

/* Synchronous copies (pageable host memory) ordered after everything enqueued so far. */
static int copy_sync(cuda_impl *ci, void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                     ser_error *err) {
    SER_CU(cudaMemcpyAsync(dst, src, bytes, kind, ci->net.s));
    SER_CU(cudaStreamSynchronize(ci->net.s));
    return 0;
}

static int cu_upload_params(ser_backend *be, const float *params, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    SER_CU(cudaMemcpyAsync(ci->net.params, params, be->model->nparams_padded * sizeof(float), cudaMemcpyHostToDevice,
                           ci->net.s));
    TRY(ser_cuda_enq_pack(&ci->net, err));
    SER_CU(cudaStreamSynchronize(ci->net.s));
    return 0;
}

static int cu_download_params(ser_backend *be, float *params, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    return copy_sync(ci, params, ci->net.params, be->model->nparams_padded * sizeof(float), cudaMemcpyDeviceToHost, err);
}

static int cu_download_grads(ser_backend *be, float *grads, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    return copy_sync(ci, grads, ci->net.grads, be->model->nparams_padded * sizeof(float), cudaMemcpyDeviceToHost, err);
}

static int cu_upload_state(ser_backend *be, const float *params, const float *adam_m, const float *adam_v,
                           ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    const size_t bytes = be->model->nparams_padded * sizeof(float);
    SER_CU(cudaMemcpyAsync(ci->net.adam_m, adam_m, bytes, cudaMemcpyHostToDevice, ci->net.s));
    SER_CU(cudaMemcpyAsync(ci->net.adam_v, adam_v, bytes, cudaMemcpyHostToDevice, ci->net.s));
    return cu_upload_params(be, params, err);
}

static int cu_download_state(ser_backend *be, float *params, float *adam_m, float *adam_v, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    const size_t bytes = be->model->nparams_padded * sizeof(float);
    SER_CU(cudaMemcpyAsync(params, ci->net.params, bytes, cudaMemcpyDeviceToHost, ci->net.s));
    SER_CU(cudaMemcpyAsync(adam_m, ci->net.adam_m, bytes, cudaMemcpyDeviceToHost, ci->net.s));
    SER_CU(cudaMemcpyAsync(adam_v, ci->net.adam_v, bytes, cudaMemcpyDeviceToHost, ci->net.s));
    SER_CU(cudaStreamSynchronize(ci->net.s));
    return 0;
}

static int cu_download_act(ser_backend *be, int kind, int block, void *out, size_t n, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    const dacts *a = &ci->net.a;
    if (ser_act_check(be->model, "cuda", kind, block, ci->last_B, n, err)) return -1;
    const void *src = NULL;
    size_t esize = sizeof(float);
    switch (kind) {
    case SER_ACT_CONV: src = a->conv[block]; break;
    case SER_ACT_BN_MEAN: src = a->mean[block]; break;
    case SER_ACT_BN_RSTD: src = a->rstd[block]; break;
    case SER_ACT_POOL: src = a->pool[block]; break;
    case SER_ACT_DROP: src = a->drop[block]; break;
    case SER_ACT_MASK: src = a->mask[block], esize = 1; break;
    case SER_ACT_LSTM1: src = a->h1; break;
    case SER_ACT_ATT: src = a->att; break;
    case SER_ACT_ATT_A: src = a->att_a; break;
    case SER_ACT_STATS: src = a->stats; break;
    case SER_ACT_LSTM2: src = a->h2; break;
    case SER_ACT_LOGITS: src = a->logits; break;
    case SER_ACT_PROBS: src = a->probs; break;
    default: return ser_fail(err, "cuda backend: activation kind %d", kind);
    }
    return copy_sync(ci, out, src, n * esize, cudaMemcpyDeviceToHost, err);
}

static void cu_destroy(ser_backend *be) {
    if (!be) return;
    cuda_impl *ci = be->impl;
    if (ci) {
        if (ci->net.s) {
            (void)cudaSetDevice(ci->dev);
            (void)cudaStreamSynchronize(ci->net.s);
        }
        for (int k = 0; k < PH_N; k++)
            if (ci->exec[k]) cudaGraphExecDestroy(ci->exec[k]);
        if (ci->net.lstm1) ser_lstm_destroy(ci->net.lstm1);
        if (ci->net.lstm2) ser_lstm_destroy(ci->net.lstm2);
        if (ci->net.dnn) ser_cudnn_destroy(ci->net.dnn);
        if (ci->net.blas) cublasDestroy(ci->net.blas);
        if (ci->adam_copied) cudaEventDestroy(ci->adam_copied);
        if (ci->pinned) cudaFreeHost(ci->pinned);
        if (ci->arena) cudaFree(ci->arena);
        if (ci->net.s) cudaStreamDestroy(ci->net.s);
        free(ci);
    }
    free(be);
}

/* The batch-norm statistics pass on the device: eager (no graph), one synchronisation per batch
 * (the staging is free again), no parameter transfer. */
static int cu_bn_stats_begin(ser_backend *be, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    TRY(ser_cuda_enq_bn_stats_begin(&ci->net, err));
    ci->bns_batches = 0;
    return 0;
}

static int cu_bn_stats_add(ser_backend *be, const float *x, int B, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    ser_model *m = be->model;
    if (ci->bns_batches < 0) return ser_fail(err, "cuda backend: batch-norm statistics batch without begin");
    if (B < 1 || B > ci->net.max_B) return ser_fail(err, "cuda backend: batch of %d samples (reserved for %d)", B, ci->net.max_B);
    memcpy(ci->net.h_x, x, (size_t)B * m->H * m->W * sizeof(float));
    TRY(ser_cuda_enq_bn_stats_add(&ci->net, B, err));
    SER_CU(cudaStreamSynchronize(ci->net.s));
    ci->bns_batches++;
    ci->last_B = B, ci->last_training = 0, ci->last_labelled = 0;
    m->last_B = B, m->last_training = 0, m->last_loss = 0.0f;
    return 0;
}

static int cu_bn_stats_end(ser_backend *be, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    const int batches = ci->bns_batches;
    ci->bns_batches = -1;
    if (batches < 0) return ser_fail(err, "cuda backend: batch-norm statistics end without begin");
    if (batches == 0) return ser_fail(err, "batch-norm statistics: no clips to take them from");
    TRY(ser_cuda_enq_bn_stats_end(&ci->net, err));
    SER_CU(cudaStreamSynchronize(ci->net.s));
    return 0;
}

static const ser_backend_ops CUDA_OPS = {
    "cuda", cu_forward, cu_backward, cu_step, cu_download_probs, cu_upload_params, cu_download_params,
    cu_download_grads, cu_upload_state, cu_download_state, cu_download_act, cu_destroy,
    cu_bn_stats_begin, cu_bn_stats_add, cu_bn_stats_end,
};

static int cu_init(ser_backend *be, cuda_impl *ci, const ser_config *cfg, ser_error *err) {
    ser_model *m = be->model;
    int count = 0;
    SER_CU(cudaGetDeviceCount(&count));
    if (cfg->cuda.device >= count)
        return ser_fail(err, "cuda backend: cuda.device = %d, but there %s %d CUDA device%s", cfg->cuda.device,
                        count == 1 ? "is" : "are", count, count == 1 ? "" : "s");
    ci->dev = cfg->cuda.device;
    ci->bns_batches = -1;
    SER_CU(cudaSetDevice(ci->dev));
    struct cudaDeviceProp prop;
    SER_CU(cudaGetDeviceProperties(&prop, ci->dev));
    SER_CU(cudaStreamCreateWithFlags(&ci->net.s, cudaStreamNonBlocking));
    SER_CUBLAS(cublasCreate(&ci->net.blas));
    SER_CUBLAS(cublasSetStream(ci->net.blas, ci->net.s));
    SER_CUBLAS(cublasSetMathMode(ci->net.blas, cfg->cuda.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    TRY(ser_cudnn_create(&ci->net.dnn, ci->net.s, cfg->cuda.tf32, err));
    const cudnnHandle_t h = ser_cudnn_handle(ci->net.dnn);
    TRY(ser_lstm_create(&ci->net.lstm1, h, ci->net.max_B, m->T, m->D, m->U, cfg->cuda.tf32, err));
    TRY(ser_lstm_create(&ci->net.lstm2, h, ci->net.max_B, m->T2, m->I2, m->U, cfg->cuda.tf32, err));
    /* the helpers may have initialised memory on the legacy default stream, which our
     * non-blocking stream does not wait for */
    SER_CU(cudaDeviceSynchronize());

    ci->arena_bytes = ser_cuda_layout_arena(m, &ci->net.a, NULL, ci->net.max_B);
    SER_CU(cudaMalloc(&ci->arena, ci->arena_bytes));
    SER_CU(cudaMemsetAsync(ci->arena, 0, ci->arena_bytes, ci->net.s)); /* padding and unused tails stay zero */
    ser_cuda_layout_arena(m, &ci->net.a, ci->arena, ci->net.max_B);
    const size_t np = m->nparams_padded;
    ci->net.params = ci->arena;
    ci->net.grads = ci->net.params + np;
    ci->net.adam_m = ci->net.grads + np;
    ci->net.adam_v = ci->net.adam_m + np;
    SER_CUBLAS(cublasSetWorkspace(ci->net.blas, ci->net.a.blas_ws, SER_CUDA_CUBLAS_WS_BYTES));

    /* pinned staging: x | targets | probs | loss | forward scalars | Adam scalars */
    const size_t b = (size_t)ci->net.max_B;
    const size_t sx = align_up(b * m->H * m->W * sizeof(float), 64), sl = align_up(3 * b * sizeof(int32_t), 64),
                 sp = align_up(b * m->classes * sizeof(float), 64), ss = align_up(sizeof(ser_step_scalars), 64);
    SER_CU(cudaMallocHost(&ci->pinned, sx + sl + sp + 64 + 2 * ss));
    char *hp = ci->pinned;
    ci->net.h_x = (float *)(void *)hp;
    ci->net.h_labels = (int32_t *)(void *)(hp + sx); /* labels | labels2 | lam, b each (the device's block) */
    ci->h_labels2 = ci->net.h_labels + b;
    ci->h_lam = (float *)(void *)(ci->net.h_labels + 2 * b);
    ci->net.h_probs = (float *)(void *)(hp + sx + sl);
    ci->net.h_loss = (float *)(void *)(hp + sx + sl + sp);
    ci->net.h_sc_fwd = (ser_step_scalars *)(void *)(hp + sx + sl + sp + 64);
    ci->net.h_sc_adam = (ser_step_scalars *)(void *)(hp + sx + sl + sp + 64 + ss);
    memset(ci->pinned, 0, sx + sl + sp + 64 + 2 * ss);
    SER_CU(cudaEventCreateWithFlags(&ci->adam_copied, cudaEventDisableTiming));
    SER_CU(cudaEventRecord(ci->adam_copied, ci->net.s));

    ci->graphs = cfg->cuda.graphs != 0;
    ci->net.one_b1 = keras_one_minus(be->beta1);
    ci->net.one_b2 = keras_one_minus(be->beta2);
    snprintf(be->device, sizeof be->device, "CUDA device %d: %.100s (sm_%d%d, %.1f GiB, %d SMs)%s", ci->dev, prop.name,
             prop.major, prop.minor, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0),
             prop.multiProcessorCount, cfg->cuda.tf32 ? ", TF32 allowed" : "");
    /* the model's host buffers are the initial state */
    return cu_upload_state(be, m->params, m->adam_m, m->adam_v, err);
}

ser_backend *ser_backend_cuda_create(ser_model *m, const ser_config *cfg, int max_B, ser_error *err) {
    if (max_B < 1) {
        ser_fail(err, "cuda backend: batch size %d", max_B);
        return NULL;
    }
    /* the permute before LSTM1 (host/model/layers/permute.c) has no CUDA counterpart yet: refuse
     * rather than read the conv output along the wrong axis */
    if (m->cfg.time_axis) {
        ser_fail(err, "cuda backend: model.time_axis = true is implemented on the CPU backend only (--device cpu)");
        return NULL;
    }
    /* libraries older than this build needs: one line naming which, before anything fails deep
     * inside a plan build */
    char why[512];
    if (ser_cuda_versions_ok(why, sizeof why) != 0) {
        ser_fail(err, "cuda backend: %s", why);
        return NULL;
    }
    ser_backend *be = ser_calloc(1, sizeof *be, "cuda backend", err);
    cuda_impl *ci = ser_calloc(1, sizeof *ci, "cuda backend", err);
    if (!be || !ci) {
        free(be), free(ci);
        return NULL;
    }
    ser_backend_init(be, &CUDA_OPS, m, cfg, max_B);
    be->impl = ci;
    ci->net.m = m;
    ci->net.max_B = max_B;
    ser_cuda_resolve_slices(m, &ci->net.o);
    if (cu_init(be, ci, cfg, err) != 0) {
        cu_destroy(be);
        return NULL;
    }
    return be;
}

size_t ser_backend_cuda_arena_bytes(const ser_backend *be) {
    return be && be->impl ? ((const cuda_impl *)be->impl)->arena_bytes : 0;
}

int ser_backend_cuda_describe(const ser_backend *be, char *buf, size_t n) {
    if (buf && n) buf[0] = '\0';
    if (!be || be->ops != &CUDA_OPS || !buf || !n) return 0;
    ser_cudnn_describe(((const cuda_impl *)be->impl)->net.dnn, buf, n);
    return 1;
}
