/* Precise BN and AdaBN: the backend's batch-norm statistics pass over shuffled batches (contract
 * in ser/bn_reestimate.h). */
#include "ser/bn_reestimate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ser/feature_source.h"
#include "ser/rng.h"

/* The clips of an in-memory array, for ser_bn_reestimate_fill. */
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

int ser_bn_reestimate(ser_backend *be, const float *x, size_t n, int max_batches, uint64_t seed, ser_error *err) {
    array_clips a = {x, (size_t)be->model->H * be->model->W};
    return ser_bn_reestimate_fill(be, n, fill_from_array, &a, max_batches, seed, err);
}

int ser_bn_reestimate_fill(ser_backend *be, size_t n, ser_bn_fill_fn fill, void *user, int max_batches, uint64_t seed,
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

int ser_bn_reestimate_dataset(ser_backend *be, const ser_dataset *ds, int max_batches, uint64_t seed, ser_error *err) {
    if (ds->x) return ser_bn_reestimate(be, ds->x, ds->n, max_batches, seed, err);
    /* read by batch from the cache: the pass holds one batch, not the split */
    return ser_bn_reestimate_fill(be, ds->n, ser_feature_source_fill, ds->src, max_batches, seed, err);
}

size_t ser_bn_reestimate_clips(int max_batches, int batch_size, size_t n) {
    const size_t most = (size_t)max_batches * (size_t)batch_size;
    return max_batches > 0 && most < n ? most : n;
}
