/* `ser sweep` (host/cli/cmd_sweep.c) and its table (host/cli/sweep_table.c). The plan,
 * SWEEP/sweep_plan.json, ties them: {"keys": [KEY...], "combinations": [{"name": NAME,
 * "values": [VALUE per key], "command": the ser cv line}]}; combination NAME runs in SWEEP/NAME/. */
#ifndef SER_CLI_SWEEP_H
#define SER_CLI_SWEEP_H

#include "ser/error.h"

/* Reads SWEEP/sweep_plan.json and each combination's cv.json and cv_cost.json, prints the table
 * (sorted by UA mean, best first; unfinished combinations last) and writes SWEEP/sweep.json
 * and SWEEP/sweep.md. *n_unfinished: the combinations without a cv.json. */
int sweep_collect(const char *sweep_dir, int *n_unfinished, ser_error *err);

#endif
