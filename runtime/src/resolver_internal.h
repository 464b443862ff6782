/* SPDX-License-Identifier: MIT */
/* Private to the resolver (resolver_*.c): one resolution's context and the helpers the payment,
 * refund and recovery loops share (calls and steps, the journal's compare-and-set, waiting,
 * back-off, progress, the crash hook). No SQL here: the journal is reached through aop/journal.h. */
#ifndef AOP_RESOLVER_INTERNAL_H
#define AOP_RESOLVER_INTERNAL_H

/* How much earlier than the pay's real start the journaled start may be: the pay leaves within
 * this (on the monotonic clock) of the start of the write whose store stamped it, or the start
 * is stamped again first (a NORMAL write); recovery adds this to the cancel moment. A
 * group-commit wait can therefore never move the cancel moment early. */
#define PAY_START_SLACK_MS 500
/* How many times the start is stamped again before the journal is judged too slow to send. */
#define PAY_START_RESTAMPS 5
/* The cancel's budget once a mistake of configuration is recognised (row Q3): long enough for
 * the cancel to work if only our verification is wrong, short enough not to hold the till. */
#define MISTAKE_CANCEL_BUDGET_S 15.0

#include <stdbool.h>
#include <stdint.h>

#include "aop/calls.h"
#include "aop/journal.h"
#include "aop/resolver.h"
#include "resolver_rows.h"

/* What a wait ended with (RSV_NOTICE: a notification decided the resolution). */
typedef enum { RSV_WOKE = 0, RSV_ABORTED, RSV_STOPPED, RSV_NOTICE } rsv_wake_t;

