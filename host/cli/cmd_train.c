/* `ser train`: corpus -> split -> features (once) -> scaler -> network -> the reference's
 * training loop -> model + reports + plots, every file written atomically; `--resume RUN`
 * continues an interrupted run from RUN/checkpoint.safetensors and ends where an
 * uninterrupted run would. This file parses the arguments, picks the clips, builds the
 * features and the network and runs the loop; the run folder (what is recorded, resumed,
 * checkpointed and reported) is host/train/run.c and run_report.c. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_info.h"
#include "commands.h"
#include "device.h"
#include "ser/checkpoint.h"
#include "ser/corpus.h"
#include "ser/dataset.h"
#include "ser/feature_cache.h"
#include "ser/feature_source.h"
#include "ser/features.h"
#include "ser/init_from.h"
#include "ser/net.h"
#include "ser/scaler.h"
#include "ser/tensorboard.h"
#include "ser/wave_augment.h"
#include "ser/run.h"
#include "ser/bn_reestimate.h"
#include "ser/split.h"
#include "data_args.h"
#include "feature_cache_cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser train [--config F] [--set section.key=value]... --out RUN\n"
            "                 (--data DIR [--corpus K] [--data DIR2 [--corpus K2]]... | --train-list F --val-list F)\n"
            "                 [--labels L,...] [--label-map A=B]\n"
            "                 [--test-dir DIR | --test-list F] [--device auto|cpu|cuda] [--quiet]\n"
            "                 [--init MODEL]\n"
            "       ser train --resume RUN [--set KEY=VALUE]... [--device D] [--tensorboard] [--quiet]\n\n"
            "Trains the network of the config (default: the reference recipe, configs/tess.ini) and\n"
            "writes RUN/: model.safetensors, history.jsonl, training_history.png,\n"
            "confusion_matrix_validation.png, model_summary.txt, report.txt, report.json, plus\n"
            "config.ini, train.tsv, val.tsv (the exact split) and checkpoint.safetensors (for --resume).\n\n"
            "%s"
            "                    With --data, train.validation_split of the clips (seeded) validates.\n"
            "                    report.txt / report.json give WA and UA by corpus too (by_corpus)\n"
            "  --train-list F    train on a manifest (ser split) instead; needs --val-list\n"
            "  --test-dir DIR    evaluate a held-out folder at the end (like ser eval): auto-detected\n"
            "                    (or the --corpus of a single --data); --label-map / --labels apply\n"
            "  --test-list F     ... or a manifest\n"
            "  --device D        auto (default: the GPU when there is one), cpu or cuda\n"
            "  --resume RUN      continue RUN from its last checkpoint, on the config, clips and noise\n"
            "                    files it recorded; --set may change only train.epochs (not with\n"
            "                    train.cosine_decay), train.early_stopping_patience, train.tensorboard,\n"
            "                    train.threads, train.audio_cache_mb, train.aug_prefetch and cuda.device\n"
            "                    (recorded in RUN/config.ini): --set train.epochs=N trains on to epoch N\n"
            "  --init MODEL      fine-tune: start from MODEL's weights (same architecture; another\n"
            "                    label set starts the output layer afresh); train.freeze keeps the\n"
            "                    first layers fixed, train.init_scaler keeps or refits its scaler\n"
            "  --tensorboard     TensorBoard event files in RUN/tb/ (= --set train.tensorboard=true)\n"
            "  --feature-cache D the on-disk feature cache's folder (default: $SER_FEATURE_CACHE, else\n"
            "                    ~/.cache/ser/features; off: features in memory, docs/config.md)\n"
            "  --noise-dir DIR   noise recordings for train.aug_noise_kind = folder: the .wav files\n"
            "                    under DIR, recursively (MUSAN's layout); listed in RUN/noise.txt\n"
            "  --quiet           no progress output\n",
            CLI_DATA_HELP);
}

typedef struct train_args {
    cli_data data;          /* --data / --corpus / --labels / --label-map */
    const char *config, *train_list, *val_list, *test_dir, *test_list, *out, *device, *noise_dir, *init, *feature_cache;
    const char **sets;
    int n_sets, resume, quiet, tensorboard;
} train_args;

