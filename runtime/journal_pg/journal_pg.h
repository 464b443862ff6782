/* SPDX-License-Identifier: MIT */
/* Private to the PostgreSQL store (libaop-journal-pg.so.0): the store, its connections, and what
 * its operations (journal_pg.c), its statements (journal_pg_sql.c) and its connections and schema
 * (journal_pg_conn.c) share. Everything of libaop comes through the host table (H). */
#ifndef AOP_JOURNAL_PG_H
#define AOP_JOURNAL_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "journal_module.h"

/* The libaop that loaded the module (set once by the module's open, before any store exists). */
extern const aop_journal_host_t *H;

#define PG_SCHEMA_VERSION 1
/* The store's clock: the server's clock_timestamp() in Unix ms, one clock for every client (its
 * wall and clock parts are the same reading). */
#define PG_CLOCK_ID "postgresql"
#define PG_NOW_SQL "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
#define PG_FINAL_STATES "8, 9, 10, 11"
/* How long a statement may wait for a lock or the server before the store reports
 * AOP_E_JOURNAL_BUSY (the SQLite store's busy timeout is the same). */
#define PG_STATEMENT_TIMEOUT_MS 10000
/* Connections kept open at most (one per thread that uses the handle at once; a thread beyond
 * waits for one to come back). */
#define PG_POOL_MAX 32
#define PG_STMT_CACHE 64
#define PG_URI_MAX 1024

typedef struct pg_conn {
    PGconn *c;
    struct pg_conn *next;
    /* statements prepared on this connection, by key (journal_pg_sql.c) */
    uint64_t keys[PG_STMT_CACHE];
    unsigned nkeys;
} pg_conn_t;

typedef struct {
    char uri[PG_URI_MAX];   /* as given: what libpq connects to */
    char shown[PG_URI_MAX]; /* without its password: what messages print */
    char local_prefix[AOP_JOURNAL_OWNER_SIZE]; /* "host/boot/pid-ns/": owners whose death this host can tell */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pg_conn_t *idle;        /* connections not in use */
    unsigned open;          /* connections open, idle or in use */
} pg_t;

/* A connection for one operation: an idle one still alive, or a new one (the pool's limit
 * waited for). AOP_E_JOURNAL when none can be had (no server; refused: role, database,
 * password), with libpq's reason. */
aop_status_t pg_acquire(pg_t *s, pg_conn_t **out, aop_error_t *err);
/* Gives it back; one whose connection broke is closed (the next operation opens a new one). */
void pg_release(pg_t *s, pg_conn_t *c);
void pg_pool_free(pg_t *s);
/* Creates the schema or migrates it (under an advisory lock), on one connection. */
aop_status_t pg_migrate(pg_t *s, pg_conn_t *c, aop_error_t *err);

/* The status of a failed result (res may be NULL: the connection's error): SQLSTATEs mapped onto
 * the interface's kinds (docs/design.md, "The PostgreSQL store"). write: the statement may have
 * committed when the connection broke under it (AOP_E_JOURNAL_UNKNOWN then). */
aop_status_t pg_error(pg_t *s, pg_conn_t *c, const PGresult *res, bool write, const char *what, aop_error_t *err);

typedef enum { PG_WHERE_CAS = 0, PG_WHERE_EPOCH = 1 } pg_where_t;

/* Runs sql on c with n text parameters (a NULL value is SQL NULL), prepared the first time c
 * runs that text. The result, or NULL (then *err says why). */
typedef struct {
    const char *v[48];
    int n;
} pg_params_t;
PGresult *pg_run(pg_t *s, pg_conn_t *c, const char *sql, const pg_params_t *p, ExecStatusType want, bool write,
                 const char *what, aop_error_t *err);

/* Field f of row r of res as a number (the columns read so are bigint). */
static inline int64_t pg_number(const PGresult *res, int r, int f) { return strtoll(PQgetvalue(res, r, f), NULL, 10); }
/* libpq's message text into out, without its trailing newline. */
void pg_message(char *out, size_t cap, const char *text);

/* The SELECT list of an entry (id, then every column; '' for the request without it). */
const char *pg_select_list(bool with_request);
/* Reads row r of res (columns from col on, as pg_select_list) into e; a row that does not fit
 * an entry is marked unreadable (only its id and the reason in note). */
void pg_read(const PGresult *res, int r, int col, aop_journal_entry_t *e, bool with_request);

/* A write's text parameters: e's columns of mask, each with its own room. */
typedef struct {
    char num[40][24];
    unsigned nnum;
} pg_numbers_t;
/* The value of column c of e as a parameter. */
const char *pg_param(const aop_journal_entry_t *e, const aop_journal_column_t *c, pg_numbers_t *nums);

/* Builds the UPDATE of the columns of mask (rel: those written relative to the server's now, the
 * bit of column i being 1 << i) with a WHERE of where, RETURNING the now it used. */
void pg_update_sql(char *sql, size_t cap, unsigned mask, uint64_t rel, pg_where_t where);
/* The INSERT of every column (rel as above), insert-or-nothing, RETURNING id and the now. */
void pg_insert_sql(char *sql, size_t cap, uint64_t rel);
/* Whether column c is written by mask. */
bool pg_written(const aop_journal_column_t *c, unsigned mask);

/* The notification table and sync (journal_pg_notify.c); its DDL, created with the journal's. */
extern const char pg_notices_ddl[];
aop_status_t pg_sync(void *store, aop_error_t *err);
aop_status_t pg_notice_record(void *store, const aop_journal_notice_t *n, aop_journal_notice_t *stored, bool *inserted,
                              aop_error_t *err);
aop_status_t pg_notice_list(void *store, const aop_journal_notice_filter_t *f, int64_t after_id,
                            aop_journal_notice_t *page, size_t cap, size_t *n, aop_error_t *err);
aop_status_t pg_notice_mark(void *store, int64_t id, aop_notice_state_t expect, aop_notice_state_t state,
                            int64_t entry_id, const char *note, aop_error_t *err);

#endif
