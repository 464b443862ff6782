/* SPDX-License-Identifier: MIT */
/* Time that processes of one host can compare: CLOCK_BOOTTIME with the boot's id, the clock of
 * the SQLite journal store (journal_time.c). The boot clock is never stepped (an NTP step or a
 * hand-set clock moves only the wall clock), so a resume or a recovery on the same boot measures
 * how long ago a pay left by it; across boots (or hosts) only the wall clock is left. Also the
 * boot id of a lease owner's text (journal_owner.c). */
#ifndef AOP_BOOT_CLOCK_H
#define AOP_BOOT_CLOCK_H

#include <stdint.h>

/* The running boot's id (/proc/sys/kernel/random/boot_id, 36 characters), or "" when the kernel
 * does not tell: then no stamp is ever taken for this boot's. */
const char *aop_internal_boot_id(void);
/* CLOCK_BOOTTIME in ms (counts suspended time; shared by every process of the boot). */
int64_t aop_internal_boot_ms(void);
#endif
