/* SPDX-License-Identifier: MIT */
/* The PostgreSQL store's connections and schema. A handle keeps a pool of connections, one per
 * thread using it at the same moment, so that the threads of a process (the resolver's, the
 * recovery workers') never wait for each other's round trips. A connection whose server went
 * away is noticed (the server's goodbye is read before a connection is reused) or breaks under a
 * statement; either way it is closed and the next operation opens a new one: a lost connection
 * is reported once, by the operation it broke, and the store reconnects by itself. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_pg.h"

/* Every connection's settings: later updates commit without waiting for the disk (the insert
 * turns it on for itself, journal_pg_sql.c), a statement waits at most PG_STATEMENT_TIMEOUT_MS,
 * and texts are UTF-8 both ways. */
#define SESSION_SQL                                                                                          \
    "SET synchronous_commit = off; SET client_encoding = 'UTF8'; SET statement_timeout = %d; "               \
    "SET lock_timeout = %d; SET idle_in_transaction_session_timeout = 60000"

static bool lost(const PGresult *res, PGconn *c) {
    if (PQstatus(c) == CONNECTION_BAD) return true;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state) return res == NULL;
    /* class 08: connection exceptions; 57P01-57P03: the server shutting down or starting up */
    return !strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") || !strcmp(state, "57P03");
}

void pg_message(char *out, size_t cap, const char *text) {
    snprintf(out, cap, "%s", text);
    for (size_t n = strlen(out); n && (out[n - 1] == '\n' || out[n - 1] == ' '); n--) out[n - 1] = '\0';
}

aop_status_t pg_error(pg_t *s, pg_conn_t *c, const PGresult *res, bool write, const char *what, aop_error_t *err) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[600];
    pg_message(msg, sizeof msg, res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res) : PQerrorMessage(c->c));
    if (lost(res, c->c))
        return H->error_set(err, write ? AOP_E_JOURNAL_UNKNOWN : AOP_E_JOURNAL, "journal", -1,
                            "journal %s: %s: the connection to the server was lost (%s)%s; the store reconnects on "
                            "its next operation", s->shown, what, msg,
                            write ? ": the write may or may not have been committed" : "");
    aop_status_t st = AOP_E_JOURNAL;
    /* a conflict with another transaction, a lock or a statement that waited too long: nothing
     * was written, the caller may try again (class 40: serialization failure, deadlock;
     * 55P03: lock not available; 57014: the statement timeout) */
    if (state && (!strncmp(state, "40", 2) || !strcmp(state, "55P03") || !strcmp(state, "57014"))) st = AOP_E_JOURNAL_BUSY;
    return H->error_set(err, st, "journal", -1, "journal %s: %s: %s (SQLSTATE %s)", s->shown, what, msg,
                        state ? state : "none");
}

/* Whether an idle connection is still usable: a server that shut down has said goodbye on the
 * socket (or closed it), which reading now finds without any wait. */
static bool alive(PGconn *c) {
    if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE) return false;
    struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
    if (p.fd < 0) return false;
    if (poll(&p, 1, 0) > 0) {
        if (!PQconsumeInput(c)) return false;
        PGnotify *n;
        while ((n = PQnotifies(c))) PQfreemem(n);
    }
    return PQstatus(c) == CONNECTION_OK;
}

static void close_conn(pg_conn_t *c) {
    PQfinish(c->c);
    free(c);
}

static aop_status_t connect_one(pg_t *s, pg_conn_t **out, aop_error_t *err) {
    pg_conn_t *c = calloc(1, sizeof *c);
    if (!c) return H->error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a journal connection");
    const char *keys[] = {"application_name", "dbname", NULL};
    const char *values[] = {"aop", s->uri, NULL};
    c->c = PQconnectdbParams(keys, values, 1);
    if (!c->c) {
        free(c);
        return H->error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a journal connection");
    }
    if (PQstatus(c->c) != CONNECTION_OK) {
        char msg[600];
        pg_message(msg, sizeof msg, PQerrorMessage(c->c));
        close_conn(c);
        return H->error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: cannot connect: %s", s->shown, msg);
    }
    char sql[400];
    snprintf(sql, sizeof sql, SESSION_SQL, PG_STATEMENT_TIMEOUT_MS, PG_STATEMENT_TIMEOUT_MS);
    PGresult *res = PQexec(c->c, sql);
    aop_status_t st = PQresultStatus(res) == PGRES_COMMAND_OK ? AOP_OK : pg_error(s, c, res, false, "set up the session", err);
    PQclear(res);
    if (st != AOP_OK) {
        close_conn(c);
        return st;
    }
    *out = c;
    return AOP_OK;
}

