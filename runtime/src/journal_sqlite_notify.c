/* SPDX-License-Identifier: MIT */
/* The SQLite store's notification table and its sync (aop/journal.h, the notification
 * operations). A notification is recorded in one short transaction (insert, or bump the
 * deliveries of its key's row) and the write-ahead log is synced before the record returns: the
 * receiver answers S / SUCCESS only then. The marks are plain commits (synchronous=NORMAL): a
 * mark lost to a power loss leaves the row PENDING, and applying it again decides the same. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal_columns.h"
#include "journal_sqlite.h"

/* The state CHECK names the notice states by their numbers, which never change. */
_Static_assert(AOP_NOTICE_PENDING == 1 && AOP_NOTICE_REFUSED == 4, "the state CHECK names 1 to 4");

const char sq_notices_ddl[] =
    "CREATE TABLE notices (id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, merchant_id TEXT NOT NULL,"
    " key TEXT NOT NULL, result_status TEXT NOT NULL CHECK (result_status IN ('S', 'F', 'U')),"
    " result_code TEXT NOT NULL, received_ms INTEGER NOT NULL, body TEXT NOT NULL,"
    " deliveries INTEGER NOT NULL, last_received_ms INTEGER NOT NULL,"
    " state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 4), entry_id INTEGER NOT NULL, note TEXT NOT NULL,"
    " UNIQUE (gateway, merchant_id, key, result_status, result_code));"
    "CREATE INDEX notices_key ON notices (gateway, key, state);"
    "CREATE INDEX notices_pending ON notices (id) WHERE state = 1;";

#define COLS(body) AOP_NOTICE_COLS("", body)
#define KEY_WHERE "gateway = ?1 AND merchant_id = ?2 AND key = ?3 AND result_status = ?4 AND result_code = ?5"

aop_status_t sq_sync(void *store, aop_error_t *err) {
    sq_t *s = store;
    int fd = -1;
    aop_status_t st = sq_sync_log(s, &fd, err);
    if (fd >= 0) close(fd);
    return st;
}

/* A notification row of a statement (aop_notice_row_t): texts that do not fit, a row edited by
 * hand, are refused. */
static bool row_text(const void *row, int i, char *dst, size_t cap) {
    sqlite3_stmt *q = (sqlite3_stmt *)row;
    const unsigned char *t = sqlite3_column_text(q, i);
    size_t n = (size_t)sqlite3_column_bytes(q, i);
    if (!t || n >= cap) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, t, n);
    dst[n] = '\0';
    return true;
}

static int64_t row_number(const void *row, int i) { return sqlite3_column_int64((sqlite3_stmt *)row, i); }

static const aop_notice_row_t sq_row = {row_text, row_number};

static void read_row(sqlite3_stmt *q, aop_journal_notice_t *n) { aop_internal_notice_read(n, &sq_row, q); }

static void bind_key(sqlite3_stmt *q, const aop_journal_notice_t *n) {
    sqlite3_bind_text(q, 1, n->gateway, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, n->merchant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, n->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, n->result_status, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, n->result_code, -1, SQLITE_STATIC);
}

/* Runs one statement of the record's transaction: sql with n's key as ?1-?5 and binds after it;
 * *changed gets the rows it changed, and a SELECT's row goes to stored. */
static int step(sq_t *s, const char *sql, const aop_journal_notice_t *n, aop_journal_notice_t *stored, int *changed) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK) {
        bind_key(q, n);
        int params = sqlite3_bind_parameter_count(q);
        if (params >= 6) sqlite3_bind_int64(q, 6, n->received_ms);
        if (params >= 7) {
            sqlite3_bind_text(q, 7, n->body, (int)n->body_len, SQLITE_STATIC);
            sqlite3_bind_int(q, 8, (int)n->state);
            sqlite3_bind_int64(q, 9, n->entry_id);
            sqlite3_bind_text(q, 10, n->note, -1, SQLITE_STATIC);
        }
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW && stored) read_row(q, stored);
        if (rc == SQLITE_DONE && stored) rc = SQLITE_NOTFOUND;
        if (rc == SQLITE_DONE || rc == SQLITE_ROW) rc = SQLITE_OK;
    }
    if (changed) *changed = sqlite3_changes(s->db);
    sqlite3_finalize(q);
    return rc;
}

