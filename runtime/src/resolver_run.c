/* SPDX-License-Identifier: MIT */
/* The executor of the rows (docs/resolver.md): each step waits for its moment, asks the rows
 * checked before its call, makes its one call, notes the answer in the entry, asks the rows what
 * the answer means (resolver_rows.c), and applies the decision: the journal write (the state of
 * the next step, or of the outcome), the wait, the crash point, the progress. Every effect is
 * here; every choice is in the rows. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "aop/util.h"
#include "resolver_internal.h"

static const aop_function_desc_t *fn_of(rsv_step_t s) {
    switch (s) {
    case RSV_PAY: return &aop_fn_offline_pay;
    case RSV_CANCEL: return &aop_fn_pay_cancel;
    case RSV_REFUND: return &aop_fn_refund;
    default: return &aop_fn_offline_pay_query;
    }
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* No cancel before the last pay's start + its deadline + the margin: until then that pay may
 * still be on its way, and a cancel before it arrives would not stop it. */
static int64_t cancel_allowed_ms(const rsv_t *r) {
    /* a start read back from the journal may be up to PAY_START_SLACK_MS early (stamp_pay_start) */
    int64_t slack = r->pay_start_exact ? 0 : PAY_START_SLACK_MS;
    return r->pay_start_mono + r->e.pay_deadline_ms + (int64_t)(r->o.policy.cancel_margin_s * 1000.0) + slack;
}

/* The query budget runs from the last pay's start (a recovery's from the journaled one). */
static int64_t query_until_ms(const rsv_t *r) {
    return r->pay_start_mono + (int64_t)(r->o.policy.query_budget_s * 1000.0);
}

static int64_t ms_of(double s) { return (int64_t)(s * 1000.0 + 0.5); }

/* ---- facts ------------------------------------------------------------------------------------ */

/* What the loop knows before the step's call. */
static void facts_before(const rsv_t *r, rsv_step_t step, bool aborted, rsv_facts_t *f) {
    memset(f, 0, sizeof *f);
    f->step = step;
    f->single_call = r->o.single_call;
    f->aborted = aborted || rsv_abort_requested(r);
    f->earlier_left = r->ever_sent;
    f->acknowledged = r->e.acknowledged;
    f->again = r->calls[step] > 0;
    f->cancel_not_exist = strcmp(r->cancel_code, AOP_RC_ORDER_NOT_EXIST) == 0;
    f->watched = rsv_outcome_of_state(r->e.state);
    f->cancel_code = r->cancel_code;
    f->mistake = r->mistake;
    f->mistake_detail = r->mistake_detail;
    f->amount = r->e.amount;
    f->currency = r->e.currency;
    f->last_status = r->e.last_status;
    int64_t now = aop_mono_ms();
    switch (step) {
    case RSV_QUERY:
        f->budget_spent = now >= query_until_ms(r);
        f->cancel_moment_passed = now >= cancel_allowed_ms(r);
        break;
    case RSV_CANCEL: f->budget_spent = r->cancel_until_ms && now >= r->cancel_until_ms; break;
    case RSV_REFUND: f->budget_spent = r->refund_until_ms && now >= r->refund_until_ms; break;
    default: break;
    }
}

/* The outcome a query's S answer shows: acquirementStatus -> outcome, 0 while still open. */
static aop_outcome_t query_shows(const aop_result_t *res) {
    static const struct {
        aop_acquirement_status_enum_t status;
        aop_outcome_t outcome;
    } final_status[] = {
        {AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS, AOP_OUTCOME_PAID},
        {AOP_ACQUIREMENT_STATUS_ENUM_CLOSED, AOP_OUTCOME_FAILED},
        {AOP_ACQUIREMENT_STATUS_ENUM_CANCELLED, AOP_OUTCOME_CANCELLED},
    };
    const aop_offline_pay_query_response_t *q = rsv_decided(res) ? aop_offline_pay_query_response(res) : NULL;
    for (size_t i = 0; q && i < sizeof final_status / sizeof *final_status; i++)
        if (q->body.acquirement_status.value == (int)final_status[i].status) return final_status[i].outcome;
    return (aop_outcome_t)0;
}

/* A SUCCESS whose orderAmount is not the journal's contradicts the payment we made. */
static bool other_amount(const rsv_t *r, const aop_result_t *res) {
    const aop_offline_pay_query_response_t *q = aop_offline_pay_query_response(res);
    return q && q->body.has_order_amount &&
           (!aop_str_eq_cstr(q->body.order_amount.value, r->e.amount) ||
            !aop_str_eq_cstr(q->body.order_amount.currency, r->e.currency));
}

