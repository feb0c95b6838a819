/* safetensors: round trip, a file made by Python's library, and every corruption the reader
 * must refuse with a clear error (the reason in the message, never a crash). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/safetensors.h"

static char dir[] = "/tmp/ser_test_st_XXXXXX";

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* Writes a file from a JSON header (padded to 8) and raw data bytes. */
static void write_raw(const char *path, const char *json, const void *data, size_t ndata) {
    size_t h = strlen(json), padded = (h + 7) & ~(size_t)7;
    uint64_t n = padded;
    FILE *f = fopen(path, "wb");
    fwrite(&n, 8, 1, f);
    fwrite(json, 1, h, f);
    for (size_t i = h; i < padded; i++) fputc(' ', f);
    if (ndata) fwrite(data, 1, ndata, f);
    fclose(f);
}

/* Reads path and checks that it fails with a message containing want. */
static void expect_error(const char *path, const char *want) {
    ser_safetensors st;
    ser_error err = {{0}};
    int rc = ser_safetensors_read(path, &st, &err);
    CHECKF(rc == -1, "%s: read should fail (%s)", path, want);
    CHECKF(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    CHECKF(strstr(err.msg, path) != NULL, "message '%s' lacks the path", err.msg);
    if (rc == 0) ser_safetensors_free(&st);
}

static void expect_raw_error(const char *name, const char *json, size_t ndata, const char *want) {
    char p[512];
    float data[16] = {0};
    path_in(p, sizeof p, name);
    write_raw(p, json, data, ndata);
    expect_error(p, want);
}

static void test_round_trip(void) {
    float w[6], b[3] = {1.0f, -2.0f, 0.5f}, none[1] = {0};
    for (int i = 0; i < 6; i++) w[i] = (float)i / 8.0f;
    ser_tensor t[3] = {{"layer.w", 2, {2, 3}, w}, {"layer.b", 1, {3}, b}, {"empty", 2, {0, 4}, none}};
    ser_kv meta[2] = {{"ser.version", "0.1.0"}, {"ser.labels", "[\"a\",\"b\"]"}};
    char p[512];
    path_in(p, sizeof p, "rt.safetensors");
    ser_error err = {{0}};
    CHECKF(ser_safetensors_write(p, t, 3, meta, 2, &err) == 0, "%s", err.msg);

    /* Header length: the data section starts 8-byte aligned; no temporary file left behind. */
    FILE *f = fopen(p, "rb");
    uint64_t hlen = 0;
    CHECK(f && fread(&hlen, 8, 1, f) == 1);
    if (f) fclose(f);
    CHECK(hlen % 8 == 0);
    DIR *d = opendir(dir);
    int others = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp")) others++;
    if (d) closedir(d);
    CHECK(others == 0);

    ser_safetensors st;
    CHECKF(ser_safetensors_read(p, &st, &err) == 0, "%s", err.msg);
    CHECK(st.ntensors == 3 && st.nmeta == 2);
    const ser_tensor *rw = ser_safetensors_find(&st, "layer.w"), *rb = ser_safetensors_find(&st, "layer.b");
    const ser_tensor *re = ser_safetensors_find(&st, "empty");
    CHECK(rw && rw->ndim == 2 && rw->shape[0] == 2 && rw->shape[1] == 3 && !memcmp(rw->data, w, sizeof w));
    CHECK(rb && rb->ndim == 1 && rb->shape[0] == 3 && !memcmp(rb->data, b, sizeof b));
    CHECK(re && re->ndim == 2 && re->shape[0] == 0 && ser_tensor_numel(re) == 0);
    CHECK(ser_safetensors_find(&st, "nope") == NULL);
    const char *v = ser_safetensors_meta(&st, "ser.labels");
    CHECK(v && !strcmp(v, "[\"a\",\"b\"]"));
    CHECK(ser_safetensors_meta(&st, "nope") == NULL);
    ser_safetensors_free(&st);

    /* Python's own reader, when it is installed (optional: the committed fixture below is
     * the required cross-check). */
    const char *fx = getenv("SER_FIXTURES");
    if (fx && system("python3 -c 'import safetensors, numpy' >/dev/null 2>&1") == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "python3 %s/safetensors/check_safetensors.py %s", fx, p);
        CHECKF(system(cmd) == 0, "%s", cmd);
    } else {
        printf("note: python safetensors not installed, skipping the Python-side check\n");
    }

    /* Bad writes: duplicate names, a folder that does not exist. */
    ser_tensor dup[2] = {{"x", 1, {3}, b}, {"x", 1, {3}, b}};
    CHECK(ser_safetensors_write(p, dup, 2, NULL, 0, &err) == -1 && strstr(err.msg, "duplicate"));
    CHECK(ser_safetensors_write("/nonexistent-dir/m.safetensors", t, 1, NULL, 0, &err) == -1 &&
          strstr(err.msg, "/nonexistent-dir/m.safetensors"));
}

