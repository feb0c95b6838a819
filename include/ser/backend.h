/* A backend computes the network of ser/model.h on some device. The training loop (host/train/,
 * docs/architecture.md) talks only to this vtable, so it never knows which backend runs. Host-side
 * buffers (params, probs) always use the layout of ser/model.h: upload/download are copies of
 * the whole parameter buffer (params, then optionally Adam m and v), slice offsets unchanged. */
#ifndef SER_BACKEND_H
#define SER_BACKEND_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

#include "ser/error.h"
#include "ser/model.h"

typedef struct ser_backend ser_backend;

typedef struct ser_backend_ops {
    const char *name;
    /* x (B, H, W) host features, labels (B) or NULL, mix: mixup targets (ser/model.h; needs
     * labels) or NULL. Returns 0 / -1; *loss = cross-entropy + L2 (0 without labels). Training
     * mode: batch statistics, dropout, BN moving averages. */
    int (*forward)(ser_backend *be, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training,
                   float *loss, ser_error *err);
    /* Gradients of the last training forward into the backend's gradient buffer. */
    int (*backward)(ser_backend *be, ser_error *err);
    /* One Adam step with this learning rate (betas and epsilon from the config). */
    int (*step)(ser_backend *be, float lr, ser_error *err);
    /* Probabilities of the last forward into probs (B, C) on the host. */
    int (*download_probs)(ser_backend *be, float *probs, ser_error *err);
    /* Parameters (nparams_padded floats, ser/model.h layout) host <-> backend. */
    int (*upload_params)(ser_backend *be, const float *params, ser_error *err);
    int (*download_params)(ser_backend *be, float *params, ser_error *err);
    /* Gradients of the last backward (same layout) to the host. */
    int (*download_grads)(ser_backend *be, float *grads, ser_error *err);
    /* The optimiser state a checkpoint holds: parameters, Adam m and Adam v (nparams_padded
     * floats each, ser/model.h layout) host <-> backend. The counters (model->adam_t, the Adam
     * step count; model->step, the dropout key's step) live in the host ser_model on every
     * backend: a device backend reads them there at each call. */
    int (*upload_state)(ser_backend *be, const float *params, const float *adam_m, const float *adam_v,
                        ser_error *err);
    int (*download_state)(ser_backend *be, float *params, float *adam_m, float *adam_v, ser_error *err);
    /* One activation of the last forward to the host (what `ser check` compares): kind and
     * block as ser_act_kind, n elements (ser_act_count); float, or uint8 for SER_ACT_MASK. */
    int (*download_act)(ser_backend *be, int kind, int block, void *out, size_t n, ser_error *err);
    void (*destroy)(ser_backend *be);
    /* The batch-norm statistics pass (precise BN, AdaBN; ser_model_bn_stats_* is the CPU's and
     * the reference): begin zeroes the backend's accumulators; add runs x (B, H, W) host
     * features through the conv blocks, each block normalised by the batch's own statistics (no
     * dropout, no moving-average update, nothing past the last block's batch-norm input), and
     * pools every block's batch mean and biased variance into the mean and variance over all
     * rows added; end writes those as the moving statistics in the backend's parameters (nothing
     * else changes, no transfer of the parameters). Last in the table so that initialisers of
     * the ops above stay valid. */
    int (*bn_stats_begin)(ser_backend *be, ser_error *err);
    int (*bn_stats_add)(ser_backend *be, const float *x, int B, ser_error *err);
    int (*bn_stats_end)(ser_backend *be, ser_error *err);
} ser_backend_ops;

struct ser_backend {
    const ser_backend_ops *ops;
    ser_model *model;        /* the description (and, for the CPU backend, the buffers) */
    float beta1, beta2, eps; /* Adam */
    int max_B;               /* largest batch a forward takes */
    char device[160];        /* what computes, one line ("cpu, 16 threads", a GPU's name...) */
    void *impl;
};

/* The activations a forward leaves behind, by kind (per conv block where it says so). */
typedef enum ser_act_kind {
    SER_ACT_CONV,      /* (B,H,W,F) conv output incl. bias, per block */
    SER_ACT_BN_MEAN,   /* (F) batch mean of the training forward, per block */
    SER_ACT_BN_RSTD,   /* (F) 1 / sqrt(batch variance + eps), per block */
    SER_ACT_POOL,      /* (B,Ho,Wo,F) maxpool(relu(bn(conv))), per block */
    SER_ACT_DROP,      /* (B,Ho,Wo,F) dropout output (training, rate > 0), per block */
    SER_ACT_MASK,      /* (B,Ho,Wo,F) uint8 dropout mask (kept = 1), per block */
    SER_ACT_LSTM1,     /* (B,T,U) LSTM1 outputs */
    SER_ACT_ATT,       /* (B,U) attention output (model.attention) */
    SER_ACT_ATT_A,     /* (B,T) attention weights (model.attention) */
    SER_ACT_STATS,     /* (B,2U) statistics pooling [mean | std] over T (model.stats_pool) */
    SER_ACT_LSTM2,     /* (B,T2,U) LSTM2 outputs */
    SER_ACT_LOGITS,    /* (B,C) */
    SER_ACT_PROBS,     /* (B,C) */
    SER_ACT_N
} ser_act_kind;

extern const char *const ser_act_names[SER_ACT_N];
/* 1 when the kind is per conv block. */
int ser_act_per_block(int kind);
/* Elements of activation kind (block) for a batch of B; 0 when the model has none (attention
 * kinds without attention). */
size_t ser_act_count(const ser_model *m, int kind, int block, int B);
/* A download_act request's check, the same on every backend: n must be the count of kind
 * (block) for the last batch B. 0, or -1 with an error naming the backend and activation. */
int ser_act_check(const ser_model *m, const char *backend, int kind, int block, int B, size_t n, ser_error *err);

/* The checks of a forward's labels and mixup targets every backend makes: labels in 0..C-1, a
 * training forward labelled, mix only with labels, its labels in range and weights in [0, 1].
 * 0, or -1 with an error naming the backend and the sample. */
int ser_backend_check_targets(const char *backend, const int32_t *labels, const ser_mix *mix, int B, int C,
                              int training, ser_error *err);

/* The fields every backend sets the same way: ops, model, max_B and Adam's constants from cfg. */
void ser_backend_init(ser_backend *be, const ser_backend_ops *ops, ser_model *m, const ser_config *cfg, int max_B);

/* The CPU backend over host/model/model.c: m must outlive it; batches of up to max_B samples;
 * threads <= 0 keeps OpenMP's default (all cores). */
ser_backend *ser_backend_cpu_create(ser_model *m, const ser_config *cfg, int max_B, ser_error *err);

/* 1 when the CPU backend's convolutions run through oneDNN (built with it, SER_ONEDNN not 0),
 * 0 when they run on im2col + OpenBLAS and the direct loops (host/model/layers/conv2d.c). */
int ser_backend_cpu_onednn(void);
/* The CPU backend with its convolutions on im2col + OpenBLAS and the direct loops even where
 * oneDNN is on: the second code path `ser check --against cpu` compares the CPU backend with
 * (its ops' name is "cpu-im2col"). */
ser_backend *ser_backend_cpu_im2col_create(ser_model *m, const ser_config *cfg, int max_B, ser_error *err);

static inline void ser_backend_destroy(ser_backend *be) {
    if (be) be->ops->destroy(be);
}

#ifdef __cplusplus
}
#endif

#endif
