/* The gateway's durable state: SQLite, one connection per sandbox, WAL so that several sandbox
 * processes can share one file, BEGIN IMMEDIATE around every read-modify-write (so two
 * identical pays, in this process or in another, serialise and create one transaction), and
 * UNIQUE constraints on the idempotency keys as the last line of defence. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbx_internal.h"

#define BUSY_TIMEOUT_MS 10000
#define SCHEMA_VERSION 1

static const char schema_sql[] =
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

static const char txn_cols[] =
    "row, merchant_id, merchant_trans_id, acquirement_id, code_hash, currency, amount, status, "
    "result_code, settle_at_ms, settle_to, created_ms, create_time, paid_time, cancel_time, "
    "refunded, user_id";

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

aop_status_t sbx_store_open(sbx_store_t *st, const char *path, aop_error_t *err) {
    memset(st, 0, sizeof *st);
    const char *name = path ? path : ":memory:";
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
    const char *step = "journal_mode";
    rc = path ? exec_retry(st->db, "PRAGMA journal_mode=WAL") : SQLITE_OK;
    if (rc == SQLITE_OK) step = "pragmas", rc = exec_retry(st->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON");
    if (rc == SQLITE_OK) step = "schema", rc = exec_retry(st->db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(st->db, schema_sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_stmt *q = NULL;
            int version = 0;
            if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
                sqlite3_step(q) == SQLITE_ROW)
                version = sqlite3_column_int(q, 0);
            sqlite3_finalize(q);
            if (version > SCHEMA_VERSION) {
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
                aop_error_set(err, AOP_E_CONFIG, "state", -1,
                              "the state file %s has schema version %d, newer than this sandbox's %d",
                              name, version, SCHEMA_VERSION);
                sqlite3_close(st->db);
                st->db = NULL;
                return AOP_E_CONFIG;
            }
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
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
        else
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        aop_error_set(err, AOP_E_CONFIG, "state", -1, "cannot prepare the state file %s (%s): %s",
                      name, step, sqlite3_errmsg(st->db));
        sqlite3_close(st->db);
        st->db = NULL;
        return AOP_E_CONFIG;
    }
    pthread_mutex_init(&st->mu, NULL);
    return AOP_OK;
}

void sbx_store_close(sbx_store_t *st) {
    if (!st->db) return;
    sqlite3_close(st->db);
    st->db = NULL;
    pthread_mutex_destroy(&st->mu);
}

const char *sbx_store_errmsg(sbx_store_t *st) { return st->db ? sqlite3_errmsg(st->db) : "closed"; }

int sbx_store_begin(sbx_store_t *st) {
    pthread_mutex_lock(&st->mu);
    int rc = exec_retry(st->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) {
        pthread_mutex_unlock(&st->mu);
        return -1;
    }
    return 0;
}

int sbx_store_commit(sbx_store_t *st) {
    int rc = exec_retry(st->db, "COMMIT");
    if (rc != SQLITE_OK) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    return rc == SQLITE_OK ? 0 : -1;
}

void sbx_store_rollback(sbx_store_t *st) {
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
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
}

static int txn_by(sbx_store_t *st, const char *col, const char *merchant, const char *id, sbx_txn_t *t) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM payments WHERE merchant_id = ?1 AND %s = ?2", txn_cols, col);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(q, 1, merchant, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q), ret;
    if (rc == SQLITE_ROW) {
        read_txn(q, t);
        ret = 1;
    } else {
        ret = rc == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(q);
    return ret;
}

int sbx_txn_by_trans_id(sbx_store_t *st, const char *merchant, const char *trans_id, sbx_txn_t *t) {
    return txn_by(st, "merchant_trans_id", merchant, trans_id, t);
}

int sbx_txn_by_acq_id(sbx_store_t *st, const char *merchant, const char *acq_id, sbx_txn_t *t) {
    return txn_by(st, "acquirement_id", merchant, acq_id, t);
}

static int step_done(sqlite3_stmt *q) {
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc == SQLITE_DONE) return 0;
    return (rc & 0xff) == SQLITE_CONSTRAINT ? 1 : -1;
}

int sbx_txn_insert(sbx_store_t *st, sbx_txn_t *t) {
    static const char sql[] =
        "INSERT INTO payments (merchant_id, merchant_trans_id, acquirement_id, code_hash, currency, "
        "amount, status, result_code, settle_at_ms, settle_to, created_ms, create_time, paid_time, "
        "cancel_time, refunded, user_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
        "?13, ?14, ?15, ?16)";
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
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
    int r = step_done(q);
    if (r == 0) t->row = sqlite3_last_insert_rowid(st->db);
    return r;
}

int sbx_txn_update(sbx_store_t *st, const sbx_txn_t *t) {
    static const char sql[] =
        "UPDATE payments SET status = ?2, result_code = ?3, settle_at_ms = ?4, settle_to = ?5, "
        "paid_time = ?6, cancel_time = ?7, refunded = ?8 WHERE row = ?1";
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(q, 1, t->row);
    sqlite3_bind_int(q, 2, t->status);
    sqlite3_bind_text(q, 3, t->result_code, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, t->settle_at_ms);
    sqlite3_bind_int(q, 5, t->settle_to);
    sqlite3_bind_text(q, 6, t->paid_time, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, t->cancel_time, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)t->refunded);
    return step_done(q) == 0 && sqlite3_changes(st->db) == 1 ? 0 : -1;
}

int sbx_refund_find(sbx_store_t *st, const char *merchant, const char *refund_id, sbx_refund_t *r) {
    static const char sql[] =
        "SELECT merchant_id, merchant_refund_id, acquirement_id, refund_id, currency, amount, "
        "refund_time FROM refunds WHERE merchant_id = ?1 AND merchant_refund_id = ?2";
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
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
    sqlite3_finalize(q);
    return ret;
}

int sbx_refund_insert(sbx_store_t *st, const sbx_refund_t *r) {
    static const char sql[] =
        "INSERT INTO refunds (merchant_id, merchant_refund_id, acquirement_id, refund_id, currency, "
        "amount, refund_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
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
    if (strcmp(table, "payments") != 0 && strcmp(table, "refunds") != 0) return -1;
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
