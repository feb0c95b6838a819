/* An LD_PRELOAD shim for tests/cli_alloc_fail.sh: makes one allocation of the ser executable's
 * own code fail, to show that every allocation is checked. Counts only the calls whose caller
 * is in the executable (ser's code; the libraries' own allocations are theirs to check):
 * malloc, calloc, realloc, aligned_alloc, strdup. A call site is the caller and the caller's
 * caller (so each user of a wrapper such as ser_malloc is a site of its own).
 *   SER_ALLOC_FAIL=N     the N-th counted allocation returns NULL (errno ENOMEM)
 *   SER_ALLOC_SITES=FILE at exit: one line per call site, the index of its first allocation
 * glibc only (its __libc_* entry points serve the real allocations, so no dlsym recursion). */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

enum { SITES = 4096 };
static uintptr_t exe_lo, exe_hi;       /* the executable's code */
static long fail_at = -1;
static atomic_long counted;
static atomic_flag sites_lock = ATOMIC_FLAG_INIT;
static uintptr_t site_addr[SITES][2]; /* open addressing by (return address, its caller's) */
static long site_first[SITES];

static int find_exe(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size, (void)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        const uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!exe_lo || lo < exe_lo) exe_lo = lo;
        if (hi > exe_hi) exe_hi = hi;
    }
    return 1; /* the first object listed is the executable */
}

__attribute__((constructor)) static void shim_init(void) {
    dl_iterate_phdr(find_exe, NULL);
    const char *v = getenv("SER_ALLOC_FAIL");
    if (v) fail_at = atol(v);
}

__attribute__((destructor)) static void shim_fini(void) {
    const char *p = getenv("SER_ALLOC_SITES");
    FILE *f = p ? fopen(p, "w") : NULL;
    if (!f) return;
    for (int i = 0; i < SITES; i++)
        if (site_addr[i][0])
            fprintf(f, "%ld %#lx %#lx\n", site_first[i], (unsigned long)(site_addr[i][0] - exe_lo),
                    (unsigned long)(site_addr[i][1] ? site_addr[i][1] - exe_lo : 0));
    fclose(f);
}

/* 1 when this allocation (made from ret) is the one to fail. */
static int fails(void *ret) {
    const uintptr_t r = (uintptr_t)ret;
    if (r < exe_lo || r >= exe_hi) return 0;
    const long n = atomic_fetch_add(&counted, 1) + 1;
    /* the caller's caller: the first frame in the executable after r (the shim's frames are not) */
    void *bt[8];
    const int depth = backtrace(bt, 8);
    uintptr_t up = 0;
    for (int i = 0, seen = 0; i < depth && !up; i++) {
        const uintptr_t a = (uintptr_t)bt[i];
        if (a >= exe_lo && a < exe_hi && seen++) up = a;
    }
    while (atomic_flag_test_and_set(&sites_lock)) {}
    for (size_t h = ((r >> 2) ^ (up >> 4)) % SITES, k = 0; k < SITES; h = (h + 1) % SITES, k++) {
        if (site_addr[h][0] == r && site_addr[h][1] == up) break;
        if (!site_addr[h][0]) {
            site_addr[h][0] = r, site_addr[h][1] = up, site_first[h] = n;
            break;
        }
    }
    atomic_flag_clear(&sites_lock);
    if (n != fail_at) return 0;
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t n) { return fails(__builtin_return_address(0)) ? NULL : __libc_malloc(n); }
void *calloc(size_t a, size_t b) { return fails(__builtin_return_address(0)) ? NULL : __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { return fails(__builtin_return_address(0)) ? NULL : __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { return fails(__builtin_return_address(0)) ? NULL : __libc_memalign(a, n); }
char *strdup(const char *s) {
    if (fails(__builtin_return_address(0))) return NULL;
    const size_t n = strlen(s) + 1;
    char *p = __libc_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
