/* SPDX-License-Identifier: MIT */
/* The resolver's table, one line per row of docs/resolver.md: the facts that choose the row, and
 * what it decides. The rows are pure (runtime/src/resolver_rows.c): no gateway, no journal, no
 * clock, so the whole table runs in milliseconds. The HTTP suites (test_resolver*.c) check the
 * same rows end to end; tests/unit/check_resolver_rows.py checks that this file, the code and the
 * document name the same rows. */
#include <criterion/criterion.h>
#include <string.h>

#include "resolver_rows.h"

#define PAID AOP_OUTCOME_PAID
#define FAILED AOP_OUTCOME_FAILED
#define CANCELLED AOP_OUTCOME_CANCELLED
#define REFUNDED AOP_OUTCOME_REFUNDED
#define UNRESOLVED AOP_OUTCOME_UNRESOLVED
#define NEEDS_ATTENTION AOP_OUTCOME_NEEDS_ATTENTION

typedef struct {
    const char *row;
    bool before;           /* checked before the step's call */
    rsv_facts_t f;
    rsv_step_t next;       /* RSV_DONE: outcome */
    aop_outcome_t outcome;
    rsv_wait_t wait;
} row_t;

/* ROW(id, facts, next, outcome-or-0, wait): a row of the answer; BEFORE(...): a row checked
 * before the call. */
#define ROW(id, facts, next, outcome, wait) {id, false, facts, next, outcome, wait}
#define BEFORE(id, facts, next, outcome, wait) {id, true, facts, next, outcome, wait}
#define FACTS(...) ((rsv_facts_t){__VA_ARGS__})
#define S_ .sent = true, .decided = true, .status = 'S'
#define F_ .sent = true, .decided = true, .status = 'F'
#define U_ .sent = true, .decided = false, .status = 'U'
#define NONE RSV_WAIT_NONE
#define BACKOFF RSV_WAIT_BACKOFF
#define POLL RSV_WAIT_POLL
#define FIRST RSV_WAIT_FIRST_POLL
#define MOMENT RSV_WAIT_CANCEL_MOMENT

