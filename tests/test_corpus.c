/* Corpus scan: every parser on synthetic trees of empty files (names are all the parsers read),
 * skips and their reasons, errors for missing / empty / non-folder roots, and the real TESS
 * and RAVDESS copies in ../shared/data when present. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "test_util.h"
#include "ser/corpus.h"

static char g_tmp[256];

static void make_root(char *out, size_t len, const char *name) {
    snprintf(out, len, "%s/%s", g_tmp, name);
    mkdir(out, 0755);
}

/* The clip whose path ends with suffix, or NULL. */
static const ser_clip *find(const ser_corpus *c, const char *suffix) {
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < c->clips.n; i++) {
        size_t pl = strlen(c->clips.v[i].path);
        if (pl >= sl && !strcmp(c->clips.v[i].path + pl - sl, suffix)) return &c->clips.v[i];
    }
    return NULL;
}

static const ser_skip *find_skip(const ser_corpus *c, const char *suffix) {
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < c->n_skips; i++) {
        size_t pl = strlen(c->skips[i].path);
        if (pl >= sl && !strcmp(c->skips[i].path + pl - sl, suffix)) return &c->skips[i];
    }
    return NULL;
}

static void expect_clip(const ser_corpus *c, const char *suffix, const char *label, const char *speaker,
                        const char *group) {
    const ser_clip *k = find(c, suffix);
    CHECKF(k != NULL, "clip %s missing", suffix);
    if (!k) return;
    CHECKF(!strcmp(k->label, label), "%s: label '%s', expected '%s'", suffix, k->label, label);
    CHECKF(!strcmp(k->speaker, speaker), "%s: speaker '%s', expected '%s'", suffix, k->speaker, speaker);
    CHECKF(!strcmp(k->group, group), "%s: group '%s', expected '%s'", suffix, k->group, group);
}

static void expect_skip(const ser_corpus *c, const char *suffix, const char *reason_part) {
    const ser_skip *s = find_skip(c, suffix);
    CHECKF(s != NULL, "skip %s missing", suffix);
    if (s) CHECKF(strstr(s->reason, reason_part) != NULL, "%s: reason '%s' lacks '%s'", suffix, s->reason, reason_part);
}

static int sorted_by_path(const ser_corpus *c) {
    for (size_t i = 1; i < c->clips.n; i++)
        if (strcmp(c->clips.v[i - 1].path, c->clips.v[i].path) >= 0) return 0;
    return 1;
}

static void test_labels(void) {
    CHECK(!strcmp(ser_label_name(SER_LABEL_ANGRY), "angry"));
    CHECK(!strcmp(ser_label_name(SER_LABEL_SURPRISE), "surprise"));
    CHECK(ser_label_name(SER_LABEL_COUNT) == NULL && ser_label_name(-1) == NULL);
    CHECK(ser_label_parse("PS") == SER_LABEL_SURPRISE);
    CHECK(ser_label_parse("surprised") == SER_LABEL_SURPRISE);
    CHECK(ser_label_parse("pleasant_surprised") == SER_LABEL_SURPRISE);
    CHECK(ser_label_parse("Fearful") == SER_LABEL_FEAR);
    CHECK(ser_label_parse("ANG") == SER_LABEL_ANGRY);
    CHECK(ser_label_parse("anger") == SER_LABEL_ANGRY);
    CHECK(ser_label_parse("calm") == SER_LABEL_CALM);
    CHECK(ser_label_parse("boredom") == -1 && ser_label_parse("") == -1);
    for (int l = 0; l < SER_LABEL_COUNT; l++) CHECK(ser_label_parse(ser_label_name(l)) == l);
    ser_corpus_kind k;
    ser_error err;
    CHECK(!ser_corpus_kind_parse("RAVDESS", &k, &err) && k == SER_CORPUS_RAVDESS);
    CHECK(!ser_corpus_kind_parse("crema-d", &k, &err) && k == SER_CORPUS_CREMAD);
    CHECK(ser_corpus_kind_parse("timit", &k, &err) == -1 && strstr(err.msg, "timit"));
}

