/* model.safetensors -> a ready network (see loaded_model.h). */
#include "loaded_model.h"

#include <string.h>

int loaded_model_open(loaded_model *lm, const char *path, ser_error *err) {
    memset(lm, 0, sizeof *lm);
    if (ser_model_load(path, &lm->model, &lm->meta, err) != 0) return -1;
    lm->ok = 1;
    const int batch = lm->meta.cfg.train.batch_size;
    if (ser_model_reserve(&lm->model, batch, err) != 0) return -1;
    lm->be = ser_backend_cpu_create(&lm->model, &lm->meta.cfg, batch, err);
    if (!lm->be) return -1;
    return ser_net_wrap(&lm->net, lm->be, err);
}

void loaded_model_close(loaded_model *lm) {
    ser_net_free(&lm->net);
    ser_backend_destroy(lm->be);
    if (lm->ok) ser_model_destroy(&lm->model);
    ser_model_meta_free(&lm->meta);
    memset(lm, 0, sizeof *lm);
}

int loaded_model_dataset(loaded_model *lm, const ser_clips *clips, int labelled, const char *what, ser_dataset *ds,
                         ser_error *err) {
    const ser_config *cfg = &lm->meta.cfg;
    if (ser_dataset_build(ds, clips, cfg, labelled ? (const char *const *)lm->meta.labels : NULL,
                          labelled ? lm->meta.n_labels : 0, cfg->train.threads, what, err) != 0)
        return -1;
    ser_scaler_apply(&lm->meta.scaler, ds->x, ds->n * (size_t)cfg->features.n_mfcc * cfg->features.frames);
    return 0;
}
