/* Small helpers the C tests share (beside check.h, the harness). */
#ifndef SER_TEST_UTIL_H
#define SER_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Creates ROOT/rel (an empty file) with its folders; exits the test when it cannot. */
static inline void test_touch(const char *root, const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(p, 0755);
        *s = '/';
    }
    FILE *f = fopen(p, "w");
    if (!f) {
        fprintf(stderr, "cannot create %s\n", p);
        exit(1);
    }
    fclose(f);
}

/* ||a - ref|| / ||ref|| (the absolute ||a - ref|| when ref is all zero), in double. */
static inline double test_rel_l2(const float *a, const float *ref, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

#endif
