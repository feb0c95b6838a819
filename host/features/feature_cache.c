/* The on-disk feature cache (ser/feature_cache.h; format in docs/file-formats.md).
 *
 * A segment: a 64-byte header, n records (key, CRC-32, the clip's F float32 values), then an
 * index of the n keys. Segments are written whole under a temporary name and renamed, never
 * changed after; a fill reads the index of every segment of its folder, checks the records it
 * will use, and writes the clips it did not find into one new segment. */
#define _DEFAULT_SOURCE /* DT_REG, fdatasync */
#include "ser/feature_cache.h"
#include "ser/features.h"
#include "ser/mkdir_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define SEG_MAGIC "SERFEAT1"
#define SEG_HEADER 64u
#define REC_HEAD 24u      /* key (16), crc (4), reserved (4) */
#define FILL_CHUNK 512u   /* clips extracted per call: the fill's only buffer of features */

/* ---- hashing -------------------------------------------------------------------------------- */

/* Two independent 64-bit streams (FNV-1a; multiply-xorshift), each finished with MurmurHash3's
 * fmix64: a 128-bit key, so that a million clips collide with probability ~1e-27. */
static void hash_bytes(uint64_t h[2], const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h[0] = (h[0] ^ b[i]) * 0x100000001b3ull;
        h[1] = (h[1] ^ b[i]) * 0x9e3779b97f4a7c15ull;
        h[1] ^= h[1] >> 29;
    }
}

static uint64_t fmix64(uint64_t k) {
    k ^= k >> 33, k *= 0xff51afd7ed558ccdull, k ^= k >> 33, k *= 0xc4ceb9fe1a85ec53ull, k ^= k >> 33;
    return k;
}

static void hash_start(uint64_t h[2]) { h[0] = 0xcbf29ce484222325ull, h[1] = 0x6a09e667f3bcc909ull; }
static void hash_end(uint64_t h[2]) { h[0] = fmix64(h[0]), h[1] = fmix64(h[1] ^ h[0]); }
static void hash_i64(uint64_t h[2], int64_t v) { hash_bytes(h, &v, sizeof v); }
static void hash_f64(uint64_t h[2], double v) { hash_bytes(h, &v, sizeof v); }

/* Every config value the extraction reads (host/io/audio.c, host/features/mfcc_cpu.c, pitch.c,
 * mel_filters.c and the CUDA twin), field by field (no struct padding). features.normalize and
 * features.vtln are applied after the cache and are not part of the key. */
static void config_key(const ser_config *cfg, const char *extractor, uint64_t key[2]) {
    hash_start(key);
    hash_i64(key, SER_FEATURE_CACHE_VERSION);
    hash_bytes(key, extractor, strlen(extractor) + 1);
    const ser_audio_config *a = &cfg->audio;
    hash_i64(key, a->sample_rate), hash_f64(key, a->offset), hash_f64(key, a->duration), hash_f64(key, a->trim_db);
    const ser_feature_config *f = &cfg->features;
    hash_i64(key, f->n_mfcc), hash_i64(key, f->n_fft), hash_i64(key, f->hop_length), hash_i64(key, f->n_mels);
    hash_f64(key, f->fmin), hash_f64(key, f->fmax), hash_f64(key, f->top_db), hash_i64(key, f->frames);
    hash_i64(key, f->f0_rows), hash_i64(key, f->logmel);
    hash_end(key);
}

/* The clip's key: path, size and modification time (ns). -1 when it cannot be stat'ed (the
 * extraction then reports why). */
static int clip_key(const char *path, double warp, double warp_fhi, uint64_t key[2]) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    hash_start(key);
    hash_bytes(key, path, strlen(path) + 1);
    hash_i64(key, (int64_t)st.st_size);
    hash_i64(key, (int64_t)st.st_mtim.tv_sec), hash_i64(key, (int64_t)st.st_mtim.tv_nsec);
    if (warp != 1.0) hash_f64(key, warp), hash_f64(key, warp_fhi); /* a warped record (unwarped keys unchanged) */
    hash_end(key);
    return 0;
}

static uint32_t crc_of(const void *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    const unsigned char *b = p;
    while (n) { /* zlib's length is a uInt */
        const uInt m = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, m), b += m, n -= m;
    }
    return (uint32_t)c;
}

