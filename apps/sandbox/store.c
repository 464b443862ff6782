/* SPDX-License-Identifier: MIT */
/* The gateway's durable state: SQLite, one connection per sandbox, WAL so that several sandbox
 * processes can share one file, BEGIN IMMEDIATE around every read-modify-write (so two
 * identical pays, in this process or in another, serialise and create one transaction), and
 * UNIQUE constraints on the idempotency keys as the last line of defence. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbx_internal.h"

#define BUSY_TIMEOUT_MS 10000
#define SCHEMA_VERSION 2

/* Version 1: payments, refunds and the salt. Kept as it was so that a fresh file walks the same
 * migrations as an old one. */
static const char schema_v1_sql[] =
    "CREATE TABLE IF NOT EXISTS payments ("
    " row INTEGER PRIMARY KEY,"
    " merchant_id TEXT NOT NULL,"
    " merchant_trans_id TEXT NOT NULL,"
    " acquirement_id TEXT NOT NULL UNIQUE,"
    " code_hash TEXT NOT NULL,"
    " currency TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount >= 0),"
    " status INTEGER NOT NULL,"
    " result_code TEXT NOT NULL,"
    " settle_at_ms INTEGER NOT NULL DEFAULT 0,"
    " settle_to INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " create_time TEXT NOT NULL,"
    " paid_time TEXT NOT NULL DEFAULT '',"
    " cancel_time TEXT NOT NULL DEFAULT '',"
    " refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),"
    " user_id TEXT NOT NULL DEFAULT '',"
    " UNIQUE (merchant_id, merchant_trans_id));"
    "CREATE TABLE IF NOT EXISTS refunds ("
    " row INTEGER PRIMARY KEY,"
    " merchant_id TEXT NOT NULL,"
    " merchant_refund_id TEXT NOT NULL,"
    " acquirement_id TEXT NOT NULL REFERENCES payments (acquirement_id),"
    " refund_id TEXT NOT NULL UNIQUE,"
    " currency TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " refund_time TEXT NOT NULL,"
    " UNIQUE (merchant_id, merchant_refund_id));"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('code_salt', lower(hex(randomblob(16))));";

/* Version 2: the later-call faults of a payment (its row's tag and call counters), late pays,
 * and the ids closed by a cancel before any pay. The new columns are nullable, so the rows of
 * version 1 stay as they are (NULL reads as "no tag, no calls, visible"). */
static const char migrate_v2_sql[] =
    "ALTER TABLE payments ADD COLUMN scenario TEXT;"
    "ALTER TABLE payments ADD COLUMN query_count INTEGER;"
    "ALTER TABLE payments ADD COLUMN cancel_count INTEGER;"
    "ALTER TABLE payments ADD COLUMN visible_at_ms INTEGER;"
    "CREATE TABLE IF NOT EXISTS closed_ids ("
    " merchant_id TEXT NOT NULL,"
    " merchant_trans_id TEXT NOT NULL,"
    " closed_ms INTEGER NOT NULL,"
    " PRIMARY KEY (merchant_id, merchant_trans_id));";

static const char *const migrations[SCHEMA_VERSION] = {schema_v1_sql, migrate_v2_sql};

#define TXN_COLS                                                                                    \
    "row, merchant_id, merchant_trans_id, acquirement_id, code_hash, currency, amount, status, "    \
    "result_code, settle_at_ms, settle_to, created_ms, create_time, paid_time, cancel_time, "       \
    "refunded, user_id, scenario, query_count, cancel_count, visible_at_ms"

/* The statements, prepared once per connection (preparing them on every pay cost 12% of the
 * sandbox's CPU). Each is reset after its use, under the store mutex. */
