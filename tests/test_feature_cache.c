/* The on-disk feature cache (ser/feature_cache.h) and the batch reader on it
 * (ser/feature_source.h): a miss computes and stores, a hit reads the same bits; a changed
 * clip (mtime, size) or feature key misses; damaged (corrupted, truncated) segments are found,
 * deleted and rebuilt, never read as data; two processes filling at once both succeed; and a
 * split read by batch equals the in-memory split (ser_dataset_build + ser_scaler_apply) bit for
 * bit, with every features.normalize mode. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ser/dataset.h"
#include "ser/feature_cache.h"
#include "ser/feature_source.h"
#include "ser/features.h"
#include "ser/scaler.h"
#include "synth_corpus.h"

static char cache_root[TEST_DIR_MAX];

/* Opens the cache of cfg and fills it with the clips: 0, or -1 after printing why. */
static int fill(ser_feature_cache *fc, const ser_config *cfg, char **paths, size_t n, ser_feature_loc *loc,
                unsigned char *ok) {
    ser_error e = {{0}};
    if (ser_feature_cache_open(fc, cache_root, cfg, "cpu test", &e) != 0 ||
        ser_feature_cache_fill(fc, paths, n, ser_features_extract, 2, loc, ok, NULL, &e) != 0) {
        fprintf(stderr, "cache fill: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* Every clip read back from the cache equals ref (n, F) bit for bit. */
static int same_as(const ser_feature_cache *fc, const ser_feature_loc *loc, const unsigned char *ok, size_t n,
                   const float *ref) {
    float *x = malloc(fc->F * sizeof *x);
    int same = x != NULL;
    ser_error e = {{0}};
    for (size_t i = 0; same && i < n; i++)
        same = ok[i] && ser_feature_cache_read(fc, &loc[i], x, &e) == 0 && !memcmp(x, ref + i * fc->F, fc->F * sizeof *x);
    free(x);
    return same;
}

/* The path of the n-th *.seg of a cache folder (readdir order), or "" */
static void segment_path(const char *dir, int nth, char *out, size_t len) {
    out[0] = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        const size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".seg") && nth-- == 0) {
            snprintf(out, len, "%s/%s", dir, e->d_name);
            break;
        }
    }
    if (d) closedir(d);
}

static int count_segments(const char *dir) {
    int k = 0;
    char p[512];
    for (;; k++) {
        segment_path(dir, k, p, sizeof p);
        if (!p[0]) return k;
    }
}

/* The in-memory split (features, normalisation, scaler) against the one read by batch. */
static void check_source(const ser_corpus *c, ser_config cfg, int mode) {
    cfg.features.normalize = mode;
    const char **names = NULL;
    size_t nn = 0;
    ser_error e = {{0}};
    CHECK(ser_clips_label_set(&c->clips, &names, &nn, &e) == 0);
    ser_dataset mem, disk;
    ser_feature_cache fc;
    CHECK(ser_dataset_build(&mem, &c->clips, &cfg, names, nn, 2, "train", &e) == 0);
    CHECK(ser_feature_cache_open(&fc, cache_root, &cfg, "cpu test", &e) == 0);
    CHECK(ser_dataset_build_cached(&disk, (ser_clips *)&c->clips, &cfg, names, nn, 2, "train", ser_features_extract, &fc, 0, NULL, NULL, &e) == 0);
    CHECK(disk.x == NULL && disk.src != NULL && disk.n == mem.n);
    const size_t F = ser_features_per_clip(&cfg);
    const ser_scaler sm = ser_scaler_fit(mem.x, mem.n * F);
    ser_scaler sd = {0, 0};
    CHECK(ser_feature_source_fit_scaler(disk.src, &sd, &e) == 0);
    CHECKF(sm.mean == sd.mean && sm.std == sd.std, "mode %d: scaler %.17g %.17g vs %.17g %.17g", mode, sm.mean,
           sm.std, sd.mean, sd.std);
    ser_scaler_apply(&sm, mem.x, mem.n * F);
    ser_feature_source_set_scaler(disk.src, &sd);
    /* the whole split in a shuffled order, in batches of 7 */
    uint32_t idx[7];
    float *xb = malloc(7 * F * sizeof *xb);
    int same = xb != NULL, labels_same = !memcmp(mem.y, disk.y, mem.n * sizeof *mem.y);
    for (size_t s = 0; same && s < mem.n; s += 7) {
        const int B = (int)(mem.n - s < 7 ? mem.n - s : 7);
        for (int b = 0; b < B; b++) idx[b] = (uint32_t)((s + b) * 7919 % mem.n);
        same = ser_feature_source_fill(disk.src, idx, B, xb, &e) == 0;
        for (int b = 0; same && b < B; b++) same = !memcmp(xb + b * F, mem.x + idx[b] * F, F * sizeof *xb);
    }
    CHECKF(same && labels_same, "mode %d: the batches differ from the in-memory split", mode);
    free(xb);
    ser_dataset_free(&mem), ser_dataset_free(&disk);
    ser_feature_cache_close(&fc);
    free(names);
}

