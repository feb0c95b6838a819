/* The training loop: epochs, seeded shuffling, batches, metrics, EarlyStopping with best-weight
 * restore, ReduceLROnPlateau, per-epoch history and resumable state. It drives a ser_net, a
 * small vtable, and never knows which backend computes (docs/architecture.md: host/train/ in the
 * data flow). */
#ifndef SER_TRAIN_H
#define SER_TRAIN_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/mix.h"
#include "ser/config.h"
#include "ser/dataset.h"
#include "ser/error.h"
#include "ser/history.h"
#include "ser/schedule.h"

/* What the loop needs of a network on some backend. Every call that reaches the backend
 * returns 0, or -1 with err naming the backend and the operation ("backend cpu: step: ...");
 * the loop then stops at once, and a failed state_get leaves out untouched. */
typedef struct ser_net {
    void *impl;
    /* x: B clips of scaled features (B, rows, frames), rows = ser_config_rows; labels (B) or
     * NULL; mix: mixup targets (ser/model.h) or NULL; *loss: the mean loss (cross-entropy +
     * regularisers); *probs (B, C) stay readable until the next call. step keys the dropout
     * masks. */
    int (*forward)(void *impl, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training,
                   uint64_t step, float *loss, const float **probs, ser_error *err);
    int (*backward)(void *impl, ser_error *err);           /* gradients of the last training forward */
    int (*step)(void *impl, float lr, ser_error *err);     /* one Adam update (it counts t itself) */
    /* The whole state a resume needs, as one float array: parameters, Adam m and v, and the
     * Adam step count; get copies out, set copies in. */
    size_t (*state_size)(void *impl);
    int (*state_get)(void *impl, float *out, ser_error *err);
    int (*state_set)(void *impl, const float *in, ser_error *err);
    size_t (*param_size)(void *impl);             /* the parameters are the state's first part */
    int n_classes;
    size_t clip_size;                             /* rows * frames (ser_features_per_clip) */
} ser_net;

typedef struct ser_loop_data {
    const float *x;        /* (n, clip_size), already scaled; NULL: fill reads them by batch */
    const int32_t *y;      /* (n) class indices */
    size_t n;
    /* When x is NULL: writes the scaled features of clips idx[0..B) to out (B, clip_size)
     * (ser_feature_source_fill: the on-disk feature cache), source its first argument. */
    int (*fill)(void *source, const uint32_t *idx, int B, float *out, ser_error *err);
    void *source;
} ser_loop_data;

/* ds's features as the loop reads them: ds->x, or by batch from ds->src (the feature cache);
 * labels ds->y (NULL when unlabelled). */
ser_loop_data ser_loop_data_of(const ser_dataset *ds);

/* Everything a resume restores besides the net state. */
typedef struct ser_train_state {
    int epoch;             /* epochs completed */
    double lr;             /* the next epoch's (plateau) or the last step's (cosine_decay) */
    uint64_t step;         /* batches done */
    ser_early_stop es;
    ser_lr_plateau plateau;
} ser_train_state;

/* The learning rate of step `step` (0-based, batches done before it) of total_steps under
 * train.cosine_decay: Keras CosineDecay from learning_rate down to min_lr. */
double ser_cosine_lr(const ser_train_config *tc, uint64_t step, uint64_t total_steps);

typedef struct ser_train_opts {
    const ser_config *cfg;
    const char *history_path;   /* JSONL, appended per epoch (NULL: none) */
    /* Called after every epoch with the loop state and the best-epoch net state so far (the
     * net holds the current state): checkpointing. A non-zero return stops training with that
     * error. NULL: none. */
    int (*on_epoch)(void *user, const ser_train_state *st, const ser_history_entry *h, const float *best_state,
                    ser_error *err);
    void *user;
    int progress;               /* 1: a live bar on stderr (terminals); 0: one line per epoch */
    int quiet;
    /* Per-epoch training features (VTLP, waveform augmentation: ser/wave_augment.h), both set or
     * both NULL (NULL: train's features every epoch). epoch_begin is called at the start of every
     * epoch (0-based) to make that epoch's features of the train->n clips ready (computed, or
     * prefetched during the epoch before); the epoch then reads each batch with epoch_fill
     * instead of train's: the scaled features of clips idx[0..B) (indices into train) into out
     * (B, clip_size). They must depend only on the epoch (and fixed state), so that a resume is
     * bit-identical. */
    int (*epoch_begin)(void *user, int epoch, ser_error *err);
    int (*epoch_fill)(void *user, const uint32_t *idx, int B, float *out, ser_error *err);
    /* When set: called after every epoch's training steps, before its validation pass
     * (train.precise_bn = epoch: the BN statistics over the training clips). It must depend only
     * on the net state and fixed data, so that a resume is bit-identical. NULL: none. */
    int (*before_validation)(void *user, int epoch, ser_error *err);
} ser_train_opts;

typedef struct ser_train_result {
    int epochs_run;             /* epochs completed in total */
    int best_epoch;             /* 1-based epoch whose weights the net holds at the end */
    double best_monitor;        /* train.monitor's value at that epoch (val_loss, val_accuracy or val_uar) */
    int stopped_early;
    float *best_state;          /* net state at the best epoch (malloc'd; caller frees) */
} ser_train_result;

/* Runs (or continues, when st->epoch > 0: st and the net state come from a checkpoint and
 * best_state_in holds the best-epoch state so far) the reference loop. At the end the net
 * holds the best epoch's weights (EarlyStopping restore_best_weights). Fails at once on a
 * non-finite loss or a failed net call, naming the epoch and batch (and the call); on_epoch is
 * not called for the failed epoch, so the last good checkpoint is what it wrote before. */
int ser_train_run(ser_net *net, const ser_loop_data *train, const ser_loop_data *val, const ser_train_opts *opts,
                  ser_train_state *st, const float *best_state_in, ser_train_result *res, ser_error *err);

/* train.monitor's key in history.jsonl ("val_loss", "val_accuracy", "val_uar") and its value in h. */
const char *ser_monitor_name(int monitor);
double ser_monitor_value(int monitor, const ser_history_entry *h);

/* Fresh loop state for cfg (epoch 0, lr = learning_rate, callbacks reset). */
void ser_train_state_init(ser_train_state *st, const ser_config *cfg);

/* Evaluates a split in inference mode: mean loss, accuracy, and (when pred is not NULL) the
 * predicted class of every clip; probs_out (n, C) optional. */
int ser_evaluate(ser_net *net, const ser_loop_data *data, int batch, double *loss, double *accuracy,
                 int32_t *pred, float *probs_out, ser_error *err);

/* The permutation of epoch e: a Fisher-Yates shuffle keyed by (seed, epoch) (Philox), so a
 * resumed run draws the same order. */
void ser_epoch_order(uint32_t *order, size_t n, uint64_t seed, int epoch);

/* train.balanced_batches: epoch e's n clip indices with every class present in y (labels in
 * [0, C)) drawn equally often (n / classes each, the remainder to the lowest classes): each
 * class's clips in the order of ser_epoch_order, repeated when the class has fewer than its
 * quota and cut when it has more, then shuffled again (Philox tag 0x5e6). scratch: n + 3 C words. */
void ser_epoch_order_balanced(uint32_t *order, uint32_t *scratch, const int32_t *y, size_t n, int C, uint64_t seed,
                              int epoch);

#ifdef __cplusplus
}
#endif

#endif
