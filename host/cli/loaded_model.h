/* A trained model ready for inference: model.safetensors -> network on the backend --device
 * picks, with its labels, scaler and recipe. Shared by `ser eval` and `ser predict`. */
#ifndef SER_CLI_LOADED_MODEL_H
#define SER_CLI_LOADED_MODEL_H

#include "ser/checkpoint.h"
#include "ser/dataset.h"
#include "ser/net.h"

typedef struct loaded_model {
    ser_model model;
    ser_model_meta meta;
    ser_backend *be;
    ser_net net;
    int ok;
    int cuda;        /* the GPU computes features and the network */
} loaded_model;

/* device: auto, cpu or cuda; the backend's line goes to stderr as "<cmd>: backend ...". */
int loaded_model_open(loaded_model *lm, const char *path, const char *device, const char *cmd, ser_error *err);
void loaded_model_close(loaded_model *lm);

/* Features of clips (labelled with the model's classes when `labelled`), scaled. */
int loaded_model_dataset(loaded_model *lm, const ser_clips *clips, int labelled, const char *what, ser_dataset *ds,
                         ser_error *err);

#endif