enum {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_BY_TRANS_ID, Q_BY_ACQ_ID, Q_INSERT, Q_UPDATE, Q_DELETE,
    Q_CLOSED_FIND, Q_CLOSED_INSERT, Q_REFUND_FIND, Q_REFUND_INSERT, Q_COUNT
};
static const char *const stmt_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_BY_TRANS_ID] = "SELECT " TXN_COLS " FROM payments WHERE merchant_id = ?1 AND merchant_trans_id = ?2",
    [Q_BY_ACQ_ID] = "SELECT " TXN_COLS " FROM payments WHERE merchant_id = ?1 AND acquirement_id = ?2",
    [Q_INSERT] = "INSERT INTO payments (merchant_id, merchant_trans_id, acquirement_id, code_hash, currency, "
                 "amount, status, result_code, settle_at_ms, settle_to, created_ms, create_time, paid_time, "
                 "cancel_time, refunded, user_id, scenario, query_count, cancel_count, visible_at_ms) VALUES "
                 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, NULLIF(?17, ''), "
                 "?18, ?19, NULLIF(?20, 0))",
    [Q_UPDATE] = "UPDATE payments SET status = ?2, result_code = ?3, settle_at_ms = ?4, settle_to = ?5, "
                 "paid_time = ?6, cancel_time = ?7, refunded = ?8, query_count = ?9, cancel_count = ?10, "
                 "visible_at_ms = NULLIF(?11, 0) WHERE row = ?1",
    [Q_DELETE] = "DELETE FROM payments WHERE row = ?1",
    [Q_CLOSED_FIND] = "SELECT 1 FROM closed_ids WHERE merchant_id = ?1 AND merchant_trans_id = ?2",
    [Q_CLOSED_INSERT] = "INSERT OR IGNORE INTO closed_ids (merchant_id, merchant_trans_id, closed_ms) "
                        "VALUES (?1, ?2, ?3)",
    [Q_REFUND_FIND] = "SELECT merchant_id, merchant_refund_id, acquirement_id, refund_id, currency, amount, "
                      "refund_time FROM refunds WHERE merchant_id = ?1 AND merchant_refund_id = ?2",
    [Q_REFUND_INSERT] = "INSERT INTO refunds (merchant_id, merchant_refund_id, acquirement_id, refund_id, "
                        "currency, amount, refund_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};
_Static_assert((int)Q_COUNT <= (int)SBX_STMT_COUNT, "sbx_store_t.stmt is too small");

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void col_text(sqlite3_stmt *q, int i, char *out, size_t cap) {
    const unsigned char *s = sqlite3_column_text(q, i);
    snprintf(out, cap, "%s", s ? (const char *)s : "");
}

/* Runs sql, retrying while another process holds the database (beyond the busy handler, which
 * does not cover every case, e.g. changing the journal mode). */
static int exec_retry(sqlite3 *db, const char *sql) {
    int rc = SQLITE_OK;
    for (int i = 0; i < 200; i++) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) return rc;
        sleep_ms(50);
    }
    return rc;
}

/* Creates the state file with mode 0600 when it does not exist yet (SQLite would create it with
 * 0644 less the umask; its -wal and -shm files take the database's mode). */
static aop_status_t create_private(const char *path, aop_error_t *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return AOP_OK;
    }
    if (errno == EEXIST) return AOP_OK; /* another sandbox made it, or it is an old file */
    return aop_error_set(err, AOP_E_CONFIG, "state", -1, "cannot create the state file %s: %s", path,
                         strerror(errno));
}

static int user_version(sqlite3 *db) {
    sqlite3_stmt *q = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return version;
}

/* Brings the schema to SCHEMA_VERSION, one migration after the other, in one transaction (so
 * sandboxes opening the same old file at once migrate it once). */
