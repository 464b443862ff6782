/* SPDX-License-Identifier: MIT */
/* The embedded journal store: SQLite in WAL mode, one table with a column per entry member.
 *
 * Durability: the insert that precedes a pay commits with synchronous=FULL (the WAL is fsynced
 * before the pay may leave); every later change commits with NORMAL (in the WAL, which survives
 * the process being killed; a power loss may lose the last of them, and recovery then finds the
 * entry a step earlier, which it resolves the same way). The pragma is per connection and is
 * switched around the insert only.
 *
 * Concurrency: claim and transition are short BEGIN IMMEDIATE transactions doing a
 * compare-and-set; no lock is held between calls. Several handles (threads, processes) share a
 * file; one handle is used by one thread at a time. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aop/journal.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 10000

/* Version 1. The numbers of kind and state are the enums' (they never change). The partial index
 * serves the open-entry scans of recovery, which stay short while the table grows. */
static const char schema_v1_sql[] =
    "CREATE TABLE entries ("
    " id INTEGER PRIMARY KEY,"
    " kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    " function TEXT NOT NULL,"
    " merchant_id TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " payment_acquirement_id TEXT NOT NULL,"
    " amount TEXT NOT NULL,"
    " currency TEXT NOT NULL,"
    " gateway TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 11),"
    " last_status TEXT NOT NULL,"
    " last_code TEXT NOT NULL,"
    " acquirement_id TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " last_attempt_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " pay_started_ms INTEGER NOT NULL,"
    " pay_deadline_ms INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " acknowledged INTEGER NOT NULL,"
    " watch INTEGER NOT NULL,"
    " watch_due_ms INTEGER NOT NULL,"
    " lease_owner TEXT NOT NULL,"
    " lease_expires_ms INTEGER NOT NULL,"
    " epoch INTEGER NOT NULL,"
    " note TEXT NOT NULL,"
    " request TEXT NOT NULL,"
    " UNIQUE (kind, gateway, merchant_id, key));"
    "CREATE INDEX entries_open ON entries (id) WHERE state NOT IN (8, 9, 10, 11);";

static const char *const migrations[SCHEMA_VERSION] = {schema_v1_sql};

/* The members after id, in the order of the table (and of bind_entry / read_entry). */
#define ENTRY_COLS                                                                                   \
    "kind, function, merchant_id, key, payment_acquirement_id, amount, currency, gateway, client_id, " \
    "state, last_status, last_code, acquirement_id, created_ms, last_attempt_ms, updated_ms, "         \
    "pay_started_ms, pay_deadline_ms, attempts, acknowledged, watch, watch_due_ms, lease_owner, "      \
    "lease_expires_ms, epoch, note, request"
#define N_COLS 27

/* Prepared once per handle and reset after each use. Not the synchronous pragmas: SQLite applies
 * those when it prepares them, so a cached one would switch nothing when stepped again (the fsync
 * count test caught this); they go through sqlite3_exec each time. */
enum {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_INSERT, Q_FIND, Q_BY_ID, Q_LEASE, Q_UPDATE,
    Q_NEXT, Q_NEXT_OPEN, Q_COUNT
};
static const char *const stmt_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_INSERT] = "INSERT INTO entries (" ENTRY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                 "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
    [Q_FIND] = "SELECT id, " ENTRY_COLS " FROM entries WHERE kind = ?1 AND gateway = ?2 AND merchant_id = ?3 "
               "AND key = ?4",
    [Q_BY_ID] = "SELECT id, " ENTRY_COLS " FROM entries WHERE id = ?1",
    [Q_LEASE] = "UPDATE entries SET lease_owner = ?2, lease_expires_ms = ?3, updated_ms = ?4, epoch = epoch + 1 "
                "WHERE id = ?1",
    /* The compare-and-set: ?28 = id, ?29 = the expected state, ?25 = the expected epoch (written
     * as epoch + 1), ?23 = the lease owner (compared and written unchanged). */
    [Q_UPDATE] = "UPDATE entries SET kind = ?1, function = ?2, merchant_id = ?3, key = ?4, "
                 "payment_acquirement_id = ?5, amount = ?6, currency = ?7, gateway = ?8, client_id = ?9, "
                 "state = ?10, last_status = ?11, last_code = ?12, acquirement_id = ?13, created_ms = ?14, "
                 "last_attempt_ms = ?15, updated_ms = ?16, pay_started_ms = ?17, pay_deadline_ms = ?18, "
                 "attempts = ?19, acknowledged = ?20, watch = ?21, watch_due_ms = ?22, lease_owner = ?23, "
                 "lease_expires_ms = ?24, epoch = ?25 + 1, note = ?26, request = ?27 "
                 "WHERE id = ?28 AND state = ?29 AND epoch = ?25 AND lease_owner = ?23",
    /* One row at a time, so that no statement is active while the list callback runs (it may
     * claim or transition on this very handle). */
    [Q_NEXT] = "SELECT id, " ENTRY_COLS " FROM entries WHERE id > ?1 ORDER BY id LIMIT 1",
    [Q_NEXT_OPEN] = "SELECT id, " ENTRY_COLS " FROM entries WHERE id > ?1 AND state NOT IN (8, 9, 10, 11) "
                    "ORDER BY id LIMIT 1",
};

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    char path[256]; /* for messages */
} store_t;

