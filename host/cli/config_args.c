/* --config / --set for the commands that build a config (config_args.h). */
#include "config_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

int cli_config_args_init(cli_config_args *c, int argc, const char *cmd) {
    memset(c, 0, sizeof *c);
    c->sets = calloc(argc > 0 ? (size_t)argc : 1, sizeof *c->sets);
    if (!c->sets) {
        fprintf(stderr, "%s: out of memory for %d arguments\n", cmd, argc);
        return -1;
    }
    return 0;
}

void cli_config_args_free(cli_config_args *c) {
    free(c->sets);
    memset(c, 0, sizeof *c);
}

int cli_config_arg(cli_config_args *c, int argc, char **argv, int *i, const char *cmd) {
    static const char *const OPTS[] = {"--config", "--set"};
    const char *v = NULL;
    const int which = cli_opt_value(argc, argv, i, OPTS, 2, cmd, &v);
    if (which == -1) return 0;
    if (which < 0) return -1;
    if (which == 0) c->config = v;
    else c->sets[c->n_sets++] = v;
    return 1;
}

int cli_config_resolve(const cli_config_args *c, ser_config *cfg, ser_error *err) {
    ser_config_defaults(cfg);
    if (c->config && ser_config_load(cfg, c->config, err) != 0) return -1;
    return ser_config_set_all(cfg, c->sets, c->n_sets, err);
}
