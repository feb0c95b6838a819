/* `ser train`: corpus -> split -> features (once) -> scaler -> network -> the reference's
 * training loop -> model + reports + plots, every file written atomically; `--resume RUN`
 * continues an interrupted run from RUN/checkpoint.safetensors and ends where an
 * uninterrupted run would. */
#define _DEFAULT_SOURCE /* realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
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
#include "ser/mkdir_p.h"
#include "ser/net.h"
#include "ser/plot.h"
#include "ser/report.h"
#include "ser/scaler.h"
#include "ser/tensorboard.h"
#include "ser/wave_augment.h"
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

/* RUN/NAME, malloc'd; NULL (err says so) when out of memory. */
static char *run_path(const char *run, const char *name, ser_error *err) {
    size_t n = strlen(run) + strlen(name) + 2;
    char *p = ser_malloc(n, name, err);
    if (p) snprintf(p, n, "%s/%s", run, name);
    return p;
}

/* The run folder, made and writable. */
static int mkdir_p(const char *dir, ser_error *err) {
    if (ser_mkdir_p(dir, err) != 0) return -1;
    if (access(dir, W_OK) != 0) return ser_fail(err, "%s: output folder not writable: %s", dir, strerror(errno));
    return 0;
}

/* The files a run folder holds; each is written to NAME.tmp... beside it and renamed. */
static const char *const RUN_FILES[] = {"checkpoint.safetensors", "model.safetensors", "history.jsonl", "config.ini",
                                        "train.tsv", "val.tsv", "test.tsv", "model_summary.txt", "report.txt",
                                        "report.json", "training_history.png", "confusion_matrix_validation.png",
                                        "confusion_matrix_test.png", "noise.txt"};

/* Removes the temporary files of writes that a kill or a full disk interrupted, so that they
 * neither pile up over resumes nor pass for outputs. Only our own names: RUN_FILES[i].tmp... */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));)
        for (size_t i = 0; i < sizeof RUN_FILES / sizeof *RUN_FILES; i++) {
            const size_t l = strlen(RUN_FILES[i]);
            if (!strncmp(e->d_name, RUN_FILES[i], l) && !strncmp(e->d_name + l, ".tmp", 4)) {
                unlinkat(dirfd(d), e->d_name, 0);
                break;
            }
        }
    closedir(d);
}

/* One `ser train` per run folder: a second one (say a resume started while the first still
 * runs) would interleave its checkpoints and history with the first's. The lock is on the
 * folder itself, so it adds no file and goes with the process however that ends. */
static int lock_run(const char *dir, int *fd, ser_error *err) {
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0) return ser_fail(err, "%s: cannot open the run folder: %s", dir, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0)
        return ser_fail(err, "%s: %s", dir, errno == EWOULDBLOCK ? "another ser train is running in this folder"
                                                                   : strerror(errno));
    return 0;
}

/* The config keys a --resume may --set: how long to go on and how to run, never what is
 * computed (features, model, data, seed, optimiser, augmentation): the rest of the run stays the
 * continuation of the recorded one. docs/reliability.md lists them with the reasons. */
static const char *const RESUME_KEYS[] = {"train.epochs", "train.early_stopping_patience", "train.tensorboard",
                                          "train.threads", "train.audio_cache_mb", "train.aug_prefetch", "cuda.device"};

