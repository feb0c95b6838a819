/* model.safetensors and checkpoint.safetensors: parameters by Keras name + exact metadata. */
#include "ser/checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_info.h"
#include "ser/safetensors.h"
#include "ser/speaker_warp.h"

#define SER_MODEL_FORMAT "1"

void ser_model_meta_free(ser_model_meta *meta) {
    if (!meta) return;
    for (size_t i = 0; i < meta->n_labels; i++) free(meta->labels[i]);
    free(meta->labels);
    meta->labels = NULL;
    meta->n_labels = 0;
}

/* The metadata key/values shared by both files; strings are malloc'd into store[]. */
/* META_N - 2 keys always, then ser.vtln_ref only with features.vtln and ser.init only for a run
 * started from a model; *nkv gets the count. */
enum { META_N = 10 };
static int meta_build(const ser_model_meta *meta, ser_kv *kv, char **store, int *nkv, ser_error *err) {
    memset(store, 0, META_N * sizeof *store);
    *nkv = META_N - 2;
    cJSON *labels = cJSON_CreateArray();
    for (size_t i = 0; labels && i < meta->n_labels; i++) cJSON_AddItemToArray(labels, cJSON_CreateString(meta->labels[i]));
    store[0] = labels ? cJSON_PrintUnformatted(labels) : NULL;
    cJSON_Delete(labels);
    store[1] = ser_malloc(32, "metadata", err);
    store[2] = ser_malloc(32, "metadata", err);
    store[3] = ser_config_to_json(&meta->cfg);
    /* ser.features: the audio and feature sections alone, what a user needs to reproduce the input */
    cJSON *all = store[3] ? cJSON_Parse(store[3]) : NULL, *feat = cJSON_CreateObject();
    if (all && feat) {
        cJSON_AddItemToObject(feat, "audio", cJSON_DetachItemFromObject(all, "audio"));
        cJSON_AddItemToObject(feat, "features", cJSON_DetachItemFromObject(all, "features"));
        store[4] = cJSON_PrintUnformatted(feat);
    }
    cJSON_Delete(all);
    cJSON_Delete(feat);
    if (!store[0] || !store[1] || !store[2] || !store[3] || !store[4]) return ser_fail(err, "out of memory building metadata");
    snprintf(store[1], 32, "%.17g", meta->scaler.mean);
    snprintf(store[2], 32, "%.17g", meta->scaler.std);
    kv[0] = (ser_kv){"ser.format", SER_MODEL_FORMAT};
    kv[1] = (ser_kv){"ser.labels", store[0]};
    kv[2] = (ser_kv){"ser.scaler_mean", store[1]};
    kv[3] = (ser_kv){"ser.scaler_std", store[2]};
    kv[4] = (ser_kv){"ser.config", store[3]};
    kv[5] = (ser_kv){"ser.features", store[4]};
    kv[6] = (ser_kv){"ser.version", SER_VERSION_STRING};
    kv[7] = (ser_kv){"ser.commit", SER_GIT_COMMIT};
    if (meta->cfg.features.vtln > 0) { /* the training statistics VTLN matches speakers to */
        const int H = meta->cfg.features.n_mfcc;
        cJSON *ref = H <= SER_VTLN_MAX_MFCC ? cJSON_CreateDoubleArray(meta->vtln_ref, 2 * H) : NULL;
        store[8] = ref ? cJSON_PrintUnformatted(ref) : NULL;
        cJSON_Delete(ref);
        if (!store[8]) return ser_fail(err, "out of memory building metadata (ser.vtln_ref)");
        kv[(*nkv)++] = (ser_kv){"ser.vtln_ref", store[8]};
    }
    if (meta->init_path[0]) { /* fine-tuned: what it started from */
        cJSON *init = cJSON_CreateObject();
        if (init && cJSON_AddStringToObject(init, "path", meta->init_path) &&
            cJSON_AddStringToObject(init, "sha256", meta->init_sha256))
            store[9] = cJSON_PrintUnformatted(init);
        cJSON_Delete(init);
        if (!store[9]) return ser_fail(err, "out of memory building metadata (ser.init)");
        kv[(*nkv)++] = (ser_kv){"ser.init", store[9]};
    }
    return 0;
}