static int parse_args(int argc, char **argv, train_args *a) {
    memset(a, 0, sizeof *a);
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    if (!a->sets) {
        fprintf(stderr, "ser train: out of memory for %d arguments\n", argc);
        return -1;
    }
    a->device = "auto";
    cli_data_init(&a->data);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int more = i + 1 < argc;
        const int got = cli_data_arg(&a->data, argc, argv, &i, "ser train");
        if (got < 0) return -1;
        if (got) continue;
        if (!strcmp(s, "--config") && more) a->config = argv[++i];
        else if (!strcmp(s, "--set") && more) a->sets[a->n_sets++] = argv[++i];
        else if (!strcmp(s, "--train-list") && more) a->train_list = argv[++i];
        else if (!strcmp(s, "--val-list") && more) a->val_list = argv[++i];
        else if (!strcmp(s, "--test-dir") && more) a->test_dir = argv[++i];
        else if (!strcmp(s, "--test-list") && more) a->test_list = argv[++i];
        else if (!strcmp(s, "--out") && more) a->out = argv[++i];
        else if (!strcmp(s, "--device") && more) a->device = argv[++i];
        else if (!strcmp(s, "--resume") && more) a->resume = 1, a->out = argv[++i];
        else if (!strcmp(s, "--noise-dir") && more) a->noise_dir = argv[++i];
        else if (!strcmp(s, "--init") && more) a->init = argv[++i];
        else if (!strcmp(s, "--feature-cache") && more) a->feature_cache = argv[++i];
        else if (!strcmp(s, "--quiet")) a->quiet = 1;
        else if (!strcmp(s, "--tensorboard")) a->tensorboard = 1, a->sets[a->n_sets++] = "train.tensorboard=true";
        else {
            fprintf(stderr, "ser train: unknown option or missing value: %s\n", s);
            return -1;
        }
    }
    if (cli_data_finish(&a->data, "ser train") != 0) return -1;
    const char *why = NULL;
    const size_t nd = a->data.n;
    if (!a->out) why = "--out RUN is required";
    else if (!a->resume && !nd && !a->train_list) why = "give --data DIR or --train-list F --val-list F";
    else if (!a->resume && nd && a->train_list) why = "--data and --train-list exclude each other";
    else if (a->data.any_rules && !nd) why = "--labels and --label-map need --data";
    else if (!a->resume && a->train_list && !a->val_list) why = "--train-list needs --val-list";
    else if (a->test_dir && a->test_list) why = "--test-dir and --test-list exclude each other";
    else if (a->resume && a->init) why = "--resume continues from the run's checkpoint; --init starts a fresh run";
    else if (a->resume && a->noise_dir) why = "--resume takes the noise files the run recorded (RUN/noise.txt), not --noise-dir";
    else if (a->resume && a->config) why = "--resume takes the config the run recorded (RUN/config.ini), not --config; "
                                            "--set may change the keys listed in docs/reliability.md";
    else if (a->resume && (nd || a->train_list || a->val_list || a->test_dir || a->test_list))
        why = "--resume trains on the clips the run recorded (RUN/train.tsv, val.tsv, test.tsv), not on --data, "
              "--train-list, --val-list, --test-dir or --test-list";
    else if (cli_device_valid(a->device) != 0)
        why = "--device takes auto, cpu or cuda";
    if (why) {
        fprintf(stderr, "ser train: %s\n", why);
        return -1;
    }
    return 0;
}

/* Clips of the --data folders (scan; d's label rules apply) or a manifest. */
static int load_clips(const cli_data *d, const char *list, ser_clips *out, ser_error *err) {
    return cli_data_clips(d, list, "ser train", out, err);
}

/* --test-dir DIR: one source, auto-detected (or --corpus of a single --data), the same labels. */
static int load_test_dir(const train_args *a, ser_clips *out, ser_error *err) {
    cli_data t = a->data;
    t.n = 1, t.src[0].dir = a->test_dir;
    t.src[0].kind = a->data.n == 1 ? a->data.src[0].kind : SER_CORPUS_AUTO;
    return load_clips(&t, NULL, out, err);
}

static int subset(const ser_clips *all, const size_t *idx, size_t n, ser_clips *out, ser_error *err) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        const ser_clip *c = &all->v[idx[i]];
        if (ser_clips_push_clip(out, c, err) != 0) return -1;
    }
    return 0;
}

