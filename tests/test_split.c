/* Splits and manifests: numpy/sklearn equality of the generator and the splits (expected values
 * made by the Python lines quoted beside them), determinism, per-folder counts, no overlap,
 * union = all, speaker independence, manifest round trip and bad-line errors. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/corpus.h"
#include "ser/split.h"

static char g_tmp[256];

static void test_mt19937(void) {
    ser_mt19937 r;
    ser_mt19937_seed(&r, 5489); /* the reference MT19937 default seed: first output 3499211612 */
    CHECK(ser_mt19937_next(&r) == 3499211612u);
    /* np.random.RandomState(42).get_state()[1][:3] -> [42 3107752595 1895908407] */
    ser_mt19937_seed(&r, 42);
    CHECK(r.mt[0] == 42 && r.mt[1] == 3107752595u && r.mt[2] == 1895908407u);

    size_t p[2000];
    /* np.random.RandomState(42).permutation(10) -> [8 1 5 0 7 2 9 4 3 6] */
    static const size_t P10[10] = {8, 1, 5, 0, 7, 2, 9, 4, 3, 6};
    ser_mt19937_seed(&r, 42);
    ser_mt19937_permutation(&r, p, 10);
    CHECK(!memcmp(p, P10, sizeof P10));
    /* np.random.RandomState(42).permutation(2000)[:8] -> [1860 353 1333 905 1289 1273 938 1731] */
    static const size_t P2000[8] = {1860, 353, 1333, 905, 1289, 1273, 938, 1731};
    ser_mt19937_seed(&r, 42);
    ser_mt19937_permutation(&r, p, 2000);
    CHECK(!memcmp(p, P2000, sizeof P2000));
    /* np.random.RandomState(0).permutation(7) -> [6 2 1 3 0 5 4] */
    static const size_t P7[7] = {6, 2, 1, 3, 0, 5, 4};
    ser_mt19937_seed(&r, 0);
    ser_mt19937_permutation(&r, p, 7);
    CHECK(!memcmp(p, P7, sizeof P7));
}

/* groups a (12 clips) and b (9 clips), paths /c/<g>/NN.wav; speakers s0/s1 alternating. */
static void make_clips(ser_clips *c) {
    ser_error err;
    char path[64], spk[8];
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < (g ? 9 : 12); i++) {
            snprintf(path, sizeof path, "/c/%c/%02d.wav", 'a' + g, i);
            snprintf(spk, sizeof spk, "s%d", i % 2);
            SER_ASSERT(!ser_clips_push(c, path, i % 3 ? "happy" : "sad", spk, g ? "b" : "a", &err));
        }
}

static int list_is(const ser_clips *c, const size_t *idx, size_t n, const char *const *want, size_t nw) {
    if (n != nw) return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->v[idx[i]].path, want[i])) return 0;
    return 1;
}

