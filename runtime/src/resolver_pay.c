/* SPDX-License-Identifier: MIT */
/* The payment's loop (SPEC.md section 6; issue 10 section 1's table): pay, then query, then
 * cancel, then one last query. Each step waits for its moment, makes one call, notes it in the
 * entry, and hands the answer to its row function (on_pay, on_query, ...), which picks the next
 * step or the outcome. Recovery enters the same loop at RSV_QUERY or RSV_CANCEL, never at
 * RSV_PAY (r->pay is NULL there). */
#include <stdio.h>
#include <string.h>

#include "aop/util.h"
#include "resolver_internal.h"

#define FN_PAY (&aop_fn_offline_pay)
#define FN_QUERY (&aop_fn_offline_pay_query)
#define FN_CANCEL (&aop_fn_pay_cancel)

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* No cancel before the last pay's start + its deadline + the margin: until then that pay may
 * still be on its way, and a cancel before it arrives would not stop it. */
static int64_t cancel_allowed_ms(const rsv_t *r) {
    /* a start read back from the journal may be up to PAY_START_SLACK_MS early (stamp_pay_start) */
    int64_t slack = r->pay_start_exact ? 0 : PAY_START_SLACK_MS;
    return r->e.pay_started_ms + r->e.pay_deadline_ms + (int64_t)(r->o.policy.cancel_margin_s * 1000.0) + slack;
}

static const char *code_text(const aop_result_t *res, char *buf, size_t cap) {
    snprintf(buf, cap, "%.*s", (int)res->result_code.len, res->result_code.ptr ? res->result_code.ptr : "");
    return buf;
}

/* ---- the moves between steps ---- */

static rsv_act_t poll_again(rsv_t *r, rsv_wait_t w, aop_phase_t phase) {
    if (!r->query_until_ms) r->query_until_ms = aop_now_ms() + (int64_t)(r->o.policy.query_budget_s * 1000.0);
    rsv_schedule(r, w);
    if (!rsv_save(r, AOP_STATE_POLLING)) return RSV_DONE;
    RSV_CRASH_POINT("polling");
    rsv_progress(r, phase);
    return RSV_QUERY;
}

static rsv_act_t to_cancel(rsv_t *r) {
    r->next_at_ms = max64(aop_now_ms(), cancel_allowed_ms(r));
    if (!rsv_save(r, AOP_STATE_CANCELLING)) return RSV_DONE;
    RSV_CRASH_POINT("cancelling");
    rsv_progress(r, AOP_PHASE_REVERSING);
    return RSV_CANCEL;
}

static rsv_act_t cancel_again(rsv_t *r) {
    rsv_schedule(r, RSV_WAIT_BACKOFF);
    if (!rsv_save(r, AOP_STATE_CANCELLING)) return RSV_DONE;
    rsv_progress(r, AOP_PHASE_REVERSING);
    return RSV_CANCEL;
}

static rsv_act_t last_query(rsv_t *r, rsv_lastq_t why) {
    r->lastq = why;
    r->next_at_ms = aop_now_ms();
    if (!rsv_save(r, AOP_STATE_CANCELLING)) return RSV_DONE;
    rsv_progress(r, AOP_PHASE_CHECKING);
    return RSV_LAST_QUERY;
}

/* ---- the rows ---- */

/* Nothing of this payment ever left and the cashier aborted: no charge is possible, so re-sending
 * would only risk one. */
static rsv_act_t aborted_unsent(rsv_t *r) {
    return rsv_finish(r, AOP_OUTCOME_FAILED, NULL, "not sent (aborted)");
}

/* single_call on a resumed entry: the one pay is made; an earlier attempt may have paid, so
 * anything but S leaves the entry open for aop recover. */
static rsv_act_t single_resume_open(rsv_t *r, const char *why) {
    return rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "%s; an earlier attempt may have paid: aop recover "
                      "finishes it", why);
}

