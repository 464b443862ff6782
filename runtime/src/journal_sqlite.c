/* SPDX-License-Identifier: MIT */
/* The embedded journal store: SQLite in WAL mode, one table whose columns come from the column
 * table (journal_columns.c). This file holds the statements and the operations but the insert
 * (journal_sqlite_batch.c, group commit) and the file (journal_sqlite_open.c).
 *
 * Durability: the connection runs with synchronous=NORMAL; an insert's batch is committed and the
 * write-ahead log synced before the insert returns (journal_sqlite_batch.c: the pay may leave only
 * after that); every later change is only committed (in the WAL, which survives the process being
 * killed; a power loss may lose the last of them, and recovery then finds the entry a step
 * earlier, which it resolves the same way).
 *
 * Concurrency: the store serialises its own operations on its one connection (a mutex), so one
 * handle serves many threads; claims and compare-and-sets are short BEGIN IMMEDIATE transactions
 * or single statements, and no lock is held between calls. Several handles and processes share a
 * file through SQLite's locks. Transitions write only the columns that change; a lease renewal
 * writes only the lease. */
#include "journal_sqlite.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal_columns.h"
#include "journal_time.h"
#include "resolver_rows.h"

static_assert(AOP_STATE_PAID == 8 && AOP_STATE_FAILED == 9 && AOP_STATE_CANCELLED == 10 && AOP_STATE_REFUNDED == 11 &&
                  AOP_STATE_NEEDS_ATTENTION == 7 && AOP_STATE_LAST_CHECK == 12,
              "SQ_FINAL and SQ_OPEN name the final states as the range 8..11");

aop_status_t sq_error(sq_t *s, int rc, aop_error_t *err, const char *what) {
    int base = rc & 0xff;
    aop_status_t st = base == SQLITE_BUSY || base == SQLITE_LOCKED ? AOP_E_JOURNAL_BUSY : AOP_E_JOURNAL;
    return aop_error_set(err, st, "journal", -1, "journal %s: %s: %s", s->path, what,
                         rc == SQLITE_OK ? "failed" : sqlite3_errstr(rc));
}

sqlite3_stmt *sq_stmt(sq_t *s, int which) {
    sqlite3_stmt *q = s->stmt[which];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return q;
}

