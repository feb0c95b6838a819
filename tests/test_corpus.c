/* Corpus scan: every parser on folder trees of EMPTY files (names are all the parsers read; no
 * corpus audio is copied), typo prefixes, bad names (skipped with a reason, fatal in strict
 * mode), non-audio and hidden files, missing / empty / unreadable folders, auto-detection, the
 * label set and class indices; then the real TESS and RAVDESS folders when present. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ser/corpus.h"

/* ---- temp trees of empty files ------------------------------------------------------------ */

static char *tree_new(void) {
    char tmpl[] = "/tmp/ser_corpus_XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d) {
        perror("mkdtemp");
        exit(1);
    }
    return strdup(d);
}

/* root/rel as an empty file, folders made on the way; rel ending in '/' makes a folder only. */
static void tree_touch(const char *root, const char *rel) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(p, 0777);
        *s = '/';
    }
    if (p[strlen(p) - 1] == '/') return;
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(1);
    }
    fclose(f);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void tree_free(char *root) {
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(root);
}

/* The clip whose path ends in suffix, or NULL. */
static const ser_clip *find(const ser_corpus *c, const char *suffix) {
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < c->clips.n; i++) {
        size_t pl = strlen(c->clips.v[i].path);
        if (pl >= sl && !strcmp(c->clips.v[i].path + pl - sl, suffix)) return &c->clips.v[i];
    }
    return NULL;
}

static int clip_is(const ser_corpus *c, const char *suffix, const char *label, const char *speaker,
                   const char *group) {
    const ser_clip *k = find(c, suffix);
    if (!k) {
        fprintf(stderr, "  no clip %s\n", suffix);
        return 0;
    }
    if (strcmp(k->label, label) || strcmp(k->speaker, speaker) || strcmp(k->group, group)) {
        fprintf(stderr, "  %s: got (%s, %s, %s), want (%s, %s, %s)\n", suffix, k->label, k->speaker, k->group,
                label, speaker, group);
        return 0;
    }
    return 1;
}

static int skipped(const ser_corpus *c, const char *suffix) {
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < c->n_skips; i++) {
        size_t pl = strlen(c->skips[i].path);
        if (pl >= sl && !strcmp(c->skips[i].path + pl - sl, suffix) && c->skips[i].reason[0]) return 1;
    }
    return 0;
}

static int sorted_by_path(const ser_corpus *c) {
    for (size_t i = 1; i < c->clips.n; i++)
        if (strcmp(c->clips.v[i - 1].path, c->clips.v[i].path) >= 0) return 0;
    return 1;
}

/* ---- labels and kinds --------------------------------------------------------------------- */

static void test_labels(void) {
    static const char *const CANON[] = {"angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise"};
    for (int i = 0; i < SER_LABEL_COUNT; i++) {
        CHECK(!strcmp(ser_label_name(i), CANON[i]));
        CHECK(ser_label_parse(CANON[i]) == i);
    }
    CHECK(ser_label_name(-1) == NULL && ser_label_name(SER_LABEL_COUNT) == NULL);
    CHECK(ser_label_parse("ps") == SER_LABEL_SURPRISE);
    CHECK(ser_label_parse("Surprised") == SER_LABEL_SURPRISE);
    CHECK(ser_label_parse("pleasant_surprised") == SER_LABEL_SURPRISE);
    CHECK(ser_label_parse("ANGER") == SER_LABEL_ANGRY);
    CHECK(ser_label_parse("ang") == SER_LABEL_ANGRY);
    CHECK(ser_label_parse("fearful") == SER_LABEL_FEAR);
    CHECK(ser_label_parse("boredom") == -1);
    CHECK(ser_label_parse("") == -1);

    ser_corpus_kind k;
    ser_error err;
    CHECK(ser_corpus_kind_parse("tess", &k, &err) == 0 && k == SER_CORPUS_TESS);
    CHECK(ser_corpus_kind_parse("RAVDESS", &k, &err) == 0 && k == SER_CORPUS_RAVDESS);
    CHECK(ser_corpus_kind_parse("crema-d", &k, &err) == 0 && k == SER_CORPUS_CREMAD);
    CHECK(ser_corpus_kind_parse("folders", &k, &err) == 0 && k == SER_CORPUS_FOLDERS);
    CHECK(ser_corpus_kind_parse("auto", &k, &err) == 0 && k == SER_CORPUS_AUTO);
    CHECK(ser_corpus_kind_parse("emodb", &k, &err) == -1 && strstr(err.msg, "emodb"));
    CHECK(!strcmp(ser_corpus_kind_name(SER_CORPUS_SAVEE), "savee"));
}

