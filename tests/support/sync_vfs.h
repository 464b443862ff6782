/* SPDX-License-Identifier: MIT */
/* A VFS of the tests' over SQLite's default one (sync_vfs.c), installed as the default before a
 * journal opens (the library opens with the default VFS): it counts the syncs SQLite asks for,
 * can make each take a while (so that concurrent inserts meet in one batch), and can make them
 * fail (a disk that cannot sync: a commit whose outcome is unknown). */
#ifndef AOP_TEST_SYNC_VFS_H
#define AOP_TEST_SYNC_VFS_H

#include <stdatomic.h>

extern atomic_int sync_vfs_syncs;    /* syncs so far */
extern atomic_int sync_vfs_delay_ms; /* each sync sleeps this long first */
extern atomic_int sync_vfs_fail;     /* syncs fail with SQLITE_IOERR_FSYNC while set */

void sync_vfs_install(void);
void sync_vfs_uninstall(void);

#endif