static rsv_act_t pay_not_sent(rsv_t *r, const aop_result_t *res) {
    /* an earlier attempt may have left: only a query can tell */
    if (r->ever_sent && r->o.single_call) return single_resume_open(r, "the repeated pay was not sent");
    if (r->ever_sent) return poll_again(r, RSV_WAIT_FIRST_POLL, AOP_PHASE_CHECKING);
    if (rsv_abort_requested(r)) return aborted_unsent(r);
    rsv_schedule(r, RSV_WAIT_BACKOFF);
    if (r->o.single_call || r->next_at_ms >= r->pay_give_up_ms)
        return rsv_finish(r, AOP_OUTCOME_FAILED, NULL, "not sent: %s (%s)", aop_status_text(res->error),
                          res->detail.msg);
    if (!rsv_save(r, AOP_STATE_NEW)) return RSV_DONE;
    rsv_progress(r, AOP_PHASE_SENDING);
    return RSV_PAY;
}

static rsv_act_t on_pay(rsv_t *r, const aop_result_t *res) {
    char code[AOP_JOURNAL_ID_SIZE];
    if (!res->maybe_sent) return pay_not_sent(r, res);
    if (rsv_decided(res) && res->status == 'S') return rsv_finish(r, AOP_OUTCOME_PAID, FN_PAY, NULL);
    if (rsv_decided(res) && res->status == 'F') {
        bool repeat = rsv_code_is(res, AOP_RC_REPEAT_REQ_INCONSISTENT);
        if (r->resume && r->o.single_call) {
            char why[AOP_JOURNAL_ID_SIZE + 48];
            snprintf(why, sizeof why, "the gateway refused the repeat (%s)", code_text(res, code, sizeof code));
            return single_resume_open(r, why);
        }
        /* re-sending our own open entry: these answers may be about our earlier attempt */
        if (r->resume && (repeat || rsv_code_is(res, AOP_RC_ORDER_STATUS_INVALID)))
            return poll_again(r, RSV_WAIT_NONE, AOP_PHASE_CHECKING);
        r->no_watch = repeat; /* the gateway's payment of that id is another one: nothing to watch */
        return rsv_finish(r, AOP_OUTCOME_FAILED, FN_PAY, "declined: %s", code_text(res, code, sizeof code));
    }
    if (r->o.single_call)
        return rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "the outcome is unknown; aop recover finishes it");
    bool in_process = rsv_decided(res) && rsv_code_is(res, AOP_RC_PAYMENT_IN_PROCESS);
    return poll_again(r, RSV_WAIT_FIRST_POLL, in_process ? AOP_PHASE_WAITING_CUSTOMER : AOP_PHASE_CHECKING);
}

/* A query's S answer that ends the payment: acquirementStatus -> outcome. */
static const struct {
    aop_acquirement_status_enum_t status;
    aop_outcome_t outcome;
} query_final[] = {
    {AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS, AOP_OUTCOME_PAID},
    {AOP_ACQUIREMENT_STATUS_ENUM_CLOSED, AOP_OUTCOME_FAILED},
    {AOP_ACQUIREMENT_STATUS_ENUM_CANCELLED, AOP_OUTCOME_CANCELLED},
};

/* The outcome a decided query S answer shows, or 0 when the payment is still open (INIT, PAYING,
 * a missing or unknown status). */
static aop_outcome_t query_outcome(const aop_result_t *res) {
    const aop_offline_pay_query_response_t *q = aop_offline_pay_query_response(res);
    for (size_t i = 0; q && i < sizeof query_final / sizeof *query_final; i++)
        if (q->body.acquirement_status.value == (int)query_final[i].status) return query_final[i].outcome;
    return (aop_outcome_t)0;
}

/* A SUCCESS whose orderAmount is not the journal's contradicts the payment we made. */
static bool amount_differs(const rsv_t *r, const aop_result_t *res) {
    const aop_offline_pay_query_response_t *q = aop_offline_pay_query_response(res);
    return q && q->body.has_order_amount &&
           (!aop_str_eq_cstr(q->body.order_amount.value, r->e.amount) ||
            !aop_str_eq_cstr(q->body.order_amount.currency, r->e.currency));
}

