/* Fuzz target: any bytes as an audio file -> ser_audio_load (libsndfile's format detection,
 * our window, mono mixdown and soxr resampling) -> MFCC. Two recipes: the reference one (seek
 * past 0.5 s, 3 s window, 22050 Hz) and a short window at 16 kHz from the start, so that short
 * inputs reach the decoder and the resampler too. */
#include <string.h>

#include "fuzz_input.h"
#include "ser/audio.h"
#include "ser/config.h"
#include "ser/mfcc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_input_file("audio", data, size);
    if (!path) return 0;
    static ser_config cfg[2];
    static ser_mfcc *mfcc[2];
    static float *out[2];
    if (!mfcc[0]) {
        for (int i = 0; i < 2; i++) {
            ser_config_defaults(&cfg[i]);
            if (i == 1) {
                cfg[i].audio.sample_rate = 16000, cfg[i].audio.offset = 0, cfg[i].audio.duration = 0.25;
                cfg[i].features.frames = 16;
            }
            ser_error e;
            mfcc[i] = ser_mfcc_create(&cfg[i], &e);
            if (!mfcc[i]) fuzz_fail("mfcc setup", e.msg);
            out[i] = malloc(ser_mfcc_out_size(mfcc[i]) * sizeof(float));
        }
    }
    for (int i = 0; i < 2; i++) {
        ser_audio_buf buf = {0};
        ser_error err = {{0}};
        if (ser_audio_load(path, &cfg[i].audio, &buf, &err) == 0) {
            /* decoded audio must featurise */
            if (ser_mfcc_compute(mfcc[i], buf.samples, buf.n, out[i], &err) != 0) fuzz_fail("mfcc", err.msg);
        } else if (!strstr(err.msg, path)) {
            fuzz_fail("error without the file name", err.msg);
        }
        ser_audio_buf_free(&buf);
    }
    return 0;
}
