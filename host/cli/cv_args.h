/* `ser cv`'s command line (host/cli/cv_args.c) and the files it writes into OUT before the
 * folds run (host/cli/cv_files.c); the fold driver is host/cli/cmd_cv.c. */
#ifndef SER_CLI_CV_ARGS_H
#define SER_CLI_CV_ARGS_H

#include <stddef.h>
#include <stdio.h>

#include "cv_slurm.h"
#include "data_args.h"
#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/error.h"

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

/* The options of ser cv that take a value, and those a fold's task line leaves out (both
 * NULL-terminated, for cli_argv_copy). */
extern const char *const CV_WITH_VALUE[];
extern const char *const CV_NOT_IN_TASK[];

void cv_usage(FILE *f);
/* 0, or -1 after printing why (a usage error). */
int cv_parse_args(int argc, char **argv, cv_args *a);
/* True when fold (1-based) is one of --only-folds (or there is no --only-folds). */
int cv_in_only(const cv_args *a, int fold);

/* Makes the folder p (its parent must exist); fails when p exists and is not a folder. */
int cv_mkdir_one(const char *p, ser_error *err);
/* The manifest of clips[idx[0..n)] at path; a rerun finds the file already there and must find
 * the same text (else the folds are not those of the run that made OUT). */
int cv_write_manifest(const char *path, const ser_clips *clips, const size_t *idx, size_t n, ser_error *err);
/* OUT/cv_recipe.json: the recipe the folds train with (train.threads aside: --jobs may change it
 * between reruns), so that a rerun with other options cannot resume into the old folds. */
int cv_write_recipe(const char *out, const ser_config *cfg, ser_error *err);

#endif
