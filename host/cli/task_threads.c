/* The thread count of this task (task_threads.h). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "task_threads.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

/* A positive count at the start of s ("4", "4,2" for nested OpenMP levels), else 0. */
static int leading_count(const char *s) {
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || (*end && *end != ',') || v < 1 || v > 65536) return 0;
    return (int)v;
}

int cli_task_threads(const char **from) {
    const char *src = "OMP_NUM_THREADS";
    int n = leading_count(getenv("OMP_NUM_THREADS"));
    if (!n) src = "SLURM_CPUS_PER_TASK", n = leading_count(getenv("SLURM_CPUS_PER_TASK"));
    if (!n) {
        cpu_set_t set;
        CPU_ZERO(&set);
        src = "the CPU affinity";
        if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    }
    if (!n) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        src = "the online cores";
        n = c > 0 ? (int)c : 1;
    }
    if (from) *from = src;
    return n;
}
