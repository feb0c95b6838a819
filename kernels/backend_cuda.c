/* The CUDA backend: the vtable of ser/backend.h over cuDNN (convolution, batch norm, LSTM),
 * cuBLAS (the dense layer) and ser's kernels (kernels/kernels.h), wired as host/model.c wires
 * the CPU layers (shapes in ser/model.h).
 *
 * MEMORY: ONE device allocation (cudaMalloc once, at create), zeroed once:
 *   params | grads | adam_m | adam_v   4 x nparams_padded floats, exactly ser/model.h's layout
 *                                      (upload/download are one memcpy each, slice offsets the
 *                                      host's; the gradient padding stays zero, so Adam keeps
 *                                      the parameter padding at zero)
 *   then, every piece 256-byte aligned, activations for max_B samples: the input x, per conv
 *   block conv out, BN out, saved mean / rstd, pool, argmax, dropout out / mask; LSTM outputs,
 *   attention out / u / a, LSTM2 last step, logits, probs, labels, the loss scalars (xent, one
 *   L2 term per block, total), the step scalars (forward's, Adam's), three gradient buffers of
 *   the largest block tensor that the backward rotates, the small backward tensors, the
 *   attention scratch and cuBLAS's workspace. cuDNN's plans/workspace and the LSTM weight
 *   spaces are owned by kernels/cudnn_*.c (made at create or in the warm-up step).
 * Host side: one pinned staging block (x, labels, probs, loss, step scalars).
 *
 * A STEP is three phases, each enqueued by one function on one stream: forward (copies in,
 * network, loss; probs and loss copied out), backward, Adam (+ LSTM weight packing). With
 * cuda.graphs, each phase of a full batch (B = max_B, training) runs eagerly once (the warm-up
 * that builds every cuDNN plan), is captured into a CUDA graph on its second call, and is
 * replayed from then on; per-step values reach the graph through device memory (the step
 * scalars) and the pinned staging (x, labels), written by the host before each launch. Other
 * batch sizes (the last partial batch, evaluation) run eagerly. A capture that fails (a library
 * call that is not capturable) falls back to eager execution with one warning line. A graph
 * whose cuDNN workspace was re-allocated since (an eager run of a new shape grew it) is
 * captured again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "cudnn_lstm.h"
#include "cudnn_ops.h"
#include "kernels.h"
#include "layers/layers.h"
#include "ser/cuda.h"

#define ARENA_ALIGN 256
#define CUBLAS_WS_BYTES ((size_t)32 << 20) /* cuBLAS's recommended workspace on Hopper (4 MiB before) */

/* Every call in this file that returns int 0 / -1 with err filled. */
#define TRY(call)                                                                                      \
    do {                                                                                               \
        if ((call) != 0) return -1;                                                                    \
    } while (0)

enum { PH_FWD, PH_BWD, PH_ADAM, PH_N };
static const char *const PHASE_NAMES[PH_N] = {"forward", "backward", "Adam"};
enum { G_COLD, G_WARM, G_READY };

/* Offsets (floats) of every slice, resolved once. */
typedef struct slices {
    size_t kernel[SER_MAX_BLOCKS], bias[SER_MAX_BLOCKS], gamma[SER_MAX_BLOCKS], beta[SER_MAX_BLOCKS];
    size_t mmean[SER_MAX_BLOCKS], mvar[SER_MAX_BLOCKS];
    size_t l1k, l1r, l1b, aW, ab, aU, l2k, l2r, l2b, dk, db;
} slices;

/* Device pointers into the arena (shapes for B = max_B). */
typedef struct dacts {
    float *x;                                        /* (B,H,W) */
    float *conv[SER_MAX_BLOCKS], *bn[SER_MAX_BLOCKS]; /* (B,H,W,F) */
    float *mean[SER_MAX_BLOCKS], *rstd[SER_MAX_BLOCKS]; /* (F) */
    float *pool[SER_MAX_BLOCKS], *drop[SER_MAX_BLOCKS]; /* (B,Ho,Wo,F) */
    int32_t *argmax[SER_MAX_BLOCKS];
    uint8_t *mask[SER_MAX_BLOCKS];
    float *h1, *att, *att_u, *att_a, *h2, *h2last, *logits, *probs; /* see ser_acts */
    int32_t *labels;
    float *xent, *terms, *loss;                      /* device scalars; terms: one per block */
    ser_step_scalars *sc_fwd, *sc_adam;
    float *g[3];                                     /* backward rotation, gmax floats each */
    float *dlogits, *dh2last, *dh2, *dx2, *dh1;
    float *att_scratch;
    void *blas_ws;
} dacts;

