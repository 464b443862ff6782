/* SPDX-License-Identifier: MIT */
/* aop_recover(): finishes every open entry of the client's gateway identity (payments by query
 * then cancel, never by pay: the identityCode is not journaled and a new pay could charge twice;
 * refunds by an identical re-send of the journaled request), and runs the due watch queries. */
#include <assert.h>
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
    todo_t *items;
    size_t n, cap;
    bool nomem;
} todo_list_t;

static bool collect(const aop_journal_entry_t *e, void *ctx) {
    todo_list_t *l = ctx;
    bool open = !aop_entry_state_final(e->state);
    bool due = !open && rsv_watch_due(e);
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

/* Re-sends the journaled refund request (the caller's is gone). */
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
    rsv_run(r, RSV_REFUND);
    free(buf);
}

/* How one entry ended up. */
typedef enum {
    ENTRY_SETTLED,   /* worked on, final now */
    ENTRY_OPEN,      /* worked on, still open */
    ENTRY_HELD,      /* a live owner's lease: theirs */
    ENTRY_UNCLAIMED, /* a storage error (or memory) kept us from it: open, and nobody works on it */
    ENTRY_GONE,      /* final or removed since the list: nothing to do */
    ENTRY_SKIPPED    /* another gateway identity's: not ours to count */
} entry_end_t;

/* The entry could not be claimed for a storage error: reported as an unresolved resolution (the
 * entry as listed), and counted as open, since nobody works on it. */
static void claim_failed(rsv_t *r, const todo_t *t, const aop_error_t *err, aop_recover_fn fn, void *ctx) {
    memset(&r->e, 0, sizeof r->e);
    r->e.id = t->id;
    r->e.kind = t->kind;
    r->e.state = t->state;
    snprintf(r->e.merchant_id, sizeof r->e.merchant_id, "%s", t->merchant_id);
    snprintf(r->e.key, sizeof r->e.key, "%s", t->key);
    snprintf(r->e.gateway, sizeof r->e.gateway, "%s", t->gateway);
    aop_resolution_t *res = r->res;
    res->kind = t->kind;
    res->entry_id = t->id;
    snprintf(res->key, sizeof res->key, "%s", t->key);
    snprintf(res->reason, sizeof res->reason, "entry %lld could not be claimed: %.150s", (long long)t->id, err->msg);
    if (fn) fn(&r->e, res, ctx);
}

static rsv_claim_t claim(rsv_t *r, const todo_t *t, aop_error_t *err) {
    int64_t now = aop_now_ms();
    aop_status_t st = aop_journal_claim(r->j, t->id, r->owner, now, now + rsv_lease_ttl_ms(r), NULL, NULL, &r->e, err);
    if (st == AOP_E_TAKEN_OVER) return RSV_CLAIM_HELD;
    if (st == AOP_E_MISSING) return RSV_CLAIM_GONE;
    if (st != AOP_OK) return RSV_CLAIM_FAILED;
    rsv_adopt_entry(r);
    return RSV_CLAIM_OK;
}