/* Clips that are dropped (one does not decode, one has a label outside the class list): the
 * split read through the cache, its clip list taken over (take = 1) or copied, keeps the same
 * clips in the same order with the same labels and features as the in-memory split. */
static void check_dropped(const ser_corpus *c, const ser_config *cfg) {
    const char **names = NULL;
    size_t nn = 0;
    ser_error e = {{0}};
    CHECK(ser_clips_label_set(&c->clips, &names, &nn, &e) == 0 && nn >= 2);
    ser_clips in = {0};
    for (size_t i = 0; i < c->clips.n; i++) CHECK(ser_clips_push_clip(&in, &c->clips.v[i], &e) == 0);
    free(in.v[3].path);
    in.v[3].path = strdup("/nonexistent/ser_dropped.wav");
    size_t outside = 0; /* clips of the last class, which the list leaves out */
    for (size_t i = 0; i < in.n; i++) outside += !strcmp(in.v[i].label, names[nn - 1]);
    ser_dataset mem, copied, taken;
    ser_feature_cache fc;
    CHECK(ser_dataset_build(&mem, &in, cfg, names, nn - 1, 2, "train", &e) == 0);
    CHECK(mem.n == in.n - 1 - outside && mem.n_dropped == 1 + outside);
    CHECK(ser_feature_cache_open(&fc, cache_root, cfg, "cpu test", &e) == 0);
    CHECK(ser_dataset_build_cached(&copied, &in, cfg, names, nn - 1, 2, "train", ser_features_extract, &fc, 0, NULL, NULL, &e) ==
          0);
    CHECK(ser_dataset_build_cached(&taken, &in, cfg, names, nn - 1, 2, "train", ser_features_extract, &fc, 1, NULL, NULL, &e) == 0);
    CHECK(in.n == 0 && in.v == NULL);
    const size_t F = ser_features_per_clip(cfg);
    float *x = malloc(F * sizeof *x);
    const ser_scaler id = {0.0, 1.0};
    for (int k = 0; k < 2; k++) {
        ser_dataset *d = k ? &taken : &copied;
        CHECKF(d->n == mem.n && d->n_dropped == mem.n_dropped && d->clips.n == mem.n, "take %d: %zu clips", k, d->n);
        if (d->n != mem.n) continue;
        ser_feature_source_set_scaler(d->src, &id);
        int same = 1;
        for (uint32_t i = 0; same && i < mem.n; i++)
            same = !strcmp(d->clips.v[i].path, mem.clips.v[i].path) && d->y[i] == mem.y[i] &&
                   ser_feature_source_fill(d->src, &i, 1, x, &e) == 0 && !memcmp(x, mem.x + i * F, F * sizeof *x);
        CHECKF(same, "take %d: the kept clips differ from the in-memory split's", k);
    }
    free(x);
    ser_dataset_free(&mem), ser_dataset_free(&copied), ser_dataset_free(&taken);
    ser_feature_cache_close(&fc);
    ser_clips_free(&in);
    free(names);
}

