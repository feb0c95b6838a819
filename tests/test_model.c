/* The whole network on the CPU: shapes and the parameter layout of the reference config,
 * initialiser statistics, a finite-difference gradient check of every parameter slice on a
 * small config, and bit-identical weights after N Adam steps from the same seed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ser/backend.h"
#include "ser/model.h"

static void fill_random(float *x, size_t n, unsigned *state) {
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        x[i] = (float)((*state >> 8) * 0x1p-24) * 2.0f - 1.0f;
    }
}

/* The summary of the reference network, byte for byte: tests/fixtures/model_summary/reference.txt
 * (its layer parameter counts are Keras's, derived in tests/fixtures/README.md). */
static void check_summary_golden(const ser_model *m) {
    const char *fixtures = getenv("SER_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/model_summary/reference.txt", fixtures ? fixtures : "tests/fixtures");
    FILE *g = fopen(path, "rb");
    CHECKF(g != NULL, "%s: cannot open the golden summary", path);
    if (!g) return;
    char want[8192], got[8192];
    const size_t nw = fread(want, 1, sizeof want - 1, g);
    fclose(g);
    want[nw] = 0;
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return;
    ser_model_summary(m, f);
    rewind(f);
    const size_t ng = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[ng] = 0;
    size_t at = 0, line = 1;
    while (at < nw && at < ng && want[at] == got[at]) line += want[at++] == '\n';
    CHECKF(nw == ng && at == nw, "model summary differs from %s at line %zu:\n--- got\n%s--- want\n%s", path, line, got, want);
}

static void test_reference_shapes(void) {
    ser_config cfg;
    ser_config_defaults(&cfg);
    ser_model m;
    ser_error err = {0};
    CHECK(ser_model_create(&m, &cfg, 7, &err) == 0);
    CHECK(m.T == 3 && m.D == 576 && m.blk[3].Ho == 3 && m.blk[3].Wo == 9);
    CHECK(m.blk[0].Ho == 20 && m.blk[0].Wo == 65 && m.blk[1].Ho == 10 && m.blk[1].Wo == 33);
    CHECKF(m.n_trainable + m.n_nontrainable == 200039, "total %zu", m.n_trainable + m.n_nontrainable);
    CHECK(m.n_nontrainable == 512);
    /* the layout contract (ser/model.h): offsets in floats, 64-byte aligned, trainable first */
    CHECK(ser_model_slice(&m, "conv2.kernel")->offset == 768);
    CHECK(ser_model_slice(&m, "lstm1.kernel")->offset == 111936);
    CHECK(ser_model_slice(&m, "attention.U")->offset == 190944);
    CHECK(ser_model_slice(&m, "dense.bias")->offset == 199520);
    CHECK(ser_model_slice(&m, "bn1.moving_mean")->offset == 199536 && m.n_trainable_padded == 199536);
    CHECK(ser_model_slice(&m, "bn4.moving_variance")->offset == 199984 && m.nparams_padded == 200048);
    const ser_slice *s = ser_model_slice(&m, "lstm1.kernel");
    CHECK(s && s->shape[0] == 576 && s->shape[1] == 128);
    s = ser_model_slice(&m, "conv2.kernel");
    CHECK(s && s->ndim == 4 && s->shape[2] == 64 && s->shape[3] == 64);
    CHECK(ser_model_slice(&m, "bn3.moving_variance") && !ser_model_slice(&m, "bn3.moving_variance")->trainable);
    CHECK(ser_model_slice(&m, "dense.kernel")->shape[1] == 7);
    for (int i = 0; i < m.nslices; i++) {
        CHECK(m.slices[i].offset % SER_SLICE_ALIGN == 0);
        CHECK(m.slices[i].trainable == (m.slices[i].offset < m.n_trainable_padded));
        if (i) CHECK(m.slices[i].offset >= m.slices[i - 1].offset + m.slices[i - 1].count);
    }
    /* initialisers: orthogonal recurrent kernel has orthonormal rows; forget bias 1; glorot range */
    s = ser_model_slice(&m, "lstm1.recurrent_kernel");
    const float *r = m.params + s->offset;
    double maxdev = 0.0;
    for (int a = 0; a < 32; a++)
        for (int b = 0; b < 32; b++) {
            double d = 0.0;
            for (int k = 0; k < 128; k++) d += (double)r[a * 128 + k] * r[b * 128 + k];
            maxdev = fmax(maxdev, fabs(d - (a == b)));
        }
    CHECKF(maxdev < 1e-5, "orthogonality %g", maxdev);
    const float *bias = m.params + ser_model_slice(&m, "lstm2.bias")->offset;
    CHECK(bias[0] == 0.0f && bias[32] == 1.0f && bias[63] == 1.0f && bias[64] == 0.0f);
    s = ser_model_slice(&m, "conv2.kernel");
    const float limit = (float)sqrt(6.0 / (9 * 64 + 9 * 64));
    float mx = 0.0f;
    for (size_t i = 0; i < s->count; i++) mx = fmaxf(mx, fabsf(m.params[s->offset + i]));
    CHECK(mx <= limit && mx > 0.9f * limit);
    CHECK(m.params[ser_model_slice(&m, "bn1.moving_variance")->offset] == 1.0f);
    check_summary_golden(&m);
    /* attention off: LSTM2 over the sequence */
    cfg.model.attention = 0;
    ser_model m2;
    CHECK(ser_model_create(&m2, &cfg, 7, &err) == 0);
    CHECK(m2.T2 == 3 && !ser_model_slice(&m2, "attention.W"));
    ser_model_destroy(&m2);
    /* statistics pooling needs the attention it sits beside */
    cfg.model.stats_pool = 1;
    CHECK(ser_model_create(&m2, &cfg, 7, &err) == -1 && strstr(err.msg, "model.stats_pool"));
    CHECK(ser_config_validate(&cfg, &err) == -1 && strstr(err.msg, "model.stats_pool"));
    /* with attention: LSTM2 reads [attention | mean | std], 3U wide; nothing before it moves */
    cfg.model.attention = 1;
    CHECK(ser_model_create(&m2, &cfg, 7, &err) == 0);
    const ser_slice *k2 = ser_model_slice(&m2, "lstm2.kernel");
    CHECK(m2.I2 == 96 && k2->shape[0] == 96 && k2->shape[1] == 128);
    CHECK(ser_model_slice(&m2, "attention.U")->offset == ser_model_slice(&m, "attention.U")->offset);
    CHECK(m2.n_trainable == m.n_trainable + 64 * 128);
    CHECK(m.I2 == 32 && ser_model_slice(&m, "lstm2.kernel")->shape[0] == 32);
    ser_model_destroy(&m2);
    cfg.model.stats_pool = 0;
    ser_model_destroy(&m);
    /* bad config */
    cfg.model.kernel = 4;
    CHECK(ser_model_create(&m2, &cfg, 7, &err) == -1 && strstr(err.msg, "model.kernel"));
}

