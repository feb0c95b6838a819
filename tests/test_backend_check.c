/* The comparison behind `ser check` (host/model/backend_check.c), on two CPU backends: identical
 * backends agree exactly (every row ok, error 0); a perturbed weight, a different dropout
 * seed and a NaN are each found and named. Runs without a GPU. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "ser/backend_check.h"

static ser_config small_config(void) {
    ser_config c;
    ser_config_defaults(&c);
    c.features.n_mfcc = 12;
    c.features.frames = 20;
    c.model.conv_blocks = 2;
    c.model.filters = 8;
    c.model.lstm_units = 8;
    return c;
}

/* Runs the check of two fresh models (got's model altered by tweak, got's backend by tweak_be),
 * returns the result. */
static int run(ser_check_result *res, void (*tweak)(ser_model *), void (*tweak_be)(ser_backend *), ser_error *e) {
    ser_config c = small_config();
    const int B = 6, C = 4;
    ser_model mr, mg;
    CHECK(ser_model_create(&mr, &c, C, e) == 0 && ser_model_create(&mg, &c, C, e) == 0);
    if (tweak) tweak(&mg);
    ser_backend *r = ser_backend_cpu_create(&mr, &c, B, e), *g = ser_backend_cpu_create(&mg, &c, B, e);
    CHECK(r && g);
    if (tweak_be) tweak_be(g);
    float x[6 * 12 * 20];
    int32_t y[6];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)sin(0.37 * (double)i);
    for (int i = 0; i < B; i++) y[i] = i % C;
    const ser_check_tol tol = ser_check_tol_default(0);
    memset(res, 0, sizeof *res);
    const int rc = ser_backend_check(r, g, x, y, B, 3, 5e-4f, &tol, res, e);
    ser_backend_destroy(r), ser_backend_destroy(g);
    ser_model_destroy(&mr), ser_model_destroy(&mg);
    return rc;
}

static const ser_check_row *find(const ser_check_result *res, const char *group, const char *what) {
    for (size_t i = 0; i < res->n; i++)
        if (!strcmp(res->rows[i].group, group) && !strcmp(res->rows[i].what, what)) return &res->rows[i];
    return NULL;
}

static void tweak_weight(ser_model *m) { m->params[ser_model_slice(m, "conv2.kernel")->offset + 5] += 0.05f; }
static void tweak_seed(ser_model *m) { m->seed ^= 1; }
static void tweak_nan(ser_model *m) { m->params[ser_model_slice(m, "dense.bias")->offset] = NAN; }
static void tweak_adam(ser_backend *be) { be->eps = 1.0f; }

int main(void) {
    ser_error e = {{0}};
    ser_check_result res;

    CHECKF(run(&res, NULL, NULL, &e) == 0, "%s", e.msg);
    CHECKF(res.failed == 0, "%d rows failed between identical backends", res.failed);
    size_t judged = 0, masks = 0;
    for (size_t i = 0; i < res.n; i++) {
        judged += res.rows[i].judged;
        CHECKF(res.rows[i].err == 0.0, "%s %s: error %g", res.rows[i].group, res.rows[i].what, res.rows[i].err);
        masks += strstr(res.rows[i].what, "dropout_mask") != NULL;
    }
    /* every gradient slice, every activation kind, masks of both blocks, 3 steps */
    CHECK(find(&res, "gradient", "conv1.kernel") && find(&res, "gradient", "dense.bias"));
    CHECK(find(&res, "gradient", "attention.U") && find(&res, "moving", "bn2.moving_variance"));
    CHECK(find(&res, "forward", "pool2") && find(&res, "forward", "lstm2") && find(&res, "forward", "probs"));
    CHECK(find(&res, "loss", "loss step 3") && find(&res, "drift", "lstm1.kernel") && find(&res, "inference", "probs"));
    CHECK(masks == 2 && judged > 60);
    const ser_check_row *cb = find(&res, "drift", "conv1.bias");
    CHECK(cb && !cb->judged);
    ser_check_result_free(&res);

    /* one conv2 weight off by 0.05: conv2's output and everything after it fail; the drift sees
     * the one weight but (an rms over the slice) does not judge it alone */
    CHECKF(run(&res, tweak_weight, NULL, &e) == 0, "%s", e.msg);
    const ser_check_row *r = find(&res, "forward", "conv2");
    CHECK(res.failed > 0 && r && !r->ok);
    r = find(&res, "forward", "conv1");
    CHECK(r && r->ok); /* before the change: still equal */
    r = find(&res, "gradient", "conv2.kernel");
    CHECK(r && !r->ok);
    r = find(&res, "drift", "conv2.kernel");
    CHECK(r && r->err > 0);
    ser_check_result_free(&res);

    /* an Adam that barely moves (epsilon 1): step 1's forward and gradients agree, the drift fails */
    CHECKF(run(&res, NULL, tweak_adam, &e) == 0, "%s", e.msg);
    r = find(&res, "gradient", "lstm1.kernel");
    CHECK(r && r->ok);
    r = find(&res, "drift", "lstm1.kernel");
    CHECKF(r && !r->ok, "drift %g", r ? r->err : -1.0);
    r = find(&res, "drift", "dense.kernel");
    CHECKF(r && !r->ok, "drift %g", r ? r->err : -1.0);
    ser_check_result_free(&res);

    /* another dropout seed: the masks differ and are counted */
    CHECKF(run(&res, tweak_seed, NULL, &e) == 0, "%s", e.msg);
    r = find(&res, "forward", "dropout_mask1");
    CHECK(r && !r->ok && r->err > 0);
    r = find(&res, "forward", "pool1");
    CHECK(r && r->ok); /* dropout comes after the pool */
    ser_check_result_free(&res);

    /* a NaN never passes */
    CHECKF(run(&res, tweak_nan, NULL, &e) == 0, "%s", e.msg);
    r = find(&res, "forward", "logits");
    CHECK(r && !r->ok);
    ser_check_result_free(&res);
    return check_finish("test_backend_check");
}
