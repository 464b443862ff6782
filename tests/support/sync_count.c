/* SPDX-License-Identifier: MIT */
/* fsync and fdatasync of the test executables that link this file (sync_count.h). */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "sync_count.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

atomic_int sync_count, sync_delay_ms, sync_fail;

static int pass(int fd, const char *name) {
    atomic_fetch_add(&sync_count, 1);
    int ms = atomic_load(&sync_delay_ms);
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&sync_fail)) {
        errno = EIO;
        return -1;
    }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);
    if (!real) abort();
    return real(fd);
}

int fsync(int fd) { return pass(fd, "fsync"); }
int fdatasync(int fd) { return pass(fd, "fdatasync"); }
