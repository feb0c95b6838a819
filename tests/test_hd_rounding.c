/* The headers both sides compile (host/model/layers/softmax_elem.h, adam_elem.h, dropout_elem.h) round the same on the host and on the
 * GPU. nvcc contracts a * b + c into one fused multiply-add (one rounding); the host's ISO C
 * build does not (two roundings); so an expression left bare in a shared header gives the GPU
 * other bits than the CPU, and test_cuda_kernels' exact comparisons fail - on a GPU, which
 * is rarely at hand. Here the "device" is tests/hd_rounding_device.c: the same headers with
 * __CUDA_ARCH__ defined and contraction forced on (-ffp-contract=fast -mfma), compared bit for bit
 * with this file's plain build over random inputs. First it shows that the device build DOES
 * contract (a bare (1 - ls) t + ls / C differs on some inputs), so the comparison can fail. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "hd_rounding.h"
#include "layers/adam_elem.h"
#include "layers/dropout_elem.h"
#include "layers/softmax_elem.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static float urand(float lo, float hi) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 40) * 0x1p-24);
}
static int same_bits_f(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }
static int same_bits_d(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

int main(void) {
    if (!__builtin_cpu_supports("fma")) SKIP("this CPU has no FMA: the device side cannot contract");
    enum { TRIALS = 20000 };

    /* 1. the device build contracts: the old bare label-smoothing target differs somewhere */
    int bare_differs = 0;
    for (int i = 0; i < TRIALS; i++) {
        const float t = urand(0.0f, 1.0f), ls = urand(0.01f, 0.3f);
        const int C = 2 + i % 9;
        const volatile float host = (1.0f - ls) * t + ls / (float)C; /* -std=c11: not contracted */
        if (!same_bits_f(host, dev_bare_target(t, ls, C))) bare_differs++;
    }
    CHECKF(bare_differs > 0, "the device build never contracted (a * b + c): this test could not see the bug");
    printf("bare (1 - ls) t + ls / C: device differs from host in %d of %d trials (the bug it catches)\n",
           bare_differs, TRIALS);

    /* 2. softmax + cross-entropy (targets, probabilities, loss) with mixup and label smoothing */
    int bad_t = 0, bad_p = 0, bad_x = 0;
    for (int i = 0; i < TRIALS; i++) {
        const int C = 2 + i % 9;
        const int32_t label = (int32_t)(i % C), label2 = (int32_t)((i / 3) % C);
        const float lam = i % 4 == 0 ? 1.0f : urand(0.0f, 1.0f), ls = i % 5 == 0 ? 0.0f : urand(0.01f, 0.3f);
        float z[16], ph[16], pd[16];
        for (int c = 0; c < C; c++) z[c] = urand(-6.0f, 6.0f);
        for (int c = 0; c < C; c++)
            if (!same_bits_f(softmax_xent_target(c, label, label2, lam, ls, C), dev_softmax_target(c, label, label2, lam, ls, C)))
                bad_t++;
        const double xh = softmax_xent_row(ph, z, C, label, label2, lam, ls);
        const double xd = dev_softmax_row(pd, z, C, label, label2, lam, ls);
        if (!same_bits_d(xh, xd)) bad_x++;
        if (memcmp(ph, pd, (size_t)C * sizeof *ph)) bad_p++;
    }
    CHECKF(bad_t == 0, "softmax_xent_target: %d of the targets round differently on the device", bad_t);
    CHECKF(bad_x == 0, "softmax_xent_row: %d of %d losses round differently on the device", bad_x, TRIALS);
    CHECKF(bad_p == 0, "softmax_xent_row: %d of %d probability rows differ on the device", bad_p, TRIALS);

    /* 3. Adam's element update and dropout's scaling */
    int bad_a = 0, bad_d = 0;
    for (int i = 0; i < TRIALS; i++) {
        float p0 = urand(-1.0f, 1.0f), m0 = urand(-0.1f, 0.1f), v0 = urand(0.0f, 0.01f), g = urand(-1.0f, 1.0f);
        float ph = p0, mh = m0, vh = v0, pd = p0, md = m0, vd = v0;
        adam_elem(&ph, &mh, &vh, g, 5e-4f, 0.1f, 0.001f, 1e-7f);
        dev_adam(&pd, &md, &vd, g, 5e-4f, 0.1f, 0.001f, 1e-7f);
        if (!same_bits_f(ph, pd) || !same_bits_f(mh, md) || !same_bits_f(vh, vd)) bad_a++;
        const float in = urand(-3.0f, 3.0f), sc = dropout_scale(urand(0.05f, 0.5f));
        if (!same_bits_f(dropout_apply(in, i & 1, sc), dev_dropout(in, i & 1, sc))) bad_d++;
    }
    CHECKF(bad_a == 0, "adam_elem: %d of %d updates round differently on the device", bad_a, TRIALS);
    CHECKF(bad_d == 0, "dropout_apply: %d of %d outputs differ on the device", bad_d, TRIALS);
    return check_finish("test_hd_rounding");
}