int sq_run(sqlite3_stmt *q) {
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

aop_status_t sq_begin(sq_t *s, aop_error_t *err) {
    /* Plain SQLITE_BUSY means the busy handler waited SQ_BUSY_TIMEOUT_MS already: give up. Its
     * extended forms (a WAL being recovered, say) are not waited for by the handler: retry those
     * a few times. */
    int rc = SQLITE_OK;
    for (int i = 0; i < 20; i++) {
        if (i) sleep_ms(20);
        rc = sq_run(sq_stmt(s, SQ_BEGIN));
        if ((rc & 0xff) != SQLITE_BUSY || rc == SQLITE_BUSY) break;
    }
    return rc == SQLITE_OK ? AOP_OK : sq_error(s, rc, err, "begin");
}

aop_status_t sq_commit(sq_t *s, aop_status_t st, aop_error_t *err) {
    if (st == AOP_OK) {
        int rc = sq_run(sq_stmt(s, SQ_COMMIT));
        if (rc == SQLITE_OK) return AOP_OK;
        /* An I/O error while writing or syncing the WAL: the commit may be on disk or not. */
        if ((rc & 0xff) == SQLITE_IOERR)
            st = aop_error_set(err, AOP_E_JOURNAL_UNKNOWN, "journal", -1,
                               "journal %s: commit: %s: it may or may not be on disk", s->path, sqlite3_errstr(rc));
        else
            st = sq_error(s, rc, err, "commit");
    }
    (void)sq_run(sq_stmt(s, SQ_ROLLBACK));
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Columns: binds and reads by the column table */

static void bind_column(sqlite3_stmt *q, int i, const aop_journal_entry_t *e, const aop_journal_column_t *c) {
    const char *p = (const char *)e + c->offset;
    switch (c->type) {
    case AOP_COL_TEXT: sqlite3_bind_text(q, i, p, -1, SQLITE_STATIC); break;
    case AOP_COL_REQUEST: sqlite3_bind_text(q, i, e->request, (int)e->request_len, SQLITE_STATIC); break;
    default: sqlite3_bind_int64(q, i, aop_internal_journal_get_int(e, c)); break;
    }
}

void sq_bind_all(sqlite3_stmt *q, const aop_journal_entry_t *e) {
    for (size_t i = 0; i < aop_internal_journal_ncolumns; i++)
        bind_column(q, (int)i + 1, e, &aop_internal_journal_columns[i]);
    assert(sqlite3_bind_parameter_count(q) == (int)aop_internal_journal_ncolumns);
}

/* Why column c of the row does not fit an entry, or NULL. */
static const char *read_column(sqlite3_stmt *q, int i, aop_journal_entry_t *e, const aop_journal_column_t *c,
                               bool with_request, char *why, size_t cap) {
    char *p = (char *)e + c->offset;
    if (c->type == AOP_COL_TEXT || c->type == AOP_COL_REQUEST) {
        if (c->type == AOP_COL_REQUEST && !with_request) return NULL;
        const unsigned char *t = sqlite3_column_text(q, i);
        size_t n = (size_t)sqlite3_column_bytes(q, i);
        size_t size = c->type == AOP_COL_REQUEST ? AOP_JOURNAL_REQUEST_MAX : c->size;
        if (n >= size) {
            snprintf(why, cap, "%s is %zu bytes, longer than the entry holds (%zu)", c->name, n, size - 1);
            return why;
        }
        if (n) memcpy(p, t, n);
        p[n] = '\0';
        if (c->type == AOP_COL_REQUEST) {
            e->request_len = n;
            e->has_request = true;
        }
        return NULL;
    }
    long long v = sqlite3_column_int64(q, i);
    if (sqlite3_column_type(q, i) != SQLITE_INTEGER || !aop_internal_journal_int_ok(c, v)) {
        snprintf(why, cap, "%s holds %.40s, which no entry has", c->name, (const char *)sqlite3_column_text(q, i));
        return why;
    }
    aop_internal_journal_set_int(e, c, v);
    return NULL;
}

void sq_read(sqlite3_stmt *q, aop_journal_entry_t *e, bool with_request) {
    assert(sqlite3_column_count(q) == (int)aop_internal_journal_ncolumns + 1); /* id, then every column */
    memset(e, 0, offsetof(aop_journal_entry_t, request));
    e->request[0] = '\0';
    e->id = sqlite3_column_int64(q, 0);
    char why[AOP_JOURNAL_NOTE_SIZE];
    const char *bad = NULL;
    for (size_t i = 0; !bad && i < aop_internal_journal_ncolumns; i++)
        bad = read_column(q, (int)i + 1, e, &aop_internal_journal_columns[i], with_request, why, sizeof why);
    if (!bad) return;
    int64_t id = e->id;
    memset(e, 0, offsetof(aop_journal_entry_t, request));
    e->request[0] = '\0';
    e->id = id;
    e->unreadable = true;
    snprintf(e->note, sizeof e->note, "%s", bad);
}

aop_status_t sq_select_one(sq_t *s, sqlite3_stmt *q, aop_journal_entry_t *e, bool with_request, const char *what,
                           aop_error_t *err) {
    int rc = sqlite3_step(q);
    aop_status_t st = AOP_OK;
    if (rc == SQLITE_ROW) {
        sq_read(q, e, with_request);
        if (e->unreadable)
            st = aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: entry %lld cannot be read: %s", s->path,
                               (long long)e->id, e->note);
    } else if (rc == SQLITE_DONE) {
        st = AOP_E_MISSING;
    } else {
        st = sq_error(s, rc, err, what);
    }
    sqlite3_reset(q);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Statements built from the column table */

static pthread_once_t lists_once = PTHREAD_ONCE_INIT;
static char select_with[2048], select_without[2048];

static void build_lists(void) {
    size_t a = (size_t)snprintf(select_with, sizeof select_with, "id");
    size_t b = (size_t)snprintf(select_without, sizeof select_without, "id");
    for (size_t i = 0; i < aop_internal_journal_ncolumns; i++) {
        const aop_journal_column_t *c = &aop_internal_journal_columns[i];
        a += (size_t)snprintf(select_with + a, sizeof select_with - a, ", %s", c->name);
        b += (size_t)snprintf(select_without + b, sizeof select_without - b, ", %s",
                              c->type == AOP_COL_REQUEST ? "''" : c->name);
    }
    assert(a < sizeof select_with && b < sizeof select_without);
}

const char *sq_select_list(bool with_request) {
    pthread_once(&lists_once, build_lists);
    return with_request ? select_with : select_without;
}

#define DUE(stamp)                                                                                  \
    "(CASE WHEN clock_id = :cid AND :cid <> '' THEN " stamp "_clock_ms <= :cms ELSE " stamp "_ms <= :wall END)"

/* A list of (which, gateway, with_request): the open ones and the due watches through their
 * partial indexes, merged in id order. */
static aop_status_t list_stmt(sq_t *s, const aop_journal_filter_t *f, sqlite3_stmt **out, aop_error_t *err) {
    int k = (int)f->which * 4 + (f->gateway ? 2 : 0) + (f->with_request ? 1 : 0);
    assert(k >= 0 && k < SQ_LISTS);
    if (!s->list[k]) {
        const char *cols = sq_select_list(f->with_request);
        const char *gw = f->gateway ? " AND gateway = :gateway" : "";
        char sql[6144];
        if (f->which == AOP_LIST_ALL)
            snprintf(sql, sizeof sql, "SELECT %s FROM entries WHERE id > :after%s ORDER BY id LIMIT :cap", cols, gw);
        else if (f->which == AOP_LIST_OPEN)
            snprintf(sql, sizeof sql,
                     "SELECT %s FROM entries WHERE id > :after AND " SQ_OPEN "%s ORDER BY id LIMIT :cap", cols, gw);
        else
            snprintf(sql, sizeof sql,
                     "SELECT %s FROM entries WHERE id > :after AND " SQ_OPEN "%s UNION ALL "
                     "SELECT %s FROM entries WHERE id > :after AND watch = 1 AND " SQ_FINAL "%s AND "
                     DUE("watch_due") " ORDER BY 1 LIMIT :cap", cols, gw, cols, gw);
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->list[k], NULL);
        if (rc != SQLITE_OK) return sq_error(s, rc, err, "prepare a list");
    }
    sqlite3_stmt *q = s->list[k];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    *out = q;
    return AOP_OK;
}

static void bind_named_text(sqlite3_stmt *q, const char *name, const char *v) {
    int i = sqlite3_bind_parameter_index(q, name);
    if (i) sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static void bind_named_int(sqlite3_stmt *q, const char *name, int64_t v) {
    int i = sqlite3_bind_parameter_index(q, name);
    if (i) sqlite3_bind_int64(q, i, v);
}

/* An UPDATE of the columns of mask, WHERE id and epoch (and, for a compare-and-set, the state and
 * the lease owner): prepared when first used. The SET values are ?1..?n in column order. */
static aop_status_t update_stmt(sq_t *s, unsigned mask, sq_where_t where, sqlite3_stmt **out, aop_error_t *err) {
    size_t slot = 0;
    for (; slot < SQ_UPDATES && s->update[slot].q; slot++)
        if (s->update[slot].mask == mask && s->update[slot].where == where) break;
    if (slot == SQ_UPDATES) return aop_error_set(err, AOP_E_INTERNAL, "journal", -1, "too many update forms");
    if (!s->update[slot].q) {
        char sql[2048];
        size_t n = (size_t)snprintf(sql, sizeof sql, "UPDATE entries SET ");
        int k = 0;
        for (size_t i = 0; i < aop_internal_journal_ncolumns; i++)
            if (aop_internal_journal_columns[i].writes & mask)
                n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s = ?%d", k ? ", " : "",
                                      aop_internal_journal_columns[i].name, k + 1), k++;
        n += (size_t)snprintf(sql + n, sizeof sql - n, " WHERE id = :id AND epoch = :epoch%s",
                              where == SQ_WHERE_CAS ? " AND state = :state AND lease_owner = :owner" : "");
        assert(n < sizeof sql && k > 0);
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->update[slot].q, NULL);
        if (rc != SQLITE_OK) return sq_error(s, rc, err, "prepare an update");
        s->update[slot].mask = mask;
        s->update[slot].where = where;
    }
    sqlite3_stmt *q = s->update[slot].q;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    *out = q;
    return AOP_OK;
}

