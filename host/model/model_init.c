/* Keras's default initialisers over the parameter slices (ser/model.h lists which gets which),
 * drawn from a seeded splitmix64 stream: deterministic across runs and thread counts, but not
 * Keras's own draws (the Keras parity fixture sets its weights explicitly). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ser/model.h"
#include "ser/rng.h"

static double rng_normal(ser_rng *r) {
    double u1 = ser_rng_uniform(r), u2 = ser_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static void glorot_uniform(float *w, size_t n, double fan_in, double fan_out, ser_rng *r) {
    const double limit = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < n; i++) w[i] = (float)((2.0 * ser_rng_uniform(r) - 1.0) * limit);
}

/* Keras Orthogonal for a (rows, cols) matrix, rows <= cols (the recurrent kernel (U, 4U)):
 * a = normal(cols, rows); q, r = qr(a); q *= sign(diag(r)); w = q^T. The sign-corrected Q is the
 * unique Q with a positive R diagonal, which modified Gram-Schmidt on a's columns yields directly.
 * rows > cols is handled symmetrically (a = normal(rows, cols), w = q). */
static int orthogonal(float *w, int rows, int cols, ser_rng *r, ser_error *err) {
    const int tall = rows > cols;
    const int n = tall ? rows : cols, k = tall ? cols : rows;   /* a: (n, k), n >= k */
    double *a = ser_malloc((size_t)n * k * sizeof(double), "orthogonal initialisation", err);
    if (!a) return -1;
    for (size_t i = 0; i < (size_t)n * k; i++) a[i] = rng_normal(r);
    for (int j = 0; j < k; j++) {
        for (int p = 0; p < j; p++) {
            double dot = 0.0;
            for (int i = 0; i < n; i++) dot += a[(size_t)i * k + p] * a[(size_t)i * k + j];
            for (int i = 0; i < n; i++) a[(size_t)i * k + j] -= dot * a[(size_t)i * k + p];
        }
        double norm = 0.0;
        for (int i = 0; i < n; i++) norm += a[(size_t)i * k + j] * a[(size_t)i * k + j];
        norm = sqrt(norm);
        for (int i = 0; i < n; i++) a[(size_t)i * k + j] /= norm;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            if (tall) w[(size_t)i * cols + j] = (float)a[(size_t)i * k + j];   /* w = q (rows, cols) */
            else w[(size_t)j * cols + i] = (float)a[(size_t)i * k + j];        /* w = q^T */
        }
    free(a);
    return 0;
}

int ser_model_init_params(ser_model *m, uint64_t seed, ser_error *err) {
    ser_rng r = {seed * 0x2545F4914F6CDD1Dull + 0x1234567ull};
    memset(m->params, 0, 4 * m->nparams_padded * sizeof(float));
    for (int i = 0; i < m->nslices; i++) {
        const ser_slice *s = &m->slices[i];
        float *w = m->params + s->offset;
        if (ends_with(s->name, ".recurrent_kernel")) {
            if (orthogonal(w, s->shape[0], s->shape[1], &r, err) != 0) return ser_fail_wrap(err, "%s", s->name);
        } else if (ends_with(s->name, ".kernel") || !strcmp(s->name, "attention.W") || !strcmp(s->name, "attention.U")) {
            double fan_in = s->shape[0], fan_out = s->shape[1];
            if (s->ndim == 4) {   /* conv (K, K, Cin, Cout) */
                const double rf = (double)s->shape[0] * s->shape[1];
                fan_in = rf * s->shape[2];
                fan_out = rf * s->shape[3];
            }
            glorot_uniform(w, s->count, fan_in, fan_out, &r);
        } else if (ends_with(s->name, ".gamma") || ends_with(s->name, ".moving_variance")) {
            for (size_t j = 0; j < s->count; j++) w[j] = 1.0f;
        } else if (!strncmp(s->name, "lstm", 4) && ends_with(s->name, ".bias")) {
            const size_t U = s->count / 4;   /* gates i, f, c, o: forget quarter = 1 */
            for (size_t j = U; j < 2 * U; j++) w[j] = 1.0f;
        }
        /* other biases, beta, moving_mean: zero */
    }
    m->adam_t = 0;
    m->step = 0;
    return 0;
}