/* ---- root and folder ------------------------------------------------------------------------ */

const char *ser_feature_cache_root(const char *override, char *buf, size_t len) {
    const char *v = override ? override : getenv("SER_FEATURE_CACHE");
    if (v) return (!*v || !strcmp(v, "off")) ? NULL : v;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && *xdg) n = snprintf(buf, len, "%s/ser/features", xdg);
    else if (home && *home) n = snprintf(buf, len, "%s/.cache/ser/features", home);
    else return NULL;
    return n > 0 && (size_t)n < len ? buf : NULL;
}

/* key.txt: what the folder's key stands for, for people (written once, atomically). */
static void write_key_text(const char *dir, const ser_config *cfg, const char *extractor) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/key.txt", dir);
    if (access(path, F_OK) == 0) return;
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-key.txt", dir, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    const ser_audio_config *a = &cfg->audio;
    const ser_feature_config *fc = &cfg->features;
    fprintf(f, "format %u\nextractor %s\n", SER_FEATURE_CACHE_VERSION, extractor);
    fprintf(f, "audio.sample_rate %d\naudio.offset %.17g\naudio.duration %.17g\naudio.trim_db %.17g\n", a->sample_rate,
            a->offset, a->duration, a->trim_db);
    fprintf(f, "features.n_mfcc %d\nfeatures.n_fft %d\nfeatures.hop_length %d\nfeatures.n_mels %d\n", fc->n_mfcc,
            fc->n_fft, fc->hop_length, fc->n_mels);
    fprintf(f, "features.fmin %.17g\nfeatures.fmax %.17g\nfeatures.top_db %.17g\nfeatures.frames %d\n", fc->fmin,
            fc->fmax, fc->top_db, fc->frames);
    fprintf(f, "features.f0_rows %d\nfeatures.logmel %d\n", fc->f0_rows, fc->logmel);
    if (fclose(f) != 0 || rename(tmp, path) != 0) unlink(tmp);
}

/* A shared lock on ROOT/<key>/lock for as long as the cache is open: `ser cache prune` takes it
 * exclusively and skips a folder that a run holds. Its mtime is the folder's last use. When
 * the folder was pruned while this run waited for the lock (the lock file unlinked under it),
 * the folder is made again. */
static int lock_folder(ser_feature_cache *fc, ser_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/" SER_FEATURE_CACHE_LOCK, fc->dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        if (attempt > 0 && ser_mkdir_p(fc->dir, err) != 0) return -1;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 && (errno == EACCES || errno == EROFS)) fd = open(path, O_RDONLY | O_CLOEXEC); /* a read-only cache */
        if (fd < 0 && errno == ENOENT) continue; /* the folder was pruned since mkdir */
        if (fd < 0) return ser_fail(err, "%s: cannot open: %s", path, strerror(errno));
        int rc;
        while ((rc = flock(fd, LOCK_SH)) != 0 && errno == EINTR) {}
        if (rc != 0) {
            const int e = errno;
            close(fd);
            return ser_fail(err, "%s: cannot lock: %s", path, strerror(e));
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            const int e = errno;
            close(fd);
            return ser_fail(err, "%s: %s", path, strerror(e));
        }
        if (st.st_nlink == 0) { /* pruned while we waited */
            close(fd);
            continue;
        }
        (void)futimens(fd, NULL); /* last use; a read-only cache still works */
        fc->lock_fd = fd;
        return 0;
    }
    return ser_fail(err, "%s: the folder keeps being removed while this run opens it", fc->dir);
}

int ser_feature_cache_open(ser_feature_cache *fc, const char *root, const ser_config *cfg, const char *extractor,
                           ser_error *err) {
    memset(fc, 0, sizeof *fc);
    uint64_t key[2];
    config_key(cfg, extractor, key);
    const size_t len = strlen(root) + 40;
    if (!(fc->dir = ser_malloc(len, "feature cache path", err))) return -1;
    snprintf(fc->dir, len, "%s/%016llx%016llx", root, (unsigned long long)key[0], (unsigned long long)key[1]);
    fc->lock_fd = -1;
    if (ser_mkdir_p(fc->dir, err) != 0 || lock_folder(fc, err) != 0) {
        ser_feature_cache_close(fc);
        return ser_fail_wrap(err, "feature cache");
    }
    fc->F = ser_features_per_clip(cfg);
    fc->cfg = *cfg;
    write_key_text(fc->dir, cfg, extractor);
    return 0;
}

