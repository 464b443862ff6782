/* SPDX-License-Identifier: MIT */
/* The rows of docs/resolver.md, in the order the document lists them and the code checks them.
 * Each returns at its row: the ID in the decision is the document's. Pure: facts in, a decision
 * out (resolver_rows.h). */
#include "resolver_rows.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- building a decision ---------------------------------------------------------------------- */

static void go(rsv_decision_t *d, const char *row, rsv_step_t next, rsv_wait_t wait) {
    memset(d, 0, sizeof *d);
    d->row = row;
    d->next = next;
    d->wait = wait;
    d->phase = rsv_phase_of_step(next);
}

static void end(rsv_decision_t *d, const char *row, aop_outcome_t o, bool by_call, const char *fmt, ...)
    AOP_PRINTF(5, 6);
static void end(rsv_decision_t *d, const char *row, aop_outcome_t o, bool by_call, const char *fmt, ...) {
    memset(d, 0, sizeof *d);
    d->row = row;
    d->next = RSV_DONE;
    d->outcome = o;
    d->by_call = by_call;
    d->phase = AOP_PHASE_DONE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
}

static const char *text(const char *s) { return s ? s : ""; }

static bool answered(const rsv_facts_t *f, char status) { return f->decided && f->status == status; }

/* ---- P: the pay ------------------------------------------------------------------------------ */

static bool pay_before(const rsv_facts_t *f, rsv_decision_t *d) {
    /* the first send goes as asked; a re-send of a pay that never left stops at an abort */
    if (f->aborted && !f->earlier_left && f->again) {
        end(d, "P1", AOP_OUTCOME_FAILED, false, "not sent (aborted)");
        return true;
    }
    return false;
}

static void pay_rows(const rsv_facts_t *f, rsv_decision_t *d) {
    /* the cashier's abort reverses a pay whose outcome is unknown, never a decided one */
    if (f->aborted && f->sent && !f->decided && !f->single_call) return go(d, "P2", RSV_CANCEL, RSV_WAIT_CANCEL_MOMENT);
    if (!f->sent) {
        if (f->earlier_left && f->single_call)
            return end(d, "P3", AOP_OUTCOME_UNRESOLVED, false,
                       "the repeated pay was not sent; an earlier attempt may have paid: aop recover finishes it");
        if (f->earlier_left) return go(d, "P4", RSV_QUERY, RSV_WAIT_FIRST_POLL); /* only a query can tell */
        if (f->aborted) return end(d, "P5", AOP_OUTCOME_FAILED, false, "not sent (aborted)");
        if (f->single_call || !f->resend_in_window)
            return end(d, "P6", AOP_OUTCOME_FAILED, false, "not sent: %s (%s)", text(f->why), text(f->detail));
        return go(d, "P7", RSV_PAY, RSV_WAIT_BACKOFF);
    }
    if (answered(f, 'S')) return end(d, "P8", AOP_OUTCOME_PAID, true, "%s", "");
    if (answered(f, 'F')) {
        /* A refused re-send is the failure of that call, not of the payment: an earlier attempt
         * may have been paid, whatever the code. */
        if (f->earlier_left && f->single_call)
            return end(d, "P9", AOP_OUTCOME_UNRESOLVED, false,
                       "the gateway refused the repeat (%s); an earlier attempt may have paid: aop recover finishes it",
                       text(f->code));
        if (f->earlier_left) return go(d, "P10", RSV_QUERY, RSV_WAIT_NONE);
        /* refused for who we are, not for the customer's wallet */
        if (f->credential) {
            end(d, "P11", AOP_OUTCOME_FAILED, true, "refused for the configuration (%s): check the clientId and the "
                "keys", text(f->code));
            d->mistake = AOP_MISTAKE_CREDENTIAL;
            return;
        }
        end(d, "P12", AOP_OUTCOME_FAILED, true, "declined: %s", text(f->code));
        d->no_watch = f->repeat_inconsistent; /* the gateway's payment of that id is another one */
        return;
    }
    if (f->single_call)
        return end(d, "P13", AOP_OUTCOME_UNRESOLVED, false, "the outcome is unknown; aop recover finishes it");
    go(d, "P14", RSV_QUERY, RSV_WAIT_FIRST_POLL);
    if (f->decided && f->in_process) d->phase = AOP_PHASE_WAITING_CUSTOMER;
}

/* ---- Q: the queries --------------------------------------------------------------------------- */

