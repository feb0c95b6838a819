/* train.aug_*: each operation does what it says, the draws depend only on (seed, epoch, clip),
 * and everything off leaves the features bit-identical (the reference recipe). train.mixup: the
 * weights follow Beta(alpha, alpha) folded to [0.5, 1], the partners are the batch's, and a
 * batch is mixed exactly as documented. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "ser/augment.h"
#include "ser/config.h"

enum { H = 6, W = 20, N = H * W };

static void fill(float *x) {
    for (int i = 0; i < N; i++) x[i] = (float)(i + 1);
}

static int zero_columns(const float *x) {
    int n = 0;
    for (int t = 0; t < W; t++) {
        int z = 1;
        for (int c = 0; c < H; c++) z &= x[c * W + t] == 0.0f;
        n += z;
    }
    return n;
}

static int zero_rows(const float *x) {
    int n = 0;
    for (int c = 0; c < H; c++) {
        int z = 1;
        for (int t = 0; t < W; t++) z &= x[c * W + t] == 0.0f;
        n += z;
    }
    return n;
}

int main(void) {
    ser_config cfg;
    ser_config_defaults(&cfg);
    ser_train_config tc = cfg.train;
    float x[N], y[N], ref[N], scratch[W];
    fill(ref);

    /* off by default: nothing changes */
    CHECK(!ser_augment_enabled(&tc));
    memcpy(x, ref, sizeof x);
    ser_augment_clip(x, H, W, &tc, 42, 0, 0, scratch);
    CHECK(memcmp(x, ref, sizeof x) == 0);

    /* time shift: every row is the same circular rotation of the original, by at most the maximum;
     * over many clips both directions and several amounts occur */
    tc.aug_time_shift = 3;
    CHECK(ser_augment_enabled(&tc));
    int seen[7] = {0};
    for (uint32_t clip = 0; clip < 200; clip++) {
        memcpy(x, ref, sizeof x);
        ser_augment_clip(x, H, W, &tc, 42, 1, clip, scratch);
        int s = -100;
        for (int k = -3; k <= 3 && s == -100; k++)
            if (x[(k + W) % W] == ref[0]) s = k;
        CHECKF(s != -100, "clip %u: not a shift within 3 frames", clip);
        if (s == -100) continue;
        seen[s + 3]++;
        int ok = 1;
        for (int c = 0; c < H; c++)
            for (int t = 0; t < W; t++) ok &= x[c * W + ((t + s) % W + W) % W] == ref[c * W + t];
        CHECKF(ok, "clip %u: rows not rotated by %d", clip, s);
    }
    for (int k = 0; k < 7; k++) CHECKF(seen[k] > 0, "shift %d never drawn", k - 3);

    /* keyed by (seed, epoch, clip): the same key gives the same clip, a different one differs */
    tc.aug_time_shift = 5, tc.aug_noise = 0.5, tc.aug_time_masks = 2, tc.aug_time_width = 4;
    tc.aug_freq_masks = 1, tc.aug_freq_width = 2, tc.aug_gain = 1.0;
    memcpy(x, ref, sizeof x);
    memcpy(y, ref, sizeof y);
    ser_augment_clip(x, H, W, &tc, 42, 3, 17, scratch);
    ser_augment_clip(y, H, W, &tc, 42, 3, 17, scratch);
    CHECK(memcmp(x, y, sizeof x) == 0);
    const int keys[3][3] = {{43, 3, 17}, {42, 4, 17}, {42, 3, 18}};
    for (int k = 0; k < 3; k++) {
        memcpy(y, ref, sizeof y);
        ser_augment_clip(y, H, W, &tc, (uint64_t)keys[k][0], keys[k][1], (uint32_t)keys[k][2], scratch);
        CHECKF(memcmp(x, y, sizeof x) != 0, "key %d gives the same draws", k);
    }

    /* noise: mean ~0, standard deviation ~aug_noise over many values */
    ser_train_config tn = cfg.train;
    tn.aug_noise = 0.5;
    double s = 0, q = 0;
    int cnt = 0;
    for (uint32_t clip = 0; clip < 100; clip++) {
        memcpy(x, ref, sizeof x);
        ser_augment_clip(x, H, W, &tn, 7, 0, clip, scratch);
        for (int i = 0; i < N; i++) {
            const double d = x[i] - ref[i];
            s += d, q += d * d, cnt++;
        }
    }
    const double mean = s / cnt, sd = sqrt(q / cnt - mean * mean);
    CHECKF(fabs(mean) < 0.02 && fabs(sd - 0.5) < 0.02, "noise mean %g sd %g", mean, sd);

    /* gain: one offset on row 0 only, within +-aug_gain */
    ser_train_config tg = cfg.train;
    tg.aug_gain = 2.0;
    memcpy(x, ref, sizeof x);
    ser_augment_clip(x, H, W, &tg, 7, 0, 5, scratch);
    const float g = x[0] - ref[0];
    CHECK(g != 0.0f && fabsf(g) <= 2.0f);
    for (int t = 0; t < W; t++) CHECK(fabsf((x[t] - ref[t]) - g) < 1e-5f);
    CHECK(memcmp(x + W, ref + W, sizeof(float) * (N - W)) == 0);

    /* SpecAugment: masks zero whole frames / whole coefficients, no wider than allowed */
    ser_train_config tm = cfg.train;
    tm.aug_time_masks = 1, tm.aug_time_width = 4;
    int widest = 0, any = 0;
    for (uint32_t clip = 0; clip < 100; clip++) {
        memcpy(x, ref, sizeof x);
        ser_augment_clip(x, H, W, &tm, 9, 0, clip, scratch);
        const int z = zero_columns(x);
        CHECK(z <= 4 && zero_rows(x) == 0);
        widest = z > widest ? z : widest;
        any += z > 0;
    }
    CHECK(widest == 4 && any > 50);
    tm = cfg.train;
    tm.aug_freq_masks = 2, tm.aug_freq_width = 2;
    widest = 0;
    for (uint32_t clip = 0; clip < 100; clip++) {
        memcpy(x, ref, sizeof x);
        ser_augment_clip(x, H, W, &tm, 9, 0, clip, scratch);
        const int z = zero_rows(x);
        CHECK(z <= 4 && zero_columns(x) == 0);
        widest = z > widest ? z : widest;
    }
    CHECK(widest >= 3);

    /* mixup draws: max(l, 1 - l), l ~ Beta(a, a); numpy (2e6 draws) gives the means 0.8988 (a
     * 0.2, 42 % of them above 0.99), 0.7501 (a 1: uniform on [0.5, 1]) and 0.5398 (a 50) */
    const double alphas[3] = {0.2, 1.0, 50.0}, means[3] = {0.8988, 0.7501, 0.5398};
    for (int k = 0; k < 3; k++) {
        double sum = 0.0;
        int above = 0, hits[64] = {0}, bad = 0;
        const int n = 20000;
        for (int i = 0; i < n; i++) {
            float lam, lam2;
            int j, j2;
            ser_mixup_draw(alphas[k], 7, 3, (uint32_t)i, 64, &lam, &j);
            ser_mixup_draw(alphas[k], 7, 3, (uint32_t)i, 64, &lam2, &j2);
            bad += !(lam >= 0.5f && lam <= 1.0f) || j < 0 || j >= 64 || lam != lam2 || j != j2;
            if (j >= 0 && j < 64) hits[j]++;
            sum += lam;
            above += lam > 0.99f;
        }
        int unhit = 0;
        for (int j = 0; j < 64; j++) unhit += hits[j] < n / 64 / 2;
        CHECKF(bad == 0 && unhit == 0, "alpha %g: %d bad draws, %d positions rarely drawn", alphas[k], bad, unhit);
        CHECKF(fabs(sum / n - means[k]) < 0.005, "alpha %g: mean weight %.4f, expected %.4f", alphas[k], sum / n,
               means[k]);
        if (k == 0) CHECKF(fabs(above / (double)n - 0.419) < 0.02, "alpha 0.2: %.3f above 0.99", above / (double)n);
    }
    /* other keys draw otherwise */
    float l1, l2;
    int p1, p2;
    ser_mixup_draw(0.2, 7, 3, 5, 64, &l1, &p1);
    ser_mixup_draw(0.2, 7, 4, 5, 64, &l2, &p2);
    CHECK(l1 != l2 || p1 != p2);

    /* a batch: clip b = lam x_b + (1 - lam) x_j with the draws of its training-set index, its
     * targets (y_b, y_j, lam) */
    enum { MB = 5, MF = 3 };
    float xb[MB * MF], orig[MB * MF], sc[MB * MF], lam[MB];
    int32_t yb[MB] = {0, 1, 2, 3, 4}, y2[MB];
    const uint32_t clips[MB] = {17, 3, 99, 4, 250};
    for (int i = 0; i < MB * MF; i++) orig[i] = xb[i] = (float)(i * i % 7) - 2.5f;
    ser_mixup_batch(xb, sc, yb, clips, MB, MF, 0.4, 11, 2, y2, lam);
    int mixed_ok = 1, moved = 0;
    for (int b = 0; b < MB; b++) {
        float l;
        int j;
        ser_mixup_draw(0.4, 11, 2, clips[b], MB, &l, &j);
        mixed_ok &= lam[b] == l && y2[b] == yb[j];
        for (int f = 0; f < MF; f++) {
            const float want = l * orig[b * MF + f] + (1.0f - l) * orig[j * MF + f];
            mixed_ok &= xb[b * MF + f] == want;
            moved += xb[b * MF + f] != orig[b * MF + f];
        }
    }
    CHECK(mixed_ok && moved > 0);
    return check_finish("test_augment");
}