/* Everything a run holds; freed in one place. */
typedef struct run {
    train_args a;
    ser_config cfg;
    ser_clips train_clips, val_clips, test_clips;
    ser_dataset train, val, test;
    ser_model_meta meta;
    ser_model model;
    int model_ok;
    ser_backend *be;
    ser_net net;
    int cuda;               /* --device resolved: the GPU computes features and the network */
    char devline[256];      /* the GPU's description, or why auto chose the CPU */
    ser_run_folder rf;      /* RUN: its paths, lock and noise files */
    ser_tb *tb;             /* train.tensorboard: RUN/tb/ event file of this process */
    ser_wave_aug *waug;     /* waveform augmentation / VTLP: per-epoch training features */
    ser_feature_cache fc;   /* the on-disk feature cache (fc.dir NULL: features in memory) */
    ser_init_model init;    /* --init MODEL: the weights the network starts from */
    int output_reset;       /* --init with another label set: the output layer started afresh */
    double bn_pass_s, epochs_s; /* wall time of the precise-BN passes and of the epochs (they include them) */
    int bn_passes;
} run;

static int wave_begin(void *user, int epoch, ser_error *err) {
    run *r = user;
    return ser_wave_aug_begin(r->waug, (uint64_t)r->cfg.train.seed, epoch, &r->meta.scaler, err);
}

static int wave_fill(void *user, const uint32_t *idx, int B, float *out, ser_error *err) {
    return ser_wave_aug_fill(((run *)user)->waug, idx, B, out, err);
}

/* train.precise_bn: the BN moving statistics over the training clips (unaugmented features),
 * train.precise_bn_batches batches of them (ser_bn_reestimate: the same pass as AdaBN, on the
 * backend; read by batch from the feature cache when the split is there). */
static int precise_bn(void *user, int epoch, ser_error *err) {
    run *r = user;
    (void)epoch;
    const double t0 = omp_get_wtime();
    const int rc = ser_bn_reestimate_dataset(r->be, &r->train, r->cfg.train.precise_bn_batches, (uint64_t)r->cfg.train.seed, err);
    r->bn_pass_s += omp_get_wtime() - t0;
    r->bn_passes++;
    return rc;
}

static int on_epoch(void *user, const ser_train_state *st, const ser_history_entry *h, const float *best,
                    ser_error *err) {
    run *r = user;
    r->epochs_s += h->seconds;
    return ser_run_epoch_end(&r->rf, r->tb, &r->net, st, h, best, &r->meta, err);
}

/* Prepares the data: fresh (scan/split or manifests; writes config.ini and the manifests) or
 * resumed (reads them back from RUN). */
static int prepare(run *r, ser_error *err) {
    train_args *a = &r->a;
    ser_config_defaults(&r->cfg);
    if (a->resume)
        return ser_run_open_resume(&r->rf, (const char *const *)a->sets, a->n_sets, &r->cfg, &r->train_clips,
                                   &r->val_clips, &r->test_clips, err);
    if (a->config && ser_config_load(&r->cfg, a->config, err) != 0) return -1;
    if (ser_config_set_all(&r->cfg, (const char *const *)a->sets, a->n_sets, err) != 0) return -1;
    /* --init: a model of another architecture is refused before the run folder is made */
    if (r->init.loaded && ser_init_check(&r->init, &r->cfg, err) != 0) return -1;
    const int folder = r->cfg.train.aug_noise_kind == SER_NOISE_FOLDER;
    if (folder != (a->noise_dir != NULL))
        return ser_fail(err, folder ? "train.aug_noise_kind = folder needs --noise-dir DIR"
                                    : "--noise-dir needs --set train.aug_noise_kind=folder");
    if (ser_run_open_fresh(&r->rf, a->noise_dir, err) != 0) return -1;
    if (a->data.n) {
        ser_clips all;
        if (load_clips(&a->data, NULL, &all, err) != 0) return -1;
        ser_split_opts so = {0};
        so.val_fraction = r->cfg.train.validation_split;
        so.seed = (uint32_t)r->cfg.train.seed;
        ser_split sp;
        int rc = ser_split_make(&all, &so, &sp, err);
        if (!rc) rc = subset(&all, sp.train, sp.n_train, &r->train_clips, err) ||
                      subset(&all, sp.val, sp.n_val, &r->val_clips, err);
        if (!rc) ser_split_free(&sp);
        ser_clips_free(&all);
        if (rc) return -1;
    } else if (load_clips(NULL, a->train_list, &r->train_clips, err) != 0 ||
               load_clips(NULL, a->val_list, &r->val_clips, err) != 0)
        return -1;
    if (a->test_list && load_clips(NULL, a->test_list, &r->test_clips, err) != 0) return -1;
    if (a->test_dir && load_test_dir(a, &r->test_clips, err) != 0) return -1;
    return ser_run_record(&r->rf, &r->cfg, &r->train_clips, &r->val_clips, &r->test_clips, err);
}

