/* SPDX-License-Identifier: MIT */
/* The PostgreSQL store's notification table and its sync (aop/journal.h, the notification
 * operations), as the SQLite store keeps them (journal_sqlite_notify.c). A notification is
 * recorded in one statement (insert, or bump the deliveries of its key's row) whose transaction
 * commits with synchronous_commit on: the receiver answers S / SUCCESS only once it is on disk.
 * Marks commit as the connection's other updates do (synchronous_commit off): a mark lost to a
 * crash of the server leaves the row PENDING, and applying it again decides the same. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_pg.h"

/* The state CHECK names the notice states by their numbers, which never change. */
_Static_assert(AOP_NOTICE_PENDING == 1 && AOP_NOTICE_REFUSED == 4, "the state CHECK names 1 to 4");

const char pg_notices_ddl[] =
    "CREATE TABLE aop_journal_notices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " gateway text NOT NULL, merchant_id text NOT NULL, key text NOT NULL,"
    " result_status text NOT NULL CHECK (result_status IN ('S', 'F', 'U')), result_code text NOT NULL,"
    " received_ms bigint NOT NULL, body text NOT NULL, deliveries bigint NOT NULL,"
    " last_received_ms bigint NOT NULL, state integer NOT NULL CHECK (state BETWEEN 1 AND 4),"
    " entry_id bigint NOT NULL, note text NOT NULL,"
    " UNIQUE (gateway, merchant_id, key, result_status, result_code));"
    "CREATE INDEX aop_journal_notices_key ON aop_journal_notices (gateway, key, state);"
    "CREATE INDEX aop_journal_notices_pending ON aop_journal_notices (id) WHERE state = 1;";

#define COLS(body) AOP_NOTICE_COLS("t.", body)

/* Row r of a result (aop_notice_row_t): texts that do not fit, a row edited by hand, are refused. */
typedef struct {
    const PGresult *res;
    int r;
} pg_row_t;

static bool row_text(const void *row, int f, char *dst, size_t cap) {
    const pg_row_t *p = row;
    size_t n = (size_t)PQgetlength(p->res, p->r, f);
    if (PQgetisnull(p->res, p->r, f) || n >= cap) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, PQgetvalue(p->res, p->r, f), n);
    dst[n] = '\0';
    return true;
}

static int64_t row_number(const void *row, int f) {
    const pg_row_t *p = row;
    return pg_number(p->res, p->r, f);
}

static void read_row(const PGresult *res, int r, aop_journal_notice_t *n) {
    static const aop_notice_row_t how = {row_text, row_number};
    pg_row_t row = {res, r};
    H->notice_read(n, &how, &row);
}

/* Runs one statement on a connection of the pool. */
static PGresult *run(pg_t *s, const char *sql, const pg_params_t *p, ExecStatusType want, bool write,
                     const char *what, aop_error_t *err) {
    pg_conn_t *c = NULL;
    if (pg_acquire(s, &c, err) != AOP_OK) return NULL;
    PGresult *res = pg_run(s, c, sql, p, want, write, what, err);
    pg_release(s, c);
    return res;
}

aop_status_t pg_sync(void *store, aop_error_t *err) {
    /* A transaction that commits with synchronous_commit on waits until the log is flushed up to
     * its commit record, and so past every commit before it; txid_current() gives it one. */
    PGresult *res = run(store, "SELECT set_config('synchronous_commit', 'on', true), txid_current()", NULL, PGRES_TUPLES_OK,
                        true, "sync", err);
    if (!res) return err->code;
    PQclear(res);
    return AOP_OK;
}

aop_status_t pg_notice_record(void *store, const aop_journal_notice_t *n, aop_journal_notice_t *stored, bool *inserted,
                              aop_error_t *err) {
    *inserted = false;
    char received[24], state[8], entry[24];
    snprintf(received, sizeof received, "%lld", (long long)n->received_ms);
    snprintf(state, sizeof state, "%d", (int)n->state);
    snprintf(entry, sizeof entry, "%lld", (long long)n->entry_id);
    pg_params_t p = {{n->gateway, n->merchant_id, n->key, n->result_status, n->result_code, received, n->body, state,
                      entry, n->note},
                     10};
    /* xmax is 0 on a row version this statement inserted, and set on one it updated */
    PGresult *res = run(store, "WITH n AS MATERIALIZED (SELECT set_config('synchronous_commit', 'on', true) AS sc) "
                        "INSERT INTO aop_journal_notices AS t (gateway, merchant_id, key, result_status, result_code, "
                        "received_ms, body, deliveries, last_received_ms, state, entry_id, note) "
                        "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::text, 1, "
                        "$6::bigint, $8::integer, $9::bigint, $10::text FROM n "
                        "ON CONFLICT (gateway, merchant_id, key, result_status, result_code) DO UPDATE SET "
                        "deliveries = t.deliveries + 1, last_received_ms = EXCLUDED.last_received_ms "
                        "RETURNING " COLS("t.body") ", t.xmax = 0",
                        &p, PGRES_TUPLES_OK, true, "record a notification", err);
    if (!res) return err->code;
    aop_status_t st = AOP_OK;
    if (PQntuples(res) == 1) {
        read_row(res, 0, stored);
        *inserted = PQgetvalue(res, 0, 13)[0] == 't';
    } else {
        st = H->error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: recording a notification returned no row",
                          ((pg_t *)store)->shown);
    }
    PQclear(res);
    return st;
}

