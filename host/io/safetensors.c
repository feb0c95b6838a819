/* safetensors writer and validating reader (F32 only). The header is built and parsed with
 * cJSON; the data section is the tensors' raw little-endian floats, back to back. */
#include "ser/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader/writer copies it as is"
#endif

/* The reference implementation refuses headers above 100 MB: so do we. */
#define ST_MAX_HEADER (100u * 1000u * 1000u)

size_t ser_tensor_numel(const ser_tensor *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

/* ---- writing ---------------------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync of the folder holding path, so that the rename itself is durable. */
static void fsync_parent(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    int fd = open(dirname(tmp), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static char *build_header(const char *path, const ser_tensor *t, size_t nt, const ser_kv *meta,
                          size_t nmeta, size_t *data_bytes, ser_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return ser_fail(err, "%s: out of memory building the header", path), NULL;
    if (nmeta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; m && i < nmeta; i++) {
            if (!meta[i].key || !meta[i].value || cJSON_GetObjectItemCaseSensitive(m, meta[i].key)) {
                cJSON_Delete(root);
                return ser_fail(err, "%s: metadata entry %zu: missing or duplicate key/value", path, i), NULL;
            }
            cJSON_AddStringToObject(m, meta[i].key, meta[i].value);
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < nt; i++) {
        const char *name = t[i].name;
        if (!name || !*name || !strcmp(name, "__metadata__") || cJSON_GetObjectItemCaseSensitive(root, name) ||
            t[i].ndim < 0 || t[i].ndim > SER_TENSOR_MAXDIM || !t[i].data) {
            cJSON_Delete(root);
            return ser_fail(err, "%s: tensor %zu ('%s'): empty, reserved or duplicate name, bad ndim or no data",
                            path, i, name ? name : "(null)"), NULL;
        }
        cJSON *o = cJSON_AddObjectToObject(root, name);
        cJSON_AddStringToObject(o, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].shape[d] < 0) {
                cJSON_Delete(root);
                return ser_fail(err, "%s: tensor '%s': negative dimension", path, name), NULL;
            }
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].shape[d]));
        }
        size_t bytes = ser_tensor_numel(&t[i]) * sizeof(float);
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return ser_fail(err, "%s: out of memory printing the header", path), NULL;
    *data_bytes = off;
    return json;
}

int ser_safetensors_write(const char *path, const ser_tensor *tensors, size_t ntensors,
                          const ser_kv *meta, size_t nmeta, ser_error *err) {
    size_t data_bytes = 0;
    char *json = build_header(path, tensors, ntensors, meta, nmeta, &data_bytes, err);
    if (!json) return -1;
    /* Pad with spaces so that the data section starts 8-byte aligned, like the reference. */
    size_t hlen = strlen(json), padded = (hlen + 7) & ~(size_t)7;
    char *header = ser_malloc(8 + padded, "safetensors header", err);
    if (!header) {
        free(json);
        return -1;
    }
    uint64_t n = padded;
    memcpy(header, &n, 8);
    memcpy(header + 8, json, hlen);
    memset(header + 8 + hlen, ' ', padded - hlen);
    free(json);

    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) {
        free(header);
        return ser_fail(err, "%s: path too long", path);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(header);
        return ser_fail(err, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
    }
    int rc = write_all(fd, header, 8 + padded);
    for (size_t i = 0; rc == 0 && i < ntensors; i++)
        rc = write_all(fd, tensors[i].data, ser_tensor_numel(&tensors[i]) * sizeof(float));
    int saved = errno;
    free(header);
    if (rc == 0 && fsync(fd) != 0) rc = -1, saved = errno;
    if (close(fd) != 0 && rc == 0) rc = -1, saved = errno;
    if (rc == 0) chmod(tmp, 0644); /* mkstemp makes 0600; a model is shared like any file */
    if (rc == 0 && rename(tmp, path) != 0) rc = -1, saved = errno;
    if (rc != 0) {
        unlink(tmp);
        return ser_fail(err, "%s: write failed: %s", path, strerror(saved));
    }
    fsync_parent(path);
    return 0;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int read_all(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A JSON number that is a non-negative integer below 2^53 (exact in a double). */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || floor(d) != d) return -1;
    *out = (uint64_t)d;
    return 0;
}

typedef struct st_entry {
    const cJSON *item;
    uint64_t begin, end;
} st_entry;