void ser_feature_cache_close(ser_feature_cache *fc) {
    if (!fc) return;
    if (fc->dir && fc->lock_fd >= 0) close(fc->lock_fd); /* releases the shared lock */
    for (size_t i = 0; i < fc->n_segs; i++) {
        if (fc->fds[i] >= 0) close(fc->fds[i]);
        free(fc->seg_paths[i]);
    }
    free(fc->fds), free(fc->seg_paths), free(fc->dir);
    memset(fc, 0, sizeof *fc);
}

static size_t rec_bytes(const ser_feature_cache *fc) { return REC_HEAD + fc->F * sizeof(float); }

/* ---- the needed keys: an open-addressing table key -> first clip holding it ---------------- */

typedef struct key_table {
    size_t *slot;   /* clip index + 1; 0 = empty */
    size_t mask;
} key_table;

static size_t *key_find(key_table *t, const uint64_t (*keys)[2], const uint64_t key[2]) {
    for (size_t s = key[0] & t->mask;; s = (s + 1) & t->mask) {
        const size_t v = t->slot[s];
        if (!v || (keys[v - 1][0] == key[0] && keys[v - 1][1] == key[1])) return &t->slot[s];
    }
}

/* ---- segments ------------------------------------------------------------------------------- */

static int add_segment(ser_feature_cache *fc, int fd, const char *path, ser_error *err) {
    int *fds = realloc(fc->fds, (fc->n_segs + 1) * sizeof *fds);
    if (fds) fc->fds = fds;
    char **names = realloc(fc->seg_paths, (fc->n_segs + 1) * sizeof *names);
    if (names) fc->seg_paths = names;
    char *p = strdup(path);
    if (!fds || !names || !p) {
        free(p);
        close(fd);
        return ser_fail(err, "feature cache: out of memory");
    }
    fc->fds[fc->n_segs] = fd, fc->seg_paths[fc->n_segs] = p;
    fc->n_segs++;
    return 0;
}

static void put_u32(unsigned char *b, uint32_t v) { memcpy(b, &v, 4); }
static void put_u64(unsigned char *b, uint64_t v) { memcpy(b, &v, 8); }
static uint32_t get_u32(const unsigned char *b) { uint32_t v; memcpy(&v, b, 4); return v; }
static uint64_t get_u64(const unsigned char *b) { uint64_t v; memcpy(&v, b, 8); return v; }

/* Reads and checks a segment's header, length and index; for every key in the table that no
 * earlier segment holds, sets its clips' seg/offset. Returns 0, or 1 when the segment is
 * damaged (the caller deletes it), or -1 on an error of the call itself. */
static int scan_segment(ser_feature_cache *fc, uint32_t seg, key_table *t, const uint64_t (*keys)[2],
                        ser_feature_loc *loc, unsigned char *found, ser_error *err) {
    const int fd = fc->fds[seg];
    unsigned char h[SEG_HEADER];
    struct stat st;
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, SEG_MAGIC, 8) != 0 ||
        get_u32(h + 8) != SER_FEATURE_CACHE_VERSION || get_u32(h + 12) != SEG_HEADER ||
        get_u32(h + 60) != crc_of(h, 60) || get_u64(h + 32) != fc->F || fstat(fd, &st) != 0)
        return 1;
    const uint64_t n = get_u64(h + 40), rb = rec_bytes(fc);
    if ((uint64_t)st.st_size != SEG_HEADER + n * (rb + 16)) return 1; /* truncated or extended */
    const size_t chunk = 65536;
    unsigned char *buf = ser_malloc(chunk * 16, "feature cache index", err);
    if (!buf) return -1;
    uLong crc = crc32(0L, Z_NULL, 0);
    const uint64_t index_at = SEG_HEADER + n * rb;
    int rc = 0;
    for (uint64_t j = 0; j < n && !rc; j += chunk) {
        const size_t m = (size_t)(n - j < chunk ? n - j : chunk);
        if (pread(fd, buf, m * 16, (off_t)(index_at + j * 16)) != (ssize_t)(m * 16)) {
            rc = 1;
            break;
        }
        crc = crc32(crc, buf, (uInt)(m * 16));
        for (size_t k = 0; k < m; k++) {
            const uint64_t key[2] = {get_u64(buf + 16 * k), get_u64(buf + 16 * k + 8)};
            const size_t v = *key_find(t, keys, key);
            if (!v || found[v - 1]) continue;
            loc[v - 1].seg = seg, loc[v - 1].offset = SEG_HEADER + (j + k) * rb;
            found[v - 1] = 1;
        }
    }
    free(buf);
    if (!rc && (uint32_t)crc != get_u32(h + 56)) rc = 1;
    return rc;
}