static bool query_before(const rsv_facts_t *f, rsv_decision_t *d) {
    if (f->aborted) {
        go(d, "Q1", RSV_CANCEL, RSV_WAIT_CANCEL_MOMENT);
        return true;
    }
    /* the budget runs from the pay's start; every run (a recovery too) queries once first */
    if (f->budget_spent && f->cancel_moment_passed && f->again) {
        go(d, "Q2", RSV_CANCEL, RSV_WAIT_CANCEL_MOMENT);
        return true;
    }
    return false;
}

static void query_rows(const rsv_facts_t *f, rsv_decision_t *d) {
    /* a mistake of configuration makes every answer fail alike: querying on cannot help, but
     * the cancel may still work (when only our verification of the answers is wrong) */
    if ((!f->decided || f->status == 'U') && f->fails_as_pay) {
        go(d, "Q3", RSV_CANCEL, RSV_WAIT_CANCEL_MOMENT);
        d->mistake = f->mistake;
        return;
    }
    if (!f->decided || f->status == 'U') return go(d, "Q4", RSV_QUERY, RSV_WAIT_BACKOFF);
    if (f->status == 'F') {
        if (f->credential)
            return end(d, "Q5", AOP_OUTCOME_UNRESOLVED, false,
                       "payQuery answered %s: check the credentials and configuration, then run aop recover",
                       text(f->code));
        /* "not known yet": the pay may still be on its way */
        if (f->order_not_exist && !f->acknowledged) return go(d, "Q6", RSV_QUERY, RSV_WAIT_POLL);
        return go(d, "Q7", RSV_QUERY, RSV_WAIT_BACKOFF); /* that call failed, not the payment */
    }
    if (f->shows == AOP_OUTCOME_PAID && f->other_amount)
        return end(d, "Q8", AOP_OUTCOME_NEEDS_ATTENTION, true,
                   "payQuery reports SUCCESS with an orderAmount other than the journal's %s %s", text(f->amount),
                   text(f->currency));
    if (f->shows) return end(d, "Q9", f->shows, true, "%s", "");
    go(d, "Q10", RSV_QUERY, RSV_WAIT_POLL);
    d->phase = AOP_PHASE_WAITING_CUSTOMER;
}

/* ---- C: the cancels --------------------------------------------------------------------------- */

static bool cancel_before(const rsv_facts_t *f, rsv_decision_t *d) {
    if (!f->budget_spent) return false;
    char why[AOP_ERROR_MSG_MAX];
    if (f->mistake == AOP_MISTAKE_UNVERIFIED)
        snprintf(why, sizeof why, "the answers fail verification the same way (%s): check the sign type and "
                 "Alipay's public key; the cancel did not succeed either", text(f->mistake_detail));
    else if (f->mistake == AOP_MISTAKE_PATH)
        snprintf(why, sizeof why, "the gateway answers %s: check the gateway URL's path; the cancel did not "
                 "succeed either", text(f->mistake_detail));
    else
        snprintf(why, sizeof why, "the cancel budget is spent without an answer (%s)", text(f->last_status));
    end(d, "C1", AOP_OUTCOME_UNRESOLVED, false, "%s; aop recover finishes it", why);
    d->mistake = f->mistake;
    return true;
}

static void cancel_rows(const rsv_facts_t *f, rsv_decision_t *d) {
    if (!f->decided || f->status == 'U') return go(d, "C2", RSV_CANCEL, RSV_WAIT_BACKOFF);
    if (f->status == 'S') return end(d, "C3", AOP_OUTCOME_CANCELLED, true, "%s", "");
    /* the cancel is retried until it answers S or F; throttling is no answer yet */
    if (f->throttled) return go(d, "C4", RSV_CANCEL, RSV_WAIT_BACKOFF);
    if (f->credential)
        return end(d, "C5", AOP_OUTCOME_UNRESOLVED, false,
                   "payCancel answered %s: check the credentials and configuration, then run aop recover",
                   text(f->code));
    if (f->order_not_exist && !f->acknowledged) return go(d, "C6", RSV_LAST_QUERY, RSV_WAIT_NONE);
    go(d, "C7", RSV_LAST_QUERY, RSV_WAIT_NONE); /* refused (PROCESS_FAIL included): the query tells */
}

/* ---- L: the last query ------------------------------------------------------------------------- */