/* The outcome read from a query S (a final status), with the note the row calls for. */
static rsv_act_t finish_by_query(rsv_t *r, const aop_result_t *res, aop_outcome_t o, const char *note) {
    rsv_copy(r->res->acquirement_status, sizeof r->res->acquirement_status,
             aop_offline_pay_query_response(res)->body.acquirement_status.text);
    if (o == AOP_OUTCOME_PAID && amount_differs(r, res))
        return rsv_finish(r, AOP_OUTCOME_NEEDS_ATTENTION, FN_QUERY,
                          "payQuery reports SUCCESS with an orderAmount other than the journal's %s %s",
                          r->e.amount, r->e.currency);
    return rsv_finish(r, o, FN_QUERY, "%s", note ? note : "");
}

static rsv_act_t on_query(rsv_t *r, const aop_result_t *res) {
    char code[AOP_JOURNAL_ID_SIZE];
    if (!rsv_decided(res) || res->status == 'U') return poll_again(r, RSV_WAIT_BACKOFF, AOP_PHASE_CHECKING);
    if (res->status == 'F') {
        if (rsv_credential_code(res->result_code))
            return rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "payQuery answered %s: check the credentials "
                              "and configuration, then run aop recover", code_text(res, code, sizeof code));
        /* "not known yet": the pay may still be in flight (acknowledged: an undecided answer) */
        if (rsv_code_is(res, AOP_RC_ORDER_NOT_EXIST) && !r->e.acknowledged)
            return poll_again(r, RSV_WAIT_POLL, AOP_PHASE_CHECKING);
        return poll_again(r, RSV_WAIT_BACKOFF, AOP_PHASE_CHECKING); /* that call failed, not the payment */
    }
    aop_outcome_t o = query_outcome(res);
    if (o) return finish_by_query(r, res, o, NULL);
    return poll_again(r, RSV_WAIT_POLL, AOP_PHASE_WAITING_CUSTOMER);
}

static rsv_act_t on_cancel(rsv_t *r, const aop_result_t *res) {
    char code[AOP_JOURNAL_ID_SIZE];
    if (!rsv_decided(res) || res->status == 'U') return cancel_again(r);
    if (res->status == 'S') return rsv_finish(r, AOP_OUTCOME_CANCELLED, FN_CANCEL, NULL);
    if (rsv_code_is(res, AOP_RC_REQUEST_TRAFFIC_EXCEED_LIMIT) || rsv_code_is(res, AOP_RC_PROCESS_FAIL))
        return cancel_again(r);
    if (rsv_credential_code(res->result_code))
        return rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "payCancel answered %s: check the credentials "
                          "and configuration, then run aop recover", code_text(res, code, sizeof code));
    /* the last query's answer overwrites last_code: the refusal is kept for the reason */
    snprintf(r->cancel_code, sizeof r->cancel_code, "%s", code_text(res, code, sizeof code));
    if (rsv_code_is(res, AOP_RC_ORDER_NOT_EXIST) && !r->e.acknowledged) return last_query(r, RSV_LASTQ_NOT_EXIST);
    return last_query(r, RSV_LASTQ_REFUSED);
}

static rsv_act_t on_last_query(rsv_t *r, const aop_result_t *res) {
    char code[AOP_JOURNAL_ID_SIZE];
    bool decided = rsv_decided(res);
    if (decided && res->status == 'S') {
        aop_outcome_t o = query_outcome(res);
        if (o) return finish_by_query(r, res, o, o == AOP_OUTCOME_PAID ? "cancel refused; the payment stands" : NULL);
        const aop_offline_pay_query_response_t *q = aop_offline_pay_query_response(res);
        rsv_copy(r->res->acquirement_status, sizeof r->res->acquirement_status, q->body.acquirement_status.text);
        return rsv_finish(r, AOP_OUTCOME_NEEDS_ATTENTION, FN_QUERY, "the cancel was refused (%s) but payQuery "
                          "reports the payment as %s", r->cancel_code, r->res->acquirement_status);
    }
    if (decided && res->status == 'F' && rsv_code_is(res, AOP_RC_ORDER_NOT_EXIST)) {
        if (r->lastq == RSV_LASTQ_NOT_EXIST)
            return rsv_finish(r, AOP_OUTCOME_FAILED, FN_QUERY, "nothing charged: payCancel and payQuery both "
                              "answer ORDER_NOT_EXIST, long after the last pay");
        return rsv_finish(r, AOP_OUTCOME_NEEDS_ATTENTION, FN_QUERY, "the gateway acknowledged the payment, "
                          "yet payCancel and payQuery answer ORDER_NOT_EXIST");
    }
    /* no answer at all is not a contradiction: the outcome is still unknown */
    return rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "the cancel did not succeed and the query after it did "
                      "not decide (%s)", decided ? code_text(res, code, sizeof code) : aop_status_name(res->error));
}

