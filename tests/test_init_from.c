/* Fine-tuning (ser/init_from.h, train.freeze in ser/model.h): a network started from a model
 * file holds its tensors bit for bit; another label set starts the output layer afresh and
 * nothing else; an architecture mismatch is refused naming the first tensor that differs; under
 * train.freeze the frozen prefix (weights, Adam moments and BN moving statistics) stays
 * bit-identical through training steps and a precise-BN pass, while the rest trains. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/backend.h"
#include "ser/checkpoint.h"
#include "ser/init_from.h"
#include "ser/model.h"

#define NH 20
#define NW 16
#define NB 8

static void small_config(ser_config *cfg, int seed) {
    ser_config_defaults(cfg);
    cfg->features.n_mfcc = NH;
    cfg->features.frames = NW;
    cfg->model.conv_blocks = 2;
    cfg->model.filters = 4;
    cfg->model.lstm_units = 6;
    cfg->model.bn_momentum = 0.5; /* moving statistics that visibly move in a few steps */
    cfg->train.seed = seed;
}

static void fill_random(float *x, size_t n, unsigned *state) {
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        x[i] = (float)((*state >> 8) * 0x1p-24) * 2.0f - 1.0f;
    }
}

static int slice_equal(const ser_model *a, const ser_model *b, const char *name) {
    const ser_slice *sa = ser_model_slice(a, name), *sb = ser_model_slice(b, name);
    return sa && sb && sa->count == sb->count &&
           !memcmp(a->params + sa->offset, b->params + sb->offset, sa->count * sizeof(float));
}

/* A model file of the small recipe (seed 1) with labels a,b,c; path in tmpl. */
static void save_source(char *tmpl, ser_model *src, const char *const *labels, int n_labels) {
    ser_config cfg;
    small_config(&cfg, 1);
    ser_error err = {0};
    CHECK(ser_model_create(src, &cfg, n_labels, &err) == 0);
    /* the moving statistics away from their init values, so a copy is told from a fresh init */
    for (int i = 0; i < src->nslices; i++)
        if (!src->slices[i].trainable)
            for (size_t k = 0; k < src->slices[i].count; k++) src->params[src->slices[i].offset + k] += 0.25f + 0.01f * k;
    ser_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.cfg = cfg;
    meta.labels = (char **)labels;
    meta.n_labels = (size_t)n_labels;
    meta.scaler.mean = 1.5, meta.scaler.std = 2.5;
    int fd = mkstemp(tmpl);
    CHECK(fd >= 0);
    close(fd);
    CHECKF(ser_model_save(tmpl, src, src->params, &meta, &err) == 0, "%s", err.msg);
}

