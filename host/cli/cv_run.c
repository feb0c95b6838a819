/* The fold runner of `ser cv` (cv_run.h). */
#define _DEFAULT_SOURCE /* wait4 */
#include "cv_run.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cv.h"
#include "cv_cost.h"
#include "ser/clock.h"
#include "ser/error.h"

extern char **environ;

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

/* A run without a test list (a pretraining) finished: its report (written after its model) is there. */
static int run_finished(const char *dir) {
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/report.json", dir);
    return access(p, F_OK) == 0;
}

int cv_run_folds(fold_cmd *cmds, const int *todo, int n, int jobs) {
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    double *t0 = calloc((size_t)n, sizeof *t0);
    if (!pids || !t0) {
        fprintf(stderr, "ser cv: out of memory for %d fold processes\n", n);
        free(pids), free(t0);
        return n;
    }
    int next = 0, running = 0, failed = 0;
    while (next < n || running) {
        while (running < jobs && next < n) {
            ser_error err = {{0}};
            fold_cmd *c = &cmds[todo[next]];
            if (spawn_fold(c, &pids[next], &err) != 0) {
                fprintf(stderr, "ser cv: %s\n", err.msg);
                failed++;
            } else {
                fprintf(stderr, "ser cv: %s: %s (log: %s/train.log)\n", c->what, c->resume ? "resuming" : "training",
                        c->dir);
                t0[next] = ser_now_s();
                running++;
            }
            next++;
        }
        if (!running) break;
        int st;
        struct rusage ru;
        pid_t p = wait4(-1, &st, 0, &ru);
        if (p < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "ser cv: wait4: %s\n", strerror(errno));
            failed += running;
            break;
        }
        int i = 0;
        while (i < next && pids[i] != p) i++;
        if (i == next) continue; /* not one of ours */
        running--;
        const fold_cmd *c = &cmds[todo[i]];
        const double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
        ser_error cerr = {{0}};
        if (cv_cost_add(c->dir, ser_now_s() - t0[i], cpu, &cerr) != 0)
            fprintf(stderr, "ser cv: %s: the cost record: %s\n", c->what, cerr.msg);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && (c->lists[2][0] ? cv_fold_finished(c->dir) : run_finished(c->dir))) {
            fprintf(stderr, "ser cv: %s: done\n", c->what);
        } else {
            failed++;
            if (WIFEXITED(st)) fprintf(stderr, "ser cv: %s: ser train failed (exit %d)\n", c->what, WEXITSTATUS(st));
            else fprintf(stderr, "ser cv: %s: ser train killed by signal %d\n", c->what, WTERMSIG(st));
            print_log_tail(c->dir);
        }
    }
    free(pids), free(t0);
    return failed;
}

