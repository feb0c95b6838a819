/* The network on the CPU over ser_model's buffers: layout of parameters and activations,
 * forward (training / inference), backward of the whole network, Adam over trainable slices.
 * The layers are host/model/layers/ (one file per layer); this file only wires them (shapes in ser/model.h). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "ser/model.h"

const char *const ser_prof_names[SER_PROF_N] = {
    "conv_fwd", "bn_fwd", "relu_fwd", "pool_fwd", "dropout_fwd", "conv_bwd", "bn_bwd", "relu_bwd", "pool_bwd",
    "dropout_bwd", "rnn_fwd", "rnn_bwd", "adam",
};

/* Times one layer call into m->prof[kind][block]. */
#define TIMED(kind, block, call)                                                       \
    do {                                                                               \
        const double t0_ = omp_get_wtime();                                            \
        call;                                                                          \
        m->prof[kind][block] += omp_get_wtime() - t0_;                                 \
    } while (0)

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static void add_slice(ser_model *m, const char *name, int trainable, int ndim, int d0, int d1, int d2, int d3) {
    SER_ASSERT(m->nslices < SER_MAX_SLICES);
    ser_slice *s = &m->slices[m->nslices++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim;
    int d[4] = {d0, d1, d2, d3};
    s->count = 1;
    for (int i = 0; i < 4; i++) {
        s->shape[i] = i < ndim ? d[i] : 0;
        if (i < ndim) s->count *= (size_t)d[i];
    }
    s->trainable = trainable;
    s->offset = m->nparams_padded;
    m->nparams_padded += align_up(s->count, SER_SLICE_ALIGN);
    if (trainable) m->n_trainable += s->count;
    else m->n_nontrainable += s->count;
}

const ser_slice *ser_model_slice(const ser_model *m, const char *name) {
    for (int i = 0; i < m->nslices; i++)
        if (!strcmp(m->slices[i].name, name)) return &m->slices[i];
    return NULL;
}

/* Parameter pointer by name; the model's own wiring asserts it exists. */
static float *P(const ser_model *m, float *buf, const char *fmt, int i) {
    char name[40];
    snprintf(name, sizeof name, fmt, i);
    const ser_slice *s = ser_model_slice(m, name);
    SER_ASSERT(s != NULL);
    return buf + s->offset;
}

/* train.freeze: the first slice Adam updates and the conv blocks whose BN moving statistics stay
 * (the trainable slices are in network order, so a frozen prefix of the network is a prefix of
 * the trainable range). */
static int freeze_layout(ser_model *m, int freeze, ser_error *err) {
    m->train_begin = 0, m->bn_frozen = 0;
    if (freeze == SER_FREEZE_NONE) return 0;
    const char *first = NULL; /* the first slice left to train */
    char name[40];
    if (freeze < SER_FREEZE_LSTM1) {
        m->bn_frozen = freeze - SER_FREEZE_BLOCK1 + 1;
        if (m->bn_frozen > m->blocks)
            return ser_fail(err, "train.freeze = block%d: the network has %d conv block(s)", m->bn_frozen, m->blocks);
        snprintf(name, sizeof name, "conv%d.kernel", m->bn_frozen + 1);
        first = m->bn_frozen < m->blocks ? name : "lstm1.kernel";
    } else {
        m->bn_frozen = m->blocks;
        if (freeze == SER_FREEZE_ATTENTION && !m->cfg.attention)
            return ser_fail(err, "train.freeze = attention: the network has no attention layer");
        first = freeze == SER_FREEZE_LSTM1 ? (m->cfg.attention ? "attention.W" : "lstm2.kernel")
                : freeze == SER_FREEZE_ATTENTION ? "lstm2.kernel"
                                                 : "dense.kernel";
    }
    const ser_slice *s = ser_model_slice(m, first);
    SER_ASSERT(s && s->trainable);
    m->train_begin = s->offset;
    return 0;
}

int ser_model_layout(ser_model *m, const ser_config *cfg, int classes, ser_error *err) {
    memset(m, 0, sizeof *m);
    const ser_model_config *mc = &cfg->model;
    m->cfg = *mc;
    m->H = ser_config_rows(cfg);
    m->W = cfg->features.frames;
    m->classes = classes;
    m->blocks = mc->conv_blocks;
    m->F = mc->filters;
    m->K = mc->kernel;
    m->P = mc->pool;
    m->U = mc->lstm_units;
    m->seed = (uint64_t)cfg->train.seed;
    m->label_smoothing = (float)cfg->train.label_smoothing;
    if (classes < 2) return ser_fail(err, "model: %d classes (need at least 2)", classes);
    if (m->blocks < 1 || m->blocks > SER_MAX_BLOCKS)
        return ser_fail(err, "model.conv_blocks = %d: must be 1..%d", m->blocks, SER_MAX_BLOCKS);
    if (m->K % 2 == 0) return ser_fail(err, "model.kernel = %d: padding same needs an odd kernel", m->K);
    if (m->P < 1) return ser_fail(err, "model.pool = %d: must be >= 1", m->P);
    if (mc->dropout < 0 || mc->dropout >= 1) return ser_fail(err, "model.dropout = %g: must be in [0, 1)", mc->dropout);
    if (mc->stats_pool && !mc->attention)
        return ser_fail(err, "model.stats_pool = true needs model.attention = true (the statistics join the attention output)");

    int H = m->H, W = m->W, Cin = 1;
    for (int i = 0; i < m->blocks; i++) {
        ser_block_shape *b = &m->blk[i];
        b->H = H, b->W = W, b->Cin = Cin;
        b->Ho = (H + m->P - 1) / m->P;          /* padding same: ceil */
        b->Wo = (W + m->P - 1) / m->P;
        H = b->Ho, W = b->Wo, Cin = m->F;
    }
    m->T = mc->time_axis ? W : H;     /* time_axis: a sequence over frames */
    m->D = (mc->time_axis ? H : W) * m->F;
    m->T2 = mc->attention ? 1 : m->T;
    m->I2 = mc->stats_pool ? 3 * m->U : m->U;   /* [attention | mean | std] */

    char name[40];
    for (int i = 1; i <= m->blocks; i++) {
        const int cin = m->blk[i - 1].Cin;
#define SL(tr, nd, a, b, c, d, ...) (snprintf(name, sizeof name, __VA_ARGS__), add_slice(m, name, tr, nd, a, b, c, d))
        SL(1, 4, m->K, m->K, cin, m->F, "conv%d.kernel", i);
        SL(1, 1, m->F, 0, 0, 0, "conv%d.bias", i);
        SL(1, 1, m->F, 0, 0, 0, "bn%d.gamma", i);
        SL(1, 1, m->F, 0, 0, 0, "bn%d.beta", i);
    }
    const int U = m->U, G = 4 * m->U;
    add_slice(m, "lstm1.kernel", 1, 2, m->D, G, 0, 0);
    add_slice(m, "lstm1.recurrent_kernel", 1, 2, U, G, 0, 0);
    add_slice(m, "lstm1.bias", 1, 1, G, 0, 0, 0);
    if (mc->attention) {
        add_slice(m, "attention.W", 1, 2, U, U, 0, 0);
        add_slice(m, "attention.b", 1, 1, U, 0, 0, 0);
        add_slice(m, "attention.U", 1, 2, U, 1, 0, 0);
    }
    add_slice(m, "lstm2.kernel", 1, 2, m->I2, G, 0, 0);
    add_slice(m, "lstm2.recurrent_kernel", 1, 2, U, G, 0, 0);
    add_slice(m, "lstm2.bias", 1, 1, G, 0, 0, 0);
    add_slice(m, "dense.kernel", 1, 2, U, classes, 0, 0);
    add_slice(m, "dense.bias", 1, 1, classes, 0, 0, 0);
    m->n_trainable_padded = m->nparams_padded;   /* trainable slices first: Adam is one call */
    for (int i = 1; i <= m->blocks; i++) {
        SL(0, 1, m->F, 0, 0, 0, "bn%d.moving_mean", i);
        SL(0, 1, m->F, 0, 0, 0, "bn%d.moving_variance", i);
    }
#undef SL
    return freeze_layout(m, cfg->train.freeze, err);
}

int ser_model_create(ser_model *m, const ser_config *cfg, int classes, ser_error *err) {
    if (ser_model_layout(m, cfg, classes, err) != 0) return -1;
    /* params | grads | adam_m | adam_v: one 64-byte-aligned allocation */
    const size_t n = m->nparams_padded;
    m->params = aligned_alloc(64, align_up(4 * n * sizeof(float), 64));
    if (!m->params) return ser_fail(err, "model: out of memory for %zu parameters", n);
    memset(m->params, 0, 4 * n * sizeof(float));
    m->grads = m->params + n;
    m->adam_m = m->grads + n;
    m->adam_v = m->adam_m + n;
    if (ser_model_init_params(m, m->seed, err) != 0) {
        ser_model_destroy(m);
        return -1;
    }
    return 0;
}

void ser_model_destroy(ser_model *m) {
    free(m->params);
    free(m->arena);
    free(m->bn_stats);
    memset(m, 0, sizeof *m);
}

/* ---- activation arena ---------------------------------------------------------------------- */

int ser_model_block_fused(const ser_model *m, int i) {
    const ser_block_shape *b = &m->blk[i];
    return i == 0 && conv_bn_relu_pool_fits(b->W, b->Cin, m->F, m->K, m->P);
}

void ser_model_fused_conv(const ser_model *m, int i, float *out) {
    SER_ASSERT(ser_model_block_fused(m, i) && m->last_x && m->last_B >= 1);
    const ser_block_shape *b = &m->blk[i];
    conv_rows_forward(out, m->last_x, P(m, m->params, "conv%d.kernel", i + 1), P(m, m->params, "conv%d.bias", i + 1),
                      m->last_B, b->H, b->W, b->Cin, m->F, m->K);
}

/* Carves the arena: when base is NULL only counts bytes. Every piece 64-byte aligned. */
static size_t layout_acts(ser_model *m, ser_acts *a, char *base, int B) {
    size_t off = 0;
#define TAKE(ptr, type, count)                                                         \
    do {                                                                               \
        (ptr) = base ? (type *)(base + off) : NULL;                                    \
        off += align_up((size_t)(count) * sizeof(type), 64);                           \
    } while (0)
    const int F = m->F, U = m->U, C = m->classes;
    size_t gmax = (size_t)B * m->T * m->D, colmax = 0;
    for (int i = 0; i < m->blocks; i++) {
        const ser_block_shape *b = &m->blk[i];
        const size_t n = (size_t)B * b->H * b->W * F, no = (size_t)B * b->Ho * b->Wo * F;
        const int fused = ser_model_block_fused(m, i);
        TAKE(a->conv[i], float, fused ? 0 : n);
        if (fused) a->conv[i] = NULL; /* recomputed, never stored */
        TAKE(a->bn_mean[i], float, F);
        TAKE(a->bn_rstd[i], float, F);
        TAKE(a->pool[i], float, no);
        TAKE(a->argmax[i], int32_t, no);
        TAKE(a->xsel[i], float, no);
        TAKE(a->drop[i], float, no);
        TAKE(a->mask[i], uint8_t, no);
        if (fused) continue; /* no (B,H,W,F) gradient, no im2col */
        if (n > gmax) gmax = n;
        const size_t cs = conv2d_col_size(B, b->H, b->W, b->Cin, m->K);
        if (cs > colmax) colmax = cs;
    }
    TAKE(a->moments, double, ser_model_block_fused(m, 0) ? conv_bn_moments_size(m->blk[0].Cin, m->K) : 0);
    TAKE(a->seq, float, m->cfg.time_axis ? (size_t)B * m->T * m->D : 0);
    TAKE(a->h1, float, (size_t)B * m->T * U);
    TAKE(a->c1, float, (size_t)B * m->T * U);
    TAKE(a->g1, float, (size_t)B * m->T * 4 * U);
    TAKE(a->att, float, (size_t)B * U);
    TAKE(a->att_u, float, (size_t)B * m->T * U);
    TAKE(a->att_a, float, (size_t)B * m->T);
    const size_t sp = m->cfg.stats_pool ? (size_t)B : 0; /* the statistics-pooling buffers: none when off */
    TAKE(a->stats, float, sp * 2 * U);
    TAKE(a->x2cat, float, sp * 3 * U);
    TAKE(a->h2, float, (size_t)B * m->T2 * U);
    TAKE(a->c2, float, (size_t)B * m->T2 * U);
    TAKE(a->g2, float, (size_t)B * m->T2 * 4 * U);
    TAKE(a->h2last, float, (size_t)B * U);
    TAKE(a->logits, float, (size_t)B * C);
    TAKE(a->probs, float, (size_t)B * C);
    TAKE(a->labels, int32_t, B);
    TAKE(a->labels2, int32_t, B);
    TAKE(a->lam, float, B);
    TAKE(a->gA, float, gmax);
    TAKE(a->gB, float, gmax);
    TAKE(a->col, float, colmax);
    size_t ls1 = lstm_scratch_size(B, m->T, m->D, U), ls2 = lstm_scratch_size(B, m->T2, m->I2, U);
    TAKE(a->lstm_scratch, float, ls1 > ls2 ? ls1 : ls2);
    TAKE(a->dh2, float, (size_t)B * m->T2 * U);
    TAKE(a->dx2, float, (size_t)B * m->T2 * m->I2);
    TAKE(a->datt, float, sp * U);
    TAKE(a->dstats, float, sp * 2 * U);
    TAKE(a->dh1, float, (size_t)B * m->T * U);
    TAKE(a->dlogits, float, (size_t)B * C);
    TAKE(a->dh2last, float, (size_t)B * U);
#undef TAKE
    a->B = B;
    a->bytes = off;
    return off;
}

size_t ser_model_arena_bytes(const ser_model *m, int B) {
    ser_acts a;
    return layout_acts((ser_model *)m, &a, NULL, B);
}

int ser_model_reserve(ser_model *m, int max_B, ser_error *err) {
    if (max_B < 1) return ser_fail(err, "model: batch size %d", max_B);
    if (m->arena && m->acts.B >= max_B) return 0;
    free(m->arena);
    m->arena = NULL;
    const size_t bytes = layout_acts(m, &m->acts, NULL, max_B);
    m->arena = aligned_alloc(64, bytes);
    if (!m->arena) return ser_fail(err, "model: out of memory for a %zu-byte activation arena (batch %d)", bytes, max_B);
    /* zero once so padding bytes and unused tails are deterministic */
    memset(m->arena, 0, bytes);
    layout_acts(m, &m->acts, m->arena, max_B);
    return 0;
}

/* ---- forward / backward / step --------------------------------------------------------------- */

/* A block whose conv is recomputed (host/model/layers/conv_bn_relu_pool.c): statistics pass (timed as
 * bn_fwd), then conv + BN + ReLU + pool [+ dropout] (timed as pool_fwd; the conv has no pass of
 * its own). Returns the block's output. */
static const float *block_fused_forward(ser_model *m, int i, const float *in, const float *kernel, const float *bias,
                                        int B, int training) {
    ser_acts *a = &m->acts;
    const ser_block_shape *b = &m->blk[i];
    const int F = m->F;
    const float rate = (float)m->cfg.dropout;
    float *w = m->params;
    float sc[F], sh[F];
    const double tbn = omp_get_wtime();
    if (training)
        conv_bn_stats_train(sc, sh, a->bn_mean[i], a->bn_rstd[i], P(m, w, "bn%d.moving_mean", i + 1),
                            P(m, w, "bn%d.moving_variance", i + 1), a->moments, in, kernel, bias, P(m, w, "bn%d.gamma", i + 1),
                            P(m, w, "bn%d.beta", i + 1), B, b->H, b->W, b->Cin, F, m->K,
                            ser_model_bn_momentum(m, i), (float)m->cfg.bn_epsilon);
    else
        batchnorm_affine_infer(sc, sh, P(m, w, "bn%d.gamma", i + 1), P(m, w, "bn%d.beta", i + 1),
                               P(m, w, "bn%d.moving_mean", i + 1), P(m, w, "bn%d.moving_variance", i + 1), F,
                               (float)m->cfg.bn_epsilon);
    m->prof[SER_PROF_BN_F][i] += omp_get_wtime() - tbn;
    const int dropped = training && rate > 0.0f;
    TIMED(SER_PROF_POOL_F, i, conv_bn_relu_pool_forward(dropped ? a->drop[i] : NULL, a->mask[i], a->pool[i], a->argmax[i],
                                                        a->xsel[i], in, kernel, bias, sc, sh, B, b->H, b->W, b->Cin,
                                                        F, m->K, m->P, rate, m->seed, m->step, (uint32_t)i));
    return dropped ? a->drop[i] : a->pool[i];
}

float ser_model_forward(ser_model *m, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training) {
    SER_ASSERT(m->arena && B >= 1 && B <= m->acts.B);
    ser_acts *a = &m->acts;
    const int F = m->F, U = m->U, C = m->classes;
    const float rate = (float)m->cfg.dropout;
    float *w = m->params;
    const float *in = x;
    double l2 = 0.0;
    for (int i = 0; i < m->blocks; i++) {
        const ser_block_shape *b = &m->blk[i];
        const size_t n = (size_t)B * b->H * b->W * F;
        const float *kernel = P(m, w, "conv%d.kernel", i + 1), *bias = P(m, w, "conv%d.bias", i + 1);
        const int fused = ser_model_block_fused(m, i);
        if (!training && m->bn_acc && i == m->bn_acc_block) { /* AdaBN statistics pass: nothing after this */
            const float *conv = a->conv[i];
            if (fused) { /* the fused block never stores its conv output: compute it into the pass's buffer */
                conv_rows_forward(m->bn_acc_conv, in, kernel, bias, B, b->H, b->W, b->Cin, F, m->K);
                conv = m->bn_acc_conv;
            } else {
                conv2d_forward(a->conv[i], a->col, in, kernel, bias, B, b->H, b->W, b->Cin, F, m->K);
            }
            batchnorm_accumulate(m->bn_acc, m->bn_acc + F, conv, m->bn_acc_shift, (int)(n / F), F);
            m->bn_acc_rows += (long long)(n / F);
            m->last_B = B, m->last_training = 0, m->last_x = x, m->last_loss = m->last_xent = 0.0f;
            return 0.0f;
        }
        if (fused) {
            in = block_fused_forward(m, i, in, kernel, bias, B, training);
            l2 += l2_forward(kernel, (size_t)m->K * m->K * b->Cin * F, (float)m->cfg.l2);
            continue;
        }
        TIMED(SER_PROF_CONV_F, i, conv2d_forward(a->conv[i], a->col, in, kernel, bias, B, b->H, b->W, b->Cin, F, m->K));
        /* BN + ReLU + pool fused: the (B,H,W,F) BN/ReLU output is never written */
        const double tbn = omp_get_wtime();
        float sc[F], sh[F];
        if (training)
            batchnorm_stats_train(sc, sh, a->bn_mean[i], a->bn_rstd[i], P(m, w, "bn%d.moving_mean", i + 1),
                                  P(m, w, "bn%d.moving_variance", i + 1), a->conv[i], P(m, w, "bn%d.gamma", i + 1),
                                  P(m, w, "bn%d.beta", i + 1), (int)(n / F), F, ser_model_bn_momentum(m, i),
                                  (float)m->cfg.bn_epsilon);
        else
            batchnorm_affine_infer(sc, sh, P(m, w, "bn%d.gamma", i + 1), P(m, w, "bn%d.beta", i + 1),
                                   P(m, w, "bn%d.moving_mean", i + 1), P(m, w, "bn%d.moving_variance", i + 1), F,
                                   (float)m->cfg.bn_epsilon);
        m->prof[SER_PROF_BN_F][i] += omp_get_wtime() - tbn;
        if (training && rate > 0.0f) { /* dropout fused too: its time counts as pool_fwd */
            TIMED(SER_PROF_POOL_F, i, bn_relu_pool_dropout_forward(a->drop[i], a->mask[i], a->pool[i], a->argmax[i], a->xsel[i],
                                                                  a->conv[i], sc, sh, B, b->H, b->W, F, m->P, rate,
                                                                  m->seed, m->step, (uint32_t)i));
            in = a->drop[i];
        } else {
            TIMED(SER_PROF_POOL_F, i, bn_relu_pool_forward(a->pool[i], a->argmax[i], a->xsel[i], a->conv[i], sc, sh, B,
                                                          b->H, b->W, F, m->P));
            in = a->pool[i];
        }
        l2 += l2_forward(kernel, (size_t)m->K * m->K * b->Cin * F, (float)m->cfg.l2);
    }
    const float *seq = in; /* (B, T, D) */
    const double trnn = omp_get_wtime();
    if (m->cfg.time_axis) {
        const ser_block_shape *b = &m->blk[m->blocks - 1];
        permute_hw_forward(a->seq, in, B, b->Ho, b->Wo, F);
        seq = a->seq;
    }
    lstm_forward(a->h1, a->c1, a->g1, seq, P(m, w, "lstm1.kernel", 0), P(m, w, "lstm1.recurrent_kernel", 0),
                 P(m, w, "lstm1.bias", 0), B, m->T, m->D, U);
    const float *x2 = a->h1; /* (B, T2, U) */
    if (m->cfg.attention) {
        attention_forward(a->att, a->att_u, a->att_a, a->h1, P(m, w, "attention.W", 0), P(m, w, "attention.b", 0),
                          P(m, w, "attention.U", 0), B, m->T, U, U);
        x2 = a->att;
    }
    if (m->cfg.stats_pool) { /* LSTM2's step = [attention | mean | std] (B, 3U) */
        stats_pool_forward(a->stats, a->h1, B, m->T, U, SER_STATS_POOL_EPS);
        concat_cols(a->x2cat, a->att, U, a->stats, 2 * U, B);
        x2 = a->x2cat;
    }
    lstm_forward(a->h2, a->c2, a->g2, x2, P(m, w, "lstm2.kernel", 0), P(m, w, "lstm2.recurrent_kernel", 0),
                 P(m, w, "lstm2.bias", 0), B, m->T2, m->I2, U);
    for (int s = 0; s < B; s++)
        memcpy(a->h2last + (size_t)s * U, a->h2 + ((size_t)s * m->T2 + m->T2 - 1) * U, (size_t)U * sizeof(float));
    dense_forward(a->logits, a->h2last, P(m, w, "dense.kernel", 0), P(m, w, "dense.bias", 0), B, U, C);
    m->prof[SER_PROF_RNN_F][m->blocks] += omp_get_wtime() - trnn;
    float xent = 0.0f;
    if (labels) {
        memcpy(a->labels, labels, (size_t)B * sizeof(int32_t));
        ser_mix_targets(labels, mix, B, a->labels2, a->lam);
        xent = softmax_xent_forward(a->probs, a->logits, labels, a->labels2, a->lam, B, C, m->label_smoothing);
    } else {
        softmax_xent_forward(a->probs, a->logits, NULL, NULL, NULL, B, C, 0.0f);
    }
    m->last_B = B;
    m->last_training = training;
    m->last_x = x;
    m->last_xent = xent;
    m->last_loss = labels ? (float)(xent + l2) : 0.0f;
    if (training) m->step++;
    return m->last_loss;
}

void ser_model_backward(ser_model *m) {
    SER_ASSERT(m->last_training && m->last_B >= 1);
    ser_acts *a = &m->acts;
    const int B = m->last_B, F = m->F, U = m->U, C = m->classes;
    const float rate = (float)m->cfg.dropout;
    float *w = m->params, *g = m->grads;
    memset(g, 0, m->n_trainable_padded * sizeof(float));
    const double trnn = omp_get_wtime();

    softmax_xent_backward(a->dlogits, a->probs, a->labels, a->labels2, a->lam, B, C, m->label_smoothing);
    dense_backward(a->dh2last, P(m, g, "dense.kernel", 0), P(m, g, "dense.bias", 0), a->dlogits, a->h2last,
                   P(m, w, "dense.kernel", 0), B, U, C);
    /* LSTM2 returns only its last step: dh is zero elsewhere */
    memset(a->dh2, 0, (size_t)B * m->T2 * U * sizeof(float));
    for (int s = 0; s < B; s++)
        memcpy(a->dh2 + ((size_t)s * m->T2 + m->T2 - 1) * U, a->dh2last + (size_t)s * U, (size_t)U * sizeof(float));
    const float *x2 = m->cfg.stats_pool ? a->x2cat : m->cfg.attention ? a->att : a->h1;
    float *dx2 = m->cfg.attention ? a->dx2 : a->dh1;
    lstm_backward(dx2, P(m, g, "lstm2.kernel", 0), P(m, g, "lstm2.recurrent_kernel", 0), P(m, g, "lstm2.bias", 0),
                  a->lstm_scratch, a->dh2, x2, a->h2, a->c2, a->g2, P(m, w, "lstm2.kernel", 0),
                  P(m, w, "lstm2.recurrent_kernel", 0), B, m->T2, m->I2, U);
    const float *datt = a->dx2;
    if (m->cfg.stats_pool) { /* d[attention | mean | std] -> d(attention) (B,U), d(stats) (B,2U) */
        split_cols(a->datt, U, a->dstats, 2 * U, a->dx2, B);
        datt = a->datt;
    }
    if (m->cfg.attention) /* writes dh1 */
        attention_backward(a->dh1, P(m, g, "attention.W", 0), P(m, g, "attention.b", 0), P(m, g, "attention.U", 0),
                           datt, a->h1, a->att_u, a->att_a, P(m, w, "attention.W", 0), P(m, w, "attention.U", 0),
                           B, m->T, U, U);
    if (m->cfg.stats_pool) /* adds to dh1: LSTM1's outputs feed both */
        stats_pool_backward(a->dh1, a->dstats, a->stats, a->h1, B, m->T, U);
    const int last = m->blocks - 1;
    const int dropped = rate > 0.0f;
    const float *seq = m->cfg.time_axis ? a->seq : dropped ? a->drop[last] : a->pool[last];
    /* d(seq) -> gA (time_axis: -> gB, permuted back into gA); then per block (from the last):
     * gA = d(block output) */
    lstm_backward(m->cfg.time_axis ? a->gB : a->gA, P(m, g, "lstm1.kernel", 0), P(m, g, "lstm1.recurrent_kernel", 0), P(m, g, "lstm1.bias", 0),
                  a->lstm_scratch, a->dh1, seq, a->h1, a->c1, a->g1, P(m, w, "lstm1.kernel", 0),
                  P(m, w, "lstm1.recurrent_kernel", 0), B, m->T, m->D, U);
    if (m->cfg.time_axis) permute_hw_backward(a->gA, a->gB, B, m->blk[last].Ho, m->blk[last].Wo, F);
    m->prof[SER_PROF_RNN_B][m->blocks] += omp_get_wtime() - trnn;
    for (int i = last; i >= 0; i--) {
        const ser_block_shape *b = &m->blk[i];
        /* gA = d(block output) (after dropout); dconv -> gB; din -> gA, free once gA is consumed */
        const float *in = i == 0 ? m->last_x : (dropped ? a->drop[i - 1] : a->pool[i - 1]);
        float *kernel = P(m, w, "conv%d.kernel", i + 1), *dkernel = P(m, g, "conv%d.kernel", i + 1);
        if (ser_model_block_fused(m, i)) { /* one pass, timed as conv_bwd; no din: it is block 1 */
            SER_ASSERT(i == 0);
            const double tc = omp_get_wtime();
            conv_bn_relu_pool_backward(dkernel, P(m, g, "conv%d.bias", i + 1), P(m, g, "bn%d.gamma", i + 1),
                                       P(m, g, "bn%d.beta", i + 1), a->gA, dropped ? a->mask[i] : NULL,
                                       dropped ? rate : 0.0f, a->pool[i], a->argmax[i], a->xsel[i], a->moments, in, kernel,
                                       P(m, w, "conv%d.bias", i + 1), a->bn_mean[i], a->bn_rstd[i],
                                       P(m, w, "bn%d.gamma", i + 1), B, b->H, b->W, b->Cin, F, m->K, m->P);
            l2_backward(dkernel, kernel, (size_t)m->K * m->K * b->Cin * F, (float)m->cfg.l2);
            m->prof[SER_PROF_CONV_B][i] += omp_get_wtime() - tc;
            continue;
        }
        float *dconv = a->gB;
        TIMED(SER_PROF_POOL_B, i, bn_relu_pool_backward(dconv, P(m, g, "bn%d.gamma", i + 1), P(m, g, "bn%d.beta", i + 1), a->gA,
                                                       dropped ? a->mask[i] : NULL, dropped ? rate : 0.0f, a->pool[i],
                                                       a->argmax[i], a->xsel[i], a->conv[i], a->bn_mean[i],
                                                       a->bn_rstd[i], P(m, w, "bn%d.gamma", i + 1), B, b->H, b->W, F, m->P));
        float *din = i == 0 ? NULL : a->gA;
        const double tc = omp_get_wtime();
        conv2d_backward(din, dkernel, P(m, g, "conv%d.bias", i + 1), a->col, dconv, in, kernel, B, b->H, b->W,
                        b->Cin, F, m->K);
        l2_backward(dkernel, kernel, (size_t)m->K * m->K * b->Cin * F, (float)m->cfg.l2);
        m->prof[SER_PROF_CONV_B][i] += omp_get_wtime() - tc;
    }
}

void ser_model_step(ser_model *m, float lr, float beta1, float beta2, float eps) {
    const double t0 = omp_get_wtime();
    m->adam_t++;
    /* the trainable slices are one range; their padding has zero gradients, so it stays zero;
     * a frozen prefix (train.freeze) is left out: its parameters and moments stay as they are */
    const size_t b = m->train_begin;
    adam_update(m->params + b, m->adam_m + b, m->adam_v + b, m->grads + b, m->n_trainable_padded - b, lr, beta1, beta2,
                eps, m->adam_t);
    m->prof[SER_PROF_ADAM][m->blocks] += omp_get_wtime() - t0;
}

double ser_model_train_flops(const ser_model *m, int B) {
    /* GEMM-like work only (conv, LSTM, dense): forward 1x, backward 2x (input + weight grads) */
    double mac = 0.0;
    for (int i = 0; i < m->blocks; i++) {
        const ser_block_shape *b = &m->blk[i];
        mac += (double)B * b->H * b->W * m->K * m->K * b->Cin * m->F;
    }
    mac += (double)B * m->T * (m->D + m->U) * 4 * m->U;
    mac += (double)B * m->T2 * (m->I2 + m->U) * 4 * m->U;
    mac += (double)B * m->U * m->classes;
    return 2.0 * 3.0 * mac;
}
