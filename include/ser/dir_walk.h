/* The one folder walker of ser: the corpus scan (host/corpus/corpus.c), `ser mfcc DIR`
 * (host/cli/cmd_mfcc.c) and, with SER_WAV_EXTENSION, the noise folder (host/features/noise_files.c:
 * train.aug_noise_kind = folder) list their files through it, all under one rule set:
 *   - every file under root, recursively, whose name ends in one of exts (any case; the
 *     extension is what follows the name's last '.', and something must come before it);
 *   - hidden entries (a name starting with '.': ".DS_Store", macOS "._x.wav", ".git/") are
 *     skipped, files and folders alike;
 *   - symbolic links are followed, to files and to folders; a folder that is one of its own
 *     ancestors (a link loop) is not walked again, and folders nested deeper than
 *     SER_DIR_WALK_MAX_DEPTH fail;
 *   - an entry that cannot be stat'ed (a dangling link) fails when its name has one of exts and
 *     is ignored otherwise; a folder that cannot be read fails;
 *   - the paths are root + "/" + the names below it (root as given, without a doubled '/'), in
 *     byte (strcmp) order of the whole path, independent of the locale and the file system.
 * An empty result is not an error: the callers say what they were looking for. */
#ifndef SER_DIR_WALK_H
#define SER_DIR_WALK_H

#include <stddef.h>

#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SER_DIR_WALK_MAX_DEPTH 64

/* The audio files ser reads from a folder: .wav .aif .aiff .flac .ogg (NULL-terminated). */
extern const char *const SER_AUDIO_EXTENSIONS[];
/* The noise folder's: .wav (NULL-terminated). */
extern const char *const SER_WAV_EXTENSION[];

/* True when name ends in one of exts (NULL-terminated), any case, after at least one character. */
int ser_has_extension(const char *name, const char *const *exts);

/* The files under root (rules above) into *paths (n of them; free with ser_dir_list_free). */
int ser_dir_list(const char *root, const char *const *exts, char ***paths, size_t *n, ser_error *err);
void ser_dir_list_free(char **paths, size_t n);

#ifdef __cplusplus
}
#endif

#endif
