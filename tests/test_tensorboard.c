/* ser/tensorboard.h without TensorBoard: CRC-32C against its published check value, and the
 * TFRecord framing of a file the writer makes (lengths and masked CRCs of every record).
 * tests/cli_tensorboard.sh reads real runs with TensorBoard's own reader. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/tensorboard.h"

static uint32_t rd32(const unsigned char *b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }

int main(void) {
    /* the CRC-32C check value (RFC 3720 / the "123456789" catalogue entry) */
    CHECKF(ser_crc32c("123456789", 9) == 0xE3069283u, "%08x", ser_crc32c("123456789", 9));
    CHECK(ser_crc32c("", 0) == 0);
    /* 32 zero bytes: RFC 3720 B.4 */
    unsigned char zeros[32] = {0};
    CHECKF(ser_crc32c(zeros, 32) == 0x8A9136AAu, "%08x", ser_crc32c(zeros, 32));

    char dir[] = "/tmp/ser_test_tb_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char tbdir[600], png[600];
    snprintf(tbdir, sizeof tbdir, "%s/tb", dir);
    snprintf(png, sizeof png, "%s/not.png", dir);
    ser_error err = {{0}};
    ser_tb *tb = ser_tb_open(tbdir, 1, &err);
    CHECKF(tb != NULL, "%s", err.msg);
    if (!tb) return check_finish("test_tensorboard");
    char path[4200];
    snprintf(path, sizeof path, "%s", ser_tb_path(tb));
    CHECK(ser_tb_scalar(tb, "loss", 1, 0.5f, &err) == 0);
    CHECK(ser_tb_scalar(tb, "loss", 2, 0.25f, &err) == 0);
    FILE *f = fopen(png, "w");
    fputs("plain text", f);
    fclose(f);
    CHECK(ser_tb_png_file(tb, "img", 2, png, &err) != 0 && strstr(err.msg, "not a PNG") && strstr(err.msg, png));
    CHECK(ser_tb_close(tb, &err) == 0);

    /* records: file version, session start, two scalars */
    f = fopen(path, "rb");
    CHECK(f != NULL);
    int records = 0, framing_ok = 1;
    unsigned char hdr[12], buf[4096], tail[4];
    while (f && fread(hdr, 1, 12, f) == 12) {
        const uint64_t n = rd32(hdr) | (uint64_t)rd32(hdr + 4) << 32;
        if (n > sizeof buf || rd32(hdr + 8) != ser_crc32c_masked(hdr, 8) || fread(buf, 1, n, f) != n ||
            fread(tail, 1, 4, f) != 4 || rd32(tail) != ser_crc32c_masked(buf, n)) {
            framing_ok = 0;
            break;
        }
        records++;
    }
    if (f) fclose(f);
    CHECK(framing_ok);
    CHECKF(records == 4, "%d records", records);

    /* a second writer in the same folder makes a second file that sorts after the first */
    tb = ser_tb_open(tbdir, 3, &err);
    CHECK(tb != NULL && strcmp(ser_tb_path(tb), path) > 0);
    ser_tb_close(tb, &err);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_finish("test_tensorboard");
}
