/* Placeholder while ser mfcc is being written in this session. */
#include <stdio.h>
#include "commands.h"
int cmd_mfcc(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "ser mfcc: not implemented yet\n");
    return 2;
}