/* Features once, labels from the training clips, the scaler fitted on the training part. */
static int build_data(run *r, ser_error *err) {
    const char **names = NULL;
    size_t n_names = 0;
    if (ser_clips_label_set(&r->train_clips, &names, &n_names, err) != 0) return -1;
    if (n_names < 2) {
        free(names);
        return ser_fail(err, "training set has %zu class(es); at least 2 are needed", n_names);
    }
    r->meta.labels = ser_calloc(n_names, sizeof *r->meta.labels, "class names", err);
    for (size_t i = 0; r->meta.labels && i < n_names; i++, r->meta.n_labels++)
        if (!(r->meta.labels[i] = strdup(names[i]))) {
            free(names);
            return ser_fail(err, "out of memory copying the class names");
        }
    free(names);
    if (!r->meta.labels) return -1;
    const char *const *lab = (const char *const *)r->meta.labels;
    const int th = r->cfg.train.threads;
    if (cli_device_pick(r->a.device, &r->cuda, r->devline, sizeof r->devline, err) != 0) return -1;
    if (!r->a.quiet)
        fprintf(stderr, "ser train: features of %zu + %zu + %zu clips (%s, %d decoding threads)...\n", r->train_clips.n,
                r->val_clips.n, r->test_clips.n, r->cuda ? "MFCC on the GPU" : "CPU", th > 0 ? th : omp_get_max_threads());
    const ser_features_fn fx = cli_features_fn(r->cuda);
    /* features.vtln: the training split's statistics are the reference the others match */
    double *ref = r->meta.vtln_ref;
    /* the on-disk cache unless it is off (features.vtln's warped records are cached too) */
    const int cached = cli_feature_cache_open(&r->fc, r->a.feature_cache, &r->cfg, r->cuda, err);
    if (cached < 0) return -1;
    if (cached) {
        if (!r->a.quiet) fprintf(stderr, "ser train: feature cache %s\n", r->fc.dir);
        size_t computed = 0;
        if (ser_dataset_build_cached(&r->train, &r->train_clips, &r->cfg, lab, n_names, th, "train", fx, &r->fc, 1, ref,
                                     NULL, err))
            return -1;
        computed += r->fc.n_computed;
        if (ser_dataset_build_cached(&r->val, &r->val_clips, &r->cfg, lab, n_names, th, "validation", fx, &r->fc, 1, NULL,
                                     ref, err))
            return -1;
        computed += r->fc.n_computed;
        if (r->test_clips.n &&
            ser_dataset_build_cached(&r->test, &r->test_clips, &r->cfg, lab, n_names, th, "test", fx, &r->fc, 1, NULL, ref,
                                     err))
            return -1;
        computed += r->test.n ? r->fc.n_computed : 0;
        if (!r->a.quiet)
            fprintf(stderr, "ser train: feature cache: %zu clips computed, the others found\n", computed);
        /* --init with train.init_scaler = keep: the input the model's weights were trained on */
        if (r->init.loaded && r->cfg.train.init_scaler == SER_INIT_SCALER_KEEP) r->meta.scaler = r->init.meta.scaler;
        else if (ser_feature_source_fit_scaler(r->train.src, &r->meta.scaler, err) != 0) return -1;
        r->meta.cfg = r->cfg;
        ser_feature_source_set_scaler(r->train.src, &r->meta.scaler);
        ser_feature_source_set_scaler(r->val.src, &r->meta.scaler);
        if (r->test.n) ser_feature_source_set_scaler(r->test.src, &r->meta.scaler);
        return 0;
    }
    if (ser_dataset_build_in_memory(&r->train, &r->train_clips, &r->cfg, lab, n_names, th, "train", fx, ref, NULL,
                                    err) != 0 ||
        ser_dataset_build_in_memory(&r->val, &r->val_clips, &r->cfg, lab, n_names, th, "validation", fx, NULL, ref,
                                    err) != 0 ||
        (r->test_clips.n && ser_dataset_build_in_memory(&r->test, &r->test_clips, &r->cfg, lab, n_names, th, "test",
                                                        fx, NULL, ref, err) != 0))
        return -1;
    const size_t F = ser_features_per_clip(&r->cfg);
    /* --init with train.init_scaler = keep: the input the model's weights were trained on */
    const int keep = r->init.loaded && r->cfg.train.init_scaler == SER_INIT_SCALER_KEEP;
    r->meta.scaler = keep ? r->init.meta.scaler : ser_scaler_fit(r->train.x, r->train.n * F);
    r->meta.cfg = r->cfg;
    ser_scaler_apply(&r->meta.scaler, r->train.x, r->train.n * F);
    ser_scaler_apply(&r->meta.scaler, r->val.x, r->val.n * F);
    if (r->test.n) ser_scaler_apply(&r->meta.scaler, r->test.x, r->test.n * F);
    return 0;
}

