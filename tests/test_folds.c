/* Cross-validation folds (include/ser/folds.h): k-fold puts every speaker in exactly one test
 * fold, balanced by clips as the documented greedy deal (recomputed here), seeded and
 * deterministic; leave-one-speaker-out; fold lists (plain speaker lists, EmoBox jsonl clip lists
 * in both layouts) and their errors; ser_split_make_mask keeps validation inside the training
 * speakers and equals ser split's speaker-independent split; ser_fold_val_speakers holds out
 * whole training speakers; two corpora with one speaker id are two speakers (CORPUS:SPEAKER) in
 * every fold kind. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ser/folds.h"
#include "ser/split.h"

static char g_tmp[256];

/* 10 speakers of unequal size (s00..s09), clips named sNN_i.wav in folders sNN/. */
static const int COUNTS[10] = {30, 5, 12, 20, 8, 8, 15, 3, 25, 10};

static void make_clips(ser_clips *c) {
    memset(c, 0, sizeof *c);
    static const char *const LAB[3] = {"angry", "happy", "sad"};
    for (int s = 0; s < 10; s++)
        for (int i = 0; i < COUNTS[s]; i++) {
            char path[64], spk[8];
            snprintf(spk, sizeof spk, "s%02d", s);
            snprintf(path, sizeof path, "/c/%s/%s_%d.wav", spk, spk, i);
            CHECK(ser_clips_push(c, path, LAB[i % 3], spk, spk, NULL) == 0);
        }
}

/* Fold of speaker s in f (-1 when its clips are in none or split over several). */
static int fold_of(const ser_clips *c, const ser_folds *f, const char *spk) {
    int found = -1;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].speaker, spk)) continue;
        int in = -1, hits = 0;
        for (size_t k = 0; k < f->n; k++)
            if (f->v[k].in_test[i]) in = (int)k, hits++;
        if (hits != 1 || (found >= 0 && in != found)) return -1;
        found = in;
    }
    return found;
}

static int same_folds(const ser_folds *a, const ser_folds *b) {
    if (a->n != b->n || a->n_clips != b->n_clips) return 0;
    for (size_t k = 0; k < a->n; k++)
        if (memcmp(a->v[k].in_test, b->v[k].in_test, a->n_clips)) return 0;
    return 1;
}

static void test_kfold(const ser_clips *c) {
    ser_error err;
    for (int k = 2; k <= 10; k++) {
        ser_folds f;
        CHECKF(ser_folds_kfold(c, k, 42, &f, &err) == 0, "k %d: %s", k, err.msg);
        CHECK(f.n == (size_t)k && f.n_untested == 0);
        /* every speaker's clips in exactly one fold */
        size_t load[10] = {0}, total = 0;
        for (int s = 0; s < 10; s++) {
            char spk[8];
            snprintf(spk, sizeof spk, "s%02d", s);
            int g = fold_of(c, &f, spk);
            CHECKF(g >= 0, "k %d: speaker %s not in exactly one fold", k, spk);
            if (g >= 0) load[g] += (size_t)COUNTS[s];
        }
        size_t mx = 0, mn = (size_t)-1;
        for (int g = 0; g < k; g++) {
            CHECK(f.v[g].n_test == load[g] && f.v[g].n_speakers >= 1);
            total += f.v[g].n_test;
            mx = load[g] > mx ? load[g] : mx, mn = load[g] < mn ? load[g] : mn;
        }
        CHECK(total == c->n);
        /* the greedy deal's bound: groups differ by at most the largest speaker */
        CHECKF(mx - mn <= 30, "k %d: loads %zu..%zu", k, mx, mn);

        /* the documented deal, recomputed: sorted speakers, seeded permutation, stable sort by
         * count descending, each to the least-loaded group (lowest number on ties) */
        ser_mt19937 r;
        size_t perm[10], order[10], n = 0, want[10] = {0};
        ser_mt19937_seed(&r, 42);
        ser_mt19937_permutation(&r, perm, 10);
        for (int pass = 30; pass >= 0; pass--)
            for (int i = 0; i < 10; i++)
                if (COUNTS[perm[i]] == pass) order[n++] = perm[i];
        CHECK(n == 10);
        for (size_t i = 0; i < n; i++) {
            size_t g = 0;
            for (size_t j = 1; j < (size_t)k; j++)
                if (want[j] < want[g]) g = j;
            want[g] += (size_t)COUNTS[order[i]];
            char spk[8];
            snprintf(spk, sizeof spk, "s%02zu", order[i]);
            CHECKF(fold_of(c, &f, spk) == (int)g, "k %d: speaker %s in fold %d, the deal says %zu", k, spk,
                   fold_of(c, &f, spk), g);
        }
        /* seeded: the same seed, the same folds */
        ser_folds f2;
        CHECK(ser_folds_kfold(c, k, 42, &f2, &err) == 0 && same_folds(&f, &f2));
        ser_folds_free(&f2);
        ser_folds_free(&f);
    }
    /* another seed deals differently (for some seed) */
    ser_folds a, b;
    CHECK(ser_folds_kfold(c, 3, 42, &a, &err) == 0);
    int differs = 0;
    for (uint32_t s = 1; s < 20 && !differs; s++) {
        CHECK(ser_folds_kfold(c, 3, s, &b, &err) == 0);
        differs = !same_folds(&a, &b);
        ser_folds_free(&b);
    }
    CHECK(differs);
    ser_folds_free(&a);

    CHECK(ser_folds_kfold(c, 11, 42, &a, &err) != 0 && strstr(err.msg, "only 10 speakers"));
    CHECK(ser_folds_kfold(c, 1, 42, &a, &err) != 0 && strstr(err.msg, "at least 2"));
    ser_clips nospk = {0};
    CHECK(ser_clips_push(&nospk, "/x/a.wav", "angry", "", "angry", NULL) == 0);
    CHECK(ser_folds_kfold(&nospk, 2, 42, &a, &err) != 0 && strstr(err.msg, "names no speaker"));
    CHECK(ser_folds_loso(&nospk, &a, &err) != 0);
    ser_clips_free(&nospk);
}

