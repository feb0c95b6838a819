/* ser_mkdir_p (ser/mkdir_p.h): the run folders of ser train, the feature cache's folders, the
 * synthetic corpus of ser synth, the manifests of ser split. */
#include "ser/mkdir_p.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int ser_mkdir_p(const char *dir, ser_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) /* the reason first: the path fills the message */
        return ser_fail(err, "folder path too long (%zu bytes): %.200s...", strlen(dir), dir);
    /* each prefix ending at a '/' and then the whole path: made if missing, and a folder */
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        const char c = *p;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ser_fail(err, "%s: cannot create: %s", buf, strerror(errno));
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return ser_fail(err, "%s: exists and is not a folder", buf);
        *p = c;
        if (!c) break;
    }
    return 0;
}
