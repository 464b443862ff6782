/* SPDX-License-Identifier: MIT */
/* The entry points aop_pay_resolve() and aop_refund_resolve(): check the request, build the
 * journal entry (never with the identityCode), commit it before anything leaves, and run the
 * loop; or carry on an open entry of the same key; or, for a key already journaled with other
 * data, send as asked without touching that entry (the gateway decides). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/util.h"
#include "client_internal.h"
#include "resolver_internal.h"

/* The request body as the journal keeps it: without the members of the sensitive role (the
 * identityCode, a live credential that recovery does not need). */
static aop_status_t encode_body(const aop_msg_desc_t *d, const void *body, aop_journal_entry_t *e, aop_error_t *err) {
    aop_status_t st = aop_encode_ex(d, body, "request.body", AOP_ENCODE_OMIT_SENSITIVE, e->request,
                                    sizeof e->request - 1, &e->request_len, err);
    if (st == AOP_E_BUFFER_TOO_SMALL)
        return aop_error_set(err, st, "request", -1, "the request is too large for the journal (%d bytes at most)",
                             AOP_JOURNAL_REQUEST_MAX - 1);
    if (st == AOP_OK) {
        e->request[e->request_len] = '\0';
        e->has_request = true;
    }
    return st;
}

static void entry_common(rsv_t *r, aop_entry_kind_t kind, const aop_function_desc_t *fn, aop_str_t merchant) {
    aop_journal_entry_t *e = &r->e;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    r->res->kind = kind; /* also for a key sent unjournaled or reported from the journal */
    snprintf(e->function, sizeof e->function, "%s", fn->name);
    rsv_copy(e->merchant_id, sizeof e->merchant_id, merchant);
    snprintf(e->client_id, sizeof e->client_id, "%s", aop_internal_client_id(r->c));
    aop_internal_client_gateway(r->c, e->gateway);
    e->state = AOP_STATE_NEW;
    e->last_attempt_ms = aop_now_ms();
    /* the store stamps the pay's start (and created, updated, the lease) when it inserts */
    e->pay_deadline_ms = rsv_deadline_ms(r, fn);
    e->epoch = 1;
    snprintf(e->lease_owner, sizeof e->lease_owner, "%s", r->owner);
}

static aop_status_t pay_entry(rsv_t *r, const aop_offline_pay_request_t *rq, aop_error_t *err) {
    const aop_offline_pay_request_body_t *b = &rq->body;
    entry_common(r, AOP_ENTRY_PAYMENT, &aop_fn_offline_pay, b->merchant_id);
    rsv_copy(r->e.key, sizeof r->e.key, *aop_ref_str(aop_fn_offline_pay.idempotency_key, rq));
    rsv_copy(r->e.amount, sizeof r->e.amount, b->order.order_amount.value);
    rsv_copy(r->e.currency, sizeof r->e.currency, b->order.order_amount.currency);
    aop_status_t st = encode_body(&aop_offline_pay_request_body_desc, b, &r->e, err);
    if (st == AOP_OK) aop_journal_entry_seal(&r->key, &r->e);
    return st;
}

static aop_status_t refund_entry(rsv_t *r, const aop_refund_request_t *rq, aop_error_t *err) {
    const aop_refund_request_body_t *b = &rq->body;
    entry_common(r, AOP_ENTRY_REFUND, &aop_fn_refund, b->merchant_id);
    rsv_copy(r->e.key, sizeof r->e.key, *aop_ref_str(aop_fn_refund.idempotency_key, rq));
    rsv_copy(r->e.payment_acquirement_id, sizeof r->e.payment_acquirement_id, b->acquirement_id);
    rsv_copy(r->e.amount, sizeof r->e.amount, b->refund_amount.value);
    rsv_copy(r->e.currency, sizeof r->e.currency, b->refund_amount.currency);
    aop_status_t st = encode_body(&aop_refund_request_body_desc, b, &r->e, err);
    if (st == AOP_OK) aop_journal_entry_seal(&r->key, &r->e);
    return st;
}