typedef struct {
    aop_client_t *c;
    aop_journal_t *j;
    aop_resolve_options_t o;
    aop_resolution_t *res;
    aop_journal_entry_t e;          /* our copy of the entry: its epoch is the compare-and-set's */
    char owner[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_key_t key;          /* the client's journal MAC key */
    unsigned dirty;                 /* AOP_WRITE_* groups of e changed since the last write */
    int64_t watch_in_ms;            /* with AOP_WRITE_WATCH: the watch is due this long after the write */
    int64_t next_in_ms;             /* with AOP_WRITE_NEXT_ATTEMPT: the next attempt's delay */
    const aop_offline_pay_request_t *pay; /* the caller's pay; NULL in recovery (never re-paid) */
    const aop_refund_request_t *refund;   /* the refund to (re-)send */
    bool resume;                    /* an existing open entry is being carried on */
    bool ever_sent;                 /* some request of this entry may have left */
    bool pay_start_exact;           /* pay_start_mono is this process's own stamp of a pay */
    /* In-process instants, all on the monotonic clock (aop_mono_ms): a step of the wall clock
     * moves no wait, budget or cancel moment. */
    int64_t pay_start_mono;         /* the last pay's start (from the journal when resumed) */
    int64_t stamp_write_mono;       /* when the write whose store stamped the pay's start began */
    int64_t next_at_ms;             /* the next call not before this */
    int64_t pay_give_up_ms;         /* unsent pays are re-sent until this */
    int64_t cancel_until_ms;        /* 0 = cancelling has not started */
    int64_t refund_until_ms;        /* 0 = this run has not sent the refund yet */
    double backoff_s;               /* the next back-off */
    unsigned calls[RSV_STEP_COUNT]; /* this run's calls of each step */
    char cancel_code[AOP_JOURNAL_ID_SIZE]; /* the cancel's resultCode that led to the last query */
    bool no_watch;                  /* no late query: the answer named another payment, or the watch agreed */
    /* how the last pay's answer failed, when it looked like a mistake of configuration */
    aop_mistake_t pay_failure;
    aop_status_t pay_failure_error;
    long pay_failure_http;
    aop_mistake_t mistake;          /* recognised: the cancel's budget is short, the reason names it */
    char mistake_detail[96];
    bool journal_lost;              /* a transition failed: stop (taken over or storage) */
    /* Notifications (rows N): the lease holder checks its key's while it waits. */
    bool notices;                   /* the journal keeps them (aop_journal_notices_supported) */
    int64_t notices_checked_ms;     /* when it last looked (monotonic) */
    rsv_step_t waiting_for;         /* the step whose moment the loop waits for */
    bool notice_decided;            /* a notification ended the resolution (or the journal was lost) */
    bool cancel_synced;             /* this run made cancel_sent durable before its first cancel */
} rsv_t;

/* How often, at most, the lease holder looks for its key's notifications while it waits. */
#define NOTICE_CHECK_MS 250

/* ---- resolver_policy.c: options, names, timing ---- */

/* Copies the caller's options (NULL = defaults) and checks the policy. */
aop_status_t rsv_adopt_options(const aop_resolve_options_t *given, aop_resolve_options_t *out, aop_error_t *err);
/* The deadline of one call of fn under the policy, in ms. */
long rsv_deadline_ms(const rsv_t *r, const aop_function_desc_t *fn);
/* The lease's lifetime: the longest wait plus the longest call, with a margin. */
int64_t rsv_lease_ttl_ms(const rsv_t *r);
/* Sets the next call's moment after a wait of kind w (back-off doubles, other kinds reset it). */
void rsv_schedule(rsv_t *r, rsv_wait_t w);
/* Sleeps until t_ms; an abort (when watch_abort) or a stop ends it early. */
rsv_wake_t rsv_sleep_until(rsv_t *r, int64_t t_ms, bool watch_abort);
bool rsv_stop_requested(const rsv_t *r);
bool rsv_abort_requested(const rsv_t *r);
/* AOP_TEST_CRASH_AT=point kills the process there, for the crash tests. Only in builds with the
 * CMake option AOP_TEST_HOOKS: otherwise neither the code nor the variable's name is in the
 * library. */
#ifdef AOP_TEST_HOOKS
void rsv_crash_point(const char *point);
#define RSV_CRASH_POINT(point) rsv_crash_point(point)
#else
#define RSV_CRASH_POINT(point) ((void)0)
#endif

/* ---- resolver_core.c: resolutions, calls, steps, the journal ---- */

/* A fresh resolution (outcome UNRESOLVED until decided). */
aop_resolution_t *rsv_resolution_new(void);
/* Sets up r for a resolution; AOP_E_NOMEM / option errors. */
aop_status_t rsv_init(rsv_t *r, aop_client_t *c, aop_journal_t *j, const aop_resolve_options_t *opts,
                      aop_error_t *err);
/* One call of fn: records the step, keeps the result in the resolution (the last call's), and
 * returns it (NULL when the request could not even be built: the reason goes to the resolution). */
const aop_result_t *rsv_call(rsv_t *r, const aop_function_desc_t *fn, const void *req);
/* Whether a result passed verification (docs/protocol.md section 7: S, F or a verified, echoed U). */
bool rsv_decided(const aop_result_t *res);
bool rsv_code_is(const aop_result_t *res, const char *code);
/* Tells the progress callback about the last step (or NULL) and what comes next. */
void rsv_progress(rsv_t *r, aop_phase_t next);
/* Notes the last call in the entry (attempts, times, raw status, code, trusted ids). */
void rsv_note_call(rsv_t *r, const aop_result_t *res);
/* Writes the entry in state s with a renewed lease and the groups of r->dirty (compare-and-set).
 * False when it failed: taken over (res->taken_over) or a storage error (reason); the loop must
 * stop. */
bool rsv_save(rsv_t *r, aop_entry_state_t s);
/* Ends the resolution with outcome o (the entry's state follows it; the lease is released). */
rsv_step_t rsv_finish(rsv_t *r, aop_outcome_t o, const aop_function_desc_t *decided_by, const char *fmt, ...)
    AOP_PRINTF(4, 5);
/* Stops on stop_flag: the entry stays open in its state, the lease is released. */
rsv_step_t rsv_interrupt(rsv_t *r);
/* Gives the lease back without changing the state (best effort: the lease expires anyway). */
void rsv_release(rsv_t *r);
/* Copies s into a fixed buffer (cut to fit), NUL-terminated. */
void rsv_copy(char *dst, size_t cap, aop_str_t s);
/* The pay leaves now: its start on the monotonic clock, exact (the cancel moment counts from it). */
void rsv_stamp_pay_start(rsv_t *r);
/* Carries an entry read from the journal (a resume, a recovery) over to this process: the time
 * since the pay's start, by the store's clock, onto the monotonic clock (a start later than now
 * counts as now). Called once the entry is claimed. */
void rsv_adopt_entry(rsv_t *r);
/* Whether the claimed entry's watch query is due, by the store's clock. */
bool rsv_watch_due(rsv_t *r);
/* Whether the claimed entry's MAC verifies with the client's key. */
bool rsv_mac_ok(const rsv_t *r);
/* Ends a claimed entry whose MAC does not verify: NEEDS_ATTENTION, nothing sent. */
void rsv_altered(rsv_t *r);
/* Fills the query/cancel ids: merchantTransId always, acquirementId only when trusted. */
void rsv_ids(const rsv_t *r, aop_str_t *merchant_id, aop_str_t *acq, aop_str_t *mtid);

/* ---- resolver_notify.c: notifications (rows N) ---- */

/* The lease holder's check while it waits: applies the PENDING notifications of its key. True
 * when the wait should end now: the resolution is decided (r->notice_decided), or a row made the
 * next query (or watch query) due now and the loop waits for one. */
bool rsv_check_notices(rsv_t *r);

/* ---- resolver_run.c: the executor of the rows ---- */

/* Runs the entry's steps from step until the outcome is decided, left open, or interrupted
 * (resumes and recovery enter at any step; RSV_PAY needs r->pay, RSV_REFUND r->refund). */
void rsv_run(rsv_t *r, rsv_step_t step);

#endif
