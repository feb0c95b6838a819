/* ser_net over a ser_backend: the vtable the training loop calls. */
#include "ser/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct net_impl {
    ser_backend *be;
    float *probs;  /* (max_B, C) host copy of the last forward's probabilities */
    int failed;    /* a backend call failed: the loop sees a NaN loss and stops */
    ser_error err;
} net_impl;

static float net_forward(void *p, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training,
                         uint64_t step, const float **probs) {
    net_impl *n = p;
    float loss = 0.0f;
    if (training) n->be->model->step = step; /* the dropout key's step */
    if (n->be->ops->forward(n->be, x, labels, mix, B, training, &loss, &n->err) != 0 ||
        n->be->ops->download_probs(n->be, n->probs, &n->err) != 0) {
        fprintf(stderr, "ser: backend %s: %s\n", n->be->ops->name, n->err.msg);
        n->failed = 1;
        loss = NAN;
    }
    *probs = n->probs;
    return loss;
}

static void net_backward(void *p) {
    net_impl *n = p;
    if (n->be->ops->backward(n->be, &n->err) != 0) {
        fprintf(stderr, "ser: backend %s: %s\n", n->be->ops->name, n->err.msg);
        n->failed = 1;
    }
}

static void net_step(void *p, float lr) {
    net_impl *n = p;
    if (n->be->ops->step(n->be, lr, &n->err) != 0) {
        fprintf(stderr, "ser: backend %s: %s\n", n->be->ops->name, n->err.msg);
        n->failed = 1;
    }
}

static size_t net_param_size(void *p) { return ((net_impl *)p)->be->model->nparams_padded; }
static size_t net_state_size(void *p) { return 3 * net_param_size(p) + 2; }

/* The state lives in the model's host buffers (the CPU backend computes in them; a device
 * backend syncs params and Adam moments through upload/download_state; the counters are the
 * host model's on every backend). */
static void net_state_get(void *p, float *out) {
    net_impl *n = p;
    ser_model *m = n->be->model;
    const size_t np = m->nparams_padded;
    if (n->be->ops->download_state(n->be, m->params, m->adam_m, m->adam_v, &n->err) != 0) {
        fprintf(stderr, "ser: backend %s: %s\n", n->be->ops->name, n->err.msg);
        n->failed = 1;
    }
    memcpy(out, m->params, np * sizeof(float));
    memcpy(out + np, m->adam_m, np * sizeof(float));
    memcpy(out + 2 * np, m->adam_v, np * sizeof(float));
    /* counters as floats: exact below 2^24 steps */
    out[3 * np] = (float)m->adam_t;
    out[3 * np + 1] = (float)m->step;
}

static void net_state_set(void *p, const float *in) {
    net_impl *n = p;
    ser_model *m = n->be->model;
    const size_t np = m->nparams_padded;
    memcpy(m->params, in, np * sizeof(float));
    memcpy(m->adam_m, in + np, np * sizeof(float));
    memcpy(m->adam_v, in + 2 * np, np * sizeof(float));
    m->adam_t = (int)in[3 * np];
    m->step = (uint64_t)in[3 * np + 1];
    if (n->be->ops->upload_state(n->be, m->params, m->adam_m, m->adam_v, &n->err) != 0) {
        fprintf(stderr, "ser: backend %s: %s\n", n->be->ops->name, n->err.msg);
        n->failed = 1;
    }
}

int ser_net_wrap(ser_net *net, ser_backend *be, ser_error *err) {
    memset(net, 0, sizeof *net);
    net_impl *n = ser_calloc(1, sizeof *n, "net", err);
    if (!n) return -1;
    n->be = be;
    n->probs = ser_malloc((size_t)be->max_B * be->model->classes * sizeof(float), "probabilities", err);
    if (!n->probs) {
        free(n);
        return -1;
    }
    net->impl = n;
    net->forward = net_forward;
    net->backward = net_backward;
    net->step = net_step;
    net->state_size = net_state_size;
    net->state_get = net_state_get;
    net->state_set = net_state_set;
    net->param_size = net_param_size;
    net->n_classes = be->model->classes;
    net->clip_size = (size_t)be->model->H * be->model->W;
    return 0;
}

void ser_net_free(ser_net *net) {
    if (!net || !net->impl) return;
    net_impl *n = net->impl;
    free(n->probs);
    free(n);
    net->impl = NULL;
}
