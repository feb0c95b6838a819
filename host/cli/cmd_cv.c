/* `ser cv`: speaker-independent cross-validation in one command. Scans the corpus, makes the
 * folds (host/corpus/folds.c), writes each fold's manifests to OUT/fold_N/cv_{train,val,test}.tsv
 * (ser_split_make_mask: the validation clips come from the training speakers), runs
 * `ser train ... --out OUT/fold_N` for each fold as a child process of this very binary (the
 * line --print-commands prints), --jobs at a time, then summarises (host/cli/cv_summary.c). */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "cv.h"
#include "data_args.h"
#include "device.h"
#include "feature_cache_cli.h"
#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/corpus_set.h"
#include "ser/folds.h"
#include "ser/report.h"
#include "ser/split.h"

extern char **environ;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser cv --data DIR [--corpus K] [--data DIR2 ...] --out OUT\n"
            "              (--folds K | --folds loso | --fold-lists DIR) [--labels L,...] [--label-map A=B]\n"
            "              [--config F] [--set section.key=value]... [--device D] [--noise-dir DIR]\n"
            "              [--val-speakers N] [--jobs N] [--feature-cache DIR] [--print-commands]\n"
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
            "  --jobs N           N folds side by side, train.threads = cores / N each (unless the\n"
            "                     recipe sets train.threads) (default 1)\n"
            "  --feature-cache D  the on-disk feature cache (as ser train): every clip's features are\n"
            "                     computed there once, before the folds, which then read them\n"
            "  --print-commands   write the folds' manifests, print one `ser train` line per fold\n"
            "                     (for a Slurm array or GNU parallel) and stop; then ser cv --collect OUT\n"
            "  --collect OUT      only the summary, from OUT/fold_N/report.json\n\n"
            "Validation: train.validation_split of the training speakers' clips (seeded, as ser\n"
            "split), or --val-speakers; no test speaker's clip is seen before the test. Each fold\n"
            "writes OUT/fold_N/ (a ser train run folder with the test report; its log in\n"
            "OUT/fold_N/train.log); the summary (WA, UA, macro-F1 per fold, mean +- sample std)\n"
            "goes to stdout and OUT/cv.json, the test confusion matrix summed over the folds to\n"
            "OUT/confusion_matrix_cv.png. Run it again to resume: a finished fold is kept, an\n"
            "interrupted one continues with ser train --resume (docs/cv.md).\n%s",
            CLI_DATA_HELP);
}

typedef struct cv_args {
    cli_data data;
    const char *out, *folds, *fold_lists, *config, *device, *collect, *noise_dir, *feature_cache;
    const char **sets;
    int n_sets, jobs, print_commands, val_speakers;
} cv_args;

