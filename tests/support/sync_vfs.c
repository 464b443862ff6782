/* SPDX-License-Identifier: MIT */
/* The counting and failing VFS of the tests (sync_vfs.h): every method forwards to the real
 * file but xSync. */
#include "sync_vfs.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <time.h>

atomic_int sync_vfs_syncs, sync_vfs_delay_ms, sync_vfs_fail;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs count_vfs;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
} cfile_t;

#define REAL(f) (((cfile_t *)(f))->real)
static int c_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) {
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int c_sync(sqlite3_file *f, int flags) {
    atomic_fetch_add(&sync_vfs_syncs, 1);
    int ms = atomic_load(&sync_vfs_delay_ms);
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&sync_vfs_fail)) return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int c_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int c_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int c_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int c_fcntl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int c_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int c_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int c_shm_map(sqlite3_file *f, int i, int sz, int ext, void volatile **p) {
    return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p);
}
static int c_shm_lock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void c_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int c_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int c_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) { return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int c_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods count_io = {
    3, c_close, c_read, c_write, c_truncate, c_sync, c_size, c_lock, c_unlock, c_reserved, c_fcntl, c_sector,
    c_device, c_shm_map, c_shm_lock, c_shm_barrier, c_shm_unmap, c_fetch, c_unfetch};

static int c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
    (void)vfs;
    cfile_t *cf = (cfile_t *)f;
    cf->real = (sqlite3_file *)(cf + 1);
    int rc = real_vfs->xOpen(real_vfs, name, cf->real, flags, out_flags);
    /* The unix VFS's methods are version 3; anything older would not have the shm calls. */
    cf->base.pMethods = cf->real->pMethods && cf->real->pMethods->iVersion >= 3 ? &count_io : NULL;
    if (cf->real->pMethods && !cf->base.pMethods) {
        cf->real->pMethods->xClose(cf->real);
        return SQLITE_CANTOPEN;
    }
    return rc;
}

void sync_vfs_install(void) {
    real_vfs = sqlite3_vfs_find(NULL);
    cr_assert_not_null(real_vfs);
    count_vfs = *real_vfs;
    count_vfs.zName = "aop-test-sync";
    count_vfs.szOsFile = (int)sizeof(cfile_t) + real_vfs->szOsFile;
    count_vfs.xOpen = c_open;
    count_vfs.pNext = NULL;
    cr_assert_eq(sqlite3_vfs_register(&count_vfs, 1), SQLITE_OK);
}

void sync_vfs_uninstall(void) { sqlite3_vfs_unregister(&count_vfs); }
