/* SPDX-License-Identifier: MIT */
/* The SQLite journal's file: refused when unsafe, created 0600, opened in WAL mode with the
 * write-ahead log kept between processes, its schema created from the column table or migrated
 * from an older version in one transaction; and its online backup. */
#include "journal_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_internal.h"
#include "journal_columns.h"

/* ---------------------------------------------------------------------------------------------
 * The file */

/* Refuses what another account could have put at the path: a symbolic link (its target could be
 * anyone's file), anything but a regular file, a file of another account, or one that group or
 * others may write (they could edit its entries, or replace them). */
static aop_status_t check_existing(const char *path, const struct stat *st, aop_error_t *err) {
    if (S_ISLNK(st->st_mode))
        return aop_error_set(err, AOP_E_CONFIG, "journal", -1,
                             "the journal %s is a symbolic link: give the path of the file itself (or replace the "
                             "link by the file)", path);
    if (!S_ISREG(st->st_mode))
        return aop_error_set(err, AOP_E_CONFIG, "journal", -1, "the journal %s is %s, not a regular file", path,
                             aop_internal_file_kind(st));
    if (st->st_uid != geteuid())
        return aop_error_set(err, AOP_E_CONFIG, "journal", -1,
                             "the journal %s belongs to uid %u, not to this account (uid %u): use a journal of this "
                             "account's, or fix it with: chown %u '%s'", path, (unsigned)st->st_uid,
                             (unsigned)geteuid(), (unsigned)geteuid(), path);
    if (st->st_mode & 022)
        return aop_error_set(err, AOP_E_CONFIG, "journal", -1,
                             "the journal %s has mode %04o, which lets group or others write it; fix it with: "
                             "chmod 600 '%s'", path, (unsigned)(st->st_mode & 07777), path);
    return AOP_OK;
}

/* Creates the file with mode 0600 when it does not exist yet (SQLite would create it 0644 less
 * the umask, and its -wal and -shm files take the database's mode), else checks it. */
static aop_status_t prepare_file(const char *path, aop_error_t *err) {
    struct stat st;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (lstat(path, &st) == 0) return check_existing(path, &st, err);
        if (errno != ENOENT) break;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            return AOP_OK;
        }
        if (errno != EEXIST) break; /* EEXIST: another process made it just now; check theirs */
    }
    return aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "cannot create the journal %s: %s", path, strerror(errno));
}

/* ---------------------------------------------------------------------------------------------
 * The schema */

/* Version 1's columns after id, which version 2 copied. */
#define V1_COLS                                                                                       \
    "kind, function, merchant_id, key, payment_acquirement_id, amount, currency, gateway, client_id, " \
    "state, last_status, last_code, acquirement_id, created_ms, last_attempt_ms, updated_ms, "         \
    "pay_started_ms, pay_deadline_ms, attempts, acknowledged, watch, watch_due_ms, lease_owner, "      \
    "lease_expires_ms, epoch, note, request"
#define OPEN_INDEX "CREATE INDEX entries_open ON entries (id) WHERE " SQ_OPEN ";"

/* Version 2, as it was released: the boot stamps, and a CHECK that admits LAST_CHECK (SQLite
 * changes a constraint only by copying the table). */
static const char v1_to_v2[] =
    "CREATE TABLE entries_v2 (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    " function TEXT NOT NULL, merchant_id TEXT NOT NULL, key TEXT NOT NULL, payment_acquirement_id TEXT NOT NULL,"
    " amount TEXT NOT NULL, currency TEXT NOT NULL, gateway TEXT NOT NULL, client_id TEXT NOT NULL,"
    " state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 12), last_status TEXT NOT NULL, last_code TEXT NOT NULL,"
    " acquirement_id TEXT NOT NULL, created_ms INTEGER NOT NULL, last_attempt_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL, pay_started_ms INTEGER NOT NULL, pay_deadline_ms INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, acknowledged INTEGER NOT NULL, watch INTEGER NOT NULL,"
    " watch_due_ms INTEGER NOT NULL, lease_owner TEXT NOT NULL, lease_expires_ms INTEGER NOT NULL,"
    " epoch INTEGER NOT NULL, note TEXT NOT NULL, request TEXT NOT NULL, boot_id TEXT NOT NULL DEFAULT '',"
    " pay_started_boot_ms INTEGER NOT NULL DEFAULT 0, watch_due_boot_ms INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (kind, gateway, merchant_id, key));"
    "INSERT INTO entries_v2 (id, " V1_COLS ") SELECT id, " V1_COLS " FROM entries;"
    "DROP TABLE entries;"
    "ALTER TABLE entries_v2 RENAME TO entries;" OPEN_INDEX;

