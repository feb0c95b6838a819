/* main() for the fuzz targets in builds without libFuzzer: feeds every file given (or every
 * file of every folder given) to LLVMFuzzerTestOneInput once. ctest runs each target over its
 * seed corpus and the inputs that once crashed it (tests/fuzz/corpus/<target>/), so a fixed
 * crash stays fixed in every build, sanitized or not. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_input.h"

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "%s: cannot open\n", path), -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fclose(f);
        free(buf);
        return fprintf(stderr, "%s: cannot read\n", path), -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    int files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) return fprintf(stderr, "%s: not found\n", argv[i]), 1;
        if (!S_ISDIR(sb.st_mode)) {
            failed |= run_file(argv[i]) != 0, files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) return fprintf(stderr, "%s: cannot open\n", argv[i]), 1;
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            names = realloc(names, (n + 1) * sizeof *names);
            names[n] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
            sprintf(names[n++], "%s/%s", argv[i], e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t k = 0; k < n; k++) {
            failed |= run_file(names[k]) != 0, files++;
            free(names[k]);
        }
        free(names);
    }
    printf("%d inputs replayed\n", files);
    if (files == 0) return fprintf(stderr, "no inputs\n"), 1;
    return failed;
}
