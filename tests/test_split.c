/* Splits and manifests: the generator equals numpy's RandomState and the validation split
 * equals sklearn's train_test_split (values printed by Python, quoted below); per-folder test
 * counts, determinism, no overlap, union = all, speaker independence, errors; manifest round
 * trip and bad lines named FILE:LINE; the real TESS split when ../shared/data is present. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/corpus.h"
#include "ser/split.h"

static void push(ser_clips *cl, const char *path, const char *label, const char *spk, const char *group) {
    ser_error err;
    if (ser_clips_push(cl, path, label, spk, group, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
}

static int same_idx(const size_t *a, const size_t *b, size_t n) {
    return n == 0 || !memcmp(a, b, n * sizeof *a);
}

/* Every clip in exactly one of train / val / test. */
static int partition_ok(const ser_split *s, size_t n) {
    unsigned char *seen = calloc(n ? n : 1, 1);
    int ok = s->n_train + s->n_val + s->n_test == n;
    const size_t *v[3] = {s->train, s->val, s->test};
    const size_t c[3] = {s->n_train, s->n_val, s->n_test};
    for (int k = 0; k < 3 && ok; k++)
        for (size_t i = 0; i < c[k] && ok; i++) ok = v[k][i] < n && !seen[v[k][i]]++;
    free(seen);
    return ok;
}

/* ---- numpy / sklearn equality ------------------------------------------------------------- */

static void test_numpy(void) {
    /* np.random.RandomState(42).permutation(10) */
    static const size_t P42[10] = {8, 1, 5, 0, 7, 2, 9, 4, 3, 6};
    size_t perm[300];
    ser_mt19937 r;
    ser_mt19937_seed(&r, 42);
    ser_mt19937_permutation(&r, perm, 10);
    CHECK(same_idx(perm, P42, 10));
    /* r = RandomState(7); r.permutation(5); r.permutation(300)[:8]: the state carries on. */
    static const size_t P7A[5] = {0, 3, 2, 1, 4};
    static const size_t P7B[8] = {125, 57, 283, 66, 114, 282, 132, 258};
    ser_mt19937_seed(&r, 7);
    ser_mt19937_permutation(&r, perm, 5);
    CHECK(same_idx(perm, P7A, 5));
    ser_mt19937_permutation(&r, perm, 300);
    CHECK(same_idx(perm, P7B, 8));

    /* train_test_split(list(range(20)), test_size=0.125, random_state=42)
     * -> val [0, 17, 15], train [1, 8, 5, 11, 3, 18, 16, 13, 2, 9, 19, 4, 12, 7, 10, 14, 6] */
    static const size_t VAL[3] = {0, 17, 15};
    static const size_t TRAIN[17] = {1, 8, 5, 11, 3, 18, 16, 13, 2, 9, 19, 4, 12, 7, 10, 14, 6};
    ser_clips cl = {0};
    char p[64];
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof p, "/c/p%02d.wav", i);
        push(&cl, p, "angry", "", "g");
    }
    ser_split s;
    ser_error err;
    ser_split_opts o = {.per_folder = 0, .val_fraction = 0.125, .seed = 42};
    CHECKF(ser_split_make(&cl, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n_test == 0 && s.n_val == 3 && s.n_train == 17);
    CHECK(same_idx(s.val, VAL, 3) && same_idx(s.train, TRAIN, 17));
    ser_split_free(&s);
    /* val 0: no permutation, train in path order. */
    o.val_fraction = 0;
    CHECK(ser_split_make(&cl, &o, &s, &err) == 0 && s.n_val == 0 && s.n_train == 20 && s.train[19] == 19);
    ser_split_free(&s);
    ser_clips_free(&cl);
}

/* ---- the per-folder protocol -------------------------------------------------------------- */