static const row_t rows[] = {
    /* P: the pay */
    BEFORE("P1", FACTS(.step = RSV_PAY, .aborted = true, .again = true), RSV_DONE, FAILED, NONE),
    ROW("P2", FACTS(.step = RSV_PAY, .aborted = true, U_), RSV_CANCEL, 0, MOMENT),
    ROW("P3", FACTS(.step = RSV_PAY, .earlier_left = true, .single_call = true), RSV_DONE, UNRESOLVED, NONE),
    ROW("P4", FACTS(.step = RSV_PAY, .earlier_left = true), RSV_QUERY, 0, FIRST),
    ROW("P5", FACTS(.step = RSV_PAY, .aborted = true), RSV_DONE, FAILED, NONE),
    ROW("P6", FACTS(.step = RSV_PAY, .resend_in_window = false), RSV_DONE, FAILED, NONE),
    ROW("P7", FACTS(.step = RSV_PAY, .resend_in_window = true), RSV_PAY, 0, BACKOFF),
    ROW("P8", FACTS(.step = RSV_PAY, S_), RSV_DONE, PAID, NONE),
    ROW("P9", FACTS(.step = RSV_PAY, F_, .earlier_left = true, .single_call = true), RSV_DONE, UNRESOLVED, NONE),
    ROW("P10", FACTS(.step = RSV_PAY, F_, .earlier_left = true), RSV_QUERY, 0, NONE),
    ROW("P11", FACTS(.step = RSV_PAY, F_, .credential = true), RSV_DONE, FAILED, NONE),
    ROW("P12", FACTS(.step = RSV_PAY, F_), RSV_DONE, FAILED, NONE),
    ROW("P13", FACTS(.step = RSV_PAY, U_, .single_call = true), RSV_DONE, UNRESOLVED, NONE),
    ROW("P14", FACTS(.step = RSV_PAY, U_), RSV_QUERY, 0, FIRST),
    /* Q: the queries */
    BEFORE("Q1", FACTS(.step = RSV_QUERY, .earlier_left = true, .aborted = true), RSV_CANCEL, 0, MOMENT),
    BEFORE("Q2", FACTS(.step = RSV_QUERY, .earlier_left = true, .budget_spent = true, .cancel_moment_passed = true,
                       .again = true), RSV_CANCEL, 0, MOMENT),
    ROW("Q3", FACTS(.step = RSV_QUERY, .earlier_left = true, U_, .fails_as_pay = true,
                    .mistake = AOP_MISTAKE_UNVERIFIED), RSV_CANCEL, 0, MOMENT),
    ROW("Q4", FACTS(.step = RSV_QUERY, .earlier_left = true, U_), RSV_QUERY, 0, BACKOFF),
    ROW("Q5", FACTS(.step = RSV_QUERY, .earlier_left = true, F_, .credential = true), RSV_DONE, UNRESOLVED, NONE),
    ROW("Q6", FACTS(.step = RSV_QUERY, .earlier_left = true, F_, .order_not_exist = true), RSV_QUERY, 0, POLL),
    ROW("Q7", FACTS(.step = RSV_QUERY, .earlier_left = true, F_), RSV_QUERY, 0, BACKOFF),
    ROW("Q8", FACTS(.step = RSV_QUERY, .earlier_left = true, S_, .shows = PAID, .other_amount = true), RSV_DONE,
        NEEDS_ATTENTION, NONE),
    ROW("Q9", FACTS(.step = RSV_QUERY, .earlier_left = true, S_, .shows = FAILED), RSV_DONE, FAILED, NONE),
    ROW("Q10", FACTS(.step = RSV_QUERY, .earlier_left = true, S_), RSV_QUERY, 0, POLL),
    /* C: the cancels */
    BEFORE("C1", FACTS(.step = RSV_CANCEL, .earlier_left = true, .budget_spent = true), RSV_DONE, UNRESOLVED, NONE),
    ROW("C2", FACTS(.step = RSV_CANCEL, .earlier_left = true, U_), RSV_CANCEL, 0, BACKOFF),
    ROW("C3", FACTS(.step = RSV_CANCEL, .earlier_left = true, S_), RSV_DONE, CANCELLED, NONE),
    ROW("C4", FACTS(.step = RSV_CANCEL, .earlier_left = true, F_, .throttled = true), RSV_CANCEL, 0, BACKOFF),
    ROW("C5", FACTS(.step = RSV_CANCEL, .earlier_left = true, F_, .credential = true), RSV_DONE, UNRESOLVED, NONE),
    ROW("C6", FACTS(.step = RSV_CANCEL, .earlier_left = true, F_, .order_not_exist = true), RSV_LAST_QUERY, 0, NONE),
    ROW("C7", FACTS(.step = RSV_CANCEL, .earlier_left = true, F_), RSV_LAST_QUERY, 0, NONE),
    /* L: the last query */
    ROW("L1", FACTS(.step = RSV_LAST_QUERY, .earlier_left = true, S_, .shows = PAID, .other_amount = true), RSV_DONE,
        NEEDS_ATTENTION, NONE),
    ROW("L2", FACTS(.step = RSV_LAST_QUERY, .earlier_left = true, S_, .shows = PAID), RSV_DONE, PAID, NONE),
    ROW("L3", FACTS(.step = RSV_LAST_QUERY, .earlier_left = true, S_), RSV_DONE, NEEDS_ATTENTION, NONE),
    ROW("L4", FACTS(.step = RSV_LAST_QUERY, .earlier_left = true, F_, .order_not_exist = true, .cancel_not_exist = true),
        RSV_DONE, FAILED, NONE),
    ROW("L5", FACTS(.step = RSV_LAST_QUERY, .earlier_left = true, F_, .order_not_exist = true, .acknowledged = true),
        RSV_DONE, NEEDS_ATTENTION, NONE),
    ROW("L6", FACTS(.step = RSV_LAST_QUERY, .earlier_left = true, F_, .order_not_exist = true), RSV_DONE, UNRESOLVED,
        NONE),
    /* W: the watch */
    ROW("W1", FACTS(.step = RSV_WATCH, .earlier_left = true, .watched = FAILED, S_, .shows = PAID, .other_amount = true),
        RSV_DONE, NEEDS_ATTENTION, NONE),
    ROW("W2", FACTS(.step = RSV_WATCH, .earlier_left = true, .watched = CANCELLED, S_, .shows = PAID), RSV_DONE, PAID,
        NONE),
    ROW("W3", FACTS(.step = RSV_WATCH, .earlier_left = true, .watched = CANCELLED, F_, .order_not_exist = true),
        RSV_DONE, CANCELLED, NONE),
    ROW("W4", FACTS(.step = RSV_WATCH, .earlier_left = true, .watched = FAILED, U_), RSV_DONE, FAILED, NONE),
    /* R: the refund */
    BEFORE("R1", FACTS(.step = RSV_REFUND, .budget_spent = true, .earlier_left = true), RSV_DONE, UNRESOLVED, NONE),
    BEFORE("R2", FACTS(.step = RSV_REFUND, .budget_spent = true), RSV_DONE, FAILED, NONE),
    ROW("R3", FACTS(.step = RSV_REFUND, .earlier_left = true, S_), RSV_DONE, REFUNDED, NONE),
    ROW("R4", FACTS(.step = RSV_REFUND, .earlier_left = true, F_), RSV_DONE, UNRESOLVED, NONE),
    ROW("R5", FACTS(.step = RSV_REFUND, F_), RSV_DONE, FAILED, NONE),
    ROW("R6", FACTS(.step = RSV_REFUND, .single_call = true, F_, .throttled = true), RSV_DONE, FAILED, NONE),
    ROW("R7", FACTS(.step = RSV_REFUND, .single_call = true, U_), RSV_DONE, UNRESOLVED, NONE),
    ROW("R8", FACTS(.step = RSV_REFUND, .single_call = true), RSV_DONE, FAILED, NONE),
    ROW("R9", FACTS(.step = RSV_REFUND, F_, .throttled = true), RSV_REFUND, 0, BACKOFF),
};

