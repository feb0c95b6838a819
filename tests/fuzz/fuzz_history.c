/* Fuzz target: any bytes as history.jsonl, which --resume reads back (a crash may have cut
 * its last line). */
#include <string.h>

#include "fuzz_input.h"
#include "ser/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_input_file("history", data, size);
    if (!path) return 0;
    ser_history_entry *h = NULL;
    size_t n = 0;
    ser_error err = {{0}};
    if (ser_history_read(path, &h, &n, &err) != 0 && !strstr(err.msg, path)) fuzz_fail("error without the file name", err.msg);
    free(h);
    return 0;
}
