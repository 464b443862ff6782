/* SPDX-License-Identifier: MIT */
/* The PostgreSQL store's statements, built from the column table (journal_columns.c) as the
 * SQLite store builds its own, each prepared once per connection; and the reading of rows and
 * the binding of entries as text. Stamps are the server's: a write whose columns depend on the
 * store's now computes them in the statement from one reading of clock_timestamp() (a CTE), as
 * "now + offset", and returns that reading, from which the caller stamps its copy the same way. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_pg.h"

/* A statement's name: FNV-1a of its text, so that two texts never share a prepared statement
 * (64 bits among the few dozen a connection prepares). */
static uint64_t sql_key(const char *sql) {
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    return h;
}

PGresult *pg_run(pg_t *s, pg_conn_t *c, const char *sql, const pg_params_t *p, ExecStatusType want, bool write,
                 const char *what, aop_error_t *err) {
    uint64_t key = sql_key(sql);
    char name[32];
    snprintf(name, sizeof name, "aop_%016llx", (unsigned long long)key);
    bool prepared = false;
    for (unsigned i = 0; i < c->nkeys; i++)
        if (c->keys[i] == key) prepared = true;
    PGresult *res;
    if (!prepared && c->nkeys < PG_STMT_CACHE) {
        res = PQprepare(c->c, name, sql, 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            pg_error(s, c, res, false, what, err);
            PQclear(res);
            return NULL;
        }
        PQclear(res);
        c->keys[c->nkeys++] = key;
        prepared = true;
    }
    if (prepared)
        res = PQexecPrepared(c->c, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
    else /* the cache is full: this one is parsed each time */
        res = PQexecParams(c->c, sql, p ? p->n : 0, NULL, p ? p->v : NULL, NULL, NULL, 0);
    if (PQresultStatus(res) == want) return res;
    pg_error(s, c, res, write, what, err);
    PQclear(res);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Columns */

static const char *sql_type(const aop_journal_column_t *c) {
    switch (c->type) {
    case AOP_COL_INT: return "bigint";
    case AOP_COL_BOOL: return "boolean";
    default: return "text";
    }
}

bool pg_written(const aop_journal_column_t *c, unsigned mask) {
    return mask == AOP_COLW_INSERT || (c->writes & mask) != 0;
}

const char *pg_param(const aop_journal_entry_t *e, const aop_journal_column_t *c, pg_numbers_t *nums) {
    const char *p = (const char *)e + c->offset;
    switch (c->type) {
    case AOP_COL_TEXT: return p;
    case AOP_COL_REQUEST: return e->request; /* NUL-terminated at request_len (journal.c) */
    case AOP_COL_BOOL: return H->get_int(e, c) ? "t" : "f";
    default: break;
    }
    assert(nums->nnum < sizeof nums->num / sizeof *nums->num);
    char *out = nums->num[nums->nnum++];
    snprintf(out, sizeof nums->num[0], "%lld", H->get_int(e, c));
    return out;
}

static pthread_once_t lists_once = PTHREAD_ONCE_INIT;
static char select_with[2048], select_without[2048];

static void build_lists(void) {
    size_t a = (size_t)snprintf(select_with, sizeof select_with, "t.id");
    size_t b = (size_t)snprintf(select_without, sizeof select_without, "t.id");
    for (size_t i = 0; i < H->ncolumns; i++) {
        const aop_journal_column_t *c = &H->columns[i];
        a += (size_t)snprintf(select_with + a, sizeof select_with - a, ", t.%s", c->name);
        b += (size_t)snprintf(select_without + b, sizeof select_without - b, c->type == AOP_COL_REQUEST ? ", ''" : ", t.%s",
                              c->name);
    }
    assert(a < sizeof select_with && b < sizeof select_without);
}

const char *pg_select_list(bool with_request) {
    pthread_once(&lists_once, build_lists);
    return with_request ? select_with : select_without;
}

/* Why column c (field f of row r) does not fit an entry, or NULL. */
static const char *read_column(const PGresult *res, int r, int f, aop_journal_entry_t *e, const aop_journal_column_t *c,
                               bool with_request, char *why, size_t cap) {
    char *p = (char *)e + c->offset;
    if (c->type == AOP_COL_REQUEST && !with_request) return NULL;
    if (PQgetisnull(res, r, f)) {
        snprintf(why, cap, "%s is NULL", c->name);
        return why;
    }
    const char *v = PQgetvalue(res, r, f);
    size_t n = (size_t)PQgetlength(res, r, f);
    if (c->type == AOP_COL_TEXT || c->type == AOP_COL_REQUEST) {
        size_t size = c->type == AOP_COL_REQUEST ? AOP_JOURNAL_REQUEST_MAX : c->size;
        if (n >= size) {
            snprintf(why, cap, "%s is %zu bytes, longer than the entry holds (%zu)", c->name, n, size - 1);
            return why;
        }
        memcpy(p, v, n);
        p[n] = '\0';
        if (c->type == AOP_COL_REQUEST) {
            e->request_len = n;
            e->has_request = true;
        }
        return NULL;
    }
    long long x = 0;
    bool ok;
    if (c->type == AOP_COL_BOOL) {
        ok = (v[0] == 't' || v[0] == 'f') && !v[1];
        x = v[0] == 't';
    } else {
        char *end = NULL;
        errno = 0;
        x = strtoll(v, &end, 10);
        ok = end != v && !*end && errno == 0;
    }
    if (!ok || !H->int_ok(c, x)) {
        snprintf(why, cap, "%s holds %.40s, which no entry has", c->name, v);
        return why;
    }
    H->set_int(e, c, x);
    return NULL;
}

void pg_read(const PGresult *res, int r, int col, aop_journal_entry_t *e, bool with_request) {
    assert(PQnfields(res) >= col + 1 + (int)H->ncolumns); /* id, then every column */
    memset(e, 0, offsetof(aop_journal_entry_t, request));
    e->request[0] = '\0';
    e->id = strtoll(PQgetvalue(res, r, col), NULL, 10);
    char why[AOP_JOURNAL_NOTE_SIZE];
    const char *bad = NULL;
    for (size_t i = 0; !bad && i < H->ncolumns; i++)
        bad = read_column(res, r, col + 1 + (int)i, e, &H->columns[i], with_request, why, sizeof why);
    if (!bad) return;
    int64_t id = e->id;
    memset(e, 0, offsetof(aop_journal_entry_t, request));
    e->request[0] = '\0';
    e->id = id;
    e->unreadable = true;
    snprintf(e->note, sizeof e->note, "%s", bad);
}

/* ---------------------------------------------------------------------------------------------
 * Writes */

/* "$k::type" or "n.ms + $k::bigint" (a stamp relative to the server's now). */
static size_t value_sql(char *out, size_t cap, const aop_journal_column_t *c, int k, bool rel) {
    int n = rel ? snprintf(out, cap, "n.ms + $%d::bigint", k) : snprintf(out, cap, "$%d::%s", k, sql_type(c));
    return n < 0 ? 0 : (size_t)n;
}

void pg_update_sql(char *sql, size_t cap, unsigned mask, uint64_t rel, pg_where_t where) {
    size_t n = (size_t)snprintf(sql, cap, "WITH n AS MATERIALIZED (SELECT " PG_NOW_SQL " AS ms) UPDATE aop_journal AS t SET ");
    int k = 1;
    for (size_t i = 0; i < H->ncolumns; i++) {
        const aop_journal_column_t *c = &H->columns[i];
        if (!pg_written(c, mask) || c->type == AOP_COL_REQUEST) continue;
        n += (size_t)snprintf(sql + n, cap - n, "%s%s = ", k > 1 ? ", " : "", c->name);
        n += value_sql(sql + n, cap - n, c, k++, (rel >> i) & 1);
    }
    n += (size_t)snprintf(sql + n, cap - n, " FROM n WHERE t.id = $%d AND t.epoch = $%d", k, k + 1);
    if (where == PG_WHERE_CAS) n += (size_t)snprintf(sql + n, cap - n, " AND t.state = $%d AND t.lease_owner = $%d", k + 2, k + 3);
    n += (size_t)snprintf(sql + n, cap - n, " RETURNING n.ms");
    assert(n < cap);
}

void pg_insert_sql(char *sql, size_t cap, uint64_t rel) {
    /* Only the insert must be durable before it returns (the request leaves after it): the
     * connection's later updates commit without waiting for the disk (synchronous_commit off,
     * set when it connects), and this one statement turns it on for its own transaction. */
    size_t n = (size_t)snprintf(sql, cap,
                                "WITH n AS MATERIALIZED (SELECT set_config('synchronous_commit', 'on', true) AS sc, "
                                PG_NOW_SQL " AS ms) INSERT INTO aop_journal (");
    for (size_t i = 0; i < H->ncolumns; i++) n += (size_t)snprintf(sql + n, cap - n, "%s%s", i ? ", " : "", H->columns[i].name);
    n += (size_t)snprintf(sql + n, cap - n, ") SELECT ");
    for (size_t i = 0; i < H->ncolumns; i++) {
        if (i) n += (size_t)snprintf(sql + n, cap - n, ", ");
        n += value_sql(sql + n, cap - n, &H->columns[i], (int)i + 1, (rel >> i) & 1);
    }
    n += (size_t)snprintf(sql + n, cap - n,
                          " FROM n ON CONFLICT (kind, gateway, merchant_id, key) DO NOTHING RETURNING id, "
                          "(SELECT ms FROM n)");
    assert(n < cap);
}
