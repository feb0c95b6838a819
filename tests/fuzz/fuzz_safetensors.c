/* Fuzz target: any bytes as a safetensors file: the validating reader, then the model and
 * checkpoint readers on top of it (metadata, the JSON config, labels, architecture checks). */
#include <string.h>

#include "fuzz_input.h"
#include "ser/checkpoint.h"
#include "ser/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_input_file("safetensors", data, size);
    if (!path) return 0;
    ser_safetensors st;
    ser_error err = {{0}};
    if (ser_safetensors_read(path, &st, &err) != 0) {
        if (!strstr(err.msg, path)) fuzz_fail("error without the file name", err.msg);
        return 0;
    }
    /* every tensor's bytes lie inside the data read */
    for (size_t i = 0; i < st.ntensors; i++) {
        volatile float sink = 0;
        const size_t n = ser_tensor_numel(&st.tensors[i]);
        if (n) sink += st.tensors[i].data[0] + st.tensors[i].data[n - 1];
        (void)sink;
    }
    const ser_tensor *cur = ser_safetensors_find(&st, "state.current");
    const size_t nstate = cur && cur->ndim == 1 ? (size_t)cur->shape[0] : 1;
    ser_safetensors_free(&st);

    ser_model m;
    ser_model_meta meta;
    if (ser_model_load(path, &m, &meta, &err) == 0) {
        ser_model_destroy(&m);
        ser_model_meta_free(&meta);
    } else if (!strstr(err.msg, path)) {
        fuzz_fail("error without the file name", err.msg);
    }
    ser_train_state ts;
    float *c = NULL, *b = NULL;
    if (ser_checkpoint_load(path, &ts, &c, &b, nstate, &meta, &err) == 0) ser_model_meta_free(&meta);
    else if (!strstr(err.msg, path)) fuzz_fail("error without the file name", err.msg);
    free(c), free(b);
    return 0;
}
