/* SPDX-License-Identifier: MIT */
/* Alipay's payment notifications applied to the journal (docs/resolver.md, rows N): recording a
 * verified one, and applying the recorded ones, by the entry's lease holder while it waits
 * (rsv_check_notices) or, for an entry nobody holds, by whoever calls aop_notices_apply() (the
 * receiver). Either way the stored body is verified again first: the table holds facts anyone
 * could have written, and only Alipay's signature makes one count. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/util.h"
#include "client_internal.h"
#include "resolver_internal.h"

/* ---- recording ---------------------------------------------------------------------------------- */

/* The merchantId an entry of n was journaled with: the body's, or the client's default (the
 * 2.0.0 body has none, and the payer's client filled its own in). */
static void merchant_of(const aop_client_t *c, const aop_notify_pay_request_body_t *b, char *out, size_t cap) {
    if (b->merchant_id.ptr)
        rsv_copy(out, cap, b->merchant_id);
    else
        snprintf(out, cap, "%s", aop_internal_client_merchant_id(c));
}

aop_status_t aop_notice_record(aop_client_t *c, aop_journal_t *j, const aop_notification_t *n,
                               aop_journal_notice_t *stored, bool *inserted, aop_error_t *err) {
    aop_error_clear(err);
    if (inserted) *inserted = false;
    if (!c || !j || !n || !n->request) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    if (n->body.len >= AOP_JOURNAL_NOTICE_BODY_MAX)
        return aop_error_set(err, AOP_E_TOO_LONG, "notification", -1, "the notification's body is over %d bytes",
                             AOP_JOURNAL_NOTICE_BODY_MAX - 1);
    /* two rows of about 17 KiB: not on a receiver thread's stack */
    aop_journal_notice_t *row = calloc(2, sizeof *row);
    if (!row) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    const aop_notify_pay_request_body_t *b = &n->request->body;
    aop_internal_client_gateway(c, row->gateway);
    merchant_of(c, b, row->merchant_id, sizeof row->merchant_id);
    rsv_copy(row->key, sizeof row->key, b->merchant_trans_id);
    row->result_status[0] = n->status;
    rsv_copy(row->result_code, sizeof row->result_code, b->result_info.result_code);
    row->received_ms = n->received_ms;
    row->body_len = n->body.len;
    memcpy(row->body, n->body.ptr, n->body.len);
    row->state = AOP_NOTICE_PENDING;
    bool ins = false;
    aop_status_t st = aop_journal_notice_record(j, row, &row[1], &ins, err);
    if (st == AOP_OK && stored) {
        memcpy(stored, &row[1], offsetof(aop_journal_notice_t, body));
        stored->body_len = 0;
        stored->body[0] = '\0';
        memcpy((char *)stored + offsetof(aop_journal_notice_t, deliveries),
               (const char *)&row[1] + offsetof(aop_journal_notice_t, deliveries),
               sizeof *stored - offsetof(aop_journal_notice_t, deliveries));
    }
    if (inserted) *inserted = st == AOP_OK && ins;
    free(row);
    return st;
}

/* ---- judging ------------------------------------------------------------------------------------ */

/* The stored body verified again at its receipt time; NULL when it does not verify (why in err).
 * Running out of memory on the way says nothing of the body: see undecided(). */
static aop_notification_t *verify_again(aop_client_t *c, const aop_journal_notice_t *n, aop_error_t *err) {
    aop_notify_config_t cfg;
    aop_internal_client_notify_config(c, &cfg);
    aop_notify_receiver_t *rc = NULL;
    aop_notification_t *v = NULL;
    if (aop_notify_receiver_new(&cfg, &rc, err) == AOP_OK &&
        aop_notify_receive(rc, n->body, n->body_len, n->received_ms, &v, err) == AOP_OK) {
        /* the row's key must be the body's: a row whose key was edited names another payment */
        const aop_notify_pay_request_body_t *b = &v->request->body;
        char merchant[AOP_JOURNAL_ID_SIZE];
        merchant_of(c, b, merchant, sizeof merchant);
        if (!aop_str_eq_cstr(b->merchant_trans_id, n->key) || strcmp(merchant, n->merchant_id) ||
            v->status != n->result_status[0] || !aop_str_eq_cstr(b->result_info.result_code, n->result_code)) {
            aop_error_set(err, AOP_E_CONTRADICTION, "notice", -1, "the row's key is not its signed body's");
            aop_notification_free(v);
            v = NULL;
        }
    }
    aop_notify_receiver_free(rc);
    return v;
}

/* Whether verify_again() failed for a reason of this process, not of the body: the row stays
 * PENDING (a later pass verifies it again), it is not refused for good. */
static bool undecided(const aop_notification_t *v, const aop_error_t *err) {
    return !v && (err->code == AOP_E_NOMEM || err->code == AOP_E_INTERNAL);
}