typedef struct cuda_impl {
    ser_model *m;
    int dev, max_B;
    cudaStream_t s;
    cublasHandle_t blas;
    ser_cudnn *dnn;
    ser_lstm *lstm1, *lstm2;
    slices o;
    void *arena;
    size_t arena_bytes;
    float *params, *grads, *adam_m, *adam_v;         /* device, ser/model.h layout */
    dacts a;
    /* pinned staging */
    void *pinned;
    float *h_x, *h_probs, *h_loss;
    int32_t *h_labels;
    ser_step_scalars *h_sc_fwd, *h_sc_adam;
    cudaEvent_t adam_copied;                         /* h_sc_adam is free again */
    /* graphs */
    int graphs;                                      /* cuda.graphs and no capture has failed */
    int gstate[PH_N];
    cudaGraphExec_t exec[PH_N];
    size_t ws_at_capture[PH_N];
    /* the last forward */
    int last_B, last_training, last_labelled;
    float one_b1, one_b2;
} cuda_impl;

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static size_t slice_off(const ser_model *m, const char *fmt, int i) {
    char name[40];
    snprintf(name, sizeof name, fmt, i);
    const ser_slice *s = ser_model_slice(m, name);
    SER_ASSERT(s != NULL);
    return s->offset;
}

static void resolve_slices(const ser_model *m, slices *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < m->blocks; i++) {
        o->kernel[i] = slice_off(m, "conv%d.kernel", i + 1);
        o->bias[i] = slice_off(m, "conv%d.bias", i + 1);
        o->gamma[i] = slice_off(m, "bn%d.gamma", i + 1);
        o->beta[i] = slice_off(m, "bn%d.beta", i + 1);
        o->mmean[i] = slice_off(m, "bn%d.moving_mean", i + 1);
        o->mvar[i] = slice_off(m, "bn%d.moving_variance", i + 1);
    }
    o->l1k = slice_off(m, "lstm1.kernel", 0);
    o->l1r = slice_off(m, "lstm1.recurrent_kernel", 0);
    o->l1b = slice_off(m, "lstm1.bias", 0);
    if (m->cfg.attention) {
        o->aW = slice_off(m, "attention.W", 0);
        o->ab = slice_off(m, "attention.b", 0);
        o->aU = slice_off(m, "attention.U", 0);
    }
    o->l2k = slice_off(m, "lstm2.kernel", 0);
    o->l2r = slice_off(m, "lstm2.recurrent_kernel", 0);
    o->l2b = slice_off(m, "lstm2.bias", 0);
    o->dk = slice_off(m, "dense.kernel", 0);
    o->db = slice_off(m, "dense.bias", 0);
}

/* Carves the arena (base NULL: only counts). Returns the bytes. */
static size_t layout_arena(const ser_model *m, dacts *a, char *base, int B) {
    size_t off = align_up(4 * m->nparams_padded * sizeof(float), ARENA_ALIGN);
#define TAKE(ptr, type, count)                                                                         \
    do {                                                                                               \
        (ptr) = base ? (type *)(void *)(base + off) : NULL;                                            \
        off += align_up((size_t)(count) * sizeof(type), ARENA_ALIGN);                                  \
    } while (0)
    const size_t b = (size_t)B;
    const int F = m->F, U = m->U, C = m->classes;
    size_t gmax = b * m->T * m->D;
    TAKE(a->x, float, b * m->H * m->W);
    for (int i = 0; i < m->blocks; i++) {
        const ser_block_shape *s = &m->blk[i];
        const size_t n = b * s->H * s->W * F, no = b * s->Ho * s->Wo * F;
        TAKE(a->conv[i], float, n);
        TAKE(a->bn[i], float, n);
        TAKE(a->mean[i], float, F);
        TAKE(a->rstd[i], float, F);
        TAKE(a->pool[i], float, no);
        TAKE(a->argmax[i], int32_t, no);
        TAKE(a->drop[i], float, no);
        TAKE(a->mask[i], uint8_t, no);
        if (n > gmax) gmax = n;
    }
    TAKE(a->h1, float, b * m->T * U);
    TAKE(a->att, float, b * U);
    TAKE(a->att_u, float, b * m->T * U);
    TAKE(a->att_a, float, b * m->T);
    TAKE(a->h2, float, b * m->T2 * U);
    TAKE(a->h2last, float, b * U);
    TAKE(a->logits, float, b * C);
    TAKE(a->probs, float, b * C);
    TAKE(a->labels, int32_t, b);
    TAKE(a->xent, float, 1);
    TAKE(a->terms, float, m->blocks);
    TAKE(a->loss, float, 1);
    TAKE(a->sc_fwd, ser_step_scalars, 1);
    TAKE(a->sc_adam, ser_step_scalars, 1);
    for (int k = 0; k < 3; k++) TAKE(a->g[k], float, gmax);
    TAKE(a->dlogits, float, b * C);
    TAKE(a->dh2last, float, b * U);
    TAKE(a->dh2, float, b * m->T2 * U);
    TAKE(a->dx2, float, b * m->T2 * U);
    TAKE(a->dh1, float, b * m->T * U);
    TAKE(a->att_scratch, float, m->cfg.attention ? ser_k_attention_scratch(B, m->T, U, U) : 1);
    TAKE(a->blas_ws, char, CUBLAS_WS_BYTES);
#undef TAKE
    return off;
}

