/* A small synthetic corpus for a test: `ser synth`'s default speakers and emotions, per_class
 * clips each, written under a fresh /tmp folder (its path in dir, TEST_DIR_MAX bytes) and
 * scanned into c. Returns 0, or -1 with the reason printed (the caller counts it as a failure).
 * test_synth_corpus_remove(dir) deletes the folder. */
#ifndef SER_TEST_SYNTH_CORPUS_H
#define SER_TEST_SYNTH_CORPUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/corpus.h"
#include "ser/synth.h"

#define TEST_DIR_MAX 64

static inline int test_synth_corpus(char *dir, const char *name, int per_class, ser_corpus *c) {
    snprintf(dir, TEST_DIR_MAX, "/tmp/ser_%.32s_XXXXXX", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    ser_synth_config sc;
    ser_synth_config_default(&sc);
    sc.per_class = per_class;
    ser_error err = {{0}};
    if (ser_synth_corpus(dir, &sc, NULL, &err) != 0 || ser_corpus_scan(dir, SER_CORPUS_AUTO, 0, c, &err) != 0) {
        fprintf(stderr, "FAIL: synthetic corpus in %s: %s\n", dir, err.msg);
        return -1;
    }
    return 0;
}

static inline void test_synth_corpus_remove(const char *dir) {
    char cmd[TEST_DIR_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