/* Runs an update of e's columns in mask where id and old_epoch (and, with SQ_WHERE_CAS, state and
 * owner) match: AOP_OK when it changed the row, AOP_E_TAKEN_OVER when nothing matched. */
static aop_status_t update(sq_t *s, const aop_journal_entry_t *e, unsigned mask, sq_where_t where, int64_t old_epoch,
                           aop_entry_state_t state, aop_error_t *err) {
    sqlite3_stmt *q = NULL;
    aop_status_t st = update_stmt(s, mask, where, &q, err);
    if (st != AOP_OK) return st;
    int k = 0;
    for (size_t i = 0; i < aop_internal_journal_ncolumns; i++)
        if (aop_internal_journal_columns[i].writes & mask) bind_column(q, ++k, e, &aop_internal_journal_columns[i]);
    bind_named_int(q, ":id", e->id);
    bind_named_int(q, ":epoch", old_epoch);
    bind_named_int(q, ":state", (int64_t)state);
    bind_named_text(q, ":owner", e->lease_owner);
    int rc = sq_run(q);
    sqlite3_clear_bindings(q); /* the entry's texts were bound SQLITE_STATIC */
    if (rc != SQLITE_OK) return sq_error(s, rc, err, "update");
    return sqlite3_changes(s->db) == 1 ? AOP_OK : AOP_E_TAKEN_OVER;
}

