/* ser split: scan a corpus, split it (reference per-folder test set or speaker-independent),
 * write OUTDIR/train.tsv, val.tsv, test.tsv; --copy also links/copies the test clips into
 * OUTDIR/test/<group>/ as the reference does by hand. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "data_args.h"
#include "ser/corpus.h"
#include "ser/mkdir_p.h"
#include "ser/split.h"

void cli_print_corpus_summary(const ser_corpus *c); /* host/cli/cmd_scan.c */

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser split --data DIR [--corpus K] [--data DIR2 ...] --out OUTDIR [--per-folder N] [--val F]\n"
            "                 [--test-speakers A,B] [--labels L,...] [--label-map A=B] [--seed S] [--copy] [--strict]\n"
            "  Writes OUTDIR/train.tsv, val.tsv, test.tsv (path<TAB>label<TAB>speaker<TAB>group<TAB>corpus).\n"
            "  --per-folder N       test = N clips of every corpus folder, seeded (default 40, as the\n"
            "                       reference); 0 = no test set. With several corpora a folder is\n"
            "                       corpus/folder (two corpora may have folders of one name)\n"
            "  --test-speakers A,B  speaker-independent: test = every clip of these speakers; with\n"
            "                       several corpora CORPUS:SPEAKER (ravdess:01) names one corpus's\n"
            "                       speaker, and a plain id found in two corpora is an error\n"
            "  --val F              validation fraction of the rest, as sklearn train_test_split\n"
            "                       (test_size=F, random_state=S) (default 0.125; 0 = none)\n"
            "  --seed S             0..4294967295 (default 42, as the reference)\n"
            "%s"
            "  --copy               also hard-link (else copy) the test clips into OUTDIR/test/<group>/\n"
            "                       (test.tsv still names the original paths)\n"
            "  --strict             fail when any audio file cannot be labelled\n",
            CLI_DATA_HELP);
}

static int copy_file(const char *src, const char *dst, ser_error *err) {
    if (!link(src, dst)) return 0;
    int in = open(src, O_RDONLY);
    if (in < 0) return ser_fail(err, "%s: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (out < 0) {
        close(in);
        return ser_fail(err, "%s: %s", dst, strerror(errno));
    }
    char buf[1 << 16];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0) {
                rc = ser_fail(err, "%s: write: %s", dst, strerror(errno));
                break;
            }
            off += w;
        }
        if (rc) break;
    }
    if (!rc && r < 0) rc = ser_fail(err, "%s: read: %s", src, strerror(errno));
    close(in);
    if (close(out) && !rc) rc = ser_fail(err, "%s: close: %s", dst, strerror(errno));
    if (rc) unlink(dst);
    return rc;
}

static int copy_test(const char *outdir, const ser_clips *clips, const ser_split *s, ser_error *err) {
    char dir[4096], dst[4096];
    snprintf(dir, sizeof dir, "%s/test", outdir);
    struct stat st;
    if (!stat(dir, &st)) return ser_fail(err, "%s already exists: remove it or choose another --out", dir);
    for (size_t i = 0; i < s->n_test; i++) {
        const ser_clip *c = &clips->v[s->test[i]];
        const char *base = strrchr(c->path, '/');
        base = base ? base + 1 : c->path;
        if (snprintf(dir, sizeof dir, "%s/test/%s", outdir, c->group) >= (int)sizeof dir ||
            snprintf(dst, sizeof dst, "%s/%s", dir, base) >= (int)sizeof dst)
            return ser_fail(err, "%s: destination path too long", c->path);
        if (ser_mkdir_p(dir, err) || copy_file(c->path, dst, err)) return -1;
    }
    return 0;
}

/* Splits "A,B" into a NULL-free list (pointers into s, which is modified). */
static size_t split_list(char *s, const char **v, size_t max) {
    size_t n = 0;
    for (char *p = strtok(s, ","); p && n < max; p = strtok(NULL, ",")) v[n++] = p;
    return n;
}

