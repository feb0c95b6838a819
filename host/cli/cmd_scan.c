/* Placeholder while ser scan is being written in this session. */
#include <stdio.h>
#include "commands.h"
int cmd_scan(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "ser scan: not implemented yet\n");
    return 2;
}