/* What every version from 3 on has beside the table: the due watches' index, and the id up to
 * which entries may lack a MAC (those of a journal migrated from version 2 or older; 0: none). */
#define WATCH_INDEX "CREATE INDEX entries_watch ON entries (id) WHERE watch = 1;"
#define META "CREATE TABLE journal_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"

/* "name TYPE NOT NULL [DEFAULT] [CHECK]" of column c, as created or added. */
static size_t column_ddl(char *out, size_t cap, const aop_journal_column_t *c) {
    bool text = c->type == AOP_COL_TEXT || c->type == AOP_COL_REQUEST;
    /* ALTER TABLE ADD COLUMN needs a default; columns of version 1 had none */
    const char *dflt = c->since == 1 ? "" : text ? " DEFAULT ''" : " DEFAULT 0";
    int n = snprintf(out, cap, "%s %s NOT NULL%s%s%s%s", c->name, text ? "TEXT" : "INTEGER", dflt,
                     c->check ? " CHECK (" : "", c->check ? c->check : "", c->check ? ")" : "");
    return n < 0 ? 0 : (size_t)n;
}

/* A new journal: the table from the column table, its indexes, no legacy entries. */
static aop_status_t create_current(sq_t *s, aop_error_t *err) {
    char sql[8192];
    size_t n = (size_t)snprintf(sql, sizeof sql, "CREATE TABLE entries (id INTEGER PRIMARY KEY");
    for (size_t i = 0; i < aop_internal_journal_ncolumns; i++) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", ");
        n += column_ddl(sql + n, sizeof sql - n, &aop_internal_journal_columns[i]);
    }
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          ", UNIQUE (kind, gateway, merchant_id, key));" OPEN_INDEX WATCH_INDEX META
                          "INSERT INTO journal_meta VALUES ('legacy_upto', 0);%s", sq_notices_ddl);
    if (n >= sizeof sql) return aop_error_set(err, AOP_E_INTERNAL, "journal", -1, "the schema is too long");
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? AOP_OK : sq_error(s, rc, err, "create the table");
}

/* "ALTER TABLE entries ADD COLUMN ...;" for every column the column table says version since
 * added, appended at sql + n; returns the new length, which is cap or more when it did not fit
 * (nothing is written past cap). */
static size_t add_columns(char *sql, size_t cap, size_t n, unsigned since) {
    for (size_t i = 0; i < aop_internal_journal_ncolumns && n < cap; i++) {
        if (aop_internal_journal_columns[i].since != since) continue;
        n += (size_t)snprintf(sql + n, cap - n, "ALTER TABLE entries ADD COLUMN ");
        if (n < cap) n += column_ddl(sql + n, cap - n, &aop_internal_journal_columns[i]);
        if (n < cap) n += (size_t)snprintf(sql + n, cap - n, ";");
    }
    return n;
}

/* Version 3: the clock stamps renamed (they belong to the store's clock), the columns it added
 * (from the column table), the watch index, and the legacy bound. */
