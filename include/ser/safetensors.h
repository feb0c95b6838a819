/* Checkpoints in the safetensors format (https://github.com/huggingface/safetensors):
 *   [u64 little-endian N][N bytes of JSON header, space-padded to a multiple of 8][raw data]
 * header: {"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [...],
 *          "data_offsets": [begin, end]}, ...}, offsets relative to the data section.
 * Only F32 tensors (what ser trains); files are readable by Python's `safetensors`. */
#ifndef SER_SAFETENSORS_H
#define SER_SAFETENSORS_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/error.h"

#define SER_TENSOR_MAXDIM 8

/* One named F32 tensor; data holds prod(shape) floats (1 for a scalar, ndim 0). */
typedef struct ser_tensor {
    const char *name;
    int ndim;
    int64_t shape[SER_TENSOR_MAXDIM];
    float *data;
} ser_tensor;

typedef struct ser_kv {
    const char *key;
    const char *value;
} ser_kv;

/* Number of elements of t (product of its shape; 1 for ndim 0). */
size_t ser_tensor_numel(const ser_tensor *t);

/* Writes tensors (in the given order) and metadata (may be NULL / 0) to path atomically:
 * a temporary file in the same folder, fsync, rename, fsync of the folder. Names must be
 * unique, non-empty and not "__metadata__". */
int ser_safetensors_write(const char *path, const ser_tensor *tensors, size_t ntensors,
                          const ser_kv *meta, size_t nmeta, ser_error *err);

/* A file read into memory: owns every name, value and data array. */
typedef struct ser_safetensors {
    ser_tensor *tensors; /* ntensors, in header order */
    size_t ntensors;
    ser_kv *meta;        /* nmeta, in header order */
    size_t nmeta;
    float *data_;        /* one allocation behind every tensor's data */
    char *strings_;      /* one allocation behind every name, key and value */
} ser_safetensors;

/* Reads and validates path: header length against the file size, JSON, dtype F32 only,
 * shapes, offsets in range, contiguous and non-overlapping, covering the data section,
 * byte span == numel * 4, unique names, string metadata. Errors name the file and reason. */
int ser_safetensors_read(const char *path, ser_safetensors *st, ser_error *err);

/* The tensor named name, or NULL. */
const ser_tensor *ser_safetensors_find(const ser_safetensors *st, const char *name);

/* The metadata value of key, or NULL. */
const char *ser_safetensors_meta(const ser_safetensors *st, const char *key);

void ser_safetensors_free(ser_safetensors *st);

#ifdef __cplusplus
}
#endif

#endif