/* --set on a resume: each key one of RESUME_KEYS (cfg is the recorded config, already overridden). */
static int resume_sets_allowed(const train_args *a, const ser_config *recorded, const ser_config *cfg, ser_error *err) {
    for (int i = 0; i < a->n_sets; i++) {
        const char *eq = strchr(a->sets[i], '=');
        const size_t len = eq ? (size_t)(eq - a->sets[i]) : strlen(a->sets[i]);
        int allowed = 0;
        for (size_t k = 0; k < sizeof RESUME_KEYS / sizeof *RESUME_KEYS; k++)
            allowed |= strlen(RESUME_KEYS[k]) == len && !strncmp(a->sets[i], RESUME_KEYS[k], len);
        if (!allowed)
            return ser_fail(err, "--set %s: %.*s cannot change on a resume (the run would no longer continue "
                                 "the recorded one); a resume may set train.epochs, train.early_stopping_patience, "
                                 "train.tensorboard, train.threads, train.audio_cache_mb, train.aug_prefetch, "
                                 "cuda.device",
                            a->sets[i], (int)len, a->sets[i]);
    }
    /* the cosine curve spans train.epochs: another count would jump the learning rate mid-run */
    if (recorded->train.cosine_decay && cfg->train.epochs != recorded->train.epochs)
        return ser_fail(err, "--set train.epochs=%d: the run uses train.cosine_decay, whose learning rate "
                             "curve spans the recorded %d epochs; it cannot be lengthened or shortened",
                        cfg->train.epochs, recorded->train.epochs);
    return 0;
}