static void meta_store_free(char **store) {
    for (int i = 0; i < META_N; i++) free(store[i]);
}

static int parse_double(const char *s, double *v) {
    char *end = NULL;
    if (!s) return -1;
    errno = 0;
    *v = strtod(s, &end);
    return (end == s || *end || errno == ERANGE) ? -1 : 0;
}

/* Reads the metadata common to both files into meta. */
static int meta_read(const char *path, const ser_safetensors *st, ser_model_meta *meta, ser_error *err) {
    memset(meta, 0, sizeof *meta);
    const char *fmt = ser_safetensors_meta(st, "ser.format");
    if (!fmt) return ser_fail(err, "%s: not a ser model (no ser.format in the metadata)", path);
    if (strcmp(fmt, SER_MODEL_FORMAT))
        return ser_fail(err, "%s: model format version %s, this ser reads version %s", path, fmt, SER_MODEL_FORMAT);
    const char *cfg = ser_safetensors_meta(st, "ser.config");
    if (!cfg || ser_config_from_json(&meta->cfg, cfg, err) != 0)
        return cfg ? ser_fail_wrap(err, "%s: ser.config", path) : ser_fail(err, "%s: no ser.config in the metadata", path);
    if (parse_double(ser_safetensors_meta(st, "ser.scaler_mean"), &meta->scaler.mean) ||
        parse_double(ser_safetensors_meta(st, "ser.scaler_std"), &meta->scaler.std) || !(meta->scaler.std > 0) ||
        !isfinite(meta->scaler.mean))
        return ser_fail(err, "%s: ser.scaler_mean / ser.scaler_std missing or not numbers", path);
    const char *lab = ser_safetensors_meta(st, "ser.labels");
    cJSON *arr = lab ? cJSON_Parse(lab) : NULL;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (n < 2) {
        cJSON_Delete(arr);
        return ser_fail(err, "%s: ser.labels missing or not a JSON array of at least 2 class names", path);
    }
    meta->labels = ser_calloc((size_t)n, sizeof *meta->labels, "class names", err);
    int oom = !meta->labels;
    for (int i = 0; !oom && i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsString(s)) break;
        if (!(meta->labels[i] = strdup(s->valuestring))) oom = 1;
        else meta->n_labels++;
    }
    cJSON_Delete(arr);
    if (oom) {
        ser_model_meta_free(meta);
        return ser_fail(err, "%s: out of memory reading ser.labels", path);
    }
    if ((int)meta->n_labels != n) {
        ser_model_meta_free(meta);
        return ser_fail(err, "%s: ser.labels holds a non-string entry", path);
    }
    const char *init = ser_safetensors_meta(st, "ser.init");
    if (init) {
        cJSON *o = cJSON_Parse(init);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path"), *h = cJSON_GetObjectItemCaseSensitive(o, "sha256");
        const int ok = cJSON_IsString(p) && cJSON_IsString(h) && strlen(p->valuestring) < sizeof meta->init_path &&
                       strlen(h->valuestring) < sizeof meta->init_sha256;
        if (ok) {
            strcpy(meta->init_path, p->valuestring);
            strcpy(meta->init_sha256, h->valuestring);
        }
        cJSON_Delete(o);
        if (!ok) {
            ser_model_meta_free(meta);
            return ser_fail(err, "%s: ser.init is not a JSON object with the strings path and sha256", path);
        }
    }
    if (meta->cfg.features.vtln > 0) {
        const int H = meta->cfg.features.n_mfcc;
        const char *v = ser_safetensors_meta(st, "ser.vtln_ref");
        cJSON *ref = v ? cJSON_Parse(v) : NULL;
        int ok = H <= SER_VTLN_MAX_MFCC && cJSON_IsArray(ref) && cJSON_GetArraySize(ref) == 2 * H;
        for (int i = 0; ok && i < 2 * H; i++) {
            const cJSON *e = cJSON_GetArrayItem(ref, i);
            ok = cJSON_IsNumber(e) && isfinite(e->valuedouble);
            if (ok) meta->vtln_ref[i] = e->valuedouble;
        }
        cJSON_Delete(ref);
        if (!ok) {
            ser_model_meta_free(meta);
            return ser_fail(err, "%s: features.vtln is on but ser.vtln_ref is missing or not %d numbers", path, 2 * H);
        }
    }
    return 0;
}