/* The facts of the notification v (NULL: it did not verify) for entry e (NULL: none). */
static void judge(const aop_notification_t *v, const aop_journal_entry_t *e, rsv_notice_decision_t *d) {
    rsv_notice_facts_t f = {.verified = v != NULL, .found = e != NULL};
    if (v && e) {
        const aop_notify_pay_request_body_t *b = &v->request->body;
        f.status = v->status;
        f.state = e->state;
        f.cancel_sent = e->cancel_sent;
        f.has_amount = b->has_order_amount;
        f.other_amount = b->has_order_amount && (!aop_str_eq_cstr(b->order_amount.value, e->amount) ||
                                                 !aop_str_eq_cstr(b->order_amount.currency, e->currency));
        f.other_acquirement = e->acquirement_id[0] && b->acquirement_id.ptr &&
                              !aop_str_eq_cstr(b->acquirement_id, e->acquirement_id);
    }
    rsv_decide_notice(&f, d);
}

/* Marks the notification as the row decided (a mark lost or refused is harmless: applying it
 * again decides the same, or another applier got there first). */
static void mark(aop_journal_t *j, aop_journal_notice_t *n, const rsv_notice_decision_t *d, int64_t entry_id,
                 const char *what) {
    aop_notice_state_t to = d->action == RSV_NOTICE_REFUSE     ? AOP_NOTICE_REFUSED
                            : d->action == RSV_NOTICE_NO_ENTRY ? AOP_NOTICE_NO_ENTRY
                                                               : AOP_NOTICE_APPLIED;
    char note[AOP_JOURNAL_NOTE_SIZE];
    snprintf(note, sizeof note, "%s: %s%s%s", d->row, d->reason, what ? "; " : "", what ? what : "");
    aop_error_t err;
    if (aop_journal_notice_mark(j, n->id, AOP_NOTICE_PENDING, to, entry_id, note, &err) == AOP_OK) {
        n->state = to;
        n->entry_id = entry_id;
        snprintf(n->note, sizeof n->note, "%s", note);
    }
}

/* Writes what row N9 decides into the claimed entry r->e: PAID, by the notification, with its
 * acquirementId trusted from now on. */
static void decide_paid(rsv_t *r, const aop_notification_t *v, const rsv_notice_decision_t *d) {
    aop_journal_entry_t *e = &r->e;
    aop_str_t acq = v->request->body.acquirement_id;
    if (!e->acquirement_id[0] && acq.ptr && acq.len > 0 && acq.len < sizeof e->acquirement_id) {
        rsv_copy(e->acquirement_id, sizeof e->acquirement_id, acq);
        aop_journal_entry_seal(&r->key, e); /* the trusted id is MACed with the rest */
        r->dirty |= AOP_WRITE_ACQUIREMENT;
    }
    e->acknowledged = true;
    snprintf(e->last_status, sizeof e->last_status, "SUCCESS");
    snprintf(e->last_code, sizeof e->last_code, "SUCCESS");
    r->dirty |= AOP_WRITE_CALL;
    snprintf(r->res->row, sizeof r->res->row, "%s", d->row);
    rsv_finish(r, AOP_OUTCOME_PAID, &aop_fn_notify_pay, "%s", d->reason);
}

/* ---- the lease holder's check ------------------------------------------------------------------- */

typedef struct {
    aop_journal_notice_t *rows;
    size_t n, cap;
    int64_t after;
} pending_t;

static bool collect(const aop_journal_notice_t *n, void *ctx) {
    pending_t *p = ctx;
    if (n->id <= p->after) return true; /* passed already (left PENDING for its holder) */
    if (p->n == p->cap) return false;   /* the rest at the next page */
    p->rows[p->n++] = *n;
    return true;
}

/* Up to cap PENDING notifications of (gateway, key) after id after, with their bodies, in *out
 * (*count of them; NULL when none). */
static aop_status_t pending_of(aop_journal_t *j, const char *gateway, const char *key, int64_t after, size_t cap,
                               aop_journal_notice_t **out, size_t *count, aop_error_t *err) {
    *out = NULL;
    *count = 0;
    pending_t p = {calloc(cap, sizeof(aop_journal_notice_t)), 0, cap, after};
    if (!p.rows) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for the pending notifications");
    aop_journal_notice_filter_t f;
    aop_journal_notice_filter_init(&f);
    f.gateway = gateway;
    f.key = key;
    f.state = AOP_NOTICE_PENDING;
    f.with_body = true;
    aop_status_t st = aop_journal_notice_list(j, &f, collect, &p, err);
    if (st != AOP_OK || p.n == 0) {
        free(p.rows);
        return st;
    }
    *out = p.rows;
    *count = p.n;
    return AOP_OK;
}

