/* ser_mkdir_p (ser/mkdir_p.h): the run folders of ser train, the feature cache's folders. */
#include "ser/mkdir_p.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int ser_mkdir_p(const char *dir, ser_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return ser_fail(err, "%s: path too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ser_fail(err, "%s: cannot create: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ser_fail(err, "%s: cannot create: %s", buf, strerror(errno));
    return 0;
}
