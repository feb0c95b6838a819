/* The CUDA backend's network wiring (kernels/backend_cuda_net.c): the three phases of a step,
 * enqueued on one stream, over ser_cuda_net - the device buffers, handles and staging the wiring
 * reads and writes. The backend object (kernels/backend_cuda.c: arena, staging, CUDA graphs, the
 * vtable) owns a ser_cuda_net, fills it at create and calls the phases; the wiring knows nothing
 * of the backend object, so the dependency goes one way. Not a public header. */
#ifndef SER_BACKEND_CUDA_NET_H
#define SER_BACKEND_CUDA_NET_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_check.h"
#include "cudnn_lstm.h"
#include "cudnn_ops.h"
#include "kernels.h"
#include "ser/backend.h"

#define SER_CUDA_ARENA_ALIGN 256
#define SER_CUDA_CUBLAS_WS_BYTES ((size_t)32 << 20) /* cuBLAS's recommended workspace on Hopper (4 MiB before) */

/* Every call in the backend that returns int 0 / -1 with err filled. */
#define TRY(call)                                                                                      \
    do {                                                                                               \
        if ((call) != 0) return -1;                                                                    \
    } while (0)

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
    float *stats, *x2cat;                            /* (B,2U), (B,3U): model.stats_pool */
    int32_t *labels, *labels2;                       /* (B) each: the targets block, one copy in */
    float *lam;                                      /* (B) (mixup; 1 and labels2 = labels without) */
    float *xent, *terms, *loss;                      /* device scalars; terms: one per block */
    ser_step_scalars *sc_fwd, *sc_adam;
    float *g[3];                                     /* backward rotation, gmax floats each */
    float *dlogits, *dh2last, *dh2, *dx2, *dh1;      /* dx2 (B,T2,I2) */
    float *datt, *dstats;                            /* (B,U), (B,2U): dx2 split (model.stats_pool) */
    float *att_scratch;
    double *bg_partials;                             /* ser_k_bias_grad_rows's chunk sums */
    double *bns_acc;                                 /* (blocks, 3, F) the batch-norm statistics pass's sums */
    double *bns_partials;                            /* ser_k_bn_stats_add's chunk sums */
    float *bns_mean, *bns_var;                       /* (F) the pass's batch statistics of one block */
    void *blas_ws;
} dacts;

/* What the wiring works on; every pointer is set by the backend object at create. */
typedef struct ser_cuda_net {
    ser_model *m;
    int max_B;
    cudaStream_t s;
    cublasHandle_t blas;
    ser_cudnn *dnn;
    ser_lstm *lstm1, *lstm2;
    slices o;
    float *params, *grads, *adam_m, *adam_v;         /* device, ser/model.h layout */
    dacts a;
    /* pinned staging: the forward copies x and the targets block in, probs and loss out; the
     * phases read the step scalars from it */
    float *h_x, *h_probs, *h_loss;
    int32_t *h_labels;                               /* the targets block: labels | labels2 | lam */
    ser_step_scalars *h_sc_fwd, *h_sc_adam;
    float one_b1, one_b2;                            /* Adam's keras_one_minus(beta1), (beta2) */
} ser_cuda_net;

/* Slice offsets of m (ser/model.h names). */
void ser_cuda_resolve_slices(const ser_model *m, slices *o);
/* Carves the arena for batches of B (base NULL: only counts); returns its bytes. */
size_t ser_cuda_layout_arena(const ser_model *m, dacts *a, char *base, int B);

/* The phases (enqueue only, on net->s). Forward: staging -> device copies, the network, the
 * loss; probs and loss copied back to the staging. Backward: every gradient of the last
 * training forward (overwritten). Adam over [0, n_trainable_padded), then the LSTM packing. */
int ser_cuda_enq_forward(ser_cuda_net *net, int B, int training, int labelled, ser_error *err);
int ser_cuda_enq_backward(ser_cuda_net *net, int B, ser_error *err);
int ser_cuda_enq_adam(ser_cuda_net *net, float eps, ser_error *err);
/* The batch-norm statistics pass (ser/backend.h's bn_stats_*; enqueue only): begin zeroes the
 * sums; add copies B clips in from the staging and runs the conv blocks, each normalised by the
 * batch's statistics (ser_k_bn_stats_add, then the inference batch norm with them), up to the
 * last block's batch-norm input; end writes the pooled statistics as the moving statistics. */
int ser_cuda_enq_bn_stats_begin(ser_cuda_net *net, ser_error *err);
int ser_cuda_enq_bn_stats_add(ser_cuda_net *net, int B, ser_error *err);
int ser_cuda_enq_bn_stats_end(ser_cuda_net *net, ser_error *err);
/* Keras layout -> the cuDNN LSTM weight spaces (after every parameter change). */
int ser_cuda_enq_pack(ser_cuda_net *net, ser_error *err);

#endif
