/* Two backends compared tensor by tensor (contract and tolerances in ser/backend_check.h). */
#include "ser/backend_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ser_check_tol ser_check_tol_default(int tf32) {
    const double k = tf32 ? 100.0 : 1.0;
    ser_check_tol t = {1e-4 * k, tf32 ? 0.1 : 1e-2, 1e-3 * k, 0.2};
    return t;
}

static ser_check_row *add_row(ser_check_result *r, const char *group, const char *what, ser_error *err) {
    if (r->n == r->cap) {
        const size_t cap = r->cap ? 2 * r->cap : 64;
        ser_check_row *v = realloc(r->rows, cap * sizeof *v);
        if (!v) {
            ser_fail(err, "check: out of memory");
            return NULL;
        }
        r->rows = v, r->cap = cap;
    }
    ser_check_row *row = &r->rows[r->n++];
    memset(row, 0, sizeof *row);
    snprintf(row->what, sizeof row->what, "%s", what);
    row->group = group;
    return row;
}

static double max_abs(const float *v, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)v[i]) > m) m = fabs((double)v[i]);
    return m;
}

/* Elementwise: err = max |got - ref| / (|ref| + floor); floor < 0 means max |ref|. NaN or Inf
 * on either side fails. */
static void judge_elementwise(ser_check_result *r, ser_check_row *row, const float *ref, const float *got, size_t n,
                              double rtol, double floor) {
    row->n = n;
    row->max_ref = max_abs(ref, n);
    if (floor < 0) floor = row->max_ref;
    double ma = 0.0, me = 0.0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        const double a = ref[i], b = got[i], d = fabs(b - a);
        if (!isfinite(a) || !isfinite(b)) {
            finite = 0;
            continue;
        }
        if (d > ma) ma = d;
        const double den = fabs(a) + floor;
        const double e = d == 0.0 ? 0.0 : (den > 0.0 ? d / den : INFINITY);
        if (e > me) me = e;
    }
    row->max_abs = finite ? ma : NAN;
    row->err = finite ? me : NAN;
    row->tol = rtol;
    row->judged = 1;
    row->ok = finite && me <= rtol;
    if (!row->ok) r->failed++;
}

/* Drift: rms(got - ref) / (rms(ref - init) + floor): the error of the total update. */
static void judge_rms(ser_check_result *r, ser_check_row *row, const float *ref, const float *got, const float *init,
                      size_t n, double rtol, double floor, int judged) {
    double sd = 0.0, sr = 0.0, ma = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)got[i] - (double)ref[i], u = (double)ref[i] - (double)init[i];
        sd += d * d;
        sr += u * u;
        if (fabs(d) > ma || d != d) ma = fabs(d);
    }
    row->n = n;
    row->max_ref = max_abs(ref, n);
    row->max_abs = ma;
    const double den = sqrt(sr / (n ? (double)n : 1.0)) + floor;
    row->err = sd == 0.0 ? 0.0 : (den > 0.0 ? sqrt(sd / (n ? (double)n : 1.0)) / den : INFINITY);
    row->tol = rtol;
    row->judged = judged;
    row->ok = row->err <= rtol;
    if (judged && !row->ok) r->failed++;
}

/* For bn{i}.moving_mean: k sqrt(max bn{i}.moving_variance) (the scale of the values it averages);
 * 0 for any other slice. */
static double moving_mean_floor(const ser_model *m, const ser_slice *s, const float *params, double k) {
    const char *dot = strchr(s->name, '.');
    if (!dot || strcmp(dot, ".moving_mean")) return 0.0;
    char vname[48];
    snprintf(vname, sizeof vname, "%.*s.moving_variance", (int)(dot - s->name), s->name);
    const ser_slice *v = ser_model_slice(m, vname);
    return v ? k * sqrt(max_abs(params + v->offset, v->count)) : 0.0;
}

static int is_conv_bias(const char *name) { return !strncmp(name, "conv", 4) && strstr(name, ".bias") != NULL; }

typedef struct bufs {
    float *a, *b;             /* activation scratch, the largest activation */
    uint8_t *ma, *mb;         /* masks */
    float *pr, *pg;           /* parameter-sized: ref / got */
    float *p0;                /* the parameters before the steps (after step 1's forward) */
    size_t act_max;
} bufs;