static void test_sklearn_equal(void) {
    /* Python (numpy 2.4, scikit-learn 1.9), same clips:
     *   rng = np.random.RandomState(7); test = []
     *   for g in ['a', 'b']: cg = clips of g; test += [cg[i] for i in rng.permutation(len(cg))[:3]]
     *   rest = [p for p in clips if p not in test]
     *   tr, va = train_test_split(rest, test_size=0.25, random_state=7) */
    static const char *const TEST[] = {"/c/a/02.wav", "/c/a/07.wav", "/c/a/10.wav",
                                       "/c/b/01.wav", "/c/b/02.wav", "/c/b/05.wav"};
    static const char *const VAL[] = {"/c/a/11.wav", "/c/a/06.wav", "/c/b/03.wav", "/c/a/03.wav"};
    static const char *const TRAIN[] = {"/c/b/06.wav", "/c/a/00.wav", "/c/a/01.wav", "/c/b/08.wav",
                                        "/c/b/07.wav", "/c/a/09.wav", "/c/b/04.wav", "/c/a/04.wav",
                                        "/c/a/08.wav", "/c/b/00.wav", "/c/a/05.wav"};
    ser_clips c = {0};
    make_clips(&c);
    ser_split s;
    ser_error err;
    ser_split_opts o = {.per_folder = 3, .val_fraction = 0.25, .seed = 7};
    int rc = ser_split_make(&c, &o, &s, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (!rc) {
        CHECK(list_is(&c, s.test, s.n_test, TEST, 6));
        CHECK(list_is(&c, s.val, s.n_val, VAL, 4));
        CHECK(list_is(&c, s.train, s.n_train, TRAIN, 11));
        ser_split_free(&s);
    }
    ser_clips_free(&c);
}

/* Every index exactly once over train + val + test. */
static int partition_ok(const ser_split *s, size_t n) {
    unsigned char *seen = calloc(n, 1);
    int ok = s->n_train + s->n_val + s->n_test == n;
    const size_t *l[3] = {s->train, s->val, s->test};
    size_t k[3] = {s->n_train, s->n_val, s->n_test};
    for (int j = 0; j < 3 && ok; j++)
        for (size_t i = 0; i < k[j] && ok; i++) {
            ok = l[j][i] < n && !seen[l[j][i]];
            if (ok) seen[l[j][i]] = 1;
        }
    free(seen);
    return ok;
}

static int same_split(const ser_split *a, const ser_split *b) {
    return a->n_train == b->n_train && a->n_val == b->n_val && a->n_test == b->n_test &&
           !memcmp(a->train, b->train, a->n_train * sizeof(size_t)) &&
           !memcmp(a->val, b->val, a->n_val * sizeof(size_t)) &&
           !memcmp(a->test, b->test, a->n_test * sizeof(size_t));
}

static void test_per_folder(void) {
    /* 3 groups x 50 clips, pushed in scrambled order: the split must not depend on it. */
    ser_clips c = {0};
    ser_error err;
    char path[64], grp[8];
    for (int i = 0; i < 150; i++) {
        int k = (i * 37) % 150; /* 37 is coprime with 150: a permutation */
        snprintf(path, sizeof path, "/x/g%d/%03d.wav", k % 3, k);
        snprintf(grp, sizeof grp, "g%d", k % 3);
        SER_ASSERT(!ser_clips_push(&c, path, "angry", "", grp, &err));
    }
    ser_split a, b, d;
    ser_split_opts o = {.per_folder = 10, .val_fraction = 0.125, .seed = 42};
    CHECK(ser_split_make(&c, &o, &a, &err) == 0);
    CHECK(a.n_test == 30 && a.n_val == 15 && a.n_train == 105); /* val = ceil(0.125 * 120) */
    CHECK(partition_ok(&a, c.n));
    int per[3] = {0, 0, 0};
    for (size_t i = 0; i < a.n_test; i++) per[c.v[a.test[i]].group[1] - '0']++;
    CHECK(per[0] == 10 && per[1] == 10 && per[2] == 10);
    for (size_t i = 1; i < a.n_test; i++) CHECK(strcmp(c.v[a.test[i - 1]].path, c.v[a.test[i]].path) < 0);
    CHECK(ser_split_make(&c, &o, &b, &err) == 0);
    CHECK(same_split(&a, &b));
    o.seed = 43;
    CHECK(ser_split_make(&c, &o, &d, &err) == 0);
    CHECK(!same_split(&a, &d) && partition_ok(&d, c.n));
    ser_split_free(&b), ser_split_free(&d);

    /* No validation, no test. */
    o.val_fraction = 0, o.per_folder = 0;
    CHECK(ser_split_make(&c, &o, &d, &err) == 0);
    CHECK(d.n_test == 0 && d.n_val == 0 && d.n_train == 150 && partition_ok(&d, c.n));
    ser_split_free(&d);
    /* ceil: 0.1 of 150 = 15, 0.01 of 150 = 1.5 -> 2 */
    o.val_fraction = 0.01;
    CHECK(ser_split_make(&c, &o, &d, &err) == 0 && d.n_val == 2);
    ser_split_free(&d);

    /* Errors: a group too small, a fraction out of range. */
    o.per_folder = 50;
    CHECK(ser_split_make(&c, &o, &d, &err) == -1 && strstr(err.msg, "group 'g0' has 50 clips"));
    o.per_folder = 10, o.val_fraction = 1.0;
    CHECK(ser_split_make(&c, &o, &d, &err) == -1 && strstr(err.msg, "out of range"));
    ser_split_free(&a);
    ser_clips_free(&c);
}

static void test_speakers(void) {
    ser_clips c = {0};
    make_clips(&c);
    ser_error err;
    ser_split s;
    const char *spk[] = {"s1"};
    ser_split_opts o = {.test_speakers = spk, .n_test_speakers = 1, .per_folder = 40, .val_fraction = 0.125, .seed = 42};
    CHECK(ser_split_make(&c, &o, &s, &err) == 0);
    CHECK(s.n_test == 10 && partition_ok(&s, c.n)); /* s1 = odd indices: 6 in a, 4 in b */
    for (size_t i = 0; i < s.n_test; i++) CHECK(!strcmp(c.v[s.test[i]].speaker, "s1"));
    for (size_t i = 0; i < s.n_train; i++) CHECK(!strcmp(c.v[s.train[i]].speaker, "s0"));
    for (size_t i = 0; i < s.n_val; i++) CHECK(!strcmp(c.v[s.val[i]].speaker, "s0"));
    CHECK(s.n_val == 2); /* ceil(0.125 * 11) */
    ser_split_free(&s);
    const char *bad[] = {"s9"};
    o.test_speakers = bad;
    CHECK(ser_split_make(&c, &o, &s, &err) == -1 && strstr(err.msg, "'s9'"));
    const char *all[] = {"s0", "s1"};
    o.test_speakers = all, o.n_test_speakers = 2;
    CHECK(ser_split_make(&c, &o, &s, &err) == -1 && strstr(err.msg, "no clips left to train"));

    /* Two corpora: the clips of group "b" are corpus "crema", the rest "tess"; s1 is in both. */
    for (size_t i = 0; i < c.n; i++) CHECK(ser_clip_set_corpus(&c.v[i], strcmp(c.v[i].group, "b") ? "tess" : "crema", &err) == 0);
    o.test_speakers = spk, o.n_test_speakers = 1;
    CHECK(ser_split_make(&c, &o, &s, &err) == -1);
    CHECKF(strstr(err.msg, "'s1' is in two corpora") && strstr(err.msg, "crema:s1"), "%s", err.msg);
    const char *q[] = {"crema:s1"};
    o.test_speakers = q;
    CHECKF(ser_split_make(&c, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n_test == 4 && partition_ok(&s, c.n)); /* s1 in b */
    for (size_t i = 0; i < s.n_test; i++)
        CHECK(!strcmp(c.v[s.test[i]].speaker, "s1") && !strcmp(c.v[s.test[i]].corpus, "crema"));
    ser_split_free(&s);
    const char *nocorp[] = {"ravdess:s1"}; /* no such corpus: a plain id "ravdess:s1", not found */
    o.test_speakers = nocorp;
    CHECK(ser_split_make(&c, &o, &s, &err) == -1 && strstr(err.msg, "'ravdess:s1' has no clips"));
    ser_clips_free(&c);
}

static void test_sklearn_range(void) {
    /* train_test_split(list(range(20)), test_size=0.125, random_state=42)
     * -> test [0, 17, 15], train [1, 8, 5, 11, 3, 18, 16, 13, 2, 9, 19, 4, 12, 7, 10, 14, 6] */
    static const size_t VAL[3] = {0, 17, 15};
    static const size_t TRAIN[17] = {1, 8, 5, 11, 3, 18, 16, 13, 2, 9, 19, 4, 12, 7, 10, 14, 6};
    ser_clips c = {0};
    ser_error err;
    char p[64];
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof p, "/c/p%02d.wav", i);
        SER_ASSERT(!ser_clips_push(&c, p, "angry", "", "g", &err));
    }
    ser_split s;
    ser_split_opts o = {.per_folder = 0, .val_fraction = 0.125, .seed = 42};
    CHECKF(ser_split_make(&c, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n_test == 0 && s.n_val == 3 && s.n_train == 17);
    CHECK(s.n_val == 3 && !memcmp(s.val, VAL, sizeof VAL));
    CHECK(s.n_train == 17 && !memcmp(s.train, TRAIN, sizeof TRAIN));
    ser_split_free(&s);
    /* ceil(0.999 * 20) = 20: nothing left to train on. */
    o.val_fraction = 0.999;
    CHECK(ser_split_make(&c, &o, &s, &err) == -1 && strstr(err.msg, "none to train"));
    ser_clips_free(&c);
}

/* The real TESS copy: the reference protocol's counts (2238 clips, 14 folders). */
static int test_shared(void) {
    const char *data = check_shared_data();
    if (!data) return 0;
    char p[1024];
    snprintf(p, sizeof p, "%s/tess", data);
    ser_corpus c;
    ser_error err;
    int rc = ser_corpus_scan(p, SER_CORPUS_TESS, 1, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return 1;
    ser_split s;
    ser_split_opts o = {.per_folder = 40, .val_fraction = 0.125, .seed = 42};
    CHECKF(ser_split_make(&c.clips, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(partition_ok(&s, c.clips.n));
    CHECKF(s.n_test == 560 && s.n_val == 210 && s.n_train == 1468, "%zu %zu %zu", s.n_train, s.n_val, s.n_test);
    ser_split_free(&s);
    const char *spk[1] = {"YAF"};
    o = (ser_split_opts){.test_speakers = spk, .n_test_speakers = 1, .val_fraction = 0.125, .seed = 42};
    CHECK(ser_split_make(&c.clips, &o, &s, &err) == 0);
    CHECK(s.n_test == 1119 && s.n_val == 140 && s.n_train == 979); /* val = ceil(0.125 * 1119) */
    ser_split_free(&s);
    ser_corpus_free(&c);
    return 1;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    SER_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

static void expect_bad(const char *text, const char *want) {
    char p[512];
    snprintf(p, sizeof p, "%s/bad.tsv", g_tmp);
    write_text(p, text);
    ser_clips c = {0};
    ser_error err;
    int rc = ser_manifest_read(p, &c, &err);
    CHECKF(rc == -1 && strstr(err.msg, want), "'%s' -> %s", want, rc ? err.msg : "accepted");
    ser_clips_free(&c);
}

static void test_manifest(void) {
    ser_clips c = {0};
    make_clips(&c);
    ser_error err;
    char p[512];
    snprintf(p, sizeof p, "%s/m.tsv", g_tmp);
    size_t idx[3] = {5, 0, 20};
    /* clip 5 names its corpus, the others leave it "": both come back as written */
    CHECK(ser_clip_set_corpus(&c.v[5], "ravdess", &err) == 0);
    CHECK(ser_manifest_write(p, c.v, idx, 3, &err) == 0);
    /* Atomic write leaves no temp file behind. */
    DIR *d = opendir(g_tmp);
    int stray = 0;
    for (struct dirent *e; d && (e = readdir(d));) stray |= strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    CHECK(!stray);
    ser_clips r = {0};
    CHECK(ser_manifest_read(p, &r, &err) == 0);
    CHECK(r.n == 3);
    for (size_t i = 0; i < 3 && r.n == 3; i++) {
        const ser_clip *a = &c.v[idx[i]], *b = &r.v[i];
        CHECK(!strcmp(a->path, b->path) && !strcmp(a->label, b->label) && !strcmp(a->speaker, b->speaker));
        CHECK(!strcmp(a->group, b->group));
        CHECKF(!strcmp(a->corpus, b->corpus), "corpus '%s' read back as '%s'", a->corpus, b->corpus);
    }
    CHECK(r.n == 3 && !strcmp(r.v[0].corpus, "ravdess") && !strcmp(r.v[1].corpus, ""));
    ser_clips_free(&r);

    /* The exact text: one header line, 5 fields a line. */
    CHECK(ser_manifest_write(p, c.v, idx, 2, &err) == 0);
    FILE *f = fopen(p, "r");
    char text[512] = {0};
    CHECK(f && fread(text, 1, sizeof text - 1, f) > 0);
    if (f) fclose(f);
    CHECKF(!strcmp(text, "# path\tlabel\tspeaker\tgroup\tcorpus\n/c/a/05.wav\thappy\ts1\ta\travdess\n/c/a/00.wav\tsad\ts0\ta\t\n"),
           "%s", text);

    /* Header, blank lines, CRLF, empty speaker, a relative path (resolved against the folder),
     * 3-field lines (hand-written: group ""). */
    write_text(p, "# path\tlabel\tspeaker\n/a/x.wav\tangry\tOAF\r\n\nrel/y.wav\tboredom\t\n/z.wav\tsad\tB\tG1\n");
    CHECK(ser_manifest_read(p, &r, &err) == 0 && r.n == 3);
    if (r.n == 3) {
        CHECK(!strcmp(r.v[0].group, "") && !strcmp(r.v[2].group, "G1") && !strcmp(r.v[2].speaker, "B"));
        CHECK(!strcmp(r.v[0].speaker, "OAF") && !strcmp(r.v[0].label, "angry"));
        char want[600];
        snprintf(want, sizeof want, "%s/rel/y.wav", g_tmp);
        CHECKF(!strcmp(r.v[1].path, want), "%s", r.v[1].path);
        CHECK(!strcmp(r.v[1].speaker, "") && !strcmp(r.v[1].label, "boredom"));
    }
    ser_clips_free(&r);

    /* an old 4-column manifest (before the corpus column): corpus "" */
    write_text(p, "# path\tlabel\tspeaker\tgroup\n/a/x.wav\tangry\tOAF\tOAF_angry\n/b.wav\tsad\tB\tG1\tcremad\n");
    CHECK(ser_manifest_read(p, &r, &err) == 0 && r.n == 2);
    if (r.n == 2) {
        CHECK(!strcmp(r.v[0].group, "OAF_angry") && !strcmp(r.v[0].corpus, ""));
        CHECK(!strcmp(r.v[1].group, "G1") && !strcmp(r.v[1].corpus, "cremad"));
    }
    ser_clips_free(&r);

    expect_bad("# h\n/a.wav\tangry\tX\tg\n/b.wav\tangry\n", "bad.tsv:3: expected 5 tab-separated fields");
    expect_bad("/a.wav\tangry\tX\tg\tc\textra\n", "bad.tsv:1: expected 5 tab-separated fields (path, label, speaker, group, corpus");
    expect_bad("/a.wav\tangry\tX\tg\tc\textra\n", "found more");
    expect_bad("/a.wav angry X\n", "bad.tsv:1: expected 5");
    expect_bad("\tangry\tX\n", "bad.tsv:1: empty path");
    expect_bad("# h\n/a.wav\t\tX\n", "bad.tsv:2: empty label");
    snprintf(p, sizeof p, "%s/none.tsv", g_tmp);
    CHECK(ser_manifest_read(p, &r, &err) == -1 && strstr(err.msg, "none.tsv") && strstr(err.msg, "cannot open"));

    /* A field with a tab cannot be written; a missing folder is named. */
    ser_clip bad = {"/a\tb.wav", "angry", "", "", ""};
    snprintf(p, sizeof p, "%s/w.tsv", g_tmp);
    CHECK(ser_manifest_write(p, &bad, NULL, 1, &err) == -1 && strstr(err.msg, "tab or newline"));
    snprintf(p, sizeof p, "%s/no/such/dir/w.tsv", g_tmp);
    CHECK(ser_manifest_write(p, c.v, NULL, 1, &err) == -1 && strstr(err.msg, "no/such/dir/w.tsv"));
    ser_clips_free(&c);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ser_test_split_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_mt19937();
    test_sklearn_equal();
    test_per_folder();
    test_speakers();
    test_manifest();
    test_sklearn_range();
    int shared = test_shared();
    if (!shared) printf("note: ../shared/data absent, the real TESS split is not run\n");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_tmp);
    return check_finish("split");
}