static int migrate(sbx_store_t *st, const char *name, aop_error_t *err) {
    int rc = exec_retry(st->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) return rc;
    int version = user_version(st->db);
    if (version > SCHEMA_VERSION) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        aop_error_set(err, AOP_E_CONFIG, "state", -1,
                      "the state file %s has schema version %d, newer than this sandbox's %d", name, version,
                      SCHEMA_VERSION);
        return SQLITE_ERROR;
    }
    rc = version < 0 ? SQLITE_ERROR : SQLITE_OK;
    for (int v = version; v < SCHEMA_VERSION && rc == SQLITE_OK; v++)
        rc = sqlite3_exec(st->db, migrations[v], NULL, NULL, NULL);
    if (rc == SQLITE_OK && version < SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
        rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'code_salt'", -1, &q, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_step(q) == SQLITE_ROW ? SQLITE_OK : SQLITE_CORRUPT;
        if (rc == SQLITE_OK) col_text(q, 0, st->salt, sizeof st->salt);
        sqlite3_finalize(q);
    }
    if (rc == SQLITE_OK) return sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- checkpoints ---------------------------------------------------------------------------
 * In WAL mode a commit appends its pages to the -wal file; a checkpoint copies them back into
 * the database and, with synchronous=NORMAL, fsyncs both files. SQLite's automatic checkpoint
 * runs inside the COMMIT that crosses 1000 pages, so one pay in about 170 waited for two fsyncs
 * (several milliseconds) while holding the store mutex, and every request behind it waited too.
 *
 * Here the serving connection never checkpoints. Its WAL hook wakes a thread with a connection
 * of its own, which runs a PASSIVE checkpoint each time 1000 new pages are in the WAL: that
 * copies and fsyncs while pays go on (another process's checkpoint in progress makes it skip).
 * A WAL starts over from its beginning only when a transaction begins with every frame copied,
 * which never happens while commits keep arriving during the checkpoints; so once the WAL holds
 * CKPT_CAP pages, one checkpoint runs under the store mutex: the pages since the last passive
 * one only, a short stop, after which the next transaction starts the WAL over. The WAL file
 * stays under about CKPT_CAP pages (16 MiB).
 *
 * A commit's durability is unchanged: it is in the -wal file (the page cache) when COMMIT
 * returns, which survives SIGKILL; checkpoints fsync as they did. */

#define CKPT_PAGES 1000 /* SQLite's own threshold */
#define CKPT_CAP 4000

struct sbx_checkpointer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    sqlite3 *db;
    pthread_mutex_t *store_mu;
    int wal_pages;  /* the WAL's size after the last commit */
    int backfilled; /* pages copied by the last checkpoint */
    bool wanted, stop;
};

