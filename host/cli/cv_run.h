/* Running the folds of `ser cv` (host/cli/cmd_cv.c): each fold's ser train as a child process of
 * this very binary, jobs at a time, its output in its run folder's train.log. */
#ifndef SER_CLI_CV_RUN_H
#define SER_CLI_CV_RUN_H

#include <limits.h>

/* One fold's ser train command line; argv strings point into a, out_abs, or the static pool. */
typedef struct fold_cmd {
    char *argv[64 + 2 * 64];
    int argc;
    char dir[PATH_MAX + 32], lists[3][PATH_MAX + 64], threads[48];
    char what[32];        /* "fold N" (with --seeds: "seed S fold N"), for the messages */
    char seed_set[48];    /* with --seeds: train.seed=S */
    int resume;
} fold_cmd;

/* Runs the commands cmds[todo[0..n)], jobs at a time; returns the number that failed (each
 * named on stderr with its log's last line). A run is done when it exits 0 with its report:
 * with a test list (lists[2]) one that has a test section, else report.json at all. Each attempt's wall and CPU time is added to its
 * fold's cv_cost.json (cv_cost.h). */
int cv_run_folds(fold_cmd *cmds, const int *todo, int n, int jobs);

#endif