static void test_python_fixture(void) {
    const char *fx = getenv("SER_FIXTURES");
    if (!fx) {
        CHECKF(0, "SER_FIXTURES is not set");
        return;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/safetensors/tiny.safetensors", fx);
    ser_safetensors st;
    ser_error err = {{0}};
    CHECKF(ser_safetensors_read(p, &st, &err) == 0, "%s", err.msg);
    if (err.msg[0]) return;
    const ser_tensor *k = ser_safetensors_find(&st, "conv/kernel"), *b = ser_safetensors_find(&st, "conv/bias");
    const ser_tensor *s = ser_safetensors_find(&st, "step");
    CHECK(k && k->ndim == 4 && k->shape[0] == 3 && k->shape[1] == 3 && k->shape[2] == 1 && k->shape[3] == 2);
    for (int i = 0; k && i < 18; i++) CHECKF(k->data[i] == (float)i * 0.5f - 4.0f, "kernel[%d] = %g", i, k->data[i]);
    CHECK(b && b->ndim == 1 && b->shape[0] == 2 && b->data[0] == 0.25f && b->data[1] == -1.5f);
    CHECK(s && s->ndim == 0 && ser_tensor_numel(s) == 1 && s->data[0] == 3.0f);
    const char *lab = ser_safetensors_meta(&st, "ser.labels"), *note = ser_safetensors_meta(&st, "note");
    CHECK(lab && !strcmp(lab, "[\"angry\",\"sad\"]"));
    CHECK(note && !strcmp(note, "made by safetensors.numpy"));
    ser_safetensors_free(&st);

    snprintf(p, sizeof p, "%s/safetensors/tiny_f16.safetensors", fx);
    expect_error(p, "dtype F16 is not supported");
}

static void test_corruptions(void) {
    char p[512], q[512];
    /* A valid file to cut and patch. */
    float w[4] = {1, 2, 3, 4};
    ser_tensor t[1] = {{"w", 1, {4}, w}};
    ser_error err = {{0}};
    path_in(p, sizeof p, "ok.safetensors");
    CHECKF(ser_safetensors_write(p, t, 1, NULL, 0, &err) == 0, "%s", err.msg);
    FILE *f = fopen(p, "rb");
    unsigned char buf[512];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);

    path_in(q, sizeof q, "cut5.safetensors");
    f = fopen(q, "wb"), fwrite(buf, 1, 5, f), fclose(f);
    expect_error(q, "truncated");

    path_in(q, sizeof q, "cutdata.safetensors");
    f = fopen(q, "wb"), fwrite(buf, 1, n - 4, f), fclose(f);
    expect_error(q, "truncated?");

    path_in(q, sizeof q, "cuthdr.safetensors");
    f = fopen(q, "wb"), fwrite(buf, 1, 20, f), fclose(f);
    expect_error(q, "not safetensors or truncated");

    path_in(q, sizeof q, "wav.safetensors");
    f = fopen(q, "wb"), fwrite("RIFF\x24\x00\x00\x00WAVEfmt ", 1, 16, f), fclose(f);
    expect_error(q, "not safetensors or truncated");

    path_in(q, sizeof q, "notjson.safetensors");
    memcpy(buf + 8, "[", 1);
    f = fopen(q, "wb"), fwrite(buf, 1, n, f), fclose(f);
    expect_error(q, "not safetensors");

    path_in(q, sizeof q, "empty.safetensors");
    f = fopen(q, "wb"), fclose(f);
    expect_error(q, "truncated");

    path_in(q, sizeof q, "missing.safetensors");
    expect_error(q, "cannot open");

    expect_raw_error("gap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                     "leaves a gap");
    expect_raw_error("overlap.safetensors",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps");
    expect_raw_error("span.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                     "shape needs 12");
    expect_raw_error("beyond.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                     "beyond the data section");
    expect_raw_error("extra.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                     "tensors cover 4");
    expect_raw_error("negoff.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 0,
                     "bad data_offsets");
    expect_raw_error("reversed.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
                     "bad data_offsets");
    expect_raw_error("negshape.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                     "shape[0]");
    expect_raw_error("i64.safetensors", "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                     "dtype I64 is not supported");
    expect_raw_error("nodtype.safetensors", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing dtype");
    expect_raw_error("meta.safetensors", "{\"__metadata__\":{\"k\":3}}", 0, "metadata 'k' is not a string");
    expect_raw_error("trailing.safetensors", "{}xyz", 0, "not safetensors");
    expect_raw_error("dupe.safetensors",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate entry 'a'");
    expect_raw_error("array.safetensors", "{\"a\":[1,2]}", 0, "not a JSON object");

    /* An empty header is a valid file with no tensors. */
    path_in(q, sizeof q, "none.safetensors");
    write_raw(q, "{}", NULL, 0);
    ser_safetensors st;
    CHECKF(ser_safetensors_read(q, &st, &err) == 0, "%s", err.msg);
    CHECK(st.ntensors == 0 && st.nmeta == 0);
    ser_safetensors_free(&st);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_python_fixture();
    test_corruptions();
    int rc = check_finish("safetensors");
    if (rc == 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
    }
    return rc;
}
