/* A trained model ready for inference: model.safetensors -> network on the backend --device
 * picks, with its labels, scaler and recipe. Shared by `ser eval` and `ser predict`. */
#ifndef SER_CLI_LOADED_MODEL_H
#define SER_CLI_LOADED_MODEL_H

#include "ser/checkpoint.h"
#include "ser/dataset.h"
#include "ser/feature_cache.h"
#include "ser/net.h"

typedef struct loaded_model {
    ser_model model;
    ser_model_meta meta;
    ser_backend *be;
    ser_net net;
    int ok;
    int cuda;        /* the GPU computes features and the network */
    ser_feature_cache fc;   /* the on-disk feature cache (fc.dir NULL: features in memory) */
} loaded_model;

/* device: auto, cpu or cuda; the backend's line goes to stderr as "<cmd>: backend ...". */
int loaded_model_open(loaded_model *lm, const char *path, const char *device, const char *cmd, ser_error *err);
void loaded_model_close(loaded_model *lm);

/* Features of clips (labelled with the model's classes when `labelled`), scaled: through the
 * on-disk feature cache (ds->x NULL, read by batch: ser_loop_data_of) unless it is off. */
int loaded_model_dataset(loaded_model *lm, const ser_clips *clips, int labelled, const char *what, ser_dataset *ds,
                         ser_error *err);
/* AdaBN over ds (ser_bn_reestimate on the model's backend). */
int loaded_model_adapt_bn(loaded_model *lm, const ser_dataset *ds, ser_error *err);

#endif