static aop_status_t v2_to_v3(sq_t *s, aop_error_t *err) {
    char sql[8192];
    size_t n = (size_t)snprintf(sql, sizeof sql,
                                "ALTER TABLE entries RENAME COLUMN boot_id TO clock_id;"
                                "ALTER TABLE entries RENAME COLUMN pay_started_boot_ms TO pay_started_clock_ms;"
                                "ALTER TABLE entries RENAME COLUMN watch_due_boot_ms TO watch_due_clock_ms;");
    n = add_columns(sql, sizeof sql, n, 3);
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n,
                              WATCH_INDEX META "INSERT INTO journal_meta VALUES ('legacy_upto', "
                                               "(SELECT coalesce(max(id), 0) FROM entries));");
    if (n >= sizeof sql) return aop_error_set(err, AOP_E_INTERNAL, "journal", -1, "the migration is too long");
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? AOP_OK : sq_error(s, rc, err, "migrate to version 3");
}

/* Version 4: cancel_sent (from the column table), set on every open entry, since an entry
 * written before it existed may have sent a cancel already; and the notification table. */
static aop_status_t v3_to_v4(sq_t *s, aop_error_t *err) {
    char sql[4096];
    size_t n = add_columns(sql, sizeof sql, 0, 4);
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "UPDATE entries SET cancel_sent = 1 WHERE " SQ_OPEN ";%s",
                              sq_notices_ddl);
    if (n >= sizeof sql) return aop_error_set(err, AOP_E_INTERNAL, "journal", -1, "the migration is too long");
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? AOP_OK : sq_error(s, rc, err, "migrate to version 4");
}

/* Version 5: the open-entry index's predicate as a range. SQLite evaluates a partial index's
 * predicate on every insert and on every update of state, and an IN list of more than two values
 * costs an ephemeral table each time (memory taken and given back to the kernel). */
static const char v4_to_v5[] = "DROP INDEX IF EXISTS entries_open;" OPEN_INDEX;

static int read_int(sqlite3 *db, const char *sql, int64_t *out) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *out = 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

/* Runs sql while another connection holds the database in a way the busy handler does not wait
 * for (changing the journal mode, a first WAL open). */
static int exec_retry(sqlite3 *db, const char *sql) {
    int rc = SQLITE_OK;
    for (int i = 0; i < 200; i++) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) return rc;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return rc;
}

aop_status_t sq_migrate(sq_t *s, aop_error_t *err) {
    int64_t version = 0;
    int rc = read_int(s->db, "PRAGMA user_version", &version);
    if (rc != SQLITE_OK) return sq_error(s, rc, err, "read user_version");
    if (version == SQ_SCHEMA_VERSION) /* the usual case: no write transaction at all */
        return read_int(s->db, "SELECT value FROM journal_meta WHERE name = 'legacy_upto'", &s->legacy_upto) ==
                       SQLITE_OK
                   ? AOP_OK
                   : sq_error(s, sqlite3_extended_errcode(s->db), err, "read journal_meta");
    /* One transaction, so that processes opening the same new file at once create the table once. */
    rc = exec_retry(s->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) return sq_error(s, rc, err, "begin the migration");
    aop_status_t st = AOP_OK;
    if ((rc = read_int(s->db, "PRAGMA user_version", &version)) != SQLITE_OK)
        st = sq_error(s, rc, err, "read user_version");
    else if (version > SQ_SCHEMA_VERSION || version < 0)
        st = aop_error_set(err, AOP_E_JOURNAL, "journal", -1,
                           "journal %s has schema version %lld; this library reads up to version %d (a newer aop "
                           "wrote it: use that one)",
                           s->path, (long long)version, SQ_SCHEMA_VERSION);
    else if (version == 0)
        st = create_current(s, err);
    if (st == AOP_OK && version == 1 && (rc = sqlite3_exec(s->db, v1_to_v2, NULL, NULL, NULL)) != SQLITE_OK)
        st = sq_error(s, rc, err, "migrate to version 2");
    if (st == AOP_OK && version >= 1 && version <= 2) st = v2_to_v3(s, err);
    if (st == AOP_OK && version >= 1 && version <= 3) st = v3_to_v4(s, err);
    if (st == AOP_OK && version >= 1 && version <= 4 &&
        (rc = sqlite3_exec(s->db, v4_to_v5, NULL, NULL, NULL)) != SQLITE_OK)
        st = sq_error(s, rc, err, "migrate to version 5");
    if (st == AOP_OK && version < SQ_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SQ_SCHEMA_VERSION);
        if ((rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) != SQLITE_OK) st = sq_error(s, rc, err, "set user_version");
    }
    if (st == AOP_OK &&
        (rc = read_int(s->db, "SELECT value FROM journal_meta WHERE name = 'legacy_upto'", &s->legacy_upto)) !=
            SQLITE_OK)
        st = sq_error(s, rc, err, "read journal_meta");
    if (st == AOP_OK) {
        if ((rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) == SQLITE_OK) return AOP_OK;
        st = sq_error(s, rc, err, "commit the migration");
    }
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

