/* --device: see device.h. */
#include "device.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/cuda.h"
#include "ser/features.h"
#include "ser/rng.h"

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

/* The clips of an in-memory array, for cli_adapt_bn_fill. */
typedef struct array_clips {
    const float *x;
    size_t clip;
} array_clips;

static int fill_from_array(void *user, const uint32_t *idx, int n, float *out, ser_error *err) {
    const array_clips *a = user;
    (void)err;
    for (int k = 0; k < n; k++) memcpy(out + (size_t)k * a->clip, a->x + (size_t)idx[k] * a->clip, a->clip * sizeof *out);
    return 0;
}

int cli_adapt_bn(ser_backend *be, const float *x, size_t n, int max_batches, uint64_t seed, ser_error *err) {
    array_clips a = {x, (size_t)be->model->H * be->model->W};
    return cli_adapt_bn_fill(be, n, fill_from_array, &a, max_batches, seed, err);
}

int cli_adapt_bn_fill(ser_backend *be, size_t n, cli_fill_fn fill, void *user, int max_batches, uint64_t seed,
                      ser_error *err) {
    const ser_model *m = be->model;
    if (n == 0) return ser_fail(err, "batch-norm statistics: no clips to take them from");
    if (max_batches < 0) return ser_fail(err, "batch-norm statistics: %d batches", max_batches);
    if (n > UINT32_MAX) return ser_fail(err, "batch-norm statistics: %zu clips (at most 2^32 - 1)", n);
    const size_t B = (size_t)be->max_B, clip = (size_t)m->H * m->W;
    size_t take = n;
    if (max_batches > 0 && (size_t)max_batches * B < n) take = (size_t)max_batches * B;
    uint32_t *order = ser_malloc(n * sizeof *order, "batch-norm statistics order", err);
    float *batch = ser_malloc(B * clip * sizeof *batch, "batch-norm statistics batch", err);
    int rc = -1;
    if (!order || !batch) goto done;
    /* Fisher-Yates, seeded: a function of (n, seed) alone, so a run's every pass and an AdaBN of
     * the same list with the same seed see the same batches */
    ser_rng rng = {seed ^ 0x6272737461747321ull};
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0; i--) {
        const size_t j = (size_t)(ser_rng_next(&rng) % (uint64_t)(i + 1));
        const uint32_t t = order[i];
        order[i] = order[j], order[j] = t;
    }
    if (be->ops->bn_stats_begin(be, err) != 0) goto done;
    for (size_t s = 0; s < take; s += B) {
        const size_t nb = take - s < B ? take - s : B;
        if (fill(user, order + s, (int)nb, batch, err) != 0 || be->ops->bn_stats_add(be, batch, (int)nb, err) != 0) {
            ser_error ignored = {{0}};
            (void)be->ops->bn_stats_end(be, &ignored); /* frees the accumulators; the error is the fill's or add's */
            goto done;
        }
    }
    rc = be->ops->bn_stats_end(be, err);
done:
    free(order), free(batch);
    return rc;
}