static const char *step_name(rsv_step_t s) {
    static const char *const names[] = {"PAY", "QUERY", "CANCEL", "LAST_QUERY", "WATCH", "REFUND", "DONE"};
    return (unsigned)s <= RSV_DONE ? names[s] : "?";
}

Test(resolver_table, every_row_decides_as_the_table_says) {
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const row_t *t = &rows[i];
        rsv_decision_t d;
        memset(&d, 0, sizeof d);
        bool before = rsv_decide_before(&t->f, &d);
        cr_expect_eq(before, t->before, "%s: %s checked before the call", t->row, before ? "is" : "is not");
        if (!before) rsv_decide(&t->f, &d);
        cr_expect_str_eq(d.row, t->row, "facts of %s choose %s", t->row, d.row ? d.row : "(none)");
        cr_expect_eq(d.next, t->next, "%s: next step %s, want %s", t->row, step_name(d.next), step_name(t->next));
        if (t->next == RSV_DONE) {
            cr_expect_eq(d.outcome, t->outcome, "%s: %s, want %s", t->row, aop_outcome_name(d.outcome),
                         aop_outcome_name(t->outcome));
            cr_expect_eq(d.phase, AOP_PHASE_DONE, "%s", t->row);
        } else {
            cr_expect_eq(d.wait, t->wait, "%s: wait %d, want %d", t->row, (int)d.wait, (int)t->wait);
        }
    }
}