/* ---------------------------------------------------------------------------------------------
 * The operations */

static aop_status_t op_now(void *store, aop_journal_now_t *out, aop_error_t *err) {
    (void)store;
    (void)err;
    aop_internal_journal_boot_now(out);
    return AOP_OK;
}

static aop_status_t get_locked(sq_t *s, int64_t id, bool with_request, aop_journal_entry_t *out, aop_error_t *err) {
    sqlite3_stmt *q = sq_stmt(s, with_request ? SQ_GET_REQUEST : SQ_GET);
    sqlite3_bind_int64(q, 1, id);
    aop_status_t st = sq_select_one(s, q, out, with_request, "get", err);
    if (st == AOP_E_MISSING) aop_error_set(err, AOP_E_MISSING, "id", -1, "no journal entry %lld", (long long)id);
    return st;
}

static aop_status_t op_get(void *store, int64_t id, bool with_request, aop_journal_entry_t *out, aop_error_t *err) {
    sq_t *s = store;
    sq_lock(s);
    aop_status_t st = get_locked(s, id, with_request, out, err);
    sq_unlock(s);
    return st;
}

/* The one entry statement which selects: its number (when not 0) as ?1, then the texts. */
static aop_status_t select_by(sq_t *s, int which, int number, const char *const *texts, int n, bool with_request,
                              const char *what, aop_journal_entry_t *out, aop_error_t *err) {
    sq_lock(s);
    sqlite3_stmt *q = sq_stmt(s, which);
    int i = 1;
    if (number) sqlite3_bind_int(q, i++, number);
    for (int k = 0; k < n; k++) sqlite3_bind_text(q, i++, texts[k], -1, SQLITE_STATIC);
    aop_status_t st = sq_select_one(s, q, out, with_request, what, err);
    sqlite3_clear_bindings(q);
    sq_unlock(s);
    return st;
}

static aop_status_t op_find(void *store, aop_entry_kind_t kind, const char *gateway, const char *merchant_id,
                            const char *key, aop_journal_entry_t *out, aop_error_t *err) {
    const char *texts[] = {gateway, merchant_id, key};
    aop_status_t st = select_by(store, SQ_FIND, (int)kind, texts, 3, true, "find", out, err);
    if (st == AOP_E_MISSING)
        aop_error_set(err, AOP_E_MISSING, "journal", -1, "no journal entry for %s %s of merchant %s at gateway %s",
                      kind == AOP_ENTRY_PAYMENT ? "payment" : "refund", key, merchant_id, gateway);
    return st;
}

/* Claims entry id for owner inside a transaction: the row read, its lease judged by now, its
 * stamps moved to now's clock, the lease and epoch written. */