/* ---- the three phases (enqueue only) ---------------------------------------------------------- */

/* Dense, row-major: logits (B,C) = h (B,U) @ kernel (U,C) + bias. cuBLAS is column-major: a
 * row-major (r,c) matrix is its column-major transpose, so logits^T (C,B) = kernel^T (C,U) @
 * h^T (U,B) with kernel read as the column-major (C,U) matrix it is. */
static int dense_fwd(cuda_impl *ci, int B, ser_error *err) {
    const ser_model *m = ci->m;
    const int U = m->U, C = m->classes;
    const float one = 1.0f, zero = 0.0f;
    SER_CUBLAS(cublasSgemm(ci->blas, CUBLAS_OP_N, CUBLAS_OP_N, C, B, U, &one, ci->params + ci->o.dk, C, ci->a.h2last,
                           U, &zero, ci->a.logits, C));
    SER_CU(ser_k_bias_add_rows(ci->a.logits, ci->params + ci->o.db, (size_t)B, C, ci->s));
    return 0;
}

/* dkernel (U,C) = h^T dlogits: column-major dkernel^T (C,U) = dlogits^T (C,B) @ h (B,U), h read
 * as the column-major (U,B) matrix transposed. dh (B,U) = dlogits kernel^T: column-major
 * dh^T (U,B) = kernel (U,C) @ dlogits^T (C,B), kernel read as column-major (C,U) transposed.
 * Both overwrite (beta 0). */
static int dense_bwd(cuda_impl *ci, int B, ser_error *err) {
    const ser_model *m = ci->m;
    const int U = m->U, C = m->classes;
    const float one = 1.0f, zero = 0.0f;
    SER_CUBLAS(cublasSgemm(ci->blas, CUBLAS_OP_N, CUBLAS_OP_T, C, U, B, &one, ci->a.dlogits, C, ci->a.h2last, U,
                           &zero, ci->grads + ci->o.dk, C));
    SER_CU(ser_k_bias_grad_rows(ci->grads + ci->o.db, ci->a.dlogits, (size_t)B, C, ci->s));
    SER_CUBLAS(cublasSgemm(ci->blas, CUBLAS_OP_T, CUBLAS_OP_N, U, B, C, &one, ci->params + ci->o.dk, C, ci->a.dlogits,
                           C, &zero, ci->a.dh2last, U));
    return 0;
}

