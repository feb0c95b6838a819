/* Waveform augmentation's signal processing, one clip at a time (the engine that applies it to
 * every training clip each epoch: ser/wave_augment.h). Every draw is a Philox word keyed by
 * (seed, epoch, clip), never a running generator: a resumed run draws what an uninterrupted one
 * would, whatever the thread count. */
#ifndef SER_WAVE_DSP_H
#define SER_WAVE_DSP_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/config.h"
#include "ser/error.h"

/* One clip's draws for one epoch. */
typedef struct ser_wave_draw {
    double speed;          /* resampling factor (1: none) */
    long shift;            /* samples: y[t] = x[t + shift] */
    double gain_db;
    int noise;             /* 1: noise added */
    double snr_db;
    uint32_t noise_file;   /* aug_noise_kind = folder: the file's index (< n_noise) */
    double noise_pos;      /* [0, 1): where in that file the segment starts */
} ser_wave_draw;

/* The draws of clip `clip` in epoch `epoch` (0-based) from Philox counters (clip, epoch, 0x7a1, 0)
 * and (clip, epoch, 0x7a2, 0), key seed. */
void ser_wave_draw_make(const ser_train_config *tc, int sample_rate, uint64_t seed, int epoch, uint32_t clip,
                        size_t n_noise, ser_wave_draw *d);

/* The length of n samples sped up by factor: ceil(n / factor) (n when factor is 1). */
size_t ser_wave_speed_len(size_t n, double factor);
/* x (n) played factor times faster into y (ser_wave_speed_len(n, factor) samples; libsoxr HQ,
 * zero-padded to that length). *cache: a soxr state reused while the factor is the same
 * (NULL-initialised; free with ser_wave_speed_free); cache NULL: a fresh one each call, same bits. */
int ser_wave_speed(const float *x, size_t n, double factor, float *y, void **cache, double *cache_factor,
                   ser_error *err);
void ser_wave_speed_free(void **cache);

/* n samples of white (SER_NOISE_WHITE: unit gaussian) or pink (white through Kellett's 1/f filter) noise of clip
 * `clip` in epoch `epoch`, from Philox counters (clip, epoch, 0x7a3, j). */
void ser_wave_noise(int kind, uint64_t seed, int epoch, uint32_t clip, float *z, size_t n);
/* x += a z with a such that mean(x^2) / mean((a z)^2) = 10^(snr_db / 10); nothing when either
 * is silent. */
void ser_wave_mix_snr(float *x, const float *z, size_t n, double snr_db);

#ifdef __cplusplus
}
#endif

#endif
