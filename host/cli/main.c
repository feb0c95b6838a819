/* `ser`: the command-line front door. Dispatches to host/cli/cmd_<name>.c. */
#include <cblas.h>
#include <errno.h>
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
    {"cv", cmd_cv, "speaker-independent cross-validation: k-fold, leave-one-speaker-out or EmoBox folds"},
    {"sweep", cmd_sweep, "one ser cv per combination of --set values (grid or seeded sample); a table by UA"},
    {"eval", cmd_eval, "evaluate a trained model on a labelled folder or manifest (report, confusion matrix)"},
    {"predict", cmd_predict, "label and class probabilities of audio files"},
    {"export", cmd_export, "write a trained model as ONNX (--onnx OUT.onnx --model RUN/model.safetensors)"},
    {"synth", cmd_synth, "write a small deterministic synthetic emotional-speech corpus (TESS layout)"},
    {"cache", cmd_cache, "list or prune the on-disk feature cache (folders by recipe and build, LRU)"},
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

int cli_parse_long(const char *cmd, const char *opt, const char *v, long lo, long hi, const char *expected, long *out) {
    char *end;
    errno = 0;
    const long n = strtol(v, &end, 10);
    if (!errno && end != v && !*end && n >= lo && n <= hi) {
        *out = n;
        return 0;
    }
    if (expected) fprintf(stderr, "%s: %s '%s': expected %s\n", cmd, opt, v, expected);
    else fprintf(stderr, "%s: %s '%s': expected a count in %ld..%ld\n", cmd, opt, v, lo, hi);
    return -1;
}

int cli_opt_value(int argc, char **argv, int *i, const char *const *opts, int n, const char *cmd, const char **value) {
    const char *a = argv[*i], *v = NULL;
    int which = -1;
    for (int k = 0; k < n && which < 0; k++) {
        const size_t kl = strlen(opts[k]);
        if (strncmp(a, opts[k], kl) || (a[kl] != 0 && a[kl] != '=')) continue;
        which = k;
        if (a[kl] == '=') v = a + kl + 1;
        else if (*i + 1 < argc) v = argv[++*i];
    }
    if (which < 0) return -1;
    if (!v || !*v) {
        fprintf(stderr, "%s: %s needs a value\n", cmd, opts[which]);
        return -2;
    }
    *value = v;
    return which;
}

/* OpenBLAS (Debian's DYNAMIC_ARCH build) picks its kernels by the CPU's model; on a CPU it does
 * not know by name (a virtual "Intel Xeon Processor" here) it falls back to the SSE3 "Prescott"
 * kernels, 4x slower than its AVX-512 ones on the same core (measured: 15 vs 62 GFLOP/s on one
 * core, sgemm 512^3). When OpenBLAS chose such a generic core and the CPU has the instructions of
 * a better one, name that core in OPENBLAS_CORETYPE (read when the library loads), unless the
 * user chose one. */
static const char *better_openblas_core(void) {
    const char *core = openblas_get_corename();
    if (!core || (strcmp(core, "Prescott") && strcmp(core, "Core2") && strcmp(core, "Nehalem") &&
                  strcmp(core, "Sandybridge")))
        return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return strcmp(core, "Haswell") ? "Haswell" : NULL;
    return NULL;
}

/* libgomp's idle threads spin by default; when another process holds a core (a shared
 * workstation, a second job) a spinning team is ~3x slower, and on an idle machine passive
 * waiting costs nothing measurable (bench/bench_epoch.py). OpenBLAS's own worker threads spin
 * too, calling sched_yield ~25 000 times a second after each multi-threaded call (the LSTM and
 * dense GEMMs, small), competing with the OpenMP team and oneDNN for the same cores; ser's
 * heavy work is OpenMP and oneDNN, so OpenBLAS runs on the calling thread (OPENBLAS_NUM_THREADS
 * = 1: no worker threads, no yields; the epoch measured as fast or faster in 3 runs of 4).
 * libgomp and OpenBLAS read their variables when they load, so set them and re-execute once,
 * unless the user chose them. */
static void prefer_runtime_env(char **argv) {
    if (getenv("SER_NO_REEXEC")) return;
    int changed = 0;
    if (!getenv("OMP_WAIT_POLICY")) changed |= setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
    if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS")) /* OpenBLAS's own two names */
        changed |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : better_openblas_core();
    if (core) changed |= setenv("OPENBLAS_CORETYPE", core, 1) == 0;
    if (!changed || setenv("SER_NO_REEXEC", "1", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the defaults */
}

int main(int argc, char **argv) {
    prefer_runtime_env(argv);
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
