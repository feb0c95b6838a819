/* `ser sweep`: one `ser cv` per combination of --set values (a grid, or a seeded sample of it),
 * each into SWEEP/NAME/, --jobs at a time as child processes of this very binary, or as Slurm
 * jobs (--slurm: each combination's `ser cv --slurm` scripts, and one summary job after all of
 * them); then the table (host/cli/sweep_table.c). A finished combination is not run again; an
 * unfinished one is `ser cv` run again, which resumes its folds. */
#define _GNU_SOURCE /* realpath, asprintf */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_argv.h"
#include "commands.h"
#include "cv_slurm.h"
#include "ser/config.h"
#include "ser/report.h"
#include "sweep.h"
#include "task_threads.h"

extern char **environ;

#define SWEEP_MAX_KEYS 16
#define SWEEP_MAX_COMBOS 100000

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser sweep --out SWEEP --grid KEY=V1,V2,... [--grid KEY2=...]... [--samples N [--sample-seed S]]\n"
            "                 [--jobs N | --slurm [SLURM]] CV-OPTIONS\n"
            "       ser sweep --collect SWEEP\n\n"
            "Runs one `ser cv CV-OPTIONS --set KEY=V... --out SWEEP/NAME` per combination of the\n"
            "--grid values and writes SWEEP/sweep.json and SWEEP/sweep.md: a table sorted by the mean\n"
            "UA over the folds (best first) with its sample std, WA and macro-F1, the cost (wall and\n"
            "CPU seconds of the folds' ser train) and the exact command of each row.\n"
            "  --grid KEY=V1,V2   a config key and its values (repeatable: the grid is every\n"
            "                     combination, the first --grid varying slowest)\n"
            "  --samples N        N combinations of the grid drawn at random (seeded), not all\n"
            "  --sample-seed S    the draw's seed (default 1)\n"
            "  --jobs N           N combinations side by side, each with T / N threads, T this task's\n"
            "                     threads (OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else the CPUs it\n"
            "                     may run on) (default 1)\n"
            "  --slurm            write each combination's Slurm scripts (ser cv --slurm) and\n"
            "                     SWEEP/slurm/submit.sh, which submits them all and a summary job\n"
            "                     (ser sweep --collect) after them (afterok); submits nothing.\n"
            "                     SLURM options:\n%s"
            "  --collect SWEEP    only the table, from the combinations finished so far\n"
            "  CV-OPTIONS         --data, --corpus, --labels, --label-map, --folds, --fold-lists,\n"
            "                     --config, --set, --device, --noise-dir, --val-speakers,\n"
            "                     --only-folds, --seeds (and ser cv's fine-tuning options): as ser cv\n\n"
            "Run the same command again to resume: a finished combination (SWEEP/NAME/cv.json, made\n"
            "by the same command) is kept; an unfinished one resumes its folds (docs/cluster.md).\n",
            CV_SLURM_HELP);
}

/* The ser cv options a sweep passes through, all taking a value. */
static const char *const CV_OPTS[] = {"--data", "--corpus", "--labels", "--label-map", "--folds", "--fold-lists",
                                      "--config", "--set", "--device", "--noise-dir", "--val-speakers", "--only-folds", "--seeds",
                                      "--extra-data", "--init", "--pretrain-data", "--pretrain-config", "--pretrain-set",
                                      NULL};

typedef struct grid_key {
    char *key;
    char **values;
    int n;
} grid_key;

typedef struct sweep_args {
    const char *out, *collect;
    grid_key grid[SWEEP_MAX_KEYS];
    int n_keys, samples, jobs, slurm, slurm_opt;
    unsigned long long sample_seed;
    cv_slurm_opts sl;
    char **cv;                  /* the CV-OPTIONS, in order */
    int n_cv;
} sweep_args;

static void args_free(sweep_args *a) {
    for (int k = 0; k < a->n_keys; k++) {
        for (int i = 0; i < a->grid[k].n; i++) free(a->grid[k].values[i]);
        free(a->grid[k].values), free(a->grid[k].key);
    }
    free(a->cv);
}

static int is_cv_opt(const char *s) {
    for (int i = 0; CV_OPTS[i]; i++) {
        size_t l = strlen(CV_OPTS[i]);
        if (!strncmp(s, CV_OPTS[i], l) && (s[l] == 0 || s[l] == '=')) return 1;
    }
    return 0;
}

