/* ser cv's corpora by role: the target corpora the folds are made of (--data), the corpora added
 * to every fold's training set (--extra-data), and those a model is pretrained on once before
 * the folds fine-tune from it (--pretrain-data). All are scanned together, so the label rules and
 * the CORPUS:SPEAKER keys apply alike; each clip's role is its corpus's source folder's. */
#include <stdlib.h>
#include <string.h>

#include "cv.h"

int cv_sources_split(const ser_corpus_set *set, const cli_data *d, const int *role, ser_clips out[CV_ROLES],
                     ser_error *err) {
    memset(out, 0, CV_ROLES * sizeof *out);
    int *corpus_role = ser_malloc((set->n ? set->n : 1) * sizeof *corpus_role, "corpus roles", err);
    if (!corpus_role) return -1;
    int rc = 0;
    for (size_t i = 0; !rc && i < set->n; i++) {
        corpus_role[i] = -1;
        for (size_t k = 0; k < d->n; k++) {
            if (strcmp(set->source[i], d->src[k].dir)) continue;
            if (corpus_role[i] >= 0 && corpus_role[i] != role[k])
                rc = ser_fail(err, "%s is given both as %s and as %s", d->src[k].dir, cv_role_option(corpus_role[i]),
                              cv_role_option(role[k]));
            corpus_role[i] = role[k];
        }
        if (!rc && corpus_role[i] < 0) rc = ser_fail(err, "corpus %s: no --data option names its folder %s", set->names[i], set->source[i]);
        for (size_t j = 0; !rc && j < i; j++)
            if (!strcmp(set->names[i], set->names[j]) && corpus_role[i] != corpus_role[j])
                rc = ser_fail(err, "corpus name %s is both in %s (%s) and in %s (%s): clips cannot be told apart",
                              set->names[i], cv_role_option(corpus_role[j]), set->source[j],
                              cv_role_option(corpus_role[i]), set->source[i]);
    }
    for (size_t c = 0; !rc && c < set->clips.n; c++) {
        const ser_clip *clip = &set->clips.v[c];
        size_t i = 0;
        while (i < set->n && strcmp(set->names[i], clip->corpus)) i++;
        if (i == set->n) rc = ser_fail(err, "%s: its corpus '%s' is not one of the scanned corpora", clip->path, clip->corpus);
        else rc = ser_clips_push_clip(&out[corpus_role[i]], clip, err);
    }
    free(corpus_role);
    if (!rc && !out[CV_TARGET].n) rc = ser_fail(err, "no clips in the --data corpora (the folds are made of them)");
    if (rc)
        for (int r = 0; r < CV_ROLES; r++) ser_clips_free(&out[r]);
    return rc;
}

const char *cv_role_option(int role) {
    return role == CV_EXTRA ? "--extra-data" : role == CV_PRETRAIN ? "--pretrain-data" : "--data";
}
