/* `ser`: the command-line front door. Dispatches to host/cli/cmd_<name>.c. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"
#include "ser/cuda.h"

static const ser_command COMMANDS[] = {
    {"mfcc", cmd_mfcc, "compute librosa-exact MFCC features of files or folders into a .npy"},
    {"scan", cmd_scan, "list the clips of a corpus folder (path, label, speaker) and what was skipped"},
    {"split", cmd_split, "write deterministic train / validation / test manifests of a corpus"},
    {"train", cmd_train, "train the network on a corpus folder or manifests; writes a run folder"},
    {"eval", cmd_eval, "evaluate a trained model on a labelled folder or manifest (report, confusion matrix)"},
    {"predict", cmd_predict, "label and class probabilities of audio files"},
    {"synth", cmd_synth, "write a small deterministic synthetic emotional-speech corpus (TESS layout)"},
    {"check", cmd_check, "compare the CUDA backend with the CPU backend on one batch (needs a GPU)"},
    {"bench-epoch", cmd_bench_epoch, "(benchmark) time one training epoch of the model on random data, JSON"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void print_version(void) {
    printf("ser %s (commit %s)\nbackends: cpu%s\n", SER_VERSION_STRING, SER_GIT_COMMIT,
           SER_HAVE_CUDA ? " cuda" : "");
    if (SER_HAVE_CUDA) {
        char desc[256];
        const int n = ser_cuda_devices(desc, sizeof desc);
        if (n > 0) printf("cuda device: %s%s\n", desc, n > 1 ? " (and more: cuda.device picks)" : "");
        else printf("cuda device: none (%s)\n", desc);
    }
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

/* libgomp's idle threads spin by default; when another process holds a core (a shared
 * workstation, a second job) a spinning team is ~3x slower, and on an idle machine passive
 * waiting costs nothing measurable (bench/bench_epoch.py). libgomp reads OMP_WAIT_POLICY when
 * it loads, so set it and re-execute once, unless the user chose a policy. */
static void prefer_passive_omp(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("SER_NO_REEXEC")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0 || setenv("SER_NO_REEXEC", "1", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the default policy */
}

int main(int argc, char **argv) {
    prefer_passive_omp(argv);
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
