/* NumPy .npy files of float32, C order, any rank up to SER_NPY_MAX_DIMS: what np.load reads
 * and np.save writes for a float32 array. Writes are atomic (PATH.tmp.PID, then rename), so a
 * reader never sees half a file. */
#ifndef SER_NPY_H
#define SER_NPY_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/error.h"

#define SER_NPY_MAX_DIMS 8

/* Writes a format 1.0 file: '<f4', fortran_order False, shape[0..ndim) (ndim 0 = a scalar). */
int ser_npy_write(const char *path, const float *data, int ndim, const size_t *shape, ser_error *err);

/* Reads a format 1.0 / 2.0 / 3.0 file holding little-endian float32 ('<f4') in C order.
 * *data is malloc'd (caller frees; NULL when the array is empty), shape gets *ndim sizes.
 * Anything else (another dtype, Fortran order, a truncated file) fails naming the file. */
int ser_npy_read(const char *path, float **data, int *ndim, size_t shape[SER_NPY_MAX_DIMS], ser_error *err);

/* Product of shape[0..ndim) (1 for ndim 0). */
size_t ser_npy_count(int ndim, const size_t *shape);

#ifdef __cplusplus
}
#endif

#endif