/* What a row decides beyond its step and outcome: the reasons the cashier reads, the watch. */
Test(resolver_table, rows_say_why) {
    rsv_decision_t d;
    rsv_facts_t refused = FACTS(.step = RSV_REFUND, .earlier_left = true, F_, .code = "PROCESS_FAIL");
    rsv_decide(&refused, &d);
    cr_expect_str_eq(d.row, "R4");
    cr_expect_not_null(strstr(d.reason, "PROCESS_FAIL"), "%s", d.reason);
    cr_expect_not_null(strstr(d.reason, "an earlier attempt may have refunded; check before refunding again"), "%s",
                       d.reason);
    rsv_facts_t other = FACTS(.step = RSV_PAY, F_, .repeat_inconsistent = true, .code = "REPEAT_REQ_INCONSISTENT");
    rsv_decide(&other, &d);
    cr_expect_str_eq(d.row, "P12");
    cr_expect(d.no_watch, "the answer names another payment: nothing to watch");
    cr_expect(d.by_call);
    rsv_facts_t late = FACTS(.step = RSV_WATCH, .earlier_left = true, .watched = FAILED, S_, .shows = PAID);
    rsv_decide(&late, &d);
    cr_expect(d.late_paid && !d.keep_watch);
    rsv_facts_t unknown = FACTS(.step = RSV_WATCH, .earlier_left = true, .watched = FAILED, U_);
    rsv_decide(&unknown, &d);
    cr_expect(d.keep_watch && !d.by_call);
    rsv_facts_t waiting = FACTS(.step = RSV_PAY, .sent = true, .decided = true, .status = 'U', .in_process = true);
    rsv_decide(&waiting, &d);
    cr_expect_eq(d.phase, AOP_PHASE_WAITING_CUSTOMER);
    /* configuration mistakes are named, not "declined" or "unknown" */
    rsv_facts_t config = FACTS(.step = RSV_PAY, F_, .credential = true, .code = "UNKNOWN_CLIENT");
    rsv_decide(&config, &d);
    cr_expect_eq(d.mistake, AOP_MISTAKE_CREDENTIAL);
    cr_expect_not_null(strstr(d.reason, "configuration (UNKNOWN_CLIENT)"), "%s", d.reason);
    cr_expect_null(strstr(d.reason, "declined"), "%s", d.reason);
    rsv_facts_t path = FACTS(.step = RSV_CANCEL, .earlier_left = true, .budget_spent = true,
                             .mistake = AOP_MISTAKE_PATH, .mistake_detail = "HTTP 404");
    cr_expect(rsv_decide_before(&path, &d));
    cr_expect_str_eq(d.row, "C1");
    cr_expect_not_null(strstr(d.reason, "HTTP 404: check the gateway URL's path"), "%s", d.reason);
    rsv_facts_t sig = FACTS(.step = RSV_CANCEL, .earlier_left = true, .budget_spent = true,
                            .mistake = AOP_MISTAKE_UNVERIFIED, .mistake_detail = "AOP_E_SIGNATURE_INVALID on HTTP 200");
    cr_expect(rsv_decide_before(&sig, &d));
    cr_expect_not_null(strstr(d.reason, "check the sign type and Alipay's public key"), "%s", d.reason);
}

/* ---- E: where an entry starts ---------------------------------------------------------------------- */

typedef struct {
    const char *row;
    rsv_start_facts_t f;
    rsv_start_t action;
    rsv_step_t step;
} start_t;

#define START(id, facts, action, step) {id, facts, action, step}
#define SF(...) ((rsv_start_facts_t){__VA_ARGS__})
#define PAYMENT .kind = AOP_ENTRY_PAYMENT
#define REFUND .kind = AOP_ENTRY_REFUND
#define OPEN(st) .found = true, .same_request = true, .state = st
#define CLAIMED .claim = RSV_CLAIM_OK, .mac_ok = true
#define RECOVERED .recovery = true, .ours = true

