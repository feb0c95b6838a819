/* The per-epoch feature spill (ser/epoch_spill.h): clips put in any order from two threads
 * into an unlinked file read back, normalised and scaled, bit for bit as the in-memory kind
 * (ser_normalize over the whole epoch, then the scaler) in every features.normalize mode and
 * in a shuffled batch order; two epochs through the same spill; nothing left in the folder
 * while it is open or after close; a write past a file-size limit, a read of a clip never
 * written and a folder that does not exist are errors naming the file or folder and the
 * reason. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "ser/epoch_spill.h"
#include "ser/philox.h"

enum { N = 203, H = 6, W = 17 };
static const size_t F = (size_t)H * W;

/* Entries of a folder other than . and .. (-1: unreadable). */
static int entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int k = 0;
    for (struct dirent *e; (e = readdir(d));) k += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return k;
}

/* Clip i of epoch e: values of a few dB around a per-speaker level, then zero padding after a
 * clip-dependent number of real frames (some clips all zero). */
static void make_clip(float *x, size_t i, int e) {
    const int used = i % 11 == 0 ? 0 : 1 + (int)((i * 7 + (size_t)e) % W);
    philox4x32_key k = {{(uint32_t)i, (uint32_t)e}};
    for (int r = 0; r < H; r++)
        for (int t = 0; t < W; t++) {
            philox4x32_ctr c = {{(uint32_t)r, (uint32_t)t, 0x5b1u, 0}};
            const float u = (float)(philox4x32_10(c, k).v[0] >> 8) * 0x1p-24f;
            x[(size_t)r * W + t] = t < used ? (float)(i % 5) * 10.0f - 20.0f + 6.0f * u - (float)r : 0.0f;
        }
}

typedef struct writer {
    const ser_epoch_spill *s;
    int epoch, parity, rc;   /* this thread writes the clips i with i % 2 == parity, last first */
    ser_error err;
} writer;

static void *write_half(void *arg) {
    writer *w = arg;
    float x[H * W];
    double sums[2 * H + 1];
    for (size_t j = N; j-- > 0;)
        if ((int)(j % 2) == w->parity) {
            make_clip(x, j, w->epoch);
            if ((w->rc = ser_epoch_spill_put(w->s, j, x, sums, &w->err)) != 0) break;
        }
    return NULL;
}

/* Writes epoch e into s from two threads, seals it. */
static int write_epoch(ser_epoch_spill *s, int e, const ser_clip *clips, const ser_scaler *sc, ser_error *err) {
    writer w[2] = {{s, e, 0, 0, {{0}}}, {s, e, 1, 0, {{0}}}};
    pthread_t t;
    if (pthread_create(&t, NULL, write_half, &w[1]) != 0) return -1;
    write_half(&w[0]);
    pthread_join(t, NULL);
    for (int k = 0; k < 2; k++)
        if (w[k].rc) {
            *err = w[k].err;
            return -1;
        }
    return ser_epoch_spill_seal(s, clips, sc, err);
}

static void test_same_bits(const char *dir, const ser_clip *clips) {
    const ser_scaler sc = {1.25, 3.5};
    uint32_t order[N];
    for (size_t i = 0; i < N; i++) order[i] = (uint32_t)((i * 37 + 11) % N); /* 37 is prime to 203 */
    float *a = malloc(N * F * sizeof *a), *b = malloc(N * F * sizeof *b);
    for (int mode = 0; mode <= 2; mode++) {
        ser_epoch_spill disk, mem;
        ser_error e = {{0}};
        CHECKF(ser_epoch_spill_open(&disk, dir, N, H, W, mode, &e) == 0, "%s", e.msg);
        CHECKF(ser_epoch_spill_open(&mem, NULL, N, H, W, mode, &e) == 0, "%s", e.msg);
        CHECKF(disk.fd >= 0 && mem.fd < 0 && entries(dir) == 0, "mode %d: the open spill is visible in %s", mode, dir);
        for (int ep = 0; ep < 2; ep++) { /* the same spill reused by a second epoch */
            CHECKF(write_epoch(&disk, ep, clips, &sc, &e) == 0, "%s", e.msg);
            CHECKF(write_epoch(&mem, ep, clips, &sc, &e) == 0, "%s", e.msg);
            for (size_t s = 0; s < N; s += 32) {
                const int B = (int)(N - s < 32 ? N - s : 32);
                CHECKF(ser_epoch_spill_fill(&disk, order + s, B, a + s * F, &e) == 0, "%s", e.msg);
                CHECKF(ser_epoch_spill_fill(&mem, order + s, B, b + s * F, &e) == 0, "%s", e.msg);
            }
            CHECKF(!memcmp(a, b, N * F * sizeof *a), "mode %d, epoch %d: spilled and in-memory features differ", mode,
                   ep);
            /* and they are normalised: a clip with real frames is no longer its raw values */
            float raw[H * W];
            make_clip(raw, order[1], ep);
            CHECKF(memcmp(raw, a + F, sizeof raw) != 0, "mode %d: clip read back unscaled", mode);
        }
        ser_epoch_spill_close(&disk), ser_epoch_spill_close(&mem);
        CHECKF(entries(dir) == 0, "mode %d: files left in %s after close", mode, dir);
    }
    free(a), free(b);
}

static void test_errors(const char *dir, const ser_clip *clips) {
    ser_epoch_spill s;
    ser_error e = {{0}};
    float x[H * W];
    double sums[2 * H + 1];
    make_clip(x, 1, 0);
    /* no such folder */
    char missing[256];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    CHECK(ser_epoch_spill_open(&s, missing, N, H, W, 2, &e) != 0);
    CHECKF(strstr(e.msg, missing) && strstr(e.msg, "No such file"), "%s", e.msg);
    /* a clip never written: a short read naming the file */
    CHECKF(ser_epoch_spill_open(&s, dir, N, H, W, 1, &e) == 0, "%s", e.msg);
    const ser_scaler sc = {0, 1};
    CHECK(ser_epoch_spill_put(&s, 3, x, sums, &e) == 0 && ser_epoch_spill_seal(&s, clips, &sc, &e) == 0);
    const uint32_t last = N - 1;
    float out[H * W];
    CHECK(ser_epoch_spill_fill(&s, &last, 1, out, &e) != 0);
    CHECKF(strstr(e.msg, dir) && strstr(e.msg, "spill-") && strstr(e.msg, "short read"), "%s", e.msg);
    /* a file-size limit below the last clip's offset: EFBIG (SIGXFSZ ignored) naming the file */
    struct rlimit old;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    struct rlimit lim = {4096, old.rlim_max};
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    const int rc = ser_epoch_spill_put(&s, N - 1, x, sums, &e);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, prev);
    CHECK(rc != 0);
    CHECKF(strstr(e.msg, "spill-") && strstr(e.msg, "clip 202") && strstr(e.msg, strerror(EFBIG)), "%s", e.msg);
    ser_epoch_spill_close(&s);
    CHECKF(entries(dir) == 0, "files left in %s after the failures", dir);
}

int main(void) {
    char dir[] = "/tmp/ser_epoch_spill_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    /* three speakers, one of them "" (a group of its own), interleaved */
    static const char *spk[3] = {"A", "B", ""};
    ser_clip clips[N];
    memset(clips, 0, sizeof clips);
    for (size_t i = 0; i < N; i++) clips[i].speaker = (char *)spk[(i * 5) % 3], clips[i].corpus = (char *)"t";
    test_same_bits(dir, clips);
    test_errors(dir, clips);
    rmdir(dir);
    return check_finish("test_epoch_spill");
}
