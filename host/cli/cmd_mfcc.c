/* `ser mfcc`: MFCC features of audio files and folders into one .npy, the reference recipe
 * end to end (librosa.load(offset, duration) + librosa.feature.mfcc + pad/cut):
 *
 *   OUT.npy  float32 [N, n_mfcc + f0_rows, frames], unscaled
 *   OUT.txt  the N input paths, one per line, in the same order
 *
 * --device cpu: clips run in parallel (OpenMP, dynamic schedule), each thread with its own audio
 * buffer and ser_mfcc. --device cuda: CPU threads decode, the GPU computes the MFCC of batches
 * (ser_features_extract_cuda). auto (the default): cuda when a CUDA device is there, else cpu.
 * A file that fails is reported and left out (or stops everything with --strict). */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include "commands.h"
#include "config_args.h"
#include "ser/audio.h"
#include "ser/clock.h"
#include "ser/config.h"
#include "ser/cuda.h"
#include "ser/dir_walk.h"
#include "ser/features.h"
#include "ser/npy.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser mfcc [--config F] [--set section.key=value]... [--threads N] [--strict]\n"
            "                [--device auto|cpu|cuda] --out OUT.npy PATH...\n\n"
            "Computes librosa-exact MFCC features (librosa.load(path, sr, offset, duration) then\n"
            "librosa.feature.mfcc, padded with zeros / cut to features.frames) of every PATH:\n"
            "a file (taken whatever its name) or a folder (scanned recursively for .wav .aif .aiff\n"
            ".flac .ogg, any case, sorted by path; hidden files and folders skipped, links to files\n"
            "and folders followed: the rules of the corpus scan, include/ser/dir_walk.h).\n"
            "Writes OUT.npy, float32 [N, n_mfcc, frames],\n"
            "unscaled, and OUT.txt with the N paths in the same order. With features.f0_rows = K\n"
            "the K rows of log2 F0 (ser/pitch.h) follow: [N, n_mfcc + K, frames].\n\n"
            "  --config F        read the recipe from an .ini file (default: the reference recipe)\n"
            "  --set S.K=V       override one key, e.g. --set features.n_mfcc=20 (repeatable)\n"
            "  --out OUT.npy     output file (OUT.txt is written beside it)\n"
            "  --threads N       worker threads (default: OMP_NUM_THREADS or all cores)\n"
            "  --device D        where the MFCC is computed: cpu, cuda (decoding stays on the CPU\n"
            "                    threads), or auto = cuda when a CUDA device is there (default)\n"
            "  --strict          any file that fails is fatal (default: report it and skip it)\n");
}

/* ---- the input list ------------------------------------------------------------------------ */

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static int list_push(path_list *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static void list_free(path_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

/* Files as given, folders expanded (ser_dir_list: the audio files below, hidden entries
 * skipped, links followed, sorted by path), in argument order. */
static int collect_inputs(char **paths, int n, path_list *l, ser_error *err) {
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) return ser_fail(err, "%s: %s", paths[i], strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            char **found = NULL;
            size_t n_found = 0;
            if (ser_dir_list(paths[i], SER_AUDIO_EXTENSIONS, &found, &n_found, err) != 0) return -1;
            int rc = 0;
            for (size_t k = 0; !rc && k < n_found; k++)
                if (list_push(l, found[k]) != 0) rc = ser_fail(err, "%s: out of memory", paths[i]);
            ser_dir_list_free(found, n_found);
            if (rc) return -1;
        } else if (list_push(l, paths[i]) != 0) {
            return ser_fail(err, "%s: out of memory", paths[i]);
        }
    }
    return 0;
}

/* ---- output -------------------------------------------------------------------------------- */

/* OUT.npy -> OUT.txt (or OUT + ".txt" when OUT does not end in .npy). */
static char *txt_path(const char *out) {
    const size_t n = strlen(out);
    char *p = malloc(n + 5);
    if (!p) return NULL;
    strcpy(p, out);
    if (n > 4 && !strcasecmp(p + n - 4, ".npy")) strcpy(p + n - 4, ".txt");
    else strcat(p, ".txt");
    return p;
}

static int write_lines(const char *path, char **lines, const unsigned char *keep, size_t n, ser_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ser_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return ser_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        if (keep[i]) ok &= fprintf(f, "%s\n", lines[i]) >= 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ser_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return 0;
}

/* ---- the command --------------------------------------------------------------------------- */