aop_status_t sq_notice_record(void *store, const aop_journal_notice_t *n, aop_journal_notice_t *stored, bool *inserted,
                              aop_error_t *err) {
    sq_t *s = store;
    *inserted = false;
    sq_lock(s);
    aop_status_t st = sq_begin(s, err);
    int changed = 0, rc = SQLITE_OK;
    if (st == AOP_OK) {
        rc = step(s, "UPDATE notices SET deliveries = deliveries + 1, last_received_ms = ?6 WHERE " KEY_WHERE, n, NULL,
                  &changed);
        if (rc == SQLITE_OK && changed == 0) {
            rc = step(s,
                      "INSERT INTO notices (gateway, merchant_id, key, result_status, result_code, received_ms, "
                      "body, deliveries, last_received_ms, state, entry_id, note) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?6, ?8, ?9, ?10)",
                      n, NULL, &changed);
            *inserted = rc == SQLITE_OK;
        }
        if (rc == SQLITE_OK) rc = step(s, "SELECT " COLS("body") " FROM notices WHERE " KEY_WHERE, n, stored, NULL);
        if (rc != SQLITE_OK) st = sq_error(s, rc == SQLITE_NOTFOUND ? SQLITE_OK : rc, err, "record a notification");
    }
    st = sq_commit(s, st, err);
    sq_unlock(s);
    /* durable before the answer: the log holds the commit (and every one before it) */
    if (st == AOP_OK) st = sq_sync(s, err);
    if (st != AOP_OK) *inserted = false;
    return st;
}

aop_status_t sq_notice_list(void *store, const aop_journal_notice_filter_t *f, int64_t after_id,
                            aop_journal_notice_t *page, size_t cap, size_t *n, aop_error_t *err) {
    sq_t *s = store;
    *n = 0;
    unsigned shape = (f->with_body ? 1u : 0u) | (f->gateway ? 2u : 0u) | (f->key ? 4u : 0u) | (f->state ? 8u : 0u);
    static_assert(sizeof s->notice_list / sizeof *s->notice_list == 16, "a statement per shape");
    sq_lock(s);
    int rc = SQLITE_OK;
    if (!s->notice_list[shape]) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT %s FROM notices WHERE id > :after%s%s%s ORDER BY id LIMIT :cap",
                 f->with_body ? COLS("body") : COLS("''"), f->gateway ? " AND gateway = :gateway" : "",
                 f->key ? " AND key = :key" : "", f->state ? " AND state = :state" : "");
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->notice_list[shape], NULL);
    }
    sqlite3_stmt *q = s->notice_list[shape];
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":after"), after_id);
        sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":cap"), (int64_t)cap);
        if (f->gateway) sqlite3_bind_text(q, sqlite3_bind_parameter_index(q, ":gateway"), f->gateway, -1, SQLITE_STATIC);
        if (f->key) sqlite3_bind_text(q, sqlite3_bind_parameter_index(q, ":key"), f->key, -1, SQLITE_STATIC);
        if (f->state) sqlite3_bind_int(q, sqlite3_bind_parameter_index(q, ":state"), (int)f->state);
        while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW) read_row(q, &page[(*n)++]);
        if (rc == SQLITE_DONE || *n == cap) rc = SQLITE_OK;
        sqlite3_reset(q);
        sqlite3_clear_bindings(q); /* the texts were bound SQLITE_STATIC */
    }
    aop_status_t st = rc == SQLITE_OK ? AOP_OK : sq_error(s, rc, err, "list the notifications");
    sq_unlock(s);
    return st;
}

aop_status_t sq_notice_mark(void *store, int64_t id, aop_notice_state_t expect, aop_notice_state_t state,
                            int64_t entry_id, const char *note, aop_error_t *err) {
    sq_t *s = store;
    sq_lock(s);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, "UPDATE notices SET state = ?1, entry_id = ?2, note = ?3 WHERE id = ?4 AND "
                                       "state = ?5", -1, &q, NULL);
    int changed = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(q, 1, (int)state);
        sqlite3_bind_int64(q, 2, entry_id);
        sqlite3_bind_text(q, 3, note, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, id);
        sqlite3_bind_int(q, 5, (int)expect);
        rc = sqlite3_step(q);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        changed = sqlite3_changes(s->db);
    }
    sqlite3_finalize(q);
    int64_t now_state = 0;
    if (rc == SQLITE_OK && changed == 0) { /* tell a missing row from one that moved on */
        rc = sqlite3_prepare_v2(s->db, "SELECT state FROM notices WHERE id = ?1", -1, &q, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, id);
            rc = sqlite3_step(q);
            if (rc == SQLITE_ROW) now_state = sqlite3_column_int64(q, 0);
            rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        sqlite3_finalize(q);
    }
    aop_status_t st = AOP_OK;
    if (rc != SQLITE_OK)
        st = sq_error(s, rc, err, "mark a notification");
    else if (changed == 0 && now_state == 0)
        st = aop_error_set(err, AOP_E_MISSING, "id", -1, "no notification %lld", (long long)id);
    else if (changed == 0)
        st = aop_error_set(err, AOP_E_TAKEN_OVER, "id", -1, "notification %lld is %s, not %s", (long long)id,
                           aop_notice_state_name((aop_notice_state_t)now_state), aop_notice_state_name(expect));
    sq_unlock(s);
    return st;
}