static void last_query_rows(const rsv_facts_t *f, rsv_decision_t *d) {
    if (answered(f, 'S')) {
        if (f->shows == AOP_OUTCOME_PAID && f->other_amount)
            return end(d, "L1", AOP_OUTCOME_NEEDS_ATTENTION, true,
                       "payQuery reports SUCCESS with an orderAmount other than the journal's %s %s", text(f->amount),
                       text(f->currency));
        if (f->shows)
            return end(d, "L2", f->shows, true, "%s",
                       f->shows == AOP_OUTCOME_PAID ? "cancel refused; the payment stands" : "");
        return end(d, "L3", AOP_OUTCOME_NEEDS_ATTENTION, true,
                   "the cancel was refused (%s) but payQuery reports the payment as %s", text(f->cancel_code),
                   text(f->acq_status));
    }
    if (answered(f, 'F') && f->order_not_exist) {
        if (f->cancel_not_exist && !f->acknowledged)
            return end(d, "L4", AOP_OUTCOME_FAILED, true,
                       "nothing charged: payCancel and payQuery both answer ORDER_NOT_EXIST, long after the last pay");
        if (f->acknowledged)
            return end(d, "L5", AOP_OUTCOME_NEEDS_ATTENTION, true,
                       "the gateway acknowledged the payment, yet payQuery answers ORDER_NOT_EXIST (the cancel "
                       "answered %s)", text(f->cancel_code));
    }
    /* no answer, or one that shows nothing, is not a contradiction: the outcome is still unknown */
    end(d, "L6", AOP_OUTCOME_UNRESOLVED, false,
        "the cancel did not succeed (%s) and the query after it did not decide (%s)", text(f->cancel_code),
        f->decided ? text(f->code) : text(f->why));
}

/* ---- W: the watch ------------------------------------------------------------------------------ */

static void watch_rows(const rsv_facts_t *f, rsv_decision_t *d) {
    aop_outcome_t shows = answered(f, 'S') ? f->shows : (aop_outcome_t)0;
    if (shows == AOP_OUTCOME_PAID && f->other_amount)
        return end(d, "W1", AOP_OUTCOME_NEEDS_ATTENTION, true,
                   "late SUCCESS with an orderAmount other than the journal's %s %s", text(f->amount),
                   text(f->currency));
    if (shows == AOP_OUTCOME_PAID) {
        end(d, "W2", AOP_OUTCOME_PAID, true, "late PAID: refund it if the sale was not completed");
        d->late_paid = true;
        return;
    }
    if (shows || (answered(f, 'F') && f->order_not_exist)) {
        end(d, "W3", f->watched, true, "the watch query agrees");
        d->no_watch = true;
        return;
    }
    end(d, "W4", f->watched, false, "the watch query did not decide; a later recovery asks again");
    d->keep_watch = true;
}

/* ---- R: the refund ----------------------------------------------------------------------------- */

static bool refund_before(const rsv_facts_t *f, rsv_decision_t *d) {
    if (!f->budget_spent) return false;
    if (f->earlier_left)
        end(d, "R1", AOP_OUTCOME_UNRESOLVED, false,
            "the refund budget is spent without a decided answer (%s); aop recover re-sends it", text(f->last_status));
    else
        end(d, "R2", AOP_OUTCOME_FAILED, false, "not sent: %s", text(f->last_status));
    return true;
}

static void refund_rows(const rsv_facts_t *f, rsv_decision_t *d) {
    if (answered(f, 'S')) return end(d, "R3", AOP_OUTCOME_REFUNDED, true, "%s", "");
    if (answered(f, 'F') && !f->throttled) {
        /* an earlier attempt may have refunded, and there is no refund query to ask: "failed"
         * would invite a second refund */
        if (f->earlier_left)
            return end(d, "R4", AOP_OUTCOME_UNRESOLVED, false,
                       "the re-sent refund answered %s: an earlier attempt may have refunded; check before "
                       "refunding again", text(f->code));
        return end(d, "R5", AOP_OUTCOME_FAILED, true, "refused: %s", text(f->code));
    }
    if (f->single_call) {
        if (answered(f, 'F') && !f->earlier_left) return end(d, "R6", AOP_OUTCOME_FAILED, true, "refused: %s", text(f->code));
        if (f->sent || f->earlier_left)
            return end(d, "R7", AOP_OUTCOME_UNRESOLVED, false, "the outcome is unknown; aop recover finishes it");
        return end(d, "R8", AOP_OUTCOME_FAILED, false, "not sent: %s (%s)", text(f->why), text(f->detail));
    }
    go(d, "R9", RSV_REFUND, RSV_WAIT_BACKOFF); /* undecided, U or throttled: the same request again */
}

