/* history.jsonl: append, read back, null for a missing validation value, a crash-cut last
 * line ignored, a malformed line named, atomic rewrite for --resume. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/history.h"

int main(void) {
    char dir[] = "/tmp/ser_test_hist_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[512];
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    ser_error err = {{0}};
    for (int ep = 1; ep <= 5; ep++) {
        ser_history_entry e = {ep, 2.0 / ep, 0.1 * ep, ep == 3 ? NAN : 2.5 / ep, 0.09 * ep, 5e-4, 1.25, 0.07 * ep};
        CHECKF(ser_history_append(path, &e, &err) == 0, "%s", err.msg);
    }
    ser_history_entry *h = NULL;
    size_t n = 0;
    CHECKF(ser_history_read(path, &h, &n, &err) == 0, "%s", err.msg);
    CHECK(n == 5);
    for (size_t i = 0; i < n; i++) {
        int ep = (int)i + 1;
        CHECK(h[i].epoch == ep && h[i].loss == 2.0 / ep && h[i].accuracy == 0.1 * ep && h[i].lr == 5e-4);
        CHECK(h[i].seconds == 1.25 && h[i].val_accuracy == 0.09 * ep);
        CHECK(ep == 3 ? isnan(h[i].val_loss) : h[i].val_loss == 2.5 / ep);
        CHECKF(h[i].val_uar == 0.07 * ep, "val_uar of epoch %d read back: %.17g", ep, h[i].val_uar);
    }

    /* --resume: keep the first 3 epochs, atomically. */
    CHECKF(ser_history_write(path, h, 3, &err) == 0, "%s", err.msg);
    free(h);
    CHECK(ser_history_read(path, &h, &n, &err) == 0 && n == 3 && h[2].epoch == 3);
    free(h);

    /* A history written before UA existed (no val_uar key) reads with val_uar NAN. */
    char old_path[600];
    snprintf(old_path, sizeof old_path, "%s/old.jsonl", dir);
    FILE *f = fopen(old_path, "w");
    fputs("{\"epoch\":1,\"loss\":1.5,\"accuracy\":0.5,\"val_loss\":1.6,\"val_accuracy\":0.4,\"lr\":0.0005,\"seconds\":2}\n", f);
    fclose(f);
    CHECKF(ser_history_read(old_path, &h, &n, &err) == 0 && n == 1, "%s", err.msg);
    CHECK(h[0].val_accuracy == 0.4 && isnan(h[0].val_uar));
    free(h);
    unlink(old_path);

    /* A last line without its newline (crash mid-write) is dropped, not an error. */
    f = fopen(path, "a");
    fputs("{\"epoch\":4,\"loss\":1.", f);
    fclose(f);
    CHECKF(ser_history_read(path, &h, &n, &err) == 0 && n == 3, "%s", err.msg);
    free(h);

    /* A malformed complete line: error with file and line number. */
    f = fopen(path, "a");
    fputs("\nnot json\n", f);
    fclose(f);
    CHECK(ser_history_read(path, &h, &n, &err) == -1 && h == NULL && n == 0);
    char want[600];
    snprintf(want, sizeof want, "%s:4:", path);
    CHECKF(strstr(err.msg, want) != NULL, "%s", err.msg);

    CHECK(ser_history_read("/nonexistent/history.jsonl", &h, &n, &err) == -1 && strstr(err.msg, "cannot open"));
    ser_history_entry e = {1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(ser_history_append("/nonexistent/history.jsonl", &e, &err) == -1 && strstr(err.msg, "/nonexistent/"));

    unlink(path);
    rmdir(dir);
    return check_finish("history");
}
