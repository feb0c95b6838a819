/* A tiny test harness: CHECK counts passes and failures, every failure prints file, line and
 * the condition; a suite ends with "N passed, N failed" and exits non-zero on any failure.
 * SKIP(reason) exits 77, which ctest reports as skipped (never as passed). */
#ifndef SER_TEST_CHECK_H
#define SER_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_passed_, check_failed_;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) check_passed_++;                                                    \
        else {                                                                        \
            check_failed_++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                             \
    } while (0)

/* CHECK with a printf-style explanation printed on failure. */
#define CHECKF(cond, ...)                                                             \
    do {                                                                              \
        if (cond) check_passed_++;                                                    \
        else {                                                                        \
            check_failed_++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

#define SKIP(reason)                                                                  \
    do {                                                                              \
        printf("SKIPPED: %s\n", reason);                                              \
        exit(77);                                                                     \
    } while (0)

static inline int check_finish(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}

/* Directory of ../shared/data, or NULL when absent (tests that need it SKIP). */
static inline const char *check_shared_data(void) {
    const char *d = getenv("SER_SHARED_DATA");
    if (!d) return NULL;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/tess", d);
    FILE *f = fopen(probe, "r");
    if (!f) return NULL;
    fclose(f);
    return d;
}

#endif