/* ---- dispatch ----------------------------------------------------------------------------------- */

bool rsv_decide_before(const rsv_facts_t *f, rsv_decision_t *d) {
    assert(f->step >= RSV_PAY && f->step < RSV_STEP_COUNT);
    switch (f->step) {
    case RSV_PAY: return pay_before(f, d);
    case RSV_QUERY: return query_before(f, d);
    case RSV_CANCEL: return cancel_before(f, d);
    case RSV_REFUND: return refund_before(f, d);
    default: return false;
    }
}

void rsv_decide(const rsv_facts_t *f, rsv_decision_t *d) {
    assert(f->step >= RSV_PAY && f->step < RSV_STEP_COUNT);
    switch (f->step) {
    case RSV_PAY: pay_rows(f, d); break;
    case RSV_QUERY: query_rows(f, d); break;
    case RSV_CANCEL: cancel_rows(f, d); break;
    case RSV_LAST_QUERY: last_query_rows(f, d); break;
    case RSV_WATCH: watch_rows(f, d); break;
    case RSV_REFUND: refund_rows(f, d); break;
    default: break;
    }
    /* a payment is queried or cancelled only when some pay of it may have left */
    assert(!(d->next == RSV_QUERY || d->next == RSV_CANCEL || d->next == RSV_LAST_QUERY) || f->earlier_left ||
           f->sent);
}

/* ---- E: where an entry starts -------------------------------------------------------------------- */

static void start(rsv_start_decision_t *d, const char *row, rsv_start_t action, rsv_step_t step) {
    d->row = row;
    d->action = action;
    d->step = step;
}

static void caller_start(const rsv_start_facts_t *f, rsv_start_decision_t *d) {
    bool payment = f->kind == AOP_ENTRY_PAYMENT;
    if (!f->found) return start(d, "E1", RSV_START_SEND, payment ? RSV_PAY : RSV_REFUND);
    if (!f->same_request) return start(d, "E2", RSV_START_UNJOURNALED, RSV_DONE);
    if (aop_entry_state_final(f->state) || f->state == AOP_STATE_NEEDS_ATTENTION)
        return start(d, "E3", RSV_START_REPORT, RSV_DONE);
    switch (f->claim) {
    case RSV_CLAIM_NOT_YET: return start(d, "E4", RSV_START_CLAIM, RSV_DONE);
    case RSV_CLAIM_HELD: return start(d, "E5", RSV_START_TAKEN_OVER, RSV_DONE);
    case RSV_CLAIM_GONE:
    case RSV_CLAIM_FAILED: return start(d, "E6", RSV_START_CLAIM_ERROR, RSV_DONE);
    case RSV_CLAIM_OK: break;
    case RSV_CLAIM_NOT_DUE: assert(!"a caller's claim is never a recovery's"); break;
    }
    /* nothing of an entry someone else wrote may leave */
    if (!f->mac_ok) return start(d, "E25", RSV_START_ALTERED, RSV_DONE);
    /* resumed: some earlier attempt may have left */
    if (f->single_call) return start(d, "E7", RSV_START_RUN, payment ? RSV_PAY : RSV_REFUND);
    if (!payment) return start(d, "E8", RSV_START_RUN, RSV_REFUND);
    if (f->state == AOP_STATE_CANCELLING) return start(d, "E9", RSV_START_RUN, RSV_CANCEL);
    if (f->state == AOP_STATE_LAST_CHECK) return start(d, "E10", RSV_START_RUN, RSV_LAST_QUERY);
    if (f->state == AOP_STATE_UNRESOLVED) return start(d, "E11", RSV_START_RUN, RSV_QUERY);
    start(d, "E12", RSV_START_RUN, RSV_PAY); /* NEW, POLLING (and PAY_SENT of older versions): re-sent */
}