static aop_status_t db_error(store_t *s, aop_error_t *err, const char *what) {
    return aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: %s: %s", s->path, what,
                         sqlite3_errmsg(s->db));
}

/* A cached statement, its bindings cleared. */
static sqlite3_stmt *stmt(store_t *s, int which) {
    sqlite3_stmt *q = s->stmt[which];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return q;
}

/* Steps a statement that returns no row and resets it. */
static int run(sqlite3_stmt *q) {
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs sql while another connection holds the database in a way the busy handler does not wait
 * for (changing the journal mode, a first WAL open). */
static int exec_retry(sqlite3 *db, const char *sql) {
    int rc = SQLITE_OK;
    for (int i = 0; i < 200; i++) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) return rc;
        sleep_ms(50);
    }
    return rc;
}

static void bind_entry(sqlite3_stmt *q, const aop_journal_entry_t *e) {
    int i = 1;
    sqlite3_bind_int(q, i++, (int)e->kind);
    sqlite3_bind_text(q, i++, e->function, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->merchant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->payment_acquirement_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->amount, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->currency, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->gateway, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->client_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, i++, (int)e->state);
    sqlite3_bind_text(q, i++, e->last_status, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->last_code, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->acquirement_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, i++, e->created_ms);
    sqlite3_bind_int64(q, i++, e->last_attempt_ms);
    sqlite3_bind_int64(q, i++, e->updated_ms);
    sqlite3_bind_int64(q, i++, e->pay_started_ms);
    sqlite3_bind_int64(q, i++, e->pay_deadline_ms);
    sqlite3_bind_int64(q, i++, (sqlite3_int64)e->attempts);
    sqlite3_bind_int(q, i++, e->acknowledged ? 1 : 0);
    sqlite3_bind_int(q, i++, e->watch ? 1 : 0);
    sqlite3_bind_int64(q, i++, e->watch_due_ms);
    sqlite3_bind_text(q, i++, e->lease_owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, i++, e->lease_expires_ms);
    sqlite3_bind_int64(q, i++, e->epoch);
    sqlite3_bind_text(q, i++, e->note, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, i++, e->request, (int)e->request_len, SQLITE_STATIC);
}

/* Copies a text column; false when it does not fit (a file written by something else). */
static bool col_text(sqlite3_stmt *q, int i, char *out, size_t cap, size_t *len) {
    const unsigned char *t = sqlite3_column_text(q, i);
    size_t n = (size_t)sqlite3_column_bytes(q, i);
    if (n >= cap) return false;
    if (n) memcpy(out, t, n);
    out[n] = '\0';
    if (len) *len = n;
    return true;
}

