/* history.jsonl: one cJSON object per line, appended with O_APPEND + fsync. */
#include "ser/history.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* Adds v as the shortest decimal that reads back to the same double: cJSON's own printer
 * may lose the last bit, and --resume compares val_loss with the best one exactly. */
static void add_exact(cJSON *o, const char *key, double v) {
    char buf[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    cJSON_AddRawToObject(o, key, buf);
}

/* One line ("{...}\n"), malloc'd. Non-finite values become null (JSON has no NaN). */
static char *entry_line(const ser_history_entry *e) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "epoch", e->epoch);
    const char *keys[7] = {"loss", "accuracy", "val_loss", "val_accuracy", "val_uar", "lr", "seconds"};
    double vals[7] = {e->loss, e->accuracy, e->val_loss, e->val_accuracy, e->val_uar, e->lr, e->seconds};
    for (int i = 0; i < 7; i++) {
        if (isfinite(vals[i])) add_exact(o, keys[i], vals[i]);
        else cJSON_AddNullToObject(o, keys[i]);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) return free(s), NULL;
    line[n] = '\n';
    line[n + 1] = 0;
    return line;
}

static int write_lines(int fd, const ser_history_entry *entries, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char *line = entry_line(&entries[i]);
        if (!line) return errno = ENOMEM, -1;
        size_t len = strlen(line), off = 0;
        while (off < len) {
            ssize_t w = write(fd, line + off, len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return free(line), -1;
            off += (size_t)w;
        }
        free(line);
    }
    return fsync(fd);
}

int ser_history_append(const char *path, const ser_history_entry *e, ser_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return ser_fail(err, "%s: cannot open for appending: %s", path, strerror(errno));
    int rc = write_lines(fd, e, 1);
    int saved = errno;
    if (close(fd) != 0 && rc == 0) rc = -1, saved = errno;
    if (rc) return ser_fail(err, "%s: cannot append epoch %d: %s", path, e->epoch, strerror(saved));
    return 0;
}

int ser_history_write(const char *path, const ser_history_entry *entries, size_t n, ser_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) return ser_fail(err, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return ser_fail(err, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
    int rc = write_lines(fd, entries, n);
    int saved = errno;
    if (close(fd) != 0 && rc == 0) rc = -1, saved = errno;
    if (rc == 0) chmod(tmp, 0644);
    if (rc == 0 && rename(tmp, path) != 0) rc = -1, saved = errno;
    if (rc) {
        unlink(tmp);
        return ser_fail(err, "%s: write failed: %s", path, strerror(saved));
    }
    return 0;
}

/* A number, or NAN for null / absent. */
static int get_num(const cJSON *o, const char *k, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v)) return *out = NAN, 0;
    if (!cJSON_IsNumber(v)) return -1;
    *out = v->valuedouble;
    return 0;
}

int ser_history_read(const char *path, ser_history_entry **entries, size_t *n, ser_error *err) {
    *entries = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return ser_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, have = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n') break; /* cut by a crash mid-write: the epoch never finished */
        if (len == 1) continue;
        cJSON *o = cJSON_Parse(line);
        ser_history_entry e;
        const cJSON *ep = o ? cJSON_GetObjectItemCaseSensitive(o, "epoch") : NULL;
        int bad = !cJSON_IsObject(o) || !cJSON_IsNumber(ep) || get_num(o, "loss", &e.loss) ||
                  get_num(o, "accuracy", &e.accuracy) || get_num(o, "val_loss", &e.val_loss) ||
                  get_num(o, "val_accuracy", &e.val_accuracy) || get_num(o, "val_uar", &e.val_uar) ||
                  get_num(o, "lr", &e.lr) ||
                  get_num(o, "seconds", &e.seconds);
        if (!bad) e.epoch = ep->valueint;
        cJSON_Delete(o);
        if (bad) {
            rc = ser_fail(err, "%s:%zu: not a history entry (want a JSON object with epoch, loss, accuracy, ...)",
                          path, lineno);
            break;
        }
        if (*n == have) {
            have = have ? 2 * have : 64;
            ser_history_entry *grown = realloc(*entries, have * sizeof *grown);
            if (!grown) {
                rc = ser_fail(err, "%s: out of memory reading the history", path);
                break;
            }
            *entries = grown;
        }
        (*entries)[(*n)++] = e;
    }
    free(line);
    fclose(f);
    if (rc) {
        free(*entries);
        *entries = NULL;
        *n = 0;
    }
    return rc;
}
