/* The reference network (docs/architecture.md, "The reference recipe") as data: shapes computed
 * from the config, ONE parameter buffer, ONE gradient buffer and the two Adam moment buffers
 * (all four with the same layout), and ONE activation arena per batch size. The CPU forward/backward/step over these buffers live in
 * host/model/model.c; host/model/backend_cpu.c wraps them in the backend vtable (ser/backend.h).
 *
 * Network (Keras layout, NHWC), for blocks i = 1..conv_blocks:
 *   x (B, H, W, 1) -> [Conv2D F, KxK, same -> BatchNorm -> ReLU -> MaxPool P, same (ceil)
 *   -> Dropout] -> (B, Hn, Wn, F) read as a sequence (B, T = Hn, D = Wn * F) (TimeDistributed
 *   Flatten over the MFCC axis: a reshape in NHWC, no copy) -> LSTM1(U, return_sequences)
 *   (B, T, U) -> attention (B, U) -> as one step (B, 1, U) -> LSTM2(U) (B, U) -> Dense(C)
 *   -> softmax.
 *   model.time_axis = true: the conv output is permuted to (B, Wn, Hn, F) first (a layer of
 *   its own, forward and backward) and read as (B, T = Wn, D = Hn * F): time along frames.
 *   model.attention = false: LSTM2 runs over the whole LSTM1 sequence (B, T, U) and its last
 *   output feeds the Dense layer (Keras: LSTM(U, return_sequences=True) -> LSTM(U)).
 *   model.stats_pool = true (needs attention; config validation refuses it without): the mean
 *   and the standard deviation over time of LSTM1's outputs, (B, 2U) = [mean | std] with
 *   std = sqrt(biased variance + SER_STATS_POOL_EPS) (host/model/layers/stats_pool.c), are
 *   concatenated after the attention output: LSTM2's one step is (B, 1, I2 = 3U) =
 *   [attention | mean | std] and lstm2.kernel is [3U,4U]. Off (the reference): I2 = U.
 *
 * PARAMETER LAYOUT (the contract for the CUDA backend and the safetensors checkpoint):
 * float32, row-major, Keras shapes and names, trainable slices first, in this order:
 *   for i in 1..conv_blocks:
 *     conv{i}.kernel [K,K,Cin,F]  conv{i}.bias [F]  bn{i}.gamma [F]  bn{i}.beta [F]
 *   lstm1.kernel [D,4U]  lstm1.recurrent_kernel [U,4U]  lstm1.bias [4U]    (gates i, f, c, o)
 *   attention.W [U,U]  attention.b [U]  attention.U [U,1]                  (only if attention)
 *   lstm2.kernel [I2,4U]  lstm2.recurrent_kernel [U,4U]  lstm2.bias [4U]   (I2 = U, 3U with stats_pool)
 *   dense.kernel [U,C]  dense.bias [C]
 *   ---- n_trainable_padded: the non-trainable slices follow ----
 *   for i in 1..conv_blocks: bn{i}.moving_mean [F]  bn{i}.moving_variance [F]
 * Each slice starts at a multiple of SER_SLICE_ALIGN floats (16 floats = 64 bytes: one cache
 * line, one AVX-512 vector); the gap after a slice is zero and stays zero (zero gradient, so
 * Adam leaves it at zero). Trainable slices form ONE range [0, n_trainable_padded): gradient
 * zeroing and Adam are one call each (one kernel launch on the GPU). bn{i}.moving_* are
 * non-trainable: no gradient, Adam never sees them, L2 never touches them; BatchNorm's training
 * forward updates them in place.
 *
 * Initialisers (Keras defaults, seeded by train.seed with ser's own generator, so the values
 * are not Keras's draws): glorot_uniform for conv, LSTM input, attention W and U, and dense
 * kernels (limit sqrt(6 / (fan_in + fan_out)); conv fan_in = K*K*Cin, fan_out = K*K*F);
 * orthogonal for recurrent kernels (QR of a gaussian matrix, sign-corrected); zeros for
 * biases except the LSTM forget-gate quarter (unit_forget_bias = 1) and attention.b = 0;
 * BN gamma 1, beta 0, moving_mean 0, moving_variance 1. */