/* ---- TESS --------------------------------------------------------------------------------- */

static void test_tess(void) {
    char *t = tree_new();
    tree_touch(t, "OAF_angry/OAF_back_angry.wav");
    tree_touch(t, "OAF_angry/OAF_bar_angry.WAV");
    tree_touch(t, "OAF_angry/OAF_base_angyr.wav"); /* no known label: skipped */
    tree_touch(t, "OAF_angry/notes.txt");          /* not audio: ignored */
    tree_touch(t, "OAF_angry/._OAF_bad_angry.wav"); /* macOS resource fork: hidden, ignored */
    tree_touch(t, "OAF_pleasant_surprised/OAF_dog_ps.wav");
    tree_touch(t, "YAF_fear/YAF_bean_fear.aif");
    tree_touch(t, "YAF_fear/YFA_chain_fear.wav"); /* typo prefix: speaker from the folder */
    tree_touch(t, "YAF_fear/OA_chair_fear.flac");
    tree_touch(t, "YAF_sad/YAF_beg_sad.ogg");
    tree_touch(t, "YAF_sad/YAF_cab_neutral.wav");

    ser_corpus c;
    ser_error err;
    for (int pass = 0; pass < 2; pass++) {
        ser_corpus_kind kind = pass ? SER_CORPUS_AUTO : SER_CORPUS_TESS;
        CHECKF(ser_corpus_scan(t, kind, 0, &c, &err) == 0, "%s", err.msg);
        CHECK(c.kind == SER_CORPUS_TESS);
        CHECKF(c.clips.n == 8, "%zu clips", c.clips.n);
        CHECK(c.n_skips == 1 && c.n_audio == 9);
        CHECK(skipped(&c, "OAF_angry/OAF_base_angyr.wav"));
        CHECK(c.n_skips == 1 && strstr(c.skips[0].reason, "angyr"));
        CHECK(clip_is(&c, "OAF_back_angry.wav", "angry", "OAF", "OAF_angry"));
        CHECK(clip_is(&c, "OAF_bar_angry.WAV", "angry", "OAF", "OAF_angry"));
        CHECK(clip_is(&c, "OAF_dog_ps.wav", "surprise", "OAF", "OAF_pleasant_surprised"));
        CHECK(clip_is(&c, "YAF_bean_fear.aif", "fear", "YAF", "YAF_fear"));
        CHECK(clip_is(&c, "YFA_chain_fear.wav", "fear", "YAF", "YAF_fear"));
        CHECK(clip_is(&c, "OA_chair_fear.flac", "fear", "YAF", "YAF_fear"));
        CHECK(clip_is(&c, "YAF_beg_sad.ogg", "sad", "YAF", "YAF_sad"));
        /* The label comes from the file name, not the folder. */
        CHECK(clip_is(&c, "YAF_cab_neutral.wav", "neutral", "YAF", "YAF_sad"));
        CHECK(find(&c, "notes.txt") == NULL && find(&c, "._OAF_bad_angry.wav") == NULL);
        CHECK(sorted_by_path(&c));
        CHECK(c.clips.v[0].path[0] == '/');
        ser_corpus_free(&c);
    }

    /* Strict: the one skip is fatal and named. */
    CHECK(ser_corpus_scan(t, SER_CORPUS_TESS, 1, &c, &err) == -1);
    CHECKF(strstr(err.msg, "OAF_base_angyr.wav") != NULL, "%s", err.msg);

    /* Label set (sorted, unique) and class indices. */
    CHECK(ser_corpus_scan(t, SER_CORPUS_TESS, 0, &c, &err) == 0);
    const char **names = NULL;
    size_t n_names = 0;
    CHECK(ser_clips_label_set(&c.clips, &names, &n_names, &err) == 0);
    static const char *const WANT[] = {"angry", "fear", "neutral", "sad", "surprise"};
    CHECKF(n_names == 5, "%zu labels", n_names);
    for (size_t i = 0; i < 5 && i < n_names; i++) CHECK(!strcmp(names[i], WANT[i]));
    int idx[16];
    CHECK(ser_clips_label_index(&c.clips, names, n_names, idx, &err) == 0);
    for (size_t i = 0; i < c.clips.n; i++) CHECK(idx[i] >= 0 && !strcmp(names[idx[i]], c.clips.v[i].label));
    /* A class list that lacks a label present: fails naming the label. */
    CHECK(ser_clips_label_index(&c.clips, names, 3, idx, &err) == -1 && strstr(err.msg, "'surprise'"));
    free(names);
    ser_corpus_free(&c);
    tree_free(t);
}

