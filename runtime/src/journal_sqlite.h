/* SPDX-License-Identifier: MIT */
/* Private to the SQLite store (journal_sqlite*.c): the store, its statements, and the helpers its
 * operations (journal_sqlite.c), its group commit (journal_sqlite_batch.c) and its file
 * (journal_sqlite_open.c) share. */
#ifndef AOP_JOURNAL_SQLITE_H
#define AOP_JOURNAL_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>

#include "aop/journal.h"

#define SQ_SCHEMA_VERSION 5
#define SQ_BUSY_TIMEOUT_MS 10000
/* The SQL names the final states by their numbers, which are the enum's and never change, as a
 * range: a list of more than two values costs SQLite an ephemeral table per row it checks. */
#define SQ_FINAL "state BETWEEN 8 AND 11"
#define SQ_OPEN "state NOT BETWEEN 8 AND 11"

/* Statements prepared once per store, reset after each use. Not the synchronous pragmas: SQLite
 * applies those when it prepares them, so a cached one would switch nothing (the fsync count
 * test caught this); they go through sqlite3_exec each time. */
enum { SQ_BEGIN, SQ_COMMIT, SQ_ROLLBACK, SQ_INSERT, SQ_FIND, SQ_GET, SQ_GET_REQUEST, SQ_OPEN_PAYMENT, SQ_PRUNE,
       SQ_LEGACY, SQ_COUNT };
/* A list's statement per (which, with a gateway, with the request). */
#define SQ_LISTS 12
/* Partial updates, prepared when first used: (columns written, WHERE form). */
#define SQ_UPDATES 48

typedef enum { SQ_WHERE_CAS = 0, SQ_WHERE_EPOCH = 1 } sq_where_t;

typedef struct sq_insert sq_insert_t;

typedef struct {
    sqlite3 *db;
    /* The connection runs one operation at a time: a transaction spans statements. */
    pthread_mutex_t mu;
    /* Group commit: inserts wait here; one of them (the leader) commits the whole queue. */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    sq_insert_t *head, **tail;
    bool leader;
    unsigned long batches, batched; /* commits and the inserts they held (for the benchmark) */
    sqlite3_stmt *stmt[SQ_COUNT];
    sqlite3_stmt *list[SQ_LISTS];
    /* The notification lists, per shape of the filter (body, gateway, key, state): the lease
     * holder of a waiting payment lists its notifications every 250 ms. */
    sqlite3_stmt *notice_list[16];
    struct {
        unsigned mask;
        sq_where_t where;
        sqlite3_stmt *q;
    } update[SQ_UPDATES];
    int64_t legacy_upto; /* entries without a MAC up to this id predate MACs (0: none) */
    char sealed[4][AOP_JOURNAL_GATEWAY_SIZE]; /* the gateways whose legacy entries are sealed */
    unsigned nsealed;
    aop_journal_entry_t *scratch; /* an entry's room for the writes, used under mu */
    int wal_fd;                   /* the write-ahead log, for the batches' syncs (-1: not open yet) */
    char path[4096]; /* the file (its log is PATH-wal) */
} sq_t;

/* The status of a failed statement: AOP_E_JOURNAL_BUSY for a lock, else AOP_E_JOURNAL; the
 * message names the journal, what failed and SQLite's reason. */
aop_status_t sq_error(sq_t *s, int rc, aop_error_t *err, const char *what);
/* A cached statement, reset and its bindings cleared. */
sqlite3_stmt *sq_stmt(sq_t *s, int which);
/* Steps a statement that returns no row and resets it: SQLITE_OK or the error. */
int sq_run(sqlite3_stmt *q);
/* BEGIN IMMEDIATE (retrying the forms of BUSY the busy handler does not wait for) / COMMIT or
 * ROLLBACK: commit(st) commits when st is AOP_OK and rolls back otherwise; a failed COMMIT is
 * AOP_E_JOURNAL_UNKNOWN when the database may hold it (an I/O error while syncing). */
aop_status_t sq_begin(sq_t *s, aop_error_t *err);
aop_status_t sq_commit(sq_t *s, aop_status_t st, aop_error_t *err);
/* Binds every column of e (an insert) to ?1...: the column table's order. */
void sq_bind_all(sqlite3_stmt *q, const aop_journal_entry_t *e);
/* Reads the row of a SELECT of the column list (id first) into e; a row that does not fit an
 * entry is marked unreadable (only its id and the reason in note). */
void sq_read(sqlite3_stmt *q, aop_journal_entry_t *e, bool with_request);
/* Steps a SELECT of one entry: AOP_OK with e filled, AOP_E_MISSING, AOP_E_JOURNAL for an
 * unreadable row (naming its id), or the error. */
aop_status_t sq_select_one(sq_t *s, sqlite3_stmt *q, aop_journal_entry_t *e, bool with_request, const char *what,
                           aop_error_t *err);

/* The column list of a SELECT (id, then every column; the request replaced by '' without it). */
const char *sq_select_list(bool with_request);
/* The table and its indexes as a new journal creates them, and the migrations from older versions. */
aop_status_t sq_migrate(sq_t *s, aop_error_t *err);
/* Prepares the statements (after the migration). */
aop_status_t sq_prepare(sq_t *s, aop_error_t *err);

/* The operations (journal_sqlite.c, journal_sqlite_batch.c, journal_sqlite_open.c). */
aop_status_t sq_insert(void *store, aop_journal_entry_t *e, int64_t lease_ttl_ms, aop_journal_entry_t *existing,
                       aop_error_t *err);
aop_status_t sq_backup(void *store, const char *path, aop_error_t *err);
/* Syncs the write-ahead log through *fd (opened on it when -1): every commit before is durable. */
aop_status_t sq_sync_log(sq_t *s, int *fd, aop_error_t *err);
/* The notification table and sync (journal_sqlite_notify.c). */
aop_status_t sq_sync(void *store, aop_error_t *err);
aop_status_t sq_notice_record(void *store, const aop_journal_notice_t *n, aop_journal_notice_t *stored, bool *inserted,
                              aop_error_t *err);
aop_status_t sq_notice_list(void *store, const aop_journal_notice_filter_t *f, int64_t after_id,
                            aop_journal_notice_t *page, size_t cap, size_t *n, aop_error_t *err);
aop_status_t sq_notice_mark(void *store, int64_t id, aop_notice_state_t expect, aop_notice_state_t state,
                            int64_t entry_id, const char *note, aop_error_t *err);
/* The notification table's DDL, as a new journal creates it and version 4's migration adds it. */
extern const char sq_notices_ddl[];
extern const aop_journal_ops_t aop_internal_sqlite_ops;
void sq_free(sq_t *s);

/* The connection's lock, which every operation of the store holds while it uses the connection. */
static inline void sq_lock(sq_t *s) {
    if (pthread_mutex_lock(&s->mu) != 0) abort();
}
static inline void sq_unlock(sq_t *s) {
    if (pthread_mutex_unlock(&s->mu) != 0) abort();
}

#endif