static int enq_forward(cuda_impl *ci, int B, int training, int labelled, ser_error *err) {
    const ser_model *m = ci->m;
    dacts *a = &ci->a;
    const cudaStream_t s = ci->s;
    const int F = m->F, U = m->U, C = m->classes;
    const float rate = (float)m->cfg.dropout, l2 = (float)m->cfg.l2;
    const float mom = (float)m->cfg.bn_momentum, eps = (float)m->cfg.bn_epsilon;
    float *w = ci->params;
    SER_CU(cudaMemcpyAsync(a->x, ci->h_x, (size_t)B * m->H * m->W * sizeof(float), cudaMemcpyHostToDevice, s));
    if (labelled)
        SER_CU(cudaMemcpyAsync(a->labels, ci->h_labels, (size_t)B * sizeof(int32_t), cudaMemcpyHostToDevice, s));
    if (training)
        SER_CU(cudaMemcpyAsync(a->sc_fwd, ci->h_sc_fwd, sizeof(ser_step_scalars), cudaMemcpyHostToDevice, s));
    const float *in = a->x;
    for (int i = 0; i < m->blocks; i++) {
        const ser_block_shape *b = &m->blk[i];
        const int N = B * b->H * b->W;
        const size_t no = (size_t)B * b->Ho * b->Wo * F;
        const float *kernel = w + ci->o.kernel[i];
        TRY(ser_conv_fwd(ci->dnn, a->conv[i], in, kernel, B, b->H, b->W, b->Cin, F, m->K, err));
        SER_CU(ser_k_bias_add_rows(a->conv[i], w + ci->o.bias[i], (size_t)N, F, s));
        if (training)
            TRY(ser_bn_fwd_train(ci->dnn, a->bn[i], a->mean[i], a->rstd[i], w + ci->o.mmean[i], w + ci->o.mvar[i],
                                 a->conv[i], w + ci->o.gamma[i], w + ci->o.beta[i], N, F, mom, eps, err));
        else
            TRY(ser_bn_fwd_infer(ci->dnn, a->bn[i], a->conv[i], w + ci->o.gamma[i], w + ci->o.beta[i],
                                 w + ci->o.mmean[i], w + ci->o.mvar[i], N, F, eps, err));
        SER_CU(ser_k_relu_pool_fwd(a->pool[i], a->argmax[i], a->bn[i], B, b->H, b->W, F, m->P, s));
        in = a->pool[i];
        if (training && rate > 0.0f) {
            SER_CU(ser_k_dropout_fwd(a->drop[i], a->mask[i], a->pool[i], no, rate, m->seed, a->sc_fwd, (uint32_t)i, s));
            in = a->drop[i];
        }
        if (labelled) SER_CU(ser_k_l2_term(a->terms + i, kernel, (size_t)m->K * m->K * b->Cin * F, l2, s));
    }
    /* the last block's (B, Ho, Wo, F) output is the (B, T, D) sequence: no copy */
    TRY(ser_lstm_fwd(ci->lstm1, a->h1, in, B, training, err));
    const float *x2 = a->h1;
    if (m->cfg.attention) {
        SER_CU(ser_k_attention_fwd(a->att, a->att_u, a->att_a, a->h1, w + ci->o.aW, w + ci->o.ab, w + ci->o.aU, B,
                                   m->T, U, U, s));
        x2 = a->att;
    }
    TRY(ser_lstm_fwd(ci->lstm2, a->h2, x2, B, training, err));
    SER_CU(ser_k_gather_step(a->h2last, a->h2, B, m->T2, U, m->T2 - 1, s));
    TRY(dense_fwd(ci, B, err));
    SER_CU(ser_k_softmax_xent_fwd(a->probs, a->xent, a->logits, labelled ? a->labels : NULL, B, C, s));
    if (labelled) {
        SER_CU(ser_k_loss_total(a->loss, a->xent, a->terms, m->blocks, s));
        SER_CU(cudaMemcpyAsync(ci->h_loss, a->loss, sizeof(float), cudaMemcpyDeviceToHost, s));
    }
    SER_CU(cudaMemcpyAsync(ci->h_probs, a->probs, (size_t)B * C * sizeof(float), cudaMemcpyDeviceToHost, s));
    return 0;
}

/* Gradients of the last training forward (B samples). Every op overwrites its gradients
 * (kernels/kernels.h), so nothing is zeroed; ser_k_l2_grad adds to the conv weight gradient. */