/* Reads the row of a SELECT id, ENTRY_COLS into e. */
static aop_status_t read_entry(store_t *s, sqlite3_stmt *q, aop_journal_entry_t *e, aop_error_t *err) {
    static const char *const names[N_COLS + 1] = {
        "id", "kind", "function", "merchant_id", "key", "payment_acquirement_id", "amount", "currency",
        "gateway", "client_id", "state", "last_status", "last_code", "acquirement_id", "created_ms",
        "last_attempt_ms", "updated_ms", "pay_started_ms", "pay_deadline_ms", "attempts", "acknowledged",
        "watch", "watch_due_ms", "lease_owner", "lease_expires_ms", "epoch", "note", "request"};
    int bad = -1;
#define TEXT(col, m) \
    if (bad < 0 && !col_text(q, col, e->m, sizeof e->m, NULL)) bad = col
    e->id = sqlite3_column_int64(q, 0);
    e->kind = (aop_entry_kind_t)sqlite3_column_int(q, 1);
    TEXT(2, function);
    TEXT(3, merchant_id);
    TEXT(4, key);
    TEXT(5, payment_acquirement_id);
    TEXT(6, amount);
    TEXT(7, currency);
    TEXT(8, gateway);
    TEXT(9, client_id);
    e->state = (aop_entry_state_t)sqlite3_column_int(q, 10);
    TEXT(11, last_status);
    TEXT(12, last_code);
    TEXT(13, acquirement_id);
    e->created_ms = sqlite3_column_int64(q, 14);
    e->last_attempt_ms = sqlite3_column_int64(q, 15);
    e->updated_ms = sqlite3_column_int64(q, 16);
    e->pay_started_ms = sqlite3_column_int64(q, 17);
    e->pay_deadline_ms = sqlite3_column_int64(q, 18);
    e->attempts = (unsigned)sqlite3_column_int64(q, 19);
    e->acknowledged = sqlite3_column_int(q, 20) != 0;
    e->watch = sqlite3_column_int(q, 21) != 0;
    e->watch_due_ms = sqlite3_column_int64(q, 22);
    TEXT(23, lease_owner);
    e->lease_expires_ms = sqlite3_column_int64(q, 24);
    e->epoch = sqlite3_column_int64(q, 25);
    TEXT(26, note);
    if (bad < 0 && !col_text(q, 27, e->request, sizeof e->request, &e->request_len)) bad = 27;
#undef TEXT
    if (bad >= 0)
        return aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: entry %lld: %s is longer than the entry holds",
                             s->path, (long long)e->id, names[bad]);
    return AOP_OK;
}