static void test_per_folder(void) {
    /* Exact choice, as Python:
     *   rng = RandomState(42); rng.permutation(5)[:2] -> [1, 4] (g0); rng.permutation(4)[:2] -> [1, 2] (g1)
     *   rest (path order) g0/c0 g0/c2 g0/c3 g1/c0 g1/c3; RandomState(42).permutation(5) = [1 4 2 0 3]
     *   val (ceil(0.4 * 5) = 2) = rest[1], rest[4]; train = rest[2], rest[0], rest[3].
     * The clips are pushed out of order: the split must not depend on the list order. */
    ser_clips cl = {0};
    static const char *const G1[4] = {"/x/g1/c3.wav", "/x/g1/c0.wav", "/x/g1/c2.wav", "/x/g1/c1.wav"};
    for (int i = 0; i < 4; i++) push(&cl, G1[i], "sad", "B", "g1");
    for (int i = 4; i >= 0; i--) {
        char p[64];
        snprintf(p, sizeof p, "/x/g0/c%d.wav", i);
        push(&cl, p, "angry", "A", "g0");
    }
    ser_split s;
    ser_error err;
    ser_split_opts o = {.per_folder = 2, .val_fraction = 0.4, .seed = 42};
    CHECKF(ser_split_make(&cl, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(partition_ok(&s, cl.n));
    static const char *const TEST[4] = {"/x/g0/c1.wav", "/x/g0/c4.wav", "/x/g1/c1.wav", "/x/g1/c2.wav"};
    static const char *const VAL[2] = {"/x/g0/c2.wav", "/x/g1/c3.wav"};
    static const char *const TRAIN[3] = {"/x/g0/c3.wav", "/x/g0/c0.wav", "/x/g1/c0.wav"};
    CHECK(s.n_test == 4 && s.n_val == 2 && s.n_train == 3);
    for (size_t i = 0; i < 4 && i < s.n_test; i++) CHECKF(!strcmp(cl.v[s.test[i]].path, TEST[i]), "test %zu", i);
    for (size_t i = 0; i < 2 && i < s.n_val; i++) CHECKF(!strcmp(cl.v[s.val[i]].path, VAL[i]), "val %zu", i);
    for (size_t i = 0; i < 3 && i < s.n_train; i++) CHECKF(!strcmp(cl.v[s.train[i]].path, TRAIN[i]), "train %zu", i);
    ser_split_free(&s);

    /* Too few clips in a group for the test count: named. */
    o.per_folder = 4;
    CHECK(ser_split_make(&cl, &o, &s, &err) == -1 && strstr(err.msg, "'g1'"));
    ser_clips_free(&cl);

    /* A bigger corpus: 3 groups of 30; counts, determinism, seed sensitivity. */
    char p[64];
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < 30; i++) {
            char grp[8];
            snprintf(grp, sizeof grp, "G%d", g);
            snprintf(p, sizeof p, "/y/%s/f%02d.wav", grp, i);
            push(&cl, p, g == 1 ? "happy" : "fear", g == 2 ? "S2" : "S1", grp);
        }
    o = (ser_split_opts){.per_folder = 5, .val_fraction = 0.125, .seed = 1};
    ser_split a, b, c;
    CHECK(ser_split_make(&cl, &o, &a, &err) == 0);
    CHECK(ser_split_make(&cl, &o, &b, &err) == 0);
    o.seed = 2;
    CHECK(ser_split_make(&cl, &o, &c, &err) == 0);
    CHECK(partition_ok(&a, cl.n) && partition_ok(&c, cl.n));
    CHECK(a.n_test == 15 && a.n_val == (size_t)ceil(0.125 * 75) && a.n_train == 75 - a.n_val);
    int per[3] = {0, 0, 0};
    for (size_t i = 0; i < a.n_test; i++) per[cl.v[a.test[i]].group[1] - '0']++;
    CHECK(per[0] == 5 && per[1] == 5 && per[2] == 5);
    for (size_t i = 1; i < a.n_test; i++) CHECK(strcmp(cl.v[a.test[i - 1]].path, cl.v[a.test[i]].path) < 0);
    CHECK(a.n_test == b.n_test && same_idx(a.test, b.test, a.n_test) && same_idx(a.val, b.val, a.n_val) &&
          same_idx(a.train, b.train, a.n_train));
    CHECK(!same_idx(a.test, c.test, a.n_test));
    CHECK(!same_idx(a.val, c.val, a.n_val));
    ser_split_free(&a), ser_split_free(&b), ser_split_free(&c);

    /* Speaker-independent: every S2 clip is test, none elsewhere; validation from S1 only. */
    const char *spk[1] = {"S2"};
    o = (ser_split_opts){.test_speakers = spk, .n_test_speakers = 1, .val_fraction = 0.25, .seed = 42};
    CHECKF(ser_split_make(&cl, &o, &a, &err) == 0, "%s", err.msg);
    CHECK(partition_ok(&a, cl.n));
    CHECK(a.n_test == 30 && a.n_val == 15 && a.n_train == 45);
    for (size_t i = 0; i < a.n_test; i++) CHECK(!strcmp(cl.v[a.test[i]].speaker, "S2"));
    for (size_t i = 0; i < a.n_train; i++) CHECK(!strcmp(cl.v[a.train[i]].speaker, "S1"));
    for (size_t i = 0; i < a.n_val; i++) CHECK(!strcmp(cl.v[a.val[i]].speaker, "S1"));
    ser_split_free(&a);
    const char *nobody[1] = {"S9"};
    o.test_speakers = nobody;
    CHECK(ser_split_make(&cl, &o, &a, &err) == -1 && strstr(err.msg, "'S9'"));
    const char *all[2] = {"S1", "S2"};
    o.test_speakers = all, o.n_test_speakers = 2;
    CHECK(ser_split_make(&cl, &o, &a, &err) == -1 && strstr(err.msg, "no clips left"));

    /* Bad fractions. */
    o = (ser_split_opts){.per_folder = 5, .val_fraction = 1.0, .seed = 1};
    CHECK(ser_split_make(&cl, &o, &a, &err) == -1 && strstr(err.msg, "fraction"));
    o.val_fraction = -0.1;
    CHECK(ser_split_make(&cl, &o, &a, &err) == -1);
    o.val_fraction = 0.999; /* ceil(0.999 * 75) = 75: nothing left to train on */
    CHECK(ser_split_make(&cl, &o, &a, &err) == -1 && strstr(err.msg, "none to train"));
    ser_clips_free(&cl);
}

/* ---- manifests ---------------------------------------------------------------------------- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static void test_manifest(void) {
    char dir[] = "/tmp/ser_split_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char m[4096];
    snprintf(m, sizeof m, "%s/m.tsv", dir);
    ser_clips cl = {0};
    push(&cl, "/d/OAF_angry/OAF_back_angry.wav", "angry", "OAF", "OAF_angry");
    push(&cl, "/d/x y/sp ace.wav", "boredom", "", "x y");
    push(&cl, "/d/03-01-01-01-01-01-01.wav", "neutral", "01", "Actor_01");
    ser_error err;
    size_t idx[2] = {2, 0};
    CHECKF(ser_manifest_write(m, cl.v, idx, 2, &err) == 0, "%s", err.msg);
    ser_clips back = {0};
    CHECKF(ser_manifest_read(m, &back, &err) == 0, "%s", err.msg);
    CHECK(back.n == 2);
    for (size_t i = 0; i < back.n && i < 2; i++) {
        const ser_clip *x = &back.v[i], *y = &cl.v[idx[i]];
        CHECK(!strcmp(x->path, y->path) && !strcmp(x->label, y->label) && !strcmp(x->speaker, y->speaker) &&
              !strcmp(x->group, y->group));
    }
    ser_clips_free(&back);
    /* idx NULL = all clips; the text is exact. */
    CHECK(ser_manifest_write(m, cl.v, NULL, cl.n, &err) == 0);
    FILE *f = fopen(m, "r");
    char text[1024] = {0};
    size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    CHECK(got > 0 && !strcmp(text, "# path\tlabel\tspeaker\tgroup\n"
                                   "/d/OAF_angry/OAF_back_angry.wav\tangry\tOAF\tOAF_angry\n"
                                   "/d/x y/sp ace.wav\tboredom\t\tx y\n"
                                   "/d/03-01-01-01-01-01-01.wav\tneutral\t01\tActor_01\n"));
    CHECK(ser_manifest_read(m, &back, &err) == 0 && back.n == 3 && !strcmp(back.v[1].speaker, "") &&
          !strcmp(back.v[1].group, "x y"));
    ser_clips_free(&back);
    /* No temp file left beside it. */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    CHECK(system(cmd) == 0);

    /* Hand-written: CRLF, blank lines, comments, 3 fields, relative paths (against the
     * manifest's folder). */
    write_text(m, "# hand made\r\n\r\nclips/a.wav\tsad\tA\r\n/abs/b.wav\tangry\tB\tG\n");
    CHECKF(ser_manifest_read(m, &back, &err) == 0, "%s", err.msg);
    char want[4200];
    snprintf(want, sizeof want, "%s/clips/a.wav", dir);
    CHECK(back.n == 2 && !strcmp(back.v[0].path, want) && !strcmp(back.v[0].label, "sad") &&
          !strcmp(back.v[0].speaker, "A") && !strcmp(back.v[0].group, ""));
    CHECK(back.n == 2 && !strcmp(back.v[1].path, "/abs/b.wav") && !strcmp(back.v[1].group, "G"));
    ser_clips_free(&back);

    /* Bad lines: FILE:LINE: reason. */
    static const struct {
        const char *text, *where, *why;
    } BAD[] = {
        {"# h\n/a.wav\tsad\tA\tg\n/b.wav\tsad\n", ":3:", "found 2"},
        {"/a.wav\n", ":1:", "found 1"},
        {"# h\n\n/a.wav\tsad\tA\tg\textra\n", ":3:", "found more"},
        {"/a.wav\t\tA\tg\n", ":1:", "empty label"},
        {"# h\n# h2\n\tsad\tA\tg\n", ":3:", "empty path"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        write_text(m, BAD[i].text);
        CHECK(ser_manifest_read(m, &back, &err) == -1);
        char where[4200];
        snprintf(where, sizeof where, "%s%s", m, BAD[i].where);
        CHECKF(strstr(err.msg, where) && strstr(err.msg, BAD[i].why), "case %zu: %s", i, err.msg);
        ser_clips_free(&back);
    }
    snprintf(want, sizeof want, "%s/none.tsv", dir);
    CHECK(ser_manifest_read(want, &back, &err) == -1 && strstr(err.msg, want));

    /* A field with a tab cannot be written; a folder that does not exist is named. */
    push(&cl, "/d/a\tb.wav", "sad", "", "g");
    CHECK(ser_manifest_write(m, cl.v, NULL, cl.n, &err) == -1 && strstr(err.msg, "tab"));
    snprintf(want, sizeof want, "%s/no/such/m.tsv", dir);
    CHECK(ser_manifest_write(want, cl.v, NULL, 1, &err) == -1 && strstr(err.msg, want));
    ser_clips_free(&cl);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* ---- the real TESS folder: the reference protocol's counts -------------------------------- */

static void test_shared(const char *data) {
    char p[4096];
    snprintf(p, sizeof p, "%s/tess", data);
    ser_corpus c;
    ser_error err;
    CHECKF(ser_corpus_scan(p, SER_CORPUS_TESS, 1, &c, &err) == 0, "%s", err.msg);
    ser_split s;
    ser_split_opts o = {.per_folder = 40, .val_fraction = 0.125, .seed = 42};
    CHECKF(ser_split_make(&c.clips, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(partition_ok(&s, c.clips.n));
    CHECK(s.n_test == 560 && s.n_val == 210 && s.n_train == 1468);
    ser_split_free(&s);
    const char *spk[1] = {"YAF"};
    o = (ser_split_opts){.test_speakers = spk, .n_test_speakers = 1, .val_fraction = 0.125, .seed = 42};
    CHECK(ser_split_make(&c.clips, &o, &s, &err) == 0 && s.n_test == 1119 && s.n_val == 140 && s.n_train == 979);
    ser_split_free(&s);
    ser_corpus_free(&c);
}

int main(void) {
    test_numpy();
    test_per_folder();
    test_manifest();
    const char *data = check_shared_data();
    if (data) test_shared(data);
    else printf("SKIPPED part: no ../shared/data, the real TESS split is not run\n");
    return check_finish("test_split");
}
