/* `ser cv`: speaker-independent cross-validation in one command. Scans the corpus, makes the
 * folds (host/corpus/folds.c), writes each fold's manifests to OUT/fold_N/cv_{train,val,test}.tsv
 * (ser_split_make_mask: the validation clips come from the training speakers), runs
 * `ser train ... --out OUT/fold_N` (or `ser train --resume OUT/fold_N`) for each unfinished fold
 * as a child process of this very binary, --jobs at a time, then summarises
 * (host/cli/cv_summary.c). `--fold K` does that for fold K alone: the idempotent task that the
 * lines of --print-commands and the Slurm array of --slurm (host/cli/cv_slurm.c) run. */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_argv.h"
#include "commands.h"
#include "cv.h"
#include "cv_cost.h"
#include "cv_run.h"
#include "cv_slurm.h"
#include "task_threads.h"
#include "data_args.h"
#include "device.h"
#include "feature_cache_cli.h"
#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/corpus_set.h"
#include "ser/folds.h"
#include "ser/report.h"
#include "ser/split.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser cv --data DIR [--corpus K] [--data DIR2 ...] --out OUT\n"
            "              (--folds K | --folds loso | --fold-lists DIR) [--labels L,...] [--label-map A=B]\n"
            "              [--config F] [--set section.key=value]... [--device D] [--noise-dir DIR]\n"
            "              [--val-speakers N] [--only-folds K,K...] [--seeds S,S... [--seed S]]\n"
            "              [--extra-data DIR [--corpus K]]... [--init MODEL | --pretrain-data DIR [--corpus K]...]\n"
            "              [--feature-cache DIR]\n"
            "              [--jobs N | --fold K | --print-commands | --slurm [SLURM]]\n"
            "       ser cv --collect OUT\n\n"
            "Speaker-independent cross-validation: every fold trains on the other speakers and is\n"
            "tested on its own, held-out ones. With several corpora a speaker is CORPUS:SPEAKER\n"
            "(two corpora's speaker 01 are two speakers), in the folds and in speaker lists.\n"
            "  --folds K          the speakers dealt into K groups balanced by clip count (seeded by\n"
            "                     train.seed: shuffled, sorted by clips, each to the smallest group)\n"
            "  --folds loso       leave one speaker out (one fold per speaker)\n"
            "  --fold-lists DIR   EmoBox folds (DIR/fold_N/*_test_fold_N.jsonl, clips matched by file\n"
            "                     name), or one file per fold: NAME.jsonl (EmoBox lines) or plain text,\n"
            "                     one test speaker a line\n"
            "  --val-speakers N   validate on every clip of N of the fold's training speakers (seeded\n"
            "                     by train.seed) instead of train.validation_split of their clips\n"
            "  --config F, --set  the recipe of every fold (as ser train)\n"
            "  --noise-dir DIR    passed to every fold's ser train (train.aug_noise_kind = folder)\n"
            "  --extra-data DIR   a corpus added whole to every fold's training set (never to its\n"
            "                     validation or test set); repeatable, --corpus and the label\n"
            "                     rules apply as to --data\n"
            "  --init MODEL       every fold fine-tunes from MODEL (ser train --init; train.freeze)\n"
            "  --pretrain-data DIR  first train one model on these corpora (OUT/pretrain: the\n"
            "                     recipe, train.validation_split of them validates), then every fold\n"
            "                     fine-tunes from it; repeatable\n"
            "  --pretrain-config F, --pretrain-set K=V  the pretraining recipe (default: --config;\n"
            "                     the folds' --set values do not apply to it)\n"
            "  --jobs N           N folds side by side, train.threads = T / N each, T this task's\n"
            "                     threads (OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else the CPUs\n"
            "                     it may run on), unless the recipe sets train.threads (default 1)\n"
            "  --feature-cache D  the on-disk feature cache (as ser train): every clip's features are\n"
            "                     computed there once, before the folds, which then read them\n"
            "  --only-folds LIST  train and summarise only these folds (1,2: a screening subset)\n"
            "  --seeds S,S,...    train every fold once per train.seed S into OUT/seed_S/fold_N (the\n"
            "                     folds and manifests stay those of the recipe's seed); the summary\n"
            "                     over seeds and folds in OUT/cv.json, each seed's in OUT/seed_S/\n"
            "  --seed S           with --fold K and --seeds: seed S's run of fold K alone\n"
            "  --fold K           fold K alone, idempotent: skipped when finished, resumed when\n"
            "                     interrupted, else trained (train.threads = T); no summary\n"
            "  --print-commands   write the folds' manifests, print this command with --fold K, one\n"
            "                     line per fold (for GNU parallel or any scheduler) and stop; then\n"
            "                     ser cv --collect OUT\n"
            "  --slurm            write the manifests and OUT/slurm/: folds.sbatch (a job array, one\n"
            "                     task per fold running --fold K), collect.sbatch (ser cv --collect,\n"
            "                     after the whole array: afterok) and submit.sh; submits nothing.\n"
            "                     SLURM options:\n%s"
            "  --collect OUT      only the summary, from OUT/fold_N/report.json\n\n"
            "Validation: train.validation_split of the training speakers' clips (seeded, as ser\n"
            "split), or --val-speakers; no test speaker's clip is seen before the test. Each fold\n"
            "writes OUT/fold_N/ (a ser train run folder with the test report; its log in\n"
            "OUT/fold_N/train.log); the summary (WA, UA, macro-F1 per fold, mean +- sample std)\n"
            "goes to stdout and OUT/cv.json, the test confusion matrix summed over the folds to\n"
            "OUT/confusion_matrix_cv.png. Run it again to resume: a finished fold is kept, an\n"
            "interrupted one continues with ser train --resume (docs/cv.md, docs/cluster.md).\n%s",
            CV_SLURM_HELP, CLI_DATA_HELP);
}

