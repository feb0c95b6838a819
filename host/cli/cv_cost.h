/* What the folds of a `ser cv` cost: each fold's ser train wall time and CPU time (user + system,
 * of ser train and its threads), summed over the attempts that ser cv saw end (a process killed
 * from outside, say by a Slurm requeue, takes its ser cv with it and is not counted). */
#ifndef SER_CLI_CV_COST_H
#define SER_CLI_CV_COST_H

#include "ser/error.h"

/* Adds one attempt to FOLD_DIR/cv_cost.json ({"wall_seconds", "cpu_seconds", "attempts"}). */
int cv_cost_add(const char *fold_dir, double wall_s, double cpu_s, ser_error *err);

/* Reads FOLD_DIR/cv_cost.json; -1 when it is absent or unreadable. */
int cv_cost_read(const char *fold_dir, double *wall_s, double *cpu_s, int *attempts);

/* DIR/cv_cost.json: the sums over the folds numbered folds[0..n_folds) (NULL: 1..n_folds),
 * "folds_measured" of them (a fold trained by a bare ser train line has no record). Kept out of
 * cv.json, which must be the same for the same folds however long they took. */
int cv_cost_collect(const char *dir, const int *folds, int n_folds, ser_error *err);

#endif
