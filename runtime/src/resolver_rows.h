/* SPDX-License-Identifier: MIT */
/* The resolver's rows as pure decisions (docs/resolver.md): facts in, a decision out, each
 * decision named by its row's ID. No call, no journal, no clock, no global state: the executor
 * (resolver_run.c) gathers the facts, asks, and applies the decision; the table test
 * (tests/unit/test_resolver_table.c) checks every row in milliseconds. */
#ifndef AOP_RESOLVER_ROWS_H
#define AOP_RESOLVER_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "aop/journal.h"
#include "aop/resolver.h"

/* The steps of a resolution: the one call each makes. */
typedef enum {
    RSV_PAY = 0,        /* send (or re-send) the pay */
    RSV_QUERY = 1,      /* payQuery, again until the query budget is spent */
    RSV_CANCEL = 2,     /* payCancel, again until it answers S or F (or its budget is spent) */
    RSV_LAST_QUERY = 3, /* the one query after a cancel that did not succeed */
    RSV_WATCH = 4,      /* the late query of a FAILED or CANCELLED payment never acknowledged */
    RSV_REFUND = 5,     /* send (or re-send, identically) the refund */
    RSV_DONE = 6        /* no step: the outcome is decided (or left open) */
} rsv_step_t;
#define RSV_STEP_COUNT RSV_DONE

/* How long to wait before the next step's call. */
typedef enum {
    RSV_WAIT_NONE = 0,
    RSV_WAIT_FIRST_POLL,   /* the customer may be confirming on the phone */
    RSV_WAIT_POLL,         /* the gateway said "not yet" */
    RSV_WAIT_BACKOFF,      /* a call failed or did not decide */
    RSV_WAIT_CANCEL_MOMENT /* no cancel before the last pay's start + its deadline + the margin */
} rsv_wait_t;

/* What is known when a row is chosen: of the loop (before the call), and of the call's answer. */
typedef struct {
    rsv_step_t step;
    /* the loop */
    bool single_call;        /* one call only (`--no-resolve`) */
    bool aborted;            /* the cashier aborted */
    bool earlier_left;       /* before this call, some request of the entry may have left */
    bool acknowledged;       /* a decided answer showed the gateway knows the payment */
    bool budget_spent;       /* the step's budget: query (from the pay's start), cancel, refund */
    bool cancel_moment_passed; /* query: a cancel is allowed now */
    bool again;              /* this run has made this step's call before (a re-send, a second query) */
    bool resend_in_window;   /* pay: a re-send after the next back-off is still within the pay's deadline */
    bool cancel_not_exist;   /* last query: the cancel answered ORDER_NOT_EXIST */
    aop_outcome_t watched;   /* watch: the outcome the entry holds (FAILED or CANCELLED) */
    /* the answer */
    bool sent;               /* the request may have left */
    bool decided;            /* it passed verification: S, F, or a gateway's own U */
    char status;             /* 'S', 'F' or 'U' */
    bool credential;         /* its code is of the credential class: calling again will not help */
    bool throttled;          /* its code is of the throttled class: the same call may be answered later */
    bool order_not_exist;    /* ORDER_NOT_EXIST */
    bool repeat_inconsistent; /* REPEAT_REQ_INCONSISTENT: the id names another payment */
    bool in_process;         /* PAYMENT_IN_PROCESS: the customer is confirming */
    bool fails_as_pay;       /* query: undecided the same way as the pay's answer was, a mistake of
                                configuration (the same error on HTTP 200, or HTTP 404/405 on both) */
    aop_mistake_t mistake;   /* the loop: the configuration mistake recognised so far */
    aop_outcome_t shows;     /* a query's S: the outcome its acquirementStatus shows (0: still open) */
    bool other_amount;       /* a query's SUCCESS names another orderAmount or currency */
    /* text for the reasons only */
    const char *code;        /* resultCode, or "" */
    const char *why;         /* why it did not decide (a status name) */
    const char *detail;      /* the call's own message when it could not be sent */
    const char *acq_status;  /* a query's acquirementStatus, or "" */
    const char *cancel_code; /* last query: the cancel's resultCode */
    const char *amount, *currency; /* the journal's */
    const char *last_status; /* the entry's last raw status */
    const char *mistake_detail; /* the mistake's error and HTTP status ("AOP_E_SIGNATURE_INVALID on HTTP 200") */
} rsv_facts_t;