int cmd_split(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *out = NULL, *seed_s = NULL;
    char *speakers = NULL;
    int copy = 0, strict = 0, per_folder_given = 0;
    cli_data d;
    cli_data_init(&d);
    ser_split_opts o = {.per_folder = 40, .val_fraction = 0.125};
    ser_error err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--copy")) {
            copy = 1;
            continue;
        }
        if (!strcmp(a, "--strict")) {
            strict = 1;
            continue;
        }
        const int got = cli_data_arg(&d, argc, argv, &i, "ser split");
        if (got < 0) return 2;
        if (got) continue;
        static const char *const WITH_VALUE[] = {"--per-folder", "--val", "--test-speakers", "--seed", "--out"};
        const char *key = NULL, *v = NULL;
        for (size_t k = 0; k < sizeof WITH_VALUE / sizeof WITH_VALUE[0]; k++) {
            size_t kl = strlen(WITH_VALUE[k]);
            if (!strncmp(a, WITH_VALUE[k], kl) && (a[kl] == 0 || a[kl] == '=')) {
                key = WITH_VALUE[k];
                v = a[kl] == '=' ? a + kl + 1 : (i + 1 < argc ? argv[++i] : NULL);
            }
        }
        if (!key) {
            fprintf(stderr, "ser split: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "ser split: %s needs a value\n", key);
            return 2;
        }
        char *end = NULL;
        errno = 0;
        if (!strcmp(key, "--out")) out = v;
        else if (!strcmp(key, "--seed")) seed_s = v;
        else if (!strcmp(key, "--test-speakers")) speakers = (char *)v;
        else if (!strcmp(key, "--per-folder")) {
            long n = strtol(v, &end, 10);
            if (errno || end == v || *end || n < 0 || n > 1000000) {
                fprintf(stderr, "ser split: --per-folder '%s': expected a count >= 0\n", v);
                return 2;
            }
            o.per_folder = (int)n, per_folder_given = 1;
        } else if (!strcmp(key, "--val")) {
            double f = strtod(v, &end);
            if (errno || end == v || *end || !(f >= 0.0 && f < 1.0)) {
                fprintf(stderr, "ser split: --val '%s': expected a fraction in [0, 1)\n", v);
                return 2;
            }
            o.val_fraction = f;
        }
    }
    if (!seed_s) seed_s = "42";
    if (!d.n || !out) {
        fprintf(stderr, "ser split: --data and --out are required\n");
        usage(stderr);
        return 2;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long seed = strtoull(seed_s, &end, 10);
    if (errno || end == seed_s || *end || seed_s[0] == '-' || seed > 0xffffffffull) {
        fprintf(stderr, "ser split: --seed '%s': expected an integer in 0..4294967295\n", seed_s);
        return 2;
    }
    o.seed = (uint32_t)seed;
    if (cli_data_finish(&d, "ser split") != 0) return 2;
    const char *data = d.src[0].dir;
    const char *spk_list[256];
    if (speakers) {
        if (per_folder_given) {
            fprintf(stderr, "ser split: --per-folder and --test-speakers exclude each other\n");
            return 2;
        }
        o.n_test_speakers = split_list(speakers, spk_list, 256);
        o.test_speakers = spk_list;
        if (!o.n_test_speakers) {
            fprintf(stderr, "ser split: --test-speakers: no speaker named\n");
            return 2;
        }
    }

    ser_corpus_set set;
    if (ser_corpus_set_scan(d.src, d.n, strict, d.any_rules ? &d.rules : NULL, &set, &err)) {
        fprintf(stderr, "ser split: %s\n", err.msg);
        return 1;
    }
    for (size_t k = 0; k < set.n; k++) cli_print_corpus_summary(&set.corpora[k]);
    if (set.n > 1 || set.n_dropped || set.n_loose) cli_data_print(&set, 0, stderr, "ser split");
    const ser_clips *clips = &set.clips;
    ser_split s;
    int rc = 1;
    char path[4096];
    if (ser_split_make(clips, &o, &s, &err)) {
        fprintf(stderr, "ser split: %s%s: %s\n", data, d.n > 1 ? " ..." : "", err.msg);
        goto done;
    }
    if (ser_mkdir_p(out, &err)) goto fail;
    static const char *const NAMES[3] = {"train.tsv", "val.tsv", "test.tsv"};
    const size_t *idx[3] = {s.train, s.val, s.test};
    const size_t cnt[3] = {s.n_train, s.n_val, s.n_test};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", out, NAMES[k]);
        if (ser_manifest_write(path, clips->v, idx[k], cnt[k], &err)) goto fail;
    }
    if (copy && copy_test(out, clips, &s, &err)) goto fail;
    fprintf(stderr, "split (seed %u, %s): train %zu, val %zu, test %zu -> %s/{train,val,test}.tsv%s\n", o.seed,
            o.n_test_speakers ? "speaker-independent" : "per folder", s.n_train, s.n_val, s.n_test, out,
            copy ? " + test/" : "");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ser split: %s\n", err.msg);
done:
    ser_split_free(&s);
    ser_corpus_set_free(&set);
    return rc;
}
