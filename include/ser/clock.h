/* Wall time for progress lines and benchmarks (host/common/clock.c). */
#ifndef SER_CLOCK_H
#define SER_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): only differences mean anything. */
double ser_now_s(void);

#ifdef __cplusplus
}
#endif

#endif