static void test_copy_and_labels(void) {
    static const char *const L3[] = {"a", "b", "c"}, *const L3b[] = {"a", "b", "d"};
    char path[] = "/tmp/ser_init_XXXXXX";
    ser_model src;
    save_source(path, &src, L3, 3);
    ser_init_model im;
    ser_error err = {0};
    CHECKF(ser_init_open(&im, path, &err) == 0, "%s", err.msg);
    CHECK(strlen(im.sha256) == 64);
    CHECK(im.meta.scaler.mean == 1.5 && im.meta.scaler.std == 2.5);

    /* same labels: every tensor copied, bit for bit, from a network of another seed */
    ser_config cfg;
    small_config(&cfg, 7);
    ser_model dst;
    CHECK(ser_model_create(&dst, &cfg, 3, &err) == 0);
    CHECK(!slice_equal(&dst, &src, "conv1.kernel"));
    int reset = -1;
    CHECKF(ser_init_apply(&im, &dst, &cfg, L3, 3, &reset, NULL, &err) == 0, "%s", err.msg);
    CHECK(reset == 0);
    for (int i = 0; i < src.nslices; i++) CHECKF(slice_equal(&dst, &src, src.slices[i].name), "%s", src.slices[i].name);
    ser_model_destroy(&dst);

    /* another label set, same count: the output layer keeps the run's own initialisation */
    CHECK(ser_model_create(&dst, &cfg, 3, &err) == 0);
    ser_model fresh;
    CHECK(ser_model_create(&fresh, &cfg, 3, &err) == 0);
    CHECK(ser_init_apply(&im, &dst, &cfg, L3b, 3, &reset, NULL, &err) == 0);
    CHECK(reset == 1);
    for (int i = 0; i < src.nslices; i++) {
        const char *n = src.slices[i].name;
        const int out = !strncmp(n, "dense.", 6);
        CHECKF(out ? slice_equal(&dst, &fresh, n) : slice_equal(&dst, &src, n), "%s", n);
    }
    CHECK(!slice_equal(&dst, &src, "dense.kernel"));
    ser_model_destroy(&dst);
    ser_model_destroy(&fresh);

    /* another class count: the dense shapes differ, still only the output layer is new */
    static const char *const L4[] = {"a", "b", "c", "e"};
    CHECK(ser_model_create(&dst, &cfg, 4, &err) == 0);
    CHECKF(ser_init_apply(&im, &dst, &cfg, L4, 4, &reset, NULL, &err) == 0, "%s", err.msg);
    CHECK(reset == 1 && slice_equal(&dst, &src, "lstm2.kernel") && slice_equal(&dst, &src, "bn2.moving_variance"));
    ser_model_destroy(&dst);

    /* architecture mismatches name the first tensor that differs */
    cfg.model.filters = 5;
    CHECK(ser_model_create(&dst, &cfg, 3, &err) == 0);
    CHECK(ser_init_apply(&im, &dst, &cfg, L3, 3, &reset, NULL, &err) != 0);
    CHECKF(strstr(err.msg, "conv1.kernel") && strstr(err.msg, "[3,3,1,4]") && strstr(err.msg, "[3,3,1,5]"), "%s", err.msg);
    ser_model_destroy(&dst);
    small_config(&cfg, 7);
    cfg.model.conv_blocks = 3;
    CHECK(ser_model_create(&dst, &cfg, 3, &err) == 0);
    CHECK(ser_init_apply(&im, &dst, &cfg, L3, 3, &reset, NULL, &err) != 0);
    CHECKF(strstr(err.msg, "conv3.kernel") != NULL, "%s", err.msg);
    ser_model_destroy(&dst);
    small_config(&cfg, 7);
    cfg.model.attention = 0;
    CHECK(ser_model_create(&dst, &cfg, 3, &err) == 0);
    CHECK(ser_init_apply(&im, &dst, &cfg, L3, 3, &reset, NULL, &err) != 0);
    CHECKF(strstr(err.msg, "attention.W") != NULL, "%s", err.msg);
    ser_model_destroy(&dst);

    /* not a model file */
    ser_init_model bad;
    CHECK(ser_init_open(&bad, "/nonexistent/model.safetensors", &err) != 0);
    CHECKF(strstr(err.msg, "/nonexistent/model.safetensors") != NULL, "%s", err.msg);
    ser_init_close(&im);
    ser_model_destroy(&src);
    unlink(path);
}

/* Trains `steps` steps on random data with train.freeze = freeze; every slice of the frozen
 * prefix (and its Adam moments) must be bit-identical afterwards, every other trainable slice
 * changed; then a precise-BN pass must keep the frozen blocks' moving statistics too. */