/* Whether an undecided answer looks like a mistake of configuration rather than of the network:
 * HTTP 404 or 405 (the gateway URL's path), or an error on an HTTP 200 answer that is no
 * transport's (it came back, and did not verify). Timeouts and connection errors never count. */
static aop_mistake_t failure_kind(const aop_result_t *res) {
    if (res->http_status == 404 || res->http_status == 405) return AOP_MISTAKE_PATH;
    if (res->http_status != 200 || res->error == AOP_OK) return AOP_MISTAKE_NONE;
    switch (res->error) {
    case AOP_E_TIMEOUT:
    case AOP_E_CONNECT:
    case AOP_E_TRANSPORT:
    case AOP_E_BODY_TOO_LARGE:
    case AOP_E_STOPPED:
    case AOP_E_NOMEM: return AOP_MISTAKE_NONE;
    default: return AOP_MISTAKE_UNVERIFIED;
    }
}

/* Texts the facts point at while a decision is made. */
typedef struct {
    char code[AOP_JOURNAL_ID_SIZE];
    char acq_status[AOP_JOURNAL_STATUS_SIZE];
} answer_text_t;

/* What the call's answer adds to the facts. */
static void facts_of_answer(const rsv_t *r, const aop_result_t *res, answer_text_t *t, rsv_facts_t *f) {
    rsv_copy(t->code, sizeof t->code, res->result_code);
    t->acq_status[0] = '\0';
    const aop_offline_pay_query_response_t *q = rsv_decided(res) ? aop_offline_pay_query_response(res) : NULL;
    if (q) rsv_copy(t->acq_status, sizeof t->acq_status, q->body.acquirement_status.text);
    f->sent = res->maybe_sent;
    f->decided = rsv_decided(res);
    f->status = res->status;
    /* the classes of schema/result_codes.yaml (docs/resolver.md, "Result-code classes") */
    f->credential = aop_result_code_in(res->code, AOP_RC_CLASS_CREDENTIAL);
    f->throttled = aop_result_code_in(res->code, AOP_RC_CLASS_THROTTLED);
    f->order_not_exist = rsv_code_is(res, AOP_RC_ORDER_NOT_EXIST);
    f->repeat_inconsistent = rsv_code_is(res, AOP_RC_REPEAT_REQ_INCONSISTENT);
    f->in_process = rsv_code_is(res, AOP_RC_PAYMENT_IN_PROCESS);
    f->shows = res->status == 'S' ? query_shows(res) : (aop_outcome_t)0;
    f->other_amount = f->shows == AOP_OUTCOME_PAID && other_amount(r, res);
    f->code = t->code;
    f->acq_status = t->acq_status;
    f->why = aop_status_name(res->error);
    f->detail = res->detail.msg;
    aop_mistake_t kind = rsv_decided(res) ? AOP_MISTAKE_NONE : failure_kind(res);
    f->fails_as_pay = f->step == RSV_QUERY && kind != AOP_MISTAKE_NONE && kind == r->pay_failure &&
                      (kind == AOP_MISTAKE_PATH || (res->error == r->pay_failure_error && res->http_status == r->pay_failure_http));
    if (f->fails_as_pay) f->mistake = kind;
    /* the call took its time: is there still room for a re-send after the next back-off? */
    if (f->step == RSV_PAY) f->resend_in_window = aop_mono_ms() + ms_of(r->backoff_s) < r->pay_give_up_ms;
}

/* ---- applying a decision ------------------------------------------------------------------------ */

/* Remembers how a pay's answer failed, and what a row recognised as a mistake of configuration. */
static void note_mistakes(rsv_t *r, rsv_step_t step, const aop_result_t *res, const rsv_decision_t *d) {
    if (step == RSV_PAY && res) {
        r->pay_failure = rsv_decided(res) ? AOP_MISTAKE_NONE : failure_kind(res);
        r->pay_failure_error = res->error;
        r->pay_failure_http = res->http_status;
    }
    if (d->mistake == AOP_MISTAKE_NONE || r->mistake != AOP_MISTAKE_NONE) return;
    r->mistake = d->mistake;
    r->res->mistake = d->mistake;
    r->res->mistake_http_status = res ? res->http_status : 0;
    r->res->mistake_error = res ? res->error : AOP_OK;
    if (!res) return;
    if (res->error != AOP_OK && res->http_status == 200)
        snprintf(r->mistake_detail, sizeof r->mistake_detail, "%s on HTTP 200", aop_status_name(res->error));
    else
        snprintf(r->mistake_detail, sizeof r->mistake_detail, "HTTP %ld", res->http_status);
}

