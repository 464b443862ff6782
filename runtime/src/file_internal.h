/* SPDX-License-Identifier: MIT */
/* Private to the runtime: opening files named in the configuration (keys, CA bundles) safely. */
#ifndef AOP_FILE_INTERNAL_H
#define AOP_FILE_INTERNAL_H

#include <sys/stat.h>
#include "aop/error.h"

/* What st is, for messages: "a directory", "a FIFO (named pipe)", ... */
const char *aop_internal_file_kind(const struct stat *st);

/* Opens path read-only for `what` ("private key file", "ca_file"...) without ever blocking (a
 * FIFO or a terminal would hang a read-only open or a read) and accepts a regular file only.
 * On success *fd is open (O_CLOEXEC, blocking reads restored) and *st describes it. Errors name
 * what, the path and the reason: AOP_E_IO when it cannot be opened (errno's text), AOP_E_CONFIG
 * when it is not a regular file, AOP_E_INVALID_ARG without a path. */
aop_status_t aop_internal_open_regular(const char *what, const char *path, int *fd, struct stat *st,
                                       aop_error_t *err);

/* Checks that path is a directory this process can open; else AOP_E_CONFIG naming what (also
 * the error's path member) and the reason. */
aop_status_t aop_internal_check_dir(const char *what, const char *path, aop_error_t *err);

#endif
