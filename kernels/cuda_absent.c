/* ser/cuda.h in a build without the CUDA backend (no nvcc at configure time): no devices, and
 * every constructor says why. */
#include <stdio.h>

#include "ser/cuda.h"

static const char WHY[] = "this ser was built without the CUDA backend (nvcc was not found at configure time)";

int ser_cuda_built(void) { return 0; }

int ser_cuda_devices(char *desc, size_t n) {
    if (desc && n) snprintf(desc, n, "%s", WHY);
    return 0;
}

ser_backend *ser_backend_cuda_create(ser_model *m, const ser_config *cfg, int max_B, ser_error *err) {
    (void)m, (void)cfg, (void)max_B;
    ser_fail(err, "cuda backend: %s", WHY);
    return NULL;
}

size_t ser_backend_cuda_arena_bytes(const ser_backend *be) {
    (void)be;
    return 0;
}

int ser_backend_cuda_describe(const ser_backend *be, char *buf, size_t n) {
    (void)be;
    if (buf && n) buf[0] = '\0';
    return 0;
}

int ser_features_extract_cuda(const ser_config *cfg, char *const *paths, size_t n, int threads, float *out,
                              unsigned char *ok, char **why, ser_error *err) {
    (void)cfg, (void)paths, (void)n, (void)threads, (void)out, (void)ok, (void)why;
    return ser_fail(err, "cuda features: %s", WHY);
}
