/* SPDX-License-Identifier: MIT */
/* The entry points aop_pay_resolve() and aop_refund_resolve(): check the request, build the
 * journal entry (never with the identityCode), commit it before anything leaves, and run the
 * loop; or carry on an open entry of the same key; or, for a key already journaled with other
 * data, send as asked without touching that entry (the gateway decides). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/util.h"
#include "client_internal.h"
#include "resolver_internal.h"

/* Stands in for the identityCode while encoding, then its member is cut out of the JSON. Inside a
 * JSON string every '"' is escaped, so the exact member text below cannot occur in a value. */
#define CODE_PLACEHOLDER "identity-code-removed"
#define CODE_MEMBER "\"identityCode\":\"" CODE_PLACEHOLDER "\""

static aop_status_t encode_body(const aop_msg_desc_t *d, const void *body, aop_journal_entry_t *e, aop_error_t *err) {
    aop_status_t st = aop_encode(d, body, "request.body", e->request, sizeof e->request - 1, &e->request_len, err);
    if (st == AOP_E_BUFFER_TOO_SMALL)
        return aop_error_set(err, st, "request", -1, "the request is too large for the journal (%d bytes at most)",
                             AOP_JOURNAL_REQUEST_MAX - 1);
    if (st == AOP_OK) e->request[e->request_len] = '\0';
    return st;
}

/* Removes the placeholder's member and one comma next to it. */
static void cut_code(aop_journal_entry_t *e) {
    char *m = strstr(e->request, CODE_MEMBER);
    if (!m) return;
    size_t n = strlen(CODE_MEMBER);
    if (m[n] == ',') n++;
    else if (m > e->request && m[-1] == ',') m--, n++;
    memmove(m, m + n, strlen(m + n) + 1);
    e->request_len = strlen(e->request);
}

static void entry_common(rsv_t *r, aop_entry_kind_t kind, const aop_function_desc_t *fn, aop_str_t merchant) {
    aop_journal_entry_t *e = &r->e;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    r->res->kind = kind; /* also for a key sent unjournaled or reported from the journal */
    snprintf(e->function, sizeof e->function, "%s", fn->name);
    rsv_copy(e->merchant_id, sizeof e->merchant_id, merchant);
    char fp[AOP_FINGERPRINT_MAX];
    aop_internal_client_alipay_fingerprint(r->c, fp);
    snprintf(e->client_id, sizeof e->client_id, "%s", aop_internal_client_id(r->c));
    aop_journal_gateway_identity(fp, e->client_id, e->gateway);
    e->state = AOP_STATE_NEW;
    int64_t now = aop_now_ms();
    e->created_ms = e->updated_ms = e->last_attempt_ms = now;
    /* a first estimate: step_pay stamps the real start just before the pay leaves */
    e->pay_started_ms = now;
    e->pay_deadline_ms = rsv_deadline_ms(r, fn);
    e->epoch = 1;
    snprintf(e->lease_owner, sizeof e->lease_owner, "%s", r->owner);
    e->lease_expires_ms = now + rsv_lease_ttl_ms(r);
}

static aop_status_t pay_entry(rsv_t *r, const aop_offline_pay_request_t *rq, aop_error_t *err) {
    const aop_offline_pay_request_body_t *b = &rq->body;
    entry_common(r, AOP_ENTRY_PAYMENT, &aop_fn_offline_pay, b->merchant_id);
    rsv_copy(r->e.key, sizeof r->e.key, b->merchant_trans_id);
    rsv_copy(r->e.amount, sizeof r->e.amount, b->order.order_amount.value);
    rsv_copy(r->e.currency, sizeof r->e.currency, b->order.order_amount.currency);
    aop_offline_pay_request_body_t copy = *b;
    copy.identity_code = aop_str(CODE_PLACEHOLDER); /* a live credential: never journaled */
    aop_status_t st = encode_body(&aop_offline_pay_request_body_desc, &copy, &r->e, err);
    if (st == AOP_OK) cut_code(&r->e);
    return st;
}

