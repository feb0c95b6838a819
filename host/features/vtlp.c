/* VTLP: per-epoch warped training features (contract in ser/vtlp.h), computed by the waveform
 * augmentation module (host/features/wave_augment.c), which holds the decoded audio under
 * train.audio_cache_mb (3 s at 22.05 kHz: 265 KB a clip, ~260 MB for TESS's 979 OAF clips). */
#include "ser/vtlp.h"

#include <stdlib.h>

#include "ser/philox.h"
#include "ser/wave_augment.h"

/* The per-epoch machinery is the waveform augmentation's (ser/wave_augment.h) with no waveform
 * change: the same decode, warp, normalisation and scaler; no prefetch (the caller asks for
 * epochs in any order). */
struct ser_vtlp {
    ser_wave_aug *w;
};

void ser_vtlp_free(ser_vtlp *v) {
    if (!v) return;
    ser_wave_aug_free(v->w);
    free(v);
}

ser_vtlp *ser_vtlp_create(const ser_config *cfg, const ser_clips *clips, int threads, ser_error *err) {
    ser_config c = *cfg;
    c.train.aug_speed = c.train.aug_wave_shift = c.train.aug_wave_gain = 0;
    c.train.aug_noise_kind = SER_NOISE_OFF;
    ser_vtlp *v = ser_calloc(1, sizeof *v, "vtlp", err);
    if (v && !(v->w = ser_wave_aug_create(&c, clips, NULL, 0, threads, 0, err))) {
        free(v);
        return NULL;
    }
    return v;
}

double ser_vtlp_alpha(double a, uint64_t seed, int epoch, uint32_t clip) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, 0x7f1u, 0}};
    const double u = ((double)philox4x32_10(c, k).v[0] + 0.5) * 0x1p-32;
    return 1.0 + a * (2.0 * u - 1.0);
}

uint32_t ser_vtlp_group(int groups, uint64_t seed, int epoch, uint32_t clip) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, 0x7f2u, 0}};
    return (uint32_t)(((uint64_t)philox4x32_10(c, k).v[0] * (uint64_t)groups) >> 32);
}

int ser_vtlp_epoch(ser_vtlp *v, uint64_t seed, int epoch, const ser_scaler *scaler, float *x, ser_error *err) {
    return ser_wave_aug_epoch(v->w, seed, epoch, scaler, x, err);
}
