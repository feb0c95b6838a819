/* Scaler: mean/std against a direct computation; constant input does not divide by zero. */
#include <math.h>

#include "check.h"
#include "ser/scaler.h"

int main(void) {
    float x[1000];
    double sum = 0, ss = 0;
    for (int i = 0; i < 1000; i++) {
        x[i] = (float)(-300.0 + 0.37 * i + 5 * sin(i));
        sum += x[i];
    }
    const double mean = sum / 1000;
    for (int i = 0; i < 1000; i++) ss += (x[i] - mean) * (x[i] - mean);
    ser_scaler s = ser_scaler_fit(x, 1000);
    CHECK(fabs(s.mean - mean) < 1e-9 && fabs(s.std - sqrt(ss / 1000)) < 1e-9);
    ser_scaler_apply(&s, x, 1000);
    ser_scaler t = ser_scaler_fit(x, 1000);
    CHECKF(fabs(t.mean) < 1e-5 && fabs(t.std - 1) < 1e-5, "mean %g std %g", t.mean, t.std);
    float c[4] = {2, 2, 2, 2};
    s = ser_scaler_fit(c, 4);
    CHECK(s.mean == 2 && s.std == 1);
    ser_scaler_apply(&s, c, 4);
    CHECK(c[0] == 0 && c[3] == 0);
    return check_finish("test_scaler");
}