static const start_t starts[] = {
    START("E1", SF(PAYMENT), RSV_START_SEND, RSV_PAY),
    START("E2", SF(PAYMENT, .found = true, .state = AOP_STATE_POLLING), RSV_START_UNJOURNALED, RSV_DONE),
    START("E3", SF(PAYMENT, OPEN(AOP_STATE_NEEDS_ATTENTION)), RSV_START_REPORT, RSV_DONE),
    START("E4", SF(PAYMENT, OPEN(AOP_STATE_POLLING)), RSV_START_CLAIM, RSV_DONE),
    START("E5", SF(PAYMENT, OPEN(AOP_STATE_POLLING), .claim = RSV_CLAIM_HELD), RSV_START_TAKEN_OVER, RSV_DONE),
    START("E6", SF(PAYMENT, OPEN(AOP_STATE_POLLING), .claim = RSV_CLAIM_FAILED), RSV_START_CLAIM_ERROR, RSV_DONE),
    START("E25", SF(PAYMENT, OPEN(AOP_STATE_POLLING), .claim = RSV_CLAIM_OK, .mac_ok = false), RSV_START_ALTERED,
          RSV_DONE),
    START("E7", SF(PAYMENT, OPEN(AOP_STATE_CANCELLING), CLAIMED, .single_call = true), RSV_START_RUN, RSV_PAY),
    START("E8", SF(REFUND, OPEN(AOP_STATE_SENT), CLAIMED), RSV_START_RUN, RSV_REFUND),
    START("E9", SF(PAYMENT, OPEN(AOP_STATE_CANCELLING), CLAIMED), RSV_START_RUN, RSV_CANCEL),
    START("E10", SF(PAYMENT, OPEN(AOP_STATE_LAST_CHECK), CLAIMED), RSV_START_RUN, RSV_LAST_QUERY),
    START("E11", SF(PAYMENT, OPEN(AOP_STATE_UNRESOLVED), CLAIMED), RSV_START_RUN, RSV_QUERY),
    START("E12", SF(PAYMENT, OPEN(AOP_STATE_PAY_SENT), CLAIMED), RSV_START_RUN, RSV_PAY),
    START("E28", SF(PAYMENT, RECOVERED, .unreadable = true), RSV_START_UNREADABLE, RSV_DONE),
    START("E13", SF(PAYMENT, .recovery = true, .state = AOP_STATE_POLLING), RSV_START_SKIP, RSV_DONE),
    START("E14", SF(PAYMENT, RECOVERED, .state = AOP_STATE_POLLING), RSV_START_CLAIM, RSV_DONE),
    START("E15", SF(PAYMENT, RECOVERED, .claim = RSV_CLAIM_HELD), RSV_START_HELD, RSV_DONE),
    START("E16", SF(PAYMENT, RECOVERED, .claim = RSV_CLAIM_GONE), RSV_START_NOTHING, RSV_DONE),
    START("E17", SF(PAYMENT, RECOVERED, .claim = RSV_CLAIM_FAILED), RSV_START_UNCLAIMED, RSV_DONE),
    START("E26", SF(PAYMENT, RECOVERED, .claim = RSV_CLAIM_OK, .state = AOP_STATE_CANCELLED, .watch_due = true),
          RSV_START_ALTERED, RSV_DONE),
    START("E18", SF(PAYMENT, RECOVERED, CLAIMED, .state = AOP_STATE_FAILED, .watch_due = true), RSV_START_RUN,
          RSV_WATCH),
    START("E19", SF(PAYMENT, RECOVERED, CLAIMED, .state = AOP_STATE_PAID), RSV_START_NOTHING, RSV_DONE),
    START("E20", SF(PAYMENT, RECOVERED, .claim = RSV_CLAIM_NOT_DUE, .state = AOP_STATE_NEEDS_ATTENTION),
          RSV_START_LEAVE, RSV_DONE),
    START("E27", SF(PAYMENT, RECOVERED, .claim = RSV_CLAIM_NOT_DUE, .state = AOP_STATE_UNRESOLVED), RSV_START_LATER,
          RSV_DONE),
    START("E21", SF(REFUND, RECOVERED, CLAIMED, .state = AOP_STATE_UNRESOLVED), RSV_START_RUN, RSV_REFUND),
    START("E22", SF(PAYMENT, RECOVERED, CLAIMED, .state = AOP_STATE_CANCELLING), RSV_START_RUN, RSV_CANCEL),
    START("E23", SF(PAYMENT, RECOVERED, CLAIMED, .state = AOP_STATE_LAST_CHECK), RSV_START_RUN, RSV_LAST_QUERY),
    START("E24", SF(PAYMENT, RECOVERED, CLAIMED, .state = AOP_STATE_NEW), RSV_START_RUN, RSV_QUERY),
};

Test(resolver_table, every_start_row_decides_as_the_table_says) {
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        const start_t *t = &starts[i];
        rsv_start_decision_t d;
        rsv_decide_start(&t->f, &d);
        cr_expect_str_eq(d.row, t->row, "facts of %s choose %s", t->row, d.row ? d.row : "(none)");
        cr_expect_eq(d.action, t->action, "%s: action %d, want %d", t->row, (int)d.action, (int)t->action);
        cr_expect_eq(d.step, t->step, "%s: step %s, want %s", t->row, step_name(d.step), step_name(t->step));
    }
}