/* Clips of the --data folders (scan; d's label rules apply) or a manifest. */
static int load_clips(const cli_data *d, const char *list, ser_clips *out, ser_error *err) {
    memset(out, 0, sizeof *out);
    if (list) return ser_manifest_read(list, out, err);
    ser_corpus_set set;
    if (cli_data_scan(d, 0, 1, stderr, "ser train", &set, err) != 0) return -1;
    *out = set.clips;
    memset(&set.clips, 0, sizeof set.clips);
    ser_corpus_set_free(&set);
    return 0;
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
    int lock_fd;
    char *p_ckpt, *p_model, *p_hist;
    ser_tb *tb;             /* train.tensorboard: RUN/tb/ event file of this process */
    ser_wave_aug *waug;     /* waveform augmentation / VTLP: per-epoch training features */
    ser_feature_cache fc;   /* the on-disk feature cache (fc.dir NULL: features in memory) */
    char *noise_dir;        /* --noise-dir (or the one RUN/noise.txt records) */
    char **noise;           /* its .wav files, sorted */
    size_t n_noise;
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

/* RUN/noise.txt: "# noise folder: DIR", then one noise file a line (the exact list a resume uses). */
static int noise_write(const run *r, ser_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ser_fail(err, "noise.txt: %s", strerror(errno));
    fprintf(f, "# noise folder: %s\n", r->noise_dir);
    for (size_t i = 0; i < r->n_noise; i++) fprintf(f, "%s\n", r->noise[i]);
    fclose(f);
    char *p = run_path(r->a.out, "noise.txt", err);
    int rc = p && text ? ser_write_text_file(p, text, err) : p ? ser_fail(err, "noise.txt: out of memory") : -1;
    free(p), free(text);
    return rc;
}

static int noise_read(run *r, const char *path, ser_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return ser_fail(err, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, cap_v = 0;
    int rc = 0;
    for (ssize_t l; !rc && (l = getline(&line, &cap, f)) > 0;) {
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
        if (!l) continue;
        if (!strncmp(line, "# noise folder: ", 16)) {
            free(r->noise_dir);
            if (!(r->noise_dir = strdup(line + 16))) rc = ser_fail(err, "out of memory");
            continue;
        }
        if (r->n_noise == cap_v) {
            cap_v = cap_v ? 2 * cap_v : 64;
            char **v = realloc(r->noise, cap_v * sizeof *v);
            if (!v) {
                rc = ser_fail(err, "out of memory");
                break;
            }
            r->noise = v;
        }
        if (!(r->noise[r->n_noise] = strdup(line))) rc = ser_fail(err, "out of memory");
        else r->n_noise++;
    }
    if (!rc && ferror(f)) rc = ser_fail(err, "%s: read error", path);
    free(line);
    fclose(f);
    if (!rc && !r->n_noise) rc = ser_fail(err, "%s: lists no noise file", path);
    return rc;
}

/* The epoch's history.jsonl values as TensorBoard scalars of the same names, step = epoch; a
 * missing value (null in history.jsonl: no validation set) is left out. */
static int tb_epoch(ser_tb *tb, const ser_history_entry *h, ser_error *err) {
    const char *tags[7] = {"loss", "accuracy", "val_loss", "val_accuracy", "val_uar", "lr", "seconds"};
    const double v[7] = {h->loss, h->accuracy, h->val_loss, h->val_accuracy, h->val_uar, h->lr, h->seconds};
    for (int i = 0; i < 7; i++)
        if (isfinite(v[i]) && ser_tb_scalar(tb, tags[i], h->epoch, (float)v[i], err) != 0) return -1;
    return 0;
}

/* train.precise_bn: the BN moving statistics over the training clips (unaugmented features),
 * train.precise_bn_batches batches of them (cli_adapt_bn: the same pass as AdaBN, on the backend;
 * read by batch from the feature cache when the split is there). */
/* How many training clips a precise-BN pass takes (cli_adapt_bn's bound). */
static size_t precise_bn_clips(const ser_train_config *t, size_t n) {
    const size_t most = (size_t)t->precise_bn_batches * (size_t)t->batch_size;
    return t->precise_bn_batches > 0 && most < n ? most : n;
}

static int precise_bn(void *user, int epoch, ser_error *err) {
    run *r = user;
    (void)epoch;
    const double t0 = omp_get_wtime();
    const int rc = cli_adapt_bn_dataset(r->be, &r->train, r->cfg.train.precise_bn_batches, (uint64_t)r->cfg.train.seed, err);
    r->bn_pass_s += omp_get_wtime() - t0;
    r->bn_passes++;
    return rc;
}

static int on_epoch(void *user, const ser_train_state *st, const ser_history_entry *h, const float *best,
                    ser_error *err) {
    run *r = user;
    r->epochs_s += h->seconds;
    if (r->tb && tb_epoch(r->tb, h, err) != 0) return -1;
    const size_t ns = r->net.state_size(r->net.impl);
    float *cur = ser_malloc(ns * sizeof *cur, "checkpoint", err);
    if (!cur) return ser_fail_wrap(err, "checkpoint");
    /* a failed download writes nothing: the previous checkpoint stays the last good one */
    int rc = r->net.state_get(r->net.impl, cur, err) != 0 ||
             ser_checkpoint_save(r->p_ckpt, st, cur, best, ns, &r->meta, err) != 0;
    free(cur);
    return rc ? ser_fail_wrap(err, "checkpoint") : 0;
}

/* Prepares the data: fresh (scan/split or manifests; writes config.ini and the manifests) or
 * resumed (reads them back from RUN). */
static int prepare(run *r, ser_error *err) {
    train_args *a = &r->a;
    ser_config_defaults(&r->cfg);
    if (a->resume) {
        /* a run killed before it made its folder wrote nothing: say so, as for a missing config.ini */
        struct stat st;
        if (stat(a->out, &st) != 0 && errno == ENOENT)
            return ser_fail(err, "--resume %s: no such run folder: the run was stopped before training started; "
                                 "start it again without --resume", a->out);
        if (lock_run(a->out, &r->lock_fd, err) != 0) return ser_fail_wrap(err, "--resume");
        /* before the features are computed: a folder it cannot write to fails now, not later */
        if (access(a->out, W_OK) != 0)
            return ser_fail(err, "--resume %s: run folder not writable: %s", a->out, strerror(errno));
        char *p = run_path(a->out, "config.ini", err);
        if (!p) return ser_fail_wrap(err, "--resume %s", a->out);
        /* config.ini is the last file a fresh run writes before training: without it the run
         * was stopped before it recorded what it trains on, and there is nothing to resume. */
        int rc = access(p, F_OK) != 0 && errno == ENOENT
                     ? ser_fail(err, "%s: no config.ini: the run was stopped before training started; start it again "
                                     "without --resume", a->out)
                     : ser_config_load(&r->cfg, p, err);
        if (!rc && a->n_sets) {
            /* --set of the keys a resume may change, recorded in config.ini so that the model,
             * the checkpoint and a later --resume all see the new values */
            const ser_config recorded = r->cfg;
            rc = ser_config_set_all(&r->cfg, (const char *const *)a->sets, a->n_sets, err) ||
                 resume_sets_allowed(a, &recorded, &r->cfg, err) || ser_config_write_ini(&r->cfg, p, err);
        }
        free(p);
        if (rc) return ser_fail_wrap(err, "--resume %s", a->out);
        remove_stale_temps(a->out);
        a->train_list = "train.tsv", a->val_list = "val.tsv";
        char *pt = run_path(a->out, "train.tsv", err), *pv = run_path(a->out, "val.tsv", err),
             *ps = run_path(a->out, "test.tsv", err), *pn = run_path(a->out, "noise.txt", err);
        rc = !pt || !pv || !ps || !pn || load_clips(NULL, pt, &r->train_clips, err) ||
             load_clips(NULL, pv, &r->val_clips, err);
        if (!rc && access(ps, F_OK) == 0) rc = load_clips(NULL, ps, &r->test_clips, err);
        if (!rc && access(pn, F_OK) == 0) rc = noise_read(r, pn, err);
        free(pt), free(pv), free(ps), free(pn);
        return rc ? ser_fail_wrap(err, "--resume %s", a->out) : 0;
    }
    if (a->config && ser_config_load(&r->cfg, a->config, err) != 0) return -1;
    if (ser_config_set_all(&r->cfg, (const char *const *)a->sets, a->n_sets, err) != 0) return -1;
    /* --init: a model of another architecture is refused before the run folder is made */
    if (r->init.loaded && ser_init_check(&r->init, &r->cfg, err) != 0) return -1;
    const int folder = r->cfg.train.aug_noise_kind == SER_NOISE_FOLDER;
    if (folder != (a->noise_dir != NULL))
        return ser_fail(err, folder ? "train.aug_noise_kind = folder needs --noise-dir DIR"
                                    : "--noise-dir needs --set train.aug_noise_kind=folder");
    /* before anything is written: an empty or unreadable folder fails now */
    if (a->noise_dir) {
        /* absolute, as the manifests' paths: a --resume from another folder finds the files */
        if (!(r->noise_dir = realpath(a->noise_dir, NULL)))
            return ser_fail(err, "--noise-dir %s: %s", a->noise_dir, strerror(errno));
        if (ser_noise_list(r->noise_dir, &r->noise, &r->n_noise, err) != 0) return ser_fail_wrap(err, "--noise-dir");
    }
    if (mkdir_p(a->out, err) != 0 || lock_run(a->out, &r->lock_fd, err) != 0) return -1;
    /* A fresh run into a used folder: nothing of the old run may pair with the new one if this
     * one is killed early (a resume would take the old checkpoint or test.tsv for its own, and
     * an old model.safetensors would pass for this run's result). */
    for (size_t i = 0; i < sizeof RUN_FILES / sizeof *RUN_FILES; i++) {
        char *p = run_path(a->out, RUN_FILES[i], err);
        if (!p) return -1;
        if (remove(p) != 0 && errno != ENOENT) {
            ser_fail(err, "%s: cannot remove the previous run's file: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        free(p);
    }
    remove_stale_temps(a->out);
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
    /* The run folder records exactly what it trains on, so --resume needs nothing else. */
    char *pc = run_path(a->out, "config.ini", err), *pt = run_path(a->out, "train.tsv", err),
         *pv = run_path(a->out, "val.tsv", err), *ps = run_path(a->out, "test.tsv", err);
    /* config.ini last: its presence tells --resume that the manifests are complete. */
    int rc = !pc || !pt || !pv || !ps || ser_manifest_write(pt, r->train_clips.v, NULL, r->train_clips.n, err) ||
             ser_manifest_write(pv, r->val_clips.v, NULL, r->val_clips.n, err) ||
             (r->test_clips.n && ser_manifest_write(ps, r->test_clips.v, NULL, r->test_clips.n, err)) ||
             (r->n_noise && noise_write(r, err)) || ser_config_write_ini(&r->cfg, pc, err);
    free(pc), free(pt), free(pv), free(ps);
    return rc ? -1 : 0;
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
    /* the on-disk cache unless it is off or features.vtln warps per speaker (in memory) */
    const int cached = cli_feature_cache_open(&r->fc, r->a.feature_cache, &r->cfg, r->cuda, err);
    if (cached < 0) return -1;
    if (cached) {
        if (!r->a.quiet) fprintf(stderr, "ser train: feature cache %s\n", r->fc.dir);
        size_t computed = 0;
        if (ser_dataset_build_cached(&r->train, &r->train_clips, &r->cfg, lab, n_names, th, "train", fx, &r->fc, 1, err))
            return -1;
        computed += r->fc.n_computed;
        if (ser_dataset_build_cached(&r->val, &r->val_clips, &r->cfg, lab, n_names, th, "validation", fx, &r->fc, 1, err))
            return -1;
        computed += r->fc.n_computed;
        if (r->test_clips.n &&
            ser_dataset_build_cached(&r->test, &r->test_clips, &r->cfg, lab, n_names, th, "test", fx, &r->fc, 1, err))
            return -1;
        computed += r->test.n ? r->fc.n_computed : 0;
        if (!r->a.quiet)
            fprintf(stderr, "ser train: feature cache: %zu clips computed, the others found\n", computed);
        if (ser_feature_source_fit_scaler(r->train.src, &r->meta.scaler, err) != 0) return -1;
        r->meta.cfg = r->cfg;
        ser_feature_source_set_scaler(r->train.src, &r->meta.scaler);
        ser_feature_source_set_scaler(r->val.src, &r->meta.scaler);
        if (r->test.n) ser_feature_source_set_scaler(r->test.src, &r->meta.scaler);
        return 0;
    }
    if (ser_dataset_build_vtln(&r->train, &r->train_clips, &r->cfg, lab, n_names, th, "train", fx, ref, NULL, err) != 0 ||
        ser_dataset_build_vtln(&r->val, &r->val_clips, &r->cfg, lab, n_names, th, "validation", fx, NULL, ref, err) != 0 ||
        (r->test_clips.n && ser_dataset_build_vtln(&r->test, &r->test_clips, &r->cfg, lab, n_names, th, "test", fx, NULL,
                                                   ref, err) != 0))
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

static int write_summary(run *r, ser_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ser_fail(err, "model summary: %s", strerror(errno));
    ser_model_summary(&r->model, f);
    fclose(f);
    char *p = run_path(r->a.out, "model_summary.txt", err);
    int rc = p && text ? ser_write_text_file(p, text, err) : p ? ser_fail(err, "model summary: out of memory") : -1;
    free(p), free(text);
    return rc;
}

/* Evaluates one split, adds its report to text/json, writes its confusion matrix. */
static int evaluate_split(run *r, ser_dataset *ds, const char *name, const char *png, char **text, cJSON *json,
                          ser_error *err) {
    int32_t *pred = ser_malloc(ds->n * sizeof *pred, "predictions", err);
    if (!pred) return -1;
    ser_split_data d = ser_split_of(ds);
    double loss, acc;
    int rc = ser_evaluate(&r->net, &d, r->cfg.train.batch_size, &loss, &acc, pred, NULL, err);
    char *rep = NULL;
    cJSON *js = NULL;
    char *pp = rc ? NULL : run_path(r->a.out, png, err), title[64];
    if (!rc && !pp) rc = -1;
    snprintf(title, sizeof title, "Confusion matrix (%s)", name);
    if (!rc)
        rc = ser_report_split(ds->y, pred, ds->n, (const char *const *)r->meta.labels, (int)r->meta.n_labels, title, pp,
                              &rep, &js, err);
    /* WA and UA by corpus (docs/multi-corpus.md), after the split's own report */
    const char **corp = rc ? NULL : ser_malloc((ds->n ? ds->n : 1) * sizeof *corp, "corpus names", err);
    if (!rc && !corp) rc = -1;
    for (size_t i = 0; corp && i < ds->n; i++) corp[i] = ds->clips.v[i].corpus;
    if (!rc)
        rc = ser_report_by_corpus(ds->y, pred, ds->n, corp, (int)r->meta.n_labels, &rep, js, err);
    free(corp), free(pp), free(pred);
    if (rc) {
        free(rep), cJSON_Delete(js);
        return -1;
    }
    cJSON_AddNumberToObject(js, "loss", loss);
    cJSON_AddNumberToObject(js, "clips", (double)ds->n);
    cJSON_AddItemToObject(json, name, js);
    size_t old = *text ? strlen(*text) : 0, add = strlen(rep) + strlen(name) + 96;
    char *t = realloc(*text, old + add);
    if (t) snprintf(t + old, add, "== %s: %zu clips, loss %.4f, accuracy %.4f\n\n%s\n", name, ds->n, loss, acc, rep);
    if (t) *text = t;
    free(rep);
    if (!r->a.quiet) fprintf(stderr, "ser train: %s accuracy %.4f (%zu clips), loss %.4f\n", name, acc, ds->n, loss);
    return t ? 0 : ser_fail(err, "%s report: out of memory", name);
}

static int finish(run *r, const ser_train_result *res, ser_error *err) {
    if (ser_model_save(r->p_model, &r->model, r->model.params, &r->meta, err) != 0) return -1;
    ser_history_entry *h = NULL;
    size_t nh = 0;
    if (ser_history_read(r->p_hist, &h, &nh, err) != 0) return -1;
    double *v = malloc(5 * (nh ? nh : 1) * sizeof *v);
    for (size_t i = 0; v && i < nh; i++)
        v[i] = h[i].accuracy, v[nh + i] = h[i].val_accuracy, v[2 * nh + i] = h[i].val_uar, v[3 * nh + i] = h[i].loss,
        v[4 * nh + i] = h[i].val_loss;
    char *pp = run_path(r->a.out, "training_history.png", err);
    int rc = !pp ? -1
             : v ? ser_plot_history(pp, (int)nh, v, v + nh, v + 2 * nh, v + 3 * nh, v + 4 * nh, err)
                 : ser_fail(err, "training history plot: out of memory");
    /* the best epoch's validation loss, whatever train.monitor followed */
    const double best_val_loss = res->best_epoch >= 1 && (size_t)res->best_epoch <= nh ? h[res->best_epoch - 1].val_loss : NAN;
    free(pp), free(v), free(h);
    if (rc) return -1;
    char *text = NULL;
    cJSON *json = cJSON_CreateObject();
    if (!json) return ser_fail(err, "report.json: out of memory");
    cJSON_AddNumberToObject(json, "epochs_run", res->epochs_run);
    cJSON_AddNumberToObject(json, "best_epoch", res->best_epoch);
    cJSON_AddNumberToObject(json, "best_val_loss", best_val_loss);
    cJSON_AddStringToObject(json, "monitor", ser_monitor_name(r->cfg.train.monitor));
    cJSON_AddNumberToObject(json, "best_monitor", res->best_monitor);
    cJSON_AddBoolToObject(json, "stopped_early", res->stopped_early);
    cJSON_AddStringToObject(json, "backend", r->be->ops->name);
    if (r->meta.init_path[0]) { /* fine-tuned: from what (a resumed run has it from its checkpoint) */
        cJSON *init = cJSON_AddObjectToObject(json, "init");
        cJSON_AddStringToObject(init, "path", r->meta.init_path);
        cJSON_AddStringToObject(init, "sha256", r->meta.init_sha256);
        if (r->init.loaded) cJSON_AddBoolToObject(init, "output_layer_reset", r->output_reset);
    }
    if (r->noise_dir) {
        cJSON_AddStringToObject(json, "noise_dir", r->noise_dir);
        cJSON_AddNumberToObject(json, "noise_files", (double)r->n_noise);
    }
    rc = evaluate_split(r, &r->val, "validation", "confusion_matrix_validation.png", &text, json, err);
    /* AdaBN after the model file and the validation report: only the test evaluation sees it */
    if (!rc && r->test.n && r->cfg.train.test_adapt_bn) {
        if (!r->a.quiet) fprintf(stderr, "ser train: test: batch-norm statistics over the %zu test clips (AdaBN)\n", r->test.n);
        rc = cli_adapt_bn_dataset(r->be, &r->test, 0, (uint64_t)r->cfg.train.seed, err);
        cJSON_AddBoolToObject(json, "test_adapt_bn", 1);
    }
    if (!rc && r->test.n) rc = evaluate_split(r, &r->test, "test", "confusion_matrix_test.png", &text, json, err);
    char *js = rc ? NULL : cJSON_Print(json);
    char *pt = rc ? NULL : run_path(r->a.out, "report.txt", err), *pj = rc ? NULL : run_path(r->a.out, "report.json", err);
    if (!rc && (!js || !text)) rc = ser_fail(err, "report: out of memory");
    if (!rc) rc = !pt || !pj || ser_write_text_file(pt, text, err) || ser_write_text_file(pj, js, err);
    free(pt), free(pj), free(js), free(text);
    cJSON_Delete(json);
    /* the confusion matrices as TensorBoard images, at the last epoch run */
    for (int i = 0; !rc && r->tb && i < (r->test.n ? 2 : 1); i++) {
        const char *name = i ? "confusion_matrix_test" : "confusion_matrix_validation";
        char png[64];
        snprintf(png, sizeof png, "%s.png", name);
        char *ppng = run_path(r->a.out, png, err);
        rc = ppng ? ser_tb_png_file(r->tb, name, res->epochs_run, ppng, err) : -1;
        free(ppng);
    }
    return rc ? -1 : 0;
}

int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    run r;
    memset(&r, 0, sizeof r);
    r.lock_fd = -1;
    if (parse_args(argc, argv, &r.a) != 0) {
        usage(stderr);
        free(r.a.sets);
        return 2;
    }
    ser_error err = {{0}};
    int rc = 1;
    float *cur = NULL, *best = NULL;
    r.p_ckpt = run_path(r.a.out, "checkpoint.safetensors", &err);
    r.p_model = run_path(r.a.out, "model.safetensors", &err);
    r.p_hist = run_path(r.a.out, "history.jsonl", &err);
    /* --init: the model is read (and checked) before any feature is computed */
    if (!r.p_ckpt || !r.p_model || !r.p_hist || (r.a.init && ser_init_open(&r.init, r.a.init, &err) != 0) ||
        prepare(&r, &err) != 0 || build_data(&r, &err) != 0 || build_net(&r, &err) != 0 || write_summary(&r, &err) != 0)
        goto fail;

    ser_train_state st;
    ser_train_state_init(&st, &r.cfg);
    if (r.a.resume && access(r.p_ckpt, F_OK) != 0 && errno == ENOENT) {
        /* Stopped before its first checkpoint: from epoch 1, exactly as a fresh run (the split,
         * config and features are the recorded ones). */
        if (!r.a.quiet) fprintf(stderr, "ser train: %s has no checkpoint yet: training from epoch 1\n", r.a.out);
        remove(r.p_hist);
    } else if (r.a.resume) {
        ser_model_meta saved;
        const size_t ns = r.net.state_size(r.net.impl);
        if (ser_checkpoint_load(r.p_ckpt, &st, &cur, &best, ns, &saved, &err) != 0) goto fail;
        /* the scaler and labels of the run, exactly as the interrupted process had them */
        r.meta.scaler = saved.scaler;
        /* train.early_stopping_patience from config.ini (a resume may --set it): a run that
         * stopped early goes on when it is raised */
        st.es.patience = r.cfg.train.early_stopping_patience;
        memcpy(r.meta.vtln_ref, saved.vtln_ref, sizeof r.meta.vtln_ref);
        memcpy(r.meta.init_path, saved.init_path, sizeof r.meta.init_path);
        memcpy(r.meta.init_sha256, saved.init_sha256, sizeof r.meta.init_sha256);
        ser_model_meta_free(&saved);
        if (r.net.state_set(r.net.impl, cur, &err) != 0) {
            ser_fail_wrap(&err, "--resume %s: the checkpoint's state", r.a.out);
            goto fail;
        }
        /* history.jsonl may hold an epoch past the checkpoint (killed between the two writes) */
        ser_history_entry *h = NULL;
        size_t nh = 0;
        if (ser_history_read(r.p_hist, &h, &nh, &err) != 0) goto fail;
        if (nh > (size_t)st.epoch) nh = (size_t)st.epoch;
        int hrc = ser_history_write(r.p_hist, h, nh, &err);
        free(h);
        if (hrc) goto fail;
        if (!r.a.quiet) fprintf(stderr, "ser train: resuming %s after epoch %d\n", r.a.out, st.epoch);
    }
    if (r.cfg.train.tensorboard) {
        char *tbdir = run_path(r.a.out, "tb", &err);
        r.tb = tbdir ? ser_tb_open(tbdir, st.epoch + 1, &err) : NULL;
        free(tbdir);
        if (!r.tb) goto fail;
        if (!r.a.quiet) fprintf(stderr, "ser train: TensorBoard events: %s\n", ser_tb_path(r.tb));
    }
    ser_train_opts o = {&r.cfg, r.p_hist, on_epoch, &r, isatty(2) && !r.a.quiet, r.a.quiet, NULL, NULL, NULL};
    /* precise BN: the backend's batch-norm statistics pass (an inference of the conv blocks over
     * train.precise_bn_batches batches), on the device itself */
    const int precise_at_end = r.cfg.train.precise_bn == SER_PRECISE_BN_END;
    if (r.cfg.train.precise_bn == SER_PRECISE_BN_EPOCH) o.before_validation = precise_bn;
    if (ser_wave_aug_recomputes_features(&r.cfg.train)) {
        /* waveform augmentation / VTLP: the features of epoch e are a function of (seed, e)
         * alone, so this works for a resume too (its first call computes epoch st.epoch) */
        if (!(r.waug = ser_wave_aug_create(&r.cfg, &r.train.clips, (const char *const *)r.noise, r.n_noise,
                                           r.cfg.train.threads, r.cfg.train.aug_prefetch, &err)) ||
            ser_wave_aug_spill_to(r.waug, r.fc.dir, &err) != 0) /* the feature cache's folder, or memory */
            goto fail;
        o.epoch_begin = wave_begin, o.epoch_fill = wave_fill;
    }
    ser_split_data tr = ser_split_of(&r.train), va = ser_split_of(&r.val);
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
                r.bn_passes, precise_bn_clips(&r.cfg.train, r.train.n), r.bn_pass_s / r.bn_passes,
                100.0 * r.bn_pass_s / r.epochs_s);
    if (precise_at_end) {
        if (!r.a.quiet)
            fprintf(stderr, "ser train: precise BN: batch-norm statistics over the %zu training clips\n", r.train.n);
        /* once, so every clip (precise_bn_batches bounds the per-epoch pass) */
        if (cli_adapt_bn_dataset(r.be, &r.train, 0, (uint64_t)r.cfg.train.seed, &err) != 0) goto fail;
    }
    if (finish(&r, &res, &err) != 0) goto fail;
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
    free(cur), free(best);
    ser_tb_close(r.tb, NULL);
    ser_net_free(&r.net);
    ser_backend_destroy(r.be);
    ser_wave_aug_free(r.waug);
    ser_noise_list_free(r.noise, r.n_noise);
    free(r.noise_dir);
    if (r.model_ok) ser_model_destroy(&r.model);
    ser_dataset_free(&r.train), ser_dataset_free(&r.val), ser_dataset_free(&r.test);
    ser_feature_cache_close(&r.fc);
    ser_clips_free(&r.train_clips), ser_clips_free(&r.val_clips), ser_clips_free(&r.test_clips);
    ser_model_meta_free(&r.meta);
    ser_init_close(&r.init);
    free(r.p_ckpt), free(r.p_model), free(r.p_hist), free(r.a.sets);
    if (r.lock_fd >= 0) close(r.lock_fd);
    return rc;
}