#ifndef SER_MODEL_H
#define SER_MODEL_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ser/mix.h"
#include "ser/config.h"
#include "ser/error.h"

#define SER_SLICE_ALIGN 16      /* floats: 64 bytes */
#define SER_MAX_BLOCKS 8
#define SER_MAX_SLICES (6 * SER_MAX_BLOCKS + 11)
/* std = sqrt(var + eps) of statistics pooling (model.stats_pool): keeps the gradient 1 / (2 std)
 * bounded (<= 158) when LSTM1's output hardly moves over time. The CPU layer, the CUDA kernel
 * and the ONNX export all use this value. */
#define SER_STATS_POOL_EPS 1e-5f

typedef struct ser_slice {
    char name[40];
    int ndim;
    int shape[4];
    size_t offset;              /* in floats from the start of the buffer */
    size_t count;               /* product of shape */
    int trainable;
} ser_slice;

/* Shapes of one conv block: input (H, W, Cin) -> output (Ho, Wo, F). */
typedef struct ser_block_shape {
    int H, W, Cin, Ho, Wo;
} ser_block_shape;

/* Pointers into the activation arena for one batch size (see model.c for the sizes). */
typedef struct ser_acts {
    int B;                      /* batch size the arena was laid out for (max) */
    float *conv[SER_MAX_BLOCKS];    /* (B,H,W,F) conv output = BN input */
    float *xsel[SER_MAX_BLOCKS];    /* (B,Ho,Wo,F) BN input under each pool max (fused BN+ReLU+pool) */
    float *bn_mean[SER_MAX_BLOCKS], *bn_rstd[SER_MAX_BLOCKS];   /* (F) */
    double *moments;                /* the fused first block's input patch moments (forward -> backward) */
    float *pool[SER_MAX_BLOCKS];    /* (B,Ho,Wo,F) */
    int32_t *argmax[SER_MAX_BLOCKS];
    float *drop[SER_MAX_BLOCKS];    /* (B,Ho,Wo,F) dropout output (== pool when rate 0 or infer) */
    uint8_t *mask[SER_MAX_BLOCKS];
    float *seq;                     /* (B,T,D) permuted conv output (model.time_axis only) */
    float *h1, *c1, *g1;            /* LSTM1 (B,T,U) (B,T,U) (B,T,4U) */
    float *att, *att_u, *att_a;     /* attention out (B,U), u (B,T,U), a (B,T) */
    float *stats;                   /* statistics pooling (B,2U): [mean | std] over T (model.stats_pool) */
    float *x2cat;                   /* (B,3U) LSTM2's input [att | stats] (model.stats_pool) */
    float *h2, *c2, *g2;            /* LSTM2 (B,T2,U) ... */
    float *h2last;                  /* (B,U) */
    float *logits, *probs;          /* (B,C) */
    int32_t *labels;                /* (B) copy of the batch's labels */
    int32_t *labels2;               /* (B) the mixup partners' labels (= labels without mixup) */
    float *lam;                     /* (B) the own label's weight in the target (1 without mixup) */
    /* backward scratch */
    float *gA, *gB;                 /* ping-pong gradients, max block tensor (B,H,W,F) */
    float *col;                     /* conv im2col scratch */
    float *lstm_scratch;
    float *dh2, *dx2, *dh1, *dlogits, *dh2last;   /* dx2 (B,T2,I2) */
    float *datt, *dstats;           /* (B,U), (B,2U): dx2 split (model.stats_pool) */
    size_t bytes;
} ser_acts;

/* Wall time per layer kind and conv block (index blocks = the rest of the network), summed over
 * forwards/backwards since the last reset: where an epoch goes (ser bench-epoch prints it). */