/* A final or NEEDS_ATTENTION entry of the same request: reported as the journal has it, nothing
 * sent (the outcome is known, or a person decides). */
static void report_journaled(rsv_t *r, const aop_journal_entry_t *old) {
    r->e = *old;
    aop_resolution_t *res = r->res;
    res->outcome = rsv_outcome_of_state(old->state);
    snprintf(res->key, sizeof res->key, "%s", old->key);
    snprintf(res->acquirement_id, sizeof res->acquirement_id, "%s",
             old->kind == AOP_ENTRY_REFUND ? old->payment_acquirement_id : old->acquirement_id);
    res->entry_id = old->id;
    res->watch = old->watch;
    snprintf(res->reason, sizeof res->reason, "already %s in the journal (entry %lld)%s%.120s",
             aop_entry_state_name(old->state), (long long)old->id, old->note[0] ? ": " : "", old->note);
}

/* The key is journaled with other data: one call as asked, and the old entry stays as it is. */
static void send_unjournaled(rsv_t *r, const aop_function_desc_t *fn, const void *req, const aop_journal_entry_t *old) {
    aop_resolution_t *res = r->res;
    snprintf(res->key, sizeof res->key, "%s", old->key);
    const aop_result_t *out = rsv_call(r, fn, req);
    bool decided = out && rsv_decided(out) && out->status != 'U';
    if (decided) {
        res->outcome = out->status == 'S' ? (fn == &aop_fn_refund ? AOP_OUTCOME_REFUNDED : AOP_OUTCOME_PAID)
                                          : AOP_OUTCOME_FAILED;
        res->decided_by = fn;
    } else if (fn == &aop_fn_offline_pay) {
        /* no entry exists for this pay: aop recover cannot see it, a person must ask */
        res->outcome = AOP_OUTCOME_NEEDS_ATTENTION;
        snprintf(res->reason, sizeof res->reason, "not journaled (another amount/currency is journaled for "
                 "it); outcome unknown: aop query --merchant-trans-id %.64s", old->key);
        return;
    }
    snprintf(res->reason, sizeof res->reason, "the key is journaled (entry %lld) with other data: sent as asked, "
             "not journaled%s", (long long)old->id, decided ? "" : "; the answer did not decide");
}

/* Takes the open entry over from a dead or expired owner (or ourselves); a live owner keeps it. */
static rsv_claim_t claim_entry(rsv_t *r, int64_t id, aop_error_t *err) {
    aop_status_t st = aop_journal_claim(r->j, id, r->owner, rsv_lease_ttl_ms(r), &r->e, err);
    if (st == AOP_OK) {
        rsv_adopt_entry(r);
        return RSV_CLAIM_OK;
    }
    return st == AOP_E_TAKEN_OVER ? RSV_CLAIM_HELD : st == AOP_E_MISSING ? RSV_CLAIM_GONE : RSV_CLAIM_FAILED;
}

static bool same_pay(const aop_journal_entry_t *a, const aop_journal_entry_t *b) {
    return strcmp(a->amount, b->amount) == 0 && strcmp(a->currency, b->currency) == 0;
}

static bool same_refund(const aop_journal_entry_t *a, const aop_journal_entry_t *b) {
    return a->request_len == b->request_len && memcmp(a->request, b->request, a->request_len) == 0;
}

/* A store's failure as AOP_E_JOURNAL with its message (copied first: err is both the message
 * read and the one written). */
