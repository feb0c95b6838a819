/* Two backends computing the same network compared tensor by tensor (`ser check`,
 * tests/test_cuda_backend.c): one training forward (every activation, the loss, the dropout
 * masks bit for bit, the BN moving statistics), its backward (every gradient slice by
 * ser/model.h name), one inference forward on a partial batch, then N training steps (the loss
 * of each, the weight drift per slice).
 *
 * TOLERANCES (float32 on both sides, different summation orders; ser_check_tol_default):
 *   elementwise:  |got - ref| <= rtol (|ref| + floor)
 *   forward (activations, loss, moving statistics): rtol 1e-4, floor = max |ref| of the tensor
 *     (float32 error is relative to the operands' scale, not to an element that cancelled);
 *     a batch mean: floor = max |conv output| of its block (it averages values of that size);
 *     a moving mean: floor = sqrt(max moving variance) of its layer
 *   gradients: rtol 1e-2, floor = max(max |ref| of the slice, 1e-3 G), G = the largest
 *     gradient of the network; conv{i}.bias: floor G (batch norm follows the conv, so its true
 *     gradient is zero and both sides hold rounding noise). Not 1e-3: a max-pool window whose
 *     top two values are within rounding of each other may pick the other one on the other
 *     backend, and the gradient goes there instead (measured on the CPU, every weight of one side
 *     changed by 3e-6 relative: forward errors 2e-5, gradient errors 5e-3; by 1e-6: 6e-6 both)
 *   loss of steps 2..N: rtol 1e-3, floor 0 (the weights have begun to drift apart)
 *   drift after N steps, per slice: the error of the total update, rms(got - ref) /
 *     (rms(ref - start) + 0.1 lr N) <= 0.2. Adam moves every weight by about lr a step whatever
 *     its gradient's size, so a gradient element at the noise level can flip its step's sign:
 *     single weights may differ by ~2 lr a step (measured on the CPU with every weight of one
 *     side changed by 1e-6 relative: <= 0.02 after 5 steps, in bn beta); an update that is wrong
 *     for the whole slice gives ~1. A moving mean: rms(got - ref) / (rms(ref - start) +
 *     (1 - momentum^N) sqrt(max moving variance)). conv{i}.bias not judged (any value gives the
 *     same network, see above). The drift cannot see a gradient's scale (Adam divides it out):
 *     the gradient rows do.
 *   the inference forward (a partial batch, before the steps): as forward
 *   dropout masks: identical (0 mismatches)
 * With TF32 allowed (cuda.tf32) the forward and loss rtols are 100x larger, the gradients' 0.1
 * (the drift's stays). */
#ifndef SER_BACKEND_CHECK_H
#define SER_BACKEND_CHECK_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/backend.h"

typedef struct ser_check_tol {
    double fwd, grad, loss, drift;   /* the tolerances above */
} ser_check_tol;

ser_check_tol ser_check_tol_default(int tf32);

typedef struct ser_check_row {
    char what[48];       /* "conv1", "conv1.kernel", "loss step 3" ... */
    const char *group;   /* "forward", "moving", "gradient", "loss", "drift", "inference" */
    size_t n;            /* elements */
    double max_ref;      /* max |ref| */
    double max_abs;      /* max |got - ref| */
    double err;          /* the judged error: max of |got - ref| / (|ref| + floor), an rms ratio (drift)
                            or the mismatch count (masks) */
    double tol;
    int judged, ok;
    const char *note;    /* NULL or why the row is judged differently */
} ser_check_row;

typedef struct ser_check_result {
    ser_check_row *rows;
    size_t n, cap;
    int failed;          /* rows judged and not ok */
} ser_check_result;

/* ref and got hold the same initial state (models built from the same config and seed; the
 * caller checks). x (B, H, W) scaled features, labels (B); steps >= 1 training steps at lr.
 * Appends its rows to res (zero-initialised by the caller). Fails only when a backend call
 * fails; disagreements are rows with ok = 0. */
int ser_backend_check(ser_backend *ref, ser_backend *got, const float *x, const int32_t *labels, int B, int steps,
                      float lr, const ser_check_tol *tol, ser_check_result *res, ser_error *err);
void ser_check_result_free(ser_check_result *res);

/* Appends one elementwise row: |got - ref| <= rtol (|ref| + floor), floor < 0: max |ref|. */
int ser_check_add(ser_check_result *res, const char *group, const char *what, const float *ref, const float *got,
                  size_t n, double rtol, double floor, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