int cmd_mfcc(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const double t_start = ser_now_s();
    const char *out = NULL, *device = "auto";
    int strict = 0, threads = 0, n_inputs = 0;
    cli_config_args ca;
    if (cli_config_args_init(&ca, argc, "ser mfcc") != 0) return 1;
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) {
        fprintf(stderr, "ser mfcc: out of memory\n");
        cli_config_args_free(&ca);
        return 1;
    }
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has_next = i + 1 < argc;
        const int got = a[0] == '-' && a[1] == '-' ? cli_config_arg(&ca, argc, argv, &i, "ser mfcc") : 0;
        if (got < 0) goto done;
        if (got) continue;
        if (!strcmp(a, "--out") && has_next) out = argv[++i];
        else if (!strcmp(a, "--device") && has_next) {
            device = argv[++i];
            if (strcmp(device, "auto") && strcmp(device, "cpu") && strcmp(device, "cuda")) {
                fprintf(stderr, "ser mfcc: --device %s: not a device (auto, cpu or cuda)\n", device);
                goto done;
            }
        }
        else if (!strcmp(a, "--threads") && has_next) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > 1024) {
                fprintf(stderr, "ser mfcc: --threads %s: not a thread count (1..1024)\n", argv[i]);
                goto done;
            }
            threads = (int)t;
        } else if (!strcmp(a, "--strict")) strict = 1;
        else if (!strcmp(a, "--")) {
            while (++i < argc) inputs[n_inputs++] = argv[i];
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "ser mfcc: unknown option or missing value: %s\n", a);
            usage(stderr);
            goto done;
        } else inputs[n_inputs++] = argv[i];
    }
    if (!out || n_inputs == 0) {
        fprintf(stderr, "ser mfcc: %s\n", !out ? "--out OUT.npy is required" : "no input PATH given");
        usage(stderr);
        goto done;
    }

    /* The backend, before any work: --device cuda without a device is a usage error. */
    char cuda_desc[256];
    const int n_cuda = strcmp(device, "cpu") ? ser_cuda_devices(cuda_desc, sizeof cuda_desc) : 0;
    if (!strcmp(device, "cuda") && n_cuda < 1) {
        fprintf(stderr, "ser mfcc: --device cuda: %s\n", cuda_desc);
        goto done;
    }
    const int use_cuda = n_cuda > 0;

    ser_config cfg;
    ser_error err = {{0}};
    rc = 1;
    if (cli_config_resolve(&ca, &cfg, &err) != 0) goto fail;
    if (ser_config_validate(&cfg, &err) != 0) goto fail;

    path_list files = {0};
    if (collect_inputs(inputs, n_inputs, &files, &err) != 0) {
        list_free(&files);
        goto fail;
    }
    if (files.n == 0) {
        fprintf(stderr, "ser mfcc: no audio files (.wav .aif .aiff .flac .ogg) under the given paths\n");
        list_free(&files);
        goto done;
    }

    const size_t per_clip = ser_features_per_clip(&cfg);
    const size_t n = files.n;
    float *feats = malloc(n * per_clip * sizeof *feats);
    unsigned char *ok = calloc(n, 1);
    char **why = calloc(n, sizeof *why);
    if (!feats || !ok || !why) {
        fprintf(stderr, "ser mfcc: out of memory for %zu clips\n", n);
        free(feats), free(ok), free(why), list_free(&files);
        goto done;
    }
    if (threads == 0) threads = omp_get_max_threads();
    if ((size_t)threads > n) threads = (int)n;
    if (use_cuda) fprintf(stderr, "ser mfcc: MFCC on cuda (%s), decoding on %d threads\n", cuda_desc, threads);
    else fprintf(stderr, "ser mfcc: MFCC on cpu, %d threads\n", threads);
    const double t0 = ser_now_s();
    if ((use_cuda ? ser_features_extract_cuda : ser_features_extract)(&cfg, files.v, n, threads, feats, ok, why,
                                                                      &err) != 0) {
        free(feats), free(ok), free(why), list_free(&files);
        goto fail;
    }
    const double secs = ser_now_s() - t0;

    size_t kept = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (ok[i]) {
            if (kept != i) memcpy(feats + kept * per_clip, feats + i * per_clip, per_clip * sizeof *feats);
            kept++;
        } else {
            fprintf(stderr, "ser mfcc: %s: %s\n", strict ? "error" : "skipped", why[i] ? why[i] : files.v[i]);
            skipped++;
        }
    }
    if ((strict && skipped) || kept == 0) {
        fprintf(stderr, "ser mfcc: %zu of %zu files failed%s; nothing written\n", skipped, n,
                strict ? " (--strict)" : "");
    } else {
        const size_t shape[3] = {kept, (size_t)ser_config_rows(&cfg), (size_t)cfg.features.frames};
        char *txt = txt_path(out);
        if (ser_npy_write(out, feats, 3, shape, &err) != 0 || !txt || write_lines(txt, files.v, ok, n, &err) != 0) {
            fprintf(stderr, "ser mfcc: %s\n", txt ? err.msg : "out of memory");
        } else {
            const double total = ser_now_s() - t_start;
            fprintf(stderr,
                    "ser mfcc: %zu clips, features in %.2f s (%.1f clips/s, %s, %d threads), %.2f s in all "
                    "(%.1f clips/s) -> %s [%zu, %d, %d], %s\n",
                    kept, secs, kept / secs, use_cuda ? "cuda" : "cpu", threads, total, kept / total, out, kept, ser_config_rows(&cfg),
                    cfg.features.frames, txt);
            if (skipped) fprintf(stderr, "ser mfcc: %zu files skipped (listed above)\n", skipped);
            rc = 0;
        }
        free(txt);
    }
    for (size_t i = 0; i < n; i++) free(why[i]);
    free(why), free(ok), free(feats);
    list_free(&files);
    goto done;
fail:
    fprintf(stderr, "ser mfcc: %s\n", err.msg);
done:
    cli_config_args_free(&ca);
    free(inputs);
    return rc;
}
