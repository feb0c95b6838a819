/* A growable host array (host/common/grow.c). */
#ifndef SER_GROW_H
#define SER_GROW_H

#include <stddef.h>

#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Makes *p (capacity *cap elements of elem bytes) hold at least need elements: when it does not,
 * reallocates it to the next power-of-two multiple of 1024 elements at or above need, keeping
 * the contents. On failure *p and *cap are unchanged and err names what and the bytes. */
int ser_grow(void **p, size_t *cap, size_t need, size_t elem, const char *what, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
