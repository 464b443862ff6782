/* SPDX-License-Identifier: MIT */
/* The boot clock and the boot's id (boot_clock.h). */
#include "boot_clock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aop/util.h"

#define BOOT_ID_LEN 36

static char boot_id[BOOT_ID_LEN + 1];
static pthread_once_t boot_id_once = PTHREAD_ONCE_INIT;

static void read_boot_id(void) {
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (!f) return;
    char line[64] = "";
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = ok ? strcspn(line, "\n") : 0;
    /* anything but a UUID's length is not trusted to name a boot */
    if (n == BOOT_ID_LEN) memcpy(boot_id, line, n);
}

const char *aop_internal_boot_id(void) {
    pthread_once(&boot_id_once, read_boot_id);
    return boot_id;
}

int64_t aop_internal_boot_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