static void small_config(ser_config *cfg, int attention, int time_axis, int stats_pool) {
    ser_config_defaults(cfg);
    cfg->features.n_mfcc = 36;   /* 18, 9, 5, 3: T = 3, odd pooling */
    cfg->features.frames = 18;   /* 9, 5, 3, 2: D = 8 */
    cfg->model.filters = 4;
    cfg->model.lstm_units = 5;
    cfg->model.dropout = 0.0;
    cfg->model.attention = attention;
    cfg->model.time_axis = time_axis;   /* T = 2 frames, D = 3 * 4 */
    cfg->model.stats_pool = stats_pool; /* LSTM2 input 3U = 15 */
}

/* Central differences of the training loss against backward(), for a sample of elements of
 * every trainable slice. Loss in float32: h 1e-3 (5e-3 crosses too many ReLU / max-pool kinks in conv1), bound 1e-3 + 2e-2 |g|. Points where the
 * difference at h and at h/2 disagree straddle a ReLU or max-pool kink and are skipped (counted). */
static void test_gradcheck(int attention, int time_axis, int stats_pool) {
    ser_config cfg;
    small_config(&cfg, attention, time_axis, stats_pool);
    ser_model m;
    ser_error err = {0};
    CHECK(ser_model_create(&m, &cfg, 3, &err) == 0);
    CHECK(ser_model_reserve(&m, 3, &err) == 0);
    CHECK(m.T == (time_axis ? 2 : 3) && m.D == (time_axis ? 3 : 2) * 4);
    const int B = 3;
    float x[3 * 36 * 18];
    unsigned st = 7;
    fill_random(x, sizeof x / sizeof x[0], &st);
    int32_t labels[3] = {0, 2, 1};
    ser_model_forward(&m, x, labels, NULL, B, 1);
    ser_model_backward(&m);
    float *g = malloc(m.nparams_padded * sizeof(float));
    memcpy(g, m.grads, m.nparams_padded * sizeof(float));
    int bad_total = 0, checked = 0, kinks_total = 0;
    for (int si = 0; si < m.nslices; si++) {
        const ser_slice *s = &m.slices[si];
        if (!s->trainable) continue;
        double maxerr = 0.0;
        int bad = 0, kinks = 0;
        const size_t stride = s->count > 24 ? s->count / 24 : 1;
        for (size_t e = 0; e < s->count; e += stride) {
            float *p = m.params + s->offset + e;
            const float keep = *p;
            double fd2[2];
            for (int k = 0; k < 2; k++) {
                const float h = k ? 5e-4f : 1e-3f;
                *p = keep + h;
                const double lp = ser_model_forward(&m, x, labels, NULL, B, 1);
                *p = keep - h;
                const double lm = ser_model_forward(&m, x, labels, NULL, B, 1);
                *p = keep;
                fd2[k] = (lp - lm) / (double)((keep + h) - (keep - h));
            }
            const double fd = fd2[1], an = g[s->offset + e], bound = 1e-3 + 2e-2 * fabs(an);
            if (fabs(fd2[0] - fd2[1]) > bound) {
                kinks++;
                continue;
            }
            const double d = fabs(fd - an);
            if (d > bound) {
                bad++;
                printf("  %s[%zu]: fd %.6g (h/2) %.6g (h) grad %.6g\n", s->name, e, fd, fd2[0], an);
            }
            maxerr = fmax(maxerr, d);
            checked++;
        }
        printf("gradcheck %-24s max |fd - grad| %.2e  bad %d  kinks skipped %d\n", s->name, maxerr, bad, kinks);
        bad_total += bad;
        kinks_total += kinks;
    }
    CHECKF(kinks_total * 10 < checked, "%d kinks of %d", kinks_total, checked);
    CHECKF(bad_total == 0, "%d of %d sampled gradients off (attention %d, time_axis %d, stats_pool %d)", bad_total,
           checked, attention, time_axis, stats_pool);
    free(g);
    ser_model_destroy(&m);
}

