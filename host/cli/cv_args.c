/* `ser cv`'s usage and argument parsing (cv_args.h). */
#include "cv_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cv.h"

void cv_usage(FILE *f) {
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

/* The options of ser cv that take a value, and those a fold's task line leaves out. */
const char *const CV_WITH_VALUE[] = {"--data", "--corpus", "--labels", "--label-map", "--out", "--folds",
                                         "--fold-lists", "--config", "--noise-dir", "--set", "--device", "--collect",
                                         "--val-speakers", "--jobs", "--fold", "--only-folds", "--seeds", "--seed",
                                         "--feature-cache", "--extra-data", "--pretrain-data", "--init", "--pretrain-config",
                                         "--pretrain-set", "--partition", "--time", "--account",
                                         "--mem", "--cpus", "--gpus", "--sbatch", NULL};
const char *const CV_NOT_IN_TASK[] = {"--print-commands", "--slurm", "--jobs", "--fold", "--only-folds", "--seed", "--partition", "--time",
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

int cv_in_only(const cv_args *a, int fold) {
    if (!a->n_only) return 1;
    for (int i = 0; i < a->n_only; i++)
        if (a->only[i] == fold) return 1;
    return 0;
}

int cv_parse_args(int argc, char **argv, cv_args *a) {
    memset(a, 0, sizeof *a);
    cli_data_init(&a->data);
    a->jobs = 1;
    a->device = "auto";
    if (!(a->sets = calloc((size_t)argc, sizeof *a->sets)) || !(a->pretrain_sets = calloc((size_t)argc, sizeof *a->sets)))
        return fprintf(stderr, "ser cv: out of memory\n"), -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int more = i + 1 < argc;
        long n;
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
            if (cli_parse_long("ser cv", s, argv[++i], 0, 2147483647L, "a number >= 0", &n) != 0) return -1;
            a->seed = (int)n, a->has_seed = 1;
        } else if (!strcmp(s, "--fold") && more) {
            if (cli_parse_long("ser cv", s, argv[++i], 1, 1000000, "a fold number >= 1", &n) != 0) return -1;
            a->fold = (int)n;
        } else if (!strcmp(s, "--val-speakers") && more) {
            if (cli_parse_long("ser cv", s, argv[++i], 1, 100000, "a count >= 1", &n) != 0) return -1;
            a->val_speakers = (int)n;
        } else if (!strcmp(s, "--jobs") && more) {
            if (cli_parse_long("ser cv", s, argv[++i], 1, 256, "a count in 1..256", &n) != 0) return -1;
            a->jobs = (int)n;
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
