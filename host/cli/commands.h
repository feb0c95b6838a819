/* The subcommands of the `ser` CLI: each lives in host/cli/cmd_<name>.c and returns the
 * process exit code (0 ok, 1 failure, 2 usage error or unavailable). */
#ifndef SER_CLI_COMMANDS_H
#define SER_CLI_COMMANDS_H

typedef struct ser_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
} ser_command;

int cmd_mfcc(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_cv(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench_epoch(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_cache(int argc, char **argv);

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

/* argv[*i] one of opts[0..n) (also written --opt=VALUE): its value in *value (the next argument,
 * *i advanced past it) and its index; -1 when argv[*i] is none of them; -2 after printing
 * "cmd: OPT needs a value" (no value, or an empty one). */
int cli_opt_value(int argc, char **argv, int *i, const char *const *opts, int n, const char *cmd, const char **value);

/* A whole decimal number in [lo, hi] from option opt's value v into *out; else prints
 * "cmd: OPT 'V': expected WHAT" (expected NULL: "a count in LO..HI") and returns -1. */
int cli_parse_long(const char *cmd, const char *opt, const char *v, long lo, long hi, const char *expected, long *out);

#endif