static void *checkpointer_main(void *arg) {
    struct sbx_checkpointer *k = arg;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (!k->wanted && !k->stop) pthread_cond_wait(&k->cv, &k->mu);
        if (k->stop) break;
        k->wanted = false;
        bool cap = k->wal_pages >= CKPT_CAP;
        pthread_mutex_unlock(&k->mu);
        int log = 0, copied = 0;
        if (cap) pthread_mutex_lock(k->store_mu); /* no commit in between: every frame is copied */
        int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        if (cap) pthread_mutex_unlock(k->store_mu);
        pthread_mutex_lock(&k->mu);
        if (rc == SQLITE_OK && copied > 0) k->backfilled = copied;
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* The serving connection's WAL hook, after each commit, under the store mutex. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages) {
    (void)db;
    (void)name;
    struct sbx_checkpointer *k = arg;
    pthread_mutex_lock(&k->mu);
    if (pages < k->wal_pages) k->backfilled = 0; /* the WAL started over */
    k->wal_pages = pages;
    if (!k->wanted && (pages - k->backfilled >= CKPT_PAGES || pages >= CKPT_CAP)) {
        k->wanted = true;
        pthread_cond_signal(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    return SQLITE_OK;
}

static void checkpointer_free(sbx_store_t *st) {
    struct sbx_checkpointer *k = st->ckpt;
    if (!k) return;
    sqlite3_wal_hook(st->db, NULL, NULL);
    sqlite3_wal_autocheckpoint(st->db, CKPT_PAGES); /* the last commits checkpoint as before */
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    sqlite3_close(k->db);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k);
    st->ckpt = NULL;
}

/* Starts the checkpointer of a state file; when it cannot (no memory, no thread, the file cannot
 * be opened twice), the serving connection keeps SQLite's automatic checkpoints. */
static void checkpointer_start(sbx_store_t *st, const char *path) {
    struct sbx_checkpointer *k = calloc(1, sizeof *k);
    if (!k) return;
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(k->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(k->db);
        free(k);
        return;
    }
    sqlite3_busy_timeout(k->db, BUSY_TIMEOUT_MS);
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (pthread_create(&k->thread, NULL, checkpointer_main, k) != 0) {
        sqlite3_close(k->db);
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        free(k);
        return;
    }
    k->store_mu = &st->mu;
    st->ckpt = k;
    sqlite3_wal_hook(st->db, wal_hook, k); /* replaces the automatic checkpoint */
}

static int prepare_all(sbx_store_t *st) {
    for (int i = 0; i < Q_COUNT; i++) {
        int rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

static void close_db(sbx_store_t *st) {
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(st->stmt[i]);
    memset(st->stmt, 0, sizeof st->stmt);
    sqlite3_close(st->db);
    st->db = NULL;
}

aop_status_t sbx_store_open(sbx_store_t *st, const char *path, aop_error_t *err) {
    memset(st, 0, sizeof *st);
    const char *name = path ? path : ":memory:";
    if (path && create_private(path, err) != AOP_OK) return AOP_E_CONFIG;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    int rc = sqlite3_open_v2(name, &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        aop_error_set(err, AOP_E_CONFIG, "state", -1, "cannot open the state file %s: %s", name,
                      st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        sqlite3_close(st->db);
        st->db = NULL;
        return AOP_E_CONFIG;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(st->db, 1);
    aop_error_clear(err);
    /* WAL with synchronous=NORMAL: a commit is durable once in the WAL, which survives SIGKILL
     * of the process (this gateway's promise); the last commits may be lost on power loss. */
    const char *step = "journal_mode";
    rc = path ? exec_retry(st->db, "PRAGMA journal_mode=WAL") : SQLITE_OK;
    if (rc == SQLITE_OK) step = "pragmas", rc = exec_retry(st->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON");
    if (rc == SQLITE_OK) step = "schema", rc = migrate(st, name, err);
    if (rc == SQLITE_OK) step = "statements", rc = prepare_all(st);
    if (rc != SQLITE_OK) {
        if (err->code == AOP_OK)
            aop_error_set(err, AOP_E_CONFIG, "state", -1, "cannot prepare the state file %s (%s): %s", name, step,
                          sqlite3_errmsg(st->db));
        close_db(st);
        return AOP_E_CONFIG;
    }
    pthread_mutex_init(&st->mu, NULL);
    if (path) checkpointer_start(st, path);
    return AOP_OK;
}

void sbx_store_close(sbx_store_t *st) {
    if (!st->db) return;
    checkpointer_free(st);
    close_db(st);
    pthread_mutex_destroy(&st->mu);
}

const char *sbx_store_errmsg(sbx_store_t *st) { return st->db ? sqlite3_errmsg(st->db) : "closed"; }

/* Steps a statement that returns no row and resets it, retrying while another process holds the
 * database. */
static int run_retry(sqlite3_stmt *q) {
    int rc = SQLITE_BUSY;
    for (int i = 0; i < 200 && (rc == SQLITE_BUSY || rc == SQLITE_LOCKED); i++) {
        if (i) sleep_ms(50);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        if ((rc & 0xff) == SQLITE_BUSY) rc = SQLITE_BUSY;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int sbx_store_begin(sbx_store_t *st) {
    pthread_mutex_lock(&st->mu);
    if (run_retry(st->stmt[Q_BEGIN]) != SQLITE_OK) {
        pthread_mutex_unlock(&st->mu);
        return -1;
    }
    return 0;
}

int sbx_store_commit(sbx_store_t *st) {
    int rc = run_retry(st->stmt[Q_COMMIT]);
    if (rc != SQLITE_OK) run_retry(st->stmt[Q_ROLLBACK]);
    pthread_mutex_unlock(&st->mu);
    return rc == SQLITE_OK ? 0 : -1;
}

void sbx_store_rollback(sbx_store_t *st) {
    run_retry(st->stmt[Q_ROLLBACK]);
    pthread_mutex_unlock(&st->mu);
}

/* A cached statement, its bindings cleared. */
static sqlite3_stmt *stmt(sbx_store_t *st, int which) {
    sqlite3_stmt *q = st->stmt[which];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return q;
}

static void read_txn(sqlite3_stmt *q, sbx_txn_t *t) {
    memset(t, 0, sizeof *t);
    t->row = sqlite3_column_int64(q, 0);
    col_text(q, 1, t->merchant_id, sizeof t->merchant_id);
    col_text(q, 2, t->merchant_trans_id, sizeof t->merchant_trans_id);
    col_text(q, 3, t->acquirement_id, sizeof t->acquirement_id);
    col_text(q, 4, t->code_hash, sizeof t->code_hash);
    col_text(q, 5, t->currency, sizeof t->currency);
    t->amount = (uint64_t)sqlite3_column_int64(q, 6);
    t->status = sqlite3_column_int(q, 7);
    col_text(q, 8, t->result_code, sizeof t->result_code);
    t->settle_at_ms = sqlite3_column_int64(q, 9);
    t->settle_to = sqlite3_column_int(q, 10);
    t->created_ms = sqlite3_column_int64(q, 11);
    col_text(q, 12, t->create_time, sizeof t->create_time);
    col_text(q, 13, t->paid_time, sizeof t->paid_time);
    col_text(q, 14, t->cancel_time, sizeof t->cancel_time);
    t->refunded = (uint64_t)sqlite3_column_int64(q, 15);
    col_text(q, 16, t->user_id, sizeof t->user_id);
    col_text(q, 17, t->scenario, sizeof t->scenario); /* NULL reads as 0 and "" */
    t->query_count = sqlite3_column_int64(q, 18);
    t->cancel_count = sqlite3_column_int64(q, 19);
    t->visible_at_ms = sqlite3_column_int64(q, 20);
}

static int txn_by(sbx_store_t *st, int which, const char *merchant, const char *id, sbx_txn_t *t) {
    sqlite3_stmt *q = stmt(st, which);
    sqlite3_bind_text(q, 1, merchant, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q), ret;
    if (rc == SQLITE_ROW) {
        read_txn(q, t);
        ret = 1;
    } else {
        ret = rc == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_reset(q);
    return ret;
}

int sbx_txn_by_trans_id(sbx_store_t *st, const char *merchant, const char *trans_id, sbx_txn_t *t) {
    return txn_by(st, Q_BY_TRANS_ID, merchant, trans_id, t);
}

int sbx_txn_by_acq_id(sbx_store_t *st, const char *merchant, const char *acq_id, sbx_txn_t *t) {
    return txn_by(st, Q_BY_ACQ_ID, merchant, acq_id, t);
}

/* 0 done, 1 uniqueness conflict, -1 error; leaves q reset. */
static int step_done(sqlite3_stmt *q) {
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) return 0;
    return (rc & 0xff) == SQLITE_CONSTRAINT ? 1 : -1;
}

int sbx_txn_insert(sbx_store_t *st, sbx_txn_t *t) {
    sqlite3_stmt *q = stmt(st, Q_INSERT);
    sqlite3_bind_text(q, 1, t->merchant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, t->merchant_trans_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, t->acquirement_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, t->code_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, t->currency, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, (sqlite3_int64)t->amount);
    sqlite3_bind_int(q, 7, t->status);
    sqlite3_bind_text(q, 8, t->result_code, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 9, t->settle_at_ms);
    sqlite3_bind_int(q, 10, t->settle_to);
    sqlite3_bind_int64(q, 11, t->created_ms);
    sqlite3_bind_text(q, 12, t->create_time, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 13, t->paid_time, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 14, t->cancel_time, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 15, (sqlite3_int64)t->refunded);
    sqlite3_bind_text(q, 16, t->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 17, t->scenario, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 18, t->query_count);
    sqlite3_bind_int64(q, 19, t->cancel_count);
    sqlite3_bind_int64(q, 20, t->visible_at_ms);
    int r = step_done(q);
    if (r == 0) t->row = sqlite3_last_insert_rowid(st->db);
    return r;
}

int sbx_txn_update(sbx_store_t *st, const sbx_txn_t *t) {
    sqlite3_stmt *q = stmt(st, Q_UPDATE);
    sqlite3_bind_int64(q, 1, t->row);
    sqlite3_bind_int(q, 2, t->status);
    sqlite3_bind_text(q, 3, t->result_code, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, t->settle_at_ms);
    sqlite3_bind_int(q, 5, t->settle_to);
    sqlite3_bind_text(q, 6, t->paid_time, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, t->cancel_time, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)t->refunded);
    sqlite3_bind_int64(q, 9, t->query_count);
    sqlite3_bind_int64(q, 10, t->cancel_count);
    sqlite3_bind_int64(q, 11, t->visible_at_ms);
    return step_done(q) == 0 && sqlite3_changes(st->db) == 1 ? 0 : -1;
}

int sbx_txn_delete(sbx_store_t *st, int64_t row) {
    sqlite3_stmt *q = stmt(st, Q_DELETE);
    sqlite3_bind_int64(q, 1, row);
    return step_done(q) == 0 ? 0 : -1;
}

int sbx_closed_find(sbx_store_t *st, const char *merchant, const char *trans_id) {
    sqlite3_stmt *q = stmt(st, Q_CLOSED_FIND);
    sqlite3_bind_text(q, 1, merchant, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, trans_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int sbx_closed_insert(sbx_store_t *st, const char *merchant, const char *trans_id, int64_t now_ms) {
    sqlite3_stmt *q = stmt(st, Q_CLOSED_INSERT);
    sqlite3_bind_text(q, 1, merchant, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, trans_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now_ms);
    return step_done(q) == 0 ? 0 : -1;
}

int sbx_refund_find(sbx_store_t *st, const char *merchant, const char *refund_id, sbx_refund_t *r) {
    sqlite3_stmt *q = stmt(st, Q_REFUND_FIND);
    sqlite3_bind_text(q, 1, merchant, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, refund_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q), ret;
    if (rc == SQLITE_ROW) {
        memset(r, 0, sizeof *r);
        col_text(q, 0, r->merchant_id, sizeof r->merchant_id);
        col_text(q, 1, r->merchant_refund_id, sizeof r->merchant_refund_id);
        col_text(q, 2, r->acquirement_id, sizeof r->acquirement_id);
        col_text(q, 3, r->refund_id, sizeof r->refund_id);
        col_text(q, 4, r->currency, sizeof r->currency);
        r->amount = (uint64_t)sqlite3_column_int64(q, 5);
        col_text(q, 6, r->refund_time, sizeof r->refund_time);
        ret = 1;
    } else {
        ret = rc == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_reset(q);
    return ret;
}

int sbx_refund_insert(sbx_store_t *st, const sbx_refund_t *r) {
    sqlite3_stmt *q = stmt(st, Q_REFUND_INSERT);
    sqlite3_bind_text(q, 1, r->merchant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, r->merchant_refund_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, r->acquirement_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, r->refund_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, r->currency, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, (sqlite3_int64)r->amount);
    sqlite3_bind_text(q, 7, r->refund_time, -1, SQLITE_STATIC);
    return step_done(q);
}

int64_t sbx_store_count(sbx_store_t *st, const char *table) {
    char sql[96];
    if (strcmp(table, "payments") != 0 && strcmp(table, "refunds") != 0 && strcmp(table, "closed_ids") != 0)
        return -1;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *q = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return n;
}