bool rsv_check_notices(rsv_t *r) {
    if (r->e.kind != AOP_ENTRY_PAYMENT || r->e.id <= 0 || r->journal_lost) return false;
    size_t count = 0;
    aop_journal_notice_t *rows = NULL;
    aop_error_t err;
    /* a failure to list is the next check's: this one is only sooner than the next query */
    (void)pending_of(r->j, r->e.gateway, r->e.key, 0, 4, &rows, &count, &err);
    bool wake = false;
    for (size_t i = 0; i < count && !wake; i++) {
        aop_journal_notice_t *n = &rows[i];
        /* another merchantId's payment of the same merchantTransId is not this entry's (nor is
         * its row this holder's to verify or refuse) */
        if (strcmp(n->merchant_id, r->e.merchant_id) != 0) continue;
        aop_notification_t *v = verify_again(r->c, n, &err);
        if (undecided(v, &err)) continue;
        rsv_notice_decision_t d;
        judge(v, &r->e, &d);
        switch (d.action) {
        /* the entry first, then the mark: a mark lost in between leaves the row PENDING, and
         * applying it again to the final entry decides nothing more (row N6) */
        case RSV_NOTICE_PAID:
            decide_paid(r, v, &d);
            if (!r->journal_lost) mark(r->j, n, &d, r->e.id, NULL);
            r->notice_decided = wake = true;
            break;
        case RSV_NOTICE_ATTENTION:
            snprintf(r->res->row, sizeof r->res->row, "%s", d.row);
            rsv_finish(r, AOP_OUTCOME_NEEDS_ATTENTION, NULL, "%s", d.reason);
            if (!r->journal_lost) mark(r->j, n, &d, r->e.id, NULL);
            r->notice_decided = wake = true;
            break;
        case RSV_NOTICE_QUERY_NOW:
        case RSV_NOTICE_WATCH_NOW:
            mark(r->j, n, &d, r->e.id, "the lease holder's next query is due now");
            /* only a query (or the watch's) moves to now: a cancel keeps its moment */
            wake = r->waiting_for == RSV_QUERY || r->waiting_for == RSV_LAST_QUERY || r->waiting_for == RSV_WATCH;
            if (wake) r->next_at_ms = aop_mono_ms();
            break;
        default: mark(r->j, n, &d, r->e.id, NULL); break;
        }
        aop_notification_free(v);
    }
    free(rows);
    if (r->journal_lost) r->notice_decided = wake = true;
    return wake;
}

/* ---- an entry nobody holds: the caller of aop_notices_apply() decides it ------------------------- */

typedef struct {
    aop_client_t *c;
    aop_journal_t *j;
    const aop_resolve_options_t *opts;
    aop_notice_fn fn;
    void *ctx;
    unsigned pending;
    bool queries; /* make the queries rows N5, N8, N10 ask for, or leave them due now */
    char gateway[AOP_JOURNAL_GATEWAY_SIZE];
} apply_t;

/* Runs what the row asks of the claimed entry in r; the notification is marked first, since what
 * follows (a query) may take long and its rows decide, not the notification. */
static void apply_claimed(apply_t *a, rsv_t *r, aop_journal_notice_t *n, const aop_notification_t *v) {
    rsv_adopt_entry(r);
    rsv_notice_decision_t d;
    if (!rsv_mac_ok(r)) { /* an altered entry is never worked on (rows E25, E26) */
        judge(v, &r->e, &d);
        mark(a->j, n, &d, r->e.id, "its entry was altered: nothing written but that");
        rsv_altered(r);
        return;
    }
    judge(v, &r->e, &d); /* again: the entry may have moved since it was read */
    snprintf(r->res->row, sizeof r->res->row, "%s", d.row);
    r->ever_sent = true; /* a journaled payment may have left */
    switch (d.action) {
    case RSV_NOTICE_PAID: /* the entry first, then the mark (as the lease holder does) */
        decide_paid(r, v, &d);
        if (!r->journal_lost) mark(a->j, n, &d, r->e.id, NULL);
        break;
    case RSV_NOTICE_ATTENTION:
        rsv_finish(r, AOP_OUTCOME_NEEDS_ATTENTION, NULL, "%s", d.reason);
        if (!r->journal_lost) mark(a->j, n, &d, r->e.id, NULL);
        break;
    case RSV_NOTICE_QUERY_NOW:
        if (!a->queries) { /* recovery's next run takes it at once (row D6) */
            mark(a->j, n, &d, r->e.id, "its next attempt is due now");
            r->e.next_attempt_ms = 0;
            r->next_in_ms = 0;
            r->dirty |= AOP_WRITE_NEXT_ATTEMPT;
            rsv_release(r);
            break;
        }
        mark(a->j, n, &d, r->e.id, "queried now by the receiver");
        /* as recovery would (rows E22-E24): never a pay, the identityCode is not journaled */
        rsv_run(r, r->e.state == AOP_STATE_CANCELLING  ? RSV_CANCEL
                   : r->e.state == AOP_STATE_LAST_CHECK ? RSV_LAST_QUERY
                                                        : RSV_QUERY);
        break;
    case RSV_NOTICE_WATCH_NOW:
        r->e.watch = true;
        if (!a->queries) { /* recovery's next run makes the watch query (row D3) */
            mark(a->j, n, &d, r->e.id, "its watch query is due now");
            r->watch_in_ms = 0;
            r->dirty |= AOP_WRITE_WATCH;
            rsv_release(r);
            break;
        }
        mark(a->j, n, &d, r->e.id, "its watch query made now by the receiver");
        rsv_run(r, RSV_WATCH);
        break;
    default:
        mark(a->j, n, &d, r->e.id, NULL);
        rsv_release(r);
        break;
    }
}