/* Removes the temporary files of writers that died (their pid is gone): a kill mid-write. */
static void remove_dead_temps(const char *dir, const char *name) {
    long pid = 0;
    if (sscanf(name, ".tmp-%ld-", &pid) != 1 || pid <= 0) return;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) return;
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
}

/* Opens every *.seg of the folder and locates the keys of the table in them; a damaged
 * segment is deleted (its clips stay unfound and are computed again). */
static int scan_folder(ser_feature_cache *fc, key_table *t, const uint64_t (*keys)[2], ser_feature_loc *loc,
                       unsigned char *found, ser_error *err) {
    DIR *d = opendir(fc->dir);
    if (!d) return ser_fail(err, "feature cache %s: %s", fc->dir, strerror(errno));
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        const size_t l = strlen(e->d_name);
        if (!strncmp(e->d_name, ".tmp-", 5)) remove_dead_temps(fc->dir, e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".seg") || e->d_name[0] == '.') continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", fc->dir, e->d_name);
        const int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue; /* deleted by another run since readdir */
        if (add_segment(fc, fd, p, err) != 0) {
            rc = -1;
            break;
        }
        const int s = scan_segment(fc, (uint32_t)(fc->n_segs - 1), t, keys, loc, found, err);
        if (s < 0) rc = -1;
        if (s == 1) {
            fprintf(stderr, "ser: feature cache: %s is damaged (header, length or index): deleted, its clips are "
                            "computed again\n", p);
            unlink(p);
            fc->n_rebuilt++;
        }
    }
    closedir(d);
    return rc;
}

/* Reads one record's header and values; 0 when its key and checksum are right, 1 when not. */
static int read_record(const ser_feature_cache *fc, const ser_feature_loc *loc, const uint64_t *key, float *out,
                       uint32_t *crc) {
    unsigned char h[REC_HEAD];
    struct iovec io[2] = {{h, REC_HEAD}, {out, fc->F * sizeof *out}};
    const ssize_t want = (ssize_t)rec_bytes(fc);
    if (preadv(fc->fds[loc->seg], io, 2, (off_t)loc->offset) != want) return 1;
    if (key && (get_u64(h) != key[0] || get_u64(h + 8) != key[1])) return 1;
    *crc = get_u32(h + 16);
    return crc_of(out, fc->F * sizeof *out) != *crc;
}

int ser_feature_cache_read(const ser_feature_cache *fc, const ser_feature_loc *loc, float *out, ser_error *err) {
    uint32_t crc = 0;
    if (read_record(fc, loc, NULL, out, &crc) != 0 || crc != loc->crc)
        return ser_fail(err, "feature cache %s: the record at byte %llu changed or is unreadable since it was checked",
                        fc->seg_paths[loc->seg], (unsigned long long)loc->offset);
    return 0;
}

/* ---- writing a segment ---------------------------------------------------------------------- */

typedef struct seg_writer {
    FILE *f;
    char tmp[4200];
    unsigned char *keys;   /* (n, 16) */
    size_t n, cap;
    unsigned id;           /* this process's writer count */
} seg_writer;