/* Nothing of an altered entry leaves, whatever its state: the MAC is checked before any step. */
Test(resolver_table, an_entry_whose_mac_fails_is_never_worked_on) {
    static const aop_entry_state_t open[] = {AOP_STATE_NEW, AOP_STATE_POLLING, AOP_STATE_CANCELLING,
                                             AOP_STATE_LAST_CHECK, AOP_STATE_UNRESOLVED, AOP_STATE_SENT};
    for (size_t i = 0; i < sizeof open / sizeof *open; i++) {
        aop_entry_kind_t kind = open[i] == AOP_STATE_SENT ? AOP_ENTRY_REFUND : AOP_ENTRY_PAYMENT;
        rsv_start_decision_t d;
        rsv_decide_start(&SF(.kind = kind, OPEN(open[i]), .claim = RSV_CLAIM_OK), &d);
        cr_expect_eq(d.action, RSV_START_ALTERED, "resumed %s: %s", aop_entry_state_name(open[i]), d.row);
        rsv_decide_start(&SF(.kind = kind, RECOVERED, .claim = RSV_CLAIM_OK, .state = open[i]), &d);
        cr_expect_eq(d.action, RSV_START_ALTERED, "recovered %s: %s", aop_entry_state_name(open[i]), d.row);
        rsv_decide_start(&SF(.kind = kind, OPEN(open[i]), .claim = RSV_CLAIM_OK, .single_call = true), &d);
        cr_expect_eq(d.action, RSV_START_ALTERED, "single call %s: %s", aop_entry_state_name(open[i]), d.row);
    }
    /* nothing would be sent for these: no MAC is needed to leave them alone */
    rsv_start_decision_t d;
    rsv_decide_start(&SF(PAYMENT, RECOVERED, .claim = RSV_CLAIM_OK, .state = AOP_STATE_PAID), &d);
    cr_expect_str_eq(d.row, "E19");
    rsv_decide_start(&SF(PAYMENT, OPEN(AOP_STATE_PAID)), &d);
    cr_expect_str_eq(d.row, "E3");
}

/* ---- D: when an entry is due, and the back-off ------------------------------------------------------ */

typedef struct {
    const char *row;
    rsv_due_facts_t f;
    bool due;
} due_t;

#define DUE(id, facts, is_due) {id, facts, is_due}
#define DF(...) ((rsv_due_facts_t){__VA_ARGS__})

static const due_t dues[] = {
    DUE("D1", DF(.state = AOP_STATE_NEEDS_ATTENTION, .watch_due = true), false),
    DUE("D2", DF(.state = AOP_STATE_POLLING, .held = true), false),
    DUE("D3", DF(.state = AOP_STATE_FAILED, .watch_due = true, .due_only = true, .waiting = true), true),
    DUE("D4", DF(.state = AOP_STATE_PAID), false),
    DUE("D5", DF(.state = AOP_STATE_UNRESOLVED, .due_only = true, .waiting = true), false),
    DUE("D6", DF(.state = AOP_STATE_UNRESOLVED, .waiting = true), true),
};

Test(resolver_table, every_due_row_decides_as_the_table_says) {
    for (size_t i = 0; i < sizeof dues / sizeof *dues; i++) {
        rsv_due_decision_t d;
        rsv_decide_due(&dues[i].f, &d);
        cr_expect_str_eq(d.row, dues[i].row, "facts of %s choose %s", dues[i].row, d.row);
        cr_expect_eq(d.due, dues[i].due, "%s", dues[i].row);
    }
}

typedef struct {
    const char *row;
    aop_outcome_t outcome;
    int64_t last, next;
} retry_t;

#define RETRY(id, outcome, last, next) {id, outcome, last, next}

static const retry_t retries[] = {
    RETRY("D7", UNRESOLVED, 0, 60000),
    RETRY("D8", PAID, 120000, 0),
};