static aop_status_t refund_entry(rsv_t *r, const aop_refund_request_t *rq, aop_error_t *err) {
    const aop_refund_request_body_t *b = &rq->body;
    entry_common(r, AOP_ENTRY_REFUND, &aop_fn_refund, b->merchant_id);
    rsv_copy(r->e.key, sizeof r->e.key, b->merchant_refund_id);
    rsv_copy(r->e.payment_acquirement_id, sizeof r->e.payment_acquirement_id, b->acquirement_id);
    rsv_copy(r->e.amount, sizeof r->e.amount, b->refund_amount.value);
    rsv_copy(r->e.currency, sizeof r->e.currency, b->refund_amount.currency);
    return encode_body(&aop_refund_request_body_desc, b, &r->e, err);
}

static aop_outcome_t outcome_of_state(aop_entry_state_t s) {
    switch (s) {
    case AOP_STATE_PAID: return AOP_OUTCOME_PAID;
    case AOP_STATE_FAILED: return AOP_OUTCOME_FAILED;
    case AOP_STATE_CANCELLED: return AOP_OUTCOME_CANCELLED;
    case AOP_STATE_REFUNDED: return AOP_OUTCOME_REFUNDED;
    case AOP_STATE_NEEDS_ATTENTION: return AOP_OUTCOME_NEEDS_ATTENTION;
    default: return AOP_OUTCOME_UNRESOLVED;
    }
}

/* A final or NEEDS_ATTENTION entry of the same request: reported as the journal has it, nothing
 * sent (the outcome is known, or a person decides). */