static int writer_open(seg_writer *w, const ser_feature_cache *fc, ser_error *err) {
    memset(w, 0, sizeof *w);
    static unsigned counter;
    w->id = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    snprintf(w->tmp, sizeof w->tmp, "%s/.tmp-%ld-%u-%ld.part", fc->dir, (long)getpid(), w->id, (long)time(NULL));
    const int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || !(w->f = fdopen(fd, "wb"))) {
        if (fd >= 0) close(fd);
        return ser_fail(err, "feature cache: cannot create %s: %s", w->tmp, strerror(errno));
    }
    static const unsigned char zero[SEG_HEADER];
    if (fwrite(zero, 1, sizeof zero, w->f) != sizeof zero) return ser_fail(err, "feature cache %s: write failed", w->tmp);
    return 0;
}

static int writer_add(seg_writer *w, const uint64_t key[2], const float *x, size_t F, uint32_t *crc, ser_error *err) {
    if (w->n == w->cap) {
        const size_t cap = w->cap ? 2 * w->cap : 1024;
        unsigned char *k = realloc(w->keys, cap * 16);
        if (!k) return ser_fail(err, "feature cache: out of memory");
        w->keys = k, w->cap = cap;
    }
    unsigned char h[REC_HEAD] = {0};
    *crc = crc_of(x, F * sizeof *x);
    put_u64(h, key[0]), put_u64(h + 8, key[1]), put_u32(h + 16, *crc);
    if (fwrite(h, 1, sizeof h, w->f) != sizeof h || fwrite(x, sizeof *x, F, w->f) != F)
        return ser_fail(err, "feature cache %s: write failed: %s", w->tmp, strerror(errno));
    memcpy(w->keys + 16 * w->n, h, 16);
    w->n++;
    return 0;
}

/* Index, header, fsync, rename: the segment appears whole or not at all. Sets *fd_out to the
 * segment opened for reading (-1 when nothing was written). */
static int writer_finish(seg_writer *w, const ser_feature_cache *fc, char *final_path, size_t len, int *fd_out,
                         ser_error *err) {
    *fd_out = -1;
    if (w->n == 0) {
        fclose(w->f), w->f = NULL;
        unlink(w->tmp);
        return 0;
    }
    unsigned char h[SEG_HEADER] = {0};
    memcpy(h, SEG_MAGIC, 8);
    put_u32(h + 8, SER_FEATURE_CACHE_VERSION), put_u32(h + 12, SEG_HEADER);
    put_u64(h + 32, fc->F), put_u64(h + 40, w->n), put_u32(h + 56, crc_of(w->keys, w->n * 16));
    put_u32(h + 60, crc_of(h, 60));
    int ok = fwrite(w->keys, 16, w->n, w->f) == w->n && fflush(w->f) == 0 &&
             pwrite(fileno(w->f), h, sizeof h, 0) == (ssize_t)sizeof h && fdatasync(fileno(w->f)) == 0;
    const int e = errno;
    ok = fclose(w->f) == 0 && ok;
    w->f = NULL;
    /* unique like the temporary name: a rename never replaces another writer's segment */
    snprintf(final_path, len, "%s/%ld-%ld-%u-%zu.seg", fc->dir, (long)time(NULL), (long)getpid(), w->id, w->n);
    if (!ok || rename(w->tmp, final_path) != 0) {
        const int e2 = ok ? errno : e;
        unlink(w->tmp);
        return ser_fail(err, "feature cache: cannot write %s: %s", final_path, strerror(e2));
    }
    if ((*fd_out = open(final_path, O_RDONLY | O_CLOEXEC)) < 0)
        return ser_fail(err, "feature cache: %s: %s", final_path, strerror(errno));
    return 0;
}

static void writer_abort(seg_writer *w) {
    if (w->f) fclose(w->f), unlink(w->tmp);
    free(w->keys);
    memset(w, 0, sizeof *w);
}

/* ---- fill ----------------------------------------------------------------------------------- */

/* Extracts the unique clips in todo[0..m) in chunks and writes the good ones to one new segment. */
/* How the missing clips are computed: extract, or (warps not NULL) ser_features_extract_warped
 * with clip i's warp warps[i] (todo then sorted by warp: one call per run of equal warps). */
typedef struct extraction {
    ser_features_fn extract;
    const double *warps;
    double warp_fhi;
} extraction;

