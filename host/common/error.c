/* ser_error helpers: one formatted line per failure, with context added on the way up. */
#include "ser/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ser_fail(ser_error *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int ser_fail_wrap(ser_error *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[SER_ERROR_LEN], old[SER_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable here: the message is one line for a human. */
    size_t n = strlen(prefix);
    if (n > SER_ERROR_LEN - 3) n = SER_ERROR_LEN - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = SER_ERROR_LEN - n - 3, m = strlen(old);
    if (m > room) m = room;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = 0;
    return -1;
}

void *ser_malloc(size_t bytes, const char *what, ser_error *err) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) ser_fail(err, "out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *ser_calloc(size_t n, size_t size, const char *what, ser_error *err) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) ser_fail(err, "out of memory allocating %zu x %zu bytes for %s", n, size, what);
    return p;
}

void ser_assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "ser: internal error: assertion `%s` failed at %s:%d\n", cond, file, line);
    abort();
}
