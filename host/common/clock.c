/* ser_now_s (ser/clock.h): one monotonic clock for every timing ser prints. */
#include "ser/clock.h"

#include <time.h>

double ser_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