static void recovery_start(const rsv_start_facts_t *f, rsv_start_decision_t *d) {
    if (f->unreadable) return start(d, "E28", RSV_START_UNREADABLE, RSV_DONE); /* whose it is is unknown */
    if (!f->ours) return start(d, "E13", RSV_START_SKIP, RSV_DONE);
    switch (f->claim) {
    case RSV_CLAIM_NOT_YET: return start(d, "E14", RSV_START_CLAIM, RSV_DONE);
    case RSV_CLAIM_HELD: return start(d, "E15", RSV_START_HELD, RSV_DONE);
    case RSV_CLAIM_GONE: return start(d, "E16", RSV_START_NOTHING, RSV_DONE);
    case RSV_CLAIM_FAILED: return start(d, "E17", RSV_START_UNCLAIMED, RSV_DONE);
    case RSV_CLAIM_OK:
    case RSV_CLAIM_NOT_DUE: break;
    }
    bool claimed = f->claim == RSV_CLAIM_OK;
    bool final = aop_entry_state_final(f->state);
    /* nothing of an entry someone else wrote may leave: checked whenever a call would follow */
    if (claimed && (f->watch_due || (!final && f->state != AOP_STATE_NEEDS_ATTENTION)) && !f->mac_ok)
        return start(d, "E26", RSV_START_ALTERED, RSV_DONE);
    if (claimed && f->watch_due) return start(d, "E18", RSV_START_RUN, RSV_WATCH);
    if (final) return start(d, "E19", RSV_START_NOTHING, RSV_DONE); /* finished meanwhile */
    if (f->state == AOP_STATE_NEEDS_ATTENTION) return start(d, "E20", RSV_START_LEAVE, RSV_DONE);
    if (!claimed) return start(d, "E27", RSV_START_LATER, RSV_DONE); /* its back-off: a later run takes it */
    if (f->kind == AOP_ENTRY_REFUND) return start(d, "E21", RSV_START_RUN, RSV_REFUND);
    /* never a pay: the identityCode is not journaled, and a new pay could charge twice */
    if (f->state == AOP_STATE_CANCELLING) return start(d, "E22", RSV_START_RUN, RSV_CANCEL);
    if (f->state == AOP_STATE_LAST_CHECK) return start(d, "E23", RSV_START_RUN, RSV_LAST_QUERY);
    start(d, "E24", RSV_START_RUN, RSV_QUERY);
}

void rsv_decide_start(const rsv_start_facts_t *f, rsv_start_decision_t *d) {
    memset(d, 0, sizeof *d);
    if (f->recovery)
        recovery_start(f, d);
    else
        caller_start(f, d);
}

/* ---- D: when an entry is due, and the back-off ----------------------------------------------------- */

static void due(rsv_due_decision_t *d, const char *row, bool is_due) {
    d->row = row;
    d->due = is_due;
}

void rsv_decide_due(const rsv_due_facts_t *f, rsv_due_decision_t *d) {
    if (f->state == AOP_STATE_NEEDS_ATTENTION) return due(d, "D1", false); /* a person decides */
    if (f->held) return due(d, "D2", false);                              /* theirs to finish */
    if (aop_entry_state_final(f->state)) {
        if (f->watch_due) return due(d, "D3", true);
        return due(d, "D4", false);
    }
    if (f->due_only && f->waiting) return due(d, "D5", false);
    due(d, "D6", true);
}

static void retry(rsv_retry_decision_t *d, const char *row, int64_t in_ms) {
    d->row = row;
    d->in_ms = in_ms;
    d->backoff_ms = in_ms;
}

void rsv_decide_retry(aop_outcome_t o, int64_t last_backoff_ms, rsv_retry_decision_t *d) {
    /* an outcome nobody knows yet: asked again later, less often each time it stays unknown */
    if (o == AOP_OUTCOME_UNRESOLVED) {
        int64_t next = last_backoff_ms > 0 ? last_backoff_ms * 2 : RSV_RETRY_FIRST_MS;
        if (next < RSV_RETRY_FIRST_MS) next = RSV_RETRY_FIRST_MS;
        return retry(d, "D7", next > RSV_RETRY_MAX_MS ? RSV_RETRY_MAX_MS : next);
    }
    retry(d, "D8", 0);
}

/* ---- N: a payment notification applied to its entry ---------------------------------------------- */

static void notice(rsv_notice_decision_t *d, const char *row, rsv_notice_action_t action, const char *why) {
    d->row = row;
    d->action = action;
    snprintf(d->reason, sizeof d->reason, "%s", why);
}

