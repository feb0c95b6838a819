/* The noise files of train.aug_noise_kind = folder (a folder of .wav files, as MUSAN's noise
 * part): listed by the one folder walker (ser/dir_walk.h: recursive, hidden entries skipped,
 * links followed, byte order of the whole path). */
#ifndef SER_NOISE_FILES_H
#define SER_NOISE_FILES_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/error.h"

/* The .wav files (any case of the extension) under dir. Fails naming the folder when it cannot
 * be read or holds none. */
int ser_noise_list(const char *dir, char ***paths, size_t *n, ser_error *err);
void ser_noise_list_free(char **paths, size_t n);

#ifdef __cplusplus
}
#endif

#endif
