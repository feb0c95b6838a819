/* .npy float32 read/write. Format (numpy/lib/format.py): "\x93NUMPY", major, minor, header
 * length (uint16 LE in 1.0, uint32 LE in 2.0/3.0), then an ASCII Python dict
 * "{'descr': '<f4', 'fortran_order': False, 'shape': (N, 40, 130), }" padded with spaces and a
 * final '\n' so that the data starts at a multiple of 64 bytes, then the raw values. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ser/npy.h"

static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

size_t ser_npy_count(int ndim, const size_t *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int ser_npy_write(const char *path, const float *data, int ndim, const size_t *shape, ser_error *err) {
    SER_ASSERT(ndim >= 0 && ndim <= SER_NPY_MAX_DIMS);
    const uint16_t probe = 1;
    SER_ASSERT(*(const uint8_t *)&probe == 1); /* the data is written as it lies: little endian */

    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++)
        len += snprintf(dict + len, sizeof dict - len, "%zu%s", shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
    len += snprintf(dict + len, sizeof dict - len, "), }");
    /* Pad with spaces to 64-byte alignment of the data, the last byte a newline. */
    const int total = 10 + len + 1;
    const int padded = (total + 63) / 64 * 64;
    const int hlen = padded - 10;
    char header[640];
    SER_ASSERT(padded <= (int)sizeof header);
    memcpy(header, MAGIC, 6);
    header[6] = 1;
    header[7] = 0;
    header[8] = (char)(hlen & 0xff);
    header[9] = (char)(hlen >> 8);
    memcpy(header + 10, dict, (size_t)len);
    memset(header + 10 + len, ' ', (size_t)(hlen - len - 1));
    header[padded - 1] = '\n';

    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ser_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return ser_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
    const size_t count = ser_npy_count(ndim, shape);
    int ok = fwrite(header, 1, (size_t)padded, f) == (size_t)padded;
    if (ok && count) ok = fwrite(data, sizeof(float), count, f) == count;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        int e = errno;
        unlink(tmp);
        return ser_fail(err, "%s: write failed: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ser_fail(err, "%s: cannot rename %s into place: %s", path, tmp, strerror(e));
    }
    return 0;
}

/* Finds 'key': in the header dict and returns a pointer just past the colon and spaces. */
static const char *dict_value(const char *dict, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(dict, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    return p;
}

int ser_npy_read(const char *path, float **data, int *ndim, size_t shape[SER_NPY_MAX_DIMS], ser_error *err) {
    *data = NULL;
    *ndim = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ser_fail(err, "%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    char *dict = NULL;
    int rc = -1;
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, MAGIC, 6) != 0) {
        ser_fail(err, "%s: not a .npy file (bad magic)", path);
        goto out;
    }
    size_t hlen;
    if (pre[6] == 1) {
        if (fread(pre + 8, 1, 2, f) != 2) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 8, 1, 4, f) != 4) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        ser_fail(err, "%s: unsupported .npy format version %d.%d", path, pre[6], pre[7]);
        goto out;
    }
    if (hlen > (1u << 20)) {
        ser_fail(err, "%s: .npy header of %zu bytes is not plausible", path, hlen);
        goto out;
    }
    dict = malloc(hlen + 1);
    if (!dict) {
        ser_fail(err, "%s: out of memory for the header", path);
        goto out;
    }
    if (fread(dict, 1, hlen, f) != hlen) goto truncated;
    dict[hlen] = '\0';

    const char *v = dict_value(dict, "descr");
    if (!v || strncmp(v, "'<f4'", 5) != 0) {
        ser_fail(err, "%s: dtype is not little-endian float32 ('<f4')", path);
        goto out;
    }
    v = dict_value(dict, "fortran_order");
    if (!v || strncmp(v, "False", 5) != 0) {
        ser_fail(err, "%s: Fortran-order arrays are not supported", path);
        goto out;
    }
    v = dict_value(dict, "shape");
    if (!v || *v != '(') {
        ser_fail(err, "%s: no shape in the .npy header", path);
        goto out;
    }
    v++;
    int nd = 0;
    for (;;) {
        while (*v == ' ' || *v == ',') v++;
        if (*v == ')') break;
        char *end;
        errno = 0;
        unsigned long long d = strtoull(v, &end, 10);
        if (end == v || errno || nd == SER_NPY_MAX_DIMS) {
            ser_fail(err, "%s: bad or too many (> %d) shape entries in the .npy header", path, SER_NPY_MAX_DIMS);
            goto out;
        }
        shape[nd++] = (size_t)d;
        v = end;
        if (*v == 'L') v++; /* Python 2 longs */
    }
    const size_t count = ser_npy_count(nd, shape);
    if (count) {
        if (count > SIZE_MAX / sizeof(float)) {
            ser_fail(err, "%s: shape too large", path);
            goto out;
        }
        *data = malloc(count * sizeof(float));
        if (!*data) {
            ser_fail(err, "%s: out of memory for %zu floats", path, count);
            goto out;
        }
        if (fread(*data, sizeof(float), count, f) != count) goto truncated;
    }
    *ndim = nd;
    rc = 0;
    goto out;
truncated:
    ser_fail(err, "%s: truncated .npy file", path);
out:
    if (rc != 0) {
        free(*data);
        *data = NULL;
    }
    free(dict);
    fclose(f);
    return rc;
}
