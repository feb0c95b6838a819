/* The CPU backend: the vtable of ser/backend.h over host/model/model.c. The model's own buffers are
 * the backend's, so upload/download are memcpy of the parameter layout. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv2d_onednn.h"
#include "ser/backend.h"

static int cpu_forward(ser_backend *be, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training,
                       float *loss, ser_error *err) {
    if (B < 1 || B > be->model->acts.B)
        return ser_fail(err, "cpu backend: batch of %d samples (reserved for %d)", B, be->model->acts.B);
    if (ser_backend_check_targets("cpu", labels, mix, B, be->model->classes, training, err) != 0) return -1;
    const float l = ser_model_forward(be->model, x, labels, mix, B, training);
    if (loss) *loss = l;
    return 0;
}

static int cpu_backward(ser_backend *be, ser_error *err) {
    if (!be->model->last_training) return ser_fail(err, "cpu backend: backward without a training forward");
    ser_model_backward(be->model);
    return 0;
}

static int cpu_step(ser_backend *be, float lr, ser_error *err) {
    (void)err;
    ser_model_step(be->model, lr, be->beta1, be->beta2, be->eps);
    return 0;
}

static int cpu_download_probs(ser_backend *be, float *probs, ser_error *err) {
    (void)err;
    memcpy(probs, be->model->acts.probs, (size_t)be->model->last_B * be->model->classes * sizeof(float));
    return 0;
}

static int cpu_upload_params(ser_backend *be, const float *params, ser_error *err) {
    (void)err;
    if (params != be->model->params) memcpy(be->model->params, params, be->model->nparams_padded * sizeof(float));
    return 0;
}

static int cpu_download_params(ser_backend *be, float *params, ser_error *err) {
    (void)err;
    if (params != be->model->params) memcpy(params, be->model->params, be->model->nparams_padded * sizeof(float));
    return 0;
}

static int cpu_download_grads(ser_backend *be, float *grads, ser_error *err) {
    (void)err;
    if (grads != be->model->grads) memcpy(grads, be->model->grads, be->model->nparams_padded * sizeof(float));
    return 0;
}

static int cpu_upload_state(ser_backend *be, const float *params, const float *adam_m, const float *adam_v,
                            ser_error *err) {
    (void)err;
    ser_model *m = be->model;
    const size_t bytes = m->nparams_padded * sizeof(float);
    if (params != m->params) memcpy(m->params, params, bytes);
    if (adam_m != m->adam_m) memcpy(m->adam_m, adam_m, bytes);
    if (adam_v != m->adam_v) memcpy(m->adam_v, adam_v, bytes);
    return 0;
}

static int cpu_download_state(ser_backend *be, float *params, float *adam_m, float *adam_v, ser_error *err) {
    (void)err;
    ser_model *m = be->model;
    const size_t bytes = m->nparams_padded * sizeof(float);
    if (params != m->params) memcpy(params, m->params, bytes);
    if (adam_m != m->adam_m) memcpy(adam_m, m->adam_m, bytes);
    if (adam_v != m->adam_v) memcpy(adam_v, m->adam_v, bytes);
    return 0;
}

static int cpu_download_act(ser_backend *be, int kind, int block, void *out, size_t n, ser_error *err) {
    ser_model *m = be->model;
    const ser_acts *a = &m->acts;
    if (ser_act_check(m, "cpu", kind, block, m->last_B, n, err)) return -1;
    const void *src = NULL;
    size_t esize = sizeof(float);
    switch (kind) {
    case SER_ACT_CONV:
        if (!a->conv[block]) { /* the fused first block's conv output is recomputed */
            ser_model_fused_conv(m, block, out);
            return 0;
        }
        src = a->conv[block];
        break;
    case SER_ACT_BN_MEAN: src = a->bn_mean[block]; break;
    case SER_ACT_BN_RSTD: src = a->bn_rstd[block]; break;
    case SER_ACT_POOL: src = a->pool[block]; break;
    case SER_ACT_DROP: src = a->drop[block]; break;
    case SER_ACT_MASK: src = a->mask[block], esize = 1; break;
    case SER_ACT_LSTM1: src = a->h1; break;
    case SER_ACT_ATT: src = a->att; break;
    case SER_ACT_ATT_A: src = a->att_a; break;
    case SER_ACT_STATS: src = a->stats; break;
    case SER_ACT_LSTM2: src = a->h2; break;
    case SER_ACT_LOGITS: src = a->logits; break;
    case SER_ACT_PROBS: src = a->probs; break;
    default: return ser_fail(err, "cpu backend: activation kind %d", kind);
    }
    memcpy(out, src, n * esize);
    return 0;
}