static aop_status_t claim_locked(sq_t *s, int64_t id, const char *owner, int64_t ttl, const aop_journal_now_t *now,
                                 aop_journal_entry_t *out, aop_error_t *err) {
    aop_status_t st = get_locked(s, id, true, out, err);
    if (st != AOP_OK) return st;
    if (!aop_internal_journal_claimable(out, owner, now))
        return aop_error_set(err, AOP_E_TAKEN_OVER, "id", -1,
                             "journal entry %lld is leased to %s, which is running, for %lld ms more", (long long)id,
                             out->lease_owner,
                             (long long)-aop_journal_elapsed_ms(now, out->clock_id, out->lease_expires_ms,
                                                                out->lease_expires_clock_ms));
    int64_t old_epoch = out->epoch;
    aop_internal_journal_rebase(out, now);
    snprintf(out->lease_owner, sizeof out->lease_owner, "%s", owner);
    aop_internal_journal_stamp_lease(out, now, ttl);
    out->updated_ms = now->wall_ms;
    out->epoch++;
    st = update(s, out, AOP_COLW_CLAIM, SQ_WHERE_EPOCH, old_epoch, out->state, err);
    if (st == AOP_E_TAKEN_OVER) /* within our own transaction: nothing else can have moved it */
        st = aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: entry %lld changed inside a transaction",
                           s->path, (long long)id);
    return st;
}

static aop_status_t op_claim(void *store, int64_t id, const char *owner, int64_t lease_ttl_ms,
                             aop_journal_entry_t *out, aop_error_t *err) {
    sq_t *s = store;
    sq_lock(s);
    aop_journal_now_t now;
    aop_internal_journal_boot_now(&now);
    aop_status_t st = sq_begin(s, err);
    if (st == AOP_OK) st = sq_commit(s, claim_locked(s, id, owner, lease_ttl_ms, &now, out, err), err);
    sq_unlock(s);
    return st;
}

/* Tells a compare-and-set that matched nothing apart: no entry, or one that moved on. */
static aop_status_t explain_cas(sq_t *s, const aop_journal_entry_t *e, aop_entry_state_t expect,
                                aop_journal_entry_t *scratch, aop_error_t *err) {
    aop_status_t st = get_locked(s, e->id, false, scratch, err);
    if (st == AOP_E_MISSING) return aop_error_set(err, AOP_E_MISSING, "entry.id", -1, "no journal entry %lld", (long long)e->id);
    if (st != AOP_OK) return st;
    return aop_error_set(err, AOP_E_TAKEN_OVER, "entry", -1,
                         "journal entry %lld is %s at epoch %lld leased to \"%.80s\", not %s at epoch %lld leased to "
                         "\"%.80s\": another process took it over", (long long)e->id,
                         aop_entry_state_name(scratch->state), (long long)scratch->epoch, scratch->lease_owner,
                         aop_entry_state_name(expect), (long long)e->epoch, e->lease_owner);
}

/* A write of e's stamps and columns, as a compare-and-set; on success e takes the new image. The
 * image is built in the store's scratch entry (the request is never written by a transition, so
 * it is left out): no allocation of an entry's size on the path of every write. */
static aop_status_t cas_write(sq_t *s, aop_journal_entry_t *e, unsigned mask, aop_entry_state_t expect, bool bump,
                              const aop_journal_write_t *w, int64_t lease_ttl_ms, aop_error_t *err) {
    aop_journal_now_t now;
    aop_internal_journal_boot_now(&now);
    sq_lock(s);
    aop_journal_entry_t *img = s->scratch;
    memcpy(img, e, offsetof(aop_journal_entry_t, request));
    if (w)
        aop_internal_journal_stamp_write(img, &now, w);
    else
        aop_internal_journal_stamp_lease(img, &now, lease_ttl_ms);
    if (bump) img->epoch++;
    aop_status_t st = update(s, img, mask, SQ_WHERE_CAS, e->epoch, expect, err);
    if (st == AOP_E_TAKEN_OVER) st = explain_cas(s, e, expect, img, err);
    if (st == AOP_OK) memcpy(e, img, offsetof(aop_journal_entry_t, request));
    sq_unlock(s);
    return st;
}

static aop_status_t op_renew(void *store, aop_journal_entry_t *e, int64_t lease_ttl_ms, aop_error_t *err) {
    return cas_write(store, e, AOP_COLW_RENEW, e->state, false, NULL, lease_ttl_ms, err);
}

static aop_status_t op_transition(void *store, aop_journal_entry_t *e, const aop_journal_write_t *w,
                                  aop_error_t *err) {
    return cas_write(store, e, AOP_COLW_TRANSITION | w->columns, w->expect_state, true, w, 0, err);
}