int ser_model_save(const char *path, const ser_model *m, const float *params, const ser_model_meta *meta,
                   ser_error *err) {
    ser_tensor t[SER_MAX_SLICES];
    for (int i = 0; i < m->nslices; i++) {
        const ser_slice *s = &m->slices[i];
        t[i].name = s->name;
        t[i].ndim = s->ndim;
        for (int d = 0; d < s->ndim; d++) t[i].shape[d] = s->shape[d];
        t[i].data = (float *)params + s->offset;
    }
    ser_kv kv[META_N];
    char *store[META_N];
    int nkv = 0;
    int rc = meta_build(meta, kv, store, &nkv, err);
    if (rc == 0) rc = ser_safetensors_write(path, t, (size_t)m->nslices, kv, (size_t)nkv, err);
    meta_store_free(store);
    return rc;
}

int ser_model_load(const char *path, ser_model *m, ser_model_meta *meta, ser_error *err) {
    ser_safetensors st;
    memset(m, 0, sizeof *m);
    if (ser_safetensors_read(path, &st, err) != 0) return -1;
    int rc = -1;
    if (meta_read(path, &st, meta, err) != 0) goto done;
    /* The file's tensors against its config's network before anything is allocated: the
     * config comes from the file, and a few bytes of it could ask for gigabytes (a crafted
     * 3 KB model made ser predict take 5 GB and minutes; kept in the fuzz_safetensors corpus). */
    if (ser_model_layout(m, &meta->cfg, (int)meta->n_labels, err) != 0) {
        ser_fail_wrap(err, "%s: cannot build its network", path);
        goto fail_meta;
    }
    if (st.ntensors != (size_t)m->nslices) {
        ser_fail(err, "%s: another architecture: %zu tensors, this config's network has %d", path, st.ntensors,
                 m->nslices);
        goto fail_meta;
    }
    for (int i = 0; i < m->nslices; i++) {
        const ser_slice *s = &m->slices[i];
        const ser_tensor *t = ser_safetensors_find(&st, s->name);
        int same = t && t->ndim == s->ndim;
        for (int d = 0; same && d < s->ndim; d++) same = t->shape[d] == s->shape[d];
        if (!same) {
            ser_fail(err, "%s: another architecture: tensor %s %s", path, s->name, t ? "has another shape" : "is missing");
            goto fail_meta;
        }
    }
    if (ser_model_create(m, &meta->cfg, (int)meta->n_labels, err) != 0) {
        ser_fail_wrap(err, "%s: cannot build its network", path);
        goto fail_meta;
    }
    for (int i = 0; i < m->nslices; i++) {
        const ser_slice *s = &m->slices[i];
        memcpy(m->params + s->offset, ser_safetensors_find(&st, s->name)->data, s->count * sizeof(float));
    }
    rc = 0;
    goto done;
fail_meta:
    ser_model_meta_free(meta);
done:
    ser_safetensors_free(&st);
    return rc;
}

/* ---- training checkpoint ------------------------------------------------------------------ */

enum { CK_N = 10 };