static int enq_backward(cuda_impl *ci, int B, ser_error *err) {
    const ser_model *m = ci->m;
    dacts *a = &ci->a;
    const cudaStream_t s = ci->s;
    const int F = m->F, U = m->U, C = m->classes;
    const float rate = (float)m->cfg.dropout, l2 = (float)m->cfg.l2, eps = (float)m->cfg.bn_epsilon;
    const int dropped = rate > 0.0f;
    float *w = ci->params, *g = ci->grads;
    SER_CU(ser_k_softmax_xent_bwd(a->dlogits, a->probs, a->labels, B, C, s));
    TRY(dense_bwd(ci, B, err));
    /* LSTM2 returns only its last step: dh is zero elsewhere */
    SER_CU(ser_k_scatter_step(a->dh2, a->dh2last, B, m->T2, U, m->T2 - 1, s));
    const float *x2 = m->cfg.attention ? a->att : a->h1;
    float *dx2 = m->cfg.attention ? a->dx2 : a->dh1;
    TRY(ser_lstm_bwd(ci->lstm2, dx2, a->dh2, x2, a->h2, B, err));
    TRY(ser_lstm_unpack_grads(ci->lstm2, g + ci->o.l2k, g + ci->o.l2r, g + ci->o.l2b, err));
    if (m->cfg.attention)
        SER_CU(ser_k_attention_bwd(a->dh1, g + ci->o.aW, g + ci->o.ab, g + ci->o.aU, a->att_scratch, a->dx2, a->h1,
                                   a->att_u, a->att_a, w + ci->o.aW, w + ci->o.aU, B, m->T, U, U, s));
    const int last = m->blocks - 1;
    const float *seq = dropped ? a->drop[last] : a->pool[last];
    /* three buffers rotate: cur = d(block output); per block dpool, dy (BN output), dconv, din */
    int cur = 0;
    TRY(ser_lstm_bwd(ci->lstm1, a->g[cur], a->dh1, seq, a->h1, B, err));
    TRY(ser_lstm_unpack_grads(ci->lstm1, g + ci->o.l1k, g + ci->o.l1r, g + ci->o.l1b, err));
    for (int i = last; i >= 0; i--) {
        const ser_block_shape *b = &m->blk[i];
        const int N = B * b->H * b->W;
        const size_t no = (size_t)B * b->Ho * b->Wo * F;
        const int other = (cur + 1) % 3, third = (cur + 2) % 3;
        float *dpool = a->g[cur];
        if (dropped) {
            SER_CU(ser_k_dropout_bwd(a->g[other], a->g[cur], a->mask[i], no, rate, s));
            dpool = a->g[other];
        }
        float *dy = a->g[third], *dconv = a->g[cur]; /* d(block output) is consumed above */
        SER_CU(ser_k_relu_pool_bwd(dy, dpool, a->pool[i], a->argmax[i], B, b->H, b->W, F, m->P, s));
        TRY(ser_bn_bwd(ci->dnn, dconv, g + ci->o.gamma[i], g + ci->o.beta[i], dy, a->conv[i], a->mean[i], a->rstd[i],
                       w + ci->o.gamma[i], N, F, eps, err));
        SER_CU(ser_k_bias_grad_rows(g + ci->o.bias[i], dconv, (size_t)N, F, s));
        const float *in = i == 0 ? a->x : (dropped ? a->drop[i - 1] : a->pool[i - 1]);
        const float *kernel = w + ci->o.kernel[i];
        TRY(ser_conv_bwd_filter(ci->dnn, g + ci->o.kernel[i], in, dconv, B, b->H, b->W, b->Cin, F, m->K, err));
        SER_CU(ser_k_l2_grad(g + ci->o.kernel[i], kernel, (size_t)m->K * m->K * b->Cin * F, l2, s));
        if (i > 0) {
            TRY(ser_conv_bwd_data(ci->dnn, a->g[third], dconv, kernel, B, b->H, b->W, b->Cin, F, m->K, err));
            cur = third;
        }
    }
    return 0;
}

/* Keras layout -> cuDNN weight spaces: after every parameter change. */
static int enq_pack(cuda_impl *ci, ser_error *err) {
    const float *w = ci->params;
    TRY(ser_lstm_pack(ci->lstm1, w + ci->o.l1k, w + ci->o.l1r, w + ci->o.l1b, err));
    TRY(ser_lstm_pack(ci->lstm2, w + ci->o.l2k, w + ci->o.l2r, w + ci->o.l2b, err));
    return 0;
}

static int enq_adam(cuda_impl *ci, ser_backend *be, ser_error *err) {
    SER_CU(cudaMemcpyAsync(ci->a.sc_adam, ci->h_sc_adam, sizeof(ser_step_scalars), cudaMemcpyHostToDevice, ci->s));
    /* the trainable slices are one range [0, n_trainable_padded): one launch */
    SER_CU(ser_k_adam(ci->params, ci->adam_m, ci->adam_v, ci->grads, ci->m->n_trainable_padded, ci->a.sc_adam,
                      ci->one_b1, ci->one_b2, be->eps, ci->s));
    return enq_pack(ci, err);
}

/* ---- graphs ------------------------------------------------------------------------------------- */

typedef struct phase_args {
    cuda_impl *ci;
    ser_backend *be;
    int B, training, labelled;
} phase_args;

