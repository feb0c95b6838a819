/* The reference's feature scaling: one global mean and standard deviation over every value of
 * the training features (we fit it on the training part only and store it in the model). */
#ifndef SER_SCALER_H
#define SER_SCALER_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

typedef struct ser_scaler {
    double mean;
    double std;   /* population standard deviation (numpy's default ddof=0); 1 when it is 0 */
} ser_scaler;

/* Fits over n values (accumulated in double, two passes). */
ser_scaler ser_scaler_fit(const float *x, size_t n);

/* Its pieces, for values streamed in chunks (the same sums in the same order): acc + the sum
 * of x; acc + the sum of (x - mean)^2; the scaler of n values from the two. */
double ser_scaler_sum(const float *x, size_t n, double acc);
double ser_scaler_sum_sq(const float *x, size_t n, double mean, double acc);
ser_scaler ser_scaler_from_sums(double sum, double ss, size_t n);

/* x = (x - mean) / std, in place. */
void ser_scaler_apply(const ser_scaler *s, float *x, size_t n);

#ifdef __cplusplus
}
#endif

#endif
