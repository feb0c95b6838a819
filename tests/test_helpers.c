/* The small shared helpers: ser_now_s (monotonic seconds), ser_grow (a host array that keeps
 * its contents and grows by doubling), ser_mkdir_p (mkdir -p that refuses a part that is not a
 * folder). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ser/clock.h"
#include "ser/grow.h"
#include "ser/mkdir_p.h"

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(void) {
    ser_error e = {{0}};

    /* ser_now_s: never goes back, and a 20 ms sleep is seen */
    const double t0 = ser_now_s();
    nanosleep(&(struct timespec){0, 20000000}, NULL);
    const double t1 = ser_now_s();
    CHECKF(t1 - t0 >= 0.019 && t1 - t0 < 5, "slept 20 ms, measured %g s", t1 - t0);

    /* ser_grow: a NULL array is allocated; contents survive growth; no reallocation while it fits */
    int *a = NULL;
    size_t cap = 0;
    CHECKF(ser_grow((void **)&a, &cap, 0, sizeof *a, "test ints", &e) == 0 && a && cap >= 1, "%s", e.msg);
    for (size_t n = 1; n <= 5000; n++) {
        if (ser_grow((void **)&a, &cap, n, sizeof *a, "test ints", &e) != 0) {
            CHECKF(0, "grow to %zu: %s", n, e.msg);
            break;
        }
        a[n - 1] = (int)(n * 7);
    }
    CHECK(cap >= 5000 && cap < 2 * 5000 + 1024);
    int kept = 1;
    for (size_t i = 0; i < 5000; i++) kept &= a[i] == (int)((i + 1) * 7);
    CHECK(kept);
    int *same = a;
    const size_t same_cap = cap;
    CHECK(ser_grow((void **)&a, &cap, cap, sizeof *a, "test ints", &e) == 0 && a == same && cap == same_cap);
    /* an impossible size fails naming the array, and leaves it as it was */
    CHECK(ser_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof *a, "test ints", &e) != 0 && strstr(e.msg, "test ints") &&
          a == same && cap == same_cap);
    free(a);

    /* ser_mkdir_p: parents made, an existing folder fine, a file in the way named */
    char root[64], deep[160], file[160], under[200];
    snprintf(root, sizeof root, "/tmp/ser_test_helpers_%d", (int)getpid());
    snprintf(deep, sizeof deep, "%s/a/b/c", root);
    CHECKF(ser_mkdir_p(deep, &e) == 0 && is_dir(deep), "%s", e.msg);
    CHECKF(ser_mkdir_p(deep, &e) == 0, "again: %s", e.msg);
    snprintf(file, sizeof file, "%s/a/f", root);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    snprintf(under, sizeof under, "%s/g/h", file);
    CHECKF(ser_mkdir_p(under, &e) != 0 && strstr(e.msg, file) && strstr(e.msg, "not a folder"), "%s", e.msg);
    CHECKF(ser_mkdir_p(file, &e) != 0 && strstr(e.msg, "not a folder"), "%s", e.msg);
    char longp[5000];
    memset(longp, 'x', sizeof longp - 1);
    longp[0] = '/', longp[sizeof longp - 1] = 0;
    CHECK(ser_mkdir_p(longp, &e) != 0 && strstr(e.msg, "too long"));
    unlink(file);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a/b", root);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a", root);
    rmdir(deep);
    rmdir(root);
    return check_finish("test_helpers");
}