int main(void) {
    char dir[TEST_DIR_MAX];
    ser_corpus c;
    if (test_synth_corpus(dir, "fcache", 2, &c) != 0) return 1;
    snprintf(cache_root, sizeof cache_root, "/tmp/ser_fcache_root_XXXXXX");
    if (!mkdtemp(cache_root)) return 1;
    ser_config cfg;
    ser_config_defaults(&cfg);
    const size_t n = c.clips.n, F = ser_features_per_clip(&cfg);
    char **paths = malloc(n * sizeof *paths);
    float *ref = malloc(n * F * sizeof *ref);
    unsigned char *ok = malloc(n), *rok = malloc(n);
    ser_feature_loc *loc = malloc(n * sizeof *loc);
    ser_error e = {{0}};
    for (size_t i = 0; i < n; i++) paths[i] = c.clips.v[i].path;
    /* two processes filling an empty cache at once: both succeed, a third fill finds all
     * (forked first: OpenMP's thread pool does not survive a fork) */
    ser_config conc = cfg;
    conc.features.n_mels = 96;
    pid_t kids[2];
    for (int k = 0; k < 2; k++)
        if ((kids[k] = fork()) == 0) {
            ser_feature_cache kfc;
            const int rc = fill(&kfc, &conc, paths, n, loc, ok);
            ser_feature_cache_close(&kfc);
            _exit(rc ? 1 : 0);
        }
    for (int k = 0; k < 2; k++) {
        int status = 0;
        CHECK(kids[k] > 0 && waitpid(kids[k], &status, 0) == kids[k] && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ser_feature_cache fc;
    float *ref_conc = malloc(n * F * sizeof *ref_conc);
    CHECK(ser_features_extract(&conc, paths, n, 2, ref_conc, rok, NULL, &e) == 0);
    CHECK(fill(&fc, &conc, paths, n, loc, ok) == 0);
    CHECK(fc.n_computed == 0 && fc.n_rebuilt == 0 && same_as(&fc, loc, ok, n, ref_conc));
    ser_feature_cache_close(&fc);
    CHECK(ser_features_extract(&cfg, paths, n, 2, ref, rok, NULL, &e) == 0);
    for (size_t i = 0; i < n; i++) CHECK(rok[i]);

    /* miss: every clip computed; then a hit in a fresh handle: nothing computed, same bits */
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    CHECKF(fc.n_computed == n, "first fill computed %zu of %zu", fc.n_computed, n);
    CHECK(same_as(&fc, loc, ok, n, ref));
    char dir1[512];
    snprintf(dir1, sizeof dir1, "%s", fc.dir);
    ser_feature_cache_close(&fc);
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    CHECKF(fc.n_computed == 0, "second fill computed %zu", fc.n_computed);
    CHECK(same_as(&fc, loc, ok, n, ref));
    ser_feature_cache_close(&fc);

    /* a key that changes the features: another folder, all computed; normalize does not */
    ser_config other = cfg;
    other.features.n_mels = 64;
    CHECK(fill(&fc, &other, paths, n, loc, ok) == 0);
    CHECK(fc.n_computed == n && strcmp(fc.dir, dir1) != 0);
    ser_feature_cache_close(&fc);
    other = cfg;
    other.features.normalize = 2;
    CHECK(fill(&fc, &other, paths, n, loc, ok) == 0);
    CHECK(fc.n_computed == 0 && !strcmp(fc.dir, dir1));
    ser_feature_cache_close(&fc);

    /* a clip touched (mtime) and another grown (size, its mtime put back): both miss */
    struct stat st;
    CHECK(stat(paths[1], &st) == 0);
    const struct timespec later[2] = {st.st_atim, {st.st_mtim.tv_sec + 5, st.st_mtim.tv_nsec}};
    CHECK(utimensat(AT_FDCWD, paths[1], later, 0) == 0);
    CHECK(stat(paths[2], &st) == 0);
    FILE *f = fopen(paths[2], "ab");
    CHECK(f && fwrite("\0\0\0\0", 1, 4, f) == 4 && fclose(f) == 0);
    const struct timespec same_time[2] = {st.st_atim, st.st_mtim};
    CHECK(utimensat(AT_FDCWD, paths[2], same_time, 0) == 0);
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    CHECKF(fc.n_computed == 2, "after touching one clip and growing another: %zu computed", fc.n_computed);
    ser_feature_cache_close(&fc);

    /* a listing twice: one record serves both */
    char **twice = malloc(2 * n * sizeof *twice);
    ser_feature_loc *loc2 = malloc(2 * n * sizeof *loc2);
    unsigned char *ok2 = malloc(2 * n);
    for (size_t i = 0; i < 2 * n; i++) twice[i] = paths[i % n];
    CHECK(fill(&fc, &cfg, twice, 2 * n, loc2, ok2) == 0);
    CHECK(fc.n_computed == 0 && ok2[n + 3] && loc2[n + 3].offset == loc2[3].offset && loc2[n + 3].seg == loc2[3].seg);
    ser_feature_cache_close(&fc);

    /* corrupted: one byte of a record's values flipped: the segment is deleted, its clips
     * computed again, the data read is the right one */
    CHECK(ser_features_extract(&cfg, paths, n, 2, ref, rok, NULL, &e) == 0); /* clips 1, 2 changed above */
    const int segs = count_segments(dir1);
    char seg[512];
    for (int k = 0; k < segs; k++) { /* the segment holding clip 0's record now */
        segment_path(dir1, k, seg, sizeof seg);
        CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
        const int holds = !strcmp(fc.seg_paths[loc[0].seg], seg);
        ser_feature_cache_close(&fc);
        if (holds) break;
    }
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    const uint64_t at = loc[0].offset + 24 + 100;
    ser_feature_cache_close(&fc);
    int fd = open(seg, O_RDWR);
    unsigned char byte = 0;
    CHECK(fd >= 0 && pread(fd, &byte, 1, (off_t)at) == 1);
    byte ^= 0x40;
    CHECK(pwrite(fd, &byte, 1, (off_t)at) == 1 && close(fd) == 0);
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    CHECKF(fc.n_rebuilt == 1 && fc.n_computed >= 1, "corrupted record: %zu rebuilt, %zu computed", fc.n_rebuilt,
           fc.n_computed);
    CHECK(access(seg, F_OK) != 0);
    CHECK(same_as(&fc, loc, ok, n, ref));
    ser_feature_cache_close(&fc);

    /* truncated: the last 10 bytes of the segment holding clip 0 cut */
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    snprintf(seg, sizeof seg, "%s", fc.seg_paths[loc[0].seg]);
    ser_feature_cache_close(&fc);
    CHECK(stat(seg, &st) == 0 && truncate(seg, st.st_size - 10) == 0);
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    CHECKF(fc.n_rebuilt == 1 && fc.n_computed >= 1, "truncated segment: %zu rebuilt, %zu computed", fc.n_rebuilt,
           fc.n_computed);
    CHECK(same_as(&fc, loc, ok, n, ref));
    ser_feature_cache_close(&fc);

    /* a damaged header (garbage over the magic) likewise */
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    snprintf(seg, sizeof seg, "%s", fc.seg_paths[loc[0].seg]);
    ser_feature_cache_close(&fc);
    fd = open(seg, O_RDWR);
    CHECK(fd >= 0 && pwrite(fd, "XXXX", 4, 0) == 4 && close(fd) == 0);
    CHECK(fill(&fc, &cfg, paths, n, loc, ok) == 0);
    CHECK(fc.n_rebuilt == 1 && fc.n_computed >= 1 && same_as(&fc, loc, ok, n, ref));
    ser_feature_cache_close(&fc);


    /* the batch reader equals the in-memory split, for every normalisation mode */
    for (int mode = 0; mode <= 2; mode++) check_source(&c, cfg, mode);
    check_dropped(&c, &cfg);

    free(paths), free(ref), free(ref_conc), free(ok), free(rok), free(loc), free(twice), free(loc2), free(ok2);
    ser_corpus_free(&c);
    test_synth_corpus_remove(dir);
    test_synth_corpus_remove(cache_root);
    return check_finish("feature_cache");
}
