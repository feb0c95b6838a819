/* What every backend shares: the activation kinds of ser/backend.h (names and sizes), the
 * common fields, and the checks of a forward's targets. */
#include "ser/backend.h"

const char *const ser_act_names[SER_ACT_N] = {
    "conv", "bn_mean", "bn_rstd", "pool", "dropout", "dropout_mask", "lstm1", "attention", "attention_weights",
    "stats_pool", "lstm2", "logits", "probs",
};

int ser_act_per_block(int kind) { return kind >= SER_ACT_CONV && kind <= SER_ACT_MASK; }

size_t ser_act_count(const ser_model *m, int kind, int block, int B) {
    if (ser_act_per_block(kind) && (block < 0 || block >= m->blocks)) return 0;
    const size_t b = (size_t)B;
    const ser_block_shape *s = ser_act_per_block(kind) ? &m->blk[block] : NULL;
    switch (kind) {
    case SER_ACT_CONV: return b * s->H * s->W * m->F;
    case SER_ACT_BN_MEAN:
    case SER_ACT_BN_RSTD: return (size_t)m->F;
    case SER_ACT_POOL:
    case SER_ACT_DROP:
    case SER_ACT_MASK: return b * s->Ho * s->Wo * m->F;
    case SER_ACT_LSTM1: return b * m->T * m->U;
    case SER_ACT_ATT: return m->cfg.attention ? b * m->U : 0;
    case SER_ACT_ATT_A: return m->cfg.attention ? b * m->T : 0;
    case SER_ACT_STATS: return m->cfg.stats_pool ? b * 2 * m->U : 0;
    case SER_ACT_LSTM2: return b * m->T2 * m->U;
    case SER_ACT_LOGITS:
    case SER_ACT_PROBS: return b * m->classes;
    default: return 0;
    }
}

int ser_act_check(const ser_model *m, const char *backend, int kind, int block, int B, size_t n, ser_error *err) {
    const size_t want = ser_act_count(m, kind, block, B);
    if (want == 0 || n != want)
        return ser_fail(err, "%s backend: activation %s (block %d): %zu elements asked, %zu held", backend,
                        kind >= 0 && kind < SER_ACT_N ? ser_act_names[kind] : "?", block, n, want);
    return 0;
}

void ser_backend_init(ser_backend *be, const ser_backend_ops *ops, ser_model *m, const ser_config *cfg, int max_B) {
    be->ops = ops;
    be->model = m;
    be->max_B = max_B;
    be->beta1 = (float)cfg->train.beta1;
    be->beta2 = (float)cfg->train.beta2;
    be->eps = (float)cfg->train.adam_epsilon;
}

int ser_backend_check_targets(const char *backend, const int32_t *labels, const ser_mix *mix, int B, int C,
                              int training, ser_error *err) {
    if (training && !labels) return ser_fail(err, "%s backend: a training forward needs labels", backend);
    if (mix && !labels) return ser_fail(err, "%s backend: mixup targets without labels", backend);
    for (int i = 0; labels && i < B; i++) {
        if (labels[i] < 0 || labels[i] >= C)
            return ser_fail(err, "%s backend: label %d of sample %d not in 0..%d", backend, labels[i], i, C - 1);
        if (mix && (mix->labels2[i] < 0 || mix->labels2[i] >= C))
            return ser_fail(err, "%s backend: mixup label %d of sample %d not in 0..%d", backend, mix->labels2[i], i,
                            C - 1);
        if (mix && !(mix->lam[i] >= 0.0f && mix->lam[i] <= 1.0f))
            return ser_fail(err, "%s backend: mixup weight %g of sample %d not in [0, 1]", backend,
                            (double)mix->lam[i], i);
    }
    return 0;
}
