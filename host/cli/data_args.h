/* The corpus options shared by ser scan, split, train and eval: --data (repeatable), --corpus,
 * --labels, --label-map (docs/multi-corpus.md).
 *
 * --corpus K pairs with a --data this way, and no other:
 *   - after a --data (other options may come between): it names that --data's parser, the most
 *     recent --data given; a second --corpus for the same --data is an error;
 *   - before the first --data: allowed only when exactly one --data is given (the old
 *     `--corpus K --data DIR` order); with several --data it is an error (which would it be?).
 * A --data without its own --corpus is auto-detected. */
#ifndef SER_CLI_DATA_ARGS_H
#define SER_CLI_DATA_ARGS_H

#include <stdio.h>

#include "ser/corpus_set.h"

#define CLI_MAX_DATA 64

typedef struct cli_data {
    ser_data_source src[CLI_MAX_DATA];
    int has_kind[CLI_MAX_DATA];
    size_t n;
    const char *leading;   /* a --corpus given before any --data */
    ser_label_rules rules;
    int any_rules;         /* --labels or --label-map given */
} cli_data;

/* The help lines of the four options, for a command's usage text. */
extern const char CLI_DATA_HELP[];

void cli_data_init(cli_data *d);
/* argv[*i] one of --data --corpus --labels --label-map (also --opt=VALUE): consumes it and its
 * value (advancing *i) and returns 1; 0 when argv[*i] is another option; -1 after printing
 * "cmd: reason" (a missing value, a bad corpus kind or label word, a --corpus it cannot pair). */
int cli_data_arg(cli_data *d, int argc, char **argv, int *i, const char *cmd);
/* A folder given without --data (ser scan DIR): as --data DIR. -1 after printing why. */
int cli_data_add(cli_data *d, const char *dir, const char *cmd);
/* After the arguments: pairs a leading --corpus. -1 after printing why. */
int cli_data_finish(cli_data *d, const char *cmd);
/* Scans the --data sources with the label rules into *set; prints to f one line per corpus
 * (name, kind, clips, folder), the skipped files (verbose: each, else a count) and the
 * clips --labels dropped, per corpus and label. */
int cli_data_scan(const cli_data *d, int strict, int verbose, FILE *f, const char *cmd, ser_corpus_set *set,
                  ser_error *err);
/* The lines above alone (for a set already scanned). */
void cli_data_print(const ser_corpus_set *set, int verbose, FILE *f, const char *cmd);
/* The clips of the manifest list, or (list NULL) of the --data folders: cli_data_scan's clips
 * (lenient, the skipped files listed on stderr). */
int cli_data_clips(const cli_data *d, const char *list, const char *cmd, ser_clips *out, ser_error *err);

#endif