/* ---- RAVDESS ------------------------------------------------------------------------------ */

static void test_ravdess(void) {
    static const char *const EMO[8] = {"neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise"};
    char *t = tree_new();
    char rel[256];
    for (int e = 1; e <= 8; e++) {
        snprintf(rel, sizeof rel, "Actor_01/03-01-%02d-01-01-01-01.wav", e);
        tree_touch(t, rel);
        snprintf(rel, sizeof rel, "Actor_12/03-01-%02d-02-02-02-12.wav", e);
        tree_touch(t, rel);
    }
    tree_touch(t, "Actor_01/03-02-01-01-01-01-01.wav"); /* song: skipped */
    tree_touch(t, "Actor_01/03-01-09-01-01-01-01.wav"); /* emotion 09: skipped */
    tree_touch(t, "Actor_01/03-01-01-01-01.wav");       /* 5 fields: skipped */
    tree_touch(t, "Actor_01/README.md");
    ser_corpus c;
    ser_error err;
    for (int pass = 0; pass < 2; pass++) {
        CHECKF(ser_corpus_scan(t, pass ? SER_CORPUS_AUTO : SER_CORPUS_RAVDESS, 0, &c, &err) == 0, "%s", err.msg);
        CHECK(c.kind == SER_CORPUS_RAVDESS);
        CHECKF(c.clips.n == 16 && c.n_skips == 3, "%zu clips %zu skips", c.clips.n, c.n_skips);
        for (int e = 1; e <= 8; e++) {
            snprintf(rel, sizeof rel, "03-01-%02d-01-01-01-01.wav", e);
            CHECK(clip_is(&c, rel, EMO[e - 1], "01", "Actor_01"));
            snprintf(rel, sizeof rel, "03-01-%02d-02-02-02-12.wav", e);
            CHECK(clip_is(&c, rel, EMO[e - 1], "12", "Actor_12"));
        }
        CHECK(skipped(&c, "03-02-01-01-01-01-01.wav") && skipped(&c, "03-01-09-01-01-01-01.wav") &&
              skipped(&c, "03-01-01-01-01.wav"));
        CHECK(sorted_by_path(&c));
        ser_corpus_free(&c);
    }
    CHECK(ser_corpus_scan(t, SER_CORPUS_RAVDESS, 1, &c, &err) == -1 && strstr(err.msg, "skipped"));
    tree_free(t);
}

/* ---- CREMA-D ------------------------------------------------------------------------------ */

