/* SPDX-License-Identifier: MIT */
/* aop_recover(): finishes every open entry of the client's gateway identity (payments by query
 * then cancel, never by pay: the identityCode is not journaled and a new pay could charge twice;
 * refunds by an identical re-send of the journaled request), and runs the due watch queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/json.h"
#include "aop/util.h"
#include "client_internal.h"
#include "resolver_internal.h"

/* What the list tells about an entry, enough to decide whether to work on it. */
typedef struct {
    int64_t id;
    aop_entry_kind_t kind;
    aop_entry_state_t state;
    bool ours;      /* of the client's gateway identity */
    bool watch_due;
    char merchant_id[AOP_JOURNAL_ID_SIZE], key[AOP_JOURNAL_ID_SIZE], gateway[AOP_JOURNAL_GATEWAY_SIZE];
} todo_t;

typedef struct {
    const char *gateway;
    int64_t now;
    todo_t *items;
    size_t n, cap;
    bool nomem;
} todo_list_t;

static bool collect(const aop_journal_entry_t *e, void *ctx) {
    todo_list_t *l = ctx;
    bool open = !aop_entry_state_final(e->state);
    bool due = !open && e->watch && e->watch_due_ms <= l->now;
    if (!open && !due) return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        todo_t *items = realloc(l->items, cap * sizeof *items);
        if (!items) return !(l->nomem = true);
        l->items = items;
        l->cap = cap;
    }
    todo_t *t = &l->items[l->n++];
    memset(t, 0, sizeof *t);
    t->id = e->id;
    t->kind = e->kind;
    t->state = e->state;
    t->ours = strcmp(e->gateway, l->gateway) == 0;
    t->watch_due = due;
    snprintf(t->merchant_id, sizeof t->merchant_id, "%s", e->merchant_id);
    snprintf(t->key, sizeof t->key, "%s", e->key);
    snprintf(t->gateway, sizeof t->gateway, "%s", e->gateway);
    return true;
}

/* Reports an entry that is not worked on (another identity, or a live owner's lease). */
static void skipped(aop_journal_t *j, const todo_t *t, aop_recover_fn fn, void *ctx) {
    if (!fn) return;
    aop_journal_entry_t *e = malloc(sizeof *e);
    aop_error_t err;
    if (e && aop_journal_find(j, t->kind, t->gateway, t->merchant_id, t->key, e, &err) == AOP_OK) fn(e, NULL, ctx);
    free(e);
}

/* The journaled refund request, decoded again (its views point into buf). */
static bool decode_refund(const aop_journal_entry_t *e, char *buf, aop_refund_request_t *rq, aop_error_t *err) {
    memcpy(buf, e->request, e->request_len);
    buf[e->request_len] = '\0';
    aop_json_ws_t ws = {0};
    unsigned need = aop_json_tokens_needed(buf, e->request_len);
    ws.tok = calloc(need, sizeof *ws.tok);
    ws.scratch = calloc(need, sizeof *ws.scratch);
    ws.cap = need;
    aop_json_doc_t doc;
    memset(rq, 0, sizeof *rq);
    bool ok = ws.tok && ws.scratch && aop_json_parse(buf, e->request_len, &ws, &doc, err) == AOP_OK &&
              aop_decode(&aop_refund_request_body_desc, &doc, 0, buf, &rq->body, "request.body", true, NULL, err) == AOP_OK;
    free(ws.tok);
    free(ws.scratch);
    return ok;
}

static void run_refund(rsv_t *r) {
    char *buf = malloc(AOP_JOURNAL_REQUEST_MAX + 1);
    aop_refund_request_t rq;
    aop_error_t err;
    aop_error_clear(&err);
    if (!buf || !decode_refund(&r->e, buf, &rq, &err)) {
        rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "the journaled refund request cannot be read: %s",
                   buf ? err.msg : "out of memory");
        free(buf);
        return;
    }
    r->refund = &rq;
    rsv_refund_run(r, false);
    free(buf);
}