/* Claims and works on one entry, as the E rows of docs/resolver.md say. */
/* index / total: the entry's place among this identity's listed entries, for on_entry. */
static entry_end_t recover_one(aop_client_t *c, aop_journal_t *j, const aop_resolve_options_t *opts,
                               const todo_t *t, unsigned index, unsigned total, aop_recover_fn fn, void *ctx) {
    rsv_start_facts_t f = {.recovery = true, .kind = t->kind, .ours = t->ours, .state = t->state,
                           .watch_due = t->watch_due};
    rsv_start_decision_t d;
    rsv_decide_start(&f, &d);
    if (d.action == RSV_START_SKIP) {
        if (!t->watch_due) skipped(j, t, fn, ctx); /* listed, never touched */
        return ENTRY_SKIPPED;
    }
    rsv_t *r = malloc(sizeof *r);
    aop_error_t err;
    if (!r || rsv_init(r, c, j, opts, &err) != AOP_OK) {
        free(r);
        return ENTRY_UNCLAIMED;
    }
    while (d.action == RSV_START_CLAIM) {
        f.claim = claim(r, t, &err);
        if (f.claim == RSV_CLAIM_OK) {
            f.state = r->e.state; /* as the claim found it: another process may have moved it */
            f.watch_due = aop_entry_state_final(r->e.state) && rsv_watch_due(&r->e);
        }
        rsv_decide_start(&f, &d);
    }
    snprintf(r->res->row, sizeof r->res->row, "%s", d.row);
    r->res->kind = t->kind;
    if (opts->on_entry && (d.action == RSV_START_RUN || d.action == RSV_START_LEAVE))
        opts->on_entry(&r->e, index, total, opts->progress_ctx);
    entry_end_t end = ENTRY_OPEN;
    switch (d.action) {
    case RSV_START_HELD:
        skipped(j, t, fn, ctx);
        end = ENTRY_HELD;
        break;
    case RSV_START_UNCLAIMED:
        claim_failed(r, t, &err, fn, ctx);
        end = ENTRY_UNCLAIMED;
        break;
    case RSV_START_NOTHING:
        if (f.claim == RSV_CLAIM_OK) rsv_release(r); /* another process finished it after the list */
        end = ENTRY_GONE;
        break;
    case RSV_START_LEAVE: /* a person decides: no call could settle a contradiction */
        rsv_finish(r, AOP_OUTCOME_NEEDS_ATTENTION, NULL, "%s", r->e.note[0] ? r->e.note : "needs attention");
        if (fn) fn(&r->e, r->res, ctx);
        break;
    case RSV_START_RUN:
        r->ever_sent = true; /* a crash may have come after the request left */
        rsv_progress(r, rsv_phase_of_step(d.step));
        if (d.step == RSV_REFUND)
            run_refund(r);
        else
            rsv_run(r, d.step);
        end = !aop_entry_state_final(r->e.state) || r->journal_lost ? ENTRY_OPEN : ENTRY_SETTLED;
        if (fn) fn(&r->e, r->res, ctx);
        break;
    default: assert(!"a recovery's start decides none of the caller's actions"); break;
    }
    aop_resolution_free(r->res);
    free(r);
    return end;
}

void aop_recover_summary_init(aop_recover_summary_t *s) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
}

aop_status_t aop_recover(aop_client_t *c, aop_journal_t *j, const aop_resolve_options_t *opts, aop_recover_fn fn,
                         void *ctx, unsigned *open_left, aop_error_t *err) {
    aop_recover_summary_t s;
    aop_recover_summary_init(&s);
    aop_status_t st = aop_recover_ex(c, j, opts, fn, ctx, &s, err);
    if (open_left) *open_left = s.open_left;
    return st;
}

aop_status_t aop_recover_ex(aop_client_t *c, aop_journal_t *j, const aop_resolve_options_t *opts, aop_recover_fn fn,
                            void *ctx, aop_recover_summary_t *summary, aop_error_t *err) {
    aop_error_clear(err);
    aop_recover_summary_t sum;
    aop_recover_summary_init(&sum);
    if (summary && (summary->struct_size == 0 || summary->struct_size > sizeof sum))
        return aop_error_set(err, AOP_E_INVALID_ARG, "summary.struct_size", -1,
                             "fill the summary with aop_recover_summary_init()");
    if (!c || !j) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    aop_resolve_options_t checked;
    aop_status_t st = rsv_adopt_options(opts, &checked, err);
    if (st != AOP_OK) return st;
    char fp[AOP_FINGERPRINT_MAX], gateway[AOP_JOURNAL_GATEWAY_SIZE];
    aop_internal_client_alipay_fingerprint(c, fp);
    aop_journal_gateway_identity(fp, aop_internal_client_id(c), gateway);
    todo_list_t l = {gateway, NULL, 0, 0, false};
    aop_error_t lerr;
    st = aop_journal_list(j, false, collect, &l, &lerr);
    if (st != AOP_OK || l.nomem) {
        free(l.items);
        return l.nomem ? aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory")
                       : aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: %s", lerr.msg);
    }
    unsigned total = 0, index = 0;
    for (size_t i = 0; i < l.n; i++) total += l.items[i].ours;
    for (size_t i = 0; i < l.n; i++) {
        const todo_t *t = &l.items[i];
        index += t->ours;
        if (t->ours && checked.stop_flag && *checked.stop_flag) {
            sum.open_left += !t->watch_due;
            continue;
        }
        switch (recover_one(c, j, &checked, t, index, total, fn, ctx)) {
        case ENTRY_HELD: sum.held++; break;
        case ENTRY_OPEN: sum.worked++, sum.open_left++; break;
        case ENTRY_SETTLED: sum.worked++; break;
        case ENTRY_UNCLAIMED: sum.open_left++; break;
        case ENTRY_GONE:
        case ENTRY_SKIPPED: break;
        }
    }
    free(l.items);
    if (summary) { /* an older caller's smaller struct gets the members it knows */
        size_t given = summary->struct_size;
        memcpy(summary, &sum, given);
        summary->struct_size = given;
    }
    return AOP_OK;
}
