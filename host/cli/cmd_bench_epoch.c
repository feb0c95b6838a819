/* `ser bench-epoch`: times one training epoch of the configured model on random features (the
 * epoch cost does not depend on the feature values): ceil(train / batch) forward + backward +
 * Adam steps (the last batch partial), the precise-BN pass when train.precise_bn = epoch (the
 * default: train.precise_bn_batches batches, at most the training set, through the backend's
 * bn_stats_* ops), then validation forwards in inference mode. Prints one JSON object
 * (bench/bench_epoch.py reads it). Not listed among the user-facing commands' docs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "commands.h"
#include "config_args.h"
#include "device.h"
#include "ser/clock.h"
#include "ser/cuda.h"
#include "ser/backend.h"
#include "ser/config.h"
#include "ser/model.h"

/* Peak resident set of this process in MB: VmHWM (per address space, so it starts afresh at
 * exec; getrusage's ru_maxrss carries the pre-exec peak of a forking parent such as Python). */
static double peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1.0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = (double)ru.ru_maxrss;
    }
    return kb / 1024.0;
}

/* The precise-BN pass of an epoch: `batches` batches (the last one partial when they cover all
 * ntrain clips), the same random clips each time (the cost does not depend on the values). */
static int bn_pass(ser_backend *be, const float *x, int batches, int ntrain, int B, ser_error *err) {
    if (be->ops->bn_stats_begin(be, err) != 0) return -1;
    for (int k = 0, done = 0; k < batches; k++, done += B)
        if (be->ops->bn_stats_add(be, x, ntrain - done < B ? ntrain - done : B, err) != 0) {
            ser_error ignored = {{0}};
            (void)be->ops->bn_stats_end(be, &ignored);
            return -1;
        }
    return be->ops->bn_stats_end(be, err);
}

static void usage(FILE *f) {
    fprintf(f, "usage: ser bench-epoch [--config F] [--set section.key=value]... [--train N] [--val N]\n"
               "                       [--classes C] [--warmup N] [--device auto|cpu|cuda]\n"
               "  times one epoch (N train clips at train.batch_size + N validation clips) on random data\n"
               "  defaults: --train 1958 --val 280 (TESS, 87.5 %% / 12.5 %%) --classes 7 --warmup 1 --device cpu\n");
}