#define CV_MAX_ONLY 256

typedef struct cv_args {
    cli_data data;
    const char *out, *folds, *fold_lists, *config, *device, *collect, *noise_dir, *init, *pretrain_config, *feature_cache;
    const char **pretrain_sets;
    int n_pretrain_sets;
    int role[CLI_MAX_DATA]; /* CV_*: data.src[k]'s role */
    const char **sets;
    int n_sets, jobs, print_commands, val_speakers;
    int fold;                 /* --fold K (1-based), 0: every fold */
    int only[CV_MAX_ONLY];    /* --only-folds, ascending */
    int n_only;
    int seeds[CV_MAX_ONLY];   /* --seeds: train.seed of each repeat, ascending */
    int n_seeds;
    int seed, has_seed;       /* --seed S: the task's seed (with --fold) */
    int slurm;                /* --slurm */
    int slurm_opt;            /* a Slurm option was given */
    cv_slurm_opts sl;
} cv_args;

/* The options of ser cv that take a value, and those a fold's task line leaves out. */
static const char *const WITH_VALUE[] = {"--data", "--corpus", "--labels", "--label-map", "--out", "--folds",
                                         "--fold-lists", "--config", "--noise-dir", "--set", "--device", "--collect",
                                         "--val-speakers", "--jobs", "--fold", "--only-folds", "--seeds", "--seed",
                                         "--feature-cache", "--extra-data", "--pretrain-data", "--init", "--pretrain-config",
                                         "--pretrain-set", "--partition", "--time", "--account",
                                         "--mem", "--cpus", "--gpus", "--sbatch", NULL};
static const char *const NOT_IN_TASK[] = {"--print-commands", "--slurm", "--jobs", "--fold", "--only-folds", "--seed", "--partition", "--time",
                                          "--account", "--mem", "--cpus", "--gpus", "--sbatch", NULL};

