/* Several corpora in one scan (ser/corpus_set.h) on trees of empty files: label rules (parse
 * errors naming the word, map before keep, synonyms), a parent of two corpora detected subfolder
 * by subfolder (and the folders that must stay one corpus: TESS with a stray subfolder, a
 * folder-per-label corpus), corpus names made unique, groups prefixed, dropped counts. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "test_util.h"
#include "ser/corpus_set.h"

static char g_tmp[256];

static const char *path(const char *rel) {
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_tmp, rel);
    return p[k];
}

static void test_rules(void) {
    ser_label_rules r;
    ser_error err;
    ser_label_rules_init(&r);
    CHECK(ser_label_rules_keep(&r, "angry,Disgust,fearful,happy,neutral,sad", &err) == 0 && r.n_keep == 6);
    CHECK(ser_label_rules_map(&r, "calm=neutral", &err) == 0);
    CHECK(ser_label_rules_map(&r, "ps=happy,surprised=happy", &err) == 0);
    CHECK(!strcmp(ser_label_rules_apply(&r, "calm"), "neutral"));
    CHECK(!strcmp(ser_label_rules_apply(&r, "surprise"), "happy"));
    CHECK(!strcmp(ser_label_rules_apply(&r, "angry"), "angry"));
    CHECK(ser_label_rules_apply(&r, "boredom") == NULL); /* a folder label that is no canonical one */
    ser_label_rules_init(&r);
    CHECK(!strcmp(ser_label_rules_apply(&r, "boredom"), "boredom")); /* no --labels: everything stays */
    CHECK(ser_label_rules_keep(&r, "angry,grumpy", &err) != 0);
    CHECKF(strstr(err.msg, "'grumpy'") && strstr(err.msg, "--labels"), "%s", err.msg);
    CHECK(ser_label_rules_keep(&r, "angry,,sad", &err) != 0 && strstr(err.msg, "empty"));
    CHECK(ser_label_rules_map(&r, "calm", &err) != 0 && strstr(err.msg, "FROM=TO"));
    CHECK(ser_label_rules_map(&r, "calm=serene", &err) != 0 && strstr(err.msg, "'serene'"));
    CHECK(ser_label_rules_map(&r, "calm=neutral,calm=sad", &err) != 0);
    CHECKF(strstr(err.msg, "both neutral and sad"), "%s", err.msg);
}