static int compare_acts(ser_backend *ref, ser_backend *got, int B, int training, const char *group, double rtol,
                        bufs *bf, ser_check_result *res, ser_error *err) {
    const ser_model *m = ref->model;
    const int dropped = training && m->cfg.dropout > 0.0;
    double conv_scale[SER_MAX_BLOCKS] = {0}; /* max |conv output| per block: the scale a batch mean is of */
    for (int kind = 0; kind < SER_ACT_N; kind++) {
        const int per_block = ser_act_per_block(kind);
        if (!training && (kind == SER_ACT_BN_MEAN || kind == SER_ACT_BN_RSTD)) continue;
        if (!dropped && (kind == SER_ACT_DROP || kind == SER_ACT_MASK)) continue;
        for (int blk = 0; blk < (per_block ? m->blocks : 1); blk++) {
            const size_t n = ser_act_count(m, kind, blk, B);
            if (n == 0) continue;
            char what[48];
            if (per_block) snprintf(what, sizeof what, "%s%d", ser_act_names[kind], blk + 1);
            else snprintf(what, sizeof what, "%s", ser_act_names[kind]);
            ser_check_row *row = add_row(res, group, what, err);
            if (!row) return -1;
            if (kind == SER_ACT_MASK) {
                if (ref->ops->download_act(ref, kind, blk, bf->ma, n, err) ||
                    got->ops->download_act(got, kind, blk, bf->mb, n, err))
                    return -1;
                size_t bad = 0;
                for (size_t i = 0; i < n; i++) bad += (bf->ma[i] != 0) != (bf->mb[i] != 0);
                row->n = n;
                row->max_ref = 1.0;
                row->max_abs = bad ? 1.0 : 0.0;
                row->err = (double)bad;
                row->tol = 0.0;
                row->judged = 1;
                row->ok = bad == 0;
                row->note = "mismatching elements, must be 0";
                if (!row->ok) res->failed++;
                continue;
            }
            if (ref->ops->download_act(ref, kind, blk, bf->a, n, err) ||
                got->ops->download_act(got, kind, blk, bf->b, n, err))
                return -1;
            /* a batch mean near zero is still an average of values of the conv output's size */
            const int mean = kind == SER_ACT_BN_MEAN;
            judge_elementwise(res, row, bf->a, bf->b, n, rtol, mean ? conv_scale[blk] : -1.0);
            if (mean) row->note = "floor: max |conv output| of the block";
            if (kind == SER_ACT_CONV) conv_scale[blk] = row->max_ref;
        }
    }
    return 0;
}

static void loss_row(ser_check_result *res, ser_check_row *row, float lr_, float lg, double rtol) {
    judge_elementwise(res, row, &lr_, &lg, 1, rtol, 0.0);
}

static int fwd_both(ser_backend *ref, ser_backend *got, const float *x, const int32_t *labels, int B, int training,
                    float *lr_, float *lg, ser_error *err) {
    if (ref->ops->forward(ref, x, labels, NULL, B, training, lr_, err)) return ser_fail_wrap(err, "%s backend", ref->ops->name);
    if (got->ops->forward(got, x, labels, NULL, B, training, lg, err)) return ser_fail_wrap(err, "%s backend", got->ops->name);
    return 0;
}

int ser_check_add(ser_check_result *res, const char *group, const char *what, const float *ref, const float *got,
                  size_t n, double rtol, double floor, ser_error *err) {
    ser_check_row *row = add_row(res, group, what, err);
    if (!row) return -1;
    judge_elementwise(res, row, ref, got, n, rtol, floor);
    return 0;
}