/* Steps a SELECT of one entry: AOP_OK with e filled, AOP_E_MISSING, or the error. */
static aop_status_t select_one(store_t *s, sqlite3_stmt *q, aop_journal_entry_t *e, const char *what,
                               aop_error_t *err) {
    int rc = sqlite3_step(q);
    aop_status_t st;
    if (rc == SQLITE_ROW)
        st = read_entry(s, q, e, err);
    else if (rc == SQLITE_DONE)
        st = AOP_E_MISSING;
    else
        st = db_error(s, err, what);
    sqlite3_reset(q);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * The operations */

static aop_status_t op_insert(void *store, aop_journal_entry_t *e, aop_error_t *err) {
    store_t *s = store;
    if (sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(s, err, "synchronous=FULL");
    sqlite3_stmt *q = stmt(s, Q_INSERT);
    bind_entry(q, e);
    int rc = sqlite3_step(q);
    int64_t id = sqlite3_last_insert_rowid(s->db);
    aop_status_t st = AOP_OK;
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        st = aop_error_set(err, AOP_E_TAKEN_OVER, "journal", -1,
                           "journal %s: there is an entry for %s %s of merchant %s at gateway %s already", s->path,
                           e->kind == AOP_ENTRY_PAYMENT ? "payment" : "refund", e->key, e->merchant_id, e->gateway);
    else if (rc != SQLITE_DONE)
        st = db_error(s, err, "insert");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    /* Back to NORMAL for everything else; a failure here leaves FULL, which is only slower. */
    (void)sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (st == AOP_OK) e->id = id;
    return st;
}

static aop_status_t op_find(void *store, aop_entry_kind_t kind, const char *gateway, const char *merchant_id,
                            const char *key, aop_journal_entry_t *out, aop_error_t *err) {
    store_t *s = store;
    sqlite3_stmt *q = stmt(s, Q_FIND);
    sqlite3_bind_int(q, 1, (int)kind);
    sqlite3_bind_text(q, 2, gateway, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, merchant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, key, -1, SQLITE_STATIC);
    aop_status_t st = select_one(s, q, out, "find", err);
    if (st == AOP_E_MISSING)
        aop_error_set(err, AOP_E_MISSING, "journal", -1, "no journal entry for %s %s of merchant %s at gateway %s",
                      kind == AOP_ENTRY_PAYMENT ? "payment" : "refund", key, merchant_id, gateway);
    return st;
}

static aop_status_t begin(store_t *s, aop_error_t *err) {
    /* Plain SQLITE_BUSY means the busy handler waited BUSY_TIMEOUT_MS already: give up. Its
     * extended forms (a WAL being recovered, say) are not waited for by the handler: retry those
     * a few times. */
    int rc = SQLITE_OK;
    for (int i = 0; i < 20; i++) {
        if (i) sleep_ms(20);
        rc = run(stmt(s, Q_BEGIN));
        if ((rc & 0xff) != SQLITE_BUSY || rc == SQLITE_BUSY) break;
    }
    return rc == SQLITE_OK ? AOP_OK : db_error(s, err, "begin");
}

static aop_status_t commit(store_t *s, aop_status_t st, aop_error_t *err) {
    if (st == AOP_OK) {
        if (run(stmt(s, Q_COMMIT)) == SQLITE_OK) return AOP_OK;
        st = db_error(s, err, "commit");
    }
    (void)run(stmt(s, Q_ROLLBACK));
    return st;
}

static aop_status_t op_claim(void *store, int64_t id, const char *owner, int64_t now_ms, int64_t expires_ms,
                             bool (*owner_dead)(const char *lease_owner, void *ctx), void *ctx,
                             aop_journal_entry_t *out, aop_error_t *err) {
    store_t *s = store;
    aop_status_t st = begin(s, err);
    if (st != AOP_OK) return st;
    sqlite3_stmt *q = stmt(s, Q_BY_ID);
    sqlite3_bind_int64(q, 1, id);
    st = select_one(s, q, out, "claim", err);
    if (st == AOP_E_MISSING) aop_error_set(err, AOP_E_MISSING, "id", -1, "no journal entry %lld", (long long)id);
    if (st == AOP_OK) {
        bool free_ = !out->lease_owner[0] || out->lease_expires_ms <= now_ms || strcmp(out->lease_owner, owner) == 0 ||
                     (owner_dead && owner_dead(out->lease_owner, ctx));
        if (!free_)
            st = aop_error_set(err, AOP_E_TAKEN_OVER, "id", -1,
                               "journal entry %lld is leased to %s, which is running, for %lld ms more",
                               (long long)id, out->lease_owner, (long long)(out->lease_expires_ms - now_ms));
    }
    if (st == AOP_OK) {
        q = stmt(s, Q_LEASE);
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, owner, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, expires_ms);
        sqlite3_bind_int64(q, 4, now_ms);
        if (run(q) != SQLITE_OK) st = db_error(s, err, "claim");
    }
    st = commit(s, st, err);
    if (st == AOP_OK) {
        snprintf(out->lease_owner, sizeof out->lease_owner, "%s", owner);
        out->lease_expires_ms = expires_ms;
        out->updated_ms = now_ms;
        out->epoch++;
    }
    return st;
}

static aop_status_t op_transition(void *store, aop_journal_entry_t *e, aop_entry_state_t expect_state,
                                  aop_error_t *err) {
    store_t *s = store;
    aop_status_t st = begin(s, err);
    if (st != AOP_OK) return st;
    sqlite3_stmt *q = stmt(s, Q_UPDATE);
    bind_entry(q, e);
    sqlite3_bind_int64(q, 28, e->id);
    sqlite3_bind_int(q, 29, (int)expect_state);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        st = aop_error_set(err, AOP_E_INVALID_ARG, "entry", -1,
                           "journal entry %lld cannot take the (kind, gateway, merchant, key) of another entry",
                           (long long)e->id);
    else if (rc != SQLITE_DONE)
        st = db_error(s, err, "transition");
    else if (sqlite3_changes(s->db) != 1) {
        /* Nothing written: tell a missing entry from one that moved on, with what it is now. */
        aop_journal_entry_t *now = malloc(sizeof *now);
        if (!now) {
            st = aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a journal entry");
        } else {
            q = stmt(s, Q_BY_ID);
            sqlite3_bind_int64(q, 1, e->id);
            st = select_one(s, q, now, "transition", err);
            if (st == AOP_E_MISSING)
                aop_error_set(err, AOP_E_MISSING, "entry.id", -1, "no journal entry %lld", (long long)e->id);
            else if (st == AOP_OK)
                st = aop_error_set(err, AOP_E_TAKEN_OVER, "entry", -1,
                                   "journal entry %lld is %s at epoch %lld leased to \"%s\", not %s at epoch %lld "
                                   "leased to \"%s\": another process took it over",
                                   (long long)e->id, aop_entry_state_name(now->state), (long long)now->epoch,
                                   now->lease_owner, aop_entry_state_name(expect_state), (long long)e->epoch,
                                   e->lease_owner);
            free(now);
        }
    }
    sqlite3_clear_bindings(s->stmt[Q_UPDATE]);
    st = commit(s, st, err);
    if (st == AOP_OK) e->epoch++;
    return st;
}

static aop_status_t op_list(void *store, bool open_only, aop_journal_each_fn fn, void *ctx, aop_error_t *err) {
    store_t *s = store;
    aop_journal_entry_t *e = malloc(sizeof *e);
    if (!e) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a journal entry");
    aop_status_t st = AOP_OK;
    int64_t last = 0;
    for (;;) {
        sqlite3_stmt *q = stmt(s, open_only ? Q_NEXT_OPEN : Q_NEXT);
        sqlite3_bind_int64(q, 1, last);
        st = select_one(s, q, e, "list", err);
        if (st != AOP_OK) break;
        last = e->id;
        if (!fn(e, ctx)) break;
    }
    free(e);
    if (st == AOP_E_MISSING) {
        aop_error_clear(err);
        st = AOP_OK;
    }
    return st;
}

static void close_store(store_t *s) {
    if (!s) return;
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

static void op_close(void *store) { close_store(store); }

static const aop_journal_ops_t sqlite_ops = {
    .insert = op_insert,
    .find = op_find,
    .claim = op_claim,
    .transition = op_transition,
    .list = op_list,
    .close = op_close,
};

/* ---------------------------------------------------------------------------------------------
 * Opening */

/* Creates the file with mode 0600 when it does not exist yet: SQLite would create it 0644 less
 * the umask, and its -wal and -shm files take the database's mode. */
static aop_status_t create_private(const char *path, aop_error_t *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return AOP_OK;
    }
    if (errno == EEXIST) return AOP_OK; /* an existing journal (or another process made it just now) */
    return aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "cannot create the journal %s: %s", path,
                         strerror(errno));
}