static void test_loso(const ser_clips *c) {
    ser_folds f;
    ser_error err;
    CHECK(ser_folds_loso(c, &f, &err) == 0 && f.n == 10);
    for (int s = 0; s < 10 && f.n == 10; s++) {
        char spk[8];
        snprintf(spk, sizeof spk, "s%02d", s);
        CHECK(fold_of(c, &f, spk) == s && f.v[s].n_speakers == 1 && !strcmp(f.v[s].speakers[0], spk));
        CHECK(f.v[s].n_test == (size_t)COUNTS[s]);
    }
    ser_folds_free(&f);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

/* One EmoBox line in its real format (data/ravdess/fold_1/ravdess_test_fold_1.jsonl). */
static void emobox_line(FILE *f, const char *clip) {
    fprintf(f,
            "{\"key\": \"syn-%s\", \"dataset\": \"syn\", \"wav\": \"downloads/syn/audio/%.3s/%s.wav\", \"type\": "
            "\"raw\", \"sample_rate\": 48000, \"num_frame\": 179379.0, \"task\": \"category\", \"length\": 3.73, "
            "\"emo\": \"Angry\", \"channel\": 1}\n",
            clip, clip, clip);
}

static void test_lists(const ser_clips *c) {
    char dir[512], p[600];
    ser_folds f;
    ser_error err;
    /* plain speaker lists, one file per fold, in name order; s09 in none */
    snprintf(dir, sizeof dir, "%s/plain", g_tmp);
    CHECK(mkdir(dir, 0777) == 0);
    snprintf(p, sizeof p, "%s/a.txt", dir);
    write_file(p, "# fold a\ns00\n\n s01 \r\n");
    snprintf(p, sizeof p, "%s/b.txt", dir);
    write_file(p, "s02\ns03\ns04\ns05\ns06\ns07\ns08\n");
    snprintf(p, sizeof p, "%s/.hidden", dir);
    write_file(p, "zz\n");
    CHECKF(ser_folds_from_dir(c, dir, &f, &err) == 0, "%s", err.msg);
    CHECK(f.n == 2 && f.n_untested == 10);
    CHECK(fold_of(c, &f, "s00") == 0 && fold_of(c, &f, "s01") == 0 && fold_of(c, &f, "s08") == 1);
    CHECK(fold_of(c, &f, "s09") == -1);
    CHECK(f.n == 2 && f.v[0].n_speakers == 2 && strstr(f.v[0].source, "a.txt"));
    ser_folds_free(&f);
    snprintf(p, sizeof p, "%s/c.txt", dir);
    write_file(p, "s09\nzz\n");
    CHECK(ser_folds_from_dir(c, dir, &f, &err) != 0 && strstr(err.msg, "c.txt:2: speaker 'zz' has no clips"));
    write_file(p, "s09\ns00\n");
    CHECK(ser_folds_from_dir(c, dir, &f, &err) != 0 && strstr(err.msg, "test clip of 2 folds"));
    CHECK(unlink(p) == 0);

    /* EmoBox layout: DIR/fold_N/NAME_test_fold_N.jsonl, the train lists beside them ignored */
    snprintf(dir, sizeof dir, "%s/emobox", g_tmp);
    CHECK(mkdir(dir, 0777) == 0);
    for (int k = 1; k <= 2; k++) {
        snprintf(p, sizeof p, "%s/fold_%d", dir, k);
        CHECK(mkdir(p, 0777) == 0);
        snprintf(p, sizeof p, "%s/fold_%d/syn_test_fold_%d.jsonl", dir, k, k);
        FILE *fp = fopen(p, "w");
        CHECK(fp != NULL);
        if (!fp) return;
        for (int i = 0; i < COUNTS[k - 1]; i++) {
            char clip[16];
            snprintf(clip, sizeof clip, "s%02d_%d", k - 1, i);
            emobox_line(fp, clip);
        }
        CHECK(fclose(fp) == 0);
        snprintf(p, sizeof p, "%s/fold_%d/syn_train_fold_%d.jsonl", dir, k, k);
        write_file(p, "not read\n");
    }
    CHECKF(ser_folds_from_dir(c, dir, &f, &err) == 0, "%s", err.msg);
    CHECK(f.n == 2 && fold_of(c, &f, "s00") == 0 && fold_of(c, &f, "s01") == 1);
    CHECK(f.n == 2 && f.v[1].n_test == 5 && f.n_untested == c->n - 35);
    ser_folds_free(&f);
    snprintf(p, sizeof p, "%s/fold_2/syn_test_fold_2.jsonl", dir);
    FILE *fp = fopen(p, "a");
    CHECK(fp != NULL);
    if (fp) emobox_line(fp, "s99_1"), fclose(fp);
    CHECK(ser_folds_from_dir(c, dir, &f, &err) != 0 && strstr(err.msg, "syn_test_fold_2.jsonl:6: clip 's99_1.wav' is not in the corpus"));
    write_file(p, "{\"key\": \"x\"}\n");
    CHECK(ser_folds_from_dir(c, dir, &f, &err) != 0 && strstr(err.msg, ":1: no \"wav\""));
    write_file(p, "s01_1.wav\n");
    CHECK(ser_folds_from_dir(c, dir, &f, &err) != 0 && strstr(err.msg, ":1: not a JSON object"));

    /* a folder of one list, and none */
    snprintf(dir, sizeof dir, "%s/one", g_tmp);
    CHECK(mkdir(dir, 0777) == 0);
    snprintf(p, sizeof p, "%s/only.jsonl", dir);
    write_file(p, "");
    CHECK(ser_folds_from_dir(c, dir, &f, &err) != 0 && strstr(err.msg, "1 fold list found"));
    snprintf(dir, sizeof dir, "%s/missing", g_tmp);
    CHECK(ser_folds_from_dir(c, dir, &f, &err) != 0 && strstr(err.msg, "missing"));
}

static void test_split_mask(const ser_clips *c) {
    ser_folds f;
    ser_error err;
    CHECK(ser_folds_kfold(c, 4, 7, &f, &err) == 0);
    for (size_t k = 0; k < f.n; k++) {
        ser_split s, t;
        CHECKF(ser_split_make_mask(c, f.v[k].in_test, 0.125, 7, &s, &err) == 0, "%s", err.msg);
        CHECK(s.n_test == f.v[k].n_test && s.n_train + s.n_val + s.n_test == c->n);
        size_t rest = c->n - s.n_test;
        CHECK(s.n_val == (rest * 125 + 999) / 1000);
        for (size_t i = 0; i < s.n_train; i++) CHECK(!f.v[k].in_test[s.train[i]]);
        for (size_t i = 0; i < s.n_val; i++) CHECK(!f.v[k].in_test[s.val[i]]);
        /* = ser split --test-speakers of the fold's speakers */
        ser_split_opts o = {.test_speakers = (const char *const *)f.v[k].speakers, .n_test_speakers = f.v[k].n_speakers,
                            .val_fraction = 0.125, .seed = 7};
        CHECK(ser_split_make(c, &o, &t, &err) == 0);
        CHECK(t.n_train == s.n_train && t.n_val == s.n_val && t.n_test == s.n_test);
        CHECK(!memcmp(t.train, s.train, s.n_train * sizeof *s.train) && !memcmp(t.val, s.val, s.n_val * sizeof *s.val) &&
              !memcmp(t.test, s.test, s.n_test * sizeof *s.test));
        ser_split_free(&s), ser_split_free(&t);
    }
    ser_folds_free(&f);
    unsigned char *all = calloc(c->n, 1);
    CHECK(all != NULL);
    if (!all) return;
    memset(all, 1, c->n);
    ser_split s;
    CHECK(ser_split_make_mask(c, all, 0.125, 1, &s, &err) != 0 && strstr(err.msg, "no clips left to train on"));
    free(all);
}

static void test_val_speakers(const ser_clips *c) {
    ser_folds f;
    ser_error err;
    unsigned char *in_val = calloc(c->n, 1);
    CHECK(in_val && ser_folds_loso(c, &f, &err) == 0);
    if (!in_val || f.n != 10) return;
    for (size_t k = 0; k < f.n; k++) {
        CHECKF(ser_fold_val_speakers(c, &f.v[k], 3, 5, in_val, &err) == 0, "%s", err.msg);
        /* three whole training speakers: none of the test speaker's clips, every clip of each */
        char spk[3][8];
        int nv = 0;
        for (size_t i = 0; i < c->n; i++) {
            CHECK(!(in_val[i] && f.v[k].in_test[i]));
            if (!in_val[i]) continue;
            int seen = 0;
            for (int v = 0; v < nv; v++) seen |= !strcmp(spk[v], c->v[i].speaker);
            if (!seen && nv < 3) snprintf(spk[nv++], 8, "%s", c->v[i].speaker);
            else CHECK(seen);
        }
        CHECK(nv == 3);
        for (size_t i = 0; i < c->n; i++) {
            int is_v = 0;
            for (int v = 0; v < nv; v++) is_v |= !strcmp(spk[v], c->v[i].speaker);
            CHECK(is_v == (in_val[i] != 0));
        }
    }
    /* the same seed, the same speakers; 9 of 9 training speakers leave none to train on */
    unsigned char *again = calloc(c->n, 1);
    CHECK(again && ser_fold_val_speakers(c, &f.v[0], 3, 5, in_val, &err) == 0 &&
          ser_fold_val_speakers(c, &f.v[0], 3, 5, again, &err) == 0 && !memcmp(in_val, again, c->n));
    CHECK(ser_fold_val_speakers(c, &f.v[0], 9, 5, in_val, &err) != 0 && strstr(err.msg, "9 training speakers"));
    CHECK(ser_fold_val_speakers(c, &f.v[0], 0, 5, in_val, &err) != 0);
    free(again), free(in_val);
    ser_folds_free(&f);
}

/* Two corpora "a" and "b", each with speakers s1 s2 s3 (5, 7, 9 clips in a; 6, 8, 4 in b): one
 * speaker id in two corpora is two speakers, keyed CORPUS:SPEAKER in every fold kind. */
static void make_two_corpora(ser_clips *c) {
    memset(c, 0, sizeof *c);
    static const int N[2][3] = {{5, 7, 9}, {6, 8, 4}};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 3; s++)
            for (int i = 0; i < N[k][s]; i++) {
                char path[64], spk[8], grp[16];
                snprintf(spk, sizeof spk, "s%d", s + 1);
                snprintf(grp, sizeof grp, "%c/%s", 'a' + k, spk);
                snprintf(path, sizeof path, "/%c/%s/%c%s_%d.wav", 'a' + k, spk, 'a' + k, spk, i);
                CHECK(ser_clips_push(c, path, i % 2 ? "angry" : "sad", spk, grp, NULL) == 0);
                CHECK(ser_clip_set_corpus(&c->v[c->n - 1], k ? "b" : "a", NULL) == 0);
            }
}

