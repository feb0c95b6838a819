/* Parity with Keras (tests/fixtures/make_keras_golden.py -> tests/fixtures/keras/golden.bin):
 * the reference network at filters 16 on a 40 x 130 input, batch 4, known weights. Training
 * forward (dropout 0): logits and loss (cross-entropy + L2); backward: every weight gradient;
 * the updated BN moving statistics; then inference-mode logits. Each tensor's error is printed
 * on one line as max|a - b| / max|ref| (normalised max error), which must stay <= 1e-4 for
 * outputs and statistics, <= 1e-3 for gradients, with an absolute floor of 1e-6 (max|a - b| <=
 * 1e-6 passes): conv biases feed a batch norm, so their true gradient is 0 and both sides hold
 * float32 rounding noise of ~1e-8. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ser/model.h"

typedef struct rec {
    char name[49];
    int ndim, shape[4];
    size_t count;
    float *data;
} rec;

static rec recs[128];
static int nrecs;

static int load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char magic[4];
    int32_t n;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "SERK", 4) || fread(&n, 4, 1, f) != 1 || n > 128) {
        fclose(f);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        rec *r = &recs[i];
        int32_t hdr[5];
        memset(r->name, 0, sizeof r->name);
        if (fread(r->name, 1, 48, f) != 48 || fread(hdr, 4, 5, f) != 5) break;
        r->ndim = hdr[0];
        r->count = 1;
        for (int k = 0; k < 4; k++) {
            r->shape[k] = hdr[1 + k];
            if (k < r->ndim) r->count *= (size_t)hdr[1 + k];
        }
        r->data = malloc(r->count * sizeof(float));
        if (!r->data || fread(r->data, sizeof(float), r->count, f) != r->count) break;
        nrecs++;
    }
    fclose(f);
    return nrecs == n ? 0 : -1;
}

static const rec *find(const char *name) {
    for (int i = 0; i < nrecs; i++)
        if (!strcmp(recs[i].name, name)) return &recs[i];
    return NULL;
}

/* Prints one line and returns the normalised max error. */
static double compare(const char *what, const float *got, const rec *ref) {
    double maxd = 0.0, maxr = 0.0;
    for (size_t i = 0; i < ref->count; i++) {
        maxd = fmax(maxd, fabs((double)got[i] - ref->data[i]));
        maxr = fmax(maxr, fabs((double)ref->data[i]));
    }
    const double e = maxd <= 1e-6 ? 0.0 : maxd / maxr;
    printf("%-34s n %-7zu max|ref| %-10.3g max|diff| %-10.3g normalised %.2e%s\n", what, ref->count, maxr, maxd,
           maxr > 0 ? maxd / maxr : 0.0, maxd <= 1e-6 ? " (under the 1e-6 floor)" : "");
    return e;
}

int main(void) {
    const char *dir = getenv("SER_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/keras/golden.bin", dir ? dir : "tests/fixtures");
    CHECKF(load(path) == 0, "cannot read %s", path);
    if (!nrecs) return check_finish("test_model_keras");

    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.model.filters = 16;
    cfg.model.dropout = 0.0;
    ser_model m;
    ser_error err = {0};
    CHECK(ser_model_create(&m, &cfg, 7, &err) == 0);
    CHECK(ser_model_reserve(&m, 4, &err) == 0);
    for (int i = 0; i < m.nslices; i++) {
        const ser_slice *s = &m.slices[i];
        const rec *r = find(s->name);
        CHECKF(r && r->count == s->count, "%s missing or wrong size", s->name);
        if (r && r->count == s->count) memcpy(m.params + s->offset, r->data, s->count * sizeof(float));
    }
    const rec *x = find("input"), *lab = find("labels");
    CHECK(x && lab && x->count == 4u * 40 * 130 && lab->count == 4);
    if (!x || !lab) return check_finish("test_model_keras");
    int32_t labels[4];
    for (int i = 0; i < 4; i++) labels[i] = (int32_t)lab->data[i];

    const float loss = ser_model_forward(&m, x->data, labels, NULL, 4, 1);
    CHECK(compare("train.logits", m.acts.logits, find("train.logits")) <= 1e-4);
    CHECK(compare("train.xent", &m.last_xent, find("train.xent")) <= 1e-4);
    CHECK(compare("train.loss (xent + L2)", &loss, find("train.loss")) <= 1e-4);
    ser_model_backward(&m);
    char name[64];
    for (int i = 0; i < m.nslices; i++) {
        const ser_slice *s = &m.slices[i];
        snprintf(name, sizeof name, "%s.%s", s->trainable ? "grad" : "updated", s->name);
        const rec *r = find(name);
        CHECKF(r && r->count == s->count, "%s missing", name);
        if (!r) continue;
        const float *got = (s->trainable ? m.grads : m.params) + s->offset;
        const double e = compare(name, got, r);
        CHECKF(e <= (s->trainable ? 1e-3 : 1e-6), "%s: %.2e", name, e);
    }
    ser_model_forward(&m, x->data, NULL, NULL, 4, 0);
    CHECK(compare("infer.logits", m.acts.logits, find("infer.logits")) <= 1e-4);
    ser_model_destroy(&m);
    for (int i = 0; i < nrecs; i++) free(recs[i].data);
    return check_finish("test_model_keras");
}