static int parse_args(int argc, char **argv, cv_args *a) {
    memset(a, 0, sizeof *a);
    cli_data_init(&a->data);
    a->jobs = 1;
    a->device = "auto";
    if (!(a->sets = calloc((size_t)argc, sizeof *a->sets))) return fprintf(stderr, "ser cv: out of memory\n"), -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int more = i + 1 < argc;
        const int got = cli_data_arg(&a->data, argc, argv, &i, "ser cv");
        if (got < 0) return -1;
        if (got) continue;
        if (!strcmp(s, "--out") && more) a->out = argv[++i];
        else if (!strcmp(s, "--folds") && more) a->folds = argv[++i];
        else if (!strcmp(s, "--fold-lists") && more) a->fold_lists = argv[++i];
        else if (!strcmp(s, "--config") && more) a->config = argv[++i];
        else if (!strcmp(s, "--noise-dir") && more) a->noise_dir = argv[++i];
        else if (!strcmp(s, "--set") && more) a->sets[a->n_sets++] = argv[++i];
        else if (!strcmp(s, "--device") && more) a->device = argv[++i];
        else if (!strcmp(s, "--feature-cache") && more) a->feature_cache = argv[++i];
        else if (!strcmp(s, "--collect") && more) a->collect = argv[++i];
        else if (!strcmp(s, "--print-commands")) a->print_commands = 1;
        else if (!strcmp(s, "--val-speakers") && more) {
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

/* Writes text to path; a rerun finds the file already there and must find the same text (else
 * the folds or the recipe of this command are not those of the run that made OUT). */
static int write_or_compare(const char *path, const char *text, size_t len, ser_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ser_write_text_file(path, text, err);
    char *old = malloc(len + 2);
    size_t got = old ? fread(old, 1, len + 1, f) : 0;
    int rc = 0;
    if (!old || got != len || memcmp(old, text, len))
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

/* One fold's ser train command line; argv strings point into a, out_abs, or the static pool. */
typedef struct fold_cmd {
    char *argv[64 + 2 * 64];
    int argc;
    char dir[PATH_MAX + 32], lists[3][PATH_MAX + 64], threads[48];
    int resume;
} fold_cmd;

static void build_cmd(fold_cmd *c, const cv_args *a, char *exe, const char *config_abs, const char *noise_abs,
                      int threads) {
    c->argc = 0;
    c->argv[c->argc++] = exe;
    c->argv[c->argc++] = "train";
    if (c->resume) {
        c->argv[c->argc++] = "--resume";
        c->argv[c->argc++] = c->dir;
    } else {
        if (config_abs) c->argv[c->argc++] = "--config", c->argv[c->argc++] = (char *)config_abs;
        if (noise_abs) c->argv[c->argc++] = "--noise-dir", c->argv[c->argc++] = (char *)noise_abs;
        for (int i = 0; i < a->n_sets && c->argc + 2 < 170; i++) c->argv[c->argc++] = "--set", c->argv[c->argc++] = (char *)a->sets[i];
        if (threads > 0) {
            snprintf(c->threads, sizeof c->threads, "train.threads=%d", threads);
            c->argv[c->argc++] = "--set", c->argv[c->argc++] = c->threads;
        }
        static const char *const OPT[3] = {"--train-list", "--val-list", "--test-list"};
        for (int k = 0; k < 3; k++) c->argv[c->argc++] = (char *)OPT[k], c->argv[c->argc++] = c->lists[k];
        c->argv[c->argc++] = "--out";
        c->argv[c->argc++] = c->dir;
    }
    c->argv[c->argc++] = "--device";
    c->argv[c->argc++] = (char *)a->device;
    c->argv[c->argc] = NULL;
}

/* The argument as one shell word: bare when safe, else single-quoted. */
static void print_word(const char *s) {
    if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=.,/:@%") == strlen(s)) {
        fputs(s, stdout);
        return;
    }
    putchar('\'');
    for (; *s; s++) *s == '\'' ? fputs("'\\''", stdout) : putchar(*s);
    putchar('\'');
}

/* Starts the fold's command with stdout and stderr into dir/train.log (appended on a resume). */
static int spawn_fold(const fold_cmd *c, pid_t *pid, ser_error *err) {
    char log[PATH_MAX + 64];
    snprintf(log, sizeof log, "%s/train.log", c->dir);
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return ser_fail(err, "posix_spawn_file_actions_init failed");
    int rc = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | (c->resume ? O_APPEND : O_TRUNC), 0644);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (!rc) rc = posix_spawn(pid, c->argv[0], &fa, NULL, c->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc ? ser_fail(err, "%s: cannot start %s: %s", c->dir, c->argv[0], strerror(rc)) : 0;
}

/* The last line of a fold's log: what a failed fold said last. */
static void print_log_tail(const char *dir) {
    char p[PATH_MAX + 64], line[1024], last[1024] = "";
    snprintf(p, sizeof p, "%s/train.log", dir);
    FILE *f = fopen(p, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f))
        if (line[0] != '\n') memcpy(last, line, sizeof last);
    fclose(f);
    fprintf(stderr, "ser cv:   %s: %s", p, last[0] ? last : "(empty)\n");
}

/* Runs the commands of the unfinished folds, jobs at a time; returns the number that failed. */
static int run_folds(fold_cmd *cmds, const int *todo, int n, int jobs) {
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) return n;
    int next = 0, running = 0, failed = 0;
    while (next < n || running) {
        while (running < jobs && next < n) {
            ser_error err = {{0}};
            fold_cmd *c = &cmds[todo[next]];
            if (spawn_fold(c, &pids[next], &err) != 0) {
                fprintf(stderr, "ser cv: %s\n", err.msg);
                failed++;
            } else {
                fprintf(stderr, "ser cv: fold %d: %s (log: %s/train.log)\n", todo[next] + 1,
                        c->resume ? "resuming" : "training", c->dir);
                running++;
            }
            next++;
        }
        if (!running) break;
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "ser cv: waitpid: %s\n", strerror(errno));
            failed += running;
            break;
        }
        int i = 0;
        while (i < next && pids[i] != p) i++;
        if (i == next) continue; /* not one of ours */
        running--;
        const fold_cmd *c = &cmds[todo[i]];
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && cv_fold_finished(c->dir)) {
            fprintf(stderr, "ser cv: fold %d: done\n", todo[i] + 1);
        } else {
            failed++;
            if (WIFEXITED(st)) fprintf(stderr, "ser cv: fold %d: ser train failed (exit %d)\n", todo[i] + 1, WEXITSTATUS(st));
            else fprintf(stderr, "ser cv: fold %d: ser train killed by signal %d\n", todo[i] + 1, WTERMSIG(st));
            print_log_tail(c->dir);
        }
    }
    free(pids);
    return failed;
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