Test(resolver_table, every_retry_row_decides_as_the_table_says) {
    for (size_t i = 0; i < sizeof retries / sizeof *retries; i++) {
        rsv_retry_decision_t d;
        rsv_decide_retry(retries[i].outcome, retries[i].last, &d);
        cr_expect_str_eq(d.row, retries[i].row);
        cr_expect_eq(d.in_ms, retries[i].next, "%s: %lld", d.row, (long long)d.in_ms);
        cr_expect_eq(d.backoff_ms, retries[i].next);
    }
    /* 1 min doubling to 1 h, each time the entry is left UNRESOLVED again */
    int64_t last = 0;
    static const int64_t want[] = {60000, 120000, 240000, 480000, 960000, 1920000, 3600000, 3600000};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        rsv_retry_decision_t d;
        rsv_decide_retry(UNRESOLVED, last, &d);
        cr_expect_eq(d.in_ms, want[i], "%zu: %lld", i, (long long)d.in_ms);
        last = d.backoff_ms;
    }
    rsv_retry_decision_t d;
    rsv_decide_retry(NEEDS_ATTENTION, 3600000, &d);
    cr_expect_eq(d.in_ms, 0, "the back-off starts over");
}

/* ---- N: a payment notification applied to its entry ------------------------------------------- */

typedef struct {
    const char *row;
    rsv_notice_facts_t f;
    rsv_notice_action_t action;
} notice_t;

#define NOTICE(id, facts, action) {id, facts, action}
#define NF(...) ((rsv_notice_facts_t){__VA_ARGS__})
#define KNOWN .verified = true, .found = true
/* a SUCCESS naming the entry's amount, for an open entry no cancel left */
#define PAID_BY_NOTICE .status = 'S', .has_amount = true

static const notice_t notices[] = {
    NOTICE("N1", NF(.found = true, PAID_BY_NOTICE, .state = AOP_STATE_POLLING), RSV_NOTICE_REFUSE),
    NOTICE("N2", NF(.verified = true, PAID_BY_NOTICE, .state = AOP_STATE_POLLING), RSV_NOTICE_NO_ENTRY),
    NOTICE("N3", NF(KNOWN, .status = 'U', .state = AOP_STATE_POLLING), RSV_NOTICE_NOTHING),
    NOTICE("N4", NF(KNOWN, PAID_BY_NOTICE, .state = AOP_STATE_NEEDS_ATTENTION), RSV_NOTICE_NOTHING),
    NOTICE("N5", NF(KNOWN, PAID_BY_NOTICE, .state = AOP_STATE_FAILED), RSV_NOTICE_WATCH_NOW),
    NOTICE("N6", NF(KNOWN, PAID_BY_NOTICE, .state = AOP_STATE_PAID), RSV_NOTICE_NOTHING),
    NOTICE("N7", NF(KNOWN, PAID_BY_NOTICE, .state = AOP_STATE_POLLING, .other_amount = true), RSV_NOTICE_ATTENTION),
    NOTICE("N8", NF(KNOWN, PAID_BY_NOTICE, .state = AOP_STATE_POLLING, .cancel_sent = true), RSV_NOTICE_QUERY_NOW),
    NOTICE("N9", NF(KNOWN, PAID_BY_NOTICE, .state = AOP_STATE_POLLING), RSV_NOTICE_PAID),
    NOTICE("N10", NF(KNOWN, .status = 'F', .state = AOP_STATE_POLLING, .has_amount = true), RSV_NOTICE_QUERY_NOW),
};

Test(resolver_table, every_notice_row_decides_as_the_table_says) {
    for (size_t i = 0; i < sizeof notices / sizeof *notices; i++) {
        rsv_notice_decision_t d;
        rsv_decide_notice(&notices[i].f, &d);
        cr_expect_str_eq(d.row, notices[i].row, "facts of %s choose %s", notices[i].row, d.row);
        cr_expect_eq(d.action, notices[i].action, "%s: action %d", notices[i].row, (int)d.action);
        cr_expect_neq(d.reason[0], '\0', "%s says why", notices[i].row);
    }
}