static rsv_step_t apply(rsv_t *r, rsv_step_t step, const rsv_decision_t *d, const answer_text_t *t) {
    snprintf(r->res->row, sizeof r->res->row, "%s", d->row);
    if (d->no_watch) r->no_watch = true;
    if (d->next == RSV_DONE) {
        /* a query's reading of the payment is reported with the outcome it decided */
        if (d->by_call && t && t->acq_status[0]) snprintf(r->res->acquirement_status, sizeof r->res->acquirement_status, "%s", t->acq_status);
        if (step == RSV_WATCH) r->e.watch = d->keep_watch;
        r->res->late_paid = d->late_paid;
        return rsv_finish(r, d->outcome, d->by_call ? fn_of(step) : NULL, "%s", d->reason);
    }
    assert(d->next >= RSV_PAY && d->next < RSV_STEP_COUNT && d->next != RSV_WATCH);
    if (d->next == RSV_LAST_QUERY && t) snprintf(r->cancel_code, sizeof r->cancel_code, "%s", t->code);
    rsv_schedule(r, d->wait);
    aop_entry_state_t s = rsv_state_of_step(d->next, r->ever_sent);
    if (!rsv_save(r, s)) return RSV_DONE;
    if (s == AOP_STATE_POLLING) RSV_CRASH_POINT("polling");
    if (s == AOP_STATE_CANCELLING && step != RSV_CANCEL) RSV_CRASH_POINT("cancelling");
    rsv_progress(r, d->phase);
    return d->next;
}

/* ---- the calls ------------------------------------------------------------------------------------ */

/* The pay leaves within PAY_START_SLACK_MS (monotonic) of the start of the write whose store
 * stamped its start, or that start is stamped again first: a slow journal write, a group
 * commit's wait or a progress callback never makes the journaled start (hence a recovery's cancel
 * moment) early by more than the slack recovery adds. */
static bool stamp_pay_start(rsv_t *r) {
    for (int i = 0; aop_mono_ms() - r->stamp_write_mono > PAY_START_SLACK_MS; i++) {
        if (i == PAY_START_RESTAMPS) {
            /* the journal cannot keep up: nothing leaves; recovery finishes the open entry */
            snprintf(r->res->reason, sizeof r->res->reason, "not sent: the journal took more than %d ms to stamp "
                     "the pay's start %d times", PAY_START_SLACK_MS, PAY_START_RESTAMPS);
            return false;
        }
        r->stamp_write_mono = aop_mono_ms();
        r->dirty |= AOP_WRITE_PAY_START;
        if (!rsv_save(r, r->e.state)) return false;
    }
    return true;
}

static const aop_result_t *send_pay(rsv_t *r) {
    if (r->calls[RSV_PAY] > 0 || r->resume) { /* a re-send: its start and deadline bound the cancel */
        r->e.pay_deadline_ms = rsv_deadline_ms(r, fn_of(RSV_PAY));
        r->stamp_write_mono = aop_mono_ms();
        r->dirty |= AOP_WRITE_PAY_START;
        if (!rsv_save(r, rsv_state_of_step(RSV_PAY, r->ever_sent))) return NULL;
    }
    if (!stamp_pay_start(r)) return NULL;
    return rsv_call(r, fn_of(RSV_PAY), r->pay);
}

static const aop_result_t *send_by_ids(rsv_t *r, rsv_step_t step) {
    if (step == RSV_CANCEL) {
        aop_pay_cancel_request_t k;
        memset(&k, 0, sizeof k);
        rsv_ids(r, &k.body.merchant_id, &k.body.acquirement_id, &k.body.merchant_trans_id);
        return rsv_call(r, fn_of(step), &k);
    }
    aop_offline_pay_query_request_t q;
    memset(&q, 0, sizeof q);
    rsv_ids(r, &q.body.merchant_id, &q.body.acquirement_id, &q.body.merchant_trans_id);
    return rsv_call(r, fn_of(step), &q);
}

/* Before a cancel leaves, the entry says that one may have (cancel_sent), durably: a SUCCESS
 * notification decides PAID only for an entry no cancel may have reversed (rows N8, N9). Synced
 * once per run: a flag read back from the journal may not be on disk yet. */