/* Works on one claimed entry; the resolution is in r->res. */
static void work(rsv_t *r, const todo_t *t) {
    r->ever_sent = true; /* a crash may have come after the request left */
    if (t->watch_due) {
        rsv_watch_query(r);
    } else if (r->e.state == AOP_STATE_NEEDS_ATTENTION) {
        /* a person decides: no call could settle a contradiction */
        rsv_finish(r, AOP_OUTCOME_NEEDS_ATTENTION, NULL, "%s", r->e.note[0] ? r->e.note : "needs attention");
    } else if (r->e.kind == AOP_ENTRY_REFUND) {
        run_refund(r);
    } else {
        rsv_progress(r, AOP_PHASE_CHECKING);
        rsv_pay_run(r, r->e.state == AOP_STATE_CANCELLING ? RSV_CANCEL : RSV_QUERY);
    }
}

/* The claimed entry became final after it was listed (another process decided it) and owes no
 * watch query now: a query, cancel or re-send would act on a settled payment. */
static bool finished_meanwhile(const rsv_t *r, int64_t now) {
    return aop_entry_state_final(r->e.state) && !(r->e.watch && r->e.watch_due_ms <= now);
}

/* Claims and works on one entry; returns whether it is still open afterwards. */
static bool recover_one(aop_client_t *c, aop_journal_t *j, const aop_resolve_options_t *opts, const todo_t *t,
                        aop_recover_fn fn, void *ctx) {
    rsv_t *r = malloc(sizeof *r);
    aop_error_t err;
    if (!r || rsv_init(r, c, j, opts, &err) != AOP_OK) {
        free(r);
        return !t->watch_due;
    }
    int64_t now = aop_now_ms();
    aop_status_t st = aop_journal_claim(j, t->id, r->owner, now, now + rsv_lease_ttl_ms(r), NULL, NULL, &r->e, &err);
    bool open;
    if (st != AOP_OK) {
        skipped(j, t, fn, ctx); /* a live owner is working on it */
        open = !t->watch_due;
    } else if (finished_meanwhile(r, now)) {
        rsv_release(r); /* another process finished it after the list: nothing to do */
        open = false;
    } else {
        r->res->kind = r->e.kind;
        work(r, t);
        open = !aop_entry_state_final(r->e.state) || r->journal_lost;
        if (fn) fn(&r->e, r->res, ctx);
    }
    aop_resolution_free(r->res);
    free(r);
    return open;
}

aop_status_t aop_recover(aop_client_t *c, aop_journal_t *j, const aop_resolve_options_t *opts, aop_recover_fn fn,
                         void *ctx, unsigned *open_left, aop_error_t *err) {
    aop_error_clear(err);
    if (open_left) *open_left = 0;
    if (!c || !j) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    aop_resolve_options_t checked;
    aop_status_t st = rsv_adopt_options(opts, &checked, err);
    if (st != AOP_OK) return st;
    char fp[AOP_FINGERPRINT_MAX], gateway[AOP_JOURNAL_GATEWAY_SIZE];
    aop_internal_client_alipay_fingerprint(c, fp);
    aop_journal_gateway_identity(fp, aop_internal_client_id(c), gateway);
    todo_list_t l = {gateway, aop_now_ms(), NULL, 0, 0, false};
    aop_error_t lerr;
    st = aop_journal_list(j, false, collect, &l, &lerr);
    if (st != AOP_OK || l.nomem) {
        free(l.items);
        return l.nomem ? aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory")
                       : aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: %s", lerr.msg);
    }
    unsigned left = 0;
    for (size_t i = 0; i < l.n; i++) {
        const todo_t *t = &l.items[i];
        if (!t->ours) {
            /* another gateway's entries are listed, never touched, and do not count */
            if (!t->watch_due) skipped(j, t, fn, ctx);
            continue;
        }
        if (checked.stop_flag && *checked.stop_flag) {
            left += !t->watch_due;
            continue;
        }
        left += recover_one(c, j, &checked, t, fn, ctx);
    }
    free(l.items);
    if (open_left) *open_left = left;
    return AOP_OK;
}
