/* SPDX-License-Identifier: MIT */
/* The PostgreSQL journal store (libaop-journal-pg.so.0, loaded by aop_journal_open for a
 * postgresql:// URI): many processes on many machines share one journal.
 *
 * - The store's clock is the server's clock_timestamp(): every stamp and every lease is compared
 *   with it, so clients whose wall clocks disagree still agree on leases and on the cancel moment.
 * - Compare-and-set transitions and renewals are single conditional UPDATEs; claims judge the
 *   lease with the library's own rule (a dead owner on this host is free at once) and write with
 *   an UPDATE conditional on the epoch they read; claim_next locks its candidates FOR UPDATE SKIP
 *   LOCKED, so workers on many machines never wait for nor take the same entry.
 * - Inserts commit with synchronous_commit on (durable before the request leaves); later updates
 *   with it off. An insert whose connection broke under it is AOP_E_JOURNAL_UNKNOWN: nothing is
 *   sent, and recovery finds the entry or nothing.
 * - The MAC of every entry is made and checked by the library (journal_mac.c): a database
 *   administrator who edits a row makes an entry the resolver never sends.
 * Operations run on a pool of connections (journal_pg_conn.c), one per thread at a time. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_pg.h"

const aop_journal_host_t *H;

#define SELECT_NOW "WITH n AS MATERIALIZED (SELECT " PG_NOW_SQL " AS ms) "
/* A stamp's due moment on the store's clock: its clock part when it is the server's. */
#define STAMP(col) "(CASE WHEN t.clock_id = '" PG_CLOCK_ID "' THEN t." col "_clock_ms ELSE t." col "_ms END)"

static void set_now(aop_journal_now_t *now, int64_t ms) {
    now->wall_ms = now->clock_ms = ms;
    snprintf(now->clock_id, sizeof now->clock_id, "%s", PG_CLOCK_ID);
}

/* A read on a connection of the pool; a read that found its connection broken is tried once
 * more on a new one (it wrote nothing). */
typedef aop_status_t (*read_fn)(pg_t *s, pg_conn_t *c, void *ctx, aop_error_t *err);

static aop_status_t with_read(pg_t *s, read_fn fn, void *ctx, aop_error_t *err) {
    aop_status_t st = AOP_E_JOURNAL;
    for (int attempt = 0; attempt < 2; attempt++) {
        pg_conn_t *c = NULL;
        if ((st = pg_acquire(s, &c, err)) != AOP_OK) return st;
        st = fn(s, c, ctx, err);
        bool broke = PQstatus(c->c) != CONNECTION_OK;
        pg_release(s, c);
        if (!(st == AOP_E_JOURNAL && broke)) break;
    }
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Reads of one entry */

typedef struct {
    const char *where;
    pg_params_t p;
    bool with_request;
    const char *what;
    aop_journal_entry_t *out;
} one_t;

static aop_status_t select_one(pg_t *s, pg_conn_t *c, void *ctx, aop_error_t *err) {
    one_t *o = ctx;
    char sql[4096];
    snprintf(sql, sizeof sql, "SELECT %s FROM aop_journal t WHERE %s", pg_select_list(o->with_request), o->where);
    PGresult *res = pg_run(s, c, sql, &o->p, PGRES_TUPLES_OK, false, o->what, err);
    if (!res) return err->code;
    aop_status_t st = AOP_E_MISSING;
    if (PQntuples(res) > 0) {
        pg_read(res, 0, 0, o->out, o->with_request);
        st = AOP_OK;
        if (o->out->unreadable)
            st = H->error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: entry %lld cannot be read: %s", s->shown,
                              (long long)o->out->id, o->out->note);
    }
    PQclear(res);
    return st;
}

static aop_status_t get_entry(pg_t *s, int64_t id, bool with_request, aop_journal_entry_t *out, aop_error_t *err) {
    char idt[24];
    snprintf(idt, sizeof idt, "%lld", (long long)id);
    one_t o = {"t.id = $1::bigint", {{idt}, 1}, with_request, "get", out};
    aop_status_t st = with_read(s, select_one, &o, err);
    if (st == AOP_E_MISSING) H->error_set(err, AOP_E_MISSING, "id", -1, "no journal entry %lld", (long long)id);
    return st;
}

static aop_status_t op_get(void *store, int64_t id, bool with_request, aop_journal_entry_t *out, aop_error_t *err) {
    return get_entry(store, id, with_request, out, err);
}

static aop_status_t op_find(void *store, aop_entry_kind_t kind, const char *gateway, const char *merchant_id,
                            const char *key, aop_journal_entry_t *out, aop_error_t *err) {
    char k[8];
    snprintf(k, sizeof k, "%d", (int)kind);
    one_t o = {
               "t.kind = $1::bigint AND t.gateway = $2::text AND t.merchant_id = $3::text AND t.key = $4::text",
               {{k, gateway, merchant_id, key}, 4}, true, "find", out};
    aop_status_t st = with_read(store, select_one, &o, err);
    if (st == AOP_E_MISSING)
        H->error_set(err, AOP_E_MISSING, "journal", -1, "no journal entry for %s %s of merchant %s at gateway %s",
                     kind == AOP_ENTRY_PAYMENT ? "payment" : "refund", key, merchant_id, gateway);
    return st;
}

static aop_status_t op_open_payment(void *store, const char *gateway, const char *merchant_id,
                                    const char *acquirement_id, aop_journal_entry_t *out, aop_error_t *err) {
    one_t o = {
               "t.state NOT IN (" PG_FINAL_STATES ") AND t.kind = 1 AND t.gateway = $1::text AND t.merchant_id = "
               "$2::text AND t.acquirement_id = $3::text ORDER BY t.id LIMIT 1",
               {{gateway, merchant_id, acquirement_id}, 3}, false, "open payment", out};
    aop_status_t st = with_read(store, select_one, &o, err);
    if (st == AOP_E_MISSING)
        H->error_set(err, AOP_E_MISSING, "acquirement_id", -1, "no open payment with acquirementId %s", acquirement_id);
    return st;
}

static aop_status_t read_now(pg_t *s, pg_conn_t *c, void *ctx, aop_error_t *err) {
    PGresult *res = pg_run(s, c, "SELECT " PG_NOW_SQL, NULL, PGRES_TUPLES_OK, false, "now", err);
    if (!res) return err->code;
    set_now(ctx, pg_number(res, 0, 0));
    PQclear(res);
    return AOP_OK;
}

static aop_status_t op_now(void *store, aop_journal_now_t *out, aop_error_t *err) {
    return with_read(store, read_now, out, err);
}

/* ---------------------------------------------------------------------------------------------
 * Writes */

/* The UPDATE of img's columns of mask (rel: those relative to the server's now) where the entry
 * is still at old_epoch (and, for a compare-and-set, in state with owner): AOP_OK with *ms the
 * server's now it used, AOP_E_TAKEN_OVER when no row matched, or the error. */
static aop_status_t update(pg_t *s, pg_conn_t *c, const aop_journal_entry_t *img, unsigned mask, uint64_t rel,
                           pg_where_t where, int64_t old_epoch, aop_entry_state_t state, const char *owner, int64_t *ms,
                           aop_error_t *err) {
    pg_params_t p = {{0}, 0};
    pg_numbers_t nums = {{{0}}, 0};
    for (size_t i = 0; i < H->ncolumns; i++) {
        const aop_journal_column_t *col = &H->columns[i];
        if (pg_written(col, mask) && col->type != AOP_COL_REQUEST) p.v[p.n++] = pg_param(img, col, &nums);
    }
    char id[24], epoch[24], st_text[8];
    snprintf(id, sizeof id, "%lld", (long long)img->id);
    snprintf(epoch, sizeof epoch, "%lld", (long long)old_epoch);
    snprintf(st_text, sizeof st_text, "%d", (int)state);
    p.v[p.n++] = id;
    p.v[p.n++] = epoch;
    if (where == PG_WHERE_CAS) {
        p.v[p.n++] = st_text;
        p.v[p.n++] = owner;
    }
    assert(p.n <= (int)(sizeof p.v / sizeof *p.v));
    static_assert(sizeof(((aop_journal_column_t *)0)->writes) <= sizeof(unsigned), "masks are unsigned");
    char sql[6144];
    pg_update_sql(sql, sizeof sql, mask, rel, where);
    PGresult *res = pg_run(s, c, sql, &p, PGRES_TUPLES_OK, true, "update", err);
    if (!res) return err->code;
    aop_status_t st = PQntuples(res) == 1 ? AOP_OK : AOP_E_TAKEN_OVER;
    if (st == AOP_OK) *ms = pg_number(res, 0, 0);
    PQclear(res);
    return st;
}

/* The columns of mask that stamp writes relative to the store's now: stamped at two moments,
 * those that moved (bit i for column i). */
typedef void (*stamp_fn)(aop_journal_entry_t *img, const aop_journal_now_t *now, const void *arg);

static uint64_t relative_columns(const aop_journal_entry_t *e, unsigned mask, stamp_fn stamp, const void *arg,
                                 aop_journal_entry_t *img0, aop_journal_entry_t *img1) {
    assert(H->ncolumns <= 64); /* a bit per column */
    const size_t head = offsetof(aop_journal_entry_t, request);
    aop_journal_now_t at;
    memcpy(img0, e, head);
    set_now(&at, 0);
    stamp(img0, &at, arg);
    memcpy(img1, e, head);
    set_now(&at, 1LL << 40);
    stamp(img1, &at, arg);
    uint64_t rel = 0;
    for (size_t i = 0; i < H->ncolumns; i++) {
        const aop_journal_column_t *col = &H->columns[i];
        if (col->type == AOP_COL_INT && pg_written(col, mask) && H->get_int(img0, col) != H->get_int(img1, col))
            rel |= 1ULL << i;
    }
    return rel;
}

/* Two entries (the stamps at two moments; their requests are not used), in one allocation of
 * whole entries: a shorter one, cut before the request, is what an optimizer rightly warns of. */
static aop_journal_entry_t *two_heads(void) { return malloc(2 * sizeof(aop_journal_entry_t)); }
#define SECOND(img) ((img) + 1)

typedef struct {
    const aop_journal_write_t *w;
    int64_t ttl;
    bool bump;
} stamp_arg_t;

static void stamp_change(aop_journal_entry_t *img, const aop_journal_now_t *now, const void *arg) {
    const stamp_arg_t *a = arg;
    if (a->w)
        H->stamp_write(img, now, a->w);
    else
        H->stamp_lease(img, now, a->ttl);
    if (a->bump) img->epoch++;
}

static void stamp_insert(aop_journal_entry_t *img, const aop_journal_now_t *now, const void *arg) {
    H->stamp_insert(img, now, *(const int64_t *)arg);
}

/* Tells a compare-and-set that matched nothing apart: no entry, or one that moved on. */
static aop_status_t explain_cas(pg_t *s, const aop_journal_entry_t *e, aop_entry_state_t expect, aop_error_t *err) {
    aop_journal_entry_t *now = malloc(sizeof *now);
    if (!now) return H->error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    aop_status_t st = get_entry(s, e->id, false, now, err);
    if (st == AOP_E_MISSING)
        st = H->error_set(err, AOP_E_MISSING, "entry.id", -1, "no journal entry %lld", (long long)e->id);
    else if (st == AOP_OK)
        st = H->error_set(err, AOP_E_TAKEN_OVER, "entry", -1,
                          "journal entry %lld is %s at epoch %lld leased to \"%.80s\", not %s at epoch %lld leased to "
                          "\"%.80s\": another process took it over", (long long)e->id,
                          H->state_name(now->state), (long long)now->epoch, now->lease_owner,
                          H->state_name(expect), (long long)e->epoch, e->lease_owner);
    free(now);
    return st;
}

static aop_status_t cas_write(pg_t *s, aop_journal_entry_t *e, unsigned mask, aop_entry_state_t expect,
                              const stamp_arg_t *a, aop_error_t *err) {
    aop_journal_entry_t *img = two_heads();
    if (!img) return H->error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    uint64_t rel = relative_columns(e, mask, stamp_change, a, img, SECOND(img));
    pg_conn_t *c = NULL;
    int64_t ms = 0;
    aop_status_t st = pg_acquire(s, &c, err);
    if (st == AOP_OK) {
        st = update(s, c, img, mask, rel, PG_WHERE_CAS, e->epoch, expect, e->lease_owner, &ms, err);
        pg_release(s, c);
    }
    free(img);
    if (st == AOP_E_TAKEN_OVER) return explain_cas(s, e, expect, err);
    if (st != AOP_OK) return st;
    aop_journal_now_t now;
    set_now(&now, ms);
    stamp_change(e, &now, a); /* the stamps the statement wrote, from the same reading */
    return AOP_OK;
}

static aop_status_t op_renew(void *store, aop_journal_entry_t *e, int64_t lease_ttl_ms, aop_error_t *err) {
    stamp_arg_t a = {NULL, lease_ttl_ms, false};
    return cas_write(store, e, AOP_COLW_RENEW, e->state, &a, err);
}

static aop_status_t op_transition(void *store, aop_journal_entry_t *e, const aop_journal_write_t *w,
                                  aop_error_t *err) {
    stamp_arg_t a = {w, 0, true};
    return cas_write(store, e, AOP_COLW_TRANSITION | w->columns, w->expect_state, &a, err);
}

static aop_status_t op_insert(void *store, aop_journal_entry_t *e, int64_t lease_ttl_ms, aop_journal_entry_t *existing,
                              aop_error_t *err) {
    pg_t *s = store;
    aop_journal_entry_t *img = two_heads();
    if (!img) return H->error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    uint64_t rel = relative_columns(e, AOP_COLW_INSERT, stamp_insert, &lease_ttl_ms, img, SECOND(img));
    pg_params_t p = {{0}, 0};
    pg_numbers_t nums = {{{0}}, 0};
    for (size_t i = 0; i < H->ncolumns; i++)
        p.v[p.n++] = H->columns[i].type == AOP_COL_REQUEST ? e->request : pg_param(img, &H->columns[i], &nums);
    char sql[6144];
    pg_insert_sql(sql, sizeof sql, rel);
    pg_conn_t *c = NULL;
    aop_status_t st = pg_acquire(s, &c, err);
    PGresult *res = NULL;
    if (st == AOP_OK) {
        res = pg_run(s, c, sql, &p, PGRES_TUPLES_OK, true, "insert", err);
        pg_release(s, c);
        if (!res) st = err->code;
    }
    free(img);
    if (st != AOP_OK) {
        e->id = 0;
        return st;
    }
    bool inserted = PQntuples(res) == 1;
    if (inserted) {
        aop_journal_now_t now;
        set_now(&now, pg_number(res, 0, 1));
        H->stamp_insert(e, &now, lease_ttl_ms);
        e->id = pg_number(res, 0, 0);
    }
    PQclear(res);
    if (inserted) return AOP_OK;
    aop_status_t taken = H->error_set(err, AOP_E_TAKEN_OVER, "journal", -1,
                                      "journal %s: there is an entry for %s %s of merchant %s at gateway %s already",
                                      s->shown, e->kind == AOP_ENTRY_PAYMENT ? "payment" : "refund", e->key,
                                      e->merchant_id, e->gateway);
    if (!existing) return taken;
    aop_error_t ferr;
    st = op_find(s, e->kind, e->gateway, e->merchant_id, e->key, existing, &ferr);
    if (st == AOP_OK) return taken;
    return H->error_set(err, st == AOP_E_MISSING ? AOP_E_JOURNAL : st, "journal", -1, "%s",
                        st == AOP_E_MISSING ? "the insert found the key taken, yet no entry holds it" : ferr.msg);
}

/* ---------------------------------------------------------------------------------------------
 * Claims */

/* Claims the entry read into out (with its request) at the server's now, when its lease is free
 * for owner, by an UPDATE conditional on the epoch read. */
static aop_status_t claim_read(pg_t *s, pg_conn_t *c, const char *owner, int64_t ttl, const aop_journal_now_t *now,
                               aop_journal_entry_t *out, bool *raced, aop_error_t *err) {
    if (!H->claimable(out, owner, now))
        return H->error_set(err, AOP_E_TAKEN_OVER, "id", -1,
                            "journal entry %lld is leased to %s, which is running, for %lld ms more", (long long)out->id,
                            out->lease_owner,
                            (long long)-H->elapsed_ms(now, out->clock_id, out->lease_expires_ms,
                                                      out->lease_expires_clock_ms));
    int64_t old_epoch = out->epoch, ms = 0;
    H->rebase(out, now);
    snprintf(out->lease_owner, sizeof out->lease_owner, "%s", owner);
    H->stamp_lease(out, now, ttl);
    out->updated_ms = now->wall_ms;
    out->epoch++;
    aop_status_t st = update(s, c, out, AOP_COLW_CLAIM, 0, PG_WHERE_EPOCH, old_epoch, out->state, NULL, &ms, err);
    *raced = st == AOP_E_TAKEN_OVER;
    return st;
}

typedef struct {
    int64_t id;
    const char *owner;
    int64_t ttl;
    aop_journal_entry_t *out;
    bool raced; /* another claim wrote between our read and our write */
} claim_t;

static aop_status_t claim_once(pg_t *s, pg_conn_t *c, void *ctx, aop_error_t *err) {
    claim_t *a = ctx;
    char sql[4096], idt[24];
    snprintf(sql, sizeof sql, SELECT_NOW "SELECT %s, n.ms FROM aop_journal t, n WHERE t.id = $1::bigint",
             pg_select_list(true));
    snprintf(idt, sizeof idt, "%lld", (long long)a->id);
    pg_params_t p = {{idt}, 1};
    PGresult *res = pg_run(s, c, sql, &p, PGRES_TUPLES_OK, false, "claim", err);
    if (!res) return err->code;
    aop_status_t st = AOP_OK;
    if (PQntuples(res) == 0) {
        st = H->error_set(err, AOP_E_MISSING, "id", -1, "no journal entry %lld", (long long)a->id);
    } else {
        pg_read(res, 0, 0, a->out, true);
        aop_journal_now_t now;
        set_now(&now, pg_number(res, 0, 1 + (int)H->ncolumns));
        if (a->out->unreadable)
            st = H->error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: entry %lld cannot be read: %s", s->shown,
                              (long long)a->id, a->out->note);
        else
            st = claim_read(s, c, a->owner, a->ttl, &now, a->out, &a->raced, err);
    }
    PQclear(res);
    return st;
}

static aop_status_t op_claim(void *store, int64_t id, const char *owner, int64_t lease_ttl_ms,
                             aop_journal_entry_t *out, aop_error_t *err) {
    claim_t a = {id, owner, lease_ttl_ms, out, false};
    aop_status_t st = AOP_OK;
    /* Another claim between our read and our write moves the epoch: read and judge again (its
     * lease is live by then, and this claim is refused naming its owner). The claim writes only
     * after its read: a connection found broken by the read is tried again on a new one. */
    for (int attempt = 0; attempt < 3; attempt++) {
        a.raced = false;
        st = with_read(store, claim_once, &a, err);
        if (!a.raced) return st;
    }
    return H->error_set(err, AOP_E_TAKEN_OVER, "id", -1, "journal entry %lld is being claimed by others", (long long)id);
}

/* The candidates of claim_next, read a few at a time without a lock: open and not left to a
 * person, or final with a due watch; a lease that may be free (no owner, ours, expired, or an
 * owner on this host, whose death the library can tell); with due_only, its next attempt passed.
 * The library's rows D decide among them; the one they take is then locked, skipping it when
 * another transaction holds it (FOR UPDATE SKIP LOCKED: another worker claiming it), read again,
 * judged again and claimed by an UPDATE conditional on its epoch. Only that row is locked: a scan
 * that locked its candidates would hold the rows other workers are resolving (their owners on
 * this host pass the filter) and stall their writes behind it. */
#define NEXT_BATCH 16

static void next_sql(char *sql, size_t cap, bool due_only) {
    snprintf(sql, cap,
             SELECT_NOW "SELECT %s, n.ms FROM aop_journal t, n WHERE t.gateway = $1::text AND t.id > $2::bigint AND "
             "t.state <> 7 AND (t.state NOT IN (" PG_FINAL_STATES ") OR (t.watch AND " STAMP("watch_due") " <= n.ms)) "
             "AND (t.lease_owner = '' OR t.lease_owner = $3::text OR starts_with(t.lease_owner, $4::text) OR "
             STAMP("lease_expires") " <= n.ms)%s ORDER BY t.id LIMIT %d",
             pg_select_list(false), /* lock_candidate reads the one taken with its request */
             due_only ? " AND (t.state IN (" PG_FINAL_STATES ") OR " STAMP("next_attempt") " <= n.ms)" : "", NEXT_BATCH);
}

/* Whether the rows D take entry e (read at now) for owner. */
static bool due_for(const aop_journal_entry_t *e, const char *owner, const aop_journal_now_t *now, bool due_only) {
    rsv_due_facts_t facts = {.state = e->state,
                             .watch_due = H->watch_due(e, now),
                             .held = !H->claimable(e, owner, now),
                             .due_only = due_only,
                             .waiting = H->elapsed_ms(now, e->clock_id, e->next_attempt_ms, e->next_attempt_clock_ms) < 0};
    rsv_due_decision_t d;
    H->decide_due(&facts, &d);
    return d.due;
}

/* Locks candidate id (none when another transaction holds it), reads it again into out with the
 * server's now: *got says whether it is there and still due. */
static aop_status_t lock_candidate(pg_t *s, pg_conn_t *c, int64_t id, const char *owner, bool due_only,
                                   aop_journal_entry_t *out, aop_journal_now_t *now, bool *got, aop_error_t *err) {
    char sql[4096], idt[24];
    snprintf(sql, sizeof sql, SELECT_NOW "SELECT %s, n.ms FROM aop_journal t, n WHERE t.id = $1::bigint FOR UPDATE OF t "
             "SKIP LOCKED", pg_select_list(true));
    snprintf(idt, sizeof idt, "%lld", (long long)id);
    pg_params_t p = {{idt}, 1};
    PGresult *res = pg_run(s, c, sql, &p, PGRES_TUPLES_OK, false, "lock the next entry", err);
    if (!res) return err->code;
    *got = false;
    if (PQntuples(res) == 1) {
        pg_read(res, 0, 0, out, true);
        set_now(now, pg_number(res, 0, 1 + (int)H->ncolumns));
        *got = !out->unreadable && due_for(out, owner, now, due_only);
    }
    PQclear(res);
    return AOP_OK;
}

static aop_status_t op_claim_next(void *store, const char *gateway, int64_t after_id, bool due_only, const char *owner,
                                  int64_t lease_ttl_ms, aop_journal_entry_t *out, aop_error_t *err) {
    pg_t *s = store;
    pg_conn_t *c = NULL;
    aop_status_t st = pg_acquire(s, &c, err);
    if (st != AOP_OK) return st;
    PGresult *res = PQexec(c->c, "BEGIN");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) st = pg_error(s, c, res, false, "begin", err);
    PQclear(res);
    char sql[6144], after[24];
    next_sql(sql, sizeof sql, due_only);
    bool found = false, more = true;
    while (st == AOP_OK && !found && more) {
        snprintf(after, sizeof after, "%lld", (long long)after_id);
        pg_params_t p = {{gateway, after, owner, s->local_prefix}, 4};
        res = pg_run(s, c, sql, &p, PGRES_TUPLES_OK, false, "claim the next entry", err);
        if (!res) {
            st = err->code;
            break;
        }
        int n = PQntuples(res);
        more = n == NEXT_BATCH;
        for (int i = 0; i < n && !found && st == AOP_OK; i++) {
            pg_read(res, i, 0, out, false);
            after_id = out->id;
            if (out->unreadable) continue;
            aop_journal_now_t now;
            set_now(&now, pg_number(res, i, 1 + (int)H->ncolumns));
            if (!due_for(out, owner, &now, due_only)) continue;
            st = lock_candidate(s, c, after_id, owner, due_only, out, &now, &found, err);
            if (st != AOP_OK || !found) continue;
            bool raced = false;
            st = claim_read(s, c, owner, lease_ttl_ms, &now, out, &raced, err);
            if (st == AOP_E_TAKEN_OVER) /* the row is locked by us: nothing else can have moved it */
                st = H->error_set(err, AOP_E_JOURNAL, "journal", -1, "journal %s: entry %lld changed under its lock",
                                  s->shown, (long long)out->id);
        }
        PQclear(res);
    }
    res = PQexec(c->c, st == AOP_OK && found ? "COMMIT" : "ROLLBACK");
    if (st == AOP_OK && found && PQresultStatus(res) != PGRES_COMMAND_OK)
        st = pg_error(s, c, res, true, "commit the claim", err);
    PQclear(res);
    pg_release(s, c);
    if (st == AOP_OK && !found) st = H->error_set(err, AOP_E_MISSING, "gateway", -1, "no entry of this gateway is due");
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Lists and pruning */

typedef struct {
    const aop_journal_filter_t *f;
    int64_t after;
    aop_journal_entry_t *page;
    size_t cap, *n;
} list_t;

static aop_status_t list_page(pg_t *s, pg_conn_t *c, void *ctx, aop_error_t *err) {
    list_t *l = ctx;
    const aop_journal_filter_t *f = l->f;
    const char *which = f->which == AOP_LIST_OPEN ? " AND t.state NOT IN (" PG_FINAL_STATES ")"
                        : f->which == AOP_LIST_OPEN_OR_WATCH_DUE
                            ? " AND (t.state NOT IN (" PG_FINAL_STATES ") OR (t.watch AND " STAMP("watch_due") " <= n.ms))"
                            : "";
    char sql[6144], after[24], cap[24];
    snprintf(sql, sizeof sql, SELECT_NOW "SELECT %s FROM aop_journal t, n WHERE t.id > $1::bigint%s%s ORDER BY t.id LIMIT $2::bigint",
             pg_select_list(f->with_request), f->gateway ? " AND t.gateway = $3::text" : "", which);
    snprintf(after, sizeof after, "%lld", (long long)l->after);
    snprintf(cap, sizeof cap, "%zu", l->cap);
    pg_params_t p = {{after, cap, f->gateway}, f->gateway ? 3 : 2};
    PGresult *res = pg_run(s, c, sql, &p, PGRES_TUPLES_OK, false, "list", err);
    if (!res) return err->code;
    size_t n = (size_t)PQntuples(res);
    for (size_t i = 0; i < n && i < l->cap; i++) pg_read(res, (int)i, 0, &l->page[i], f->with_request);
    *l->n = n < l->cap ? n : l->cap;
    PQclear(res);
    return AOP_OK;
}

static aop_status_t op_list(void *store, const aop_journal_filter_t *f, int64_t after_id, aop_journal_entry_t *page,
                            size_t cap, size_t *n, aop_error_t *err) {
    *n = 0;
    list_t l = {f, after_id, page, cap, n};
    return with_read(store, list_page, &l, err);
}

static aop_status_t op_prune(void *store, int64_t before_ms, unsigned *removed, aop_error_t *err) {
    pg_t *s = store;
    pg_conn_t *c = NULL;
    aop_status_t st = pg_acquire(s, &c, err);
    if (st != AOP_OK) return st;
    char before[24];
    snprintf(before, sizeof before, "%lld", (long long)before_ms);
    pg_params_t p = {{before}, 1};
    /* never an open entry, never a watch (due or not) */
    PGresult *res = pg_run(s, c,
                           "DELETE FROM aop_journal WHERE state IN (" PG_FINAL_STATES ") AND NOT watch AND updated_ms < "
                           "$1::bigint", &p, PGRES_COMMAND_OK, true, "prune", err);
    pg_release(s, c);
    if (!res) return err->code;
    *removed = (unsigned)strtoul(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return AOP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The store */

static void op_close(void *store) {
    pg_t *s = store;
    if (!s) return;
    pg_pool_free(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const aop_journal_ops_t pg_ops = {
    .struct_size = sizeof(aop_journal_ops_t),
    .version = AOP_JOURNAL_OPS_VERSION,
    .flags = AOP_JOURNAL_STORE_THREAD_SAFE, /* a connection per thread (journal_pg_conn.c) */
    .now = op_now,
    .insert = op_insert,
    .get = op_get,
    .find = op_find,
    .claim = op_claim,
    .renew = op_renew,
    .transition = op_transition,
    .list = op_list,
    .close = op_close,
    .claim_next = op_claim_next,
    .open_payment = op_open_payment,
    .prune = op_prune,
    .sync = pg_sync,
    .notice_record = pg_notice_record,
    .notice_list = pg_notice_list,
    .notice_mark = pg_notice_mark,
    /* backup: pg_dump's (or the server's own) job; seal_legacy: no entry here predates MACs */
};

/* "host/boot-id/pid-namespace/" of this process's owner text: the owners whose death this host
 * can tell (aop_journal_owner_dead). */
static void local_prefix(char *out, size_t cap) {
    char self[AOP_JOURNAL_OWNER_SIZE];
    H->self_owner(self);
    size_t n = 0;
    for (int slashes = 0; self[n] && slashes < 3; n++)
        if (self[n] == '/') slashes++;
    snprintf(out, cap, "%.*s", (int)n, self);
}

__attribute__((visibility("default"))) aop_status_t aop_journal_module_pg_open(const aop_journal_host_t *host,
                                                                               const char *uri, aop_journal_t **out,
                                                                               aop_error_t *err);

aop_status_t aop_journal_module_pg_open(const aop_journal_host_t *host, const char *uri, aop_journal_t **out,
                                        aop_error_t *err) {
    if (!host || host->abi != AOP_JOURNAL_HOST_ABI || host->struct_size < sizeof *host) {
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = AOP_E_CONFIG;
            snprintf(err->msg, sizeof err->msg, "%s was built for another libaop", AOP_JOURNAL_PG_MODULE);
        }
        return AOP_E_CONFIG;
    }
    static_assert(sizeof(aop_journal_host_t) > offsetof(aop_journal_host_t, notice_read), "the table's last member");
    H = host;
    *out = NULL;
    pg_t *s = calloc(1, sizeof *s);
    if (!s) return H->error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for the journal");
    H->uri_redact(uri, s->shown, sizeof s->shown);
    if (strlen(uri) >= sizeof s->uri) {
        aop_status_t st = H->error_set(err, AOP_E_TOO_LONG, "uri", -1, "the journal's URI %.80s... is longer than %d bytes",
                                       s->shown, PG_URI_MAX - 1);
        free(s);
        return st;
    }
    snprintf(s->uri, sizeof s->uri, "%s", uri);
    local_prefix(s->local_prefix, sizeof s->local_prefix);
    if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->cv, NULL) != 0) {
        free(s);
        return H->error_set(err, AOP_E_NOMEM, NULL, -1, "no mutex for the journal");
    }
    pg_conn_t *c = NULL;
    aop_status_t st = pg_acquire(s, &c, err);
    if (st == AOP_OK) {
        st = pg_migrate(s, c, err);
        pg_release(s, c);
    }
    if (st == AOP_OK) st = H->open_custom(&pg_ops, s, out, err);
    if (st != AOP_OK) op_close(s);
    return st;
}
