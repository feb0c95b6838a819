/* A backend computes the network of ser/model.h on some device. The training loop (DESIGN.md
 * data flow 6) talks only to this vtable, so it never knows which backend runs. Host-side
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
    /* x (B, H, W) host features, labels (B) or NULL. Returns 0 / -1; *loss = cross-entropy + L2
     * (0 without labels). Training mode: batch statistics, dropout, BN moving averages. */
    int (*forward)(ser_backend *be, const float *x, const int32_t *labels, int B, int training, float *loss,
                   ser_error *err);
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
    void (*destroy)(ser_backend *be);
} ser_backend_ops;

struct ser_backend {
    const ser_backend_ops *ops;
    ser_model *model;        /* the description (and, for the CPU backend, the buffers) */
    float beta1, beta2, eps; /* Adam */
    void *impl;
};

/* The CPU backend over host/model.c: m must outlive it; batches of up to max_B samples;
 * threads <= 0 keeps OpenMP's default (all cores). */
ser_backend *ser_backend_cpu_create(ser_model *m, const ser_config *cfg, int max_B, ser_error *err);

static inline void ser_backend_destroy(ser_backend *be) {
    if (be) be->ops->destroy(be);
}

#ifdef __cplusplus
}
#endif

#endif