aop_status_t sq_prepare(sq_t *s, aop_error_t *err) {
    static char insert_sql[4096];
    char cols[2048] = "", params[512] = "";
    size_t c = 0, p = 0;
    for (size_t i = 0; i < aop_internal_journal_ncolumns; i++) {
        c += (size_t)snprintf(cols + c, sizeof cols - c, "%s%s", i ? ", " : "", aop_internal_journal_columns[i].name);
        p += (size_t)snprintf(params + p, sizeof params - p, "%s?%zu", i ? ", " : "", i + 1);
    }
    snprintf(insert_sql, sizeof insert_sql, "INSERT INTO entries (%s) VALUES (%s)", cols, params);
    char find[4096], get[4096], get_request[4096], open_payment[4096];
    snprintf(find, sizeof find,
             "SELECT %s FROM entries WHERE kind = ?1 AND gateway = ?2 AND merchant_id = ?3 AND key = ?4",
             sq_select_list(true));
    snprintf(get, sizeof get, "SELECT %s FROM entries WHERE id = ?1", sq_select_list(false));
    snprintf(get_request, sizeof get_request, "SELECT %s FROM entries WHERE id = ?1", sq_select_list(true));
    snprintf(open_payment, sizeof open_payment,
             "SELECT %s FROM entries WHERE " SQ_OPEN " AND kind = 1 AND gateway = ?1 AND "
             "merchant_id = ?2 AND acquirement_id = ?3 ORDER BY id LIMIT 1",
             sq_select_list(false));
    const char *sql[SQ_COUNT] = {
        [SQ_BEGIN] = "BEGIN IMMEDIATE",
        [SQ_COMMIT] = "COMMIT",
        [SQ_ROLLBACK] = "ROLLBACK",
        [SQ_INSERT] = insert_sql,
        [SQ_FIND] = find,
        [SQ_GET] = get,
        [SQ_GET_REQUEST] = get_request,
        [SQ_OPEN_PAYMENT] = open_payment,
        /* never an open entry, never a watch (due or not) */
        [SQ_PRUNE] = "DELETE FROM entries WHERE " SQ_FINAL " AND watch = 0 AND updated_ms < ?1",
        [SQ_LEGACY] = "SELECT id FROM entries WHERE id <= ?1 AND mac = '' AND gateway = ?2 ORDER BY id",
    };
    for (int i = 0; i < SQ_COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
        if (rc != SQLITE_OK) return sq_error(s, rc, err, "prepare");
    }
    return AOP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Opening and closing */

void sq_free(sq_t *s) {
    if (!s) return;
    for (int i = 0; i < SQ_COUNT; i++) sqlite3_finalize(s->stmt[i]);
    for (int i = 0; i < SQ_LISTS; i++) sqlite3_finalize(s->list[i]);
    for (size_t i = 0; i < sizeof s->notice_list / sizeof *s->notice_list; i++) sqlite3_finalize(s->notice_list[i]);
    for (int i = 0; i < SQ_UPDATES; i++) sqlite3_finalize(s->update[i].q);
    sqlite3_close(s->db);
    pthread_cond_destroy(&s->qcv);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->mu);
    if (s->wal_fd >= 0) close(s->wal_fd);
    free(s->scratch);
    free(s);
}