static void apply_one(apply_t *a, aop_journal_notice_t *n) {
    aop_error_t err;
    aop_notification_t *v = verify_again(a->c, n, &err);
    aop_journal_entry_t *e = undecided(v, &err) ? NULL : calloc(1, sizeof *e);
    if (!e) { /* left PENDING for the next pass */
        aop_notification_free(v);
        a->pending++;
        return;
    }
    aop_status_t st = v ? aop_journal_find(a->j, AOP_ENTRY_PAYMENT, n->gateway, n->merchant_id, n->key, e, &err)
                        : AOP_E_MISSING;
    if (st != AOP_OK && st != AOP_E_MISSING) { /* storage: left PENDING for the next pass */
        a->pending++;
        goto out;
    }
    rsv_notice_decision_t d;
    judge(v, st == AOP_OK ? e : NULL, &d);
    bool writes = d.action == RSV_NOTICE_PAID || d.action == RSV_NOTICE_ATTENTION ||
                  d.action == RSV_NOTICE_QUERY_NOW || d.action == RSV_NOTICE_WATCH_NOW;
    if (!writes) {
        mark(a->j, n, &d, st == AOP_OK ? e->id : 0, NULL);
        if (a->fn) a->fn(n, d.row, NULL, a->ctx);
        goto out;
    }
    /* the entry is written only under our own lease: a live holder applies it itself */
    rsv_t *r = malloc(sizeof *r);
    if (!r || rsv_init(r, a->c, a->j, a->opts, &err) != AOP_OK) {
        free(r);
        a->pending++;
        goto out;
    }
    r->notices = false; /* this run is the notification's own: it does not look for more */
    st = aop_journal_claim(a->j, e->id, r->owner, rsv_lease_ttl_ms(r), &r->e, &err);
    if (st == AOP_OK) {
        r->res->entry_id = r->e.id;
        r->res->kind = r->e.kind;
        snprintf(r->res->key, sizeof r->res->key, "%s", r->e.key);
        apply_claimed(a, r, n, v);
        if (a->fn) a->fn(n, r->res->row[0] ? r->res->row : d.row, r->res, a->ctx);
    } else {
        a->pending++; /* held (its holder applies it) or a storage error: the next pass */
    }
    aop_resolution_free(r->res);
    free(r);
out:
    free(e);
    aop_notification_free(v);
}

aop_status_t aop_notices_apply(aop_client_t *c, aop_journal_t *j, const char *key, bool make_queries,
                               const aop_resolve_options_t *opts, aop_notice_fn fn, void *ctx, unsigned *pending,
                               aop_error_t *err) {
    aop_error_clear(err);
    if (pending) *pending = 0;
    if (!c || !j) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    aop_status_t st = aop_journal_notices_supported(j, err);
    if (st != AOP_OK) return st;
    aop_resolve_options_t checked;
    if ((st = rsv_adopt_options(opts, &checked, err)) != AOP_OK) return st;
    apply_t a = {.c = c, .j = j, .opts = &checked, .fn = fn, .ctx = ctx, .queries = make_queries};
    aop_internal_client_gateway(c, a.gateway);
    /* a page at a time, each row marked before the next page is read; a row left PENDING (held
     * by another process) is passed by id, so the rows after it are reached. At most 64 pages a
     * call: what is left comes back at the next call. */
    int64_t after = 0;
    for (int pass = 0; pass < 64; pass++) {
        size_t count = 0;
        aop_journal_notice_t *rows = NULL;
        if ((st = pending_of(j, a.gateway, key, after, 8, &rows, &count, err)) != AOP_OK || !rows) break;
        for (size_t i = 0; i < count; i++) apply_one(&a, &rows[i]);
        after = rows[count - 1].id;
        free(rows);
    }
    if (pending) *pending = a.pending;
    return st;
}