enum {
    SER_PROF_CONV_F, SER_PROF_BN_F, SER_PROF_RELU_F, SER_PROF_POOL_F, SER_PROF_DROP_F,
    SER_PROF_CONV_B, SER_PROF_BN_B, SER_PROF_RELU_B, SER_PROF_POOL_B, SER_PROF_DROP_B,
    SER_PROF_RNN_F, SER_PROF_RNN_B, SER_PROF_ADAM, SER_PROF_N
};
extern const char *const ser_prof_names[SER_PROF_N];

typedef struct ser_model {
    ser_model_config cfg;
    int H, W;                   /* input: ser_config_rows (n_mfcc + f0_rows) x features.frames, 1 channel */
    int classes;
    int blocks, F, K, P;
    ser_block_shape blk[SER_MAX_BLOCKS];
    int T, D, U, T2;            /* sequence steps, step width, LSTM units, LSTM2 steps */
    int I2;                     /* LSTM2's input width: U, 3U with model.stats_pool */
    uint64_t seed;              /* dropout and init seed (train.seed) */
    float label_smoothing;      /* the loss's target smoothing (train.label_smoothing; 0 = none) */

    ser_slice slices[SER_MAX_SLICES];
    int nslices;
    size_t nparams_padded;      /* floats in each of params / grads / m / v */
    size_t n_trainable_padded;  /* the trainable slices are [0, n_trainable_padded) */
    size_t n_trainable, n_nontrainable;   /* real counts (no padding) */
    /* train.freeze (fine-tuning): Adam updates [train_begin, n_trainable_padded) only, and the
     * training forward leaves the BN moving statistics of conv blocks [0, bn_frozen) as they are
     * (they still normalise with the batch's statistics, as PyTorch's frozen-parameter training
     * does); 0 and 0 without it */
    size_t train_begin;
    int bn_frozen;

    float *params, *grads, *adam_m, *adam_v;   /* one allocation of 4 * nparams_padded */
    int adam_t;                 /* Adam steps taken */
    uint64_t step;              /* training forwards taken: the dropout key's step */

    ser_acts acts;              /* arena for acts.B samples (ser_model_reserve) */
    void *arena;
    float last_loss;            /* cross-entropy + L2 of the last forward */
    float last_xent;
    int last_B, last_training;
    const float *last_x;
    double prof[SER_PROF_N][SER_MAX_BLOCKS + 1];   /* seconds; reset with memset */
    /* AdaBN statistics pass (host/model/bn_adapt.c): when bn_acc is set, an inference forward adds
     * block bn_acc_block's BN input to bn_acc (sum of x - shift, sum of (x - shift)^2, F doubles
     * each, shift = bn_acc_shift) and stops there; bn_acc_rows counts the rows. */
    double *bn_acc;
    const float *bn_acc_shift;
    float *bn_acc_conv;         /* (acts.B,H,W,F) of a fused block (ser_model_block_fused), whose
                                 * conv output is otherwise never stored */
    int bn_acc_block;
    long long bn_acc_rows;
    /* Batch-norm statistics pass (host/model/bn_stats.c), between begin and end: per block the
     * pooled mean and sum of squared deviations of its BN input (blocks, 2, F) and the rows seen. */
    double *bn_stats;
    double bn_stats_rows[SER_MAX_BLOCKS];
} ser_model;

/* Builds the description and allocates parameters, gradients and Adam moments, initialised
 * (Keras initialisers, seeded by cfg->train.seed). Fails on shapes that collapse or an
 * unsupported config (even kernel, too many blocks). */
int ser_model_create(ser_model *m, const ser_config *cfg, int classes, ser_error *err);
/* The description alone (slices, shapes, sizes; m->params NULL, nothing to destroy): what a
 * model file must hold, checked before a config read from the file decides an allocation. */
int ser_model_layout(ser_model *m, const ser_config *cfg, int classes, ser_error *err);
void ser_model_destroy(ser_model *m);

