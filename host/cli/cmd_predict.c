/* `ser predict`: the label and every class's probability for each file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "loaded_model.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser predict --model RUN/model.safetensors [--json] [--device auto|cpu|cuda] FILE...\n\n"
            "Prints, for each file, the predicted label and every class's probability;\n"
            "--json prints one object per line: {\"path\", \"label\", \"probs\": {label: p, ...}}.\n"
            "A file that cannot be decoded is reported on stderr and the others go on (exit 1).\n");
}

int cmd_predict(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *model = NULL, *device = "auto";
    int json = 0;
    ser_clips clips = {0};
    ser_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "ser predict: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            ser_clips_free(&clips);
            return 2;
        } else if (ser_clips_push(&clips, argv[i], "", "", "", &err) != 0) {
            fprintf(stderr, "ser predict: %s\n", err.msg);
            ser_clips_free(&clips);
            return 1;
        }
    }
    if (!model || clips.n == 0) {
        fprintf(stderr, "ser predict: %s\n", !model ? "--model is required" : "no FILE given");
        usage(stderr);
        ser_clips_free(&clips);
        return 2;
    }
    loaded_model lm;
    ser_dataset ds = {0};
    float *probs = NULL;
    int rc = 1;
    if (loaded_model_open(&lm, model, device, "ser predict", &err) != 0 || loaded_model_dataset(&lm, &clips, 0, "predict", &ds, &err) != 0)
        goto fail;
    const int C = (int)lm.meta.n_labels;
    probs = malloc(ds.n * C * sizeof *probs);
    ser_split_data d = {ds.x, NULL, ds.n};
    int32_t *pred = malloc(ds.n * sizeof *pred);
    if (!probs || !pred || ser_evaluate(&lm.net, &d, lm.meta.cfg.train.batch_size, NULL, NULL, pred, probs, &err) != 0) {
        free(pred);
        goto fail;
    }
    for (size_t i = 0; i < ds.n; i++) {
        const float *p = probs + i * C;
        if (json) {
            cJSON *o = cJSON_CreateObject(), *ps = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "path", ds.clips.v[i].path);
            cJSON_AddStringToObject(o, "label", lm.meta.labels[pred[i]]);
            for (int c = 0; c < C; c++) cJSON_AddNumberToObject(ps, lm.meta.labels[c], p[c]);
            cJSON_AddItemToObject(o, "probs", ps);
            char *s = cJSON_PrintUnformatted(o);
            printf("%s\n", s ? s : "{}");
            free(s);
            cJSON_Delete(o);
        } else {
            printf("%s\t%s", ds.clips.v[i].path, lm.meta.labels[pred[i]]);
            for (int c = 0; c < C; c++) printf("\t%s=%.4f", lm.meta.labels[c], p[c]);
            printf("\n");
        }
    }
    free(pred);
    rc = ds.n_dropped ? 1 : 0;
    goto done;
fail:
    fprintf(stderr, "ser predict: %s\n", err.msg);
done:
    free(probs);
    ser_dataset_free(&ds);
    ser_clips_free(&clips);
    loaded_model_close(&lm);
    return rc;
}