/* ---- the steps ---- */

static const aop_result_t *send_query(rsv_t *r) {
    aop_offline_pay_query_request_t q;
    memset(&q, 0, sizeof q);
    rsv_ids(r, &q.body.merchant_id, &q.body.acquirement_id, &q.body.merchant_trans_id);
    return rsv_call(r, FN_QUERY, &q);
}

static const aop_result_t *send_cancel(rsv_t *r) {
    aop_pay_cancel_request_t k;
    memset(&k, 0, sizeof k);
    rsv_ids(r, &k.body.merchant_id, &k.body.acquirement_id, &k.body.merchant_trans_id);
    return rsv_call(r, FN_CANCEL, &k);
}

/* Ends the loop when a call could not even be made (memory): the entry stays open. */
static rsv_act_t call_failed(rsv_t *r) {
    char why[AOP_ERROR_MSG_MAX];
    snprintf(why, sizeof why, "%s", r->res->reason);
    return rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "%s", why);
}

/* Stamps the pay's start just before it leaves: the cancel moment (start + deadline + margin)
 * must not come early because of a slow journal write or progress callback. A drift of more than
 * PAY_START_SLACK_MS is journaled too (a NORMAL write), so that recovery waits long enough. */
static bool stamp_pay_start(rsv_t *r) {
    int64_t now = aop_now_ms(), was = r->e.pay_started_ms;
    r->e.pay_started_ms = now;
    return now - was <= PAY_START_SLACK_MS || rsv_save(r, r->e.state);
}

/* Waits for the pay's moment. Before a re-send of a pay that never left, an abort ends the wait
 * and the payment (the first send goes as asked: the abort then cancels it after the margin). */
static rsv_act_t wait_pay(rsv_t *r) {
    bool unsent_resend = !r->ever_sent && r->res->n_steps > 0;
    switch (rsv_sleep_until(r, r->next_at_ms, unsent_resend)) {
    case RSV_STOPPED: return rsv_interrupt(r);
    case RSV_ABORTED: return aborted_unsent(r);
    case RSV_WOKE: break;
    }
    if (unsent_resend && rsv_abort_requested(r)) return aborted_unsent(r);
    return RSV_PAY;
}

static rsv_act_t step_pay(rsv_t *r) {
    rsv_act_t next = wait_pay(r);
    if (next != RSV_PAY) return next;
    if (r->res->n_steps > 0 || r->resume) { /* a re-send: its start and deadline bound the cancel */
        r->e.pay_started_ms = aop_now_ms();
        r->e.pay_deadline_ms = rsv_deadline_ms(r, FN_PAY);
        if (!rsv_save(r, r->resume ? AOP_STATE_PAY_SENT : AOP_STATE_NEW)) return RSV_DONE;
    }
    if (!stamp_pay_start(r)) return RSV_DONE;
    const aop_result_t *res = rsv_call(r, FN_PAY, r->pay);
    if (!res) return call_failed(r);
    rsv_note_call(r, res);
    /* the cashier's abort reverses a payment whose outcome is unknown, never a decided one;
     * single_call makes no call after its one pay */
    if (rsv_abort_requested(r) && res->maybe_sent && !rsv_decided(res) && !r->o.single_call) return to_cancel(r);
    return on_pay(r, res);
}

