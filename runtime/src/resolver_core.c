/* SPDX-License-Identifier: MIT */
/* What every resolution shares: the resolution object and its steps, one call at a time, and the
 * journal's compare-and-set with the lease renewed on every write. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/util.h"
#include "client_internal.h"
#include "journal_time.h"
#include "resolver_internal.h"

aop_resolution_t *rsv_resolution_new(void) {
    aop_resolution_t *res = calloc(1, sizeof *res);
    if (res) res->outcome = AOP_OUTCOME_UNRESOLVED; /* never "failed" until something decides it */
    return res;
}

void aop_resolution_free(aop_resolution_t *r) {
    if (!r) return;
    aop_result_free(r->result);
    free(r->steps);
    free(r);
}

aop_status_t rsv_init(rsv_t *r, aop_client_t *c, aop_journal_t *j, const aop_resolve_options_t *opts,
                      aop_error_t *err) {
    memset(r, 0, sizeof *r);
    r->c = c;
    r->j = j;
    aop_status_t st = rsv_adopt_options(opts, &r->o, err);
    if (st != AOP_OK) return st;
    aop_journal_self_owner(r->owner);
    r->backoff_s = r->o.policy.backoff_min_s;
    /* only the holder of the merchant key writes a valid entry, and checks one before sending */
    if ((st = aop_internal_client_journal_key(c, &r->key, err)) != AOP_OK) return st;
    aop_error_t ignored;
    r->notices = aop_journal_notices_supported(j, &ignored) == AOP_OK;
    r->res = rsv_resolution_new();
    return r->res ? AOP_OK : aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
}

