/* `ser check`: the CUDA backend against the CPU backend (the reference) on one batch, tensor by
 * tensor (host/model/backend_check.c; tolerances in ser/backend_check.h). Exit 0: every comparison
 * within tolerance; 1: some are not (or a backend failed); 2: usage error, or no GPU to check
 * (one line saying why). --against cpu: the CPU backend's oneDNN convolutions against its
 * im2col + OpenBLAS ones, on any machine. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config_args.h"
#include "ser/backend_check.h"
#include "ser/corpus.h"
#include "ser/cuda.h"
#include "ser/features.h"
#include "ser/rng.h"
#include "ser/scaler.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser check [--config F] [--set section.key=value]... [--data DIR] [--batch N] [--steps N]\n\n"
            "Builds the model of the config twice with the same weights, runs the same batch through the CPU\n"
            "backend (the reference) and the CUDA backend, and prints for every activation, the loss, every\n"
            "gradient slice and the moving statistics the largest error against its tolerance; one\n"
            "inference forward on a partial batch; then N training steps on both (loss of each step,\n"
            "weight drift per slice). Tolerances: include/ser/backend_check.h, docs/architecture.md.\n"
            "Exit 0 when all agree, 1 when some do not, 2 without a CUDA device.\n\n"
            "  --data DIR    take the batch from this corpus (its MFCC on both the CPU and the GPU, compared\n"
            "                too); default: seeded random features (N(0,1), like scaled MFCC)\n"
            "  --batch N     batch size (default 16)\n"
            "  --steps N     training steps (default 5)\n"
            "  --against cpu compare two CPU code paths instead, anywhere: the CPU backend (its\n"
            "                convolutions through oneDNN) against the same backend with its convolutions on\n"
            "                im2col + OpenBLAS (cpu-im2col). In a build without oneDNN, or with SER_ONEDNN=0,\n"
            "                both take im2col and the comparison tests only itself (said on stdout)\n");
}

/* B clips spread over the corpus: features (CPU; on the GPU too when gpu_feats), labels. */
static int corpus_batch(const char *dir, const ser_config *cfg, int B, float *x, int32_t *y, int *classes,
                        float *gpu_feats, ser_error *err) {
    ser_corpus c;
    if (ser_corpus_scan(dir, SER_CORPUS_AUTO, 0, &c, err) != 0) return -1;
    int rc = -1;
    const char **names = NULL;
    size_t n_names = 0;
    char **paths = calloc((size_t)B, sizeof *paths);
    unsigned char *ok = calloc((size_t)B, 1);
    char **why = calloc((size_t)B, sizeof *why);
    if (!paths || !ok || !why) {
        ser_fail(err, "out of memory");
        goto done;
    }
    if (c.clips.n < (size_t)B) {
        ser_fail(err, "%s: %zu clips, fewer than the batch of %d", dir, c.clips.n, B);
        goto done;
    }
    if (ser_clips_label_set(&c.clips, &names, &n_names, err) != 0) goto done;
    if (n_names < 2) {
        ser_fail(err, "%s: %zu class(es); at least 2 are needed", dir, n_names);
        goto done;
    }
    *classes = (int)n_names;
    for (int i = 0; i < B; i++) {
        const ser_clip *cl = &c.clips.v[(size_t)i * c.clips.n / (size_t)B];
        paths[i] = cl->path;
        for (size_t k = 0; k < n_names; k++)
            if (!strcmp(names[k], cl->label)) y[i] = (int32_t)k;
    }
    if (ser_features_extract(cfg, paths, (size_t)B, 0, x, ok, why, err) != 0) goto done;
    for (int i = 0; i < B; i++)
        if (!ok[i]) {
            ser_fail(err, "%s", why[i] ? why[i] : paths[i]);
            goto done;
        }
    if (gpu_feats && ser_features_extract_cuda(cfg, paths, (size_t)B, 0, gpu_feats, ok, NULL, err) != 0) goto done;
    for (int i = 0; gpu_feats && i < B; i++)
        if (!ok[i]) {
            ser_fail(err, "GPU features of %s failed", paths[i]);
            goto done;
        }
    rc = 0;
done:
    for (int i = 0; why && i < B; i++) free(why[i]);
    free(why), free(ok), free(paths), free(names);
    ser_corpus_free(&c);
    return rc;
}