/* The folds holding clips of (corpus, spk): 1 when exactly fold k tests every one of them. */
static int pair_in_fold(const ser_clips *c, const ser_folds *f, const char *corpus, const char *spk, size_t k) {
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].corpus, corpus) || strcmp(c->v[i].speaker, spk)) continue;
        for (size_t g = 0; g < f->n; g++)
            if (!f->v[g].in_test[i] != (g != k)) return 0;
    }
    return 1;
}

static void test_two_corpora(void) {
    ser_clips c;
    make_two_corpora(&c);
    ser_error err;
    char **keys = ser_speaker_keys(&c, &err);
    CHECK(keys && !strcmp(keys[0], "a:s1") && !strcmp(keys[c.n - 1], "b:s3"));
    ser_speaker_keys_free(keys, c.n);
    /* loso: 6 folds, bytewise a:s1 .. b:s3, each one corpus's speaker */
    ser_folds f;
    CHECKF(ser_folds_loso(&c, &f, &err) == 0, "%s", err.msg);
    static const char *const PAIRS[6][2] = {{"a", "s1"}, {"a", "s2"}, {"a", "s3"}, {"b", "s1"}, {"b", "s2"}, {"b", "s3"}};
    CHECKF(f.n == 6, "loso over two corpora: %zu folds, not 6", f.n);
    for (size_t k = 0; k < 6 && f.n == 6; k++) {
        char want[8];
        snprintf(want, sizeof want, "%s:%s", PAIRS[k][0], PAIRS[k][1]);
        CHECKF(pair_in_fold(&c, &f, PAIRS[k][0], PAIRS[k][1], k), "loso fold %zu is not %s", k + 1, want);
        CHECKF(f.v[k].n_speakers == 1 && !strcmp(f.v[k].speakers[0], want), "loso fold %zu: speaker %s", k + 1,
               f.v[k].speakers[0]);
    }
    ser_folds_free(&f);
    /* k-fold: every (corpus, speaker) in exactly one fold; 6 speakers allow k = 6 */
    for (int k = 2; k <= 6; k++) {
        CHECKF(ser_folds_kfold(&c, k, 42, &f, &err) == 0, "k %d: %s", k, err.msg);
        for (int p = 0; p < 6; p++) {
            int hits = 0;
            for (size_t g = 0; g < f.n; g++) hits += pair_in_fold(&c, &f, PAIRS[p][0], PAIRS[p][1], g);
            CHECKF(hits == 1, "k %d: %s:%s in %d folds", k, PAIRS[p][0], PAIRS[p][1], hits);
        }
        ser_folds_free(&f);
    }
    CHECK(ser_folds_kfold(&c, 7, 42, &f, &err) != 0 && strstr(err.msg, "only 6 speakers"));
    /* lists: CORPUS:SPEAKER names one corpus's speaker; a plain id in both corpora is an error */
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/two", g_tmp);
    CHECK(mkdir(dir, 0777) == 0);
    snprintf(p, sizeof p, "%s/1.txt", dir);
    write_file(p, "a:s1\nb:s2\n");
    snprintf(p, sizeof p, "%s/2.txt", dir);
    write_file(p, "b:s1\n");
    CHECKF(ser_folds_from_dir(&c, dir, &f, &err) == 0, "%s", err.msg);
    CHECK(f.n == 2 && pair_in_fold(&c, &f, "a", "s1", 0) && pair_in_fold(&c, &f, "b", "s2", 0) &&
          pair_in_fold(&c, &f, "b", "s1", 1) && f.n_untested == 7 + 9 + 4);
    CHECK(f.n == 2 && f.v[0].n_speakers == 2 && !strcmp(f.v[0].speakers[0], "a:s1") && !strcmp(f.v[0].speakers[1], "b:s2"));
    ser_folds_free(&f);
    write_file(p, "s1\n");
    CHECKF(ser_folds_from_dir(&c, dir, &f, &err) != 0 && strstr(err.msg, "2.txt:1: speaker 's1' is in two corpora") &&
               strstr(err.msg, "a:s1"),
           "%s", err.msg);
    write_file(p, "c:s1\n");
    CHECK(ser_folds_from_dir(&c, dir, &f, &err) != 0 && strstr(err.msg, "2.txt:1: speaker 'c:s1' has no clips"));
    /* --val-speakers: whole (corpus, speaker) pairs; b:s1's test fold leaves a:s1 to train on */
    CHECKF(ser_folds_loso(&c, &f, &err) == 0, "%s", err.msg);
    unsigned char *in_val = calloc(c.n, 1);
    CHECK(in_val && ser_fold_val_speakers(&c, &f.v[3], 4, 1, in_val, &err) == 0);
    size_t n_val = 0;
    for (size_t i = 0; in_val && i < c.n; i++) {
        n_val += in_val[i];
        CHECK(!(in_val[i] && f.v[3].in_test[i]));
        /* every clip of a pair, or none */
        for (size_t j = 0; j < c.n; j++)
            if (ser_clip_same_speaker(&c.v[i], &c.v[j])) CHECK(in_val[i] == in_val[j]);
    }
    CHECK(ser_fold_val_speakers(&c, &f.v[3], 5, 1, in_val, &err) != 0 && strstr(err.msg, "5 training speakers"));
    free(in_val);
    ser_folds_free(&f);
    ser_clips_free(&c);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ser_test_folds_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    ser_clips c;
    make_clips(&c);
    test_kfold(&c);
    test_loso(&c);
    test_lists(&c);
    test_split_mask(&c);
    test_val_speakers(&c);
    test_two_corpora();
    ser_clips_free(&c);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_tmp);
    return check_finish("test_folds");
}
