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
#include "cv_args.h"
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
    int rc = cv_mkdir_one(c->dir, err) || cv_write_manifest(c->lists[0], clips, sp.train, sp.n_train, err) ||
             cv_write_manifest(c->lists[1], clips, sp.val, sp.n_val, err);
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
    return cv_mkdir_one(sd, err) || cv_mkdir_one(r->dir, err) ? -1 : 0;
}

/* The command of one fold's task: this very command with absolute paths, without the options
 * that say how to run it (--jobs, --print-commands, --slurm and its options); --fold K follows. */
static int task_line(int argc, char **argv, const char *exe, cli_argv *t, ser_error *err) {
    memset(t, 0, sizeof *t);
    if (cli_argv_push(t, exe, err) || cli_argv_push(t, "cv", err)) return -1;
    return cli_argv_copy(t, argc - 1, argv + 1, CV_WITH_VALUE, CV_NOT_IN_TASK, err);
}

/* --slurm: OUT/slurm/ (cv_slurm.c), its task the line of task_line. */
static int write_slurm(int argc, char **argv, const cv_args *a, const char *exe, const char *out_abs, int n_folds,
                       ser_error *err) {
    cli_argv task;
    int rc = task_line(argc, argv, exe, &task, err);
    int *folds = malloc((size_t)n_folds * sizeof *folds), nf = 0;
    for (int k = 0; folds && k < n_folds; k++)
        if (cv_in_only(a, k + 1)) folds[nf++] = k + 1;
    if (!rc) rc = folds ? cv_slurm_write(out_abs, exe, &task, folds, nf, a->seeds, a->n_seeds, &a->sl, err)
                        : ser_fail(err, "out of memory");
    cli_argv_free(&task);
    free(folds);
    return rc;
}

int cmd_cv(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cv_usage(stdout);
        return 0;
    }
    cv_args a;
    if (cv_parse_args(argc, argv, &a) != 0) {
        cv_usage(stderr);
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
    if (cv_mkdir_one(a.out, &err) != 0) goto fail;
    if (!realpath(a.out, out_abs)) {
        ser_fail(&err, "%s: %s", a.out, strerror(errno));
        goto fail;
    }
    if (cv_write_recipe(out_abs, &cfg, &err) != 0) goto fail;
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
        if ((a.fold && k + 1 != a.fold) || !cv_in_only(&a, k + 1)) continue;
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
        int wrc = cv_mkdir_one(c->dir, &err) ||
                  cv_write_manifest(c->lists[0], &combined, train_idx, s.n_train + parts[CV_EXTRA].n, &err) ||
                  cv_write_manifest(c->lists[1], &combined, s.val, s.n_val, &err) ||
                  cv_write_manifest(c->lists[2], &combined, s.test, s.n_test, &err);
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
                if (!cv_in_only(&a, k + 1)) continue;
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