static void cpu_destroy(ser_backend *be) { free(be); }

static int cpu_bn_stats_begin(ser_backend *be, ser_error *err) { return ser_model_bn_stats_begin(be->model, err); }

static int cpu_bn_stats_add(ser_backend *be, const float *x, int B, ser_error *err) {
    if (!be->model->bn_stats) return ser_fail(err, "cpu backend: batch-norm statistics batch without begin");
    if (B < 1 || B > be->max_B || B > be->model->acts.B)
        return ser_fail(err, "cpu backend: batch of %d samples (reserved for %d)", B, be->max_B);
    ser_model_bn_stats_add(be->model, x, B);
    return 0;
}

static int cpu_bn_stats_end(ser_backend *be, ser_error *err) { return ser_model_bn_stats_end(be->model, err); }

static const ser_backend_ops CPU_OPS = {
    "cpu", cpu_forward, cpu_backward, cpu_step, cpu_download_probs, cpu_upload_params, cpu_download_params,
    cpu_download_grads, cpu_upload_state, cpu_download_state, cpu_download_act, cpu_destroy,
    cpu_bn_stats_begin, cpu_bn_stats_add, cpu_bn_stats_end,
};

ser_backend *ser_backend_cpu_create(ser_model *m, const ser_config *cfg, int max_B, ser_error *err) {
    if (cfg->train.threads > 0) omp_set_num_threads(cfg->train.threads);
    if (ser_model_reserve(m, max_B, err)) return NULL;
    ser_backend *be = ser_calloc(1, sizeof *be, "cpu backend", err);
    if (!be) return NULL;
    ser_backend_init(be, &CPU_OPS, m, cfg, max_B);
    snprintf(be->device, sizeof be->device, "CPU, %d OpenMP threads", omp_get_max_threads());
    return be;
}

int ser_backend_cpu_onednn(void) { return conv2d_onednn_enabled(); }

/* cpu-im2col: the CPU backend's ops with oneDNN switched off for the ops that convolve (the
 * switch is process-wide: it is restored after each op, so a CPU backend beside this one keeps
 * its own path). */
#define IM2COL(call)                            \
    do {                                        \
        const int was = conv2d_onednn_enabled(); \
        conv2d_onednn_enable(0);                \
        const int rc_ = (call);                 \
        conv2d_onednn_enable(was);              \
        return rc_;                             \
    } while (0)

static int im2col_forward(ser_backend *be, const float *x, const int32_t *labels, const ser_mix *mix, int B,
                          int training, float *loss, ser_error *err) {
    IM2COL(cpu_forward(be, x, labels, mix, B, training, loss, err));
}
static int im2col_backward(ser_backend *be, ser_error *err) { IM2COL(cpu_backward(be, err)); }
static int im2col_bn_stats_add(ser_backend *be, const float *x, int B, ser_error *err) {
    IM2COL(cpu_bn_stats_add(be, x, B, err));
}

static const ser_backend_ops CPU_IM2COL_OPS = {
    "cpu-im2col", im2col_forward, im2col_backward, cpu_step, cpu_download_probs, cpu_upload_params,
    cpu_download_params, cpu_download_grads, cpu_upload_state, cpu_download_state, cpu_download_act, cpu_destroy,
    cpu_bn_stats_begin, im2col_bn_stats_add, cpu_bn_stats_end,
};

ser_backend *ser_backend_cpu_im2col_create(ser_model *m, const ser_config *cfg, int max_B, ser_error *err) {
    ser_backend *be = ser_backend_cpu_create(m, cfg, max_B, err);
    if (!be) return NULL;
    be->ops = &CPU_IM2COL_OPS;
    snprintf(be->device, sizeof be->device, "CPU, %d OpenMP threads, convolutions on im2col + OpenBLAS",
             omp_get_max_threads());
    return be;
}