static bool note_cancel(rsv_t *r) {
    if (r->cancel_synced) return true;
    if (!r->e.cancel_sent) {
        r->e.cancel_sent = true;
        r->dirty |= AOP_WRITE_CANCEL;
        if (!rsv_save(r, r->e.state)) return false;
    }
    aop_error_t err;
    aop_status_t st = aop_journal_sync(r->j, &err);
    /* a store without sync keeps no notifications: nothing reads the flag but a person */
    if (st != AOP_OK && st != AOP_E_JOURNAL_UNSUPPORTED) {
        snprintf(r->res->reason, sizeof r->res->reason, "not sent: the journal could not make the cancel's note "
                 "durable: %.120s", err.msg);
        return false;
    }
    r->cancel_synced = true;
    return true;
}

/* The step's one call; NULL when it could not be made (the reason is in the resolution) or the
 * journal write before it failed (journal_lost). */
static const aop_result_t *call(rsv_t *r, rsv_step_t step) {
    int64_t now = aop_mono_ms();
    switch (step) {
    case RSV_PAY: return send_pay(r);
    case RSV_CANCEL:
        if (!r->cancel_until_ms) {
            double budget = r->o.policy.cancel_budget_s;
            if (r->mistake != AOP_MISTAKE_NONE && budget > MISTAKE_CANCEL_BUDGET_S) budget = MISTAKE_CANCEL_BUDGET_S;
            r->cancel_until_ms = now + ms_of(budget);
        }
        if (!note_cancel(r)) return NULL;
        return send_by_ids(r, step);
    case RSV_REFUND:
        if (!r->refund_until_ms) r->refund_until_ms = now + ms_of(r->o.policy.refund_budget_s);
        return rsv_call(r, fn_of(step), r->refund);
    default: return send_by_ids(r, step);
    }
}

/* Ends the loop when a call could not even be made (memory): the entry stays open. */
static rsv_step_t call_failed(rsv_t *r) {
    if (r->journal_lost) return RSV_DONE;
    char why[AOP_ERROR_MSG_MAX];
    snprintf(why, sizeof why, "%s", r->res->reason);
    return rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "%s", why);
}

/* ---- the steps ---------------------------------------------------------------------------------- */

/* Whether an abort ends the step's wait: the query's (the cancel follows), and the re-send of a
 * pay that never left (nothing can have been charged). */
static bool abort_wakes(const rsv_t *r, rsv_step_t step) {
    return step == RSV_QUERY || (step == RSV_PAY && !r->ever_sent && r->calls[RSV_PAY] > 0);
}

static int64_t moment(const rsv_t *r, rsv_step_t step) {
    return step == RSV_CANCEL ? max64(r->next_at_ms, cancel_allowed_ms(r)) : r->next_at_ms;
}

static rsv_step_t run_step(rsv_t *r, rsv_step_t step) {
    assert(step >= RSV_PAY && step < RSV_STEP_COUNT);
    assert(step != RSV_PAY || r->pay);
    assert(step != RSV_REFUND || r->refund);
    r->waiting_for = step;
    rsv_wake_t w = rsv_sleep_until(r, moment(r, step), abort_wakes(r, step));
    if (w == RSV_STOPPED) return rsv_interrupt(r);
    if (w == RSV_NOTICE) return RSV_DONE; /* a notification decided it (rows N), and wrote it */
    rsv_facts_t f;
    facts_before(r, step, w == RSV_ABORTED, &f);
    rsv_decision_t d;
    if (rsv_decide_before(&f, &d)) {
        note_mistakes(r, step, NULL, &d);
        return apply(r, step, &d, NULL);
    }
    const aop_result_t *res = call(r, step);
    if (!res) return call_failed(r);
    r->calls[step]++;
    rsv_note_call(r, res);
    if (res->error == AOP_E_STOPPED) return rsv_interrupt(r); /* the stop modifier, mid-call */
    answer_text_t t;
    facts_of_answer(r, res, &t, &f);
    rsv_decide(&f, &d);
    note_mistakes(r, step, res, &d);
    return apply(r, step, &d, &t);
}

void rsv_run(rsv_t *r, rsv_step_t step) {
    while (step != RSV_DONE && !r->journal_lost) step = run_step(r, step);
    if (r->journal_lost || r->res->interrupted) return;
    if (aop_entry_state_final(r->e.state) || r->e.state == AOP_STATE_UNRESOLVED ||
        r->e.state == AOP_STATE_NEEDS_ATTENTION)
        return; /* rsv_finish wrote it with the lease released */
    rsv_release(r);
}
