/* --device: see device.h. */
#include "device.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/cuda.h"
#include "ser/features.h"

int cli_device_valid(const char *name) {
    return !strcmp(name, "auto") || !strcmp(name, "cpu") || !strcmp(name, "cuda") ? 0 : -1;
}

int cli_device_pick(const char *name, int *cuda, char *why, size_t n, ser_error *err) {
    char desc[256];
    *cuda = 0;
    if (why && n) why[0] = 0;
    if (cli_device_valid(name) != 0) return ser_fail(err, "--device %s: expected auto, cpu or cuda", name);
    if (!strcmp(name, "cpu")) return 0;
    const int count = ser_cuda_devices(desc, sizeof desc);
    if (count > 0) *cuda = 1;
    else if (!strcmp(name, "cuda")) return ser_fail(err, "--device cuda: %s", desc);
    if (why && n) snprintf(why, n, "%s", desc);
    return 0;
}

ser_backend *cli_backend_create(int cuda, ser_model *m, const ser_config *cfg, int max_B, ser_error *err) {
    return cuda ? ser_backend_cuda_create(m, cfg, max_B, err) : ser_backend_cpu_create(m, cfg, max_B, err);
}

ser_features_fn cli_features_fn(int cuda) { return cuda ? ser_features_extract_cuda : ser_features_extract; }
