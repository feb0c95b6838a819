/* `ser cv` (host/cli/cmd_cv.c): its summary half (host/cli/cv_summary.c). */
#ifndef SER_CLI_CV_H
#define SER_CLI_CV_H

#include "ser/error.h"

/* True when fold_dir/report.json holds a "test" section: the fold's ser train finished. */
int cv_fold_finished(const char *fold_dir);

/* Reads dir/fold_N/report.json for N = 1..n_folds (0: while dir/fold_N/ exists), prints the
 * table, writes dir/cv.json and dir/confusion_matrix_cv.png. Fails naming an unfinished fold. */
int cv_collect(const char *dir, int n_folds, ser_error *err);

/* N when dir/fold_1 .. dir/fold_N are folders and dir/fold_{N+1} is not. */
int cv_folds_present(const char *dir);

#endif