static int cmp_int(const void *x, const void *y) {
    const int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* --only-folds 1,2,5 (numbers >= 1) or --seeds 42,43 (>= 0): each once, kept ascending. */
static int parse_list(const char *opt, const char *v, long lo, int *out, int *n) {
    const char *p = v;
    *n = 0;
    while (*p) {
        char *end;
        errno = 0;
        long k = strtol(p, &end, 10);
        if (errno || end == p || (*end && *end != ',') || k < lo || k > 2147483647L || *n == CV_MAX_ONLY) {
            fprintf(stderr, "ser cv: %s '%s': expected numbers >= %ld, N,N,... (at most %d)\n", opt, v, lo, CV_MAX_ONLY);
            return -1;
        }
        for (int i = 0; i < *n; i++)
            if (out[i] == k) return fprintf(stderr, "ser cv: %s '%s': %ld twice\n", opt, v, k), -1;
        out[(*n)++] = (int)k;
        p = *end ? end + 1 : end;
    }
    if (!*n) return fprintf(stderr, "ser cv: %s needs numbers\n", opt), -1;
    qsort(out, (size_t)*n, sizeof *out, cmp_int);
    return 0;
}

static int in_only(const cv_args *a, int fold) {
    if (!a->n_only) return 1;
    for (int i = 0; i < a->n_only; i++)
        if (a->only[i] == fold) return 1;
    return 0;
}

static int parse_args(int argc, char **argv, cv_args *a) {
    memset(a, 0, sizeof *a);
    cli_data_init(&a->data);
    a->jobs = 1;
    a->device = "auto";
    if (!(a->sets = calloc((size_t)argc, sizeof *a->sets)) || !(a->pretrain_sets = calloc((size_t)argc, sizeof *a->sets)))
        return fprintf(stderr, "ser cv: out of memory\n"), -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int more = i + 1 < argc;
        const int got = cli_data_arg(&a->data, argc, argv, &i, "ser cv");
        if (got < 0) return -1;
        if (got) continue;
        if ((!strcmp(s, "--extra-data") || !strcmp(s, "--pretrain-data")) && more) {
            if (cli_data_add(&a->data, argv[++i], "ser cv") != 0) return -1;
            a->role[a->data.n - 1] = s[2] == 'e' ? CV_EXTRA : CV_PRETRAIN;
            continue;
        }
        const int sl = cv_slurm_arg(&a->sl, argc, argv, &i, "ser cv");
        if (sl < 0) return -1;
        if (sl) {
            a->slurm_opt = 1;
            continue;
        }
        if (!strcmp(s, "--out") && more) a->out = argv[++i];
        else if (!strcmp(s, "--init") && more) a->init = argv[++i];
        else if (!strcmp(s, "--pretrain-config") && more) a->pretrain_config = argv[++i];
        else if (!strcmp(s, "--pretrain-set") && more) a->pretrain_sets[a->n_pretrain_sets++] = argv[++i];
        else if (!strcmp(s, "--folds") && more) a->folds = argv[++i];
        else if (!strcmp(s, "--fold-lists") && more) a->fold_lists = argv[++i];
        else if (!strcmp(s, "--config") && more) a->config = argv[++i];
        else if (!strcmp(s, "--noise-dir") && more) a->noise_dir = argv[++i];
        else if (!strcmp(s, "--set") && more) a->sets[a->n_sets++] = argv[++i];
        else if (!strcmp(s, "--device") && more) a->device = argv[++i];
        else if (!strcmp(s, "--feature-cache") && more) a->feature_cache = argv[++i];
        else if (!strcmp(s, "--collect") && more) a->collect = argv[++i];
        else if (!strcmp(s, "--print-commands")) a->print_commands = 1;
        else if (!strcmp(s, "--slurm")) a->slurm = 1;
        else if (!strcmp(s, "--only-folds") && more) {
            if (parse_list(s, argv[++i], 1, a->only, &a->n_only) != 0) return -1;
        } else if (!strcmp(s, "--seeds") && more) {
            if (parse_list(s, argv[++i], 0, a->seeds, &a->n_seeds) != 0) return -1;
        } else if (!strcmp(s, "--seed") && more) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || v < 0 || v > 2147483647L)
                return fprintf(stderr, "ser cv: --seed '%s': expected a number >= 0\n", argv[i]), -1;
            a->seed = (int)v, a->has_seed = 1;
        } else if (!strcmp(s, "--fold") && more) {
            char *end;
            errno = 0;
            long k = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || k < 1 || k > 1000000) {
                fprintf(stderr, "ser cv: --fold '%s': expected a fold number >= 1\n", argv[i]);
                return -1;
            }
            a->fold = (int)k;
        } else if (!strcmp(s, "--val-speakers") && more) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || v < 1 || v > 100000) {
                fprintf(stderr, "ser cv: --val-speakers '%s': expected a count >= 1\n", argv[i]);
                return -1;
            }
            a->val_speakers = (int)v;
        } else if (!strcmp(s, "--jobs") && more) {
            char *end;
            errno = 0;
            long j = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || j < 1 || j > 256) {
                fprintf(stderr, "ser cv: --jobs '%s': expected a count in 1..256\n", argv[i]);
                return -1;
            }
            a->jobs = (int)j;
        } else {
            fprintf(stderr, "ser cv: unknown option or missing value: %s\n", s);
            return -1;
        }
    }
    const char *why = NULL;
    if (a->collect) return 0;
    if (cli_data_finish(&a->data, "ser cv") != 0) return -1;
    if (!a->data.n || !a->out) why = "--data DIR and --out OUT are required";
    else if (!a->folds == !a->fold_lists) why = "give one of --folds K, --folds loso or --fold-lists DIR";
    else if ((a->fold > 0) + a->print_commands + a->slurm + (a->jobs > 1) > 1)
        why = "--fold, --print-commands, --slurm and --jobs exclude each other";
    else if (a->fold && a->n_only) why = "--fold and --only-folds exclude each other";
    else if (a->has_seed && (!a->fold || !a->n_seeds)) why = "--seed S goes with --fold K and --seeds";
    else if (a->has_seed && !bsearch(&a->seed, a->seeds, (size_t)a->n_seeds, sizeof *a->seeds, cmp_int))
        why = "--seed S must be one of --seeds";
    else if (a->slurm_opt && !a->slurm) why = "--partition, --time, --account, --mem, --cpus, --gpus and --sbatch need --slurm";
    int pretrain = 0;
    for (size_t k = 0; k < a->data.n; k++) pretrain |= a->role[k] == CV_PRETRAIN;
    if (!why && a->init && pretrain) why = "--init and --pretrain-data exclude each other (both say where the folds start)";
    if (!why && !pretrain && (a->pretrain_config || a->n_pretrain_sets)) why = "--pretrain-config and --pretrain-set need --pretrain-data";
    if (why) {
        fprintf(stderr, "ser cv: %s\n", why);
        return -1;
    }
    return 0;
}

static int mkdir_one(const char *p, ser_error *err) {
    if (mkdir(p, 0777) != 0 && errno != EEXIST) return ser_fail(err, "%s: cannot create: %s", p, strerror(errno));
    struct stat st;
    if (stat(p, &st) || !S_ISDIR(st.st_mode)) return ser_fail(err, "%s: not a folder", p);
    return 0;
}

static int make_folds(const cv_args *a, const ser_clips *clips, uint32_t seed, ser_folds *f, ser_error *err) {
    if (a->fold_lists) return ser_folds_from_dir(clips, a->fold_lists, f, err);
    if (!strcmp(a->folds, "loso")) return ser_folds_loso(clips, f, err);
    char *end;
    errno = 0;
    long k = strtol(a->folds, &end, 10);
    if (errno || end == a->folds || *end || k < 2 || k > 100000)
        return ser_fail(err, "--folds '%s': expected a count >= 2 or loso", a->folds);
    return ser_folds_kfold(clips, (int)k, seed, f, err);
}

/* Writes path through a temporary name of this process's own: the fold tasks of one OUT may
 * start together and each write the files they share (cv_recipe.json); the last rename wins and
 * every one of them holds the same text. */