/* What a row decides. */
typedef struct {
    const char *row;        /* its ID in docs/resolver.md */
    rsv_step_t next;        /* the next step, or RSV_DONE */
    rsv_wait_t wait;        /* before the next step */
    aop_phase_t phase;      /* what the cashier reads next (the next step's) */
    aop_outcome_t outcome;  /* RSV_DONE: how this run ends */
    bool by_call;           /* RSV_DONE: this step's call decided it (decided_by) */
    bool no_watch;          /* no late query: the answer named another payment, or the watch agreed */
    bool late_paid;         /* the watch found a FAILED or CANCELLED payment paid */
    bool keep_watch;        /* the watch did not decide: it stays, due again a window later */
    aop_mistake_t mistake;  /* a configuration mistake the row recognised */
    char reason[AOP_ERROR_MSG_MAX];
} rsv_decision_t;

/* The rows checked before the step's call, for the facts of the loop; true when one applies (and
 * no call is made). */
bool rsv_decide_before(const rsv_facts_t *f, rsv_decision_t *d);
/* The row of the step's answer. */
void rsv_decide(const rsv_facts_t *f, rsv_decision_t *d);

/* ---- where an entry starts: a caller's pay or refund, a resume, a recovery (the E rows) ---- */

typedef enum {
    RSV_START_SEND = 1,    /* journal a new entry, then run from its first step */
    RSV_START_UNJOURNALED, /* send as asked without touching the journaled entry */
    RSV_START_REPORT,      /* report the journaled entry's state; nothing sent */
    RSV_START_CLAIM,       /* claim the entry's lease, then ask again */
    RSV_START_TAKEN_OVER,  /* a live owner holds it: nothing sent, the caller is told */
    RSV_START_CLAIM_ERROR, /* the claim failed for storage: a journal error, nothing sent */
    RSV_START_RUN,         /* run from step */
    RSV_START_SKIP,        /* recovery: another gateway identity's; listed, untouched */
    RSV_START_HELD,        /* recovery: a live owner holds it: theirs to finish */
    RSV_START_UNCLAIMED,   /* recovery: a storage error kept us from it: open, reported */
    RSV_START_NOTHING,     /* recovery: removed, or final since the list with no watch due */
    RSV_START_LEAVE,       /* recovery: NEEDS_ATTENTION, left to a person */
    RSV_START_ALTERED,     /* the entry's MAC does not verify: NEEDS_ATTENTION, nothing sent */
    RSV_START_LATER,       /* recovery: not due yet (its back-off): left open for a later run */
    RSV_START_UNREADABLE   /* recovery: the row cannot be read: reported with its id, untouched */
} rsv_start_t;

/* How claiming an entry went; NOT_DUE: recovery's claim_next did not take it (never due, held by
 * nobody, or backed off). */
typedef enum {
    RSV_CLAIM_NOT_YET = 0, RSV_CLAIM_OK, RSV_CLAIM_HELD, RSV_CLAIM_GONE, RSV_CLAIM_FAILED, RSV_CLAIM_NOT_DUE
} rsv_claim_t;

typedef struct {
    bool recovery;           /* aop_recover() picks it up; otherwise a caller's pay or refund */
    aop_entry_kind_t kind;
    bool ours;               /* recovery: of the client's gateway identity */
    bool found;              /* a caller's key: journaled already */
    bool same_request;       /* a caller's key: with the same amount and currency (refund: request) */
    aop_entry_state_t state; /* the entry's state (after the claim, once claimed) */
    bool watch_due;          /* recovery: its watch query is due */
    rsv_claim_t claim;
    bool single_call;
    bool mac_ok;             /* once claimed: the entry's MAC verifies with the client's key */
    bool unreadable;         /* recovery: the store could not read the row */
} rsv_start_facts_t;