static int extract_chunk(const extraction *how, const ser_feature_cache *fc, char **cp, const size_t *todo, size_t c,
                         int threads, float *x, unsigned char *cok, char **cwhy, ser_error *err) {
    const ser_config *cfg = &fc->cfg;
    if (!how->warps) return how->extract(cfg, cp, c, threads, x, cok, cwhy, err);
    for (size_t a = 0, b; a < c; a = b) {
        const double w = how->warps[todo[a]];
        for (b = a + 1; b < c && how->warps[todo[b]] == w; b++) {}
        if (ser_features_extract_warped(cfg, cp + a, b - a, threads, w, how->warp_fhi, x + a * fc->F, cok + a, cwhy + a,
                                        err) != 0)
            return -1;
    }
    return 0;
}

static int compute_missing(ser_feature_cache *fc, char *const *paths, const uint64_t (*keys)[2], const size_t *todo,
                           size_t m, const extraction *how, int threads, ser_feature_loc *loc, unsigned char *ok,
                           char **why, ser_error *err) {
    const size_t F = fc->F, chunk = m < FILL_CHUNK ? m : FILL_CHUNK;
    float *x = ser_malloc(chunk * F * sizeof *x, "feature cache chunk", err);
    char **cp = ser_malloc(chunk * sizeof *cp, "feature cache chunk paths", err);
    char **cwhy = ser_calloc(chunk, sizeof *cwhy, "feature cache chunk errors", err);
    unsigned char *cok = ser_malloc(chunk, "feature cache chunk flags", err);
    seg_writer w = {0};
    int rc = -1;
    if (!x || !cp || !cwhy || !cok || writer_open(&w, fc, err) != 0) goto done;
    const uint32_t seg = (uint32_t)fc->n_segs; /* the new segment's index once added */
    for (size_t s = 0; s < m; s += chunk) {
        const size_t c = m - s < chunk ? m - s : chunk;
        for (size_t k = 0; k < c; k++) cp[k] = paths[todo[s + k]];
        if (extract_chunk(how, fc, cp, todo + s, c, threads, x, cok, cwhy, err) != 0) goto done;
        for (size_t k = 0; k < c; k++) {
            const size_t i = todo[s + k];
            if (cok[k] && !keys[i][0] && !keys[i][1]) { /* decoded, but stat had failed: no key */
                cok[k] = 0;
                free(cwhy[k]);
                const size_t l = strlen(cp[k]) + 64;
                if ((cwhy[k] = malloc(l))) snprintf(cwhy[k], l, "%s: appeared while the cache was read", cp[k]);
            }
            if (!cok[k]) {
                if (why) why[i] = cwhy[k];
                else free(cwhy[k]);
                cwhy[k] = NULL;
                continue;
            }
            loc[i].seg = seg, loc[i].offset = SEG_HEADER + (uint64_t)w.n * rec_bytes(fc);
            if (writer_add(&w, keys[i], x + k * F, F, &loc[i].crc, err) != 0) goto done;
            ok[i] = 1;
            fc->n_computed++;
        }
    }
    char path[4300];
    int fd = -1;
    if (writer_finish(&w, fc, path, sizeof path, &fd, err) != 0) goto done;
    if (fd >= 0 && add_segment(fc, fd, path, err) != 0) goto done;
    rc = 0;
done:
    writer_abort(&w);
    free(x), free(cp), free(cwhy), free(cok);
    return rc;
}

typedef struct warp_clip {
    double warp;
    size_t i;
} warp_clip;