/* --grid KEY=V1,V2,...: the key and every value checked against a default config now. */
static int parse_grid(sweep_args *a, const char *spec) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) return fprintf(stderr, "ser sweep: --grid '%s': expected KEY=V1,V2,...\n", spec), -1;
    if (a->n_keys == SWEEP_MAX_KEYS) return fprintf(stderr, "ser sweep: more than %d --grid keys\n", SWEEP_MAX_KEYS), -1;
    grid_key *g = &a->grid[a->n_keys];
    memset(g, 0, sizeof *g);
    g->key = strndup(spec, (size_t)(eq - spec));
    for (int k = 0; g->key && k < a->n_keys; k++)
        if (!strcmp(a->grid[k].key, g->key)) {
            fprintf(stderr, "ser sweep: --grid %s given twice\n", g->key);
            free(g->key);
            return -1;
        }
    a->n_keys++;
    char *vals = strdup(eq + 1);
    int rc = g->key && vals ? 0 : -1;
    for (char *save = NULL, *v = vals ? strtok_r(vals, ",", &save) : NULL; !rc && v; v = strtok_r(NULL, ",", &save)) {
        char **nv = realloc(g->values, (size_t)(g->n + 1) * sizeof *nv);
        if (!nv || !(nv[g->n] = strdup(v))) {
            if (nv) g->values = nv;
            rc = -1;
            break;
        }
        g->values = nv, g->n++;
        ser_config cfg;
        ser_config_defaults(&cfg);
        char set[1024];
        ser_error err;
        snprintf(set, sizeof set, "%s=%s", g->key, v);
        if (ser_config_set(&cfg, set, &err) != 0) {
            fprintf(stderr, "ser sweep: --grid %s: %s\n", spec, err.msg);
            rc = -2;
        }
        for (int i = 0; !rc && i + 1 < g->n; i++)
            if (!strcmp(g->values[i], v)) fprintf(stderr, "ser sweep: --grid %s: value %s twice\n", g->key, v), rc = -2;
    }
    free(vals);
    if (rc == -1) fprintf(stderr, "ser sweep: out of memory\n");
    if (!rc && !g->n) fprintf(stderr, "ser sweep: --grid '%s': no value\n", spec), rc = -1;
    return rc ? -1 : 0;
}

static int parse_args(int argc, char **argv, sweep_args *a) {
    memset(a, 0, sizeof *a);
    a->jobs = 1, a->sample_seed = 1;
    if (!(a->cv = calloc((size_t)argc, sizeof *a->cv))) return fprintf(stderr, "ser sweep: out of memory\n"), -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int more = i + 1 < argc;
        long n;
        const int sl = cv_slurm_arg(&a->sl, argc, argv, &i, "ser sweep");
        if (sl < 0) return -1;
        if (sl) {
            a->slurm_opt = 1;
            continue;
        }
        if (!strcmp(s, "--out") && more) a->out = argv[++i];
        else if (!strcmp(s, "--collect") && more) a->collect = argv[++i];
        else if (!strcmp(s, "--slurm")) a->slurm = 1;
        else if (!strcmp(s, "--grid") && more) {
            if (parse_grid(a, argv[++i]) != 0) return -1;
        } else if (!strcmp(s, "--samples") && more) {
            if (cli_parse_long("ser sweep", s, argv[++i], 1, SWEEP_MAX_COMBOS, NULL, &n) != 0) return -1;
            a->samples = (int)n;
        } else if (!strcmp(s, "--sample-seed") && more) {
            if (cli_parse_long("ser sweep", s, argv[++i], 0, 2147483647L, NULL, &n) != 0) return -1;
            a->sample_seed = (unsigned long long)n;
        } else if (!strcmp(s, "--jobs") && more) {
            if (cli_parse_long("ser sweep", s, argv[++i], 1, 256, NULL, &n) != 0) return -1;
            a->jobs = (int)n;
        } else if (is_cv_opt(s)) {
            a->cv[a->n_cv++] = argv[i];
            if (!strchr(s, '=')) { /* --opt VALUE (else --opt=VALUE) */
                if (!more) return fprintf(stderr, "ser sweep: %s needs a value\n", s), -1;
                a->cv[a->n_cv++] = argv[++i];
            }
        } else {
            fprintf(stderr, "ser sweep: unknown option or missing value: %s%s\n", s,
                    !strcmp(s, "--fold") || !strcmp(s, "--print-commands") ? " (a sweep runs whole cvs)" : "");
            return -1;
        }
    }
    const char *why = NULL;
    if (a->collect) return 0;
    if (!a->out) why = "--out SWEEP is required";
    else if (!a->n_keys) why = "give at least one --grid KEY=V1,V2,...";
    else if (!a->n_cv) why = "give the ser cv options (--data DIR --folds K ...)";
    else if (a->slurm && a->jobs > 1) why = "--slurm and --jobs exclude each other";
    else if (a->slurm_opt && !a->slurm) why = "--partition, --time, --account, --mem, --cpus, --gpus and --sbatch need --slurm";
    if (why) {
        fprintf(stderr, "ser sweep: %s\n", why);
        return -1;
    }
    return 0;
}