typedef struct {
    const char *row;
    rsv_start_t action;
    rsv_step_t step; /* RSV_START_SEND / RSV_START_RUN */
} rsv_start_decision_t;

void rsv_decide_start(const rsv_start_facts_t *f, rsv_start_decision_t *d);

/* ---- D: when an entry is due for recovery (claim_next), and the back-off of UNRESOLVED ---- */

typedef struct {
    aop_entry_state_t state;
    bool watch_due; /* final: its watch query is due by the store's clock */
    bool held;      /* a live owner other than the claimant holds the lease */
    bool due_only;  /* the claimant honours the back-off (a recovery worker) */
    bool waiting;   /* its next attempt is still to come by the store's clock */
} rsv_due_facts_t;

typedef struct {
    const char *row;
    bool due;
} rsv_due_decision_t;

void rsv_decide_due(const rsv_due_facts_t *f, rsv_due_decision_t *d);

/* The back-off an outcome leaves: the next attempt in in_ms, the back-off to double next time. */
typedef struct {
    const char *row;
    int64_t in_ms;
    int64_t backoff_ms;
} rsv_retry_decision_t;

#define RSV_RETRY_FIRST_MS 60000LL   /* one minute */
#define RSV_RETRY_MAX_MS 3600000LL   /* one hour */

void rsv_decide_retry(aop_outcome_t o, int64_t last_backoff_ms, rsv_retry_decision_t *d);

/* ---- N: a payment notification applied to its entry ---- */

typedef enum {
    RSV_NOTICE_REFUSE = 1, /* its stored body does not verify again: it decides nothing */
    RSV_NOTICE_NO_ENTRY,   /* no payment of its merchantTransId: recorded as such, listed */
    RSV_NOTICE_NOTHING,    /* applied; the entry is left as it is */
    RSV_NOTICE_PAID,       /* the entry PAID, decided by the notify function, its acquirementId trusted */
    RSV_NOTICE_ATTENTION,  /* the entry NEEDS_ATTENTION */
    RSV_NOTICE_QUERY_NOW,  /* the entry's next query is due now; the query rows decide */
    RSV_NOTICE_WATCH_NOW   /* the final entry's watch query is due now; the watch rows decide */
} rsv_notice_action_t;

typedef struct {
    bool verified;          /* the stored body verifies again (signature, function, clientId, window) */
    bool found;             /* a payment entry of its merchantTransId (and merchantId) in its gateway identity */
    char status;            /* 'S' (SUCCESS), 'F' or 'U' */
    aop_entry_state_t state; /* the entry's */
    bool cancel_sent;       /* a payCancel of the entry may have left */
    bool has_amount;        /* orderAmount is present */
    bool other_amount;      /* its value or currency is not the entry's */
    bool other_acquirement; /* the entry has a trusted acquirementId and the notification's is another */
} rsv_notice_facts_t;

typedef struct {
    const char *row;
    rsv_notice_action_t action;
    char reason[AOP_ERROR_MSG_MAX];
} rsv_notice_decision_t;

void rsv_decide_notice(const rsv_notice_facts_t *f, rsv_notice_decision_t *d);

/* ---- the one mapping of steps, states and outcomes ---- */

/* The state an entry is written in when its loop goes on with step (refund: SENT once something
 * may have left, NEW before). */
aop_entry_state_t rsv_state_of_step(rsv_step_t step, bool earlier_left);
/* The state of an outcome (UNRESOLVED for the open ones). */
aop_entry_state_t rsv_state_of_outcome(aop_outcome_t o);
/* The outcome a state reports (UNRESOLVED for the open states). */
aop_outcome_t rsv_outcome_of_state(aop_entry_state_t s);
/* The phase the cashier reads while step runs. */
aop_phase_t rsv_phase_of_step(rsv_step_t step);

#endif