static int enq_phase(int ph, const phase_args *p, ser_error *err) {
    switch (ph) {
    case PH_FWD: return enq_forward(p->ci, p->B, p->training, p->labelled, err);
    case PH_BWD: return enq_backward(p->ci, p->B, err);
    default: return enq_adam(p->ci, p->be, err);
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
    if (ci->gstate[ph] == G_READY && ser_cudnn_workspace_bytes(ci->dnn) != ci->ws_at_capture[ph]) graph_drop(ci, ph);
    if (ci->gstate[ph] == G_COLD) {
        TRY(enq_phase(ph, p, err));
        ci->gstate[ph] = G_WARM;
        return 0;
    }
    if (ci->gstate[ph] == G_WARM) {
        const cudaError_t eb = cudaStreamBeginCapture(ci->s, cudaStreamCaptureModeThreadLocal);
        if (eb != cudaSuccess) {
            graphs_off(ci, ph, cudaGetErrorString(eb));
            return enq_phase(ph, p, err);
        }
        ser_error cerr = {{0}};
        const int rc = enq_phase(ph, p, &cerr);
        cudaGraph_t graph = NULL;
        cudaGraphExec_t exec = NULL;
        const cudaError_t e = cudaStreamEndCapture(ci->s, &graph);
        cudaError_t ei = cudaErrorUnknown;
        if (rc == 0 && e == cudaSuccess && graph) ei = cudaGraphInstantiate(&exec, graph, 0);
        if (graph) cudaGraphDestroy(graph);
        if (ei == cudaSuccess) ci->exec[ph] = exec;
        if (rc != 0 || e != cudaSuccess || ei != cudaSuccess) {
            graphs_off(ci, ph, rc != 0 ? cerr.msg : cudaGetErrorString(e != cudaSuccess ? e : ei));
            return enq_phase(ph, p, err); /* nothing ran during the capture: run it now */
        }
        ci->ws_at_capture[ph] = ser_cudnn_workspace_bytes(ci->dnn);
        ci->gstate[ph] = G_READY;
    }
    SER_CU(cudaGraphLaunch(ci->exec[ph], ci->s));
    return 0;
}

/* ---- the vtable ---------------------------------------------------------------------------------- */

/* Every entry makes the backend's device current: another part of the program (the GPU feature
 * extractor) may have switched the thread to another one since. */
#define USE_DEVICE(ci) SER_CU(cudaSetDevice((ci)->dev))

static int cu_forward(ser_backend *be, const float *x, const int32_t *labels, int B, int training, float *loss,
                      ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    ser_model *m = be->model;
    if (B < 1 || B > ci->max_B) return ser_fail(err, "cuda backend: batch of %d samples (reserved for %d)", B, ci->max_B);
    const int C = m->classes;
    if (labels)
        for (int i = 0; i < B; i++)
            if (labels[i] < 0 || labels[i] >= C)
                return ser_fail(err, "cuda backend: label %d of sample %d not in 0..%d", labels[i], i, C - 1);
    if (training && !labels) return ser_fail(err, "cuda backend: a training forward needs labels");
    /* the staging is free: the previous forward synchronised after its copies */
    memcpy(ci->h_x, x, (size_t)B * m->H * m->W * sizeof(float));
    if (labels) memcpy(ci->h_labels, labels, (size_t)B * sizeof(int32_t));
    ci->h_sc_fwd->step = m->step;
    const phase_args p = {ci, be, B, training, labels != NULL};
    TRY(run_phase(PH_FWD, &p, training && B == ci->max_B, err));
    SER_CU(cudaStreamSynchronize(ci->s));
    const float l = labels ? *ci->h_loss : 0.0f;
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
    return run_phase(PH_BWD, &p, ci->last_B == ci->max_B, err);
}

static int cu_step(ser_backend *be, float lr, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    ser_model *m = be->model;
    m->adam_t++;
    /* alpha as host/layers/adam.c forms it, in float32 on the host */
    const float t = (float)m->adam_t;
    const float b1p = powf(be->beta1, t), b2p = powf(be->beta2, t);
    const float alpha = lr * sqrtf(1.0f - b2p) / (1.0f - b1p);
    SER_CU(cudaEventSynchronize(ci->adam_copied)); /* the previous step's copy of h_sc_adam is done */
    ci->h_sc_adam->step = m->step;
    ci->h_sc_adam->adam_alpha = alpha;
    const phase_args p = {ci, be, 0, 0, 0};
    TRY(run_phase(PH_ADAM, &p, 1, err));
    SER_CU(cudaEventRecord(ci->adam_copied, ci->s));
    return 0;
}

static int cu_download_probs(ser_backend *be, float *probs, ser_error *err) {
    cuda_impl *ci = be->impl;
    (void)err;
    memcpy(probs, ci->h_probs, (size_t)ci->last_B * be->model->classes * sizeof(float));
    return 0;
}

/* Synchronous copies (pageable host memory) ordered after everything enqueued so far. */
static int copy_sync(cuda_impl *ci, void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                     ser_error *err) {
    SER_CU(cudaMemcpyAsync(dst, src, bytes, kind, ci->s));
    SER_CU(cudaStreamSynchronize(ci->s));
    return 0;
}

static int cu_upload_params(ser_backend *be, const float *params, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    SER_CU(cudaMemcpyAsync(ci->params, params, be->model->nparams_padded * sizeof(float), cudaMemcpyHostToDevice,
                           ci->s));
    TRY(enq_pack(ci, err));
    SER_CU(cudaStreamSynchronize(ci->s));
    return 0;
}

static int cu_download_params(ser_backend *be, float *params, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    return copy_sync(ci, params, ci->params, be->model->nparams_padded * sizeof(float), cudaMemcpyDeviceToHost, err);
}

static int cu_download_grads(ser_backend *be, float *grads, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    return copy_sync(ci, grads, ci->grads, be->model->nparams_padded * sizeof(float), cudaMemcpyDeviceToHost, err);
}

static int cu_upload_state(ser_backend *be, const float *params, const float *adam_m, const float *adam_v,
                           ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    const size_t bytes = be->model->nparams_padded * sizeof(float);
    SER_CU(cudaMemcpyAsync(ci->adam_m, adam_m, bytes, cudaMemcpyHostToDevice, ci->s));
    SER_CU(cudaMemcpyAsync(ci->adam_v, adam_v, bytes, cudaMemcpyHostToDevice, ci->s));
    return cu_upload_params(be, params, err);
}

static int cu_download_state(ser_backend *be, float *params, float *adam_m, float *adam_v, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    const size_t bytes = be->model->nparams_padded * sizeof(float);
    SER_CU(cudaMemcpyAsync(params, ci->params, bytes, cudaMemcpyDeviceToHost, ci->s));
    SER_CU(cudaMemcpyAsync(adam_m, ci->adam_m, bytes, cudaMemcpyDeviceToHost, ci->s));
    SER_CU(cudaMemcpyAsync(adam_v, ci->adam_v, bytes, cudaMemcpyDeviceToHost, ci->s));
    SER_CU(cudaStreamSynchronize(ci->s));
    return 0;
}

static int cu_download_act(ser_backend *be, int kind, int block, void *out, size_t n, ser_error *err) {
    cuda_impl *ci = be->impl;
    USE_DEVICE(ci);
    const dacts *a = &ci->a;
    const size_t want = ser_act_count(be->model, kind, block, ci->last_B);
    if (want == 0 || n != want)
        return ser_fail(err, "cuda backend: activation %s (block %d): %zu elements asked, %zu held",
                        kind >= 0 && kind < SER_ACT_N ? ser_act_names[kind] : "?", block, n, want);
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
        if (ci->s) cudaStreamSynchronize(ci->s);
        for (int k = 0; k < PH_N; k++)
            if (ci->exec[k]) cudaGraphExecDestroy(ci->exec[k]);
        if (ci->lstm1) ser_lstm_destroy(ci->lstm1);
        if (ci->lstm2) ser_lstm_destroy(ci->lstm2);
        if (ci->dnn) ser_cudnn_destroy(ci->dnn);
        if (ci->blas) cublasDestroy(ci->blas);
        if (ci->adam_copied) cudaEventDestroy(ci->adam_copied);
        if (ci->pinned) cudaFreeHost(ci->pinned);
        if (ci->arena) cudaFree(ci->arena);
        if (ci->s) cudaStreamDestroy(ci->s);
        free(ci);
    }
    free(be);
}