static int user_version(sqlite3 *db, int *version) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

/* Brings the schema to SCHEMA_VERSION in one transaction, so that processes opening the same
 * new file at once create the table once. */
static aop_status_t migrate(store_t *s, aop_error_t *err) {
    if (exec_retry(s->db, "BEGIN IMMEDIATE") != SQLITE_OK) return db_error(s, err, "begin the migration");
    int version = 0;
    aop_status_t st = AOP_OK;
    if (user_version(s->db, &version) != SQLITE_OK)
        st = db_error(s, err, "read user_version");
    else if (version > SCHEMA_VERSION || version < 0)
        st = aop_error_set(err, AOP_E_JOURNAL, "journal", -1,
                           "journal %s has schema version %d; this library reads up to version %d (a newer aop "
                           "wrote it: use that one)",
                           s->path, version, SCHEMA_VERSION);
    for (int v = version; st == AOP_OK && v < SCHEMA_VERSION; v++)
        if (sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK) st = db_error(s, err, "migrate");
    if (st == AOP_OK && version < SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) st = db_error(s, err, "set user_version");
    }
    if (st == AOP_OK) {
        if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return AOP_OK;
        st = db_error(s, err, "commit the migration");
    }
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

aop_status_t aop_journal_open_sqlite(const char *path, aop_journal_t **out, aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, "out", -1, "out is NULL");
    *out = NULL;
    if (!path || !*path)
        return aop_error_set(err, AOP_E_INVALID_ARG, "path", -1, "the journal path is %s", path ? "empty" : "NULL");
    store_t *s = calloc(1, sizeof *s);
    if (!s) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for the journal");
    snprintf(s->path, sizeof s->path, "%s", path);
    aop_status_t st = create_private(path, err);
    if (st != AOP_OK) {
        free(s);
        return st;
    }
    /* No mutex of SQLite's: a handle belongs to one thread at a time (aop/journal.h). */
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "cannot open the journal %s: %s", path,
                           s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        close_store(s);
        return st;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 1);
    if (exec_retry(s->db, "PRAGMA journal_mode=WAL") != SQLITE_OK)
        st = db_error(s, err, "journal_mode=WAL");
    else if (exec_retry(s->db, "PRAGMA synchronous=NORMAL") != SQLITE_OK)
        st = db_error(s, err, "synchronous=NORMAL");
    if (st == AOP_OK) st = migrate(s, err);
    for (int i = 0; st == AOP_OK && i < Q_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL) != SQLITE_OK)
            st = db_error(s, err, "prepare");
    if (st == AOP_OK) st = aop_journal_open_custom(&sqlite_ops, s, out, err);
    if (st != AOP_OK) close_store(s);
    return st;
}
