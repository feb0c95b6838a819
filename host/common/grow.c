/* ser_grow (ser/grow.h): the one growth rule of ser's host buffers that are sized as they go. */
#include "ser/grow.h"

#include <stdint.h>
#include <stdlib.h>

int ser_grow(void **p, size_t *cap, size_t need, size_t elem, const char *what, ser_error *err) {
    if (need <= *cap && *p) return 0; /* a NULL buffer is allocated even for need 0 */
    size_t c = 1024;
    while (c < need) {
        if (c > SIZE_MAX / 2) return ser_fail(err, "%s: %zu elements of %zu bytes is too large", what, need, elem);
        c *= 2;
    }
    if (elem && c > SIZE_MAX / elem) return ser_fail(err, "%s: %zu elements of %zu bytes is too large", what, need, elem);
    void *q = realloc(*p, c * elem);
    if (!q) return ser_fail(err, "out of memory allocating %zu bytes for %s", c * elem, what);
    *p = q, *cap = c;
    return 0;
}
