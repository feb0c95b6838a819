/* The CUDA backend's private parts, shared by kernels/backend_cuda.c (the backend object: arena,
 * staging, CUDA graphs, the vtable) and kernels/backend_cuda_net.c (the network's wiring: the
 * three phases of a step, enqueued on one stream). Not a public header. */
#ifndef SER_BACKEND_CUDA_H
#define SER_BACKEND_CUDA_H

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

enum { PH_FWD, PH_BWD, PH_ADAM, PH_N };


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
    int32_t *labels, *labels2;                       /* (B) each: the targets block, one copy in */
    float *lam;                                      /* (B) (mixup; 1 and labels2 = labels without) */
    float *xent, *terms, *loss;                      /* device scalars; terms: one per block */
    ser_step_scalars *sc_fwd, *sc_adam;
    float *g[3];                                     /* backward rotation, gmax floats each */
    float *dlogits, *dh2last, *dh2, *dx2, *dh1;
    float *att_scratch;
    double *bg_partials;                             /* ser_k_bias_grad_rows's chunk sums */
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
    int32_t *h_labels, *h_labels2;                   /* the targets block: labels | labels2 | lam, */
    float *h_lam;                                    /* max_B each, as on the device */
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

/* Slice offsets of m (ser/model.h names). */
void ser_cuda_resolve_slices(const ser_model *m, slices *o);
/* Carves the arena for batches of B (base NULL: only counts); returns its bytes. */
size_t ser_cuda_layout_arena(const ser_model *m, dacts *a, char *base, int B);

/* The phases (enqueue only, on ci->s). Forward: staging -> device copies, the network, the
 * loss; probs and loss copied back to the staging. Backward: every gradient of the last
 * training forward (overwritten). Adam over [0, n_trainable_padded), then the LSTM packing. */
int ser_cuda_enq_forward(cuda_impl *ci, int B, int training, int labelled, ser_error *err);
int ser_cuda_enq_backward(cuda_impl *ci, int B, ser_error *err);
int ser_cuda_enq_adam(cuda_impl *ci, float eps, ser_error *err);
/* Keras layout -> the cuDNN LSTM weight spaces (after every parameter change). */
int ser_cuda_enq_pack(cuda_impl *ci, ser_error *err);

#endif
