/* Model files and resumable training state, both safetensors (readable by Python's
 * `safetensors` and numpy):
 *
 * model.safetensors: every parameter slice of ser/model.h under its Keras name and shape
 * (conv1.kernel [3,3,1,64], ...), and in __metadata__:
 *   ser.format "1", ser.labels (JSON array, output order), ser.scaler_mean, ser.scaler_std
 *   (numbers as "%.17g" strings), ser.config (JSON, every key of the config table),
 *   ser.features (JSON: the audio + feature recipe), ser.version, ser.commit; with
 *   features.vtln also ser.vtln_ref (JSON array: the training split's cepstral statistics); with
 *   ser train --init also ser.init (JSON {"path", "sha256"}: the model the weights started from).
 *
 * checkpoint.safetensors (RUN/, rewritten atomically after every epoch): "state.current" and
 * "state.best" (the net's whole training state, see ser_net), plus the model metadata and the
 * loop state (epoch, lr, step, early-stopping and plateau counters) as exact strings. */
#ifndef SER_CHECKPOINT_H
#define SER_CHECKPOINT_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"
#include "ser/model.h"
#include "ser/scaler.h"
#include "ser/train.h"
#include "ser/speaker_warp.h"

typedef struct ser_model_meta {
    ser_config cfg;
    char **labels;          /* n_labels class names, output order */
    size_t n_labels;
    ser_scaler scaler;
    /* features.vtln: the training split's per-coefficient mean then std (2 n_mfcc values,
     * ser/speaker_warp.h), stored as ser.vtln_ref */
    double vtln_ref[2 * SER_VTLN_MAX_MFCC];
    /* ser train --init: the model file the weights started from (absolute path) and its SHA-256
     * (hex), stored as ser.init (JSON {"path", "sha256"}); empty when trained from scratch */
    char init_path[1024];
    char init_sha256[65];
} ser_model_meta;

/* Writes model.safetensors: m's parameters (params: a buffer in m's layout) + metadata. */
int ser_model_save(const char *path, const ser_model *m, const float *params, const ser_model_meta *meta,
                   ser_error *err);

/* Reads a model file: checks format, names, shapes and metadata, creates *m (caller destroys)
 * with the parameters loaded, fills meta (caller frees with ser_model_meta_free). Errors name
 * the file and the reason (not safetensors, truncated, another architecture or version). */
int ser_model_load(const char *path, ser_model *m, ser_model_meta *meta, ser_error *err);

void ser_model_meta_free(ser_model_meta *meta);

/* Training checkpoint: the loop state, the current and best net states, and the metadata. */
int ser_checkpoint_save(const char *path, const ser_train_state *st, const float *current, const float *best,
                        size_t nstate, const ser_model_meta *meta, ser_error *err);
/* current/best: malloc'd nstate floats each (caller frees); nstate must match the net's. */
int ser_checkpoint_load(const char *path, ser_train_state *st, float **current, float **best, size_t nstate,
                        ser_model_meta *meta, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
