/* The sbatch scripts of `ser cv --slurm` (cv_slurm.h). */
#include "cv_slurm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ser/report.h"

const char *const CV_SLURM_OPTS[] = {"--partition", "--time", "--account", "--mem", "--cpus", "--gpus", "--sbatch", NULL};

const char CV_SLURM_HELP[] =
    "    --partition P    #SBATCH --partition=P\n"
    "    --time T         #SBATCH --time=T\n"
    "    --account A      #SBATCH --account=A\n"
    "    --mem M          #SBATCH --mem=M (the fold tasks)\n"
    "    --cpus N         #SBATCH --cpus-per-task=N (default 1; each task's train.threads)\n"
    "    --gpus N         #SBATCH --gres=gpu:N (the fold tasks)\n"
    "    --sbatch OPT     any other sbatch option, verbatim (--sbatch --qos=long); repeatable\n";

/* A value that goes into an #SBATCH line must be one word. */
static int one_word(const char *v) { return *v && !strpbrk(v, " \t\r\n'\"\\$`"); }

int cv_slurm_arg(cv_slurm_opts *o, int argc, char **argv, int *i, const char *cmd) {
    const char *s = argv[*i];
    int which = -1;
    for (int k = 0; CV_SLURM_OPTS[k]; k++)
        if (!strcmp(s, CV_SLURM_OPTS[k])) which = k;
    if (which < 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", cmd, s);
        return -1;
    }
    const char *v = argv[++*i];
    if (!one_word(v)) {
        fprintf(stderr, "%s: %s '%s': one word without spaces, quotes or $ (it goes into an #SBATCH line)\n", cmd, s, v);
        return -1;
    }
    if (which == 4 || which == 5) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || *end || n < (which == 4) || n > 4096) {
            fprintf(stderr, "%s: %s '%s': expected a count\n", cmd, s, v);
            return -1;
        }
        *(which == 4 ? &o->cpus : &o->gpus) = (int)n;
        return 1;
    }
    if (which == 6) {
        if (o->n_extra == CV_SLURM_MAX_EXTRA || v[0] != '-') {
            fprintf(stderr, "%s: --sbatch '%s': an sbatch option (-X or --name=value), at most %d\n", cmd, v,
                    CV_SLURM_MAX_EXTRA);
            return -1;
        }
        o->extra[o->n_extra++] = v;
        return 1;
    }
    const char **dst[4] = {&o->partition, &o->time, &o->account, &o->mem};
    *dst[which] = v;
    return 1;
}

int cv_slurm_write_file(const char *path, const char *text, int executable, ser_error *err) {
    if (ser_write_text_file(path, text, err) != 0) return -1;
    if (chmod(path, executable ? 0755 : 0644) != 0) return ser_fail(err, "%s: chmod: %s", path, strerror(errno));
    return 0;
}

void cv_slurm_common_lines(FILE *f, const cv_slurm_opts *o) {
    if (o->partition) fprintf(f, "#SBATCH --partition=%s\n", o->partition);
    if (o->account) fprintf(f, "#SBATCH --account=%s\n", o->account);
    if (o->time) fprintf(f, "#SBATCH --time=%s\n", o->time);
    for (int i = 0; i < o->n_extra; i++) fprintf(f, "#SBATCH %s\n", o->extra[i]);
}

/* Closes the memstream mem (which sets *text) and writes its text to dir/name. */
static int write_text(const char *dir, const char *name, FILE *mem, char **textp, int executable, ser_error *err) {
    int rc = fclose(mem) != 0 ? ser_fail(err, "%s/%s: out of memory", dir, name) : 0;
    char *text = *textp;
    char path[4200];
    if (!rc && snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) rc = ser_fail(err, "%s: path too long", dir);
    if (!rc) rc = cv_slurm_write_file(path, text, executable, err);
    free(text);
    return rc;
}