static int build_net(run *r, ser_error *err) {
    if (ser_model_create(&r->model, &r->cfg, (int)r->meta.n_labels, err) != 0) return -1;
    r->model_ok = 1;
    /* before the backend takes the parameters */
    if (r->init.loaded) {
        if (ser_init_apply(&r->init, &r->model, &r->cfg, (const char *const *)r->meta.labels, r->meta.n_labels,
                           &r->output_reset, r->a.quiet ? NULL : stderr, err) != 0)
            return -1;
        snprintf(r->meta.init_path, sizeof r->meta.init_path, "%s", r->init.path);
        snprintf(r->meta.init_sha256, sizeof r->meta.init_sha256, "%s", r->init.sha256);
        if (!r->a.quiet)
            fprintf(stderr, "ser train: initialised from %s (sha256 %.16s...)%s\n", r->init.path, r->init.sha256,
                    r->cfg.train.freeze ? "; train.freeze keeps the first layers fixed" : "");
    }
    r->be = cli_backend_create(r->cuda, &r->model, &r->cfg, r->cfg.train.batch_size, err);
    if (!r->be) return -1;
    if (!r->a.quiet) {
        fprintf(stderr, "ser train: backend %s: %s\n", r->be->ops->name, r->be->device);
        if (!r->cuda && !strcmp(r->a.device, "auto")) fprintf(stderr, "ser train: (auto: %s)\n", r->devline);
        fprintf(stderr, "ser train: %zu trainable parameters, %zu classes\n", r->model.n_trainable, r->meta.n_labels);
    }
    return ser_net_wrap(&r->net, r->be, err);
}

