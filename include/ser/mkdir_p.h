/* A folder and its parents, as `mkdir -p` (host/io/mkdir_p.c). */
#ifndef SER_MKDIR_P_H
#define SER_MKDIR_P_H

#include "ser/error.h"

/* Creates dir and every missing parent (mode 0777 before the umask); an existing one is fine.
 * Fails naming the folder that could not be made and why, a part of the path that exists and
 * is not a folder, or a path of 4096 bytes or more. */
int ser_mkdir_p(const char *dir, ser_error *err);

#endif