static int cmp_entry(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Checks one tensor entry and fills shape / offsets. */
static int parse_entry(const char *path, const cJSON *it, ser_tensor *t, st_entry *e, ser_error *err) {
    const char *name = it->string;
    if (!cJSON_IsObject(it)) return ser_fail(err, "%s: tensor '%s': entry is not a JSON object", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsString(dtype)) return ser_fail(err, "%s: tensor '%s': missing dtype", path, name);
    if (strcmp(dtype->valuestring, "F32"))
        return ser_fail(err, "%s: tensor '%s': dtype %s is not supported (ser reads F32 only)", path, name,
                        dtype->valuestring);
    if (!cJSON_IsArray(shape)) return ser_fail(err, "%s: tensor '%s': missing shape", path, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > SER_TENSOR_MAXDIM)
        return ser_fail(err, "%s: tensor '%s': %d dimensions (at most %d)", path, name, nd, SER_TENSOR_MAXDIM);
    t->ndim = nd;
    uint64_t numel = 1;
    for (int d = 0; d < nd; d++) {
        uint64_t v;
        if (json_uint(cJSON_GetArrayItem(shape, d), &v) || v > (1ull << 40))
            return ser_fail(err, "%s: tensor '%s': shape[%d] is not a valid dimension", path, name, d);
        t->shape[d] = (int64_t)v;
        numel *= v;
        if (numel > (1ull << 40)) return ser_fail(err, "%s: tensor '%s': shape too large", path, name);
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || json_uint(cJSON_GetArrayItem(offs, 0), &e->begin) ||
        json_uint(cJSON_GetArrayItem(offs, 1), &e->end) || e->end < e->begin)
        return ser_fail(err, "%s: tensor '%s': bad data_offsets (want [begin, end], 0 <= begin <= end)", path, name);
    if (e->end - e->begin != numel * 4)
        return ser_fail(err, "%s: tensor '%s': data_offsets span %llu bytes but shape needs %llu (F32)", path, name,
                        (unsigned long long)(e->end - e->begin), (unsigned long long)(numel * 4));
    e->item = it;
    return 0;
}

/* Validates the parsed header against a data section of data_size bytes and fills st
 * (everything but the data itself). */
static int parse_header(const char *path, const cJSON *root, uint64_t data_size, ser_safetensors *st,
                        st_entry **entries_out, ser_error *err) {
    if (!cJSON_IsObject(root)) return ser_fail(err, "%s: not safetensors (header is not a JSON object)", path);
    size_t nt = 0, nm = 0, strbytes = 0;
    const cJSON *meta = NULL;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!it->string) return ser_fail(err, "%s: not safetensors (header entry without a name)", path);
        for (const cJSON *o = root->child; o != it; o = o->next)
            if (!strcmp(o->string, it->string)) return ser_fail(err, "%s: duplicate entry '%s' in the header", path, it->string);
        if (!strcmp(it->string, "__metadata__")) {
            if (!cJSON_IsObject(it)) return ser_fail(err, "%s: __metadata__ is not a JSON object", path);
            meta = it;
            for (const cJSON *kv = it->child; kv; kv = kv->next) {
                if (!cJSON_IsString(kv))
                    return ser_fail(err, "%s: metadata '%s' is not a string", path, kv->string ? kv->string : "");
                strbytes += strlen(kv->string) + strlen(kv->valuestring) + 2;
                nm++;
            }
        } else {
            strbytes += strlen(it->string) + 1;
            nt++;
        }
    }
    st->tensors = ser_calloc(nt, sizeof *st->tensors, "safetensors tensor list", err);
    st->meta = ser_calloc(nm, sizeof *st->meta, "safetensors metadata", err);
    st->strings_ = ser_malloc(strbytes, "safetensors names", err);
    st_entry *e = ser_calloc(nt, sizeof *e, "safetensors offsets", err);
    if (!st->tensors || !st->meta || !st->strings_ || !e) return free(e), -1;
    char *s = st->strings_;
    if (meta)
        for (const cJSON *kv = meta->child; kv; kv = kv->next, st->nmeta++) {
            size_t lk = strlen(kv->string) + 1, lv = strlen(kv->valuestring) + 1;
            st->meta[st->nmeta].key = memcpy(s, kv->string, lk), s += lk;
            st->meta[st->nmeta].value = memcpy(s, kv->valuestring, lv), s += lv;
        }
    for (const cJSON *it = root->child; it; it = it->next) {
        if (it == meta) continue;
        ser_tensor *t = &st->tensors[st->ntensors];
        if (parse_entry(path, it, t, &e[st->ntensors], err)) return free(e), -1;
        size_t l = strlen(it->string) + 1;
        t->name = memcpy(s, it->string, l), s += l;
        st->ntensors++;
    }
    /* The data section must be exactly the tensors, back to back, in offset order. */
    qsort(e, nt, sizeof *e, cmp_entry);
    uint64_t at = 0;
    for (size_t i = 0; i < nt; i++) {
        if (e[i].begin != at) {
            const char *why = e[i].begin < at ? "overlaps the previous tensor" : "leaves a gap before it";
            int r = ser_fail(err, "%s: tensor '%s': bad data_offsets [%llu, %llu]: %s", path, e[i].item->string,
                             (unsigned long long)e[i].begin, (unsigned long long)e[i].end, why);
            return free(e), r;
        }
        if (e[i].end > data_size) {
            int r = ser_fail(err, "%s: tensor '%s': data_offsets end %llu beyond the data section (%llu bytes): truncated?",
                             path, e[i].item->string, (unsigned long long)e[i].end, (unsigned long long)data_size);
            return free(e), r;
        }
        at = e[i].end;
    }
    if (at != data_size) {
        int r = ser_fail(err, "%s: data section is %llu bytes but the tensors cover %llu", path,
                         (unsigned long long)data_size, (unsigned long long)at);
        return free(e), r;
    }
    *entries_out = e;
    return 0;
}