int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    run r;
    memset(&r, 0, sizeof r);
    r.rf.lock_fd = -1;
    if (parse_args(argc, argv, &r.a) != 0) {
        usage(stderr);
        free(r.a.sets);
        return 2;
    }
    ser_error err = {{0}};
    int rc = 1;
    float *best = NULL;
    /* --init: the model is read (and checked) before any feature is computed */
    if (ser_run_folder_init(&r.rf, r.a.out, &err) != 0 || (r.a.init && ser_init_open(&r.init, r.a.init, &err) != 0) ||
        prepare(&r, &err) != 0 || build_data(&r, &err) != 0 || build_net(&r, &err) != 0 ||
        ser_run_write_summary(r.a.out, &r.model, &err) != 0)
        goto fail;

    ser_train_state st;
    ser_train_state_init(&st, &r.cfg);
    if (r.a.resume) {
        const int fresh = ser_run_resume_state(&r.rf, &r.net, &st, r.cfg.train.early_stopping_patience, &r.meta,
                                               &best, &err);
        if (fresh < 0) goto fail;
        if (!r.a.quiet) {
            if (fresh) fprintf(stderr, "ser train: %s has no checkpoint yet: training from epoch 1\n", r.a.out);
            else fprintf(stderr, "ser train: resuming %s after epoch %d\n", r.a.out, st.epoch);
        }
    }
    if (r.cfg.train.tensorboard) {
        char *tbdir = ser_run_path(r.a.out, "tb", &err);
        r.tb = tbdir ? ser_tb_open(tbdir, st.epoch + 1, &err) : NULL;
        free(tbdir);
        if (!r.tb) goto fail;
        if (!r.a.quiet) fprintf(stderr, "ser train: TensorBoard events: %s\n", ser_tb_path(r.tb));
    }
    ser_train_opts o = {&r.cfg, r.rf.p_hist, on_epoch, &r, isatty(2) && !r.a.quiet, r.a.quiet, NULL, NULL, NULL};
    /* precise BN: the backend's batch-norm statistics pass (an inference of the conv blocks over
     * train.precise_bn_batches batches), on the device itself */
    const int precise_at_end = r.cfg.train.precise_bn == SER_PRECISE_BN_END;
    if (r.cfg.train.precise_bn == SER_PRECISE_BN_EPOCH) o.before_validation = precise_bn;
    if (ser_wave_aug_recomputes_features(&r.cfg.train)) {
        /* waveform augmentation / VTLP: the features of epoch e are a function of (seed, e)
         * alone, so this works for a resume too (its first call computes epoch st.epoch) */
        if (!(r.waug = ser_wave_aug_create(&r.cfg, &r.train.clips, (const char *const *)r.rf.noise, r.rf.n_noise,
                                           r.cfg.train.threads, r.cfg.train.aug_prefetch, &err)) ||
            ser_wave_aug_spill_to(r.waug, r.fc.dir, &err) != 0) /* the feature cache's folder, or memory */
            goto fail;
        o.epoch_begin = wave_begin, o.epoch_fill = wave_fill;
    }
    ser_loop_data tr = ser_loop_data_of(&r.train), va = ser_loop_data_of(&r.val);
    ser_train_result res;
    if (ser_train_run(&r.net, &tr, &va, &o, &st, best, &res, &err) != 0) goto fail;
    /* an early stop leaves the next epoch's prefetch running: stop it before the reports */
    ser_wave_aug_free(r.waug);
    r.waug = NULL;
    if (!r.a.quiet)
        fprintf(stderr, "ser train: %d epochs%s; best epoch %d (%s %.4f) restored\n", res.epochs_run,
                res.stopped_early ? " (early stop)" : "", res.best_epoch, ser_monitor_name(r.cfg.train.monitor),
                res.best_monitor);
    free(res.best_state);
    if (!r.a.quiet && r.bn_passes > 0 && r.epochs_s > 0)
        fprintf(stderr, "ser train: precise BN: %d passes over %zu training clips, %.3f s each, %.1f %% of the epochs' time\n",
                r.bn_passes, ser_bn_reestimate_clips(r.cfg.train.precise_bn_batches, r.cfg.train.batch_size, r.train.n),
                r.bn_pass_s / r.bn_passes, 100.0 * r.bn_pass_s / r.epochs_s);
    if (precise_at_end) {
        if (!r.a.quiet)
            fprintf(stderr, "ser train: precise BN: batch-norm statistics over the %zu training clips\n", r.train.n);
        /* once, so every clip (precise_bn_batches bounds the per-epoch pass) */
        if (ser_bn_reestimate_dataset(r.be, &r.train, 0, (uint64_t)r.cfg.train.seed, &err) != 0) goto fail;
    }
    ser_run_outputs out = {&r.rf, &r.cfg, &r.meta, &r.model, &r.net, r.be, &r.val, &r.test, r.tb,
                           r.init.loaded, r.output_reset, r.a.quiet ? NULL : stderr};
    if (ser_run_finish(&out, &res, &err) != 0) goto fail;
    if (ser_tb_close(r.tb, &err) != 0) goto fail;
    r.tb = NULL;
    printf("%s/: model.safetensors history.jsonl training_history.png confusion_matrix_validation.png%s "
           "model_summary.txt report.txt report.json\n",
           r.a.out, r.test.n ? " confusion_matrix_test.png" : "");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ser train: %s\n", err.msg);
done:
    free(best);
    ser_tb_close(r.tb, NULL);
    ser_net_free(&r.net);
    ser_backend_destroy(r.be);
    ser_wave_aug_free(r.waug);
    if (r.model_ok) ser_model_destroy(&r.model);
    ser_dataset_free(&r.train), ser_dataset_free(&r.val), ser_dataset_free(&r.test);
    ser_feature_cache_close(&r.fc);
    ser_clips_free(&r.train_clips), ser_clips_free(&r.val_clips), ser_clips_free(&r.test_clips);
    ser_model_meta_free(&r.meta);
    ser_init_close(&r.init);
    ser_run_folder_free(&r.rf);
    free(r.a.sets);
    return rc;
}