/* Seeded N(0, 1) features (Box-Muller): what scaled MFCC look like to the network. */
static void random_batch(float *x, size_t n, int32_t *y, int B, int classes) {
    ser_rng r = {42};
    for (size_t i = 0; i < n; i++) {
        const double u1 = 1.0 - ser_rng_uniform(&r), u2 = ser_rng_uniform(&r);
        x[i] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
    for (int i = 0; i < B; i++) y[i] = i % classes;
}

static void print_row(const ser_check_row *r) {
    printf("%-9s %-28s %9zu  %10.3e  %10.3e  %10.3e  %8.1e  %s%s%s\n", r->group, r->what, r->n, r->max_ref,
           r->max_abs, r->err, r->tol, !r->judged ? "-" : (r->ok ? "ok" : "FAIL"), r->note ? "  " : "",
           r->note ? r->note : "");
}

int cmd_check(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *data = NULL, *against = NULL;
    cli_config_args ca;
    if (cli_config_args_init(&ca, argc, "ser check") != 0) return 1;
    int B = 16, steps = 5;
    static const char *const OPTS[] = {"--data", "--batch", "--steps", "--against"};
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v = NULL;
        const int got = cli_config_arg(&ca, argc, argv, &i, "ser check");
        const int k = got ? -3 : cli_opt_value(argc, argv, &i, OPTS, 4, "ser check", &v);
        if (got < 0 || k == -2) bad = 1;
        else if (k == 0) data = v;
        else if (k == 1) B = atoi(v);
        else if (k == 2) steps = atoi(v);
        else if (k == 3) against = v;
        else if (k == -1) {
            fprintf(stderr, "ser check: unknown option %s\n", argv[i]);
            usage(stderr);
            bad = 1;
        }
    }
    if (!bad && (B < 2 || steps < 1 || (against && strcmp(against, "cpu")))) {
        fprintf(stderr, "ser check: %s\n", against && strcmp(against, "cpu") ? "--against takes cpu"
                                                                              : "--batch must be >= 2 and --steps >= 1");
        bad = 1;
    }
    if (bad) {
        cli_config_args_free(&ca);
        return 2;
    }
    const int self = against != NULL;
    char desc[256] = "";
    if (!self && (!ser_cuda_built() || ser_cuda_devices(desc, sizeof desc) < 1)) {
        fprintf(stderr, "ser check: nothing to compare: %s\n",
                ser_cuda_built() ? desc : "this ser was built without the CUDA backend (nvcc not found)");
        cli_config_args_free(&ca);
        return 2;
    }

    ser_error err = {{0}};
    ser_config cfg;
    ser_model mr, mg;
    int have_r = 0, have_g = 0, rc = 1, classes = 7;
    ser_backend *ref = NULL, *got = NULL;
    ser_check_result res = {0};
    float *x = NULL, *gx = NULL;
    int32_t *y = NULL;
    if (cli_config_resolve(&ca, &cfg, &err) != 0) goto fail;
    const size_t per = ser_features_per_clip(&cfg), nx = (size_t)B * per;
    x = malloc(nx * sizeof *x);
    y = calloc((size_t)B, sizeof *y);
    gx = data && !self ? malloc(nx * sizeof *gx) : NULL;
    if (!x || !y || (data && !self && !gx)) {
        ser_fail(&err, "out of memory");
        goto fail;
    }
    if (data) {
        if (corpus_batch(data, &cfg, B, x, y, &classes, gx, &err) != 0) goto fail;
    } else {
        random_batch(x, nx, y, B, classes);
    }

    /* two models from one config: the same seeded initial weights */
    if (ser_model_create(&mr, &cfg, classes, &err) != 0) goto fail;
    have_r = 1;
    if (ser_model_create(&mg, &cfg, classes, &err) != 0) goto fail;
    have_g = 1;
    if (memcmp(mr.params, mg.params, mr.nparams_padded * sizeof(float)) != 0) {
        ser_fail(&err, "the two models' initial weights differ (seeded initialisation is not deterministic)");
        goto fail;
    }
    ref = ser_backend_cpu_create(&mr, &cfg, B, &err);
    if (!ref) goto fail;
    got = self ? ser_backend_cpu_im2col_create(&mg, &cfg, B, &err) : ser_backend_cuda_create(&mg, &cfg, B, &err);
    if (!got) goto fail;

    printf("ser check: %s (%s) vs %s (%s)\n", ref->ops->name, ref->device, got->ops->name, got->device);
    if (self)
        printf("convolutions: %s vs im2col + OpenBLAS%s\n", ser_backend_cpu_onednn() ? "oneDNN" : "im2col + OpenBLAS",
               ser_backend_cpu_onednn() ? "" : " (oneDNN off: one code path, the comparison tests only itself)");
    printf("model: %d conv blocks x %d filters, LSTM %d%s, %d classes, %zu parameters; batch %d, %d steps; "
           "data: %s%s\n",
           mr.blocks, mr.F, mr.U, mr.cfg.stats_pool ? " + attention + stats pooling" : mr.cfg.attention ? " + attention" : "", classes, mr.n_trainable, B, steps,
           data ? data : "random N(0,1), seed 42",
           cfg.cuda.tf32 ? "; TF32 allowed: forward tolerances x100, gradients 0.1" : "");
    const ser_check_tol tol = ser_check_tol_default(cfg.cuda.tf32);
    /* the GPU's MFCC against the CPU's (unscaled); both backends then get the CPU's features */
    if (gx && ser_check_add(&res, "features", "MFCC (GPU vs CPU)", x, gx, nx, 1e-3, -1.0, &err) != 0) goto fail;
    if (data) {
        const ser_scaler sc = ser_scaler_fit(x, nx);
        ser_scaler_apply(&sc, x, nx);
    }
    if (ser_backend_check(ref, got, x, y, B, steps, (float)cfg.train.learning_rate, &tol, &res, &err) != 0) goto fail;
    char paths[16384]; /* the path each cuDNN op took (issue 14: named in ser check) */
    if (ser_backend_cuda_describe(got, paths, sizeof paths)) printf("\nconvolution / batch norm paths:\n%s", paths);

    printf("\n%-9s %-28s %9s  %10s  %10s  %10s  %8s  %s\n", "group", "what", "n", "max|ref|", "max|diff|", "error",
           "tol", "verdict");
    for (size_t i = 0; i < res.n; i++) print_row(&res.rows[i]);
    if (res.failed) printf("\nser check: %d of %zu comparisons FAILED\n", res.failed, res.n);
    else printf("\nser check: all %zu comparisons within tolerance\n", res.n);
    rc = res.failed ? 1 : 0;
    goto done;
fail:
    fprintf(stderr, "ser check: %s\n", err.msg);
    rc = 1;
done:
    ser_check_result_free(&res);
    ser_backend_destroy(got);
    ser_backend_destroy(ref);
    if (have_g) ser_model_destroy(&mg);
    if (have_r) ser_model_destroy(&mr);
    free(x), free(y), free(gx);
    cli_config_args_free(&ca);
    return rc;
}
