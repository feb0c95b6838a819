/* Command lines that ser writes for other processes to run (the fold tasks of `ser cv`, the
 * combinations of `ser sweep`): a growable argv of owned strings, copies of a command's own
 * arguments with path values made absolute, and shell quoting. */
#ifndef SER_CLI_ARGV_H
#define SER_CLI_ARGV_H

#include <stdio.h>

#include "ser/error.h"

typedef struct cli_argv {
    char **v;   /* n strings, then NULL */
    int n, cap;
} cli_argv;

/* Appends a copy of s. */
int cli_argv_push(cli_argv *a, const char *s, ser_error *err);
void cli_argv_free(cli_argv *a);

/* The options of ser cv (and so of ser sweep) whose value is a path: --data, --config,
 * --noise-dir, --fold-lists, --out, --extra-data, --pretrain-data, --init, --pretrain-config. */
int cli_opt_is_path(const char *opt);

/* Appends argv[0..argc) to out. with_value (NULL-terminated) names the options that take a
 * value (the next argument); a path option's value (also --data=DIR) is made absolute
 * (realpath: the path must exist), the others are copied as they are. The options in skip
 * (NULL-terminated) are left out, with their value when they take one. */
int cli_argv_copy(cli_argv *out, int argc, char **argv, const char *const *with_value, const char *const *skip,
                  ser_error *err);

/* s as one POSIX shell word: bare when it holds only safe characters, else single-quoted. */
void cli_write_word(FILE *f, const char *s);
/* The argv as one shell line (no newline). */
void cli_write_line(FILE *f, const cli_argv *a);

#endif