void rsv_decide_notice(const rsv_notice_facts_t *f, rsv_notice_decision_t *d) {
    memset(d, 0, sizeof *d);
    /* a row written by hand, or bytes altered since, decide nothing: only Alipay's key signs */
    if (!f->verified) return notice(d, "N1", RSV_NOTICE_REFUSE, "its signed bytes do not verify again");
    if (!f->found) return notice(d, "N2", RSV_NOTICE_NO_ENTRY, "the journal has no payment of its merchantTransId");
    if (f->status != 'S' && f->status != 'F')
        return notice(d, "N3", RSV_NOTICE_NOTHING, "resultStatus U states no outcome");
    if (f->state == AOP_STATE_NEEDS_ATTENTION) return notice(d, "N4", RSV_NOTICE_NOTHING, "a person decides this entry");
    if (aop_entry_state_final(f->state)) {
        /* the same fact must give the same answer by either road: the watch query's row decides */
        bool contradicts = f->status == 'S' ? f->state != AOP_STATE_PAID : f->state == AOP_STATE_PAID;
        if (contradicts)
            return notice(d, "N5", RSV_NOTICE_WATCH_NOW,
                          "it contradicts the final entry: the watch query is due now and decides");
        return notice(d, "N6", RSV_NOTICE_NOTHING, "it agrees with the final entry");
    }
    if (f->status == 'S') {
        if ((f->has_amount && f->other_amount) || f->other_acquirement)
            return notice(d, "N7", RSV_NOTICE_ATTENTION,
                          f->other_acquirement ? "a SUCCESS notification names another acquirementId"
                                               : "a SUCCESS notification names another orderAmount or currency");
        /* a cancel that may have left can reverse the payment the notification reports */
        if (!f->has_amount || f->cancel_sent)
            return notice(d, "N8", RSV_NOTICE_QUERY_NOW,
                          f->cancel_sent ? "a SUCCESS notification after a cancel may have left: a query decides"
                                         : "a SUCCESS notification without orderAmount: a query decides");
        return notice(d, "N9", RSV_NOTICE_PAID, "paid, by Alipay's notification");
    }
    notice(d, "N10", RSV_NOTICE_QUERY_NOW, "a failure notification: a query confirms before anything is closed");
}

/* ---- the one mapping ---------------------------------------------------------------------------- */

aop_entry_state_t rsv_state_of_step(rsv_step_t step, bool earlier_left) {
    switch (step) {
    case RSV_PAY: return AOP_STATE_NEW;
    case RSV_QUERY: return AOP_STATE_POLLING;
    case RSV_CANCEL: return AOP_STATE_CANCELLING;
    case RSV_LAST_QUERY: return AOP_STATE_LAST_CHECK;
    case RSV_REFUND: return earlier_left ? AOP_STATE_SENT : AOP_STATE_NEW;
    default: break;
    }
    assert(!"the watch and the end are written by their outcome, not as a step");
    return AOP_STATE_UNRESOLVED;
}

static const struct {
    aop_outcome_t outcome;
    aop_entry_state_t state;
} outcome_states[] = {
    {AOP_OUTCOME_PAID, AOP_STATE_PAID},
    {AOP_OUTCOME_FAILED, AOP_STATE_FAILED},
    {AOP_OUTCOME_CANCELLED, AOP_STATE_CANCELLED},
    {AOP_OUTCOME_REFUNDED, AOP_STATE_REFUNDED},
    {AOP_OUTCOME_NEEDS_ATTENTION, AOP_STATE_NEEDS_ATTENTION},
    {AOP_OUTCOME_UNRESOLVED, AOP_STATE_UNRESOLVED},
};

aop_entry_state_t rsv_state_of_outcome(aop_outcome_t o) {
    for (size_t i = 0; i < sizeof outcome_states / sizeof *outcome_states; i++)
        if (outcome_states[i].outcome == o) return outcome_states[i].state;
    return AOP_STATE_UNRESOLVED;
}

aop_outcome_t rsv_outcome_of_state(aop_entry_state_t s) {
    for (size_t i = 0; i < sizeof outcome_states / sizeof *outcome_states; i++)
        if (outcome_states[i].state == s) return outcome_states[i].outcome;
    return AOP_OUTCOME_UNRESOLVED;
}

aop_phase_t rsv_phase_of_step(rsv_step_t step) {
    switch (step) {
    case RSV_PAY:
    case RSV_REFUND: return AOP_PHASE_SENDING;
    case RSV_CANCEL: return AOP_PHASE_REVERSING;
    case RSV_DONE: return AOP_PHASE_DONE;
    default: return AOP_PHASE_CHECKING;
    }
}
