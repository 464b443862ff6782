/* SPDX-License-Identifier: MIT */
/* aop_recover(): finishes every due entry of the client's gateway identity (payments by query
 * then cancel, never by pay: the identityCode is not journaled and a new pay could charge twice;
 * refunds by an identical re-send of the journaled request), and runs the due watch queries.
 *
 * It reads the open entries and the due watches once (every gateway's, without their requests)
 * to report the others' and count what it cannot take; then it takes the due entries one by one
 * with claim_next, which leases each to it, skipping those other workers hold; and last it tells
 * apart the entries of its gateway it did not take (held by a live owner, left to a person, not
 * due yet, gone). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aop/json.h"
#include "aop/util.h"
#include "client_internal.h"
#include "resolver_internal.h"

/* What the list tells about one of our entries, enough to account for it afterwards. */
typedef struct {
    int64_t id;
    bool worked; /* claimed by this run */
} todo_t;

typedef struct {
    const char *gateway;
    aop_recover_fn fn;
    void *ctx;
    todo_t *items;
    size_t n, cap, later; /* later: entries claimed that the list had not seen */
    bool nomem;
    aop_recover_summary_t *sum;
    aop_journal_t *j;
    const aop_resolve_options_t *opts;
    aop_client_t *c;
} todo_list_t;

/* Reports an entry nobody works on here with an unresolved resolution saying why (r may be NULL
 * for "skipped": another gateway identity, or a live owner's lease). */
static void report(todo_list_t *l, const aop_journal_entry_t *e, const char *row, aop_outcome_t o, const char *why) {
    if (!l->fn) return;
    if (!row) {
        l->fn(e, NULL, l->ctx);
        return;
    }
    aop_resolution_t *res = rsv_resolution_new();
    if (!res) return;
    res->outcome = o;
    res->kind = e->kind;
    res->entry_id = e->id;
    res->watch = e->watch;
    snprintf(res->row, sizeof res->row, "%s", row);
    snprintf(res->key, sizeof res->key, "%s", e->key);
    snprintf(res->acquirement_id, sizeof res->acquirement_id, "%s",
             e->kind == AOP_ENTRY_REFUND ? e->payment_acquirement_id : e->acquirement_id);
    snprintf(res->reason, sizeof res->reason, "%s", why);
    l->fn(e, res, l->ctx);
    aop_resolution_free(res);
}

/* The list's pass: another identity's entries and unreadable rows are reported at once (rows E13,
 * E28); ours are noted, to account for those no claim takes. */
static bool collect(const aop_journal_entry_t *e, void *ctx) {
    todo_list_t *l = ctx;
    rsv_start_facts_t f = {.recovery = true, .kind = e->kind, .state = e->state, .unreadable = e->unreadable,
                           .ours = !e->unreadable && strcmp(e->gateway, l->gateway) == 0};
    rsv_start_decision_t d;
    rsv_decide_start(&f, &d);
    if (d.action == RSV_START_UNREADABLE) {
        char why[AOP_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "entry %lld cannot be read: %.150s", (long long)e->id, e->note);
        report(l, e, d.row, AOP_OUTCOME_UNRESOLVED, why);
        l->sum->open_left++;
        return true;
    }
    if (d.action == RSV_START_SKIP) {
        if (!aop_entry_state_final(e->state)) report(l, e, NULL, 0, NULL); /* listed, never touched */
        return true;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        todo_t *items = realloc(l->items, cap * sizeof *items);
        if (!items) return !(l->nomem = true);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = (todo_t){e->id, false};
    return true;
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

/* Marks id taken up, and tells on_entry its place among our listed entries (one listed since
 * comes after them). */
static void taken_up(todo_list_t *l, const aop_journal_entry_t *e) {
    size_t index = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].id == e->id) {
            l->items[i].worked = true;
            index = i + 1;
        }
    if (!index) index = ++l->later;
    if (l->opts->on_entry) l->opts->on_entry(e, (unsigned)index, (unsigned)(l->n > index ? l->n : index),
                                             l->opts->progress_ctx);
}

/* Works on the entry claim_next gave r, as the E rows of docs/resolver.md say. */
static void work(todo_list_t *l, rsv_t *r) {
    rsv_adopt_entry(r);
    bool final = aop_entry_state_final(r->e.state);
    rsv_start_facts_t f = {.recovery = true, .kind = r->e.kind, .ours = true, .state = r->e.state,
                           .claim = RSV_CLAIM_OK, .watch_due = final && rsv_watch_due(r), .mac_ok = rsv_mac_ok(r)};
    rsv_start_decision_t d;
    rsv_decide_start(&f, &d);
    snprintf(r->res->row, sizeof r->res->row, "%s", d.row);
    r->res->kind = r->e.kind;
    if (d.action == RSV_START_NOTHING || d.action == RSV_START_LEAVE) {
        rsv_release(r); /* it changed between the claim's check and now: not ours to work on */
        return;
    }
    l->sum->worked++;
    taken_up(l, &r->e);
    switch (d.action) {
    case RSV_START_ALTERED: rsv_altered(r); break;
    case RSV_START_RUN:
        r->ever_sent = true; /* a crash may have come after the request left */
        rsv_progress(r, rsv_phase_of_step(d.step));
        if (d.step == RSV_REFUND)
            run_refund(r);
        else
            rsv_run(r, d.step);
        break;
    default: assert(!"a claimed entry starts no other way"); break;
    }
    if (!aop_entry_state_final(r->e.state) || r->journal_lost) l->sum->open_left++;
    if (l->fn) l->fn(&r->e, r->res, l->ctx);
}