static void test_parent(void) {
    /* parent/tess: TESS layout, 2 emotions; parent/rav/Actor_01: RAVDESS names, calm + angry */
    test_touch(g_tmp, "parent/tess/OAF_angry/OAF_back_angry.wav");
    test_touch(g_tmp, "parent/tess/OAF_angry/OAF_bar_angry.wav");
    test_touch(g_tmp, "parent/tess/OAF_Pleasant_surprise/OAF_back_ps.wav");
    test_touch(g_tmp, "parent/rav/Actor_01/03-01-02-01-01-01-01.wav");
    test_touch(g_tmp, "parent/rav/Actor_01/03-01-05-01-01-01-01.wav");
    test_touch(g_tmp, "parent/rav/Actor_01/03-01-08-01-01-01-01.wav");
    test_touch(g_tmp, "parent/loose.wav");
    ser_data_source src = {path("parent"), SER_CORPUS_AUTO};
    ser_label_rules r;
    ser_error err;
    ser_label_rules_init(&r);
    CHECK(ser_label_rules_map(&r, "calm=neutral", &err) == 0);
    CHECK(ser_label_rules_keep(&r, "angry,neutral", &err) == 0);
    ser_corpus_set s;
    CHECKF(ser_corpus_set_scan(&src, 1, 0, &r, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n == 2);
    if (s.n == 2) {
        /* subfolders in name order: rav, tess */
        CHECK(!strcmp(s.names[0], "ravdess") && s.corpora[0].kind == SER_CORPUS_RAVDESS);
        CHECK(!strcmp(s.names[1], "tess") && s.corpora[1].kind == SER_CORPUS_TESS);
        CHECK(s.n_loose == 1);
        CHECKF(s.clips.n == 4, "%zu clips", s.clips.n);
        /* ravdess: calm -> neutral, angry; surprise dropped. tess: 2 angry; surprise dropped */
        if (s.clips.n == 4) {
            CHECK(!strcmp(s.clips.v[0].label, "neutral") && !strcmp(s.clips.v[0].corpus, "ravdess"));
            CHECKF(!strcmp(s.clips.v[0].group, "ravdess/Actor_01"), "%s", s.clips.v[0].group);
            CHECK(!strcmp(s.clips.v[1].label, "angry") && !strcmp(s.clips.v[1].speaker, "01"));
            CHECK(!strcmp(s.clips.v[3].corpus, "tess") && !strcmp(s.clips.v[3].group, "tess/OAF_angry"));
        }
        CHECK(s.n_dropped == 2);
        if (s.n_dropped == 2) {
            CHECK(!strcmp(s.dropped[0].corpus, "ravdess") && !strcmp(s.dropped[0].label, "surprise") && s.dropped[0].n == 1);
            CHECK(!strcmp(s.dropped[1].corpus, "tess") && !strcmp(s.dropped[1].label, "surprise") && s.dropped[1].n == 1);
        }
    }
    ser_corpus_set_free(&s);
    /* --labels that keeps nothing: an error */
    ser_label_rules_init(&r);
    CHECK(ser_label_rules_keep(&r, "disgust", &err) == 0);
    CHECK(ser_corpus_set_scan(&src, 1, 0, &r, &s, &err) != 0 && strstr(err.msg, "keeps none"));
    /* a forced kind is one corpus, as before (the other corpus's files are skips) */
    ser_data_source forced = {path("parent"), SER_CORPUS_TESS};
    CHECKF(ser_corpus_set_scan(&forced, 1, 0, NULL, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n == 1 && s.corpora[0].n_skips == 4 && s.clips.n == 3);
    CHECK(s.clips.n == 3 && !strcmp(s.clips.v[0].group, "tess/OAF_Pleasant_surprise")); /* one corpus: no prefix */
    ser_corpus_set_free(&s);
}

static void test_stays_one(void) {
    ser_corpus_set s;
    ser_error err;
    /* TESS with a stray subfolder of other names: the majority holds, one corpus with a skip */
    test_touch(g_tmp, "t1/OAF_angry/OAF_back_angry.wav");
    test_touch(g_tmp, "t1/OAF_angry/OAF_bar_angry.wav");
    test_touch(g_tmp, "t1/OAF_sad/OAF_back_sad.wav");
    test_touch(g_tmp, "t1/extras/take1.wav");
    ser_data_source a = {path("t1"), SER_CORPUS_AUTO};
    CHECKF(ser_corpus_set_scan(&a, 1, 0, NULL, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n == 1 && s.corpora[0].kind == SER_CORPUS_TESS && s.corpora[0].n_skips == 1 && s.n_loose == 0);
    CHECK(s.n == 1 && !strcmp(s.names[0], "tess") && !strcmp(s.clips.v[0].group, "OAF_angry"));
    ser_corpus_set_free(&s);
    CHECK(ser_corpus_set_scan(&a, 1, 1, NULL, &s, &err) != 0);
    CHECKF(strstr(err.msg, "skipped (strict)") && strstr(err.msg, "take1.wav"), "%s", err.msg);
    /* a folder-per-label corpus: every subfolder is "folders", one corpus named after the folder */
    test_touch(g_tmp, "mine/angry/a.wav");
    test_touch(g_tmp, "mine/boredom/b.wav");
    ser_data_source b = {path("mine"), SER_CORPUS_AUTO};
    CHECKF(ser_corpus_set_scan(&b, 1, 0, NULL, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n == 1 && s.corpora[0].kind == SER_CORPUS_FOLDERS && !strcmp(s.names[0], "mine"));
    CHECK(s.clips.n == 2 && !strcmp(s.clips.v[1].label, "boredom") && !strcmp(s.clips.v[1].corpus, "mine"));
    ser_corpus_set_free(&s);
    /* two sources of one kind: names made unique with the folder's name; the same folder twice fails */
    ser_data_source two[2] = {{path("t1"), SER_CORPUS_AUTO}, {path("parent/tess"), SER_CORPUS_AUTO}};
    CHECKF(ser_corpus_set_scan(two, 2, 0, NULL, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n == 2 && !strcmp(s.names[0], "tess-t1") && !strcmp(s.names[1], "tess-tess"));
    CHECK(s.n == 2 && !strcmp(s.clips.v[0].corpus, "tess-t1") && !strcmp(s.clips.v[0].group, "tess-t1/OAF_angry"));
    ser_corpus_set_free(&s);
    ser_data_source same[2] = {{path("t1"), SER_CORPUS_AUTO}, {path("t1"), SER_CORPUS_AUTO}};
    CHECK(ser_corpus_set_scan(same, 2, 0, NULL, &s, &err) != 0 && strstr(err.msg, "two corpora named"));
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ser_test_corpus_set_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_rules();
    test_parent();
    test_stays_one();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_tmp);
    return check_finish("corpus_set");
}
