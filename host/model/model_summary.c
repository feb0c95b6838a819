/* model.summary() in Keras's shape: one row per layer (name, output shape without the batch
 * axis, parameter count), then total / trainable / non-trainable counts. Written to
 * model_summary.txt by `ser train`. */
#include <string.h>

#include "ser/model.h"

static size_t count_prefix(const ser_model *m, const char *prefix) {
    size_t n = 0, k = strlen(prefix);
    for (int i = 0; i < m->nslices; i++)
        if (!strncmp(m->slices[i].name, prefix, k)) n += m->slices[i].count;
    return n;
}

static void row(FILE *f, const char *layer, const char *shape, size_t params) {
    fprintf(f, " %-34s %-24s %10zu\n", layer, shape, params);
}

void ser_model_summary(const ser_model *m, FILE *f) {
    char layer[64], shape[64], pre[16];
    const char *rule = "________________________________________________________________________";
    fprintf(f, "Model: \"ser\"\n%s\n %-34s %-24s %10s\n%s\n", rule, "Layer (type)", "Output Shape", "Param #",
            "========================================================================");
    snprintf(shape, sizeof shape, "(None, %d, %d, 1)", m->H, m->W);
    row(f, "input (InputLayer)", shape, 0);
    for (int i = 0; i < m->blocks; i++) {
        const ser_block_shape *b = &m->blk[i];
        snprintf(shape, sizeof shape, "(None, %d, %d, %d)", b->H, b->W, m->F);
        snprintf(layer, sizeof layer, "conv%d (Conv2D)", i + 1);
        snprintf(pre, sizeof pre, "conv%d.", i + 1);
        row(f, layer, shape, count_prefix(m, pre));
        snprintf(layer, sizeof layer, "bn%d (BatchNormalization)", i + 1);
        snprintf(pre, sizeof pre, "bn%d.", i + 1);
        row(f, layer, shape, count_prefix(m, pre));
        snprintf(layer, sizeof layer, "relu%d (Activation)", i + 1);
        row(f, layer, shape, 0);
        snprintf(shape, sizeof shape, "(None, %d, %d, %d)", b->Ho, b->Wo, m->F);
        snprintf(layer, sizeof layer, "pool%d (MaxPooling2D)", i + 1);
        row(f, layer, shape, 0);
        snprintf(layer, sizeof layer, "dropout%d (Dropout)", i + 1);
        row(f, layer, shape, 0);
    }
    if (m->cfg.time_axis) {
        const ser_block_shape *b = &m->blk[m->blocks - 1];
        snprintf(shape, sizeof shape, "(None, %d, %d, %d)", b->Wo, b->Ho, m->F);
        row(f, "permute (Permute)", shape, 0);
    }
    snprintf(shape, sizeof shape, "(None, %d, %d)", m->T, m->D);
    row(f, "flatten (TimeDistributed)", shape, 0);
    snprintf(shape, sizeof shape, "(None, %d, %d)", m->T, m->U);
    row(f, "lstm1 (LSTM)", shape, count_prefix(m, "lstm1."));
    if (m->cfg.attention) {
        snprintf(shape, sizeof shape, "(None, %d)", m->U);
        row(f, "attention (Attention)", shape, count_prefix(m, "attention."));
        if (m->cfg.stats_pool) {
            snprintf(shape, sizeof shape, "(None, %d)", 2 * m->U);
            row(f, "stats_pool (mean, std)", shape, 0);
            snprintf(shape, sizeof shape, "(None, %d)", m->I2);
            row(f, "concatenate (Concatenate)", shape, 0);
        }
        snprintf(shape, sizeof shape, "(None, 1, %d)", m->I2);
        row(f, "reshape (Reshape)", shape, 0);
    }
    snprintf(shape, sizeof shape, "(None, %d)", m->U);
    row(f, "lstm2 (LSTM)", shape, count_prefix(m, "lstm2."));
    snprintf(shape, sizeof shape, "(None, %d)", m->classes);
    row(f, "dense (Dense, softmax)", shape, count_prefix(m, "dense."));
    const size_t total = m->n_trainable + m->n_nontrainable;
    fprintf(f, "%s\n Total params: %zu (%.2f KB)\n Trainable params: %zu (%.2f KB)\n Non-trainable params: %zu (%.2f KB)\n%s\n",
            "========================================================================", total, total * 4 / 1024.0,
            m->n_trainable, m->n_trainable * 4 / 1024.0, m->n_nontrainable, m->n_nontrainable * 4 / 1024.0, rule);
}
