/* SPDX-License-Identifier: MIT */
/* Time that processes of one host can compare: CLOCK_BOOTTIME stamps with the boot's id, beside
 * the wall time a journal entry also keeps. The boot clock is never stepped (an NTP step or a
 * hand-set clock moves only the wall clock), so a resume or a recovery on the same boot measures
 * how long ago a pay left by it; across boots (or hosts) only the wall clock is left. */
#ifndef AOP_BOOT_CLOCK_H
#define AOP_BOOT_CLOCK_H

#include <stdint.h>

/* The running boot's id (/proc/sys/kernel/random/boot_id, 36 characters), or "" when the kernel
 * does not tell: then no stamp is ever taken for this boot's. */
const char *aop_internal_boot_id(void);
/* CLOCK_BOOTTIME in ms (counts suspended time; shared by every process of the boot). */
int64_t aop_internal_boot_ms(void);
/* How long ago (ms; negative when it is still to come) the instant stamped wall_ms (Unix time)
 * and boot_ms (CLOCK_BOOTTIME of boot boot_id) was: by the boot clock when boot_id is this boot,
 * by the wall clock otherwise. */
int64_t aop_internal_since_ms(const char *boot_id, int64_t wall_ms, int64_t boot_ms);
/* The boot-clock reading of the instant stamped wall_ms on another boot (or with no boot stamp):
 * its distance from now by the wall clock, carried over to this boot's clock. */
int64_t aop_internal_boot_ms_of(const char *boot_id, int64_t wall_ms, int64_t boot_ms);

#endif