static rsv_act_t step_query(rsv_t *r) {
    switch (rsv_sleep_until(r, r->next_at_ms, true)) {
    case RSV_STOPPED: return rsv_interrupt(r);
    case RSV_ABORTED: return to_cancel(r);
    case RSV_WOKE: break;
    }
    int64_t now = aop_now_ms();
    if (!r->query_until_ms) r->query_until_ms = now + (int64_t)(r->o.policy.query_budget_s * 1000.0);
    if (now >= r->query_until_ms && now >= cancel_allowed_ms(r)) return to_cancel(r);
    const aop_result_t *res = send_query(r);
    if (!res) return call_failed(r);
    rsv_note_call(r, res);
    return on_query(r, res);
}

static rsv_act_t step_cancel(rsv_t *r) {
    if (rsv_sleep_until(r, max64(r->next_at_ms, cancel_allowed_ms(r)), false) == RSV_STOPPED)
        return rsv_interrupt(r);
    int64_t now = aop_now_ms();
    if (!r->cancel_until_ms) r->cancel_until_ms = now + (int64_t)(r->o.policy.cancel_budget_s * 1000.0);
    else if (now >= r->cancel_until_ms)
        return rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "the cancel budget is spent without an answer "
                          "(%s); aop recover finishes it", r->e.last_status);
    const aop_result_t *res = send_cancel(r);
    if (!res) return call_failed(r);
    rsv_note_call(r, res);
    return on_cancel(r, res);
}

static rsv_act_t step_last_query(rsv_t *r) {
    if (rsv_sleep_until(r, r->next_at_ms, false) == RSV_STOPPED) return rsv_interrupt(r);
    const aop_result_t *res = send_query(r);
    if (!res) return call_failed(r);
    rsv_note_call(r, res);
    return on_last_query(r, res);
}

static rsv_act_t (*const steps[])(rsv_t *) = {
    [RSV_PAY] = step_pay,
    [RSV_QUERY] = step_query,
    [RSV_CANCEL] = step_cancel,
    [RSV_LAST_QUERY] = step_last_query,
};

void rsv_pay_run(rsv_t *r, rsv_act_t act) {
    if (act == RSV_PAY && !r->pay) act = RSV_QUERY; /* recovery never pays */
    while (act != RSV_DONE && !r->journal_lost) act = steps[act](r);
    if (r->journal_lost || r->res->interrupted) return;
    if (aop_entry_state_final(r->e.state) || r->e.state == AOP_STATE_UNRESOLVED ||
        r->e.state == AOP_STATE_NEEDS_ATTENTION)
        return; /* rsv_finish wrote it with the lease released */
    rsv_release(r);
}

/* The late query of a payment reported FAILED or CANCELLED that the gateway never acknowledged
 * (the watch): SUCCESS there is a late payment; a final status or ORDER_NOT_EXIST agrees; anything
 * else leaves the watch for the next recovery. */
void rsv_watch_query(rsv_t *r) {
    aop_outcome_t was = r->e.state == AOP_STATE_CANCELLED ? AOP_OUTCOME_CANCELLED : AOP_OUTCOME_FAILED;
    const aop_result_t *res = send_query(r);
    if (!res) {
        rsv_release(r);
        return;
    }
    rsv_note_call(r, res);
    aop_outcome_t o = rsv_decided(res) && res->status == 'S' ? query_outcome(res) : (aop_outcome_t)0;
    bool agrees = (o && o != AOP_OUTCOME_PAID) ||
                  (rsv_decided(res) && res->status == 'F' && rsv_code_is(res, AOP_RC_ORDER_NOT_EXIST));
    if (o == AOP_OUTCOME_PAID) {
        r->e.watch = false;
        r->res->late_paid = true;
        finish_by_query(r, res, AOP_OUTCOME_PAID, "late PAID: refund it if the sale was not completed");
        return;
    }
    r->e.watch = !agrees;
    if (agrees) {
        r->no_watch = true;
        rsv_finish(r, was, FN_QUERY, "the watch query agrees");
        return;
    }
    rsv_finish(r, was, NULL, "the watch query did not decide; a later recovery asks again");
}