static void test_cremad(void) {
    char *t = tree_new();
    tree_touch(t, "AudioWAV/1001_DFA_ANG_XX.wav");
    tree_touch(t, "AudioWAV/1001_DFA_DIS_XX.wav");
    tree_touch(t, "AudioWAV/1002_IEO_FEA_HI.wav");
    tree_touch(t, "AudioWAV/1002_IEO_HAP_LO.wav");
    tree_touch(t, "AudioWAV/1091_TSI_NEU_XX.wav");
    tree_touch(t, "AudioWAV/1091_WSI_SAD_MD.wav");
    tree_touch(t, "AudioWAV/1001_DFA_XYZ_XX.wav"); /* unknown emotion */
    tree_touch(t, "AudioWAV/1001_DFA_ANG_ZZ.wav"); /* unknown level */
    ser_corpus c;
    ser_error err;
    for (int pass = 0; pass < 2; pass++) {
        CHECKF(ser_corpus_scan(t, pass ? SER_CORPUS_AUTO : SER_CORPUS_CREMAD, 0, &c, &err) == 0, "%s", err.msg);
        CHECK(c.kind == SER_CORPUS_CREMAD);
        CHECKF(c.clips.n == 6 && c.n_skips == 2, "%zu clips %zu skips", c.clips.n, c.n_skips);
        CHECK(clip_is(&c, "1001_DFA_ANG_XX.wav", "angry", "1001", "AudioWAV"));
        CHECK(clip_is(&c, "1001_DFA_DIS_XX.wav", "disgust", "1001", "AudioWAV"));
        CHECK(clip_is(&c, "1002_IEO_FEA_HI.wav", "fear", "1002", "AudioWAV"));
        CHECK(clip_is(&c, "1002_IEO_HAP_LO.wav", "happy", "1002", "AudioWAV"));
        CHECK(clip_is(&c, "1091_TSI_NEU_XX.wav", "neutral", "1091", "AudioWAV"));
        CHECK(clip_is(&c, "1091_WSI_SAD_MD.wav", "sad", "1091", "AudioWAV"));
        CHECK(skipped(&c, "1001_DFA_XYZ_XX.wav") && skipped(&c, "1001_DFA_ANG_ZZ.wav"));
        ser_corpus_free(&c);
    }
    tree_free(t);
}

/* ---- SAVEE -------------------------------------------------------------------------------- */

static void test_savee(void) {
    char *t = tree_new();
    /* Both layouts: prefixed names in one folder, bare names in speaker folders. */
    tree_touch(t, "ALL/DC_a01.wav");
    tree_touch(t, "ALL/DC_d02.wav");
    tree_touch(t, "ALL/JE_f03.wav");
    tree_touch(t, "ALL/JK_h04.wav");
    tree_touch(t, "ALL/JK_n05.wav");
    tree_touch(t, "ALL/KL_sa06.wav");
    tree_touch(t, "ALL/KL_su07.wav");
    tree_touch(t, "ALL/DC_x01.wav"); /* unknown emotion prefix */
    tree_touch(t, "KL/sa01.wav");
    tree_touch(t, "KL/n15.wav");
    ser_corpus c;
    ser_error err;
    for (int pass = 0; pass < 2; pass++) {
        CHECKF(ser_corpus_scan(t, pass ? SER_CORPUS_AUTO : SER_CORPUS_SAVEE, 0, &c, &err) == 0, "%s", err.msg);
        CHECK(c.kind == SER_CORPUS_SAVEE);
        CHECKF(c.clips.n == 9 && c.n_skips == 1, "%zu clips %zu skips", c.clips.n, c.n_skips);
        CHECK(clip_is(&c, "DC_a01.wav", "angry", "DC", "ALL"));
        CHECK(clip_is(&c, "DC_d02.wav", "disgust", "DC", "ALL"));
        CHECK(clip_is(&c, "JE_f03.wav", "fear", "JE", "ALL"));
        CHECK(clip_is(&c, "JK_h04.wav", "happy", "JK", "ALL"));
        CHECK(clip_is(&c, "JK_n05.wav", "neutral", "JK", "ALL"));
        CHECK(clip_is(&c, "KL_sa06.wav", "sad", "KL", "ALL"));
        CHECK(clip_is(&c, "KL_su07.wav", "surprise", "KL", "ALL"));
        CHECK(clip_is(&c, "KL/sa01.wav", "sad", "KL", "KL"));
        CHECK(clip_is(&c, "KL/n15.wav", "neutral", "KL", "KL"));
        CHECK(skipped(&c, "DC_x01.wav"));
        ser_corpus_free(&c);
    }
    tree_free(t);
}