static aop_status_t journal_error(aop_status_t st, aop_error_t *err) {
    if (st == AOP_E_JOURNAL) return st;
    char msg[AOP_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
    return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: %s", msg);
}

/* Commits the new entry: nothing may leave before it is durable (insert-or-get). AOP_E_TAKEN_OVER
 * when the key is journaled already. */
static aop_status_t commit(rsv_t *r, aop_error_t *err) {
    /* the store stamps the pay's start during this write: it began no earlier than now */
    r->stamp_write_mono = aop_mono_ms();
    aop_status_t st = aop_journal_insert(r->j, &r->e, rsv_lease_ttl_ms(r), NULL, err);
    if (st == AOP_OK) {
        r->res->entry_id = r->e.id;
        snprintf(r->res->key, sizeof r->res->key, "%s", r->e.key);
        RSV_CRASH_POINT("journaled");
        return AOP_OK;
    }
    return st == AOP_E_TAKEN_OVER ? st : journal_error(st, err);
}

static aop_status_t begin(rsv_t *r, aop_client_t *c, aop_journal_t *j, const void *req,
                          const aop_resolve_options_t *opts, aop_resolution_t **out, aop_error_t *err) {
    memset(r, 0, sizeof *r);
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    *out = NULL;
    if (!c || !j || !req) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    return rsv_init(r, c, j, opts, err);
}

/* The new entry committed, durably, before anything is sent; or, when the journal has the key
 * already, that entry (*found, a copy in *old, the caller frees it). The copy is read only then:
 * a new key, the usual case, allocates no second entry. */
static aop_status_t find_or_commit(rsv_t *r, aop_journal_entry_t **old, bool *found, aop_error_t *err) {
    *old = NULL;
    *found = false;
    /* entries of a journal older than MACs become verifiable by this key's holder first */
    aop_status_t st = aop_journal_seal_legacy(r->j, r->e.gateway, &r->key, NULL, err);
    if (st != AOP_OK) return journal_error(st, err);
    st = commit(r, err);
    if (st != AOP_E_TAKEN_OVER) return st;
    *old = malloc(sizeof **old);
    if (!*old) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    st = aop_journal_find(r->j, r->e.kind, r->e.gateway, r->e.merchant_id, r->e.key, *old, err);
    *found = st == AOP_OK;
    if (st == AOP_E_MISSING) /* taken, then gone: only a prune of a final entry does that */
        st = aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: the insert found the key taken, yet no entry "
                           "holds it");
    else if (st != AOP_OK)
        st = journal_error(st, err);
    if (st != AOP_OK) {
        free(*old);
        *old = NULL;
    }
    return st;
}

static aop_status_t fail(rsv_t *r, aop_status_t st) {
    aop_resolution_free(r->res);
    return st;
}

/* Where the caller's pay or refund starts (the E rows of docs/resolver.md): a new entry journaled
 * and sent, the journaled one reported or carried on, or a send as asked. AOP_OK with the
 * resolution in r->res, or a journal error (nothing sent). */
static aop_status_t start(rsv_t *r, const aop_function_desc_t *fn, const void *req, aop_error_t *err) {
    aop_journal_entry_t *old = NULL;
    bool found = false;
    aop_status_t st = find_or_commit(r, &old, &found, err);
    if (st != AOP_OK) return st;
    rsv_start_facts_t f = {.kind = r->e.kind, .found = found, .single_call = r->o.single_call};
    if (found) {
        f.same_request = r->e.kind == AOP_ENTRY_PAYMENT ? same_pay(old, &r->e) : same_refund(old, &r->e);
        f.state = old->state;
    }
    rsv_start_decision_t d;
    for (rsv_decide_start(&f, &d); d.action == RSV_START_CLAIM; rsv_decide_start(&f, &d)) {
        f.claim = claim_entry(r, old->id, err);
        if (f.claim == RSV_CLAIM_OK) {
            f.state = r->e.state;
            f.mac_ok = rsv_mac_ok(r);
        }
    }
    snprintf(r->res->row, sizeof r->res->row, "%s", d.row);
    switch (d.action) {
    case RSV_START_SEND:
        rsv_progress(r, rsv_phase_of_step(d.step));
        rsv_run(r, d.step);
        break;
    case RSV_START_UNJOURNALED: send_unjournaled(r, fn, req, old); break;
    case RSV_START_REPORT: report_journaled(r, old); break;
    case RSV_START_TAKEN_OVER:
        r->res->taken_over = true;
        r->res->entry_id = old->id;
        snprintf(r->res->reason, sizeof r->res->reason, "entry %lld: another live process holds it", (long long)old->id);
        break;
    case RSV_START_CLAIM_ERROR: {
        char msg[AOP_ERROR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        st = aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: entry %lld could not be claimed: %s",
                           (long long)old->id, msg);
        break;
    }
    case RSV_START_ALTERED: rsv_altered(r); break;
    case RSV_START_RUN:
        r->resume = true;
        r->ever_sent = true; /* the earlier process may have sent it */
        rsv_progress(r, rsv_phase_of_step(d.step));
        rsv_run(r, d.step);
        break;
    default: assert(!"a caller's start decides none of the recovery's actions"); break;
    }
    free(old);
    return st;
}