static int cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int cmd_cv(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    cv_args a;
    if (parse_args(argc, argv, &a) != 0) {
        usage(stderr);
        free(a.sets);
        return 2;
    }
    ser_error err = {{0}};
    /* the folds' ser train inherit it */
    if (a.feature_cache && setenv("SER_FEATURE_CACHE", a.feature_cache, 1) != 0) {
        fprintf(stderr, "ser cv: --feature-cache: %s\n", strerror(errno));
        free(a.sets);
        return 1;
    }
    if (a.collect) {
        free(a.sets);
        if (cv_collect(a.collect, 0, &err) == 0) return 0;
        fprintf(stderr, "ser cv: --collect: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    ser_config cfg;
    ser_corpus_set set = {0};
    ser_folds folds = {0};
    fold_cmd *cmds = NULL;
    int *todo = NULL;
    char exe[PATH_MAX], out_abs[PATH_MAX], config_abs[PATH_MAX], noise_abs[PATH_MAX];
    if (load_recipe(&a, &cfg, &err) != 0) goto fail;
    if (a.config && !realpath(a.config, config_abs)) {
        ser_fail(&err, "--config %s: %s", a.config, strerror(errno));
        goto fail;
    }
    if (a.noise_dir && !realpath(a.noise_dir, noise_abs)) {
        ser_fail(&err, "--noise-dir %s: %s", a.noise_dir, strerror(errno));
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
    const ser_clips *clips = &set.clips;
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
    const int n = (int)folds.n;
    cmds = calloc((size_t)n, sizeof *cmds);
    todo = calloc((size_t)n, sizeof *todo);
    if (!cmds || !todo) {
        ser_fail(&err, "out of memory");
        goto fail;
    }
    /* train.threads: the recipe's when it names a count, else the cores divided among the jobs */
    const int threads = cfg.train.threads > 0 || a.jobs == 1 ? 0 : (cores() / a.jobs > 0 ? cores() / a.jobs : 1);
    int n_todo = 0;
    for (int k = 0; k < n; k++) {
        fold_cmd *c = &cmds[k];
        static const char *const NAMES[3] = {"cv_train.tsv", "cv_val.tsv", "cv_test.tsv"};
        int len_ok = snprintf(c->dir, sizeof c->dir, "%s/fold_%d", out_abs, k + 1) < (int)sizeof c->dir;
        for (int i = 0; i < 3; i++)
            len_ok &= snprintf(c->lists[i], sizeof c->lists[i], "%s/%s", c->dir, NAMES[i]) < (int)sizeof c->lists[i];
        if (!len_ok) {
            ser_fail(&err, "%s: path too long", out_abs);
            goto fail;
        }
        ser_split s;
        if (fold_split(&a, clips, &folds.v[k], &cfg, &s, &err) != 0) {
            ser_fail_wrap(&err, "fold %d", k + 1);
            goto fail;
        }
        int wrc = mkdir_one(c->dir, &err) || write_manifest(c->lists[0], clips, s.train, s.n_train, &err) ||
                  write_manifest(c->lists[1], clips, s.val, s.n_val, &err) ||
                  write_manifest(c->lists[2], clips, s.test, s.n_test, &err);
        if (!a.print_commands) {
            fprintf(stderr, "ser cv: fold %d: test speakers", k + 1);
            for (size_t i = 0; i < folds.v[k].n_speakers; i++) fprintf(stderr, "%s%s", i ? "," : " ", folds.v[k].speakers[i]);
            fprintf(stderr, " (train %zu, val %zu, test %zu clips)\n", s.n_train, s.n_val, s.n_test);
        }
        ser_split_free(&s);
        if (wrc) goto fail;
        if (a.print_commands) {
            build_cmd(c, &a, exe, a.config ? config_abs : NULL, a.noise_dir ? noise_abs : NULL, threads);
            for (int i = 0; i < c->argc; i++) print_word(c->argv[i]), putchar(i + 1 < c->argc ? ' ' : '\n');
            continue;
        }
        char ini[PATH_MAX + 64];
        snprintf(ini, sizeof ini, "%s/config.ini", c->dir);
        if (cv_fold_finished(c->dir)) {
            fprintf(stderr, "ser cv: fold %d: finished earlier, kept (%s)\n", k + 1, c->dir);
            continue;
        }
        c->resume = access(ini, F_OK) == 0; /* started before: its own recorded split and recipe */
        build_cmd(c, &a, exe, a.config ? config_abs : NULL, a.noise_dir ? noise_abs : NULL, threads);
        todo[n_todo++] = k;
    }
    if (a.print_commands) {
        if (fflush(stdout) != 0) {
            ser_fail(&err, "stdout: %s", strerror(errno));
            goto fail;
        }
        fprintf(stderr, "ser cv: %d commands; when they have run: ser cv --collect %s\n", n, out_abs);
        rc = 0;
        goto done;
    }
    if (n_todo && prefill_cache(&a, &cfg, clips, &err) != 0) goto fail;
    if (n_todo && threads)
        fprintf(stderr, "ser cv: %d jobs side by side, train.threads = %d each\n", a.jobs, threads);
    const int failed = run_folds(cmds, todo, n_todo, a.jobs);
    if (failed) {
        ser_fail(&err, "%d of %d folds failed (their logs are named above); run the same command again to resume",
                 failed, n);
        goto fail;
    }
    if (cv_collect(out_abs, n, &err) != 0) goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ser cv: %s\n", err.msg);
done:
    free(cmds), free(todo), free(a.sets);
    ser_folds_free(&folds);
    ser_corpus_set_free(&set);
    return rc;
}