/* splitmix64: the sample's random stream (seeded, the same on every machine). */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_long(const void *x, const void *y) {
    long a = *(const long *)x, b = *(const long *)y;
    return (a > b) - (a < b);
}

/* The grid indexes to run: all, or `samples` of them drawn without replacement (a partial
 * Fisher-Yates shuffle), in grid order. */
static long *pick_combos(const sweep_args *a, long total, long *n) {
    long *idx = malloc((size_t)total * sizeof *idx);
    if (!idx) return NULL;
    for (long i = 0; i < total; i++) idx[i] = i;
    *n = total;
    if (a->samples && a->samples < total) {
        uint64_t s = a->sample_seed;
        for (long i = 0; i < a->samples; i++) {
            long j = i + (long)(splitmix64(&s) % (uint64_t)(total - i));
            long t = idx[i];
            idx[i] = idx[j], idx[j] = t;
        }
        *n = a->samples;
        qsort(idx, (size_t)*n, sizeof *idx, cmp_long);
    }
    return idx;
}

/* Combination c's value of each key (mixed radix, the first key slowest). */
static void combo_values(const sweep_args *a, long c, const char **vals) {
    for (int k = a->n_keys - 1; k >= 0; k--) {
        vals[k] = a->grid[k].values[c % a->grid[k].n];
        c /= a->grid[k].n;
    }
}

/* Its folder name: KEY=VALUE,KEY=VALUE in the characters a path and a Slurm script keep well
 * (others become _); c<index> when that is long. */
static void combo_name(const sweep_args *a, long c, const char **vals, char *name, size_t n) {
    size_t len = 0;
    for (int k = 0; k < a->n_keys; k++) len += (k > 0) + strlen(a->grid[k].key) + 1 + strlen(vals[k]);
    name[0] = 0;
    if (len < n)
        for (int k = 0; k < a->n_keys; k++) {
            if (k) strcat(name, ",");
            strcat(name, a->grid[k].key), strcat(name, "="), strcat(name, vals[k]);
        }
    if (len >= 120 || len >= n) {
        snprintf(name, n, "c%05ld", c);
        return;
    }
    for (char *p = name; *p; p++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._=,-+", *p)) *p = '_';
}

typedef struct combo {
    char name[160];
    char dir[PATH_MAX + 200];
    const char *vals[SWEEP_MAX_KEYS];
    cli_argv cmd;       /* ser cv ... --out SWEEP/NAME */
    char *line;         /* cmd as one shell line */
} combo;

static char *line_of(const cli_argv *a) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    cli_write_line(f, a);
    return fclose(f) == 0 ? text : (free(text), NULL);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0, r;
    do {
        if (len + 4096 + 1 > cap) {
            char *t = realloc(text, cap = 2 * cap + 8192);
            if (!t) return free(text), fclose(f), NULL;
            text = t;
        }
        len += (r = fread(text + len, 1, 4096, f));
    } while (r == 4096);
    fclose(f);
    text[len] = 0;
    return text;
}

/* Finished: SWEEP/NAME/cv.json is there and SWEEP/NAME/sweep_command.txt is this command. */
static int combo_finished(const combo *c) {
    char p[PATH_MAX + 232];
    snprintf(p, sizeof p, "%s/cv.json", c->dir);
    if (access(p, F_OK) != 0) return 0;
    snprintf(p, sizeof p, "%s/sweep_command.txt", c->dir);
    char *old = read_text(p);
    const int same = old && !strncmp(old, c->line, strlen(c->line)) && old[strlen(c->line)] == '\n';
    free(old);
    return same;
}