aop_status_t aop_pay_resolve(aop_client_t *c, aop_journal_t *j, const aop_offline_pay_request_t *req,
                             const aop_resolve_options_t *opts, aop_resolution_t **out, aop_error_t *err) {
    rsv_t r;
    aop_status_t st = begin(&r, c, j, req, opts, out, err);
    if (st != AOP_OK) return fail(&r, st);
    aop_offline_pay_request_t rq = *req;
    aop_internal_client_fill_merchant(c, &aop_fn_offline_pay, &rq);
    /* a request that breaks a rule is refused before anything is journaled or sent */
    st = aop_validate(&aop_offline_pay_request_body_desc, &rq.body, "request.body", err);
    if (st == AOP_OK) st = pay_entry(&r, &rq, err);
    r.pay = &rq;
    r.pay_give_up_ms = aop_mono_ms() + rsv_deadline_ms(&r, &aop_fn_offline_pay);
    if (st == AOP_OK) st = start(&r, &aop_fn_offline_pay, &rq, err);
    if (st != AOP_OK) return fail(&r, st);
    *out = r.res;
    return AOP_OK;
}

/* Whether the payment this refund refunds has an open entry (its acquirementId is trusted). */
static aop_status_t payment_open(rsv_t *r, aop_error_t *err) {
    aop_journal_entry_t *p = malloc(sizeof *p);
    if (!p) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    aop_status_t st = aop_journal_open_payment(r->j, r->e.gateway, r->e.merchant_id, r->e.payment_acquirement_id, p, err);
    free(p);
    if (st == AOP_E_MISSING) {
        aop_error_clear(err);
        return AOP_OK;
    }
    if (st != AOP_OK) return journal_error(st, err);
    return aop_error_set(err, AOP_E_ENTRY_OPEN, "request.body.acquirementId", -1,
                         "the payment's journal entry is open: resolve it (aop recover) before refunding");
}

aop_status_t aop_refund_resolve(aop_client_t *c, aop_journal_t *j, const aop_refund_request_t *req,
                                const aop_resolve_options_t *opts, aop_resolution_t **out, aop_error_t *err) {
    rsv_t r;
    aop_status_t st = begin(&r, c, j, req, opts, out, err);
    if (st != AOP_OK) return fail(&r, st);
    aop_refund_request_t rq = *req;
    aop_internal_client_fill_merchant(c, &aop_fn_refund, &rq);
    st = aop_validate(&aop_refund_request_body_desc, &rq.body, "request.body", err);
    if (st == AOP_OK) st = refund_entry(&r, &rq, err);
    if (st == AOP_OK && !r.o.single_call) st = payment_open(&r, err); /* --no-resolve refuses nothing */
    r.refund = &rq;
    if (st == AOP_OK) st = start(&r, &aop_fn_refund, &rq, err);
    if (st != AOP_OK) return fail(&r, st);
    *out = r.res;
    return AOP_OK;
}