static void report_journaled(rsv_t *r, const aop_journal_entry_t *old) {
    r->e = *old;
    aop_resolution_t *res = r->res;
    res->outcome = outcome_of_state(old->state);
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

/* Takes the open entry over from a dead or expired owner (or ourselves). False when a live owner
 * holds it: the resolution says taken over. */
static bool claim_entry(rsv_t *r, int64_t id) {
    aop_error_t err;
    int64_t now = aop_now_ms();
    aop_status_t st = aop_journal_claim(r->j, id, r->owner, now, now + rsv_lease_ttl_ms(r), NULL, NULL, &r->e, &err);
    if (st == AOP_OK) return true;
    r->res->taken_over = st == AOP_E_TAKEN_OVER;
    snprintf(r->res->reason, sizeof r->res->reason, "entry %lld: %.150s", (long long)id,
             st == AOP_E_TAKEN_OVER ? "another live process holds it" : err.msg);
    r->res->entry_id = id;
    return false;
}

static bool same_pay(const aop_journal_entry_t *a, const aop_journal_entry_t *b) {
    return strcmp(a->amount, b->amount) == 0 && strcmp(a->currency, b->currency) == 0;
}

static bool same_refund(const aop_journal_entry_t *a, const aop_journal_entry_t *b) {
    return a->request_len == b->request_len && memcmp(a->request, b->request, a->request_len) == 0;
}

/* Where a resumed payment goes on: its own pay re-sent (the caller has the identityCode again),
 * except a cancel under way, which goes on, and an UNRESOLVED entry, which is queried. */
static rsv_act_t resume_at(aop_entry_state_t s) {
    if (s == AOP_STATE_CANCELLING) return RSV_CANCEL;
    if (s == AOP_STATE_UNRESOLVED) return RSV_QUERY;
    return RSV_PAY;
}

/* Commits the new entry: nothing may leave before it is durable. */
static aop_status_t commit(rsv_t *r, aop_error_t *err) {
    aop_status_t st = aop_journal_insert(r->j, &r->e, err);
    if (st == AOP_OK) {
        r->res->entry_id = r->e.id;
        snprintf(r->res->key, sizeof r->res->key, "%s", r->e.key);
        RSV_CRASH_POINT("journaled");
        return AOP_OK;
    }
    return st == AOP_E_JOURNAL ? st : aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: %s", err ? err->msg : "");
}

/* Looks the key up: AOP_OK with *found, or a journal error. */
static aop_status_t lookup(rsv_t *r, aop_journal_entry_t *old, bool *found, aop_error_t *err) {
    aop_status_t st = aop_journal_find(r->j, r->e.kind, r->e.gateway, r->e.merchant_id, r->e.key, old, err);
    *found = st == AOP_OK;
    if (st == AOP_OK || st == AOP_E_MISSING) return AOP_OK;
    return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: %s", err ? err->msg : "");
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

/* The entry of this key when the journal has one (*found, a copy in *old, the caller frees it);
 * otherwise the new entry committed, durably, before anything is sent. */
static aop_status_t find_or_commit(rsv_t *r, aop_journal_entry_t **old, bool *found, aop_error_t *err) {
    *old = malloc(sizeof **old);
    if (!*old) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    aop_status_t st = lookup(r, *old, found, err);
    if (st == AOP_OK && !*found) st = commit(r, err);
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
    aop_journal_entry_t *old = NULL;
    bool found = false;
    if (st == AOP_OK) st = find_or_commit(&r, &old, &found, err);
    if (st != AOP_OK) return fail(&r, st);
    r.pay = &rq;
    r.pay_give_up_ms = aop_now_ms() + rsv_deadline_ms(&r, &aop_fn_offline_pay);
    if (!found) {
        rsv_progress(&r, AOP_PHASE_SENDING);
        rsv_pay_run(&r, RSV_PAY);
    } else if (!same_pay(old, &r.e)) {
        send_unjournaled(&r, &aop_fn_offline_pay, &rq, old);
    } else if (aop_entry_state_final(old->state) || old->state == AOP_STATE_NEEDS_ATTENTION) {
        report_journaled(&r, old);
    } else if (claim_entry(&r, old->id)) {
        r.resume = true;
        r.ever_sent = true; /* the earlier process may have sent it */
        rsv_progress(&r, AOP_PHASE_SENDING);
        /* --no-resolve: the one call is the pay, whatever state the entry is in */
        rsv_pay_run(&r, r.o.single_call ? RSV_PAY : resume_at(r.e.state));
    }
    free(old);
    *out = r.res;
    return AOP_OK;
}

/* Whether the payment this refund refunds has an open entry (its acquirementId is trusted). */
typedef struct {
    const aop_journal_entry_t *refund;
    bool open;
} open_payment_t;

static bool find_open_payment(const aop_journal_entry_t *e, void *ctx) {
    open_payment_t *p = ctx;
    if (e->kind == AOP_ENTRY_PAYMENT && !aop_entry_state_final(e->state) && e->acquirement_id[0] &&
        strcmp(e->acquirement_id, p->refund->payment_acquirement_id) == 0 &&
        strcmp(e->gateway, p->refund->gateway) == 0 && strcmp(e->merchant_id, p->refund->merchant_id) == 0)
        p->open = true;
    return !p->open;
}

static aop_status_t payment_open(rsv_t *r, aop_error_t *err) {
    open_payment_t p = {&r->e, false};
    aop_status_t st = aop_journal_list(r->j, true, find_open_payment, &p, err);
    if (st != AOP_OK) return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "journal: %s", err ? err->msg : "");
    if (p.open)
        return aop_error_set(err, AOP_E_ENTRY_OPEN, "request.body.acquirementId", -1,
                             "the payment's journal entry is open: resolve it (aop recover) before refunding");
    return AOP_OK;
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
    aop_journal_entry_t *old = NULL;
    bool found = false;
    if (st == AOP_OK) st = find_or_commit(&r, &old, &found, err);
    if (st != AOP_OK) return fail(&r, st);
    r.refund = &rq;
    if (!found) {
        rsv_progress(&r, AOP_PHASE_SENDING);
        rsv_refund_run(&r, true);
    } else if (!same_refund(old, &r.e)) {
        send_unjournaled(&r, &aop_fn_refund, &rq, old);
    } else if (aop_entry_state_final(old->state) || old->state == AOP_STATE_NEEDS_ATTENTION) {
        report_journaled(&r, old);
    } else if (claim_entry(&r, old->id)) {
        r.resume = true;
        r.ever_sent = true;
        rsv_progress(&r, AOP_PHASE_SENDING);
        rsv_refund_run(&r, false);
    }
    free(old);
    *out = r.res;
    return AOP_OK;
}