static int by_warp(const void *a, const void *b) {
    const warp_clip *x = a, *y = b;
    return x->warp < y->warp ? -1 : x->warp > y->warp ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* todo[0..m) ordered by warp (then clip): equal warps side by side, for extract_chunk. */
static int sort_by_warp(size_t *todo, size_t m, const double *warps, ser_error *err) {
    warp_clip *v = ser_malloc(m * sizeof *v, "feature cache warps", err);
    if (!v) return -1;
    for (size_t k = 0; k < m; k++) v[k] = (warp_clip){warps[todo[k]], todo[k]};
    qsort(v, m, sizeof *v, by_warp);
    for (size_t k = 0; k < m; k++) todo[k] = v[k].i;
    free(v);
    return 0;
}

static int fill(ser_feature_cache *fc, char *const *paths, size_t n, const extraction *how, int threads,
                ser_feature_loc *loc, unsigned char *ok, char **why, ser_error *err) {
    memset(ok, 0, n);
    memset(loc, 0, n * sizeof *loc);
    if (why) memset(why, 0, n * sizeof *why);
    fc->n_rebuilt = fc->n_computed = 0;
    if (n == 0) return 0;
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    key_table t = {ser_calloc(cap, sizeof *t.slot, "feature cache table", err), cap - 1};
    size_t *first = ser_malloc(n * sizeof *first, "feature cache duplicates", err); /* the clip whose key i shares */
    unsigned char *found = ser_calloc(n, 1, "feature cache flags", err);
    size_t *todo = ser_malloc(n * sizeof *todo, "feature cache work list", err);
    float *rec = ser_malloc(fc->F * sizeof *rec, "feature cache record", err);
    uint64_t(*keys)[2] = ser_calloc(n, sizeof *keys, "feature cache keys", err);
    int rc = -1;
    if (!t.slot || !first || !found || !todo || !rec || !keys) goto done;
    for (size_t i = 0; i < n; i++) {
        first[i] = i;
        if (clip_key(paths[i], how->warps ? how->warps[i] : 1.0, how->warp_fhi, keys[i]) != 0)
            continue; /* key 0: unreadable, the extraction says why */
        size_t *s = key_find(&t, (const uint64_t(*)[2])keys, keys[i]);
        if (*s) first[i] = *s - 1;
        else *s = i + 1, first[i] = i;
    }
    if (scan_folder(fc, &t, (const uint64_t(*)[2])keys, loc, found, err) != 0) goto done;
    /* every record found is checked before it is used: a damaged one deletes its segment */
    for (size_t i = 0; i < n; i++) {
        if (first[i] != i || !found[i]) continue;
        uint32_t crc = 0;
        if (fc->fds[loc[i].seg] >= 0 && read_record(fc, &loc[i], keys[i], rec, &crc) == 0) {
            loc[i].crc = crc;
            continue;
        }
        const uint32_t bad = loc[i].seg;
        if (fc->fds[bad] >= 0) {
            fprintf(stderr, "ser: feature cache: %s has a damaged record: deleted, its clips are computed again\n",
                    fc->seg_paths[bad]);
            unlink(fc->seg_paths[bad]);
            close(fc->fds[bad]);
            fc->fds[bad] = -1;
            fc->n_rebuilt++;
        }
        for (size_t j = 0; j < n; j++) /* every clip located in the deleted segment */
            if (first[j] == j && found[j] && loc[j].seg == bad) found[j] = 0;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (first[i] != i) continue;
        if (found[i]) ok[i] = 1;
        else todo[m++] = i;
    }
    if (m && how->warps && sort_by_warp(todo, m, how->warps, err) != 0) goto done;
    if (m && compute_missing(fc, paths, (const uint64_t(*)[2])keys, todo, m, how, threads, loc, ok, why, err) != 0) goto done;
    for (size_t i = 0; i < n; i++) { /* a clip listed twice shares its first listing's record */
        const size_t f = first[i];
        if (f == i) continue;
        loc[i] = loc[f], ok[i] = ok[f];
        if (!ok[f] && why && why[f] && !(why[i] = strdup(why[f]))) goto done;
    }
    rc = 0;
done:
    free(t.slot), free(first), free(found), free(todo), free(rec), free(keys);
    return rc;
}

int ser_feature_cache_fill(ser_feature_cache *fc, char *const *paths, size_t n, ser_features_fn extract, int threads,
                           ser_feature_loc *loc, unsigned char *ok, char **why, ser_error *err) {
    const extraction how = {extract, NULL, 0.0};
    return fill(fc, paths, n, &how, threads, loc, ok, why, err);
}

int ser_feature_cache_fill_warped(ser_feature_cache *fc, char *const *paths, const double *warps, size_t n, int threads,
                                  ser_feature_loc *loc, unsigned char *ok, char **why, ser_error *err) {
    const extraction how = {NULL, warps, fc->cfg.train.aug_vtlp_fhi};
    return fill(fc, paths, n, &how, threads, loc, ok, why, err);
}