aop_status_t pg_notice_list(void *store, const aop_journal_notice_filter_t *f, int64_t after_id,
                            aop_journal_notice_t *page, size_t cap, size_t *n, aop_error_t *err) {
    *n = 0;
    char after[24], limit[24], state[8];
    snprintf(after, sizeof after, "%lld", (long long)after_id);
    snprintf(limit, sizeof limit, "%zu", cap);
    snprintf(state, sizeof state, "%d", (int)f->state);
    pg_params_t p = {{after, limit}, 2};
    char sql[1024];
    size_t k = (size_t)snprintf(sql, sizeof sql, "SELECT %s FROM aop_journal_notices t WHERE t.id > $1::bigint",
                                f->with_body ? COLS("t.body") : COLS("''"));
    if (f->gateway) {
        p.v[p.n++] = f->gateway;
        k += (size_t)snprintf(sql + k, sizeof sql - k, " AND t.gateway = $%d::text", p.n);
    }
    if (f->key) {
        p.v[p.n++] = f->key;
        k += (size_t)snprintf(sql + k, sizeof sql - k, " AND t.key = $%d::text", p.n);
    }
    if (f->state) {
        p.v[p.n++] = state;
        k += (size_t)snprintf(sql + k, sizeof sql - k, " AND t.state = $%d::integer", p.n);
    }
    k += (size_t)snprintf(sql + k, sizeof sql - k, " ORDER BY t.id LIMIT $2::bigint");
    assert(k < sizeof sql);
    PGresult *res = run(store, sql, &p, PGRES_TUPLES_OK, false,
                        "list the notifications", err);
    if (!res) return err->code;
    for (int r = 0; r < PQntuples(res) && *n < cap; r++) read_row(res, r, &page[(*n)++]);
    PQclear(res);
    return AOP_OK;
}

aop_status_t pg_notice_mark(void *store, int64_t id, aop_notice_state_t expect, aop_notice_state_t state,
                            int64_t entry_id, const char *note, aop_error_t *err) {
    char idt[24], ex[8], to[8], entry[24];
    snprintf(idt, sizeof idt, "%lld", (long long)id);
    snprintf(ex, sizeof ex, "%d", (int)expect);
    snprintf(to, sizeof to, "%d", (int)state);
    snprintf(entry, sizeof entry, "%lld", (long long)entry_id);
    pg_params_t p = {{to, entry, note ? note : "", idt, ex}, 5};
    /* the state read beside the update is the one before it: it tells a missing row from one
     * that moved on when the update matched nothing */
    PGresult *res = run(store, "WITH u AS (UPDATE aop_journal_notices SET state = $1::integer, entry_id = $2::bigint, "
                        "note = $3::text WHERE id = $4::bigint AND state = $5::integer RETURNING 1) "
                        "SELECT (SELECT count(*) FROM u), (SELECT state FROM aop_journal_notices WHERE id = $4::bigint)",
                        &p, PGRES_TUPLES_OK, true, "mark a notification", err);
    if (!res) return err->code;
    bool changed = pg_number(res, 0, 0) > 0, missing = PQgetisnull(res, 0, 1);
    long long now_state = missing ? 0 : pg_number(res, 0, 1);
    PQclear(res);
    if (changed) return AOP_OK;
    if (missing) return H->error_set(err, AOP_E_MISSING, "id", -1, "no notification %lld", (long long)id);
    return H->error_set(err, AOP_E_TAKEN_OVER, "id", -1, "notification %lld is %s, not %s", (long long)id,
                        H->notice_state_name((aop_notice_state_t)now_state), H->notice_state_name(expect));
}