/* The jobs' name: ser-cv-<OUT's last name>, in the characters a job name keeps well. */
static void job_name(const char *out_abs, char *name, size_t n) {
    const char *base = strrchr(out_abs, '/');
    base = base && base[1] ? base + 1 : out_abs;
    snprintf(name, n, "ser-cv-%s", base);
    for (char *c = name; *c; c++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.", *c)) *c = '_';
}

/* The array's ids: 1-N for folds 1..N (a task's id is its fold), else a list ("1,2"); with
 * seeds 1-(folds x seeds), the task's fold and seed looked up from its id in the script. */
static void array_spec(const int *folds, int n_folds, int n_seeds, char *spec, size_t n) {
    int contiguous = 1;
    for (int i = 0; i < n_folds; i++) contiguous &= folds[i] == i + 1;
    if (n_seeds || contiguous) {
        snprintf(spec, n, "1-%d", n_folds * (n_seeds ? n_seeds : 1));
        return;
    }
    spec[0] = 0;
    for (int i = 0; i < n_folds; i++) {
        size_t l = strlen(spec);
        if (l < n) snprintf(spec + l, n - l, "%s%d", i ? "," : "", folds[i]);
    }
}

int cv_slurm_write(const char *out_abs, const char *exe, const cli_argv *task, const int *folds, int n_folds,
                   const int *seeds, int n_seeds, const cv_slurm_opts *o, ser_error *err) {
    char name[96], array[4096];
    job_name(out_abs, name, sizeof name);
    array_spec(folds, n_folds, n_seeds, array, sizeof array);
    const int n_tasks = n_folds * (n_seeds ? n_seeds : 1);
    /* #SBATCH --output takes no quoting and reads % as a pattern */
    if (strpbrk(out_abs, " \t\r\n'\"\\$`%"))
        return ser_fail(err, "--slurm: %s: a Slurm script cannot name a folder with spaces, quotes, $ or %%: use another --out",
                        out_abs);
    char dir[4200];
    if (snprintf(dir, sizeof dir, "%s/slurm", out_abs) >= (int)sizeof dir) return ser_fail(err, "%s: path too long", out_abs);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return ser_fail(err, "%s: cannot create: %s", dir, strerror(errno));
    const int cpus = o->cpus > 0 ? o->cpus : 1;

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ser_fail(err, "%s: %s", dir, strerror(errno));
    fprintf(f, "#!/bin/bash\n"
               "# Written by `ser cv --slurm`: one array task per fold. Each task runs, resumes or skips\n"
               "# its fold (ser cv --fold K: a finished fold is kept, an interrupted one continues from\n"
               "# its checkpoint), so a requeued or resubmitted task carries on where it stopped.\n"
               "# Threads: SLURM_CPUS_PER_TASK (unless OMP_NUM_THREADS or the recipe set them).\n");
    fprintf(f, "#SBATCH --job-name=%s\n#SBATCH --array=%s\n#SBATCH --cpus-per-task=%d\n", name, array, cpus);
    if (o->gpus) fprintf(f, "#SBATCH --gres=gpu:%d\n", o->gpus);
    if (o->mem) fprintf(f, "#SBATCH --mem=%s\n", o->mem);
    cv_slurm_common_lines(f, o);
    fprintf(f, "#SBATCH --requeue\n#SBATCH --open-mode=append\n#SBATCH --output=%s/%s_%%a.log\n", dir,
            n_seeds ? "task" : "fold");
    fputs("set -eu\n", f);
    if (n_seeds) { /* task T = (seed i, fold j), T - 1 = i x folds + j */
        fputs("folds=(", f);
        for (int i = 0; i < n_folds; i++) fprintf(f, "%s%d", i ? " " : "", folds[i]);
        fputs(")\nseeds=(", f);
        for (int i = 0; i < n_seeds; i++) fprintf(f, "%s%d", i ? " " : "", seeds[i]);
        fprintf(f, ")\nt=$((SLURM_ARRAY_TASK_ID - 1))\nexec ");
        cli_write_line(f, task);
        fprintf(f, " --seed \"${seeds[t / %d]}\" --fold \"${folds[t %% %d]}\"\n", n_folds, n_folds);
    } else {
        fputs("exec ", f);
        cli_write_line(f, task);
        fputs(" --fold \"$SLURM_ARRAY_TASK_ID\"\n", f);
    }
    if (write_text(dir, "folds.sbatch", f, &text, 0, err) != 0) return -1;

    text = NULL, len = 0;
    if (!(f = open_memstream(&text, &len))) return ser_fail(err, "%s: %s", dir, strerror(errno));
    fprintf(f, "#!/bin/bash\n"
               "# Written by `ser cv --slurm`: the summary, once every fold's task has ended well\n"
               "# (submit.sh gives it --dependency=afterok on the array).\n");
    fprintf(f, "#SBATCH --job-name=%s-collect\n#SBATCH --cpus-per-task=1\n", name);
    cv_slurm_common_lines(f, o);
    fprintf(f, "#SBATCH --output=%s/collect.log\n", dir);
    fputs("set -eu\nexec ", f);
    cli_write_word(f, exe);
    fputs(" cv --collect ", f);
    cli_write_word(f, out_abs);
    fputc('\n', f);
    if (write_text(dir, "collect.sbatch", f, &text, 0, err) != 0) return -1;

    text = NULL, len = 0;
    if (!(f = open_memstream(&text, &len))) return ser_fail(err, "%s: %s", dir, strerror(errno));
    fprintf(f, "#!/bin/sh\n"
               "# Written by `ser cv --slurm`: submits the folds' array, then the summary job, which waits\n"
               "# for every task of the array to end well (afterok). Prints the summary job's id last.\n"
               "set -eu\n"
               "array=$(sbatch --parsable '%s/folds.sbatch')\n"
               "array=${array%%%%;*}   # \"id;cluster\" on a federation\n"
               "collect=$(sbatch --parsable --dependency=afterok:\"$array\" '%s/collect.sbatch')\n"
               "collect=${collect%%%%;*}\n"
               "echo \"%s: folds: job $array (%d array tasks); summary: job $collect\" >&2\n"
               "echo \"$collect\"\n",
            dir, dir, name, n_tasks);
    return write_text(dir, "submit.sh", f, &text, 1, err);
}