/* The claims' pass: claim_next until nothing of ours is due. false on a storage error (*err). */
static bool claim_all(todo_list_t *l, aop_error_t *err) {
    int64_t after = 0;
    for (;;) {
        if ((l->opts->stop_flag && *l->opts->stop_flag) || (l->opts->finish_flag && *l->opts->finish_flag))
            return true;
        rsv_t *r = malloc(sizeof *r);
        if (!r || rsv_init(r, l->c, l->j, l->opts, err) != AOP_OK) {
            free(r);
            if (!r) aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
            return false;
        }
        aop_status_t st = aop_journal_claim_next(l->j, l->gateway, after, l->opts->due_only, r->owner,
                                                 rsv_lease_ttl_ms(r), &r->e, err);
        if (st == AOP_OK) {
            after = r->e.id;
            work(l, r);
        }
        aop_resolution_free(r->res);
        free(r);
        if (st == AOP_E_MISSING) return true;
        if (st != AOP_OK) return false;
    }
}

/* The last pass: our listed entries no claim took (rows E15, E16, E17, E19, E20, E27). */
static void account(todo_list_t *l, const aop_error_t *claim_err) {
    aop_journal_entry_t *e = malloc(sizeof *e);
    if (!e) {
        l->nomem = true;
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i].worked) continue;
        aop_error_t err;
        aop_status_t st = aop_journal_get(l->j, l->items[i].id, false, e, &err);
        rsv_start_facts_t f = {.recovery = true, .ours = true, .kind = e->kind, .state = e->state,
                               .claim = st == AOP_E_MISSING ? RSV_CLAIM_GONE
                                        : st != AOP_OK || claim_err ? RSV_CLAIM_FAILED
                                        : e->lease_held ? RSV_CLAIM_HELD
                                                        : RSV_CLAIM_NOT_DUE};
        rsv_start_decision_t d;
        rsv_decide_start(&f, &d);
        char why[AOP_ERROR_MSG_MAX];
        switch (d.action) {
        case RSV_START_HELD:
            report(l, e, NULL, 0, NULL);
            l->sum->held++;
            break;
        case RSV_START_UNCLAIMED:
            if (st != AOP_OK) { /* not even read: what the list said of it is gone with the page */
                memset(e, 0, sizeof *e);
                e->id = l->items[i].id;
            }
            snprintf(why, sizeof why, "entry %lld could not be claimed: %.150s", (long long)l->items[i].id,
                     st != AOP_OK ? err.msg : claim_err->msg);
            report(l, e, d.row, AOP_OUTCOME_UNRESOLVED, why);
            l->sum->open_left++;
            break;
        case RSV_START_LEAVE: /* a person decides: no call could settle a contradiction */
            if (l->opts->on_entry) l->opts->on_entry(e, (unsigned)i + 1, (unsigned)l->n, l->opts->progress_ctx);
            report(l, e, d.row, AOP_OUTCOME_NEEDS_ATTENTION, e->note[0] ? e->note : "needs attention");
            l->sum->open_left++;
            break;
        case RSV_START_LATER: l->sum->open_left++; break; /* its back-off: a later run takes it */
        default: break;                                   /* gone, or final since the list */
        }
    }
    free(e);
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
    char gateway[AOP_JOURNAL_GATEWAY_SIZE];
    aop_internal_client_gateway(c, gateway);
    aop_journal_key_t key;
    aop_error_t lerr;
    aop_error_clear(&lerr);
    /* entries of a journal older than MACs become verifiable by this key's holder first */
    if ((st = aop_internal_client_journal_key(c, &key, err)) != AOP_OK) return st;
    st = aop_journal_seal_legacy(j, gateway, &key, NULL, &lerr);
    OPENSSL_cleanse(&key, sizeof key);
    if (st != AOP_OK) return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: %s", lerr.msg);
    todo_list_t l = {gateway, fn, ctx, NULL, 0, 0, 0, false, &sum, j, &checked, c};
    aop_journal_filter_t f;
    aop_journal_filter_init(&f);
    f.which = AOP_LIST_OPEN_OR_WATCH_DUE;
    st = aop_journal_list_ex(j, &f, collect, &l, &lerr);
    aop_error_t cerr;
    aop_error_clear(&cerr);
    bool claims_ok = st == AOP_OK && !l.nomem && claim_all(&l, &cerr);
    if (st == AOP_OK && !l.nomem) account(&l, claims_ok ? NULL : &cerr);
    free(l.items);
    if (l.nomem) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    if (st != AOP_OK) return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: %s", lerr.msg);
    if (summary) { /* an older caller's smaller struct gets the members it knows */
        size_t given = summary->struct_size;
        memcpy(summary, &sum, given);
        summary->struct_size = given;
    }
    return AOP_OK;
}
