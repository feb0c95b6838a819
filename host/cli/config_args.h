/* --config F and --set section.key=value for every command that builds a config (train, cv,
 * mfcc, check, bench-epoch): one parser, one order. The config is the defaults, then the --config
 * file, then each --set in the order given, wherever the options stand on the command line. */
#ifndef SER_CLI_CONFIG_ARGS_H
#define SER_CLI_CONFIG_ARGS_H

#include "ser/config.h"
#include "ser/error.h"

typedef struct cli_config_args {
    const char *config;     /* --config F (the last one given), or NULL */
    const char **sets;      /* n_sets --set values, in the order given */
    int n_sets;
} cli_config_args;

/* Room for the --set of argc arguments. -1 (said on stderr) when out of memory. */
int cli_config_args_init(cli_config_args *c, int argc, const char *cmd);
void cli_config_args_free(cli_config_args *c);

/* argv[*i] --config or --set (also --opt=VALUE): consumes it and its value (advancing *i) and
 * returns 1; 0 when argv[*i] is another option; -1 after printing why (a missing value). */
int cli_config_arg(cli_config_args *c, int argc, char **argv, int *i, const char *cmd);

/* cfg = the defaults, then the --config file, then each --set in order. */
int cli_config_resolve(const cli_config_args *c, ser_config *cfg, ser_error *err);

#endif
