/* A minimal .npy reader for tests (numpy format versions 1-3, little-endian, C order):
 * enough for the golden arrays the fixture scripts write with np.save. Static functions only,
 * so any test can include it (the library's own npy code is host/io/npy.c).
 *
 *   npy_array a;
 *   if (npy_read(path, &a, why, sizeof why)) ...fail with why...;
 *   float *x = a.data;   (a.descr is "<f4", a.count elements, shape a.shape[0 .. a.ndim))
 *   npy_free(&a); */
#ifndef SER_TEST_NPY_READ_H
#define SER_TEST_NPY_READ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct npy_array {
    char descr[8];    /* "<f4", "<f8", "<i4", "<i8", "|u1", ... */
    size_t itemsize;
    int ndim;
    size_t shape[8];
    size_t count;     /* product of the shape (1 for a 0-d array) */
    void *data;       /* count * itemsize bytes, malloc'd */
} npy_array;

static void npy_free(npy_array *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* Finds the value text after 'key': in the header dict. */
static const char *npy_find_key_(const char *hdr, const char *key) {
    const char *p = strstr(hdr, key);
    if (!p) return NULL;
    p = strchr(p + strlen(key), ':');
    if (!p) return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static int npy_read(const char *path, npy_array *a, char *why, size_t whylen) {
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "%s: cannot open", path);
        return -1;
    }
    unsigned char pre[10];
    char *hdr = NULL;
    int rc = -1;
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        snprintf(why, whylen, "%s: not an .npy file", path);
        goto out;
    }
    size_t hlen;
    if (pre[6] == 1) {
        if (fread(pre, 1, 2, f) != 2) goto trunc;
        hlen = (size_t)pre[0] | (size_t)pre[1] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre, 1, 4, f) != 4) goto trunc;
        hlen = (size_t)pre[0] | (size_t)pre[1] << 8 | (size_t)pre[2] << 16 | (size_t)pre[3] << 24;
    } else {
        snprintf(why, whylen, "%s: unsupported .npy version %d", path, pre[6]);
        goto out;
    }
    hdr = malloc(hlen + 1);
    if (!hdr || fread(hdr, 1, hlen, f) != hlen) goto trunc;
    hdr[hlen] = 0;

    const char *d = npy_find_key_(hdr, "'descr'");
    const char *fo = npy_find_key_(hdr, "'fortran_order'");
    const char *sh = npy_find_key_(hdr, "'shape'");
    if (!d || *d != '\'' || !fo || !sh || *sh != '(') {
        snprintf(why, whylen, "%s: bad .npy header", path);
        goto out;
    }
    size_t k = 0;
    for (d++; *d && *d != '\'' && k + 1 < sizeof a->descr; d++) a->descr[k++] = *d;
    if (strncmp(fo, "False", 5) != 0) {
        snprintf(why, whylen, "%s: Fortran-order .npy not supported", path);
        goto out;
    }
    if (a->descr[0] == '>' || !a->descr[1] || !a->descr[2]) {
        snprintf(why, whylen, "%s: unsupported dtype %s", path, a->descr);
        goto out;
    }
    a->itemsize = (size_t)strtoul(a->descr + 2, NULL, 10);
    a->count = 1;
    for (sh++; *sh && *sh != ')';) {
        while (*sh == ' ' || *sh == ',') sh++;
        if (*sh == ')') break;
        char *end;
        unsigned long long v = strtoull(sh, &end, 10);
        if (end == sh || a->ndim == 8) {
            snprintf(why, whylen, "%s: bad shape in .npy header", path);
            goto out;
        }
        a->shape[a->ndim++] = (size_t)v;
        a->count *= (size_t)v;
        sh = end;
    }
    a->data = malloc(a->count * a->itemsize + 1);
    if (!a->data || fread(a->data, a->itemsize, a->count, f) != a->count) goto trunc;
    rc = 0;
    goto out;
trunc:
    snprintf(why, whylen, "%s: truncated .npy file", path);
out:
    free(hdr);
    fclose(f);
    if (rc) npy_free(a);
    return rc;
}

#endif