int ser_backend_check(ser_backend *ref, ser_backend *got, const float *x, const int32_t *labels, int B, int steps,
                      float lr, const ser_check_tol *tol, ser_check_result *res, ser_error *err) {
    const ser_model *m = ref->model;
    if (steps < 1 || B < 1 || B > ref->max_B || B > got->max_B) return ser_fail(err, "check: batch %d, steps %d", B, steps);
    bufs bf = {0};
    bf.act_max = 1;
    for (int kind = 0; kind < SER_ACT_N; kind++)
        for (int blk = 0; blk < m->blocks; blk++) {
            const size_t n = ser_act_count(m, kind, blk, B);
            if (n > bf.act_max) bf.act_max = n;
        }
    const size_t np = m->nparams_padded;
    bf.a = malloc(bf.act_max * sizeof(float));
    bf.b = malloc(bf.act_max * sizeof(float));
    bf.ma = malloc(bf.act_max);
    bf.mb = malloc(bf.act_max);
    bf.pr = malloc(np * sizeof(float));
    bf.pg = malloc(np * sizeof(float));
    bf.p0 = malloc(np * sizeof(float));
    int rc = -1;
    char what[48];
    ser_check_row *row;
    float lr_ = 0.0f, lg = 0.0f;
    if (!bf.a || !bf.b || !bf.ma || !bf.mb || !bf.pr || !bf.pg || !bf.p0) {
        ser_fail(err, "check: out of memory");
        goto done;
    }

    /* ---- step 1: training forward (the dropout key of step 0 on both) ---- */
    ref->model->step = got->model->step = 0;
    if (fwd_both(ref, got, x, labels, B, 1, &lr_, &lg, err)) goto done;
    if (compare_acts(ref, got, B, 1, "forward", tol->fwd, &bf, res, err)) goto done;
    if (!(row = add_row(res, "forward", "loss", err))) goto done;
    loss_row(res, row, lr_, lg, tol->fwd);
    /* the moving statistics the training forward updated */
    if (ref->ops->download_params(ref, bf.pr, err) || got->ops->download_params(got, bf.pg, err)) goto done;
    memcpy(bf.p0, bf.pr, np * sizeof(float));
    for (int i = 0; i < m->nslices; i++) {
        const ser_slice *s = &m->slices[i];
        if (s->trainable) continue;
        if (!(row = add_row(res, "moving", s->name, err))) goto done;
        /* a moving mean near zero is compared on the scale of its channel's standard deviation */
        double floor = moving_mean_floor(m, s, bf.pr, 1.0);
        if (floor > 0) row->note = "floor: sqrt(max moving variance)";
        judge_elementwise(res, row, bf.pr + s->offset, bf.pg + s->offset, s->count, tol->fwd, floor > 0 ? floor : -1.0);
    }

    /* ---- its backward: every gradient slice ---- */
    if (ref->ops->backward(ref, err) || got->ops->backward(got, err)) goto done;
    if (ref->ops->download_grads(ref, bf.pr, err) || got->ops->download_grads(got, bf.pg, err)) goto done;
    double G = 0.0;
    for (int i = 0; i < m->nslices; i++)
        if (m->slices[i].trainable) {
            const double g = max_abs(bf.pr + m->slices[i].offset, m->slices[i].count);
            if (g > G) G = g;
        }
    for (int i = 0; i < m->nslices; i++) {
        const ser_slice *s = &m->slices[i];
        if (!s->trainable) continue;
        if (!(row = add_row(res, "gradient", s->name, err))) goto done;
        const double smax = max_abs(bf.pr + s->offset, s->count);
        const int cb = is_conv_bias(s->name);
        judge_elementwise(res, row, bf.pr + s->offset, bf.pg + s->offset, s->count, tol->grad,
                          cb ? G : (smax > 1e-3 * G ? smax : 1e-3 * G));
        if (cb) row->note = "zero in exact arithmetic (BN follows): floor = largest gradient";
    }
    /* padding between slices must stay exactly zero (Adam keeps the parameter padding at zero) */
    {
        size_t bad = 0;
        for (int i = 0; i < m->nslices; i++) {
            const ser_slice *s = &m->slices[i];
            const size_t end = i + 1 < m->nslices ? m->slices[i + 1].offset : np;
            for (size_t k = s->offset + s->count; s->trainable && k < end; k++) bad += bf.pg[k] != 0.0f;
        }
        if (!(row = add_row(res, "gradient", "(slice padding)", err))) goto done;
        row->judged = 1;
        row->err = (double)bad;
        row->ok = bad == 0;
        row->note = "non-zero padding floats, must be 0";
        if (!row->ok) res->failed++;
    }

    /* ---- inference on a partial batch, same weights (moving statistics, no dropout; eager on
     * a GPU, and a new shape for cuDNN before the graphs are captured) ---- */
    const int Bi = B > 1 ? B - 1 : 1;
    if (fwd_both(ref, got, x, labels, Bi, 0, &lr_, &lg, err)) goto done;
    if (compare_acts(ref, got, Bi, 0, "inference", tol->fwd, &bf, res, err)) goto done;
    if (!(row = add_row(res, "inference", "loss", err))) goto done;
    loss_row(res, row, lr_, lg, tol->fwd);

    /* ---- N training steps: the loss of each, then the drift ---- */
    if (ref->ops->step(ref, lr, err) || got->ops->step(got, lr, err)) goto done;
    for (int s = 2; s <= steps; s++) {
        if (fwd_both(ref, got, x, labels, B, 1, &lr_, &lg, err)) goto done;
        snprintf(what, sizeof what, "loss step %d", s);
        if (!(row = add_row(res, "loss", what, err))) goto done;
        loss_row(res, row, lr_, lg, tol->loss);
        if (ref->ops->backward(ref, err) || got->ops->backward(got, err) || ref->ops->step(ref, lr, err) ||
            got->ops->step(got, lr, err))
            goto done;
    }
    if (ref->ops->download_params(ref, bf.pr, err) || got->ops->download_params(got, bf.pg, err)) goto done;
    for (int i = 0; i < m->nslices; i++) {
        const ser_slice *s = &m->slices[i];
        snprintf(what, sizeof what, "%s", s->name);
        if (!(row = add_row(res, "drift", what, err))) goto done;
        const int cb = is_conv_bias(s->name);
        /* trainable: 0.1 lr N, so that a slice the reference does not move (a zero gradient) is
         * judged against a tenth of what Adam could have moved it */
        const double floor = s->trainable ? 0.1 * lr * steps
                                          : moving_mean_floor(m, s, bf.pr, 1.0 - pow(m->cfg.bn_momentum, steps));
        judge_rms(res, row, bf.pr + s->offset, bf.pg + s->offset, bf.p0 + s->offset, s->count, tol->drift, floor, !cb);
        row->note = cb ? "not judged: BN after the conv cancels any bias"
                       : (s->trainable ? "rms(got - ref) / (rms(ref - start) + 0.1 lr N)"
                                       : (floor > 0 ? "rms(got - ref) / (rms(ref - start) + (1 - momentum^N) sqrt(max var))"
                                                    : "rms(got - ref) / rms(ref - start)"));
    }

    rc = 0;
done:
    free(bf.a), free(bf.b), free(bf.ma), free(bf.mb), free(bf.pr), free(bf.pg), free(bf.p0);
    return rc;
}

void ser_check_result_free(ser_check_result *res) {
    free(res->rows);
    memset(res, 0, sizeof *res);
}