int cmd_bench_epoch(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    ser_config cfg;
    ser_error err = {0};
    int ntrain = 1958, nval = 280, classes = 7, warmup = 1, cuda = 0;
    const char *device = "cpu";
    cli_config_args ca;
    if (cli_config_args_init(&ca, argc, "ser bench-epoch") != 0) return 1;
    static const char *const OPTS[] = {"--train", "--val", "--classes", "--warmup", "--device"};
    int *const counts[] = {&ntrain, &nval, &classes, &warmup};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        const int got = cli_config_arg(&ca, argc, argv, &i, "ser bench-epoch");
        const int k = got ? -3 : cli_opt_value(argc, argv, &i, OPTS, 5, "ser bench-epoch", &v);
        if (k == -1) {
            fprintf(stderr, "ser bench-epoch: unknown option %s\n", argv[i]);
            usage(stderr);
        }
        if (got < 0 || k == -1 || k == -2) {
            cli_config_args_free(&ca);
            return 2;
        }
        if (k == 4) device = v;
        else if (k >= 0) *counts[k] = atoi(v);
    }
    /* the config file, then every --set in order, as every command does */
    const int cfg_rc = cli_config_resolve(&ca, &cfg, &err);
    cli_config_args_free(&ca);
    if (cfg_rc != 0) goto fail;
    if (ntrain < 1 || nval < 0 || warmup < 0) {
        fprintf(stderr, "ser bench-epoch: --train must be >= 1, --val and --warmup >= 0\n");
        return 2;
    }
    if (ser_config_validate(&cfg, &err) || cli_device_pick(device, &cuda, NULL, 0, &err)) goto fail;
    ser_model m;
    if (ser_model_create(&m, &cfg, classes, &err)) goto fail;
    const int B = cfg.train.batch_size;
    ser_backend *be = cli_backend_create(cuda, &m, &cfg, B, &err);
    if (!be) goto fail;
    const size_t per = (size_t)m.H * m.W;
    float *x = malloc((size_t)B * per * sizeof(float));
    int32_t *labels = malloc((size_t)B * sizeof(int32_t));
    if (!x || !labels) {
        fprintf(stderr, "ser bench-epoch: out of memory\n");
        return 1;
    }
    unsigned st = 12345;
    for (size_t i = 0; i < (size_t)B * per; i++) {
        st = st * 1664525u + 1013904223u;
        x[i] = (float)((st >> 8) * 0x1p-24) * 2.0f - 1.0f;
    }
    for (int i = 0; i < B; i++) labels[i] = i % classes;
    const float lr = (float)cfg.train.learning_rate;
    float loss = 0.0f;
    for (int w = 0; w < warmup; w++) {
        if (be->ops->forward(be, x, labels, NULL, B, 1, &loss, &err) || be->ops->backward(be, &err) || be->ops->step(be, lr, &err))
            goto fail;
    }
    /* A device backend also gets one untimed epoch: it builds the cuDNN plans of every batch
     * shape (the partial last batch, inference) and captures its CUDA graphs, as the first
     * epoch of a training run does; the timed epoch is then a steady-state one. */
    for (int done = 0; cuda && done < ntrain; done += B) {
        const int b = ntrain - done < B ? ntrain - done : B;
        if (be->ops->forward(be, x, labels, NULL, b, 1, &loss, &err) || be->ops->backward(be, &err) || be->ops->step(be, lr, &err))
            goto fail;
    }
    for (int done = 0; cuda && done < nval; done += B)
        if (be->ops->forward(be, x, labels, NULL, nval - done < B ? nval - done : B, 0, &loss, &err)) goto fail;
    /* the precise-BN pass: as many batches as ser_bn_reestimate takes of ntrain clips */
    const int all_batches = (ntrain + B - 1) / B, bound = cfg.train.precise_bn_batches;
    const int bn_batches = cfg.train.precise_bn != SER_PRECISE_BN_EPOCH ? 0
                           : bound > 0 && bound < all_batches ? bound : all_batches;
    if (cuda && bn_batches > 0 && bn_pass(be, x, bn_batches, ntrain, B, &err) != 0) goto fail;
    memset(m.prof, 0, sizeof m.prof);
    const double t0 = ser_now_s();
    int steps = 0;
    double flops = 0.0;
    for (int done = 0; done < ntrain; done += B, steps++) {
        const int b = ntrain - done < B ? ntrain - done : B;
        if (be->ops->forward(be, x, labels, NULL, b, 1, &loss, &err) || be->ops->backward(be, &err) || be->ops->step(be, lr, &err))
            goto fail;
        flops += ser_model_train_flops(&m, b);
    }
    /* a device backend's last backward and Adam step may still run: wait for them (a copy of
     * the parameters, ~1 MB, is ordered after them) */
    if (be->ops->download_params(be, m.params, &err)) goto fail;
    const double t1 = ser_now_s();
    if (bn_batches > 0 && bn_pass(be, x, bn_batches, ntrain, B, &err) != 0) goto fail;
    const double tb = ser_now_s();
    for (int done = 0; done < nval; done += B) {
        const int b = nval - done < B ? nval - done : B;
        if (be->ops->forward(be, x, labels, NULL, b, 0, &loss, &err)) goto fail;
        flops += ser_model_train_flops(&m, b) / 3.0;
    }
    const double t2 = ser_now_s();
    printf("{\"backend\": \"%s\", \"device\": \"%s\", \"batch\": %d, \"train_clips\": %d, \"val_clips\": %d, \"train_steps\": %d, "
           "\"train_s\": %.4f, \"bn_batches\": %d, \"bn_s\": %.4f, \"val_s\": %.4f, \"epoch_s\": %.4f, \"gflop\": %.2f, \"gflops\": %.1f, "
           "\"params\": %zu, \"arena_mb\": %.1f, \"peak_rss_mb\": %.1f, \"last_loss\": %.5f, \"data\": \"random\", ",
           be->ops->name, be->device, B, ntrain, nval, steps, t1 - t0, bn_batches, tb - t1, t2 - tb, t2 - t0, flops * 1e-9,
           flops * 1e-9 / (t2 - t0), m.n_trainable + m.n_nontrainable,
           (cuda ? ser_backend_cuda_arena_bytes(be) : m.acts.bytes) / 1048576.0, peak_rss_mb(), loss);
    /* seconds per layer kind, per conv block then the rest */
    printf("\"profile_s\": {");
    for (int k = 0; k < SER_PROF_N; k++) {
        printf("%s\"%s\": [", k ? ", " : "", ser_prof_names[k]);
        for (int b = 0; b <= m.blocks; b++) printf("%s%.3f", b ? ", " : "", m.prof[k][b]);
        printf("]");
    }
    printf("}}\n");
    free(x);
    free(labels);
    ser_backend_destroy(be);
    ser_model_destroy(&m);
    return 0;
fail:
    fprintf(stderr, "ser bench-epoch: %s\n", err.msg);
    return 1;
}