static const ser_backend_ops CUDA_OPS = {
    "cuda", cu_forward, cu_backward, cu_step, cu_download_probs, cu_upload_params, cu_download_params,
    cu_download_grads, cu_upload_state, cu_download_state, cu_download_act, cu_destroy,
};

static int cu_init(ser_backend *be, cuda_impl *ci, const ser_config *cfg, ser_error *err) {
    ser_model *m = be->model;
    int count = 0;
    SER_CU(cudaGetDeviceCount(&count));
    if (cfg->cuda.device >= count)
        return ser_fail(err, "cuda backend: cuda.device = %d, but there %s %d CUDA device%s", cfg->cuda.device,
                        count == 1 ? "is" : "are", count, count == 1 ? "" : "s");
    ci->dev = cfg->cuda.device;
    SER_CU(cudaSetDevice(ci->dev));
    struct cudaDeviceProp prop;
    SER_CU(cudaGetDeviceProperties(&prop, ci->dev));
    SER_CU(cudaStreamCreateWithFlags(&ci->s, cudaStreamNonBlocking));
    SER_CUBLAS(cublasCreate(&ci->blas));
    SER_CUBLAS(cublasSetStream(ci->blas, ci->s));
    SER_CUBLAS(cublasSetMathMode(ci->blas, cfg->cuda.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    TRY(ser_cudnn_create(&ci->dnn, ci->s, cfg->cuda.tf32, err));
    const cudnnHandle_t h = ser_cudnn_handle(ci->dnn);
    TRY(ser_lstm_create(&ci->lstm1, h, ci->max_B, m->T, m->D, m->U, cfg->cuda.tf32, err));
    TRY(ser_lstm_create(&ci->lstm2, h, ci->max_B, m->T2, m->U, m->U, cfg->cuda.tf32, err));

    ci->arena_bytes = layout_arena(m, &ci->a, NULL, ci->max_B);
    SER_CU(cudaMalloc(&ci->arena, ci->arena_bytes));
    SER_CU(cudaMemsetAsync(ci->arena, 0, ci->arena_bytes, ci->s)); /* padding and unused tails stay zero */
    layout_arena(m, &ci->a, ci->arena, ci->max_B);
    const size_t np = m->nparams_padded;
    ci->params = ci->arena;
    ci->grads = ci->params + np;
    ci->adam_m = ci->grads + np;
    ci->adam_v = ci->adam_m + np;
    SER_CUBLAS(cublasSetWorkspace(ci->blas, ci->a.blas_ws, CUBLAS_WS_BYTES));

    /* pinned staging: x | labels | probs | loss | forward scalars | Adam scalars */
    const size_t b = (size_t)ci->max_B;
    const size_t sx = align_up(b * m->H * m->W * sizeof(float), 64), sl = align_up(b * sizeof(int32_t), 64),
                 sp = align_up(b * m->classes * sizeof(float), 64), ss = align_up(sizeof(ser_step_scalars), 64);
    SER_CU(cudaMallocHost(&ci->pinned, sx + sl + sp + 64 + 2 * ss));
    char *hp = ci->pinned;
    ci->h_x = (float *)(void *)hp;
    ci->h_labels = (int32_t *)(void *)(hp + sx);
    ci->h_probs = (float *)(void *)(hp + sx + sl);
    ci->h_loss = (float *)(void *)(hp + sx + sl + sp);
    ci->h_sc_fwd = (ser_step_scalars *)(void *)(hp + sx + sl + sp + 64);
    ci->h_sc_adam = (ser_step_scalars *)(void *)(hp + sx + sl + sp + 64 + ss);
    memset(ci->pinned, 0, sx + sl + sp + 64 + 2 * ss);
    SER_CU(cudaEventCreateWithFlags(&ci->adam_copied, cudaEventDisableTiming));
    SER_CU(cudaEventRecord(ci->adam_copied, ci->s));

    ci->graphs = cfg->cuda.graphs != 0;
    ci->one_b1 = keras_one_minus(be->beta1);
    ci->one_b2 = keras_one_minus(be->beta2);
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
    ser_backend *be = ser_calloc(1, sizeof *be, "cuda backend", err);
    cuda_impl *ci = ser_calloc(1, sizeof *ci, "cuda backend", err);
    if (!be || !ci) {
        free(be), free(ci);
        return NULL;
    }
    be->ops = &CUDA_OPS;
    be->model = m;
    be->max_B = max_B;
    be->beta1 = (float)cfg->train.beta1;
    be->beta2 = (float)cfg->train.beta2;
    be->eps = (float)cfg->train.adam_epsilon;
    be->impl = ci;
    ci->m = m;
    ci->max_B = max_B;
    resolve_slices(m, &ci->o);
    if (cu_init(be, ci, cfg, err) != 0) {
        cu_destroy(be);
        return NULL;
    }
    return be;
}

size_t ser_backend_cuda_arena_bytes(const ser_backend *be) {
    return be && be->impl ? ((const cuda_impl *)be->impl)->arena_bytes : 0;
}
