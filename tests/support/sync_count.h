/* SPDX-License-Identifier: MIT */
/* The syncs of the test's process (sync_count.c defines fsync and fdatasync in the executable, so
 * the library's and SQLite's calls come through them): counted, slowed down (so that concurrent
 * inserts meet in one batch), or failed (a disk that cannot sync: a commit whose outcome is
 * unknown). */
#ifndef AOP_TEST_SYNC_COUNT_H
#define AOP_TEST_SYNC_COUNT_H

#include <stdatomic.h>

extern atomic_int sync_count;      /* syncs so far */
extern atomic_int sync_delay_ms;   /* each sync sleeps this long first */
extern atomic_int sync_fail;       /* syncs fail with EIO while set */

#endif