static int write_new(const char *path, const char *text, size_t len, ser_error *err) {
    char tmp[PATH_MAX + 64];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ser_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return ser_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
    int rc = fwrite(text, 1, len, f) == len ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    if (!rc && rename(tmp, path) != 0) rc = -1;
    if (rc) {
        int e = errno;
        remove(tmp);
        return ser_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

/* Writes text to path; a rerun finds the file already there and must find the same text (else
 * the folds or the recipe of this command are not those of the run that made OUT). */
static int write_or_compare(const char *path, const char *text, size_t len, ser_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return write_new(path, text, len, err);
    char *old = malloc(len + 2);
    if (!old) {
        fclose(f);
        return ser_fail(err, "%s: out of memory reading it back (%zu bytes)", path, len + 2);
    }
    size_t got = fread(old, 1, len + 1, f);
    int rc = 0;
    if (got != len || memcmp(old, text, len))
        rc = ser_fail(err, "%s differs from what this command makes (another corpus, fold option, seed or recipe "
                           "made OUT): use another --out, or remove it",
                      path);
    free(old);
    fclose(f);
    return rc;
}

static int write_manifest(const char *path, const ser_clips *clips, const size_t *idx, size_t n, ser_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return ser_fail(err, "%s: %s", path, strerror(errno));
    int bad = ser_manifest_print(m, clips->v, idx, n);
    if (fclose(m) != 0 || bad) {
        free(text);
        return ser_fail(err, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) {
        const ser_clip *c = &clips->v[idx[i]];
        if (strpbrk(c->path, "\t\r\n") || strpbrk(c->label, "\t\r\n") || strpbrk(c->speaker, "\t\r\n") ||
            strpbrk(c->group, "\t\r\n")) {
            free(text);
            return ser_fail(err, "%s: clip '%s' has a tab or newline in a field", path, c->path);
        }
    }
    int rc = write_or_compare(path, text, len, err);
    free(text);
    return rc;
}

/* OUT/cv_recipe.json: the recipe the folds train with (train.threads aside: --jobs may change it
 * between reruns), so that a rerun with other options cannot resume into the old folds. */
static int write_recipe(const char *out, const ser_config *cfg, ser_error *err) {
    ser_config c = *cfg;
    c.train.threads = 0;
    char *js = ser_config_to_json(&c);
    size_t n = strlen(out) + 32;
    char *p = malloc(n);
    int rc = js && p ? 0 : ser_fail(err, "out of memory");
    if (!rc) snprintf(p, n, "%s/cv_recipe.json", out), rc = write_or_compare(p, js, strlen(js), err);
    free(js), free(p);
    return rc;
}

/* Every clip's features into the on-disk feature cache once, before the folds start, with all
 * the cores: the folds (and --jobs side by side) then read them instead of each computing its
 * own (docs/cv.md). Nothing when the cache is off. */
static int prefill_cache(const cv_args *a, const ser_config *cfg, const ser_clips *clips, ser_error *err) {
    int cuda = 0;
    char why[256];
    if (cli_device_pick(a->device, &cuda, why, sizeof why, err) != 0) return -1;
    ser_feature_cache fc;
    const int on = cli_feature_cache_open(&fc, NULL, cfg, cuda, err);
    if (on <= 0) return on;
    const size_t n = clips->n;
    char **paths = ser_malloc(n * sizeof *paths, "clip paths", err);
    ser_feature_loc *loc = ser_malloc(n * sizeof *loc, "feature locations", err);
    unsigned char *ok = ser_malloc(n, "clip flags", err);
    int rc = -1;
    if (paths && loc && ok) {
        for (size_t i = 0; i < n; i++) paths[i] = clips->v[i].path;
        fprintf(stderr, "ser cv: features of %zu clips into the feature cache %s...\n", n, fc.dir);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = ser_feature_cache_fill(&fc, paths, n, cli_features_fn(cuda), cfg->train.threads, loc, ok, NULL, err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!rc)
            fprintf(stderr, "ser cv: feature cache: %zu clips computed, the others found, in %.1f s\n", fc.n_computed,
                    (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    }
    free(paths), free(loc), free(ok);
    ser_feature_cache_close(&fc);
    return rc ? ser_fail_wrap(err, "feature cache") : 0;
}

static void build_cmd(fold_cmd *c, const cv_args *a, char *exe, const char *config_abs, const char *noise_abs,
                      const char *init_abs, int threads) {
    c->argc = 0;
    c->argv[c->argc++] = exe;
    c->argv[c->argc++] = "train";
    if (c->resume) {
        c->argv[c->argc++] = "--resume";
        c->argv[c->argc++] = c->dir;
    } else {
        if (config_abs) c->argv[c->argc++] = "--config", c->argv[c->argc++] = (char *)config_abs;
        if (noise_abs) c->argv[c->argc++] = "--noise-dir", c->argv[c->argc++] = (char *)noise_abs;
        if (init_abs) c->argv[c->argc++] = "--init", c->argv[c->argc++] = (char *)init_abs;
        for (int i = 0; i < a->n_sets && c->argc + 2 < 170; i++) c->argv[c->argc++] = "--set", c->argv[c->argc++] = (char *)a->sets[i];
        if (c->seed_set[0]) c->argv[c->argc++] = "--set", c->argv[c->argc++] = c->seed_set;
        if (threads > 0) {
            snprintf(c->threads, sizeof c->threads, "train.threads=%d", threads);
            c->argv[c->argc++] = "--set", c->argv[c->argc++] = c->threads;
        }
        static const char *const OPT[3] = {"--train-list", "--val-list", "--test-list"};
        for (int k = 0; k < 3; k++)
            if (c->lists[k][0]) c->argv[c->argc++] = (char *)OPT[k], c->argv[c->argc++] = c->lists[k]; /* pretrain: no test */
        c->argv[c->argc++] = "--out";
        c->argv[c->argc++] = c->dir;
    }
    c->argv[c->argc++] = "--device";
    c->argv[c->argc++] = (char *)a->device;
    c->argv[c->argc] = NULL;
}

/* The pretraining run finished: its report (written after its model) is there. */
static int pretrain_finished(const char *dir) {
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/report.json", dir);
    return access(p, F_OK) == 0;
}

/* The recipe as ser train will resolve it: the seed, validation fraction and threads cv uses. */
static int load_recipe(const cv_args *a, ser_config *cfg, ser_error *err) {
    ser_config_defaults(cfg);
    if (a->config && ser_config_load(cfg, a->config, err) != 0) return ser_fail_wrap(err, "--config");
    if (ser_config_set_all(cfg, (const char *const *)a->sets, a->n_sets, err) != 0) return -1;
    return 0;
}

/* The fold's train / validation / test clips: a seeded fraction of the training speakers' clips
 * validates (as ser split), or with --val-speakers every clip of some of them (path order). */
static int fold_split(const cv_args *a, const ser_clips *clips, const ser_fold *fold, const ser_config *cfg,
                      ser_split *s, ser_error *err) {
    const uint32_t seed = (uint32_t)cfg->train.seed;
    if (!a->val_speakers) return ser_split_make_mask(clips, fold->in_test, cfg->train.validation_split, seed, s, err);
    memset(s, 0, sizeof *s);
    const size_t n = clips->n ? clips->n : 1;
    unsigned char *in_val = ser_malloc(n, "the validation speakers", err);
    s->train = ser_malloc(n * sizeof *s->train, "the split", err);
    s->val = ser_malloc(n * sizeof *s->val, "the split", err);
    s->test = ser_malloc(n * sizeof *s->test, "the split", err);
    int rc = in_val && s->train && s->val && s->test ? 0 : -1;
    if (!rc) rc = ser_fold_val_speakers(clips, fold, a->val_speakers, seed, in_val, err);
    /* scanned clips are in path order already */
    for (size_t i = 0; !rc && i < clips->n; i++) {
        if (fold->in_test[i]) s->test[s->n_test++] = i;
        else if (in_val[i]) s->val[s->n_val++] = i;
        else s->train[s->n_train++] = i;
    }
    free(in_val);
    if (rc) ser_split_free(s);
    return rc;
}

/* OUT/pretrain/: its training and validation manifests (a seeded train.validation_split of the
 * pretraining corpora, as ser split), and the command's folder and lists in *c. */
static int pretrain_prepare(const cv_args *a, const ser_clips *clips, const ser_config *cfg, const char *out_abs,
                            fold_cmd *c, ser_error *err) {
    (void)a;
    snprintf(c->what, sizeof c->what, "pretraining");
    if (snprintf(c->dir, sizeof c->dir, "%s/pretrain", out_abs) >= (int)sizeof c->dir ||
        snprintf(c->lists[0], sizeof c->lists[0], "%s/cv_train.tsv", c->dir) >= (int)sizeof c->lists[0] ||
        snprintf(c->lists[1], sizeof c->lists[1], "%s/cv_val.tsv", c->dir) >= (int)sizeof c->lists[1])
        return ser_fail(err, "%s: path too long", out_abs);
    c->lists[2][0] = 0; /* no test set: the folds test */
    ser_split_opts so = {0};
    so.val_fraction = cfg->train.validation_split;
    so.seed = (uint32_t)cfg->train.seed;
    ser_split sp;
    if (ser_split_make(clips, &so, &sp, err) != 0) return ser_fail_wrap(err, "--pretrain-data");
    int rc = mkdir_one(c->dir, err) || write_manifest(c->lists[0], clips, sp.train, sp.n_train, err) ||
             write_manifest(c->lists[1], clips, sp.val, sp.n_val, err);
    if (!rc) fprintf(stderr, "ser cv: pretraining: train %zu, val %zu clips\n", sp.n_train, sp.n_val);
    ser_split_free(&sp);
    return rc ? -1 : 0;
}

/* With --seeds: seed S's run of fold K, OUT/seed_S/fold_K, trains on fold K's manifests (m's)
 * with train.seed = S. r may be m itself (its lists are kept). */
static int seed_run(const fold_cmd *m, fold_cmd *r, const char *out_abs, int seed, int fold, ser_error *err) {
    if (r != m) memcpy(r->lists, m->lists, sizeof r->lists);
    char sd[PATH_MAX + 32];
    if (snprintf(sd, sizeof sd, "%s/seed_%d", out_abs, seed) >= (int)sizeof sd ||
        snprintf(r->dir, sizeof r->dir, "%s/fold_%d", sd, fold) >= (int)sizeof r->dir)
        return ser_fail(err, "%s: path too long", out_abs);
    snprintf(r->seed_set, sizeof r->seed_set, "train.seed=%d", seed);
    snprintf(r->what, sizeof r->what, "seed %d fold %d", seed, fold);
    return mkdir_one(sd, err) || mkdir_one(r->dir, err) ? -1 : 0;
}

/* The command of one fold's task: this very command with absolute paths, without the options
 * that say how to run it (--jobs, --print-commands, --slurm and its options); --fold K follows. */
static int task_line(int argc, char **argv, const char *exe, cli_argv *t, ser_error *err) {
    memset(t, 0, sizeof *t);
    if (cli_argv_push(t, exe, err) || cli_argv_push(t, "cv", err)) return -1;
    return cli_argv_copy(t, argc - 1, argv + 1, WITH_VALUE, NOT_IN_TASK, err);
}

/* --slurm: OUT/slurm/ (cv_slurm.c), its task the line of task_line. */
static int write_slurm(int argc, char **argv, const cv_args *a, const char *exe, const char *out_abs, int n_folds,
                       ser_error *err) {
    cli_argv task;
    int rc = task_line(argc, argv, exe, &task, err);
    int *folds = malloc((size_t)n_folds * sizeof *folds), nf = 0;
    for (int k = 0; folds && k < n_folds; k++)
        if (in_only(a, k + 1)) folds[nf++] = k + 1;
    if (!rc) rc = folds ? cv_slurm_write(out_abs, exe, &task, folds, nf, a->seeds, a->n_seeds, &a->sl, err)
                        : ser_fail(err, "out of memory");
    cli_argv_free(&task);
    free(folds);
    return rc;
}

int cmd_cv(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    cv_args a;
    if (parse_args(argc, argv, &a) != 0) {
        usage(stderr);
        free(a.sets), free(a.pretrain_sets);
        return 2;
    }
    ser_error err = {{0}};
    /* the folds' ser train inherit it */
    if (a.feature_cache && setenv("SER_FEATURE_CACHE", a.feature_cache, 1) != 0) {
        fprintf(stderr, "ser cv: --feature-cache: %s\n", strerror(errno));
        free(a.sets), free(a.pretrain_sets);
        return 1;
    }
    if (a.collect) {
        free(a.sets), free(a.pretrain_sets);
        int *nums = NULL, *seeds = NULL;
        const int nf = cv_fold_numbers(a.collect, &nums), ns = cv_dir_numbers(a.collect, "seed_", &seeds);
        const int ok = ns ? cv_seeds_collect(a.collect, seeds, ns, &err) == 0
                          : cv_collect(a.collect, 0, &err) == 0 && cv_cost_collect(a.collect, nums, nf, &err) == 0;
        free(nums), free(seeds);
        if (ok) return 0;
        fprintf(stderr, "ser cv: --collect: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    ser_config cfg;
    ser_corpus_set set = {0};
    ser_folds folds = {0};
    fold_cmd *cmds = NULL, *pre = NULL;
    int *todo = NULL;
    ser_clips parts[CV_ROLES], combined = {0};
    memset(parts, 0, sizeof parts);
    char exe[PATH_MAX], out_abs[PATH_MAX], config_abs[PATH_MAX], noise_abs[PATH_MAX], init_abs[PATH_MAX + 64],
        pre_config_abs[PATH_MAX];
    const char *init_for_folds = NULL;
    if (load_recipe(&a, &cfg, &err) != 0) goto fail;
    if (a.config && !realpath(a.config, config_abs)) {
        ser_fail(&err, "--config %s: %s", a.config, strerror(errno));
        goto fail;
    }
    if (a.noise_dir && !realpath(a.noise_dir, noise_abs)) {
        ser_fail(&err, "--noise-dir %s: %s", a.noise_dir, strerror(errno));
        goto fail;
    }
    if (a.init && !realpath(a.init, init_abs)) {
        ser_fail(&err, "--init %s: %s", a.init, strerror(errno));
        goto fail;
    }
    if (a.init) init_for_folds = init_abs;
    if (a.pretrain_config && !realpath(a.pretrain_config, pre_config_abs)) {
        ser_fail(&err, "--pretrain-config %s: %s", a.pretrain_config, strerror(errno));
        goto fail;
    }
    if (!realpath("/proc/self/exe", exe)) {
        ser_fail(&err, "/proc/self/exe: %s (cannot find the ser binary to run the folds)", strerror(errno));
        goto fail;
    }
    const cli_data *d = &a.data;
    if (ser_corpus_set_scan(d->src, d->n, 0, d->any_rules ? &d->rules : NULL, &set, &err) != 0) goto fail;
    if (set.n > 1 || set.n_dropped || set.n_loose) cli_data_print(&set, 0, stderr, "ser cv");
    else if (set.corpora[0].n_skips)
        fprintf(stderr, "ser cv: %s: %zu audio files skipped (ser scan lists them)\n", d->src[0].dir, set.corpora[0].n_skips);
    /* the folds are made of the --data corpora; --extra-data joins every fold's training set */
    if (cv_sources_split(&set, d, a.role, parts, &err) != 0) goto fail;
    const ser_clips *clips = &parts[CV_TARGET];
    for (int r = CV_TARGET; r <= CV_EXTRA; r++)
        for (size_t i = 0; i < parts[r].n; i++)
            if (ser_clips_push_clip(&combined, &parts[r].v[i], &err) != 0) goto fail;
    if (parts[CV_EXTRA].n || parts[CV_PRETRAIN].n)
        fprintf(stderr, "ser cv: %zu clips make the folds, %zu more train in every fold, %zu pretrain\n", clips->n,
                parts[CV_EXTRA].n, parts[CV_PRETRAIN].n);
    const uint32_t seed = (uint32_t)cfg.train.seed;
    if (make_folds(&a, clips, seed, &folds, &err) != 0) {
        ser_fail_wrap(&err, "%s%s", d->src[0].dir, d->n > 1 ? " ..." : "");
        goto fail;
    }
    if (folds.n_untested)
        fprintf(stderr, "ser cv: note: %zu clips are in no fold's test set (they only ever train)\n", folds.n_untested);
    if (mkdir_one(a.out, &err) != 0) goto fail;
    if (!realpath(a.out, out_abs)) {
        ser_fail(&err, "%s: %s", a.out, strerror(errno));
        goto fail;
    }
    if (write_recipe(out_abs, &cfg, &err) != 0) goto fail;
    /* train.threads: the recipe's when it names a count, else this task's threads divided among
     * the jobs (recorded in the fold's config.ini, which a resume reads back) */
    const char *th_from;
    const int task_threads = cli_task_threads(&th_from);
    const int threads = cfg.train.threads > 0 ? 0 : (task_threads / a.jobs > 0 ? task_threads / a.jobs : 1);
    if (parts[CV_PRETRAIN].n) {
        if (!(pre = calloc(1, sizeof *pre))) {
            ser_fail(&err, "out of memory");
            goto fail;
        }
        if (pretrain_prepare(&a, &parts[CV_PRETRAIN], &cfg, out_abs, pre, &err) != 0) goto fail;
        snprintf(init_abs, sizeof init_abs, "%s/model.safetensors", pre->dir);
        init_for_folds = init_abs;
        cv_args pa = a; /* its own recipe: --pretrain-config (else --config) and --pretrain-set */
        pa.sets = a.pretrain_sets, pa.n_sets = a.n_pretrain_sets;
        const char *pcfg = a.pretrain_config ? pre_config_abs : a.config ? config_abs : NULL;
        if (a.slurm && !pretrain_finished(pre->dir)) {
            ser_fail(&err, "--slurm with --pretrain-data: %s holds no pretrained model yet; train it first (this "
                           "command with --fold 1 instead of --slurm pretrains, then trains fold 1), then --slurm",
                     pre->dir);
            goto fail;
        } else if (a.print_commands) {
            build_cmd(pre, &pa, exe, pcfg, NULL, NULL, 0);
            for (int i = 0; i < pre->argc; i++) cli_write_word(stdout, pre->argv[i]), putchar(i + 1 < pre->argc ? ' ' : '\n');
            fprintf(stderr, "ser cv: the first command pretrains; the fold commands start from its model\n");
        } else if (pretrain_finished(pre->dir)) {
            fprintf(stderr, "ser cv: pretraining: finished earlier, kept (%s)\n", pre->dir);
        } else {
            char ini[PATH_MAX + 64];
            snprintf(ini, sizeof ini, "%s/config.ini", pre->dir);
            pre->resume = access(ini, F_OK) == 0;
            build_cmd(pre, &pa, exe, pcfg, NULL, NULL, 0);
            const int zero = 0;
            if (cv_run_folds(pre, &zero, 1, 1) != 0) {
                ser_fail(&err, "pretraining failed (its log is named above); run the same command again to resume");
                goto fail;
            }
        }
    }
    const int n = (int)folds.n;
    const int n_runs = n * (a.n_seeds ? a.n_seeds : 1);
    cmds = calloc((size_t)n_runs, sizeof *cmds);
    todo = calloc((size_t)n_runs, sizeof *todo);
    if (!cmds || !todo) {
        ser_fail(&err, "out of memory");
        goto fail;
    }
    if (a.fold > n || (a.n_only && a.only[a.n_only - 1] > n)) {
        ser_fail(&err, "--%s %d: there are %d folds", a.fold ? "fold" : "only-folds", a.fold ? a.fold : a.only[a.n_only - 1], n);
        goto fail;
    }
    int n_todo = 0;
    for (int k = 0; k < n; k++) {
        if ((a.fold && k + 1 != a.fold) || !in_only(&a, k + 1)) continue;
        fold_cmd *c = &cmds[k];
        static const char *const NAMES[3] = {"cv_train.tsv", "cv_val.tsv", "cv_test.tsv"};
        int len_ok = snprintf(c->dir, sizeof c->dir, "%s/fold_%d", out_abs, k + 1) < (int)sizeof c->dir;
        for (int i = 0; i < 3; i++)
            len_ok &= snprintf(c->lists[i], sizeof c->lists[i], "%s/%s", c->dir, NAMES[i]) < (int)sizeof c->lists[i];
        if (!len_ok) {
            ser_fail(&err, "%s: path too long", out_abs);
            goto fail;
        }
        snprintf(c->what, sizeof c->what, "fold %d", k + 1);
        ser_split s;
        if (fold_split(&a, clips, &folds.v[k], &cfg, &s, &err) != 0) {
            ser_fail_wrap(&err, "fold %d", k + 1);
            goto fail;
        }
        /* the extra corpora follow the target's clips in `combined`: indices n_target.. */
        size_t *train_idx = s.train;
        if (parts[CV_EXTRA].n) {
            if (!(train_idx = ser_malloc((s.n_train + parts[CV_EXTRA].n) * sizeof *train_idx, "fold training list", &err))) {
                ser_split_free(&s);
                goto fail;
            }
            memcpy(train_idx, s.train, s.n_train * sizeof *train_idx);
            for (size_t i = 0; i < parts[CV_EXTRA].n; i++) train_idx[s.n_train + i] = clips->n + i;
        }
        int wrc = mkdir_one(c->dir, &err) ||
                  write_manifest(c->lists[0], &combined, train_idx, s.n_train + parts[CV_EXTRA].n, &err) ||
                  write_manifest(c->lists[1], &combined, s.val, s.n_val, &err) ||
                  write_manifest(c->lists[2], &combined, s.test, s.n_test, &err);
        if (train_idx != s.train) free(train_idx);
        if (!a.print_commands && !a.slurm) {
            fprintf(stderr, "ser cv: fold %d: test speakers", k + 1);
            for (size_t i = 0; i < folds.v[k].n_speakers; i++) fprintf(stderr, "%s%s", i ? "," : " ", folds.v[k].speakers[i]);
            fprintf(stderr, " (train %zu%s, val %zu, test %zu clips)\n", s.n_train + parts[CV_EXTRA].n,
                    parts[CV_EXTRA].n ? " with the extra corpora" : "", s.n_val, s.n_test);
        }
        ser_split_free(&s);
        if (wrc) goto fail;
        if (a.print_commands || a.slurm) continue;
        /* the runs of this fold: OUT/fold_K itself, or with --seeds OUT/seed_S/fold_K per seed */
        for (int si = 0; si < (a.n_seeds ? a.n_seeds : 1); si++) {
            if (a.has_seed && a.seeds[si] != a.seed) continue;
            fold_cmd *r = &cmds[si * n + k];
            snprintf(r->what, sizeof r->what, "fold %d", k + 1);
            if (a.n_seeds && seed_run(c, r, out_abs, a.seeds[si], k + 1, &err) != 0) goto fail;
            char ini[PATH_MAX + 64];
            snprintf(ini, sizeof ini, "%s/config.ini", r->dir);
            if (cv_fold_finished(r->dir)) {
                fprintf(stderr, "ser cv: %s: finished earlier, kept (%s)\n", r->what, r->dir);
                continue;
            }
            r->resume = access(ini, F_OK) == 0; /* started before: its own recorded split and recipe */
            build_cmd(r, &a, exe, a.config ? config_abs : NULL, a.noise_dir ? noise_abs : NULL, init_for_folds, threads);
            todo[n_todo++] = si * n + k;
        }
    }
    if (a.slurm) {
        if (write_slurm(argc, argv, &a, exe, out_abs, n, &err) != 0) goto fail;
        fprintf(stderr, "ser cv: %d folds: %s/slurm/folds.sbatch (an array task per fold), collect.sbatch; submit with:\n",
                a.n_only ? a.n_only : n, out_abs);
        printf("sh %s/slurm/submit.sh\n", out_abs);
        rc = 0;
        goto done;
    }
    if (a.print_commands) {
        cli_argv task;
        if (task_line(argc, argv, exe, &task, &err) != 0) {
            cli_argv_free(&task);
            goto fail;
        }
        for (int si = 0; si < (a.n_seeds ? a.n_seeds : 1); si++)
            for (int k = 0; k < n; k++) {
                if (!in_only(&a, k + 1)) continue;
                cli_write_line(stdout, &task);
                if (a.n_seeds) printf(" --seed %d", a.seeds[si]);
                printf(" --fold %d\n", k + 1);
            }
        cli_argv_free(&task);
        if (fflush(stdout) != 0) {
            ser_fail(&err, "stdout: %s", strerror(errno));
            goto fail;
        }
        fprintf(stderr, "ser cv: %d commands; when they have run: ser cv --collect %s\n",
                (a.n_only ? a.n_only : n) * (a.n_seeds ? a.n_seeds : 1), out_abs);
        rc = 0;
        goto done;
    }
    if (n_todo && prefill_cache(&a, &cfg, &combined, &err) != 0) goto fail;
    if (n_todo && threads)
        fprintf(stderr, "ser cv: %d job%s at a time, train.threads = %d each (this task's threads: %d, from %s)\n",
                a.jobs, a.jobs > 1 ? "s" : "", threads, task_threads, th_from);
    const int failed = cv_run_folds(cmds, todo, n_todo, a.jobs);
    if (failed) {
        ser_fail(&err, "%d of %d folds failed (their logs are named above); run the same command again to resume",
                 failed, n_todo);
        goto fail;
    }
    if (a.fold) {
        fprintf(stderr, "ser cv: fold %d of %d done; when every fold is: ser cv --collect %s\n", a.fold, n, out_abs);
        rc = 0;
        goto done;
    }
    if (a.n_seeds ? cv_seeds_collect(out_abs, a.seeds, a.n_seeds, &err) != 0
        : a.n_only ? cv_collect_folds(out_abs, a.only, a.n_only, &err) != 0 || cv_cost_collect(out_abs, a.only, a.n_only, &err) != 0
                   : cv_collect(out_abs, n, &err) != 0 || cv_cost_collect(out_abs, NULL, n, &err) != 0)
        goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ser cv: %s\n", err.msg);
done:
    free(cmds), free(pre), free(todo), free(a.sets), free(a.pretrain_sets);
    for (int r = 0; r < CV_ROLES; r++) ser_clips_free(&parts[r]);
    ser_clips_free(&combined);
    ser_folds_free(&folds);
    ser_corpus_set_free(&set);
    return rc;
}
