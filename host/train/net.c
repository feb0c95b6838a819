/* ser_net over a ser_backend: the vtable the training loop calls. Every call reports a
 * backend failure as -1 with the backend and the operation named ("backend cpu: step: ..."),
 * so that the loop stops at once and nothing after it (a checkpoint) sees stale state. */
#include "ser/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The backend operations a net calls; SER_FAULT_INJECT names them the same way. */
typedef enum net_op { OP_FORWARD, OP_DOWNLOAD_PROBS, OP_BACKWARD, OP_STEP, OP_DOWNLOAD_STATE, OP_UPLOAD_STATE, OP_N } net_op;
static const char *const op_names[OP_N] = {"forward", "download_probs", "backward", "step", "download_state",
                                           "upload_state"};

typedef struct net_impl {
    ser_backend *be;
    float *probs;         /* (max_B, C) host copy of the last forward's probabilities */
    /* SER_FAULT_INJECT=op:N (tests, docs/reliability.md): the N-th call (1-based) of op fails as
     * a backend error would; fault_op = OP_N when unset. */
    net_op fault_op;
    unsigned long fault_at, calls[OP_N];
} net_impl;

/* Counts a call of op; -1 (with the backend's kind of message) when it is the injected fault. */
static int injected(net_impl *n, net_op op, ser_error *err) {
    if (++n->calls[op] != n->fault_at || n->fault_op != op) return 0;
    return ser_fail(err, "injected fault (SER_FAULT_INJECT=%s:%lu)", op_names[op], n->fault_at);
}

/* The result of backend call op: 0, or -1 with "backend NAME: OP: " before the backend's message. */
static int op_result(net_impl *n, net_op op, int rc, ser_error *err) {
    if (rc == 0) rc = injected(n, op, err);
    return rc ? ser_fail_wrap(err, "backend %s: %s", n->be->ops->name, op_names[op]) : 0;
}

static int net_forward(void *p, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training,
                       uint64_t step, float *loss, const float **probs, ser_error *err) {
    net_impl *n = p;
    *loss = 0.0f;
    *probs = n->probs;
    if (training) n->be->model->step = step; /* the dropout key's step */
    if (op_result(n, OP_FORWARD, n->be->ops->forward(n->be, x, labels, mix, B, training, loss, err), err) != 0)
        return -1;
    return op_result(n, OP_DOWNLOAD_PROBS, n->be->ops->download_probs(n->be, n->probs, err), err);
}

static int net_backward(void *p, ser_error *err) {
    net_impl *n = p;
    return op_result(n, OP_BACKWARD, n->be->ops->backward(n->be, err), err);
}

static int net_step(void *p, float lr, ser_error *err) {
    net_impl *n = p;
    return op_result(n, OP_STEP, n->be->ops->step(n->be, lr, err), err);
}

static size_t net_param_size(void *p) { return ((net_impl *)p)->be->model->nparams_padded; }
static size_t net_state_size(void *p) { return 3 * net_param_size(p) + 2; }

/* The state lives in the model's host buffers (the CPU backend computes in them; a device
 * backend syncs params and Adam moments through upload/download_state; the counters are the
 * host model's on every backend). On a failed download out is left untouched. */
static int net_state_get(void *p, float *out, ser_error *err) {
    net_impl *n = p;
    ser_model *m = n->be->model;
    const size_t np = m->nparams_padded;
    if (op_result(n, OP_DOWNLOAD_STATE, n->be->ops->download_state(n->be, m->params, m->adam_m, m->adam_v, err), err))
        return -1;
    memcpy(out, m->params, np * sizeof(float));
    memcpy(out + np, m->adam_m, np * sizeof(float));
    memcpy(out + 2 * np, m->adam_v, np * sizeof(float));
    /* counters as floats: exact below 2^24 steps */
    out[3 * np] = (float)m->adam_t;
    out[3 * np + 1] = (float)m->step;
    return 0;
}

static int net_state_set(void *p, const float *in, ser_error *err) {
    net_impl *n = p;
    ser_model *m = n->be->model;
    const size_t np = m->nparams_padded;
    memcpy(m->params, in, np * sizeof(float));
    memcpy(m->adam_m, in + np, np * sizeof(float));
    memcpy(m->adam_v, in + 2 * np, np * sizeof(float));
    m->adam_t = (int)in[3 * np];
    m->step = (uint64_t)in[3 * np + 1];
    return op_result(n, OP_UPLOAD_STATE, n->be->ops->upload_state(n->be, m->params, m->adam_m, m->adam_v, err), err);
}

/* SER_FAULT_INJECT=op:N: op one of op_names, N >= 1. Unset or empty: no fault. */
static int fault_parse(net_impl *n, ser_error *err) {
    n->fault_op = OP_N;
    const char *v = getenv("SER_FAULT_INJECT");
    if (!v || !*v) return 0;
    const char *colon = strchr(v, ':');
    for (int op = 0; colon && op < OP_N; op++)
        if (strlen(op_names[op]) == (size_t)(colon - v) && !strncmp(v, op_names[op], (size_t)(colon - v)))
            n->fault_op = (net_op)op;
    char *end = NULL;
    errno = 0;
    const unsigned long at = colon && colon[1] >= '0' && colon[1] <= '9' ? strtoul(colon + 1, &end, 10) : 0;
    if (n->fault_op == OP_N || !end || *end || errno || at == 0)
        return ser_fail(err, "SER_FAULT_INJECT=%s: expected OP:N with N >= 1 and OP one of forward, download_probs, "
                             "backward, step, download_state, upload_state", v);
    n->fault_at = at;
    return 0;
}

int ser_net_wrap(ser_net *net, ser_backend *be, ser_error *err) {
    memset(net, 0, sizeof *net);
    net_impl *n = ser_calloc(1, sizeof *n, "net", err);
    if (!n) return -1;
    n->be = be;
    if (fault_parse(n, err) != 0) {
        free(n);
        return -1;
    }
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
