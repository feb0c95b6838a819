/* `ser eval`: a trained model on a labelled folder or manifest: the reference's report
 * (precision / recall / F1 per class, macro and weighted averages, accuracy) and the test
 * confusion matrix PNG; --json prints one JSON object instead. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "device.h"
#include "loaded_model.h"
#include "ser/report.h"
#include "ser/split.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser eval --model RUN/model.safetensors (--data DIR [--corpus K] | --list F)\n"
            "                [--png FILE] [--json] [--adapt-bn] [--device auto|cpu|cuda]\n\n"
            "Evaluates the model on every labelled clip of DIR (or of the manifest F): prints the\n"
            "per-class precision / recall / F1, macro and weighted averages and the accuracy, and\n"
            "writes the confusion matrix (default: confusion_matrix_test.png beside the model).\n"
            "  --json   one JSON object: accuracy, macro_f1, weighted_f1, labels, per_class, confusion\n"
            "  --adapt-bn  AdaBN: first replace the batch-norm moving statistics by the exact mean and\n"
            "           variance over these clips (unlabelled use of the evaluated set; transductive)\n"
            "  --device auto (default: the GPU when there is one), cpu or cuda\n");
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *model = NULL, *data = NULL, *list = NULL, *corpus = NULL, *png = NULL, *device = "auto";
    int json = 0, adapt = 0;
    for (int i = 1; i < argc; i++) {
        const int more = i + 1 < argc;
        if (!strcmp(argv[i], "--model") && more) model = argv[++i];
        else if (!strcmp(argv[i], "--data") && more) data = argv[++i];
        else if (!strcmp(argv[i], "--list") && more) list = argv[++i];
        else if (!strcmp(argv[i], "--corpus") && more) corpus = argv[++i];
        else if (!strcmp(argv[i], "--png") && more) png = argv[++i];
        else if (!strcmp(argv[i], "--device") && more) device = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--adapt-bn")) adapt = 1;
        else {
            fprintf(stderr, "ser eval: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!model || (!data == !list)) {
        fprintf(stderr, "ser eval: %s\n", !model ? "--model is required" : "give one of --data DIR or --list F");
        usage(stderr);
        return 2;
    }
    ser_error err = {{0}};
    loaded_model lm;
    ser_clips clips = {0};
    ser_dataset ds = {0};
    int32_t *pred = NULL;
    char *text = NULL, *png_default = NULL;
    cJSON *js = NULL;
    int rc = 1;
    if (loaded_model_open(&lm, model, device, "ser eval", &err) != 0) goto fail;
    if (list) {
        if (ser_manifest_read(list, &clips, &err) != 0) goto fail;
    } else {
        ser_corpus_kind kind = SER_CORPUS_AUTO;
        ser_corpus c;
        if ((corpus && ser_corpus_kind_parse(corpus, &kind, &err) != 0) || ser_corpus_scan(data, kind, 0, &c, &err) != 0)
            goto fail;
        for (size_t i = 0; i < c.n_skips; i++) fprintf(stderr, "ser eval: skipped %s: %s\n", c.skips[i].path, c.skips[i].reason);
        clips = c.clips;
        memset(&c.clips, 0, sizeof c.clips);
        ser_corpus_free(&c);
    }
    if (loaded_model_dataset(&lm, &clips, 1, "eval", &ds, &err) != 0) goto fail;
    if (adapt) {
        if (cli_adapt_bn(lm.be, ds.x, ds.n, &err) != 0) goto fail;
        fprintf(stderr, "ser eval: batch-norm statistics over the %zu clips (AdaBN)\n", ds.n);
    }
    pred = malloc(ds.n * sizeof *pred);
    ser_split_data d = {ds.x, ds.y, ds.n};
    double loss, acc;
    if (!pred || ser_evaluate(&lm.net, &d, lm.meta.cfg.train.batch_size, &loss, &acc, pred, NULL, &err) != 0) goto fail;
    if (!png) {
        char *m = strdup(model);
        size_t n = strlen(m) + 64;
        png_default = malloc(n);
        if (!m || !png_default) goto fail;
        snprintf(png_default, n, "%s/confusion_matrix_test.png", dirname(m));
        free(m);
        png = png_default;
    }
    if (ser_report_split(ds.y, pred, ds.n, (const char *const *)lm.meta.labels, (int)lm.meta.n_labels,
                         "Confusion matrix (test)", png, &text, &js, &err) != 0)
        goto fail;
    if (json) {
        cJSON_AddNumberToObject(js, "loss", loss);
        cJSON_AddNumberToObject(js, "clips", (double)ds.n);
        cJSON_AddBoolToObject(js, "adapt_bn", adapt);
        char *s = cJSON_PrintUnformatted(js);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        printf("%zu clips, loss %.4f\n\n%s", ds.n, loss, text);
        fprintf(stderr, "ser eval: confusion matrix -> %s\n", png);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ser eval: %s\n", err.msg);
done:
    cJSON_Delete(js);
    free(text), free(pred), free(png_default);
    ser_dataset_free(&ds);
    ser_clips_free(&clips);
    loaded_model_close(&lm);
    return rc;
}