aop_status_t aop_journal_open_sqlite(const char *path, aop_journal_t **out, aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, "out", -1, "out is NULL");
    *out = NULL;
    if (!path || !*path)
        return aop_error_set(err, AOP_E_INVALID_ARG, "path", -1, "the journal path is %s", path ? "empty" : "NULL");
    if (strlen(path) >= sizeof((sq_t *)0)->path)
        return aop_error_set(err, AOP_E_INVALID_ARG, "path", -1, "the journal path is longer than %zu bytes",
                             sizeof((sq_t *)0)->path - 1);
    aop_status_t st = prepare_file(path, err);
    if (st != AOP_OK) return st;
    sq_t *s = calloc(1, sizeof *s);
    if (s) s->scratch = malloc(sizeof *s->scratch);
    if (!s || !s->scratch) {
        free(s);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for the journal");
    }
    s->wal_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    s->tail = &s->head;
    snprintf(s->path, sizeof s->path, "%s", path);
    /* No mutex of SQLite's: the store holds its own for a whole operation, which a connection
     * mutex alone could not (a transaction spans statements). NOFOLLOW: the path was checked. */
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        st = aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "cannot open the journal %s: %s", path,
                           s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sq_free(s);
        return st;
    }
    sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 1);
    /* The write-ahead log stays between processes and is checkpointed when it grows past 1000
     * pages, not on close: a process that pays once syncs once (its insert), instead of also
     * syncing a new log's header, the directory and a checkpoint. */
    int persist = 1;
    (void)sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if ((rc = exec_retry(s->db, "PRAGMA journal_mode=WAL")) != SQLITE_OK)
        st = sq_error(s, rc, err, "journal_mode=WAL");
    else if ((rc = exec_retry(s->db, "PRAGMA synchronous=NORMAL")) != SQLITE_OK)
        st = sq_error(s, rc, err, "synchronous=NORMAL");
    if (st == AOP_OK) (void)sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    if (st == AOP_OK) st = sq_migrate(s, err);
    if (st == AOP_OK) st = sq_prepare(s, err);
    if (st == AOP_OK) st = aop_journal_open_custom(&aop_internal_sqlite_ops, s, out, err);
    if (st != AOP_OK) sq_free(s);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Backup */

/* The online backup of the store's connection into a new file, checked before it counts: its
 * integrity, and as many entries as the journal had when it was copied. */
aop_status_t sq_backup(void *store, const char *path, aop_error_t *err) {
    sq_t *s = store;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return aop_error_set(err, AOP_E_IO, "path", -1, "cannot create the backup %s: %s%s", path, strerror(errno),
                             errno == EEXIST ? " (a backup never replaces a file)" : "");
    close(fd);
    sqlite3 *to = NULL;
    aop_status_t st = AOP_OK;
    int rc = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    int64_t have = -1, copied = -2;
    sq_lock(s);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(to, "main", s->db, "main");
        if (!b) {
            rc = sqlite3_extended_errcode(to);
        } else {
            rc = sqlite3_backup_step(b, -1);
            rc = sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(to);
        }
        if (rc == SQLITE_OK) rc = read_int(s->db, "SELECT count(*) FROM entries", &have);
    }
    sq_unlock(s);
    int64_t ok = 0;
    sqlite3_stmt *q = NULL;
    if (rc == SQLITE_OK && (rc = sqlite3_prepare_v2(to, "PRAGMA integrity_check", -1, &q, NULL)) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        ok = strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0;
    sqlite3_finalize(q);
    if (rc == SQLITE_OK) rc = read_int(to, "SELECT count(*) FROM entries", &copied);
    if (rc != SQLITE_OK)
        st = aop_error_set(err, AOP_E_JOURNAL, "path", -1, "backup of %s to %s: %s", s->path, path, sqlite3_errstr(rc));
    else if (!ok || copied != have)
        st = aop_error_set(err, AOP_E_JOURNAL, "path", -1,
                           "backup of %s to %s: the copy does not check (integrity %s, %lld entries of %lld)", s->path,
                           path, ok ? "ok" : "failed", (long long)copied, (long long)have);
    sqlite3_close(to);
    if (st != AOP_OK) unlink(path); /* never leave a copy that did not check */
    return st;
}