static void test_tess(void) {
    char root[512];
    make_root(root, sizeof root, "tess");
    test_touch(root, "OAF_angry/OAF_back_angry.wav");
    test_touch(root, "OAF_angry/OA_bite_angry.wav"); /* typo prefix: speaker still OAF (folder) */
    test_touch(root, "OAF_pleasant_surprised/OAF_dog_ps.wav");
    test_touch(root, "YAF_fear/YAF_dog_fear.WAV");    /* extension case */
    test_touch(root, "YAF_fear/YAF_bean_fear.aiff");  /* other audio extension */
    test_touch(root, "YAF_fear/YAF_x_feer.wav");      /* no known label: a skip */
    test_touch(root, "YAF_fear/README.txt");          /* not audio: ignored silently */
    test_touch(root, "YAF_fear/.YAF_hidden_fear.wav"); /* hidden: ignored */
    test_touch(root, "YAF_fear/wav");                 /* no extension: ignored */
    ser_corpus c;
    ser_error err;
    int rc = ser_corpus_scan(root, SER_CORPUS_AUTO, 0, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(c.kind == SER_CORPUS_TESS);
    CHECKF(c.clips.n == 5, "%zu clips", c.clips.n);
    CHECK(c.n_skips == 1 && c.n_audio == 6);
    CHECK(c.clips.v[0].path[0] == '/'); /* absolute */
    CHECK(sorted_by_path(&c));
    expect_clip(&c, "/OAF_angry/OAF_back_angry.wav", "angry", "OAF", "OAF_angry");
    expect_clip(&c, "/OAF_angry/OA_bite_angry.wav", "angry", "OAF", "OAF_angry");
    expect_clip(&c, "/OAF_pleasant_surprised/OAF_dog_ps.wav", "surprise", "OAF", "OAF_pleasant_surprised");
    expect_clip(&c, "/YAF_fear/YAF_dog_fear.WAV", "fear", "YAF", "YAF_fear");
    expect_clip(&c, "/YAF_fear/YAF_bean_fear.aiff", "fear", "YAF", "YAF_fear");
    expect_skip(&c, "/YAF_fear/YAF_x_feer.wav", "no known label");
    CHECK(find(&c, "README.txt") == NULL && find_skip(&c, "README.txt") == NULL);

    /* Same scan twice: identical lists (deterministic). */
    ser_corpus d;
    CHECK(ser_corpus_scan(root, SER_CORPUS_TESS, 0, &d, &err) == 0);
    int same = d.clips.n == c.clips.n;
    for (size_t i = 0; same && i < c.clips.n; i++)
        same = !strcmp(c.clips.v[i].path, d.clips.v[i].path) && !strcmp(c.clips.v[i].label, d.clips.v[i].label);
    CHECK(same);
    ser_corpus_free(&d);
    ser_corpus_free(&c);

    /* Strict: the one skip is fatal and named. */
    rc = ser_corpus_scan(root, SER_CORPUS_AUTO, 1, &c, &err);
    CHECK(rc == -1 && strstr(err.msg, "YAF_x_feer.wav") && strstr(err.msg, "strict"));
    CHECK(c.clips.n == 0 && c.skips == NULL); /* freed on failure */

    /* A tree scanned from one corpus folder: group = that folder's name. */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/OAF_angry", root);
    CHECK(ser_corpus_scan(sub, SER_CORPUS_AUTO, 0, &c, &err) == 0);
    expect_clip(&c, "/OAF_angry/OA_bite_angry.wav", "angry", "OAF", "OAF_angry");
    ser_corpus_free(&c);
}

static void test_ravdess(void) {
    char root[512];
    make_root(root, sizeof root, "ravdess");
    test_touch(root, "Actor_01/03-01-05-01-01-01-01.wav");
    test_touch(root, "Actor_01/03-01-02-02-01-02-01.wav");
    test_touch(root, "Actor_02/03-01-08-02-02-02-02.wav");
    test_touch(root, "Actor_02/03-01-06-01-01-01-02.wav");
    test_touch(root, "Actor_02/03-01-09-01-01-01-02.wav"); /* emotion out of range */
    test_touch(root, "Actor_02/03-02-01-01-01-01-02.wav"); /* song */
    test_touch(root, "Actor_02/03-01-01-01-01-01-25.wav"); /* actor out of range */
    test_touch(root, "Actor_02/03-01-01-01-01-02.wav");    /* 6 fields */
    ser_corpus c;
    ser_error err;
    int rc = ser_corpus_scan(root, SER_CORPUS_AUTO, 0, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(c.kind == SER_CORPUS_RAVDESS);
    CHECKF(c.clips.n == 4 && c.n_skips == 4, "%zu clips %zu skips", c.clips.n, c.n_skips);
    expect_clip(&c, "/03-01-05-01-01-01-01.wav", "angry", "01", "Actor_01");
    expect_clip(&c, "/03-01-02-02-01-02-01.wav", "calm", "01", "Actor_01");
    expect_clip(&c, "/03-01-08-02-02-02-02.wav", "surprise", "02", "Actor_02");
    expect_clip(&c, "/03-01-06-01-01-01-02.wav", "fear", "02", "Actor_02");
    expect_skip(&c, "/03-01-09-01-01-01-02.wav", "emotion 09");
    expect_skip(&c, "/03-02-01-01-01-01-02.wav", "channel 02");
    expect_skip(&c, "/03-01-01-01-01-01-25.wav", "actor 25");
    expect_skip(&c, "/03-01-01-01-01-02.wav", "6 '-' fields");
    ser_corpus_free(&c);

    /* The wrong parser forced: nothing labelled -> a clear error. */
    rc = ser_corpus_scan(root, SER_CORPUS_CREMAD, 0, &c, &err);
    CHECK(rc == -1 && strstr(err.msg, "none of the 8 audio files") && strstr(err.msg, "cremad"));
}

static void test_cremad(void) {
    char root[512];
    make_root(root, sizeof root, "cremad");
    test_touch(root, "1001_DFA_ANG_XX.wav");
    test_touch(root, "1001_IEO_HAP_HI.wav");
    test_touch(root, "1091_TIE_NEU_XX.wav");
    test_touch(root, "1002_ITS_dis_lo.wav");
    test_touch(root, "1004_DFA_XXX_XX.wav"); /* unknown emotion */
    test_touch(root, "1005_DFA_SAD_ZZ.wav"); /* unknown level */
    ser_corpus c;
    ser_error err;
    int rc = ser_corpus_scan(root, SER_CORPUS_AUTO, 0, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(c.kind == SER_CORPUS_CREMAD);
    CHECK(c.clips.n == 4 && c.n_skips == 2);
    expect_clip(&c, "/1001_DFA_ANG_XX.wav", "angry", "1001", "cremad"); /* root's own name */
    expect_clip(&c, "/1001_IEO_HAP_HI.wav", "happy", "1001", "cremad");
    expect_clip(&c, "/1091_TIE_NEU_XX.wav", "neutral", "1091", "cremad");
    expect_clip(&c, "/1002_ITS_dis_lo.wav", "disgust", "1002", "cremad");
    expect_skip(&c, "/1004_DFA_XXX_XX.wav", "emotion 'XXX'");
    expect_skip(&c, "/1005_DFA_SAD_ZZ.wav", "level 'ZZ'");
    ser_corpus_free(&c);
}

static void test_savee(void) {
    char root[512];
    make_root(root, sizeof root, "savee");
    test_touch(root, "AudioData/DC/a01.wav");
    test_touch(root, "AudioData/DC/sa02.wav");
    test_touch(root, "AudioData/JE/su03.wav");
    test_touch(root, "AudioData/JK/n10.wav");
    test_touch(root, "AudioData/JK/x01.wav"); /* unknown prefix */
    test_touch(root, "flat/KL_h05.wav");
    test_touch(root, "flat/DC_d15.wav");
    test_touch(root, "flat/JE_f07.wav");
    ser_corpus c;
    ser_error err;
    int rc = ser_corpus_scan(root, SER_CORPUS_AUTO, 0, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(c.kind == SER_CORPUS_SAVEE);
    CHECK(c.clips.n == 7 && c.n_skips == 1);
    expect_clip(&c, "/DC/a01.wav", "angry", "DC", "AudioData/DC");
    expect_clip(&c, "/DC/sa02.wav", "sad", "DC", "AudioData/DC");
    expect_clip(&c, "/JE/su03.wav", "surprise", "JE", "AudioData/JE");
    expect_clip(&c, "/JK/n10.wav", "neutral", "JK", "AudioData/JK");
    expect_clip(&c, "/KL_h05.wav", "happy", "KL", "flat");
    expect_clip(&c, "/DC_d15.wav", "disgust", "DC", "flat");
    expect_clip(&c, "/JE_f07.wav", "fear", "JE", "flat");
    expect_skip(&c, "/JK/x01.wav", "prefix 'x'");
    ser_corpus_free(&c);
}

static void test_folders(void) {
    char root[512];
    make_root(root, sizeof root, "folders");
    test_touch(root, "angry/1.wav");
    test_touch(root, "Anger/2.flac");
    test_touch(root, "fearful/3.ogg");
    test_touch(root, "boredom/4.aif");
    test_touch(root, "boredom/notes.txt");
    ser_corpus c;
    ser_error err;
    int rc = ser_corpus_scan(root, SER_CORPUS_AUTO, 1, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(c.kind == SER_CORPUS_FOLDERS);
    CHECK(c.clips.n == 4 && c.n_skips == 0);
    expect_clip(&c, "/angry/1.wav", "angry", "", "angry");
    expect_clip(&c, "/Anger/2.flac", "angry", "", "Anger");
    expect_clip(&c, "/fearful/3.ogg", "fear", "", "fearful");
    expect_clip(&c, "/boredom/4.aif", "boredom", "", "boredom"); /* unknown label kept as-is */
    const char **names;
    size_t n;
    CHECK(ser_clips_label_set(&c.clips, &names, &n, &err) == 0);
    CHECK(n == 3 && !strcmp(names[0], "angry") && !strcmp(names[1], "boredom") && !strcmp(names[2], "fear"));
    /* Class indices against that list; a list lacking a present label fails naming it. */
    int idx[4];
    CHECK(ser_clips_label_index(&c.clips, names, n, idx, &err) == 0);
    for (size_t i = 0; i < c.clips.n; i++) CHECK(idx[i] >= 0 && !strcmp(names[idx[i]], c.clips.v[i].label));
    CHECK(ser_clips_label_index(&c.clips, names, 2, idx, &err) == -1 && strstr(err.msg, "'fear'") &&
          strstr(err.msg, "fearful/3.ogg"));
    free(names);
    ser_corpus_free(&c);

    /* A symlink back to an ancestor must not loop forever. */
    char link_path[600];
    snprintf(link_path, sizeof link_path, "%s/angry/loop", root);
    CHECK(symlink("..", link_path) == 0);
    rc = ser_corpus_scan(root, SER_CORPUS_FOLDERS, 0, &c, &err);
    CHECKF(rc == 0 && c.clips.n == 4, "loop: rc %d, %s", rc, rc ? err.msg : "");
    if (!rc) ser_corpus_free(&c);

    /* Nested: the label is the parent folder's name, the group the path below the root. */
    test_touch(root, "more/happy/5.wav");
    rc = ser_corpus_scan(root, SER_CORPUS_FOLDERS, 0, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (!rc) {
        expect_clip(&c, "/more/happy/5.wav", "happy", "", "more/happy");
        ser_corpus_free(&c);
    }
}

/* Every emotion code of every corpus through the name parser (no files needed). */
static void test_all_codes(void) {
    static const struct {
        ser_corpus_kind kind;
        const char *file, *folder, *label, *speaker;
    } CASES[] = {
        {SER_CORPUS_RAVDESS, "03-01-01-01-01-01-24.wav", "Actor_24", "neutral", "24"},
        {SER_CORPUS_RAVDESS, "03-01-02-01-01-01-01.wav", "x", "calm", "01"},
        {SER_CORPUS_RAVDESS, "03-01-03-02-02-02-01.wav", "x", "happy", "01"},
        {SER_CORPUS_RAVDESS, "03-01-04-01-01-01-01.wav", "x", "sad", "01"},
        {SER_CORPUS_RAVDESS, "03-01-05-01-01-01-01.wav", "x", "angry", "01"},
        {SER_CORPUS_RAVDESS, "03-01-06-01-01-01-01.wav", "x", "fear", "01"},
        {SER_CORPUS_RAVDESS, "03-01-07-01-01-01-01.wav", "x", "disgust", "01"},
        {SER_CORPUS_RAVDESS, "03-01-08-01-01-01-01.wav", "x", "surprise", "01"},
        {SER_CORPUS_CREMAD, "1001_DFA_ANG_XX.wav", "x", "angry", "1001"},
        {SER_CORPUS_CREMAD, "1001_DFA_DIS_XX.wav", "x", "disgust", "1001"},
        {SER_CORPUS_CREMAD, "1001_DFA_FEA_XX.wav", "x", "fear", "1001"},
        {SER_CORPUS_CREMAD, "1001_DFA_HAP_XX.wav", "x", "happy", "1001"},
        {SER_CORPUS_CREMAD, "1001_DFA_NEU_XX.wav", "x", "neutral", "1001"},
        {SER_CORPUS_CREMAD, "1001_DFA_SAD_MD.wav", "x", "sad", "1001"},
        {SER_CORPUS_SAVEE, "DC_a01.wav", "x", "angry", "DC"},
        {SER_CORPUS_SAVEE, "JE_d02.wav", "x", "disgust", "JE"},
        {SER_CORPUS_SAVEE, "JK_f03.wav", "x", "fear", "JK"},
        {SER_CORPUS_SAVEE, "KL_h04.wav", "x", "happy", "KL"},
        {SER_CORPUS_SAVEE, "n05.wav", "DC", "neutral", "DC"},
        {SER_CORPUS_SAVEE, "sa06.wav", "JE", "sad", "JE"},
        {SER_CORPUS_SAVEE, "su07.wav", "KL", "surprise", "KL"},
        {SER_CORPUS_TESS, "OAF_back_disgust.wav", "OAF_disgust", "disgust", "OAF"},
        {SER_CORPUS_TESS, "YAF_back_happy.wav", "YAF_happy", "happy", "YAF"},
        {SER_CORPUS_TESS, "YAF_back_neutral.wav", "YAF_neutral", "neutral", "YAF"},
        {SER_CORPUS_TESS, "YAF_back_sad.wav", "YAF_sad", "sad", "YAF"},
        {SER_CORPUS_TESS, "YAF_back_ps.wav", "YAF_pleasant_surprised", "surprise", "YAF"},
        {SER_CORPUS_FOLDERS, "a.wav", "ps", "surprise", ""},
        {SER_CORPUS_FOLDERS, "a.wav", "Surprised", "surprise", ""},
        {SER_CORPUS_FOLDERS, "a.wav", "ang", "angry", ""},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *label = NULL;
        char spk[64];
        ser_error err;
        int rc = ser_name_parse(CASES[i].kind, CASES[i].file, CASES[i].folder, &label, spk, sizeof spk, &err);
        CHECKF(rc == 0 && !strcmp(label, CASES[i].label) && !strcmp(spk, CASES[i].speaker), "%s: %s", CASES[i].file,
               rc ? err.msg : label);
        CHECK(ser_name_match(CASES[i].kind, CASES[i].file, CASES[i].folder));
    }
}

/* Forcing the parser that auto-detection picks gives the same clips. */
static void test_forced_equals_auto(void) {
    static const struct {
        const char *root;
        ser_corpus_kind kind;
    } CASES[] = {{"tess", SER_CORPUS_TESS},   {"ravdess", SER_CORPUS_RAVDESS}, {"cremad", SER_CORPUS_CREMAD},
                 {"savee", SER_CORPUS_SAVEE}, {"folders", SER_CORPUS_FOLDERS}};
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        char root[512];
        snprintf(root, sizeof root, "%s/%s", g_tmp, CASES[k].root);
        ser_corpus a, b;
        ser_error err;
        int ra = ser_corpus_scan(root, SER_CORPUS_AUTO, 0, &a, &err);
        int rb = ser_corpus_scan(root, CASES[k].kind, 0, &b, &err);
        CHECKF(ra == 0 && rb == 0, "%s: %s", CASES[k].root, err.msg);
        if (ra || rb) continue;
        int same = a.kind == b.kind && a.clips.n == b.clips.n && a.n_skips == b.n_skips;
        for (size_t i = 0; same && i < a.clips.n; i++)
            same = !strcmp(a.clips.v[i].path, b.clips.v[i].path) && !strcmp(a.clips.v[i].label, b.clips.v[i].label) &&
                   !strcmp(a.clips.v[i].speaker, b.clips.v[i].speaker) && !strcmp(a.clips.v[i].group, b.clips.v[i].group);
        CHECKF(same, "%s: auto and forced differ", CASES[k].root);
        ser_corpus_free(&a), ser_corpus_free(&b);
    }
}

static void test_errors(void) {
    ser_corpus c;
    ser_error err;
    char p[512];
    snprintf(p, sizeof p, "%s/does-not-exist", g_tmp);
    CHECK(ser_corpus_scan(p, SER_CORPUS_AUTO, 0, &c, &err) == -1);
    CHECKF(strstr(err.msg, p) && strstr(err.msg, "No such file"), "%s", err.msg);

    make_root(p, sizeof p, "empty");
    test_touch(p, "README.md");
    test_touch(p, "sub/notes.txt");
    CHECK(ser_corpus_scan(p, SER_CORPUS_AUTO, 0, &c, &err) == -1);
    CHECKF(strstr(err.msg, p) && strstr(err.msg, "no audio files"), "%s", err.msg);

    snprintf(p, sizeof p, "%s/empty/README.md", g_tmp);
    CHECK(ser_corpus_scan(p, SER_CORPUS_AUTO, 0, &c, &err) == -1);
    CHECKF(strstr(err.msg, p) && strstr(err.msg, "not a folder"), "%s", err.msg);

    /* Unreadable subfolder: root reads anything, so only checkable as another user. */
    if (geteuid() != 0) {
        make_root(p, sizeof p, "locked");
        test_touch(p, "angry/1.wav");
        test_touch(p, "sad/2.wav");
        char sad[600];
        snprintf(sad, sizeof sad, "%s/sad", p);
        chmod(sad, 0);
        CHECK(ser_corpus_scan(p, SER_CORPUS_AUTO, 0, &c, &err) == -1);
        CHECKF(strstr(err.msg, sad) && strstr(err.msg, "cannot read"), "%s", err.msg);
        chmod(sad, 0755);
    }
}

/* Real corpora in ../shared/data: names only are read, so this is quick. */
static int test_shared(void) {
    const char *data = check_shared_data();
    if (!data) return 0;
    char p[1024];
    ser_corpus c;
    ser_error err;
    snprintf(p, sizeof p, "%s/tess", data);
    int rc = ser_corpus_scan(p, SER_CORPUS_AUTO, 1, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (!rc) {
        CHECK(c.kind == SER_CORPUS_TESS);
        CHECKF(c.clips.n == 2238, "%zu clips", c.clips.n);
        const char **names;
        size_t n;
        ser_clips_label_set(&c.clips, &names, &n, &err);
        CHECK(n == 7);
        free(names);
        size_t oaf = 0, yaf = 0, groups = 1;
        for (size_t i = 0; i < c.clips.n; i++) {
            oaf += !strcmp(c.clips.v[i].speaker, "OAF");
            yaf += !strcmp(c.clips.v[i].speaker, "YAF");
            if (i && strcmp(c.clips.v[i].group, c.clips.v[i - 1].group)) groups++;
        }
        CHECKF(oaf + yaf == 2238 && oaf == 1119, "OAF %zu YAF %zu", oaf, yaf);
        CHECKF(groups == 14, "%zu groups", groups);
        expect_clip(&c, "/YAF_angry/YAF_germ_angry.wav", "angry", "YAF", "YAF_angry");
        ser_corpus_free(&c);
    }
    snprintf(p, sizeof p, "%s/ravdess/Actor_01", data);
    rc = ser_corpus_scan(p, SER_CORPUS_AUTO, 1, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (!rc) {
        CHECK(c.kind == SER_CORPUS_RAVDESS && c.clips.n == 60);
        const char **names;
        size_t n;
        ser_clips_label_set(&c.clips, &names, &n, &err);
        CHECK(n == 8);
        free(names);
        int all01 = 1;
        for (size_t i = 0; i < c.clips.n; i++) all01 &= !strcmp(c.clips.v[i].speaker, "01");
        CHECK(all01);
        ser_corpus_free(&c);
    }
    return 1;
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ser_test_corpus_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_labels();
    test_tess();
    test_ravdess();
    test_cremad();
    test_savee();
    test_folders();
    test_forced_equals_auto();
    test_all_codes();
    test_errors();
    int shared = test_shared();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_tmp);
    if (!shared) printf("note: ../shared/data absent, real-corpus checks not run\n");
    return check_finish("corpus");
}
