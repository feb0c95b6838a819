/* Waveform augmentation's signal processing, one clip at a time (contract in ser/wave_dsp.h):
 * the per-clip draws, speed perturbation (libsoxr), white / pink noise and mixing at an SNR. */
#include "ser/wave_dsp.h"

#include <math.h>
#include <soxr.h>
#include <string.h>

#include "ser/philox.h"

static philox4x32_ctr draw4(uint64_t seed, int epoch, uint32_t clip, uint32_t tag, uint32_t j) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, tag, j}};
    return philox4x32_10(c, k);
}

static double unit(uint32_t w) { return ((double)w + 0.5) * 0x1p-32; } /* (0, 1) */

void ser_wave_draw_make(const ser_train_config *tc, int sample_rate, uint64_t seed, int epoch, uint32_t clip,
                        size_t n_noise, ser_wave_draw *d) {
    const philox4x32_ctr a = draw4(seed, epoch, clip, 0x7a1u, 0), b = draw4(seed, epoch, clip, 0x7a2u, 0);
    memset(d, 0, sizeof *d);
    const int s3 = (int)(((uint64_t)a.v[0] * 3u) >> 32); /* 0, 1, 2 */
    d->speed = tc->aug_speed > 0 ? 1.0 + tc->aug_speed * (s3 - 1) : 1.0;
    const long smax = (long)floor(tc->aug_wave_shift * sample_rate);
    d->shift = smax > 0 ? (long)(((uint64_t)a.v[1] * (uint64_t)(2 * smax + 1)) >> 32) - smax : 0;
    d->gain_db = tc->aug_wave_gain * (2.0 * unit(a.v[2]) - 1.0);
    d->noise = tc->aug_noise_kind != SER_NOISE_OFF && unit(a.v[3]) < tc->aug_noise_prob;
    d->snr_db = tc->aug_noise_snr_min + (tc->aug_noise_snr_max - tc->aug_noise_snr_min) * unit(b.v[0]);
    d->noise_file = n_noise ? (uint32_t)(((uint64_t)b.v[1] * (uint64_t)n_noise) >> 32) : 0;
    d->noise_pos = unit(b.v[2]) - 0.5 * 0x1p-32; /* [0, 1) */
}

size_t ser_wave_speed_len(size_t n, double factor) {
    return factor == 1.0 ? n : (size_t)ceil((double)n / factor);
}

void ser_wave_speed_free(void **cache) {
    if (cache && *cache) soxr_delete((soxr_t)*cache);
    if (cache) *cache = NULL;
}

int ser_wave_speed(const float *x, size_t n, double factor, float *y, void **cache, double *cache_factor,
                   ser_error *err) {
    const size_t ny = ser_wave_speed_len(n, factor);
    if (factor == 1.0) {
        memcpy(y, x, n * sizeof *y);
        return 0;
    }
    soxr_error_t e = NULL;
    soxr_t s = cache ? (soxr_t)*cache : NULL;
    if (s && *cache_factor == factor) {
        e = soxr_clear(s); /* the same output as a fresh state (ser/audio.h relies on it too) */
    } else {
        if (cache) ser_wave_speed_free(cache);
        const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        /* input "rate" factor, output 1: n / factor samples of the same content */
        s = soxr_create(factor, 1.0, 1, &e, &io, &q, NULL);
        if (!e && cache) *cache = s, *cache_factor = factor;
    }
    if (e) return ser_fail(err, "speed perturbation %g: soxr: %s", factor, e);
    size_t ip = 0, op = 0;
    while (!e && ip < n && op < ny) {
        size_t id = 0, od = 0;
        e = soxr_process(s, x + ip, n - ip, &id, y + op, ny - op, &od);
        ip += id, op += od;
        if (!id && !od) break;
    }
    while (!e && op < ny) { /* flush the filter's delay */
        size_t od = 0;
        e = soxr_process(s, NULL, 0, NULL, y + op, ny - op, &od);
        op += od;
        if (!od) break;
    }
    if (!cache) soxr_delete(s);
    if (e) return ser_fail(err, "speed perturbation %g: soxr: %s", factor, e);
    if (op < ny) memset(y + op, 0, (ny - op) * sizeof *y);
    return 0;
}

void ser_wave_noise(int kind, uint64_t seed, int epoch, uint32_t clip, float *z, size_t n) {
    /* Box-Muller on pairs of Philox words, in float (the double version cost as much as the
     * MFCC): 4 gaussians per counter */
    for (size_t j = 0; j < n; j += 4) {
        const philox4x32_ctr r = draw4(seed, epoch, clip, 0x7a3u, (uint32_t)(j / 4));
        for (int p = 0; p < 2; p++) {
            const float u = ((float)(r.v[2 * p] >> 8) + 0.5f) * 0x1p-24f, v = (float)(r.v[2 * p + 1] >> 8) * 0x1p-24f;
            const float rad = sqrtf(-2.0f * logf(u)), th = 6.28318530718f * v;
            if (j + 2 * p < n) z[j + 2 * p] = rad * cosf(th);
            if (j + 2 * p + 1 < n) z[j + 2 * p + 1] = rad * sinf(th);
        }
    }
    if (kind != SER_NOISE_PINK) return;
    /* Paul Kellett's refined pink filter: -3 dB / octave within 0.05 dB above ~9 Hz at 44.1 kHz */
    double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
    for (size_t i = 0; i < n; i++) {
        const double w = z[i];
        b0 = 0.99886 * b0 + w * 0.0555179;
        b1 = 0.99332 * b1 + w * 0.0750759;
        b2 = 0.96900 * b2 + w * 0.1538520;
        b3 = 0.86650 * b3 + w * 0.3104856;
        b4 = 0.55000 * b4 + w * 0.5329522;
        b5 = -0.7616 * b5 - w * 0.0168980;
        z[i] = (float)(b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362);
        b6 = w * 0.115926;
    }
}

void ser_wave_mix_snr(float *x, const float *z, size_t n, double snr_db) {
    double px = 0, pz = 0;
    for (size_t i = 0; i < n; i++) px += (double)x[i] * x[i], pz += (double)z[i] * z[i];
    if (px <= 0 || pz <= 0) return;
    const double a = sqrt(px / (pz * pow(10.0, snr_db / 10.0)));
    for (size_t i = 0; i < n; i++) x[i] = (float)(x[i] + a * z[i]);
}
