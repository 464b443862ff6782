/* SPDX-License-Identifier: MIT */
/* The refund's loop: an undecided refund is re-sent identically (same merchantRefundId, the
 * journaled request) within the refund budget. Never a payCancel: that would reverse the whole
 * payment. */
#include <stdio.h>

#include "aop/util.h"
#include "resolver_internal.h"

#define FN_REFUND (&aop_fn_refund)

/* What one refund answer means; true = send it again. */
static bool on_refund(rsv_t *r, const aop_result_t *res, bool resend) {
    char code[AOP_JOURNAL_ID_SIZE];
    snprintf(code, sizeof code, "%.*s", (int)res->result_code.len, res->result_code.ptr ? res->result_code.ptr : "");
    bool decided = rsv_decided(res) && res->status != 'U';
    if (decided && res->status == 'S') {
        rsv_finish(r, AOP_OUTCOME_REFUNDED, FN_REFUND, NULL);
        return false;
    }
    if (decided && !rsv_code_is(res, AOP_RC_REQUEST_TRAFFIC_EXCEED_LIMIT)) {
        /* on a re-send these may answer our own earlier attempt, which may have refunded */
        if (resend && (rsv_code_is(res, AOP_RC_REPEAT_REQ_INCONSISTENT) || rsv_code_is(res, AOP_RC_REFUND_AMOUNT_EXCEED))) {
            rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "the re-sent refund answered %s: an earlier attempt may "
                       "have refunded; check it before refunding again", code);
            return false;
        }
        rsv_finish(r, AOP_OUTCOME_FAILED, FN_REFUND, "refused: %s", code);
        return false;
    }
    /* One call only (`aop refund --no-resolve`): an answer that did not decide leaves the entry
     * open for aop_recover; a throttled first send was refused like any decided F, but a
     * throttled re-send may follow an attempt that refunded. */
    if (r->o.single_call) {
        if (decided && !resend)
            rsv_finish(r, AOP_OUTCOME_FAILED, FN_REFUND, "refused: %s", code);
        else if (r->ever_sent)
            rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "the outcome is unknown; aop recover finishes it");
        else
            rsv_finish(r, AOP_OUTCOME_FAILED, NULL, "not sent: %s (%s)", aop_status_text(res->error), res->detail.msg);
        return false;
    }
    /* undecided, U or throttled: the same request again after a back-off */
    rsv_schedule(r, RSV_WAIT_BACKOFF);
    if (!rsv_save(r, r->ever_sent ? AOP_STATE_SENT : AOP_STATE_NEW)) return false;
    rsv_progress(r, AOP_PHASE_SENDING);
    return true;
}

/* The refund budget is spent: unknown if anything may have left, else certainly not refunded. */
static void out_of_budget(rsv_t *r) {
    if (r->ever_sent)
        rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "the refund budget is spent without a decided answer (%s); "
                   "aop recover re-sends it", r->e.last_status);
    else
        rsv_finish(r, AOP_OUTCOME_FAILED, NULL, "not sent: %s", r->e.last_status);
}

void rsv_refund_run(rsv_t *r, bool first) {
    r->refund_until_ms = aop_now_ms() + (int64_t)(r->o.policy.refund_budget_s * 1000.0);
    for (bool again = true; again;) {
        if (rsv_sleep_until(r, r->next_at_ms, false) == RSV_STOPPED) {
            rsv_interrupt(r);
            return;
        }
        if (!first && aop_now_ms() >= r->refund_until_ms) {
            out_of_budget(r);
            return;
        }
        bool resend = r->ever_sent; /* some earlier attempt may have reached the gateway */
        const aop_result_t *res = rsv_call(r, FN_REFUND, r->refund);
        first = false;
        if (!res) {
            char why[AOP_ERROR_MSG_MAX];
            snprintf(why, sizeof why, "%s", r->res->reason);
            rsv_finish(r, AOP_OUTCOME_UNRESOLVED, NULL, "%s", why);
            return;
        }
        rsv_note_call(r, res);
        again = on_refund(r, res, resend);
    }
}