aop_status_t pg_acquire(pg_t *s, pg_conn_t **out, aop_error_t *err) {
    if (pthread_mutex_lock(&s->mu) != 0) abort();
    for (;;) {
        pg_conn_t *c = s->idle;
        if (c) {
            s->idle = c->next;
            if (pthread_mutex_unlock(&s->mu) != 0) abort();
            if (alive(c->c)) {
                *out = c;
                return AOP_OK;
            }
            close_conn(c); /* the server went away meanwhile: a new one below */
            if (pthread_mutex_lock(&s->mu) != 0) abort();
            s->open--;
            continue;
        }
        if (s->open < PG_POOL_MAX) break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    s->open++;
    if (pthread_mutex_unlock(&s->mu) != 0) abort();
    aop_status_t st = connect_one(s, out, err);
    if (st != AOP_OK) {
        if (pthread_mutex_lock(&s->mu) != 0) abort();
        s->open--;
        pthread_cond_signal(&s->cv);
        if (pthread_mutex_unlock(&s->mu) != 0) abort();
    }
    return st;
}

void pg_release(pg_t *s, pg_conn_t *c) {
    bool keep = PQstatus(c->c) == CONNECTION_OK && PQtransactionStatus(c->c) == PQTRANS_IDLE;
    if (!keep) close_conn(c);
    if (pthread_mutex_lock(&s->mu) != 0) abort();
    if (keep) {
        c->next = s->idle;
        s->idle = c;
    } else {
        s->open--;
    }
    pthread_cond_signal(&s->cv);
    if (pthread_mutex_unlock(&s->mu) != 0) abort();
}

void pg_pool_free(pg_t *s) {
    for (pg_conn_t *c = s->idle, *next; c; c = next) {
        next = c->next;
        close_conn(c);
    }
    s->idle = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The schema */

/* The advisory lock that serialises migrations between every process opening the journal (an
 * arbitrary number of ours: "aopj"). */
#define MIGRATION_LOCK 0x616f706aLL

static aop_status_t exec(pg_t *s, pg_conn_t *c, const char *sql, const char *what, aop_error_t *err) {
    PGresult *res = PQexec(c->c, sql);
    ExecStatusType t = PQresultStatus(res);
    aop_status_t st = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK ? AOP_OK : pg_error(s, c, res, false, what, err);
    PQclear(res);
    return st;
}

/* The schema version the journal has (0: none yet), read without taking any lock. Two
 * statements: one naming a table that does not exist fails when it is parsed, whatever a CASE
 * around it says. */
static aop_status_t read_version(pg_t *s, pg_conn_t *c, long long *version, aop_error_t *err) {
    *version = 0;
    PGresult *res = PQexec(c->c, "SELECT to_regclass('aop_journal_meta') IS NOT NULL");
    aop_status_t st = AOP_OK;
    bool exists = false;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        exists = PQgetvalue(res, 0, 0)[0] == 't';
    else
        st = pg_error(s, c, res, false, "read the schema version", err);
    PQclear(res);
    if (st != AOP_OK || !exists) return st;
    res = PQexec(c->c, "SELECT coalesce(max(value), 0) FROM aop_journal_meta WHERE name = 'schema_version'");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        *version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        st = pg_error(s, c, res, false, "read the schema version", err);
    PQclear(res);
    return st;
}

static aop_status_t create_current(pg_t *s, pg_conn_t *c, aop_error_t *err) {
    char sql[8192];
    size_t n = (size_t)snprintf(sql, sizeof sql, "CREATE TABLE aop_journal (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
    for (size_t i = 0; i < H->ncolumns; i++) {
        const aop_journal_column_t *col = &H->columns[i];
        const char *type = col->type == AOP_COL_INT ? "bigint" : col->type == AOP_COL_BOOL ? "boolean" : "text";
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s %s NOT NULL%s%s%s", col->name, type,
                              col->check ? " CHECK (" : "", col->check ? col->check : "", col->check ? ")" : "");
    }
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          ", UNIQUE (kind, gateway, merchant_id, key));"
                          "CREATE INDEX aop_journal_open ON aop_journal (gateway, id) WHERE state NOT IN (" PG_FINAL_STATES ");"
                          "CREATE INDEX aop_journal_watch ON aop_journal (gateway, id) WHERE watch;"
                          "%sINSERT INTO aop_journal_meta VALUES ('schema_version', %d)",
                          pg_notices_ddl, PG_SCHEMA_VERSION);
    if (n >= sizeof sql) return H->error_set(err, AOP_E_INTERNAL, "journal", -1, "the schema is too long");
    return exec(s, c, sql, "create the journal's table", err);
}

aop_status_t pg_migrate(pg_t *s, pg_conn_t *c, aop_error_t *err) {
    long long version = 0;
    aop_status_t st = read_version(s, c, &version, err);
    if (st == AOP_OK && version == PG_SCHEMA_VERSION) return AOP_OK; /* the usual case: no lock, no DDL */
    /* One transaction under the advisory lock: processes opening a new journal at once create it
     * once, and one of an older version never runs against a newer schema half-migrated. */
    if (st == AOP_OK) st = exec(s, c, "BEGIN", "begin the migration", err);
    if (st != AOP_OK) return st;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", MIGRATION_LOCK);
    st = exec(s, c, sql, "lock the schema", err);
    if (st == AOP_OK)
        st = exec(s, c, "CREATE TABLE IF NOT EXISTS aop_journal_meta (name text PRIMARY KEY, value bigint NOT NULL)",
                  "create the journal's version table", err);
    if (st == AOP_OK) st = read_version(s, c, &version, err);
    if (st == AOP_OK && version > PG_SCHEMA_VERSION)
        st = H->error_set(err, AOP_E_JOURNAL, "journal", -1,
                          "journal %s has schema version %lld; this store reads up to version %d (a newer aop "
                          "wrote it: use that one)", s->shown, version, PG_SCHEMA_VERSION);
    else if (st == AOP_OK && version == 0)
        st = create_current(s, c, err);
    if (st == AOP_OK) return exec(s, c, "COMMIT", "commit the migration", err);
    aop_error_t ignored;
    (void)exec(s, c, "ROLLBACK", "roll the migration back", &ignored);
    return st;
}