int ser_checkpoint_save(const char *path, const ser_train_state *st, const float *current, const float *best,
                        size_t nstate, const ser_model_meta *meta, ser_error *err) {
    ser_tensor t[2] = {{"state.current", 1, {(int64_t)nstate}, (float *)current},
                       {"state.best", 1, {(int64_t)nstate}, (float *)best}};
    ser_kv kv[META_N + CK_N];
    char *store[META_N];
    int nkv = 0;
    if (meta_build(meta, kv, store, &nkv, err) != 0) {
        meta_store_free(store);
        return -1;
    }
    char v[CK_N][40];
    snprintf(v[0], 40, "%d", st->epoch);
    snprintf(v[1], 40, "%.17g", st->lr);
    snprintf(v[2], 40, "%llu", (unsigned long long)st->step);
    snprintf(v[3], 40, "%.17g", st->es.best);
    snprintf(v[4], 40, "%d", st->es.best_epoch);
    snprintf(v[5], 40, "%d", st->es.wait);
    snprintf(v[6], 40, "%.17g", st->plateau.best);
    snprintf(v[7], 40, "%d", st->plateau.wait);
    snprintf(v[8], 40, "%d", st->es.patience);
    snprintf(v[9], 40, "%d", st->plateau.patience);
    static const char *keys[CK_N] = {"train.epoch", "train.lr", "train.step", "es.best", "es.best_epoch",
                                     "es.wait", "plateau.best", "plateau.wait", "es.patience", "plateau.patience"};
    for (int i = 0; i < CK_N; i++) kv[nkv + i] = (ser_kv){keys[i], v[i]};
    int rc = ser_safetensors_write(path, t, 2, kv, (size_t)(nkv + CK_N), err);
    meta_store_free(store);
    return rc;
}

int ser_checkpoint_load(const char *path, ser_train_state *st, float **current, float **best, size_t nstate,
                        ser_model_meta *meta, ser_error *err) {
    ser_safetensors s;
    *current = *best = NULL;
    if (ser_safetensors_read(path, &s, err) != 0) return -1;
    int rc = -1;
    if (meta_read(path, &s, meta, err) != 0) goto done;
    const ser_tensor *tc = ser_safetensors_find(&s, "state.current"), *tb = ser_safetensors_find(&s, "state.best");
    if (!tc || !tb || tc->ndim != 1 || tb->ndim != 1 || (size_t)tc->shape[0] != nstate ||
        (size_t)tb->shape[0] != nstate) {
        ser_fail(err, "%s: checkpoint state missing or of another size (expected %zu floats)", path, nstate);
        goto fail;
    }
    ser_train_state_init(st, &meta->cfg);
    double v[CK_N];
    /* The ranges a run can produce: a value outside them is a damaged file, and casting it to
     * int would be undefined (UBSan on a crafted file; kept in the fuzz_safetensors corpus). */
    static const struct {
        const char *key;
        double lo, hi;
        int whole;
    } keys[CK_N] = {{"train.epoch", 0, 1e6, 1},      {"train.lr", 0, 1e3, 0},       {"train.step", 0, 9007199254740992.0, 1},
                    {"es.best", -INFINITY, INFINITY, 0}, {"es.best_epoch", -1, 1e6, 1}, {"es.wait", 0, 1e6, 1},
                    {"plateau.best", -INFINITY, INFINITY, 0}, {"plateau.wait", 0, 1e6, 1}, {"es.patience", 0, 1e6, 1},
                    {"plateau.patience", 0, 1e6, 1}};
    for (int i = 0; i < CK_N; i++)
        if (parse_double(ser_safetensors_meta(&s, keys[i].key), &v[i]) != 0 || !(v[i] >= keys[i].lo && v[i] <= keys[i].hi) ||
            (keys[i].whole && v[i] != floor(v[i]))) {
            ser_fail(err, "%s: checkpoint key %s missing, not a number or out of range", path, keys[i].key);
            goto fail;
        }
    st->epoch = (int)v[0], st->lr = v[1], st->step = (uint64_t)v[2];
    st->es.best = v[3], st->es.best_epoch = (int)v[4], st->es.wait = (int)v[5];
    st->plateau.best = v[6], st->plateau.wait = (int)v[7];
    st->es.patience = (int)v[8], st->plateau.patience = (int)v[9];
    *current = ser_malloc(nstate * sizeof(float), "checkpoint state", err);
    *best = ser_malloc(nstate * sizeof(float), "checkpoint state", err);
    if (!*current || !*best) goto fail;
    memcpy(*current, tc->data, nstate * sizeof(float));
    memcpy(*best, tb->data, nstate * sizeof(float));
    rc = 0;
    goto done;
fail:
    free(*current), free(*best);
    *current = *best = NULL;
    ser_model_meta_free(meta);
done:
    ser_safetensors_free(&s);
    return rc;
}
