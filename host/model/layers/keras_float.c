/* keras_one_minus: recover the decimal a float hyper-parameter was written as (the shortest
 * that round-trips) and subtract it from 1 in double, as Keras does with its Python floats. */
#include <stdio.h>
#include <stdlib.h>

#include "layers/layers.h"

float keras_one_minus(float b) {
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)b);
        const double d = strtod(buf, NULL);
        if ((float)d == b) return (float)(1.0 - d);
    }
    return (float)(1.0 - (double)b);
}
