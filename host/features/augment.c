/* Feature-space augmentation and mixup (ser/augment.h). The draws of one clip come from the
 * Philox block function with counter (clip, epoch, tag, n): n counts the words used so far in
 * this clip, key = seed, tag 0xa06 for the per-clip augmentation and 0x313 for mixup. */
#include "ser/augment.h"

#include <math.h>
#include <string.h>

#include "ser/philox.h"

typedef struct draws {
    philox4x32_key key;
    uint32_t clip, epoch, tag, n;   /* n: words drawn so far */
    philox4x32_ctr block;
} draws;

static uint32_t next_word(draws *d) {
    if (d->n % 4 == 0) {
        philox4x32_ctr c = {{d->clip, d->epoch, d->tag, d->n / 4}};
        d->block = philox4x32_10(c, d->key);
    }
    return d->block.v[d->n++ % 4];
}

/* Uniform integer in [0, n] (n + 1 values). */
static int next_int(draws *d, int n) { return (int)(((uint64_t)next_word(d) * (uint64_t)(n + 1)) >> 32); }

/* Uniform in (0, 1]: never 0, so the log below is finite. */
static double next_open(draws *d) { return ((double)next_word(d) + 1.0) * 0x1p-32; }

int ser_augment_enabled(const ser_train_config *tc) {
    return tc->aug_time_shift > 0 || (tc->aug_time_masks > 0 && tc->aug_time_width > 0) ||
           (tc->aug_freq_masks > 0 && tc->aug_freq_width > 0) || tc->aug_noise > 0 || tc->aug_gain > 0;
}

/* Sets `count` bands of up to `width` consecutive indices in [0, n) to zero via set(). */
static void mask_bands(draws *d, float *x, int H, int W, int count, int width, int along_time) {
    const int n = along_time ? W : H;
    for (int m = 0; m < count; m++) {
        int w = next_int(d, width < n ? width : n);   /* 0..width, as SpecAugment */
        const int start = next_int(d, n - w);
        for (int i = start; i < start + w; i++) {
            if (along_time)
                for (int c = 0; c < H; c++) x[(size_t)c * W + i] = 0.0f;
            else
                memset(x + (size_t)i * W, 0, (size_t)W * sizeof *x);
        }
    }
}

void ser_augment_clip(float *x, int H, int W, const ser_train_config *tc, uint64_t seed, int epoch, uint32_t clip,
                      float *scratch) {
    if (!ser_augment_enabled(tc)) return;
    draws d = {{{(uint32_t)seed, (uint32_t)(seed >> 32)}}, clip, (uint32_t)epoch, 0xa06u, 0, {{0, 0, 0, 0}}};
    if (tc->aug_gain > 0) {
        /* a gain of g dB adds g * sqrt(n_mels) to c0 (ortho DCT); in scaled units it is one offset */
        const float g = (float)((2.0 * next_open(&d) - 1.0) * tc->aug_gain);
        for (int t = 0; t < W; t++) x[t] += g;
    }
    if (tc->aug_time_shift > 0) {
        const int max = tc->aug_time_shift < W ? tc->aug_time_shift : W - 1;
        const int s = next_int(&d, 2 * max) - max; /* -max..max: frame t moves to t + s (mod W) */
        if (s != 0)
            for (int c = 0; c < H; c++) {
                float *row = x + (size_t)c * W;
                for (int t = 0; t < W; t++) scratch[((t + s) % W + W) % W] = row[t];
                memcpy(row, scratch, (size_t)W * sizeof *row);
            }
    }
    if (tc->aug_noise > 0) {
        const double sd = tc->aug_noise;
        for (size_t i = 0; i < (size_t)H * W; i += 2) { /* Box-Muller: two normals per pair of words */
            const double r = sqrt(-2.0 * log(next_open(&d))), a = 6.283185307179586 * next_open(&d);
            x[i] += (float)(sd * r * cos(a));
            if (i + 1 < (size_t)H * W) x[i + 1] += (float)(sd * r * sin(a));
        }
    }
    if (tc->aug_time_width > 0) mask_bands(&d, x, H, W, tc->aug_time_masks, tc->aug_time_width, 1);
    if (tc->aug_freq_width > 0) mask_bands(&d, x, H, W, tc->aug_freq_masks, tc->aug_freq_width, 0);
}

/* Gamma(a, 1) by Marsaglia and Tsang (2000); a < 1 through Gamma(a + 1) U^(1 / a). */
static double next_gamma(draws *d, double a) {
    if (a < 1.0) return next_gamma(d, a + 1.0) * pow(next_open(d), 1.0 / a);
    const double k = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * k);
    for (;;) {
        double x, v;
        do {
            x = sqrt(-2.0 * log(next_open(d))) * cos(6.283185307179586 * next_open(d));
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        const double u = next_open(d);
        if (log(u) < 0.5 * x * x + k - k * v + k * log(v)) return k * v;
    }
}

void ser_mixup_draw(double alpha, uint64_t seed, int epoch, uint32_t clip, int B, float *lam, int *partner) {
    draws d = {{{(uint32_t)seed, (uint32_t)(seed >> 32)}}, clip, (uint32_t)epoch, 0x313u, 0, {{0, 0, 0, 0}}};
    *partner = next_int(&d, B - 1);
    const double g1 = next_gamma(&d, alpha), g2 = next_gamma(&d, alpha);
    const double l = g1 + g2 > 0.0 ? g1 / (g1 + g2) : 1.0; /* Beta(alpha, alpha) */
    *lam = (float)(l < 0.5 ? 1.0 - l : l);
}

void ser_mixup_batch(float *x, float *scratch, const int32_t *y, const uint32_t *clips, int B, size_t F, double alpha,
                     uint64_t seed, int epoch, int32_t *labels2, float *lam) {
    memcpy(scratch, x, (size_t)B * F * sizeof *x);
    for (int b = 0; b < B; b++) {
        int j;
        ser_mixup_draw(alpha, seed, epoch, clips[b], B, &lam[b], &j);
        labels2[b] = y[j];
        const float l = lam[b], r = 1.0f - lam[b];
        float *xb = x + (size_t)b * F;
        const float *xj = scratch + (size_t)j * F;
        for (size_t i = 0; i < F; i++) xb[i] = l * xb[i] + r * xj[i];
    }
}
