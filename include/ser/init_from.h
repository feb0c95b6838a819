/* Fine-tuning: a run's network starts from a trained model's weights (ser train --init MODEL)
 * instead of the seeded initialisers.
 *
 *   ser_init_open   reads the model file (every check of ser_model_load) and its SHA-256;
 *   ser_init_apply  copies its parameters into the run's freshly created network, tensor by
 *                   tensor by name, after checking that the two architectures match: the first
 *                   tensor whose name or shape differs is named in the error. A different label
 *                   set (other classes, or another order) leaves the output layer (dense.kernel,
 *                   dense.bias) with the run's own seeded initialisation and says so; every other
 *                   tensor, the BN moving statistics included, is copied bit for bit. Adam's
 *                   moments and counters start at zero, as in a fresh run.
 *
 * The scaler (train.init_scaler) and train.freeze are the caller's and the model's: see
 * ser/config.h and ser/model.h. */
#ifndef SER_INIT_FROM_H
#define SER_INIT_FROM_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdio.h>

#include "ser/checkpoint.h"
#include "ser/error.h"
#include "ser/model.h"

typedef struct ser_init_model {
    char path[1024];          /* absolute */
    char sha256[65];          /* hex of the file's bytes */
    ser_model model;          /* the file's network and parameters */
    ser_model_meta meta;      /* its labels, scaler and recipe */
    int loaded;
} ser_init_model;

/* Reads path; errors name the file and the reason. */
int ser_init_open(ser_init_model *im, const char *path, ser_error *err);
void ser_init_close(ser_init_model *im);

/* The architecture check alone, against the recipe `run` (every tensor but the output layer,
 * whose class count is not known yet): before a run writes anything. */
int ser_init_check(const ser_init_model *im, const ser_config *run, ser_error *err);

/* Copies im's parameters into dst (a created model of the run's recipe `run` with n_labels
 * classes, labels in output order). *output_reset: 1 when the label sets differ and the output layer kept
 * dst's initialisation. Differences of the audio and feature recipe that keep the shapes (say
 * audio.offset) are allowed; each is written to note (when not NULL) as one line. */
int ser_init_apply(const ser_init_model *im, ser_model *dst, const ser_config *run, const char *const *labels,
                   size_t n_labels, int *output_reset, FILE *note, ser_error *err);

/* SHA-256 of a file's bytes as 64 lowercase hex digits + NUL. */
int ser_sha256_file(const char *path, char hex[65], ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