/* ---- generic folder-per-label ------------------------------------------------------------- */

static void test_folders(void) {
    char *t = tree_new();
    tree_touch(t, "anger/a1.wav");
    tree_touch(t, "Fearful/b1.wav");
    tree_touch(t, "ps/c1.wav");
    tree_touch(t, "surprised/c2.wav");
    tree_touch(t, "boredom/d1.wav"); /* unknown: kept as-is */
    tree_touch(t, "boredom/d2.txt");
    tree_touch(t, "sad/e1.WAV");
    ser_corpus c;
    ser_error err;
    for (int pass = 0; pass < 2; pass++) {
        CHECKF(ser_corpus_scan(t, pass ? SER_CORPUS_AUTO : SER_CORPUS_FOLDERS, 0, &c, &err) == 0, "%s", err.msg);
        CHECK(c.kind == SER_CORPUS_FOLDERS);
        CHECKF(c.clips.n == 6 && c.n_skips == 0, "%zu clips %zu skips", c.clips.n, c.n_skips);
        CHECK(clip_is(&c, "anger/a1.wav", "angry", "", "anger"));
        CHECK(clip_is(&c, "Fearful/b1.wav", "fear", "", "Fearful"));
        CHECK(clip_is(&c, "ps/c1.wav", "surprise", "", "ps"));
        CHECK(clip_is(&c, "surprised/c2.wav", "surprise", "", "surprised"));
        CHECK(clip_is(&c, "boredom/d1.wav", "boredom", "", "boredom"));
        CHECK(clip_is(&c, "sad/e1.WAV", "sad", "", "sad"));
        ser_corpus_free(&c);
    }
    /* Nested folders: the group is the path below the root, the label the parent's name. */
    tree_touch(t, "extra/happy/f1.wav");
    CHECK(ser_corpus_scan(t, SER_CORPUS_FOLDERS, 0, &c, &err) == 0);
    CHECK(clip_is(&c, "extra/happy/f1.wav", "happy", "", "extra/happy"));
    ser_corpus_free(&c);
    tree_free(t);
}

/* ---- errors ------------------------------------------------------------------------------- */

static void test_errors(void) {
    ser_corpus c;
    ser_error err;
    char *t = tree_new();
    char p[4096];

    snprintf(p, sizeof p, "%s/nope", t);
    CHECK(ser_corpus_scan(p, SER_CORPUS_AUTO, 0, &c, &err) == -1);
    CHECKF(strstr(err.msg, p) != NULL, "%s", err.msg);

    tree_touch(t, "empty/notes.txt");
    tree_touch(t, "empty/sub/");
    snprintf(p, sizeof p, "%s/empty", t);
    CHECK(ser_corpus_scan(p, SER_CORPUS_AUTO, 0, &c, &err) == -1);
    CHECKF(strstr(err.msg, p) && strstr(err.msg, "no audio"), "%s", err.msg);

    snprintf(p, sizeof p, "%s/empty/notes.txt", t);
    CHECK(ser_corpus_scan(p, SER_CORPUS_AUTO, 0, &c, &err) == -1);
    CHECKF(strstr(err.msg, p) && strstr(err.msg, "not a folder"), "%s", err.msg);

    /* Every file unlabelled: an error naming the first, not an empty corpus. */
    tree_touch(t, "bad/x_y_zzz.wav");
    snprintf(p, sizeof p, "%s/bad", t);
    CHECK(ser_corpus_scan(p, SER_CORPUS_TESS, 0, &c, &err) == -1);
    CHECKF(strstr(err.msg, "x_y_zzz.wav") != NULL, "%s", err.msg);

    /* An unreadable subfolder names its path (root ignores permissions: not testable then). */
    if (geteuid() != 0) {
        tree_touch(t, "locked/OAF_angry/OAF_a_angry.wav");
        tree_touch(t, "locked/OAF_sad/OAF_a_sad.wav");
        snprintf(p, sizeof p, "%s/locked/OAF_sad", t);
        chmod(p, 0);
        char root[4096];
        snprintf(root, sizeof root, "%s/locked", t);
        CHECK(ser_corpus_scan(root, SER_CORPUS_TESS, 0, &c, &err) == -1);
        CHECKF(strstr(err.msg, "OAF_sad") != NULL, "%s", err.msg);
        chmod(p, 0700);
    } else {
        printf("note: running as root, the unreadable-folder case is not testable\n");
    }
    tree_free(t);
}

