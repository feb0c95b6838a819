/* `ser cv` (host/cli/cmd_cv.c): its summary half (host/cli/cv_summary.c). */
#ifndef SER_CLI_CV_H
#define SER_CLI_CV_H

#include <cjson/cJSON.h>

#include "data_args.h"
#include "ser/corpus.h"
#include "ser/corpus_set.h"
#include "ser/error.h"

/* The roles of ser cv's corpora (host/cli/cv_sources.c). */
enum { CV_TARGET = 0, /* --data: the folds */
       CV_EXTRA,      /* --extra-data: added to every fold's training set */
       CV_PRETRAIN,   /* --pretrain-data: one model trained first, every fold starts from it */
       CV_ROLES };
/* The option that gives a role ("--data", ...). */
const char *cv_role_option(int role);
/* set->clips by role (role[k]: d->src[k]'s) into out[CV_ROLES] (caller frees each); fails when a
 * folder or a corpus name has two roles, or there is no target clip. */
int cv_sources_split(const ser_corpus_set *set, const cli_data *d, const int *role, ser_clips out[CV_ROLES],
                     ser_error *err);

/* A JSON file (cv.json, report.json, cv_cost.json ...) parsed; NULL with err naming the file
 * and the reason (missing, unreadable, out of memory, not JSON). */
cJSON *cv_read_json(const char *path, ser_error *err);

/* True when fold_dir/report.json holds a "test" section: the fold's ser train finished. */
int cv_fold_finished(const char *fold_dir);

/* Reads dir/fold_N/report.json for N = 1..n_folds (0: every dir/fold_N/ folder there, in order
 * of N: those of a --only-folds run), prints the table, writes dir/cv.json and
 * dir/confusion_matrix_cv.png. Fails naming an unfinished fold. */
int cv_collect(const char *dir, int n_folds, ser_error *err);
/* The same for the folds numbered folds[0..n). */
int cv_collect_folds(const char *dir, const int *folds, int n, ser_error *err);

/* The numbers N of the dir/fold_N/ folders, ascending, in *nums (malloc'd); their count. */
int cv_fold_numbers(const char *dir, int **nums);
/* The same for dir/PREFIX<N>/ folders (N >= 0). */
int cv_dir_numbers(const char *dir, const char *prefix, int **nums);

/* `ser cv --seeds` (host/cli/cv_seeds.c): DIR/seed_S/cv.json for each seed summarised into
 * DIR/cv.json (per seed mean and std; the mean over every seed and fold; the sample std over
 * the folds of each fold's metric averaged over the seeds; the sample std of the seeds' means)
 * and DIR/cv_cost.json (the seeds' costs summed). */
int cv_seeds_collect(const char *dir, const int *seeds, int n_seeds, ser_error *err);

#endif
