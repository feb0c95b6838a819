/* `ser`: the command-line front door. Dispatches to host/cli/cmd_<name>.c. */
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"

static const ser_command COMMANDS[] = {
    {"mfcc", cmd_mfcc, "compute librosa-exact MFCC features of files or folders into a .npy"},
    {"scan", cmd_scan, "list the clips of a corpus folder (path, label, speaker) and what was skipped"},
    {"split", cmd_split, "write deterministic train / validation / test manifests of a corpus"},
    {"synth", cmd_synth, "write a small deterministic synthetic emotional-speech corpus (TESS layout)"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void print_version(void) {
    printf("ser %s (commit %s)\nbackends: cpu%s\n", SER_VERSION_STRING, SER_GIT_COMMIT,
           SER_HAVE_CUDA ? " cuda" : "");
}

static void print_usage(FILE *f) {
    fprintf(f, "usage: ser <command> [options]   (ser <command> --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n  ser --version   version, git commit and the backends built\n");
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        print_version();
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        print_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ser: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return 2;
}