/* Same seed, same threads: bit-identical parameters after 4 Adam steps with dropout on. */
static void run_steps(float *out, size_t *n) {
    ser_config cfg;
    small_config(&cfg, 1, 0, 0);
    cfg.model.dropout = 0.2;

    ser_model m;
    ser_error err = {0};
    CHECK(ser_model_create(&m, &cfg, 3, &err) == 0);
    ser_backend *be = ser_backend_cpu_create(&m, &cfg, 8, &err);
    CHECK(be != NULL);
    float x[8 * 36 * 18];
    int32_t labels[8];
    unsigned st = 11;
    for (int step = 0; step < 4; step++) {
        fill_random(x, sizeof x / sizeof x[0], &st);
        for (int i = 0; i < 8; i++) labels[i] = (i + step) % 3;
        float loss = 0;
        CHECK(be->ops->forward(be, x, labels, NULL, 8, 1, &loss, &err) == 0 && isfinite(loss));
        CHECK(be->ops->backward(be, &err) == 0);
        CHECK(be->ops->step(be, 1e-2f, &err) == 0);
    }
    *n = m.nparams_padded;
    be->ops->download_params(be, out, &err);
    ser_backend_destroy(be);
    ser_model_destroy(&m);
}

static void test_determinism(void) {
    static float a[1 << 16], b[1 << 16];
    size_t na = 0, nb = 0;
    run_steps(a, &na);
    run_steps(b, &nb);
    CHECK(na == nb && na < (1 << 16));
    CHECK(memcmp(a, b, na * sizeof(float)) == 0);
    ser_config cfg;
    small_config(&cfg, 1, 0, 0);
    ser_model m;
    ser_error err = {0};
    ser_model_create(&m, &cfg, 3, &err);
    CHECK(memcmp(a, m.params, 64) != 0);   /* the steps did move the weights */
    ser_model_destroy(&m);
}

int main(void) {
    test_reference_shapes();
    test_gradcheck(1, 0, 0);
    test_gradcheck(0, 0, 0);
    test_gradcheck(1, 1, 0);
    test_gradcheck(1, 0, 1);
    test_determinism();
    return check_finish("test_model");
}
