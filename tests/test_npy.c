/* .npy: round trips of every rank, byte-identical to what np.save wrote for a fixture, and
 * a clear error for each file it cannot read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/npy.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
}

int main(void) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/ser_test_npy_%d.npy", (int)getpid());
    ser_error e = {{0}};
    float vals[2 * 3 * 4];
    for (int i = 0; i < 24; i++) vals[i] = (float)i * 0.5f - 3.0f;

    /* Round trips: ranks 0..3 and an empty array. */
    const size_t shapes[][3] = {{0}, {24}, {4, 6}, {2, 3, 4}};
    for (int nd = 0; nd <= 3; nd++) {
        float *back;
        int nd2;
        size_t sh[SER_NPY_MAX_DIMS];
        CHECKF(ser_npy_write(path, vals, nd, shapes[nd], &e) == 0, "%s", e.msg);
        CHECKF(ser_npy_read(path, &back, &nd2, sh, &e) == 0, "%s", e.msg);
        const size_t n = ser_npy_count(nd, shapes[nd]);
        CHECK(nd2 == nd && (nd == 0 || memcmp(sh, shapes[nd], nd * sizeof(size_t)) == 0));
        CHECK(back && memcmp(back, vals, n * sizeof(float)) == 0);
        size_t len;
        char *raw = slurp(path, &len);
        CHECK(raw && (len - n * 4) % 64 == 0 && raw[len - n * 4 - 1] == '\n');
        free(raw);
        free(back);
    }
    const size_t empty[2] = {0, 40};
    float *back = (float *)1;
    int nd2;
    size_t sh[SER_NPY_MAX_DIMS];
    CHECK(ser_npy_write(path, vals, 2, empty, &e) == 0);
    CHECK(ser_npy_read(path, &back, &nd2, sh, &e) == 0 && back == NULL && nd2 == 2 && sh[0] == 0 && sh[1] == 40);

    /* Byte-identical to np.save of a float32 (40, 130) array. */
    const char *fx = getenv("SER_FIXTURES");
    if (fx) {
        char ref[4096];
        snprintf(ref, sizeof ref, "%s/mfcc/gen_chirp_mfcc.npy", fx);
        float *data;
        CHECKF(ser_npy_read(ref, &data, &nd2, sh, &e) == 0, "%s", e.msg);
        CHECK(nd2 == 2 && sh[0] == 40 && sh[1] == 130);
        CHECK(ser_npy_write(path, data, nd2, sh, &e) == 0);
        size_t la, lb;
        char *a = slurp(ref, &la), *b = slurp(path, &lb);
        CHECKF(a && b && la == lb && memcmp(a, b, la) == 0, "ser_npy_write differs from np.save");
        free(a);
        free(b);
        free(data);
    }

    /* Files it must refuse, each with the path in the message. */
    static const char F8[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    static const char FORT[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }";
    static const char SHORT[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (9,), }";
    struct { const char *bytes; size_t len; const char *why; } bad[] = {
        {"hello world", 11, "bad magic"},
        {F8, sizeof F8 - 1, "float32"},
        {FORT, sizeof FORT - 1, "Fortran"},
        {SHORT, sizeof SHORT - 1, "truncated"},
        {"\x93NUMPY\x01\x00\x40", 9, "truncated"},
    };
    char padded[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i].len > 20) { /* give the dict its declared 0x76-byte length */
            memset(padded, ' ', sizeof padded);
            memcpy(padded, bad[i].bytes, bad[i].len);
            padded[10 + 0x76 - 1] = '\n';
            spit(path, padded, 10 + 0x76);
        } else {
            spit(path, bad[i].bytes, bad[i].len);
        }
        float *d;
        CHECKF(ser_npy_read(path, &d, &nd2, sh, &e) != 0 && strstr(e.msg, bad[i].why) && strstr(e.msg, path),
               "case %zu: %s", i, e.msg);
    }
    CHECK(ser_npy_read("/nonexistent/x.npy", &back, &nd2, sh, &e) != 0 && strstr(e.msg, "/nonexistent/x.npy"));
    CHECK(ser_npy_write("/nonexistent/dir/x.npy", vals, 1, shapes[1], &e) != 0 && strstr(e.msg, "/nonexistent/dir"));
    unlink(path);
    return check_finish("test_npy");
}