static int write_plan(const sweep_args *a, const char *out_abs, const combo *cs, long n, ser_error *err) {
    cJSON *js = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(js, "keys");
    for (int k = 0; k < a->n_keys; k++) cJSON_AddItemToArray(keys, cJSON_CreateString(a->grid[k].key));
    if (a->samples) cJSON_AddNumberToObject(js, "samples", a->samples), cJSON_AddNumberToObject(js, "sample_seed", (double)a->sample_seed);
    cJSON *arr = cJSON_AddArrayToObject(js, "combinations");
    for (long i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", cs[i].name);
        cJSON_AddItemToObject(o, "values", cJSON_CreateStringArray(cs[i].vals, a->n_keys));
        cJSON_AddStringToObject(o, "command", cs[i].line);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(js), p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/sweep_plan.json", out_abs);
    int rc = text ? ser_write_text_file(p, text, err) : ser_fail(err, "out of memory");
    free(text);
    cJSON_Delete(js);
    return rc;
}

/* Starts argv with stdout and stderr appended to log. */
static int spawn_logged(char *const *argv, const char *log, pid_t *pid, ser_error *err) {
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return ser_fail(err, "posix_spawn_file_actions_init failed");
    int rc = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (!rc) rc = posix_spawn(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc ? ser_fail(err, "%s: cannot start %s: %s", log, argv[0], strerror(rc)) : 0;
}

/* Runs the argvs of the todo combinations, jobs at a time, output to SWEEP/NAME/sweep.log;
 * returns how many failed. extra: arguments added to each (the --slurm options), or NULL. */
static int run_combos(combo *cs, const long *todo, long n, int jobs, const cli_argv *extra) {
    pid_t *pids = calloc((size_t)(n ? n : 1), sizeof *pids);
    if (!pids) return (int)n;
    long next = 0;
    int running = 0, failed = 0;
    while (next < n || running) {
        while (running < jobs && next < n) {
            combo *c = &cs[todo[next]];
            char log[PATH_MAX + 232];
            snprintf(log, sizeof log, "%s/sweep.log", c->dir);
            cli_argv argv = {0};
            ser_error err = {{0}};
            int rc = 0;
            for (int i = 0; !rc && i < c->cmd.n; i++) rc = cli_argv_push(&argv, c->cmd.v[i], &err);
            for (int i = 0; !rc && extra && i < extra->n; i++) rc = cli_argv_push(&argv, extra->v[i], &err);
            if (!rc) rc = spawn_logged(argv.v, log, &pids[next], &err);
            cli_argv_free(&argv);
            if (rc) {
                fprintf(stderr, "ser sweep: %s: %s\n", c->name, err.msg);
                failed++;
            } else {
                fprintf(stderr, "ser sweep: %s: %s (log: %s)\n", c->name, extra ? "writing its Slurm scripts" : "running", log);
                running++;
            }
            next++;
        }
        if (!running) break;
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "ser sweep: waitpid: %s\n", strerror(errno));
            failed += running;
            break;
        }
        long i = 0;
        while (i < next && pids[i] != p) i++;
        if (i == next) continue;
        running--;
        const combo *c = &cs[todo[i]];
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            fprintf(stderr, "ser sweep: %s: done\n", c->name);
        } else {
            failed++;
            fprintf(stderr, "ser sweep: %s: ser cv failed (%s %d; its log: %s/sweep.log)\n", c->name,
                    WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), c->dir);
        }
    }
    free(pids);
    return failed;
}

/* The --slurm options again, for each combination's ser cv --slurm. */
static int slurm_argv(const cv_slurm_opts *o, cli_argv *x, ser_error *err) {
    char num[32];
    int rc = cli_argv_push(x, "--slurm", err);
    const char *kv[4][2] = {{"--partition", o->partition}, {"--time", o->time}, {"--account", o->account}, {"--mem", o->mem}};
    for (int i = 0; !rc && i < 4; i++)
        if (kv[i][1]) rc = cli_argv_push(x, kv[i][0], err) || cli_argv_push(x, kv[i][1], err);
    if (!rc && o->cpus) snprintf(num, sizeof num, "%d", o->cpus), rc = cli_argv_push(x, "--cpus", err) || cli_argv_push(x, num, err);
    if (!rc && o->gpus) snprintf(num, sizeof num, "%d", o->gpus), rc = cli_argv_push(x, "--gpus", err) || cli_argv_push(x, num, err);
    for (int i = 0; !rc && i < o->n_extra; i++) rc = cli_argv_push(x, "--sbatch", err) || cli_argv_push(x, o->extra[i], err);
    return rc;
}