/* Lays out the activation arena for batches of up to max_B samples (no allocation afterwards). */
int ser_model_reserve(ser_model *m, int max_B, ser_error *err);
size_t ser_model_arena_bytes(const ser_model *m, int B);
/* Whether the CPU backend runs block i as the fused first block (host/model/layers/conv_bn_relu_pool.c:
 * block 1 with a few-tap conv): its conv output is recomputed, not stored (acts.conv[i] is NULL;
 * the backend recomputes it when asked for that activation). */
int ser_model_block_fused(const ser_model *m, int i);
/* out (B,H,W,F): fused block i's conv output for the last forward's input and the current
 * parameters (valid until the next step changes them). */
void ser_model_fused_conv(const ser_model *m, int i, float *out);

/* The BN moving-average momentum of conv block i (0-based) in a training forward: 1 (the moving
 * statistics stay bit for bit) for a block train.freeze keeps, model.bn_momentum otherwise. */
static inline float ser_model_bn_momentum(const ser_model *m, int i) {
    return i < m->bn_frozen ? 1.0f : (float)m->cfg.bn_momentum;
}

/* Re-initialises every parameter from seed, zeroes gradients, Adam moments and counters.
 * Fails only when out of memory (the orthogonal initialisation's scratch). */
int ser_model_init_params(ser_model *m, uint64_t seed, ser_error *err);

const ser_slice *ser_model_slice(const ser_model *m, const char *name);

/* x (B, H, W) features; labels (B) class indices or NULL (inference: no loss); mix: mixup
 * targets (ser/mixup.h) or NULL.
 * Returns the loss (cross-entropy mean + L2 terms), or 0 when labels is NULL. Training mode
 * uses batch statistics, updates the BN moving statistics and draws dropout masks keyed by
 * (seed, m->step, block); it increments m->step. Probabilities in m->acts.probs (B, C). */
float ser_model_forward(ser_model *m, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training);
/* AdaBN (test-time batch-norm adaptation, Li et al. 2016): replaces every block's BN moving mean
 * and moving variance by the exact mean and biased variance of that block's BN input over the n
 * clips x (n, H, W), block by block: block i's statistics are taken with blocks < i already
 * adapted, as the adapted network will see them. Inference-mode forwards in batches of up to
 * m->acts.B (reserve first); sums in double, independent of the batching up to rounding. Only
 * the moving statistics change. Several passes (one per block): the exact reference that
 * tests/test_bn_adapt.c holds the one-pass ser_model_bn_stats_* against; the commands run the
 * backends' bn_stats_* ops (host/model/bn_adapt.c). */
int ser_model_bn_adapt(ser_model *m, const float *x, size_t n, ser_error *err);

/* The batch-norm statistics pass (precise BN and AdaBN through a backend: ser/backend.h's
 * bn_stats_* ops; host/model/bn_stats.c). begin zeroes the accumulators (reserve first); add runs x
 * (B, H, W), B <= m->acts.B, through the conv blocks with each block normalised by the batch's
 * own statistics (a training forward without dropout and without the moving-average update,
 * stopping at the last block's BN input) and pools every block's batch mean and biased variance
 * into the mean and variance over all rows added; end writes them as the moving statistics
 * (nothing else changes) and frees the accumulators (also on its error: nothing added). With
 * one batch holding the whole set the result is ser_model_bn_adapt's. */
int ser_model_bn_stats_begin(ser_model *m, ser_error *err);
void ser_model_bn_stats_add(ser_model *m, const float *x, int B);
int ser_model_bn_stats_end(ser_model *m, ser_error *err);

/* Zeroes grads and backpropagates the last training forward (cross-entropy + L2). */
void ser_model_backward(ser_model *m);
/* One Adam step (beta/eps from cfg train section passed in) over the trainable slices. */
void ser_model_step(ser_model *m, float lr, float beta1, float beta2, float eps);

/* Multiply-adds of one training step (forward + backward) for B samples, x2 = FLOPs. */
double ser_model_train_flops(const ser_model *m, int B);

/* Keras-like model.summary() text. */
void ser_model_summary(const ser_model *m, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
