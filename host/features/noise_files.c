/* The noise files of a folder (contract in ser/noise_files.h): the one folder walker's .wav list. */
#include "ser/noise_files.h"

#include "ser/dir_walk.h"

int ser_noise_list(const char *dir, char ***paths, size_t *n, ser_error *err) {
    *paths = NULL, *n = 0;
    if (ser_dir_list(dir, SER_WAV_EXTENSION, paths, n, err) != 0) return ser_fail_wrap(err, "noise folder %s", dir);
    if (!*n) {
        ser_dir_list_free(*paths, 0);
        *paths = NULL;
        return ser_fail(err, "%s: noise folder holds no .wav files", dir);
    }
    return 0;
}

void ser_noise_list_free(char **paths, size_t n) { ser_dir_list_free(paths, n); }
