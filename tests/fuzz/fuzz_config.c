/* Fuzz target: any bytes as a config file (ser_config_load: inih + our key table and range
 * checks), and the same bytes as the JSON config a model file carries (ser_config_from_json).
 * A config that loads must validate and survive a write/read round trip unchanged. */
#include <string.h>

#include "fuzz_input.h"
#include "ser/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_input_file("config", data, size);
    if (!path) return 0;
    ser_config cfg;
    ser_error err = {{0}};
    ser_config_defaults(&cfg);
    if (ser_config_load(&cfg, path, &err) == 0) {
        if (ser_config_validate(&cfg, &err) != 0) fuzz_fail("loaded but invalid", err.msg);
        /* the resolved config written out reads back to the same values */
        char *json = ser_config_to_json(&cfg);
        ser_config back;
        if (!json || ser_config_from_json(&back, json, &err) != 0) fuzz_fail("JSON round trip", err.msg);
        char *json2 = ser_config_to_json(&back);
        if (!json2 || strcmp(json, json2)) fuzz_fail("JSON round trip", "values changed");
        free(json), free(json2);
    } else if (!strstr(err.msg, path)) {
        fuzz_fail("error without the file name", err.msg);
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    ser_config_from_json(&cfg, text, &err);
    free(text);
    return 0;
}