int ser_safetensors_read(const char *path, ser_safetensors *st, ser_error *err) {
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ser_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ser_fail(err, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size, hlen = 0;
    if (size < 8 || read_all(fd, &hlen, 8)) {
        close(fd);
        return ser_fail(err, "%s: truncated: %llu bytes, a safetensors file starts with an 8-byte header length",
                        path, (unsigned long long)size);
    }
    if (hlen > ST_MAX_HEADER || hlen + 8 > size) {
        close(fd);
        return ser_fail(err, "%s: not safetensors or truncated: header length %llu but the file has %llu bytes",
                        path, (unsigned long long)hlen, (unsigned long long)size);
    }
    char *hdr = ser_malloc(hlen, "safetensors header", err);
    if (!hdr) {
        close(fd);
        return ser_fail_wrap(err, "%s", path);
    }
    if (read_all(fd, hdr, hlen)) {
        free(hdr);
        close(fd);
        return ser_fail(err, "%s: cannot read the %llu-byte header", path, (unsigned long long)hlen);
    }
    const char *end = NULL;
    cJSON *root = hlen && hdr[0] == '{' ? cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0) : NULL;
    /* Only padding (spaces) may follow the JSON object. */
    for (const char *p = end; root && p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
            cJSON_Delete(root);
            root = NULL;
        }
    free(hdr);
    if (!root) {
        close(fd);
        return ser_fail(err, "%s: not safetensors: the header is not a JSON object", path);
    }
    uint64_t data_size = size - 8 - hlen;
    st_entry *e = NULL;
    int rc = parse_header(path, root, data_size, st, &e, err);
    if (rc == 0) {
        st->data_ = ser_malloc(data_size, "safetensors data", err);
        if (!st->data_) rc = -1;
        else if (read_all(fd, st->data_, data_size))
            rc = ser_fail(err, "%s: cannot read the %llu-byte data section", path, (unsigned long long)data_size);
    }
    /* Point each tensor at its bytes; every offset is a multiple of 4 since spans are. */
    for (size_t i = 0; rc == 0 && i < st->ntensors; i++) {
        const cJSON *it = e[i].item;
        for (size_t j = 0; j < st->ntensors; j++)
            if (!strcmp(st->tensors[j].name, it->string)) st->tensors[j].data = st->data_ + e[i].begin / 4;
    }
    free(e);
    cJSON_Delete(root);
    close(fd);
    if (rc) ser_safetensors_free(st);
    return rc;
}

const ser_tensor *ser_safetensors_find(const ser_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->ntensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *ser_safetensors_meta(const ser_safetensors *st, const char *key) {
    for (size_t i = 0; i < st->nmeta; i++)
        if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
    return NULL;
}

void ser_safetensors_free(ser_safetensors *st) {
    free(st->tensors);
    free(st->meta);
    free(st->strings_);
    free(st->data_);
    memset(st, 0, sizeof *st);
}