/* One page of a list, under the connection's lock. */
static aop_status_t list_locked(sq_t *s, const aop_journal_filter_t *f, int64_t after_id, const aop_journal_now_t *now,
                                aop_journal_entry_t *page, size_t cap, size_t *n, aop_error_t *err) {
    *n = 0;
    sqlite3_stmt *q = NULL;
    aop_status_t st = list_stmt(s, f, &q, err);
    if (st != AOP_OK) return st;
    bind_named_int(q, ":after", after_id);
    bind_named_int(q, ":cap", (int64_t)cap);
    if (f->gateway) bind_named_text(q, ":gateway", f->gateway);
    bind_named_text(q, ":cid", now->clock_id);
    bind_named_int(q, ":cms", now->clock_ms);
    bind_named_int(q, ":wall", now->wall_ms);
    int rc = SQLITE_DONE;
    while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW) sq_read(q, &page[(*n)++], f->with_request);
    if (*n < cap && rc != SQLITE_DONE) st = sq_error(s, rc, err, "list");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return st;
}

static aop_status_t op_list(void *store, const aop_journal_filter_t *f, int64_t after_id, aop_journal_entry_t *page,
                            size_t cap, size_t *n, aop_error_t *err) {
    sq_t *s = store;
    aop_journal_now_t now;
    aop_internal_journal_boot_now(&now);
    sq_lock(s);
    aop_status_t st = list_locked(s, f, after_id, &now, page, cap, n, err);
    sq_unlock(s);
    return st;
}

#define NEXT_PAGE 16

/* The first due entry after after_id (the rows D of docs/resolver.md, decided as the fallback of
 * journal.c decides them), claimed in the same transaction that found it. */
static aop_status_t op_claim_next(void *store, const char *gateway, int64_t after_id, bool due_only, const char *owner,
                                  int64_t lease_ttl_ms, aop_journal_entry_t *out, aop_error_t *err) {
    sq_t *s = store;
    aop_journal_entry_t *page = malloc(NEXT_PAGE * sizeof *page);
    if (!page) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a page of journal entries");
    aop_journal_filter_t f;
    aop_journal_filter_init(&f);
    f.which = AOP_LIST_OPEN_OR_WATCH_DUE;
    f.gateway = gateway;
    aop_journal_now_t now;
    aop_internal_journal_boot_now(&now);
    sq_lock(s);
    aop_status_t st = sq_begin(s, err);
    int64_t found = 0;
    for (size_t n = NEXT_PAGE; st == AOP_OK && !found && n == NEXT_PAGE;) {
        st = list_locked(s, &f, after_id, &now, page, NEXT_PAGE, &n, err);
        for (size_t i = 0; st == AOP_OK && !found && i < n; i++) {
            const aop_journal_entry_t *e = &page[i];
            after_id = e->id;
            if (e->unreadable) continue;
            rsv_due_facts_t facts = {.state = e->state,
                                     .watch_due = aop_internal_journal_watch_due(e, &now),
                                     .held = !aop_internal_journal_claimable(e, owner, &now),
                                     .due_only = due_only,
                                     .waiting = aop_journal_elapsed_ms(&now, e->clock_id, e->next_attempt_ms,
                                                                       e->next_attempt_clock_ms) < 0};
            rsv_due_decision_t d;
            rsv_decide_due(&facts, &d);
            if (d.due) found = e->id;
        }
    }
    if (st == AOP_OK && found) st = claim_locked(s, found, owner, lease_ttl_ms, &now, out, err);
    if (st == AOP_OK && !found) {
        (void)sq_commit(s, AOP_E_MISSING, err); /* nothing written: a rollback */
        st = aop_error_set(err, AOP_E_MISSING, "gateway", -1, "no entry of this gateway is due");
    } else {
        st = sq_commit(s, st, err);
    }
    sq_unlock(s);
    free(page);
    return st;
}

static aop_status_t op_open_payment(void *store, const char *gateway, const char *merchant_id,
                                    const char *acquirement_id, aop_journal_entry_t *out, aop_error_t *err) {
    const char *texts[] = {gateway, merchant_id, acquirement_id};
    aop_status_t st = select_by(store, SQ_OPEN_PAYMENT, 0, texts, 3, false, "open payment", out, err);
    if (st == AOP_E_MISSING)
        aop_error_set(err, AOP_E_MISSING, "acquirement_id", -1, "no open payment with acquirementId %s", acquirement_id);
    return st;
}

