/* model.safetensors -> a ready network (see loaded_model.h). */
#include "loaded_model.h"

#include <stdio.h>
#include <string.h>

#include "device.h"
#include "feature_cache_cli.h"
#include "ser/bn_reestimate.h"
#include "ser/feature_source.h"
#include "ser/features.h"

int loaded_model_open(loaded_model *lm, const char *path, const char *device, const char *cmd, ser_error *err) {
    memset(lm, 0, sizeof *lm);
    char why[256];
    if (cli_device_pick(device, &lm->cuda, why, sizeof why, err) != 0) return -1;
    if (ser_model_load(path, &lm->model, &lm->meta, err) != 0) return -1;
    lm->ok = 1;
    const int batch = lm->meta.cfg.train.batch_size;
    lm->be = cli_backend_create(lm->cuda, &lm->model, &lm->meta.cfg, batch, err);
    if (!lm->be) return -1;
    fprintf(stderr, "%s: backend %s: %s%s%s%s\n", cmd, lm->be->ops->name, lm->be->device,
            !lm->cuda && !strcmp(device, "auto") ? " (auto: " : "", !lm->cuda && !strcmp(device, "auto") ? why : "",
            !lm->cuda && !strcmp(device, "auto") ? ")" : "");
    return ser_net_wrap(&lm->net, lm->be, err);
}

void loaded_model_close(loaded_model *lm) {
    ser_net_free(&lm->net);
    ser_backend_destroy(lm->be);
    if (lm->ok) ser_model_destroy(&lm->model);
    ser_model_meta_free(&lm->meta);
    ser_feature_cache_close(&lm->fc);
    memset(lm, 0, sizeof *lm);
}

int loaded_model_dataset(loaded_model *lm, const ser_clips *clips, int labelled, const char *what, ser_dataset *ds,
                         ser_error *err) {
    const ser_config *cfg = &lm->meta.cfg;
    const char *const *labels = labelled ? (const char *const *)lm->meta.labels : NULL;
    const size_t n_labels = labelled ? lm->meta.n_labels : 0;
    if (!lm->fc.dir) {
        const int cached = cli_feature_cache_open(&lm->fc, NULL, cfg, lm->cuda, err);
        if (cached < 0) return -1;
    }
    if (lm->fc.dir) {
        if (ser_dataset_build_cached(ds, (ser_clips *)clips, cfg, labels, n_labels, cfg->train.threads, what,
                                     cli_features_fn(lm->cuda), &lm->fc, 0, NULL, lm->meta.vtln_ref, err) != 0)
            return -1;
        ser_feature_source_set_scaler(ds->src, &lm->meta.scaler);
        return 0;
    }
    if (ser_dataset_build_in_memory(ds, clips, cfg, labelled ? (const char *const *)lm->meta.labels : NULL,
                                    labelled ? lm->meta.n_labels : 0, cfg->train.threads, what,
                                    cli_features_fn(lm->cuda), NULL, lm->meta.vtln_ref, err) != 0)
        return -1;
    ser_scaler_apply(&lm->meta.scaler, ds->x, ds->n * ser_features_per_clip(cfg));
    return 0;
}

int loaded_model_adapt_bn(loaded_model *lm, const ser_dataset *ds, ser_error *err) {
    /* every clip (AdaBN), in the order the model's seed shuffles them */
    return ser_bn_reestimate_dataset(lm->be, ds, 0, (uint64_t)lm->meta.cfg.train.seed, err);
}
