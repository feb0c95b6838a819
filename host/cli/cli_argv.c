/* Command lines for other processes (cli_argv.h). */
#define _DEFAULT_SOURCE /* realpath */
#include "cli_argv.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int cli_argv_push(cli_argv *a, const char *s, ser_error *err) {
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? 2 * a->cap : 32;
        char **v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) return ser_fail(err, "out of memory");
        a->v = v, a->cap = cap;
    }
    if (!(a->v[a->n] = strdup(s))) return ser_fail(err, "out of memory");
    a->v[++a->n] = NULL;
    return 0;
}

void cli_argv_free(cli_argv *a) {
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

int cli_opt_is_path(const char *opt) {
    static const char *const PATHS[] = {"--data",        "--config",        "--noise-dir", "--fold-lists", "--out",
                                        "--extra-data",  "--pretrain-data", "--init",      "--pretrain-config"};
    for (size_t i = 0; i < sizeof PATHS / sizeof *PATHS; i++)
        if (!strcmp(opt, PATHS[i])) return 1;
    return 0;
}

static int in_list(const char *s, const char *const *list) {
    for (; list && *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

static int push_abs(cli_argv *out, const char *opt, const char *path, ser_error *err) {
    char abs[PATH_MAX];
    if (!realpath(path, abs)) return ser_fail(err, "%s %s: %s", opt, path, strerror(errno));
    return cli_argv_push(out, abs, err);
}

int cli_argv_copy(cli_argv *out, int argc, char **argv, const char *const *with_value, const char *const *skip,
                  ser_error *err) {
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char *eq = strchr(s, '=');
        if (s[0] == '-' && s[1] == '-' && eq) { /* --opt=VALUE */
            char opt[64];
            const size_t l = (size_t)(eq - s);
            if (l < sizeof opt) {
                memcpy(opt, s, l), opt[l] = 0;
                if (in_list(opt, skip)) continue;
                if (cli_opt_is_path(opt)) {
                    if (cli_argv_push(out, opt, err) || push_abs(out, opt, eq + 1, err)) return -1;
                    continue;
                }
            }
            if (cli_argv_push(out, s, err)) return -1;
            continue;
        }
        const int takes = in_list(s, with_value) && i + 1 < argc;
        if (in_list(s, skip)) {
            i += takes;
            continue;
        }
        if (cli_argv_push(out, s, err)) return -1;
        if (!takes) continue;
        i++;
        if (cli_opt_is_path(s) ? push_abs(out, s, argv[i], err) : cli_argv_push(out, argv[i], err)) return -1;
    }
    return 0;
}

void cli_write_word(FILE *f, const char *s) {
    if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=.,/:@%") == strlen(s)) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++) *s == '\'' ? fputs("'\\''", f) : fputc(*s, f);
    fputc('\'', f);
}

void cli_write_line(FILE *f, const cli_argv *a) {
    for (int i = 0; i < a->n; i++) {
        if (i) fputc(' ', f);
        cli_write_word(f, a->v[i]);
    }
}