/* ---- the real corpora (../shared/data) ---------------------------------------------------- */

static size_t count_unique(const ser_clips *cl, int field) {
    size_t k = 0;
    for (size_t i = 0; i < cl->n; i++) {
        const char *v = field == 0 ? cl->v[i].speaker : cl->v[i].group;
        size_t j = 0;
        while (j < i && strcmp(field == 0 ? cl->v[j].speaker : cl->v[j].group, v)) j++;
        k += j == i;
    }
    return k;
}

static void test_shared(const char *data) {
    char p[4096];
    ser_corpus c;
    ser_error err;
    snprintf(p, sizeof p, "%s/tess", data);
    CHECKF(ser_corpus_scan(p, SER_CORPUS_AUTO, 1, &c, &err) == 0, "%s", err.msg);
    CHECK(c.kind == SER_CORPUS_TESS);
    CHECKF(c.clips.n == 2238 && c.n_skips == 0, "%zu clips %zu skips", c.clips.n, c.n_skips);
    const char **names = NULL;
    size_t n_names = 0;
    CHECK(ser_clips_label_set(&c.clips, &names, &n_names, &err) == 0);
    CHECKF(n_names == 7, "%zu labels", n_names);
    free(names);
    CHECK(count_unique(&c.clips, 0) == 2);
    CHECK(count_unique(&c.clips, 1) == 14);
    for (size_t i = 0; i < c.clips.n; i++)
        if (strcmp(c.clips.v[i].speaker, "OAF") && strcmp(c.clips.v[i].speaker, "YAF")) {
            CHECKF(0, "speaker '%s' of %s", c.clips.v[i].speaker, c.clips.v[i].path);
            break;
        }
    CHECK(clip_is(&c, "tess/YAF_pleasant_surprised/YAF_back_ps.wav", "surprise", "YAF", "YAF_pleasant_surprised"));
    ser_corpus_free(&c);

    snprintf(p, sizeof p, "%s/ravdess/Actor_01", data);
    CHECKF(ser_corpus_scan(p, SER_CORPUS_AUTO, 1, &c, &err) == 0, "%s", err.msg);
    CHECK(c.kind == SER_CORPUS_RAVDESS);
    CHECKF(c.clips.n == 60, "%zu clips", c.clips.n);
    CHECK(ser_clips_label_set(&c.clips, &names, &n_names, &err) == 0);
    CHECKF(n_names == 8, "%zu labels", n_names);
    free(names);
    CHECK(count_unique(&c.clips, 0) == 1 && !strcmp(c.clips.v[0].speaker, "01"));
    CHECK(!strcmp(c.clips.v[0].group, "Actor_01"));
    ser_corpus_free(&c);
}

int main(void) {
    test_labels();
    test_tess();
    test_ravdess();
    test_cremad();
    test_savee();
    test_folders();
    test_errors();
    const char *data = check_shared_data();
    if (data) test_shared(data);
    else printf("SKIPPED part: no ../shared/data, the real-corpus checks are not run\n");
    return check_finish("test_corpus");
}
