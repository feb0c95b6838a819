/* Errors: every call that can fail returns 0 on success and -1 on failure, and fills a
 * ser_error with one line that names the thing (file, key, call) and the reason. */
#ifndef SER_ERROR_H
#define SER_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#define SER_ERROR_LEN 1024

typedef struct ser_error {
    char msg[SER_ERROR_LEN];
} ser_error;

/* Formats msg into err (err may be NULL). Always returns -1 so that `return ser_fail(...)` reads well. */
int ser_fail(ser_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "what: " to the message already in err (adds context as an error travels up). */
int ser_fail_wrap(ser_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* malloc/calloc that report the size and purpose on failure. */
void *ser_malloc(size_t bytes, const char *what, ser_error *err);
void *ser_calloc(size_t n, size_t size, const char *what, ser_error *err);

/* Shape/invariant checks that stay on in release builds: prints file, line and the
 * condition, then aborts. For programming errors only, never for bad input. */
#define SER_ASSERT(cond)                                                        \
    do {                                                                        \
        if (!(cond)) ser_assert_fail(#cond, __FILE__, __LINE__);                \
    } while (0)
void ser_assert_fail(const char *cond, const char *file, int line) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif
