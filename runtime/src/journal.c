/* SPDX-License-Identifier: MIT */
/* The store-independent part of the journal: the handle, argument checks in front of every store
 * (so a store never sees a malformed entry), the table of moves enforced whatever the store, the
 * fallbacks of the optional operations, and closing by hand. Lease owners are in
 * journal_owner.c, time in journal_time.c, MACs in journal_mac.c. */
#include "aop/journal.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/util.h"
#include "journal_internal.h"
#include "journal_time.h"
#include "resolver_rows.h"

#define lock aop_internal_journal_lock
#define unlock aop_internal_journal_unlock
#define HAS AOP_JOURNAL_HAS

/* ---------------------------------------------------------------------------------------------
 * The handle */

aop_status_t aop_journal_open_custom(const aop_journal_ops_t *ops, void *store, aop_journal_t **out,
                                     aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, "out", -1, "out is NULL");
    *out = NULL;
    if (!ops) return aop_error_set(err, AOP_E_INVALID_ARG, "ops", -1, "the store's operations are NULL");
    if (ops->version != AOP_JOURNAL_OPS_VERSION)
        return aop_error_set(err, AOP_E_INVALID_ARG, "ops.version", -1,
                             "the store implements operations version %u; this library calls version %d",
                             ops->version, AOP_JOURNAL_OPS_VERSION);
    size_t required = offsetof(aop_journal_ops_t, close) + sizeof ops->close;
    if (ops->struct_size < required)
        return aop_error_set(err, AOP_E_INVALID_ARG, "ops.struct_size", -1,
                             "ops.struct_size is %zu: the required operations end at %zu", ops->struct_size, required);
    static const char *const names[] = {"now", "insert", "get", "find", "claim", "renew", "transition", "list", "close"};
    const bool present[] = {ops->now, ops->insert, ops->get, ops->find, ops->claim, ops->renew,
                            ops->transition, ops->list, ops->close};
    _Static_assert(sizeof names / sizeof *names == sizeof present / sizeof *present, "a name per operation");
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        if (!present[i])
            return aop_error_setp(err, AOP_E_INVALID_ARG, "ops", names[i], -1, "the store has no %s operation",
                                  names[i]);
    aop_journal_t *j = calloc(1, sizeof *j);
    if (!j) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for the journal");
    if (pthread_mutex_init(&j->mutex, NULL) != 0) {
        free(j);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "no mutex for the journal");
    }
    j->ops = ops;
    j->store = store;
    j->own_lock = !(ops->flags & AOP_JOURNAL_STORE_THREAD_SAFE);
    *out = j;
    return AOP_OK;
}

void aop_journal_close(aop_journal_t *j) {
    if (!j) return;
    j->ops->close(j->store);
    pthread_mutex_destroy(&j->mutex);
    free(j);
}

void aop_journal_filter_init(aop_journal_filter_t *f) {
    if (!f) return;
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    f->which = AOP_LIST_ALL;
}

/* ---------------------------------------------------------------------------------------------
 * Checks in front of the store */

aop_status_t aop_internal_journal_check_text(const char *s, size_t cap, const char *what, const char *name,
                                             bool required, aop_error_t *err) {
    const char *nul = memchr(s, '\0', cap);
    if (!nul)
        return aop_error_setp(err, AOP_E_TOO_LONG, what, name, -1, "%s is not NUL-terminated within %zu bytes", name,
                              cap);
    if (required && nul == s) return aop_error_setp(err, AOP_E_EMPTY, what, name, -1, "%s is empty", name);
    return AOP_OK;
}

#define CHECK_TEXT(e, m, req) AOP_JOURNAL_CHECK_TEXT("entry", e, m, req)

static aop_status_t check_entry(const aop_journal_entry_t *e, aop_error_t *err) {
    if (e->kind != AOP_ENTRY_PAYMENT && e->kind != AOP_ENTRY_REFUND)
        return aop_error_set(err, AOP_E_BAD_ENUM, "entry.kind", -1, "kind %d is neither PAYMENT (1) nor REFUND (2)",
                             (int)e->kind);
    if (!aop_entry_state_valid(e->state))
        return aop_error_set(err, AOP_E_BAD_ENUM, "entry.state", -1, "state %d is no entry state", (int)e->state);
    CHECK_TEXT(e, function, true);
    CHECK_TEXT(e, merchant_id, true);
    CHECK_TEXT(e, key, true);
    CHECK_TEXT(e, payment_acquirement_id, false);
    CHECK_TEXT(e, amount, false);
    CHECK_TEXT(e, currency, false);
    CHECK_TEXT(e, gateway, true);
    CHECK_TEXT(e, client_id, false);
    CHECK_TEXT(e, last_status, false);
    CHECK_TEXT(e, last_code, false);
    CHECK_TEXT(e, acquirement_id, false);
    CHECK_TEXT(e, lease_owner, false);
    CHECK_TEXT(e, note, false);
    CHECK_TEXT(e, clock_id, false);
    CHECK_TEXT(e, key_id, false);
    CHECK_TEXT(e, mac, false);
    if (e->request_len >= AOP_JOURNAL_REQUEST_MAX)
        return aop_error_set(err, AOP_E_TOO_LONG, "entry.request", -1,
                             "the request is %zu bytes; the journal keeps at most %d", e->request_len,
                             AOP_JOURNAL_REQUEST_MAX - 1);
    if (memchr(e->request, '\0', e->request_len))
        return aop_error_set(err, AOP_E_BAD_UTF8, "entry.request", -1, "the request contains a NUL byte");
    return AOP_OK;
}

static aop_status_t check_handle(aop_journal_t *j, const void *arg, const char *arg_name, aop_error_t *err) {
    aop_error_clear(err);
    if (!j) return aop_error_set(err, AOP_E_INVALID_ARG, "journal", -1, "the journal is NULL");
    if (!arg) return aop_error_set(err, AOP_E_INVALID_ARG, arg_name, -1, "%s is NULL", arg_name);
    return AOP_OK;
}

static aop_status_t check_owner(const char *owner, aop_error_t *err) {
    if (!owner || !*owner || strlen(owner) >= AOP_JOURNAL_OWNER_SIZE)
        return aop_error_set(err, AOP_E_INVALID_ARG, "owner", -1, "the lease owner is %s",
                             !owner ? "NULL" : !*owner ? "empty" : "longer than AOP_JOURNAL_OWNER_SIZE - 1");
    return AOP_OK;
}

static aop_status_t check_ttl(int64_t ttl, bool zero_ok, aop_error_t *err) {
    if (ttl < 0 || (!zero_ok && ttl == 0) || ttl > 86400000LL * 7)
        return aop_error_set(err, AOP_E_INVALID_ARG, "lease_ttl_ms", -1,
                             "a lease lasts %s up to a week, not %lld ms", zero_ok ? "from 0" : "from 1 ms",
                             (long long)ttl);
    return AOP_OK;
}

static aop_status_t now_locked(aop_journal_t *j, aop_journal_now_t *now, aop_error_t *err) {
    memset(now, 0, sizeof *now);
    return j->ops->now(j->store, now, err);
}

/* Whether a live owner holds e now, by the store's clock (a read's lease_held). */
static aop_status_t mark_held(aop_journal_t *j, aop_journal_entry_t *e, size_t n, aop_error_t *err) {
    aop_journal_now_t now;
    aop_error_t ignored;
    lock(j);
    aop_status_t st = now_locked(j, &now, err ? err : &ignored);
    unlock(j);
    for (size_t i = 0; st == AOP_OK && i < n; i++)
        e[i].lease_held = !e[i].unreadable && aop_internal_journal_lease_live(&e[i], &now);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * The operations */

aop_status_t aop_journal_now(aop_journal_t *j, aop_journal_now_t *out, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, out, "out", err);
    if (st != AOP_OK) return st;
    lock(j);
    st = now_locked(j, out, err);
    unlock(j);
    return st;
}

aop_status_t aop_journal_insert(aop_journal_t *j, aop_journal_entry_t *e, int64_t lease_ttl_ms,
                                aop_journal_entry_t *existing, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, e, "entry", err);
    if (st != AOP_OK) return st;
    /* Every entry starts the same way whatever the caller left in these members (cancel_sent
     * sits in what was padding for a caller built against libaop 1.0.0). */
    e->state = AOP_STATE_NEW;
    e->epoch = 1;
    e->cancel_sent = false;
    if ((st = check_entry(e, err)) != AOP_OK || (st = check_owner(e->lease_owner, err)) != AOP_OK ||
        (st = check_ttl(lease_ttl_ms, false, err)) != AOP_OK)
        return st;
    e->request[e->request_len] = '\0';
    e->has_request = true;
    lock(j);
    st = j->ops->insert(j->store, e, lease_ttl_ms, existing, err);
    unlock(j);
    assert(st != AOP_OK || e->id > 0); /* the store's contract: an inserted entry has its id */
    if (st == AOP_OK) e->lease_held = true;
    if (st == AOP_E_TAKEN_OVER && existing) (void)mark_held(j, existing, 1, NULL);
    return st;
}

aop_status_t aop_journal_get(aop_journal_t *j, int64_t id, bool with_request, aop_journal_entry_t *out,
                             aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, out, "out", err);
    if (st != AOP_OK) return st;
    lock(j);
    st = j->ops->get(j->store, id, with_request, out, err);
    unlock(j);
    return st == AOP_OK ? mark_held(j, out, 1, err) : st;
}

aop_status_t aop_journal_find(aop_journal_t *j, aop_entry_kind_t kind, const char *gateway,
                              const char *merchant_id, const char *key, aop_journal_entry_t *out,
                              aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, out, "out", err);
    if (st != AOP_OK) return st;
    if (kind != AOP_ENTRY_PAYMENT && kind != AOP_ENTRY_REFUND)
        return aop_error_set(err, AOP_E_BAD_ENUM, "kind", -1, "kind %d is neither PAYMENT (1) nor REFUND (2)",
                             (int)kind);
    const char *args[] = {gateway, merchant_id, key};
    static const char *const names[] = {"gateway", "merchant_id", "key"};
    for (int i = 0; i < 3; i++)
        if (!args[i] || !*args[i])
            return aop_error_set(err, AOP_E_INVALID_ARG, names[i], -1, "%s is %s", names[i],
                                 args[i] ? "empty" : "NULL");
    lock(j);
    st = j->ops->find(j->store, kind, gateway, merchant_id, key, out, err);
    unlock(j);
    return st == AOP_OK ? mark_held(j, out, 1, err) : st;
}

aop_status_t aop_journal_claim(aop_journal_t *j, int64_t id, const char *owner, int64_t lease_ttl_ms,
                               aop_journal_entry_t *out, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, out, "out", err);
    if (st != AOP_OK) return st;
    if ((st = check_owner(owner, err)) != AOP_OK || (st = check_ttl(lease_ttl_ms, false, err)) != AOP_OK) return st;
    lock(j);
    st = j->ops->claim(j->store, id, owner, lease_ttl_ms, out, err);
    unlock(j);
    if (st == AOP_OK) {
        assert(strcmp(out->lease_owner, owner) == 0); /* the claim's contract: the lease is the claimant's */
        out->lease_held = true;
    }
    return st;
}

aop_status_t aop_journal_renew(aop_journal_t *j, aop_journal_entry_t *e, int64_t lease_ttl_ms, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, e, "entry", err);
    if (st != AOP_OK) return st;
    if ((st = check_owner(e->lease_owner, err)) != AOP_OK || (st = check_ttl(lease_ttl_ms, true, err)) != AOP_OK)
        return st;
    int64_t epoch = e->epoch;
    lock(j);
    st = j->ops->renew(j->store, e, lease_ttl_ms, err);
    unlock(j);
    assert(e->epoch == epoch); /* a renewal writes only the lease */
    (void)epoch;
    if (st == AOP_OK) e->lease_held = lease_ttl_ms > 0;
    return st;
}

aop_status_t aop_journal_transition(aop_journal_t *j, aop_journal_entry_t *e, const aop_journal_write_t *w,
                                    aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, e, "entry", err);
    if (st != AOP_OK) return st;
    if (!w) return aop_error_set(err, AOP_E_INVALID_ARG, "write", -1, "the write is NULL");
    if (!aop_entry_state_valid(w->expect_state))
        return aop_error_set(err, AOP_E_BAD_ENUM, "write.expect_state", -1, "state %d is no entry state",
                             (int)w->expect_state);
    if (w->columns & ~AOP_WRITE_ALL)
        return aop_error_set(err, AOP_E_INVALID_ARG, "write.columns", -1, "columns 0x%x name no AOP_WRITE_* group",
                             w->columns & ~AOP_WRITE_ALL);
    if ((st = check_entry(e, err)) != AOP_OK || (st = check_ttl(w->lease_ttl_ms, true, err)) != AOP_OK) return st;
    if (w->watch_in_ms < 0 || w->next_attempt_in_ms < 0)
        return aop_error_set(err, AOP_E_INVALID_ARG, "write", -1, "a due time is never in the past");
    /* a cancel that may have left stays so: a SUCCESS notification would otherwise decide PAID */
    if ((w->columns & AOP_WRITE_CANCEL) && !e->cancel_sent)
        return aop_error_set(err, AOP_E_INVALID_ARG, "entry.cancel_sent", -1, "cancel_sent is never cleared");
    if (!aop_entry_move_allowed(e->kind, w->expect_state, e->state, AOP_MOVER_RESOLVER) &&
        !aop_entry_move_allowed(e->kind, w->expect_state, e->state, AOP_MOVER_HAND))
        return aop_error_set(err, AOP_E_INVALID_ARG, "entry.state", -1, "a %s entry does not go from %s to %s",
                             e->kind == AOP_ENTRY_PAYMENT ? "payment" : "refund",
                             aop_entry_state_name(w->expect_state), aop_entry_state_name(e->state));
    int64_t epoch = e->epoch;
    lock(j);
    st = j->ops->transition(j->store, e, w, err);
    unlock(j);
    assert(e->epoch == (st == AOP_OK ? epoch + 1 : epoch)); /* the compare-and-set moves the epoch on success only */
    (void)epoch;
    if (st == AOP_OK) e->lease_held = w->lease_ttl_ms > 0;
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Lists: page by page, the callback with no lock held and no statement active */

#define PAGE 16

aop_status_t aop_journal_list_ex(aop_journal_t *j, const aop_journal_filter_t *f, aop_journal_each_fn fn, void *ctx,
                                 aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, (const void *)fn, "fn", err);
    if (st != AOP_OK) return st;
    aop_journal_filter_t all;
    aop_journal_filter_init(&all);
    if (f && (f->struct_size == 0 || f->struct_size > sizeof all))
        return aop_error_set(err, AOP_E_INVALID_ARG, "filter.struct_size", -1,
                             "fill the filter with aop_journal_filter_init()");
    if (f) memcpy(&all, f, f->struct_size);
    all.struct_size = sizeof all;
    if (all.which != AOP_LIST_ALL && all.which != AOP_LIST_OPEN && all.which != AOP_LIST_OPEN_OR_WATCH_DUE)
        return aop_error_set(err, AOP_E_BAD_ENUM, "filter.which", -1, "which %d is no aop_list_which_t",
                             (int)all.which);
    aop_journal_entry_t *page = malloc(PAGE * sizeof *page);
    if (!page) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a page of journal entries");
    int64_t after = 0;
    for (bool more = true; more && st == AOP_OK;) {
        size_t n = 0;
        lock(j);
        st = j->ops->list(j->store, &all, after, page, PAGE, &n, err);
        unlock(j);
        if (st == AOP_OK) st = mark_held(j, page, n, err);
        assert(st != AOP_OK || n <= PAGE);
        for (size_t i = 0; st == AOP_OK && more && i < n; i++) {
            assert(page[i].id > after); /* a page is in id order, after the last one */
            after = page[i].id;
            more = fn(&page[i], ctx);
        }
        if (n < PAGE) more = false;
    }
    free(page);
    return st;
}

aop_status_t aop_journal_list(aop_journal_t *j, bool open_only, aop_journal_each_fn fn, void *ctx, aop_error_t *err) {
    aop_journal_filter_t f;
    aop_journal_filter_init(&f);
    f.which = open_only ? AOP_LIST_OPEN : AOP_LIST_ALL;
    return aop_journal_list_ex(j, &f, fn, ctx, err);
}

/* ---------------------------------------------------------------------------------------------
 * The optional operations and their fallbacks */

/* The fallback of claim_next: the due entries by the rows D of docs/resolver.md, claimed in id
 * order until one claim succeeds. */
typedef struct {
    aop_journal_t *j;
    const char *owner;
    int64_t after_id;
    bool due_only;
    int64_t ttl;
    aop_journal_entry_t *out;
    aop_journal_now_t now;
    aop_status_t st;
    aop_error_t *err;
} next_t;

static bool try_claim(const aop_journal_entry_t *e, void *ctx) {
    next_t *x = ctx;
    if (e->unreadable || e->id <= x->after_id) return true;
    rsv_due_facts_t f = {.state = e->state,
                         .watch_due = aop_internal_journal_watch_due(e, &x->now),
                         .held = !aop_internal_journal_claimable(e, x->owner, &x->now),
                         .due_only = x->due_only,
                         .waiting = aop_journal_elapsed_ms(&x->now, e->clock_id, e->next_attempt_ms,
                                                           e->next_attempt_clock_ms) < 0};
    rsv_due_decision_t d;
    rsv_decide_due(&f, &d);
    if (!d.due) return true;
    x->st = aop_journal_claim(x->j, e->id, x->owner, x->ttl, x->out, x->err);
    /* another worker took it (or it went) between the page and the claim: the next one */
    if (x->st == AOP_E_TAKEN_OVER || x->st == AOP_E_MISSING) return true;
    return false;
}

aop_status_t aop_journal_claim_next(aop_journal_t *j, const char *gateway, int64_t after_id, bool due_only,
                                    const char *owner, int64_t lease_ttl_ms, aop_journal_entry_t *out,
                                    aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, out, "out", err);
    if (st != AOP_OK) return st;
    if (!gateway || !*gateway) return aop_error_set(err, AOP_E_INVALID_ARG, "gateway", -1, "the gateway is empty");
    if ((st = check_owner(owner, err)) != AOP_OK || (st = check_ttl(lease_ttl_ms, false, err)) != AOP_OK) return st;
    if (HAS(j->ops, claim_next)) {
        lock(j);
        st = j->ops->claim_next(j->store, gateway, after_id, due_only, owner, lease_ttl_ms, out, err);
        unlock(j);
        if (st == AOP_OK) out->lease_held = true;
        return st;
    }
    next_t x = {j, owner, after_id, due_only, lease_ttl_ms, out, {0}, AOP_E_MISSING, err};
    lock(j);
    st = now_locked(j, &x.now, err);
    unlock(j);
    if (st != AOP_OK) return st;
    aop_journal_filter_t f;
    aop_journal_filter_init(&f);
    f.which = AOP_LIST_OPEN_OR_WATCH_DUE;
    f.gateway = gateway;
    st = aop_journal_list_ex(j, &f, try_claim, &x, err);
    if (st != AOP_OK) return st;
    if (x.st == AOP_E_MISSING || x.st == AOP_E_TAKEN_OVER)
        return aop_error_set(err, AOP_E_MISSING, "gateway", -1, "no entry of this gateway is due");
    return x.st;
}

/* The fallback of open_payment: the open payments of the gateway, read without their requests. */
typedef struct {
    const char *merchant_id, *acquirement_id;
    aop_journal_entry_t *out;
    bool found;
} open_pay_t;

static bool match_open_payment(const aop_journal_entry_t *e, void *ctx) {
    open_pay_t *p = ctx;
    if (e->unreadable || e->kind != AOP_ENTRY_PAYMENT || strcmp(e->merchant_id, p->merchant_id) != 0 ||
        strcmp(e->acquirement_id, p->acquirement_id) != 0)
        return true;
    *p->out = *e;
    p->found = true;
    return false;
}

aop_status_t aop_journal_open_payment(aop_journal_t *j, const char *gateway, const char *merchant_id,
                                      const char *acquirement_id, aop_journal_entry_t *out, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, out, "out", err);
    if (st != AOP_OK) return st;
    const char *args[] = {gateway, merchant_id, acquirement_id};
    static const char *const names[] = {"gateway", "merchant_id", "acquirement_id"};
    for (int i = 0; i < 3; i++)
        if (!args[i] || !*args[i])
            return aop_error_set(err, AOP_E_INVALID_ARG, names[i], -1, "%s is %s", names[i],
                                 args[i] ? "empty" : "NULL");
    if (HAS(j->ops, open_payment)) {
        lock(j);
        st = j->ops->open_payment(j->store, gateway, merchant_id, acquirement_id, out, err);
        unlock(j);
        return st == AOP_OK ? mark_held(j, out, 1, err) : st;
    }
    aop_journal_filter_t f;
    aop_journal_filter_init(&f);
    f.which = AOP_LIST_OPEN;
    f.gateway = gateway;
    open_pay_t p = {merchant_id, acquirement_id, out, false};
    st = aop_journal_list_ex(j, &f, match_open_payment, &p, err);
    if (st == AOP_OK && !p.found)
        st = aop_error_set(err, AOP_E_MISSING, "acquirement_id", -1, "no open payment with acquirementId %s",
                           acquirement_id);
    return st;
}

static void seal_with_key(aop_journal_entry_t *e, void *ctx) { aop_journal_entry_seal(ctx, e); }

aop_status_t aop_journal_seal_legacy(aop_journal_t *j, const char *gateway, const aop_journal_key_t *k,
                                     unsigned *sealed, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, k, "key", err);
    if (st != AOP_OK) return st;
    if (sealed) *sealed = 0;
    if (!gateway || !*gateway) return aop_error_set(err, AOP_E_INVALID_ARG, "gateway", -1, "the gateway is empty");
    if (!HAS(j->ops, seal_legacy)) return AOP_OK; /* a store that never had entries without MACs */
    unsigned n = 0;
    lock(j);
    st = j->ops->seal_legacy(j->store, gateway, seal_with_key, (void *)k, &n, err);
    unlock(j);
    if (sealed) *sealed = n;
    return st;
}

aop_status_t aop_journal_prune(aop_journal_t *j, int64_t before_ms, unsigned *removed, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, j, "journal", err);
    if (st != AOP_OK) return st;
    if (removed) *removed = 0;
    if (!HAS(j->ops, prune))
        return aop_error_set(err, AOP_E_JOURNAL_UNSUPPORTED, "journal", -1, "this journal's store cannot prune");
    unsigned n = 0;
    lock(j);
    st = j->ops->prune(j->store, before_ms, &n, err);
    unlock(j);
    if (removed) *removed = n;
    return st;
}

aop_status_t aop_journal_backup(aop_journal_t *j, const char *path, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, path, "path", err);
    if (st != AOP_OK) return st;
    if (!*path) return aop_error_set(err, AOP_E_INVALID_ARG, "path", -1, "the backup's path is empty");
    if (!HAS(j->ops, backup))
        return aop_error_set(err, AOP_E_JOURNAL_UNSUPPORTED, "journal", -1, "this journal's store cannot back up");
    lock(j);
    st = j->ops->backup(j->store, path, err);
    unlock(j);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Closing by hand */

static aop_status_t check_person_text(const char *s, const char *name, aop_error_t *err) {
    if (!s || !*s) return aop_error_set(err, AOP_E_EMPTY, name, -1, "%s is %s", name, s ? "empty" : "NULL");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return aop_error_set(err, AOP_E_CONTROL_CHAR, name, -1, "%s contains a control character", name);
    return AOP_OK;
}

/* Releases the lease a refused close took, leaving the entry as it was otherwise. */
static void give_back(aop_journal_t *j, aop_journal_entry_t *e) {
    aop_error_t ignored;
    if (aop_journal_renew(j, e, 0, &ignored) != AOP_OK) {
        /* Nothing more to do: the lease expires by itself within CLOSE_LEASE_MS. */
    }
}

/* The lease a hand close takes: long enough for the two short transactions that follow. */
#define CLOSE_LEASE_MS 60000

aop_status_t aop_journal_close_entry(aop_journal_t *j, int64_t id, aop_entry_state_t as, const char *who,
                                     const char *note, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, j, "journal", err);
    if (st != AOP_OK) return st;
    if (!aop_entry_state_final(as))
        return aop_error_set(err, AOP_E_BAD_ENUM, "as", -1,
                             "an entry is closed as PAID, FAILED, CANCELLED or REFUNDED, not as %s",
                             aop_entry_state_name(as));
    if ((st = check_person_text(who, "who", err)) != AOP_OK) return st;
    if ((st = check_person_text(note, "note", err)) != AOP_OK) return st;

    aop_journal_entry_t *e = malloc(sizeof *e);
    if (!e) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a journal entry");
    st = aop_journal_get(j, id, false, e, err);
    if (st == AOP_E_MISSING)
        st = aop_error_set(err, AOP_E_MISSING, "id", -1, "no open journal entry %lld (there is no such entry)",
                           (long long)id);
    if (st == AOP_OK && e->state != AOP_STATE_UNRESOLVED && e->state != AOP_STATE_NEEDS_ATTENTION)
        st = aop_error_set(err, AOP_E_INVALID_ARG, "id", -1,
                           "entry %lld is %s: only UNRESOLVED or NEEDS_ATTENTION entries are closed by hand",
                           (long long)id, aop_entry_state_name(e->state));
    if (st == AOP_OK && !aop_entry_move_allowed(e->kind, e->state, as, AOP_MOVER_HAND))
        st = aop_error_set(err, AOP_E_INVALID_ARG, "as", -1, "a %s entry cannot be closed as %s",
                           e->kind == AOP_ENTRY_PAYMENT ? "payment" : "refund", aop_entry_state_name(as));
    char self[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_self_owner(self);
    /* The claim refuses a live owner's lease (a resolver still working on it). */
    if (st == AOP_OK) st = aop_journal_claim(j, id, self, CLOSE_LEASE_MS, e, err);
    if (st == AOP_OK) {
        aop_entry_state_t was = e->state;
        char when[AOP_RFC3339_SIZE];
        aop_now_rfc3339(when);
        int n = snprintf(e->note, sizeof e->note, "closed by hand as %s by %s at %s: %s", aop_entry_state_name(as),
                         who, when, note);
        if (was != AOP_STATE_UNRESOLVED && was != AOP_STATE_NEEDS_ATTENTION) {
            /* It moved between the read and the claim: give the lease back and refuse. */
            give_back(j, e);
            st = aop_error_set(err, AOP_E_TAKEN_OVER, "id", -1, "entry %lld became %s meanwhile", (long long)id,
                               aop_entry_state_name(was));
        } else if (n < 0 || (size_t)n >= sizeof e->note) {
            give_back(j, e);
            st = aop_error_set(err, AOP_E_TOO_LONG, "note", -1,
                               "who and note are too long together: the record takes %d bytes of %d", n,
                               AOP_JOURNAL_NOTE_SIZE - 1);
        } else {
            e->state = as;
            e->watch = false; /* a person decided: no late query */
            aop_journal_write_t w = {.expect_state = was, .columns = AOP_WRITE_NOTE | AOP_WRITE_WATCH};
            st = aop_journal_transition(j, e, &w, err);
        }
    }
    free(e);
    return st;
}
