/* The folder walker (host/io/dir_walk.c) on trees of empty files: byte order of whole paths
 * (not per folder, not the locale's), hidden files and folders skipped, extensions in any case
 * and only as the name's last suffix, links to files and folders followed, a link loop walked
 * once, a dangling link named like audio an error, a trailing '/' on the root not doubled. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ser/dir_walk.h"
#include "test_util.h"

static char g_tmp[256];

static void link_at(const char *root, const char *target, const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    if (symlink(target, p) != 0) {
        fprintf(stderr, "cannot link %s\n", p);
        exit(1);
    }
}

/* The list of root (exts) as paths relative to root, one per line, into out. */
static int list_rel(const char *root, const char *const *exts, char *out, size_t cap, ser_error *err) {
    char **v = NULL;
    size_t n = 0;
    if (ser_dir_list(root, exts, &v, &n, err) != 0) return -1;
    out[0] = 0;
    const size_t rl = strlen(root);
    for (size_t i = 0; i < n; i++) {
        const int under = !strncmp(v[i], root, rl) && v[i][rl] == '/';
        CHECKF(under, "%s is not under %s", v[i], root);
        strncat(out, under ? v[i] + rl + 1 : v[i], cap - strlen(out) - 2);
        strcat(out, "\n");
    }
    ser_dir_list_free(v, n);
    return 0;
}

static void test_rules(void) {
    char root[300], got[4096];
    snprintf(root, sizeof root, "%s/rules", g_tmp);
    mkdir(root, 0755);
    /* "a-b" < "a/x" in byte order ('-' 0x2d, '/' 0x2f), though a folder walk meets a/ first;
     * "B" < "a" in byte order, unlike a case-folding locale */
    test_touch(root, "a/x.wav");
    test_touch(root, "a-b.wav");
    test_touch(root, "B.WAV");
    test_touch(root, "c.Flac");
    test_touch(root, "d.aiff");
    test_touch(root, "e.ogg");
    test_touch(root, "f.aif");
    test_touch(root, "notes.txt");
    test_touch(root, "g.wav.txt");  /* the extension is the last suffix */
    test_touch(root, "h.mp3");
    test_touch(root, ".hidden.wav"); /* hidden file */
    test_touch(root, "._i.wav");     /* macOS resource fork */
    test_touch(root, ".git/j.wav");  /* hidden folder */
    test_touch(root, "k/.l.wav");
    test_touch(root, "k/m.wav");
    ser_error err = {{0}};
    CHECK(list_rel(root, SER_AUDIO_EXTENSIONS, got, sizeof got, &err) == 0);
    const char *want = "B.WAV\na-b.wav\na/x.wav\nc.Flac\nd.aiff\ne.ogg\nf.aif\nk/m.wav\n";
    CHECKF(!strcmp(got, want), "got\n%swant\n%s", got, want);
    /* the noise folder's rule set: .wav alone, otherwise the same */
    CHECK(list_rel(root, SER_WAV_EXTENSION, got, sizeof got, &err) == 0);
    want = "B.WAV\na-b.wav\na/x.wav\nk/m.wav\n";
    CHECKF(!strcmp(got, want), "got\n%swant\n%s", got, want);
    /* root given with a trailing '/': one '/' in the paths */
    char slashed[320];
    snprintf(slashed, sizeof slashed, "%s/", root);
    char **v = NULL;
    size_t n = 0;
    CHECK(ser_dir_list(slashed, SER_WAV_EXTENSION, &v, &n, &err) == 0);
    CHECK(n == 4 && !strstr(v[0], "//"));
    ser_dir_list_free(v, n);
}

static void test_links(void) {
    char root[300], got[4096];
    snprintf(root, sizeof root, "%s/links", g_tmp);
    mkdir(root, 0755);
    test_touch(root, "real/one.wav");
    test_touch(g_tmp, "outside/two.wav");
    char target[400];
    snprintf(target, sizeof target, "%s/outside", g_tmp);
    link_at(root, target, "linked");            /* a link to a folder elsewhere: followed */
    link_at(root, "real/one.wav", "alias.wav"); /* a link to a file: taken */
    link_at(root, "..", "real/up");             /* a loop: real/up -> links/ */
    link_at(root, ".", "self");                 /* a loop onto the root itself */
    ser_error err = {{0}};
    CHECK(list_rel(root, SER_AUDIO_EXTENSIONS, got, sizeof got, &err) == 0);
    const char *want = "alias.wav\nlinked/two.wav\nreal/one.wav\n";
    CHECKF(!strcmp(got, want), "got\n%swant\n%s (%s)", got, want, err.msg);
    /* a dangling link named like audio is an error naming it; one named otherwise is ignored */
    link_at(root, "nowhere.txt", "gone.txt");
    CHECK(list_rel(root, SER_AUDIO_EXTENSIONS, got, sizeof got, &err) == 0);
    link_at(root, "nowhere.wav", "gone.wav");
    CHECK(list_rel(root, SER_AUDIO_EXTENSIONS, got, sizeof got, &err) != 0);
    CHECKF(strstr(err.msg, "gone.wav") != NULL, "%s", err.msg);
}

static void test_errors(void) {
    char root[300], got[64];
    ser_error err = {{0}};
    snprintf(root, sizeof root, "%s/missing", g_tmp);
    CHECK(list_rel(root, SER_AUDIO_EXTENSIONS, got, sizeof got, &err) != 0);
    CHECK(strstr(err.msg, "missing") != NULL);
    snprintf(root, sizeof root, "%s/empty", g_tmp);
    mkdir(root, 0755);
    /* an empty folder lists nothing, without an error: the callers say what they looked for */
    char **v = (char **)1;
    size_t n = 5;
    CHECK(ser_dir_list(root, SER_AUDIO_EXTENSIONS, &v, &n, &err) == 0 && n == 0);
    ser_dir_list_free(v, n);
    test_touch(g_tmp, "file.wav");
    snprintf(root, sizeof root, "%s/file.wav", g_tmp);
    CHECK(ser_dir_list(root, SER_AUDIO_EXTENSIONS, &v, &n, &err) != 0);
    CHECK(strstr(err.msg, "not a folder") != NULL);
    CHECK(ser_has_extension("x.WaV", SER_WAV_EXTENSION) && !ser_has_extension(".wav", SER_WAV_EXTENSION) &&
          !ser_has_extension("wav", SER_WAV_EXTENSION) && !ser_has_extension("x.wave", SER_WAV_EXTENSION));
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ser_test_dir_walk_XXXXXX");
    if (!mkdtemp(g_tmp)) return 1;
    if (chdir(g_tmp) != 0) return 1;
    test_rules();
    test_links();
    test_errors();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return check_finish("test_dir_walk");
}
