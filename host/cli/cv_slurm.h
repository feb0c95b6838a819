/* `ser cv --slurm` (and `ser sweep --slurm`): sbatch scripts that run the folds as a Slurm job
 * array and the summary as a job that waits for the whole array. A script generator on top of
 * Slurm: it submits nothing itself (docs/cluster.md). */
#ifndef SER_CLI_CV_SLURM_H
#define SER_CLI_CV_SLURM_H

#include <stdio.h>

#include "cli_argv.h"
#include "ser/error.h"

#define CV_SLURM_MAX_EXTRA 16

/* The options users set, passed to every job as #SBATCH lines (NULL / 0: not written). */
typedef struct cv_slurm_opts {
    const char *partition, *time, *account, *mem;
    int cpus, gpus;                          /* --cpus-per-task (default 1), --gres=gpu:N */
    const char *extra[CV_SLURM_MAX_EXTRA];   /* --sbatch OPT: any other sbatch option, verbatim */
    int n_extra;
} cv_slurm_opts;

/* Consumes argv[*i] (and its value) when it is one of --partition --time --account --mem
 * --cpus --gpus --sbatch: 1; 0 when it is another option; -1 after printing "cmd: reason". */
int cv_slurm_arg(cv_slurm_opts *o, int argc, char **argv, int *i, const char *cmd);

/* The option names above that take a value (NULL-terminated), to leave them out of task lines. */
extern const char *const CV_SLURM_OPTS[];

/* The usage lines of the options above. */
extern const char CV_SLURM_HELP[];

/* Writes OUT/slurm/: folds.sbatch (a job array, one task per fold of folds[0..n_folds), or per
 * (seed, fold) with n_seeds seeds; requeueable; each task runs `task --fold K` (with seeds
 * `task --seed S --fold K`) and appends its output to OUT/slurm/fold_%a.log (task_%a.log)),
 * collect.sbatch (`exe cv --collect OUT`), and submit.sh (sbatch the array, then the collect
 * job with --dependency=afterok:ARRAY; prints the collect job's id last). The jobs are named
 * ser-cv-<OUT's last name>. */
int cv_slurm_write(const char *out_abs, const char *exe, const cli_argv *task, const int *folds, int n_folds,
                   const int *seeds, int n_seeds, const cv_slurm_opts *o, ser_error *err);

/* The #SBATCH lines of every job: --partition, --account, --time and the --sbatch options. */
void cv_slurm_common_lines(FILE *f, const cv_slurm_opts *o);

/* Writes a text file executable (0755) or not, atomically. */
int cv_slurm_write_file(const char *path, const char *text, int executable, ser_error *err);

#endif
