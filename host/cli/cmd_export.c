/* `ser export`: a trained model in a format other tools read. --onnx: an ONNX model with the
 * scaler inside (ser/onnx_export.h, docs/onnx.md). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ser/checkpoint.h"
#include "ser/onnx_export.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser export --onnx OUT.onnx --model RUN/model.safetensors\n\n"
            "Writes the trained network as an ONNX model (opset 17) with its feature scaler inside:\n"
            "  input  \"features\"      float32 [N, n_mfcc + f0_rows, frames]: what `ser mfcc` writes\n"
            "                         for the model's config, unscaled (N: any batch size)\n"
            "  output \"probabilities\" float32 [N, classes]\n"
            "The class names, the config, the feature recipe and ser's version are in its\n"
            "metadata_props (ser.labels, ser.config, ser.features, ser.version). Models trained with\n"
            "features.normalize or features.vtln are refused (computed outside the network).\n");
}

int cmd_export(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *onnx = NULL, *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--onnx") && i + 1 < argc) onnx = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else {
            fprintf(stderr, "ser export: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!onnx || !model) {
        fprintf(stderr, "ser export: %s is required\n", !onnx ? "--onnx OUT.onnx" : "--model RUN/model.safetensors");
        usage(stderr);
        return 2;
    }
    ser_error err = {{0}};
    ser_model m;
    ser_model_meta meta = {0};
    if (ser_model_load(model, &m, &meta, &err) != 0) {
        fprintf(stderr, "ser export: %s\n", err.msg);
        ser_model_meta_free(&meta);
        return 1;
    }
    int rc = 0;
    if (ser_onnx_export(onnx, &m, &meta, &err) != 0) {
        fprintf(stderr, "ser export: %s: %s\n", model, err.msg);
        rc = 1;
    } else {
        fprintf(stderr, "ser export: wrote %s (%d classes, input [N, %d, %d])\n", onnx, m.classes, m.H, m.W);
    }
    ser_model_destroy(&m);
    ser_model_meta_free(&meta);
    return rc;
}