Test(resolver_table, a_notification_decides_paid_only_when_everything_agrees) {
    rsv_notice_decision_t d;
    /* every open state, with and without a cancel that may have left */
    static const aop_entry_state_t open[] = {AOP_STATE_NEW, AOP_STATE_POLLING, AOP_STATE_UNRESOLVED,
                                             AOP_STATE_CANCELLING, AOP_STATE_LAST_CHECK};
    for (size_t i = 0; i < sizeof open / sizeof *open; i++)
        for (int cancel = 0; cancel < 2; cancel++)
            for (int amount = 0; amount < 4; amount++) { /* absent, equal, other, other acquirementId */
                rsv_notice_facts_t f = NF(KNOWN, .status = 'S', .state = open[i], .cancel_sent = cancel,
                                          .has_amount = amount != 0, .other_amount = amount == 2,
                                          .other_acquirement = amount == 3);
                rsv_decide_notice(&f, &d);
                bool paid = !cancel && amount == 1;
                cr_expect_eq(d.action == RSV_NOTICE_PAID, paid, "state %d cancel %d amount %d: %s", (int)open[i],
                             cancel, amount, d.row);
                if (amount >= 2) cr_expect_eq(d.action, RSV_NOTICE_ATTENTION, "%s", d.row);
            }
    /* a failure never closes anything by itself; a final entry is never written by a notification */
    static const aop_entry_state_t all[] = {AOP_STATE_NEW, AOP_STATE_POLLING, AOP_STATE_PAID, AOP_STATE_FAILED,
                                            AOP_STATE_CANCELLED, AOP_STATE_NEEDS_ATTENTION};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        rsv_decide_notice(&NF(KNOWN, .status = 'F', .state = all[i], .has_amount = true), &d);
        cr_expect(d.action == RSV_NOTICE_QUERY_NOW || d.action == RSV_NOTICE_WATCH_NOW ||
                      d.action == RSV_NOTICE_NOTHING, "%s", d.row);
        rsv_decide_notice(&NF(KNOWN, .status = 'S', .state = all[i], .has_amount = true), &d);
        if (aop_entry_state_final(all[i])) cr_expect_neq(d.action, RSV_NOTICE_PAID, "%s", d.row);
    }
}

/* ---- the one mapping ----------------------------------------------------------------------------- */

Test(resolver_table, steps_states_and_outcomes_map_one_way_each) {
    cr_expect_eq(rsv_state_of_step(RSV_PAY, true), AOP_STATE_NEW, "no state means certainly not sent");
    cr_expect_eq(rsv_state_of_step(RSV_QUERY, true), AOP_STATE_POLLING);
    cr_expect_eq(rsv_state_of_step(RSV_CANCEL, true), AOP_STATE_CANCELLING);
    cr_expect_eq(rsv_state_of_step(RSV_LAST_QUERY, true), AOP_STATE_LAST_CHECK);
    cr_expect_eq(rsv_state_of_step(RSV_REFUND, true), AOP_STATE_SENT);
    cr_expect_eq(rsv_state_of_step(RSV_REFUND, false), AOP_STATE_NEW);
    static const aop_outcome_t outcomes[] = {PAID, FAILED, CANCELLED, REFUNDED, UNRESOLVED, NEEDS_ATTENTION};
    for (size_t i = 0; i < sizeof outcomes / sizeof *outcomes; i++) {
        aop_entry_state_t s = rsv_state_of_outcome(outcomes[i]);
        cr_expect_eq(rsv_outcome_of_state(s), outcomes[i], "%s", aop_outcome_name(outcomes[i]));
        cr_expect_eq(aop_entry_state_final(s), aop_outcome_known(outcomes[i]), "%s", aop_outcome_name(outcomes[i]));
    }
    /* every step's state is one the journal lets the resolver write from NEW or from itself */
    for (rsv_step_t st = RSV_PAY; st < RSV_STEP_COUNT; st++) {
        if (st == RSV_WATCH) continue;
        aop_entry_kind_t kind = st == RSV_REFUND ? AOP_ENTRY_REFUND : AOP_ENTRY_PAYMENT;
        aop_entry_state_t s = rsv_state_of_step(st, true);
        cr_expect(aop_entry_move_allowed(kind, s, s, AOP_MOVER_RESOLVER), "%s", step_name(st));
    }
}
