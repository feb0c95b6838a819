/* `ser cv` (host/cli/cmd_cv.c): its summary half (host/cli/cv_summary.c). */
#ifndef SER_CLI_CV_H
#define SER_CLI_CV_H

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

/* True when fold_dir/report.json holds a "test" section: the fold's ser train finished. */
int cv_fold_finished(const char *fold_dir);

/* Reads dir/fold_N/report.json for N = 1..n_folds (0: while dir/fold_N/ exists), prints the
 * table, writes dir/cv.json and dir/confusion_matrix_cv.png. Fails naming an unfinished fold. */
int cv_collect(const char *dir, int n_folds, ser_error *err);

#endif