static void test_freeze(int freeze, const char *first_trained) {
    ser_config cfg;
    small_config(&cfg, 3);
    cfg.train.freeze = freeze;
    ser_error err = {0};
    CHECKF(ser_config_validate(&cfg, &err) == 0, "%s", err.msg);
    ser_model m;
    CHECK(ser_model_create(&m, &cfg, 3, &err) == 0);
    const ser_slice *ft = ser_model_slice(&m, first_trained);
    CHECK(ft && m.train_begin == ft->offset);
    float *before = malloc(4 * m.nparams_padded * sizeof *before);
    memcpy(before, m.params, 4 * m.nparams_padded * sizeof *before); /* params, grads, m, v */
    ser_backend *be = ser_backend_cpu_create(&m, &cfg, NB, &err);
    CHECK(be != NULL);
    static float x[NB * NH * NW];
    int32_t y[NB];
    unsigned st = 11;
    for (int s = 0; s < 4; s++) {
        fill_random(x, NB * NH * NW, &st);
        for (int b = 0; b < NB; b++) y[b] = (b + s) % 3;
        float loss = 0;
        CHECK(be->ops->forward(be, x, y, NULL, NB, 1, &loss, &err) == 0);
        CHECK(be->ops->backward(be, &err) == 0);
        CHECK(be->ops->step(be, 1e-2f, &err) == 0);
    }
    const size_t np = m.nparams_padded;
    for (int i = 0; i < m.nslices; i++) {
        const ser_slice *s = &m.slices[i];
        int block = 0;
        const int is_bn_stat = !s->trainable && sscanf(s->name, "bn%d.", &block) == 1;
        const int frozen = s->trainable ? s->offset < m.train_begin : block <= m.bn_frozen;
        const int same = !memcmp(m.params + s->offset, before + s->offset, s->count * sizeof(float));
        const int same_m = !memcmp(m.adam_m + s->offset, before + 2 * np + s->offset, s->count * sizeof(float));
        /* a conv bias before batch norm has a (numerically) zero gradient: not judged when trained */
        /* ... nor LSTM2's recurrent kernel when it runs one step from a zero state (attention) */
        const int judged = frozen || ((!strstr(s->name, ".bias") || strncmp(s->name, "conv", 4)) &&
                                      !(m.T2 == 1 && !strcmp(s->name, "lstm2.recurrent_kernel")));
        if (judged)
            CHECKF(frozen ? same && same_m : !same, "freeze %d: %s %s", freeze, s->name, frozen ? "changed" : "did not train");
        (void)is_bn_stat;
    }
    /* precise BN (the AdaBN pass over training clips) leaves the frozen blocks' statistics */
    float *mid = malloc(np * sizeof *mid);
    memcpy(mid, m.params, np * sizeof *mid);
    fill_random(x, NB * NH * NW, &st);
    for (size_t i = 0; i < (size_t)NB * NH * NW; i++) x[i] = 3.0f * x[i] + 1.0f;
    CHECK(ser_model_bn_adapt(&m, x, NB, &err) == 0);
    for (int b = 1; b <= m.blocks; b++) {
        char nm[40];
        snprintf(nm, sizeof nm, "bn%d.moving_mean", b);
        const ser_slice *s = ser_model_slice(&m, nm);
        const int same = !memcmp(m.params + s->offset, mid + s->offset, s->count * sizeof(float));
        CHECKF(b <= m.bn_frozen ? same : !same, "freeze %d: precise BN: %s", freeze, nm);
    }
    free(mid);
    free(before);
    ser_backend_destroy(be);
    ser_model_destroy(&m);
}

static void test_freeze_config(void) {
    ser_config cfg;
    small_config(&cfg, 1);
    ser_error err = {0};
    CHECK(ser_config_set(&cfg, "train.freeze=block3", &err) != 0); /* 2 blocks */
    CHECKF(strstr(err.msg, "block3") && strstr(err.msg, "2 conv block"), "%s", err.msg);
    CHECK(ser_config_set(&cfg, "train.freeze=lstm3", &err) != 0);
    CHECKF(strstr(err.msg, "lstm3") != NULL, "%s", err.msg);
    cfg.model.attention = 0;
    CHECK(ser_config_set(&cfg, "train.freeze=attention", &err) != 0);
    CHECK(ser_config_set(&cfg, "train.freeze=lstm1", &err) == 0 && cfg.train.freeze == SER_FREEZE_LSTM1);
    CHECK(ser_config_set(&cfg, "train.init_scaler=refit", &err) == 0 && cfg.train.init_scaler == SER_INIT_SCALER_REFIT);
}

int main(void) {
    test_copy_and_labels();
    test_freeze(SER_FREEZE_BLOCK1, "conv2.kernel");
    test_freeze(SER_FREEZE_BLOCK1 + 1, "lstm1.kernel");
    test_freeze(SER_FREEZE_LSTM1, "attention.W");
    test_freeze(SER_FREEZE_ATTENTION, "lstm2.kernel");
    test_freeze(SER_FREEZE_LSTM2, "dense.kernel");
    test_freeze_config();
    return check_finish("test_init_from");
}
