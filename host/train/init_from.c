/* ser train --init MODEL: the run's network starts from a trained model (contract in
 * ser/init_from.h). */
#define _DEFAULT_SOURCE /* realpath */
#include "ser/init_from.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

int ser_sha256_file(const char *path, char hex[65], ser_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ser_fail(err, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : ser_fail(err, "%s: SHA-256: OpenSSL init failed", path);
    unsigned char buf[1 << 16];
    for (size_t n; !rc && (n = fread(buf, 1, sizeof buf, f)) > 0;)
        if (EVP_DigestUpdate(ctx, buf, n) != 1) rc = ser_fail(err, "%s: SHA-256: OpenSSL update failed", path);
    if (!rc && ferror(f)) rc = ser_fail(err, "%s: read error", path);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!rc && (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)) rc = ser_fail(err, "%s: SHA-256: OpenSSL final failed", path);
    for (unsigned i = 0; !rc && i < len; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return rc;
}

int ser_init_open(ser_init_model *im, const char *path, ser_error *err) {
    memset(im, 0, sizeof *im);
    char *abs = realpath(path, NULL);
    if (!abs) return ser_fail(err, "--init %s: %s", path, strerror(errno));
    const size_t n = strlen(abs);
    if (n >= sizeof im->path) {
        free(abs);
        return ser_fail(err, "--init %s: path longer than %zu bytes", path, sizeof im->path - 1);
    }
    memcpy(im->path, abs, n + 1);
    free(abs);
    if (ser_model_load(im->path, &im->model, &im->meta, err) != 0) return ser_fail_wrap(err, "--init");
    im->loaded = 1;
    if (ser_sha256_file(im->path, im->sha256, err) != 0) {
        ser_init_close(im);
        return ser_fail_wrap(err, "--init");
    }
    return 0;
}

void ser_init_close(ser_init_model *im) {
    if (!im->loaded) return;
    ser_model_destroy(&im->model);
    ser_model_meta_free(&im->meta);
    im->loaded = 0;
}

static void shape_str(const ser_slice *s, char *out, size_t cap) {
    size_t k = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < s->ndim && k < cap; d++) k += (size_t)snprintf(out + k, cap - k, "%s%d", d ? "," : "", s->shape[d]);
    if (k < cap) snprintf(out + k, cap - k, "]");
}

static int same_shape(const ser_slice *a, const ser_slice *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

static int is_output_layer(const ser_slice *s) { return !strcmp(s->name, "dense.kernel") || !strcmp(s->name, "dense.bias"); }

/* The audio and feature keys whose values differ, one line each to note. */
static void note_recipe_differences(const ser_config *model, const ser_config *run, FILE *note) {
    char *ja = ser_config_to_json(model), *jb = ser_config_to_json(run);
    cJSON *a = ja ? cJSON_Parse(ja) : NULL, *b = jb ? cJSON_Parse(jb) : NULL;
    static const char *const SECTIONS[] = {"audio", "features"};
    for (int s = 0; a && b && s < 2; s++) {
        const cJSON *sa = cJSON_GetObjectItemCaseSensitive(a, SECTIONS[s]), *sb = cJSON_GetObjectItemCaseSensitive(b, SECTIONS[s]);
        for (const cJSON *ka = sa ? sa->child : NULL; ka; ka = ka->next) {
            const cJSON *kb = cJSON_GetObjectItemCaseSensitive(sb, ka->string);
            if (kb && cJSON_Compare(ka, kb, 1)) continue;
            char *va = cJSON_PrintUnformatted(ka), *vb = kb ? cJSON_PrintUnformatted(kb) : NULL;
            fprintf(note, "ser train: --init: note: %s.%s is %s in the model, %s in this recipe\n", SECTIONS[s],
                    ka->string, va ? va : "?", vb ? vb : "(absent)");
            free(va), free(vb);
        }
    }
    cJSON_Delete(a), cJSON_Delete(b);
    free(ja), free(jb);
}

/* Every tensor of dst by name and shape in the model, and no other; the output layer's shape may
 * differ when the label sets do (same_labels 0). */
static int check_arch(const ser_init_model *im, const ser_model *dst, int same_labels, ser_error *err) {
    const ser_model *src = &im->model;
    for (int i = 0; i < dst->nslices; i++) {
        const ser_slice *d = &dst->slices[i], *s = ser_model_slice(src, d->name);
        char ds[64], ss[64];
        shape_str(d, ds, sizeof ds);
        if (!s)
            return ser_fail(err, "--init %s: the architectures differ: tensor %s %s of this recipe is not in the model "
                                 "(compare model.* keys)", im->path, d->name, ds);
        shape_str(s, ss, sizeof ss);
        if (!same_shape(d, s) && !(is_output_layer(d) && !same_labels))
            return ser_fail(err, "--init %s: the architectures differ: tensor %s is %s in the model, %s in this recipe "
                                 "(compare model.* and features.* keys)", im->path, d->name, ss, ds);
    }
    for (int i = 0; i < src->nslices; i++)
        if (!ser_model_slice(dst, src->slices[i].name))
            return ser_fail(err, "--init %s: the architectures differ: tensor %s of the model is not in this recipe "
                                 "(compare model.* keys)", im->path, src->slices[i].name);
    return 0;
}

int ser_init_check(const ser_init_model *im, const ser_config *run, ser_error *err) {
    ser_model layout; /* the description alone: no allocation */
    if (ser_model_layout(&layout, run, im->model.classes, err) != 0) return -1;
    return check_arch(im, &layout, 1, err);
}

int ser_init_apply(const ser_init_model *im, ser_model *dst, const ser_config *run, const char *const *labels,
                   size_t n_labels, int *output_reset, FILE *note, ser_error *err) {
    const ser_model *src = &im->model;
    const ser_model_meta *sm = &im->meta;
    int same_labels = sm->n_labels == n_labels;
    for (size_t i = 0; same_labels && i < n_labels; i++) same_labels = !strcmp(sm->labels[i], labels[i]);
    /* the whole check first: nothing is copied into a network that turns out not to match */
    if (check_arch(im, dst, same_labels, err) != 0) return -1;
    for (int i = 0; i < dst->nslices; i++) {
        const ser_slice *d = &dst->slices[i], *s = ser_model_slice(src, d->name);
        if (is_output_layer(d) && !same_labels) continue; /* the run's seeded initialisation stays */
        memcpy(dst->params + d->offset, src->params + s->offset, d->count * sizeof(float));
    }
    /* a fresh optimiser: the model file keeps no Adam state */
    const size_t np = dst->nparams_padded;
    memset(dst->grads, 0, np * sizeof(float));
    memset(dst->adam_m, 0, np * sizeof(float));
    memset(dst->adam_v, 0, np * sizeof(float));
    dst->adam_t = 0, dst->step = 0;
    *output_reset = !same_labels;
    if (note) {
        if (!same_labels) {
            fprintf(note, "ser train: --init: the model's classes (");
            for (size_t i = 0; i < sm->n_labels; i++) fprintf(note, "%s%s", i ? "," : "", sm->labels[i]);
            fprintf(note, ") differ from this run's (");
            for (size_t i = 0; i < n_labels; i++) fprintf(note, "%s%s", i ? "," : "", labels[i]);
            fprintf(note, "): the output layer (dense.kernel, dense.bias) starts from its seeded initialisation\n");
        }
        note_recipe_differences(&sm->cfg, run, note);
    }
    return 0;
}
