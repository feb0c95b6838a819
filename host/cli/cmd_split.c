/* Placeholder while ser split is being written in this session. */
#include <stdio.h>
#include "commands.h"
int cmd_split(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "ser split: not implemented yet\n");
    return 2;
}