void rsv_copy(char *dst, size_t cap, aop_str_t s) {
    size_t n = s.ptr ? (s.len < cap ? s.len : cap - 1) : 0;
    if (n) memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

bool rsv_decided(const aop_result_t *res) { return res && res->error == AOP_OK && res->claimed_status != 0; }

bool rsv_code_is(const aop_result_t *res, const char *code) { return aop_str_eq_cstr(res->result_code, code); }

static const aop_offline_pay_query_response_t *query_view(const aop_result_t *res) {
    return rsv_decided(res) ? aop_offline_pay_query_response(res) : NULL;
}

static bool add_step(aop_resolution_t *res, const aop_result_t *out, int64_t at_ms) {
    aop_step_t *steps = realloc(res->steps, (res->n_steps + 1) * sizeof *steps);
    if (!steps) return false;
    res->steps = steps;
    aop_step_t *s = &steps[res->n_steps++];
    memset(s, 0, sizeof *s);
    s->function = out->function;
    s->status = out->status;
    s->decided = rsv_decided(out);
    s->error = out->error;
    rsv_copy(s->result_code, sizeof s->result_code, out->result_code);
    const aop_offline_pay_query_response_t *q = query_view(out);
    if (q) rsv_copy(s->acquirement_status, sizeof s->acquirement_status, q->body.acquirement_status.text);
    s->latency_ms = out->latency_ms;
    s->http_status = out->http_status;
    s->at_ms = at_ms;
    return true;
}

const aop_result_t *rsv_call(rsv_t *r, const aop_function_desc_t *fn, const void *req) {
    aop_call_options_t co;
    aop_call_options_init(&co);
    co.deadline_ms = rsv_deadline_ms(r, fn);
    co.stop_flag = r->o.stop_flag; /* a stop abandons the call in flight too */
    int64_t at = aop_now_ms();
    /* A pay starts now, not when it was journaled: the cancel moment counts from here (the
     * journaled start may be up to PAY_START_SLACK_MS earlier; recovery adds that slack). */
    if (fn == &aop_fn_offline_pay) rsv_stamp_pay_start(r);
    aop_result_t *out = NULL;
    aop_error_t err;
    aop_status_t st = aop_call(r->c, fn, req, &co, &out, &err);
    if (st != AOP_OK || !add_step(r->res, out, at)) {
        /* the request was checked before anything was journaled, so only memory fails here */
        snprintf(r->res->reason, sizeof r->res->reason, "%.40s could not be sent: %.120s", fn->name,
                 st != AOP_OK ? err.msg : "out of memory");
        aop_result_free(out);
        return NULL;
    }
    r->ever_sent |= out->maybe_sent;
    aop_result_free(r->res->result); /* the resolution keeps the last call's (the deciding one) */
    r->res->result = out;
    return out;
}

void rsv_progress(rsv_t *r, aop_phase_t next) {
    if (!r->o.on_progress) return;
    const aop_resolution_t *res = r->res;
    r->o.on_progress(res->n_steps ? &res->steps[res->n_steps - 1] : NULL, next, r->o.progress_ctx);
}

/* The raw status of an answer as the journal keeps it: a query's acquirementStatus as read, or
 * "<S|F|U> <resultCode>", or "U <why undecided>". */
static void raw_status(const aop_result_t *res, char *out, size_t cap) {
    const aop_offline_pay_query_response_t *q = query_view(res);
    if (q && res->status == 'S') {
        aop_str_t t = q->body.acquirement_status.text;
        snprintf(out, cap, "%.*s", t.ptr ? (int)t.len : 9, t.ptr ? t.ptr : "(missing)");
    } else if (rsv_decided(res)) {
        snprintf(out, cap, "%c %.*s", res->status, (int)res->result_code.len, res->result_code.ptr);
    } else {
        snprintf(out, cap, "U %s", aop_status_name(res->error));
    }
}

/* The answer's acquirementId, and whether the answer names this payment by merchantTransId
 * (the echo present and equal: only then is the acquirementId trusted). */
static aop_str_t answer_ids(const rsv_t *r, const aop_result_t *res, bool *echo_equal) {
    aop_str_t acq = AOP_STR_NULL, mtid = AOP_STR_NULL;
    const aop_offline_pay_response_t *p = aop_offline_pay_response(res);
    const aop_offline_pay_query_response_t *q = aop_offline_pay_query_response(res);
    if (p) {
        acq = p->body.acquirement_id;
        mtid = p->body.merchant_trans_id;
    } else if (q) {
        acq = q->body.acquirement_id;
        mtid = q->body.merchant_trans_id;
    }
    *echo_equal = aop_str_eq_cstr(mtid, r->e.key);
    return acq;
}

void rsv_note_call(rsv_t *r, const aop_result_t *res) {
    aop_journal_entry_t *e = &r->e;
    int64_t now = aop_now_ms();
    e->attempts++;
    e->last_attempt_ms = r->res->n_steps ? r->res->steps[r->res->n_steps - 1].at_ms : now;
    raw_status(res, e->last_status, sizeof e->last_status);
    r->dirty |= AOP_WRITE_CALL;
    if (!rsv_decided(res)) return; /* an undecided answer teaches nothing: its claims may be forged */
    rsv_copy(e->last_code, sizeof e->last_code, res->result_code);
    bool echo_equal = false;
    aop_str_t acq = answer_ids(r, res, &echo_equal);
    const aop_offline_pay_query_response_t *q = aop_offline_pay_query_response(res);
    /* an empty id or status shows nothing the gateway knows */
    bool has_state = q && res->status == 'S' && q->body.acquirement_status.text.ptr &&
                     q->body.acquirement_status.text.len > 0;
    if ((acq.ptr && acq.len > 0) || has_state) e->acknowledged = true;
    if (acq.ptr && acq.len > 0 && acq.len < sizeof e->acquirement_id && echo_equal && !aop_str_eq_cstr(acq, e->acquirement_id)) {
        rsv_copy(e->acquirement_id, sizeof e->acquirement_id, acq);
        /* queries and cancels go by it: the trusted id is MACed with the rest */
        aop_journal_entry_seal(&r->key, e);
        r->dirty |= AOP_WRITE_ACQUIREMENT;
    }
}

void rsv_stamp_pay_start(rsv_t *r) {
    r->pay_start_mono = aop_mono_ms();
    r->pay_start_exact = true;
}

void rsv_adopt_entry(rsv_t *r) {
    aop_journal_entry_t *e = &r->e;
    aop_journal_now_t now;
    aop_error_t ignored;
    /* Without the store's now, the pay counts as just started: the cancel moment comes later,
     * never earlier. */
    int64_t since = aop_journal_now(r->j, &now, &ignored) == AOP_OK
                        ? aop_journal_elapsed_ms(&now, e->clock_id, e->pay_started_ms, e->pay_started_clock_ms)
                        : 0;
    if (since < 0) since = 0;
    /* a last query under way goes by the cancel's answer, the last one noted before it */
    if (e->state == AOP_STATE_LAST_CHECK) snprintf(r->cancel_code, sizeof r->cancel_code, "%s", e->last_code);
    r->pay_start_mono = aop_mono_ms() - since;
    r->pay_start_exact = false;
}

bool rsv_watch_due(rsv_t *r) {
    aop_journal_now_t now;
    aop_error_t ignored;
    return aop_journal_now(r->j, &now, &ignored) == AOP_OK && aop_internal_journal_watch_due(&r->e, &now);
}

bool rsv_mac_ok(const rsv_t *r) { return aop_journal_entry_check(&r->key, &r->e) == AOP_MAC_OK; }

void rsv_ids(const rsv_t *r, aop_str_t *merchant_id, aop_str_t *acq, aop_str_t *mtid) {
    *merchant_id = aop_str(r->e.merchant_id);
    /* with both ids the gateway goes by acquirementId: an untrusted one could name another
     * payment, so it is sent only when trusted */
    *acq = r->e.acquirement_id[0] ? aop_str(r->e.acquirement_id) : AOP_STR_NULL;
    *mtid = aop_str(r->e.key);
}

static void sync_resolution(rsv_t *r) {
    aop_resolution_t *res = r->res;
    snprintf(res->key, sizeof res->key, "%s", r->e.key);
    snprintf(res->acquirement_id, sizeof res->acquirement_id, "%s",
             r->e.kind == AOP_ENTRY_REFUND ? r->e.payment_acquirement_id : r->e.acquirement_id);
    res->entry_id = r->e.id;
    res->watch = r->e.watch;
    res->kind = r->e.kind;
}

/* A failed write ends the resolution: the step's outcome is not the journal's, so it is not
 * reported (another process owns the entry now, or the journal cannot be written). */
static bool journal_failed(rsv_t *r, aop_status_t st, const aop_error_t *err) {
    aop_resolution_t *res = r->res;
    r->journal_lost = true;
    res->outcome = AOP_OUTCOME_UNRESOLVED;
    res->decided_by = NULL;
    res->acquirement_status[0] = '\0';
    aop_result_free(res->result);
    res->result = NULL;
    if (res->n_steps) res->n_steps--; /* its status would tell the step's outcome */
    if (st == AOP_E_TAKEN_OVER) {
        res->taken_over = true;
        snprintf(res->reason, sizeof res->reason, "taken over by another process");
    } else {
        snprintf(res->reason, sizeof res->reason, "the journal could not be written: %.150s", err->msg);
    }
    return false;
}

/* Writes the entry in state s with the groups of r->dirty, its lease for ttl_ms (0: released). */
static bool write_entry(rsv_t *r, aop_entry_state_t s, int64_t ttl_ms) {
    /* the lease written is ours (the compare-and-set compares the owner) */
    assert(strcmp(r->e.lease_owner, r->owner) == 0);
    aop_journal_write_t w = {.expect_state = r->e.state,
                             .columns = r->dirty,
                             .lease_ttl_ms = ttl_ms,
                             .watch_in_ms = r->watch_in_ms,
                             .next_attempt_in_ms = r->next_in_ms};
    r->e.state = s;
    aop_error_t err;
    aop_status_t st = aop_journal_transition(r->j, &r->e, &w, &err);
    if (st != AOP_OK) {
        r->e.state = w.expect_state;
        return journal_failed(r, st, &err);
    }
    r->dirty = 0;
    sync_resolution(r);
    return true;
}

bool rsv_save(rsv_t *r, aop_entry_state_t s) { return write_entry(r, s, rsv_lease_ttl_ms(r)); }

/* Released = our lease ending now: anyone may claim it at once. (The owner stays ours because the
 * compare-and-set checks it.) Only the lease is written unless something else changed. */
void rsv_release(rsv_t *r) {
    if (r->journal_lost) return;
    if (r->dirty) {
        write_entry(r, r->e.state, 0);
        return;
    }
    aop_error_t err;
    aop_status_t st = aop_journal_renew(r->j, &r->e, 0, &err);
    if (st != AOP_OK) journal_failed(r, st, &err);
}

rsv_step_t rsv_finish(rsv_t *r, aop_outcome_t o, const aop_function_desc_t *decided_by, const char *fmt, ...) {
    char reason[AOP_ERROR_MSG_MAX] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
    }
    aop_journal_entry_t *e = &r->e;
    /* a payment "failed" or "cancelled" that the gateway never showed it knew may still be paid
     * by a late pay: one query after the wallet code's lifetime must agree */
    if (e->kind == AOP_ENTRY_PAYMENT && (o == AOP_OUTCOME_FAILED || o == AOP_OUTCOME_CANCELLED) &&
        !e->acknowledged && !r->no_watch) {
        e->watch = true;
        r->watch_in_ms = (int64_t)(r->o.policy.watch_window_s * 1000.0);
    }
    if (o == AOP_OUTCOME_NEEDS_ATTENTION) e->watch = false; /* a person decides: no late query */
    snprintf(e->note, sizeof e->note, "%s", reason);
    /* when recovery may take it up again (rows D7, D8) */
    rsv_retry_decision_t retry;
    rsv_decide_retry(o, e->backoff_ms, &retry);
    e->backoff_ms = retry.backoff_ms;
    r->next_in_ms = retry.in_ms;
    r->dirty |= AOP_WRITE_WATCH | AOP_WRITE_NOTE | AOP_WRITE_NEXT_ATTEMPT;
    if (!write_entry(r, rsv_state_of_outcome(o), 0)) return RSV_DONE;
    aop_resolution_t *res = r->res;
    res->outcome = o;
    res->decided_by = decided_by;
    snprintf(res->reason, sizeof res->reason, "%s", reason);
    rsv_progress(r, AOP_PHASE_DONE);
    return RSV_DONE;
}

rsv_step_t rsv_interrupt(rsv_t *r) {
    rsv_release(r);
    if (r->journal_lost) return RSV_DONE;
    r->res->outcome = AOP_OUTCOME_UNRESOLVED;
    r->res->interrupted = true;
    snprintf(r->res->reason, sizeof r->res->reason, "interrupted: entry %lld is open (%s); aop recover finishes it",
             (long long)r->e.id, aop_entry_state_name(r->e.state));
    return RSV_DONE;
}

void rsv_altered(rsv_t *r) {
    aop_mac_check_t c = aop_journal_entry_check(&r->key, &r->e);
    rsv_finish(r, AOP_OUTCOME_NEEDS_ATTENTION, NULL,
               "the journal entry was altered: its MAC %s; nothing was sent (a person checks it)",
               c == AOP_MAC_NONE        ? "is missing"
               : c == AOP_MAC_OTHER_KEY ? "was made with another merchant key"
                                        : "does not verify");
}
