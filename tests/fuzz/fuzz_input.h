/* Shared by the fuzz targets: every parser of outside input reads a path, so each input is
 * written to one scratch file per process (rewritten per input) and the parser reads that.
 * libFuzzer calls LLVMFuzzerTestOneInput once per input; tests/fuzz/replay.c calls it for
 * every file of a corpus in builds without libFuzzer (the regression tests). */
#ifndef SER_FUZZ_INPUT_H
#define SER_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract: says what and aborts (libFuzzer saves the input as a crash). */
static inline void fuzz_fail(const char *what, const char *msg) {
    fprintf(stderr, "fuzz: %s: %s\n", what, msg);
    abort();
}

static char fuzz_input_path_[256];
static inline void fuzz_input_remove(void) {
    if (fuzz_input_path_[0]) unlink(fuzz_input_path_);
}

/* The scratch file holding data (name fixed per process and target; suffix e.g. ".ini"), or
 * NULL when it cannot be written (the harness then does nothing: not a finding). */
static inline const char *fuzz_input_file(const char *target, const uint8_t *data, size_t size) {
    char *path = fuzz_input_path_;
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof fuzz_input_path_, "%s/ser_fuzz_%s_%ld", dir && *dir ? dir : "/tmp", target, (long)getpid());
        atexit(fuzz_input_remove);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    const int ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !ok) return NULL;
    return path;
}

#endif