static bool sealed_already(sq_t *s, const char *gateway) {
    for (unsigned i = 0; i < s->nsealed; i++)
        if (!strcmp(s->sealed[i], gateway)) return true;
    return false;
}

/* The entries of gateway that predate MACs (no MAC, an id up to the migration's last), MACed by
 * fn in one transaction; then remembered, so that later calls cost nothing. */
static aop_status_t op_seal_legacy(void *store, const char *gateway, aop_journal_seal_fn fn, void *ctx,
                                   unsigned *sealed, aop_error_t *err) {
    sq_t *s = store;
    *sealed = 0;
    sq_lock(s);
    if (s->legacy_upto <= 0 || sealed_already(s, gateway)) {
        sq_unlock(s);
        return AOP_OK;
    }
    aop_journal_entry_t *e = malloc(sizeof *e);
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    aop_status_t st = e ? sq_begin(s, err) : aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    if (st == AOP_OK) {
        sqlite3_stmt *q = sq_stmt(s, SQ_LEGACY);
        sqlite3_bind_int64(q, 1, s->legacy_upto);
        sqlite3_bind_text(q, 2, gateway, -1, SQLITE_STATIC);
        int rc = SQLITE_DONE;
        while (st == AOP_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            if (n == cap) {
                int64_t *more = realloc(ids, (cap = cap ? cap * 2 : 16) * sizeof *ids);
                if (!more) st = aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
                else ids = more;
            }
            if (st == AOP_OK) ids[n++] = sqlite3_column_int64(q, 0);
        }
        if (st == AOP_OK && rc != SQLITE_DONE) st = sq_error(s, rc, err, "legacy entries");
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
    }
    for (size_t i = 0; st == AOP_OK && i < n; i++) {
        /* an unreadable row stays without a MAC: it is never sent, and is listed as unreadable */
        aop_error_t ignored;
        if (get_locked(s, ids[i], true, e, &ignored) != AOP_OK) continue;
        fn(e, ctx);
        st = update(s, e, AOP_WRITE_ACQUIREMENT, SQ_WHERE_EPOCH, e->epoch, e->state, err);
        if (st == AOP_OK) (*sealed)++;
    }
    st = sq_commit(s, st, err);
    if (st == AOP_OK && s->nsealed < sizeof s->sealed / sizeof *s->sealed)
        snprintf(s->sealed[s->nsealed++], sizeof *s->sealed, "%s", gateway);
    if (st != AOP_OK) *sealed = 0;
    sq_unlock(s);
    free(ids);
    free(e);
    return st;
}

static aop_status_t op_prune(void *store, int64_t before_ms, unsigned *removed, aop_error_t *err) {
    sq_t *s = store;
    sq_lock(s);
    sqlite3_stmt *q = sq_stmt(s, SQ_PRUNE);
    sqlite3_bind_int64(q, 1, before_ms);
    int rc = sq_run(q);
    aop_status_t st = rc == SQLITE_OK ? AOP_OK : sq_error(s, rc, err, "prune");
    *removed = st == AOP_OK ? (unsigned)sqlite3_changes(s->db) : 0;
    sq_unlock(s);
    return st;
}

static void op_close(void *store) { sq_free(store); }

const aop_journal_ops_t aop_internal_sqlite_ops = {
    .struct_size = sizeof(aop_journal_ops_t),
    .version = AOP_JOURNAL_OPS_VERSION,
    .flags = AOP_JOURNAL_STORE_THREAD_SAFE,
    .now = op_now,
    .insert = sq_insert,
    .get = op_get,
    .find = op_find,
    .claim = op_claim,
    .renew = op_renew,
    .transition = op_transition,
    .list = op_list,
    .close = op_close,
    .claim_next = op_claim_next,
    .open_payment = op_open_payment,
    .seal_legacy = op_seal_legacy,
    .prune = op_prune,
    .backup = sq_backup,
    .sync = sq_sync,
    .notice_record = sq_notice_record,
    .notice_list = sq_notice_list,
    .notice_mark = sq_notice_mark,
};
