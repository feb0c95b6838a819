/* TensorBoard event files (ser/tensorboard.h): TFRecord framing over tensorboard.Event messages
 * packed by protobuf-c (tensorboard/compat/proto/event.pb-c.h, generated at build time). */
#include "ser/tensorboard.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tensorboard/compat/proto/event.pb-c.h"

struct ser_tb {
    FILE *f;
    char path[4200];
};

/* Bitwise CRC-32C, reflected polynomial 0x82F63B78: event records are small and written once an
 * epoch, so no table. */
uint32_t ser_crc32c(const void *data, size_t n) {
    const unsigned char *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint32_t ser_crc32c_masked(const void *data, size_t n) {
    const uint32_t c = ser_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

static void le64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static void le32(unsigned char *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static double wall_time(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec * 1e-6;
}

/* One event as one TFRecord, flushed. */
static int write_event(ser_tb *tb, Tensorboard__Event *ev, ser_error *err) {
    ev->wall_time = wall_time();
    const size_t n = tensorboard__event__get_packed_size(ev);
    unsigned char *buf = ser_malloc(n + 16, "tensorboard event", err);
    if (!buf) return -1;
    unsigned char *data = buf + 12;
    int rc = 0;
    if (tensorboard__event__pack(ev, data) != n) {
        rc = ser_fail(err, "%s: protobuf-c packed a different size than it announced", tb->path);
    } else {
        le64(buf, (uint64_t)n);
        le32(buf + 8, ser_crc32c_masked(buf, 8));
        le32(data + n, ser_crc32c_masked(data, n));
        if (fwrite(buf, 1, n + 16, tb->f) != n + 16 || fflush(tb->f) != 0)
            rc = ser_fail(err, "%s: write failed: %s", tb->path, strerror(errno));
    }
    free(buf);
    return rc;
}

/* tb/events.out.tfevents.TIME.HOST.sNNN: TensorBoard reads a folder's event files in name order,
 * so a resumed run's file must sort after the earlier ones even within the same second: NNN
 * counts the event files already there. */
static int new_name(ser_tb *tb, const char *dir, ser_error *err) {
    DIR *d = opendir(dir);
    if (!d) return ser_fail(err, "%s: cannot open folder: %s", dir, strerror(errno));
    int seq = 0;
    struct dirent *ent;
    while ((ent = readdir(d)))
        if (strstr(ent->d_name, "tfevents")) seq++;
    closedir(d);
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *c = host; *c; c++)
        if (*c == '/') *c = '_';
    if (snprintf(tb->path, sizeof tb->path, "%s/events.out.tfevents.%010ld.%s.s%03d", dir, (long)time(NULL), host,
                 seq) >= (int)sizeof tb->path)
        return ser_fail(err, "%s: path too long", dir);
    return 0;
}

ser_tb *ser_tb_open(const char *dir, int64_t first_step, ser_error *err) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return ser_fail(err, "%s: cannot create: %s", dir, strerror(errno)), NULL;
    ser_tb *tb = ser_malloc(sizeof *tb, "tensorboard writer", err);
    if (!tb) return NULL;
    if (new_name(tb, dir, err) != 0) return free(tb), NULL;
    /* "x": never append to (or truncate) another writer's file */
    if (!(tb->f = fopen(tb->path, "wbx"))) {
        ser_fail(err, "%s: cannot create: %s", tb->path, strerror(errno));
        return free(tb), NULL;
    }
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
    ev.file_version = "brain.Event:2";
    Tensorboard__SessionLog log = TENSORBOARD__SESSION_LOG__INIT;
    log.status = TENSORBOARD__SESSION_LOG__SESSION_STATUS__START;
    Tensorboard__Event start = TENSORBOARD__EVENT__INIT;
    start.step = first_step;
    start.what_case = TENSORBOARD__EVENT__WHAT_SESSION_LOG;
    start.session_log = &log;
    if (write_event(tb, &ev, err) != 0 || write_event(tb, &start, err) != 0) {
        fclose(tb->f);
        free(tb);
        return NULL;
    }
    return tb;
}

const char *ser_tb_path(const ser_tb *tb) { return tb->path; }

/* A Summary of one value at step. */
static int write_value(ser_tb *tb, Tensorboard__Summary__Value *v, int64_t step, ser_error *err) {
    Tensorboard__Summary__Value *vs[1] = {v};
    Tensorboard__Summary sum = TENSORBOARD__SUMMARY__INIT;
    sum.n_value = 1;
    sum.value = vs;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return write_event(tb, &ev, err);
}

int ser_tb_scalar(ser_tb *tb, const char *tag, int64_t step, float value, ser_error *err) {
    Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
    v.simple_value = value;
    return write_value(tb, &v, step, err);
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int ser_tb_png_file(ser_tb *tb, const char *tag, int64_t step, const char *png_path, ser_error *err) {
    FILE *f = fopen(png_path, "rb");
    if (!f) return ser_fail(err, "%s: cannot open: %s", png_path, strerror(errno));
    unsigned char *png = NULL;
    size_t n = 0;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    int rc = -1;
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        ser_fail(err, "%s: cannot read: %s", png_path, strerror(errno));
    } else if ((png = ser_malloc((size_t)len + 1, png_path, err)) && (n = fread(png, 1, (size_t)len, f)) != (size_t)len) {
        ser_fail(err, "%s: short read (%zu of %ld bytes)", png_path, n, len);
    } else if (png) {
        /* signature (8), IHDR length (4) and type (4), then width and height, big-endian */
        if (n < 24 || memcmp(png, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(png + 12, "IHDR", 4) != 0) {
            ser_fail(err, "%s: not a PNG file", png_path);
        } else {
            Tensorboard__Summary__Image img = TENSORBOARD__SUMMARY__IMAGE__INIT;
            img.width = (int32_t)be32(png + 16);
            img.height = (int32_t)be32(png + 20);
            img.colorspace = 3; /* RGB; PLplot's cairo PNGs; TensorBoard shows the PNG as it is */
            img.encoded_image_string.data = png;
            img.encoded_image_string.len = n;
            Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
            v.tag = (char *)tag;
            v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE;
            v.image = &img;
            rc = write_value(tb, &v, step, err);
        }
    }
    free(png);
    fclose(f);
    return rc;
}

int ser_tb_close(ser_tb *tb, ser_error *err) {
    if (!tb) return 0;
    int rc = 0;
    if (fclose(tb->f) != 0) rc = ser_fail(err, "%s: write failed: %s", tb->path, strerror(errno));
    free(tb);
    return rc;
}