/* SWEEP/slurm/collect.sbatch (ser sweep --collect) and submit.sh: every unfinished
 * combination's submit.sh, then the summary job after all their summary jobs (afterok). */
static int write_sweep_slurm(const sweep_args *a, const char *exe, const char *out_abs, const combo *cs, const long *todo,
                             long n, ser_error *err) {
    if (strpbrk(out_abs, " \t\r\n'\"\\$`%"))
        return ser_fail(err, "--slurm: %s: a Slurm script cannot name a folder with spaces, quotes, $ or %%", out_abs);
    char dir[PATH_MAX + 16], path[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/slurm", out_abs);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return ser_fail(err, "%s: cannot create: %s", dir, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ser_fail(err, "%s: %s", dir, strerror(errno));
    fprintf(f, "#!/bin/bash\n# Written by `ser sweep --slurm`: the sweep's table, after every combination's summary.\n"
               "#SBATCH --job-name=ser-sweep-collect\n#SBATCH --cpus-per-task=1\n");
    cv_slurm_common_lines(f, &a->sl);
    fprintf(f, "#SBATCH --output=%s/collect.log\nset -eu\nexec ", dir);
    cli_write_word(f, exe);
    fprintf(f, " sweep --collect %s\n", out_abs);
    fclose(f);
    snprintf(path, sizeof path, "%s/collect.sbatch", dir);
    int rc = cv_slurm_write_file(path, text, 0, err);
    free(text);
    if (rc) return rc;
    text = NULL, len = 0;
    if (!(f = open_memstream(&text, &len))) return ser_fail(err, "%s: %s", dir, strerror(errno));
    fprintf(f, "#!/bin/sh\n# Written by `ser sweep --slurm`: submits each unfinished combination's folds and summary\n"
               "# (its own submit.sh), then the sweep's table after all of them (afterok). Prints its job id last.\n"
               "set -eu\ndeps=\n");
    for (long i = 0; i < n; i++) fprintf(f, "deps=\"$deps:$(sh '%s/slurm/submit.sh')\"\n", cs[todo[i]].dir);
    fprintf(f, "if [ -n \"$deps\" ]; then dep=--dependency=afterok$deps; else dep=; fi\n"
               "table=$(sbatch --parsable $dep '%s/collect.sbatch')\n"
               "table=${table%%%%;*}\n"
               "echo \"ser sweep: %ld combinations submitted; the table: job $table\" >&2\n"
               "echo \"$table\"\n",
            dir, n);
    fclose(f);
    snprintf(path, sizeof path, "%s/submit.sh", dir);
    rc = cv_slurm_write_file(path, text, 1, err);
    free(text);
    return rc;
}

int cmd_sweep(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    sweep_args a;
    if (parse_args(argc, argv, &a) != 0) {
        usage(stderr);
        args_free(&a);
        return 2;
    }
    ser_error err = {{0}};
    int rc = 1, unfinished = 0;
    combo *cs = NULL;
    long *idx = NULL, *todo = NULL, n = 0;
    cli_argv base = {0}, extra = {0};
    char exe[PATH_MAX], out_abs[PATH_MAX];
    if (a.collect) {
        if (sweep_collect(a.collect, &unfinished, &err) != 0) goto fail;
        if (unfinished) fprintf(stderr, "ser sweep: %d combinations not finished yet (listed last)\n", unfinished);
        rc = 0;
        goto done;
    }
    long total = 1;
    for (int k = 0; k < a.n_keys; k++)
        if ((total *= a.grid[k].n) > SWEEP_MAX_COMBOS) {
            ser_fail(&err, "the grid has more than %d combinations", SWEEP_MAX_COMBOS);
            goto fail;
        }
    if (!realpath("/proc/self/exe", exe)) {
        ser_fail(&err, "/proc/self/exe: %s (cannot find the ser binary)", strerror(errno));
        goto fail;
    }
    if (mkdir(a.out, 0777) != 0 && errno != EEXIST) {
        ser_fail(&err, "%s: cannot create: %s", a.out, strerror(errno));
        goto fail;
    }
    if (!realpath(a.out, out_abs)) {
        ser_fail(&err, "%s: %s", a.out, strerror(errno));
        goto fail;
    }
    if (cli_argv_push(&base, exe, &err) || cli_argv_push(&base, "cv", &err) ||
        cli_argv_copy(&base, a.n_cv, a.cv, CV_OPTS, NULL, &err))
        goto fail;
    if (!(idx = pick_combos(&a, total, &n)) || !(cs = calloc((size_t)n, sizeof *cs)) || !(todo = calloc((size_t)n, sizeof *todo))) {
        ser_fail(&err, "out of memory");
        goto fail;
    }
    long n_todo = 0;
    for (long i = 0; i < n; i++) {
        combo *c = &cs[i];
        combo_values(&a, idx[i], c->vals);
        combo_name(&a, idx[i], c->vals, c->name, sizeof c->name);
        if (snprintf(c->dir, sizeof c->dir, "%s/%s", out_abs, c->name) >= (int)sizeof c->dir) {
            ser_fail(&err, "%s/%s: path too long", out_abs, c->name);
            goto fail;
        }
        int bad = 0;
        for (int j = 0; !bad && j < base.n; j++) bad = cli_argv_push(&c->cmd, base.v[j], &err);
        for (int k = 0; !bad && k < a.n_keys; k++) {
            char set[1024];
            snprintf(set, sizeof set, "%s=%s", a.grid[k].key, c->vals[k]);
            bad = cli_argv_push(&c->cmd, "--set", &err) || cli_argv_push(&c->cmd, set, &err);
        }
        if (!bad) bad = cli_argv_push(&c->cmd, "--out", &err) || cli_argv_push(&c->cmd, c->dir, &err);
        if (bad || !(c->line = line_of(&c->cmd))) {
            ser_fail(&err, "out of memory");
            goto fail;
        }
        if (combo_finished(c)) {
            fprintf(stderr, "ser sweep: %s: finished earlier, kept\n", c->name);
            continue;
        }
        char p[PATH_MAX + 232], *line = NULL;
        snprintf(p, sizeof p, "%s/sweep_command.txt", c->dir);
        if ((mkdir(c->dir, 0777) != 0 && errno != EEXIST) || asprintf(&line, "%s\n", c->line) < 0) {
            ser_fail(&err, "%s: cannot create: %s", c->dir, strerror(errno));
            goto fail;
        }
        int wrc = ser_write_text_file(p, line, &err);
        free(line);
        if (wrc) goto fail;
        todo[n_todo++] = i;
    }
    if (write_plan(&a, out_abs, cs, n, &err) != 0) goto fail;
    fprintf(stderr, "ser sweep: %ld of %ld combinations%s, %ld to run\n", n, total, a.samples ? " (sampled)" : "", n_todo);
    if (a.slurm) {
        if (slurm_argv(&a.sl, &extra, &err) != 0) goto fail;
        int failed = run_combos(cs, todo, n_todo, 1, &extra);
        if (failed) {
            ser_fail(&err, "%d combinations' Slurm scripts could not be written (their logs are named above)", failed);
            goto fail;
        }
        if (write_sweep_slurm(&a, exe, out_abs, cs, todo, n_todo, &err) != 0) goto fail;
        printf("sh %s/slurm/submit.sh\n", out_abs);
        rc = 0;
        goto done;
    }
    if (n_todo && a.jobs > 1) {
        const char *from;
        const int t = cli_task_threads(&from), each = t / a.jobs > 0 ? t / a.jobs : 1;
        char v[16];
        snprintf(v, sizeof v, "%d", each);
        if (setenv("OMP_NUM_THREADS", v, 1) != 0) {
            ser_fail(&err, "setenv OMP_NUM_THREADS: %s", strerror(errno));
            goto fail;
        }
        fprintf(stderr, "ser sweep: %d combinations at a time, %d threads each (this task's threads: %d, from %s)\n", a.jobs,
                each, t, from);
    }
    const int failed = run_combos(cs, todo, n_todo, a.jobs, NULL);
    if (sweep_collect(out_abs, &unfinished, &err) != 0) goto fail;
    if (failed) {
        ser_fail(&err, "%d of %ld combinations failed (their logs are named above); run the same command again to resume",
                 failed, n);
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ser sweep: %s\n", err.msg);
done:
    for (long i = 0; cs && i < n; i++) cli_argv_free(&cs[i].cmd), free(cs[i].line);
    free(cs), free(idx), free(todo);
    cli_argv_free(&base), cli_argv_free(&extra);
    args_free(&a);
    return rc;
}
