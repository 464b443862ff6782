/* SPDX-License-Identifier: MIT */
/* Opening files named in the configuration (runtime/src/file_internal.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* GNU strerror_r */
#endif
#include "file_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

const char *aop_internal_file_kind(const struct stat *st) {
    switch (st->st_mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO (named pipe)";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    default: return "not a regular file";
    }
}

aop_status_t aop_internal_open_regular(const char *what, const char *path, int *fd, struct stat *st,
                                       aop_error_t *err) {
    char eb[128];
    *fd = -1;
    if (!path || !*path) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "%s: no path given", what);
    /* O_NONBLOCK: opening a FIFO without a writer (or a device) returns at once instead of
     * waiting forever; the type is then checked on the opened file itself, so nothing can be
     * swapped in between a check and the open. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) {
        int e = errno;
        return aop_error_set(err, AOP_E_IO, NULL, -1, "%s '%s': %s", what, path, strerror_r(e, eb, sizeof eb));
    }
    if (fstat(f, st) != 0) {
        int e = errno;
        close(f);
        return aop_error_set(err, AOP_E_IO, NULL, -1, "%s '%s': %s", what, path, strerror_r(e, eb, sizeof eb));
    }
    if (!S_ISREG(st->st_mode)) {
        close(f);
        return aop_error_set(err, AOP_E_CONFIG, NULL, -1, "%s '%s' is %s, not a regular file", what, path,
                             aop_internal_file_kind(st));
    }
    /* A regular file never blocks, but later reads should not see EAGAIN semantics either. */
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0) (void)fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    *fd = f;
    return AOP_OK;
}

aop_status_t aop_internal_check_dir(const char *what, const char *path, aop_error_t *err) {
    char eb[128];
    if (!path || !*path) return aop_error_set(err, AOP_E_CONFIG, what, -1, "%s: an empty path was given", what);
    int f = open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
    if (f >= 0) {
        close(f);
        return AOP_OK;
    }
    int e = errno;
    struct stat st;
    if (e == ENOTDIR && stat(path, &st) == 0)
        return aop_error_set(err, AOP_E_CONFIG, what, -1, "%s '%s' is %s, not a directory", what, path,
                             aop_internal_file_kind(&st));
    return aop_error_set(err, AOP_E_CONFIG, what, -1, "%s '%s': %s", what, path, strerror_r(e, eb, sizeof eb));
}
