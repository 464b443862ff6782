/* SPDX-License-Identifier: MIT */
/* The resolver's rules beyond the table's rows: the cancel margin, the ids rule, resuming an open
 * entry, a reused merchantTransId, the journal (commit first, never the identityCode, taken over,
 * interrupted), refunds (never a cancel), and recovery after a crash (a dead owner's entry, and
 * the AOP_TEST_CRASH_AT hook when the library has it). */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resolver_support.h"

#define CODE_IN_PROCESS "281000000000001013"
#define CODE_PAYING "281000000000003001"
#define CODE_ECHO_MISMATCH "281000000000009007"
#define CODE_DROPPED_UNRECORDED "281000000000009009"

typedef struct {
    aop_sandbox_t *s;
    aop_client_t *c;
    aop_journal_t *j;
    mem_store_t *m;
} fx_t;

static fx_t fx(aop_event_fn on_event, void *ctx) {
    fx_t f;
    f.s = rs_sandbox(false, 0);
    f.c = rs_client(aop_sandbox_port(f.s), on_event, ctx);
    f.j = mem_journal(&f.m);
    return f;
}

static void fx_free(fx_t *f) {
    aop_journal_close(f->j);
    aop_client_free(f->c);
    aop_sandbox_stop(f->s);
}

static const aop_step_t *first_step(const aop_resolution_t *r, const aop_function_desc_t *fn) {
    for (unsigned i = 0; i < r->n_steps; i++)
        if (r->steps[i].function == fn) return &r->steps[i];
    return NULL;
}

/* ---- timing ---- */

static void expect_cancel_after_margin(bool abort) {
    fx_t f = fx(NULL, NULL);
    static volatile int abort_flag;
    abort_flag = abort;
    aop_resolve_options_t o = rs_fast();
    o.policy.query_budget_s = 0.05; /* spent long before the margin allows a cancel */
    o.policy.cancel_margin_s = 0.4;
    o.abort_flag = &abort_flag;
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("margin"), "1000", CODE_PAYING, &o);
    cr_assert_str_eq(aop_outcome_name(r->outcome), "CANCELLED", "%s", r->reason);
    const aop_step_t *pay = first_step(r, &aop_fn_offline_pay), *cancel = first_step(r, &aop_fn_pay_cancel);
    cr_assert(pay && cancel);
    cr_expect_geq(cancel->at_ms, pay->at_ms + DEADLINE_MS + 400, "cancel %lld ms after the pay",
                  (long long)(cancel->at_ms - pay->at_ms));
    aop_resolution_free(r);
    fx_free(&f);
}

Test(resolver_rules, never_cancels_before_the_margin) { expect_cancel_after_margin(false); }
Test(resolver_rules, abort_waits_for_the_margin_too) { expect_cancel_after_margin(true); }

/* ---- ids ---- */

typedef struct {
    unsigned queries, queries_with_acq, pays, calls;
} seen_t;

static void see(const aop_event_t *ev, void *ctx) {
    seen_t *s = ctx;
    s->calls++;
    if (!strcmp(ev->function, aop_fn_offline_pay.name)) s->pays++;
    if (strcmp(ev->function, aop_fn_offline_pay_query.name) && strcmp(ev->function, aop_fn_pay_cancel.name)) return;
    s->queries++;
    if (strstr(ev->masked_request, "\"acquirementId\"")) s->queries_with_acq++;
}

Test(resolver_rules, untrusted_acquirement_id_is_never_sent) {
    seen_t seen = {0};
    fx_t f = fx(see, &seen);
    aop_resolve_options_t o = rs_fast();
    /* the pay's SUCCESS echoes another merchantTransId: its acquirementId may be another payment's */
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("echo"), "1000", CODE_ECHO_MISMATCH, &o);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "PAID");
    cr_expect_gt(seen.queries, 0);
    cr_expect_eq(seen.queries_with_acq, 0, "%u of %u queries named an untrusted acquirementId", seen.queries_with_acq,
                 seen.queries);
    aop_resolution_free(r);
    /* the control: a decided PAYMENT_IN_PROCESS with the echo makes it trusted */
    seen = (seen_t){0};
    r = rs_pay(f.c, f.j, rs_mtid("trust"), "1000", CODE_PAYING, &o);
    cr_expect_gt(seen.queries_with_acq, 0, "a trusted acquirementId is used");
    cr_expect_neq(r->acquirement_id[0], '\0');
    aop_resolution_free(r);
    fx_free(&f);
}

/* ---- the journal ---- */

Test(resolver_rules, identity_code_is_never_journaled) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("code"), "1000", DEMO_CODE, &o);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "PAID");
    cr_assert_eq(f.m->n, 1);
    const aop_journal_entry_t *e = &f.m->e[0];
    cr_expect_null(strstr(e->request, DEMO_CODE), "%s", e->request);
    cr_expect_null(strstr(e->request, "identityCode"), "%s", e->request);
    cr_expect_not_null(strstr(e->request, "\"merchantTransId\""), "%s", e->request);
    cr_expect_eq(e->state, AOP_STATE_PAID);
    cr_expect_str_eq(e->merchant_id, MERCHANT_ID, "filled from the client's default");
    cr_expect_leq(e->lease_expires_ms, aop_now_ms(), "the lease is released at the end");
    aop_resolution_free(r);
    fx_free(&f);
}

Test(resolver_rules, invalid_request_journals_and_sends_nothing) {
    seen_t seen = {0};
    fx_t f = fx(see, &seen);
    aop_offline_pay_request_t rq = aop_test_pay_request(rs_mtid("bad"), "01", DEMO_CODE); /* leading zero */
    aop_resolution_t *r = (aop_resolution_t *)1;
    aop_error_t err;
    cr_expect_eq(aop_pay_resolve(f.c, f.j, &rq, NULL, &r, &err), AOP_E_BAD_AMOUNT);
    cr_expect_null(r);
    cr_expect_eq(f.m->n, 0);
    cr_expect_eq(seen.calls, 0);
    fx_free(&f);
}

Test(resolver_rules, journal_failure_sends_nothing) {
    seen_t seen = {0};
    fx_t f = fx(see, &seen);
    f.m->fail_insert = AOP_E_JOURNAL;
    snprintf(f.m->fail_msg, sizeof f.m->fail_msg, "disk full (test)");
    aop_offline_pay_request_t rq = aop_test_pay_request(rs_mtid("full"), "1000", DEMO_CODE);
    aop_resolution_t *r = (aop_resolution_t *)1;
    aop_error_t err;
    cr_expect_eq(aop_pay_resolve(f.c, f.j, &rq, NULL, &r, &err), AOP_E_JOURNAL);
    cr_expect_null(r);
    cr_expect_eq(seen.calls, 0, "nothing may leave before the commit");
    fx_free(&f);
}

Test(resolver_rules, reused_id_with_another_amount_leaves_the_entry_alone) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    const char *mtid = rs_mtid("reuse");
    aop_resolution_t *r = rs_pay(f.c, f.j, mtid, "1000", DEMO_CODE, &o);
    cr_assert_str_eq(aop_outcome_name(r->outcome), "PAID");
    aop_resolution_free(r);
    aop_journal_entry_t before = f.m->e[0];
    r = rs_pay(f.c, f.j, mtid, "2000", DEMO_CODE, &o);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "FAILED", "%s", r->reason);
    cr_expect_eq(r->n_steps, 1, "sent as asked, once");
    cr_expect_str_eq(r->steps[0].result_code, AOP_RC_REPEAT_REQ_INCONSISTENT);
    cr_expect_eq(f.m->n, 1);
    cr_expect_eq(memcmp(&before, &f.m->e[0], sizeof before), 0, "the existing entry changed");
    aop_resolution_free(r);
    fx_free(&f);
}

Test(resolver_rules, single_call_leaves_unknown_open_then_resume_finishes) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    o.single_call = true;
    const char *mtid = rs_mtid("resume");
    aop_resolution_t *r = rs_pay(f.c, f.j, mtid, "1000", CODE_IN_PROCESS, &o);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "UNRESOLVED");
    cr_expect_eq(r->n_steps, 1);
    cr_assert_eq(f.m->n, 1);
    cr_expect(!aop_entry_state_final(f.m->e[0].state), "the entry stays open");
    int64_t id = r->entry_id;
    aop_resolution_free(r);
    o = rs_fast();
    r = rs_pay(f.c, f.j, mtid, "1000", CODE_IN_PROCESS, &o);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "PAID", "%s", r->reason);
    cr_expect_eq(r->entry_id, id, "the same entry is carried on");
    cr_expect_eq(f.m->n, 1);
    cr_expect_eq(f.m->e[0].state, AOP_STATE_PAID);
    aop_resolution_free(r);
    fx_free(&f);
}

/* single_call on an entry in CANCELLING, or a re-pay that cannot leave: one pay and no more;
 * the entry stays open (an earlier attempt may have paid). */
Test(resolver_rules, single_call_resume_is_one_pay_from_any_state) {
    seen_t seen = {0};
    fx_t f = fx(see, &seen);
    aop_resolve_options_t o = rs_fast();
    o.single_call = true;
    const char *mtid = rs_mtid("once");
    aop_resolution_free(rs_pay(f.c, f.j, mtid, "1000", CODE_PAYING, &o));
    cr_assert_eq(f.m->n, 1);
    f.m->e[0].state = AOP_STATE_CANCELLING; /* as a process killed while reversing leaves it */
    seen = (seen_t){0};
    aop_resolution_t *r = rs_pay(f.c, f.j, mtid, "1000", CODE_PAYING, &o);
    cr_expect_eq(seen.calls, 1, "%u calls", seen.calls);
    cr_expect_eq(seen.pays, 1, "the one call is the pay, not a cancel");
    cr_expect(!aop_entry_state_final(f.m->e[0].state) || r->outcome == AOP_OUTCOME_PAID, "%s",
              aop_entry_state_name(f.m->e[0].state));
    cr_expect_neq(r->outcome, AOP_OUTCOME_FAILED, "%s", r->reason);
    aop_resolution_free(r);
    /* the same keys on a closed port: the gateway identity is the same, the re-pay cannot leave */
    aop_journal_entry_t *e = &f.m->e[0];
    e->state = AOP_STATE_UNRESOLVED;
    aop_client_t *closed = rs_client(1, NULL, NULL);
    r = rs_pay(closed, f.j, mtid, "1000", CODE_PAYING, &o);
    cr_expect_eq(r->n_steps, 1, "%u calls", r->n_steps);
    cr_expect_eq(r->outcome, AOP_OUTCOME_UNRESOLVED, "%s (%s)", aop_outcome_name(r->outcome), r->reason);
    cr_expect_eq(e->state, AOP_STATE_UNRESOLVED, "%s", aop_entry_state_name(e->state));
    aop_resolution_free(r);
    aop_client_free(closed);
    fx_free(&f);
}

/* Another process takes the entry over while we wait: the compare-and-set fails. */
static void steal(const aop_step_t *step, aop_phase_t next, void *ctx) {
    (void)next;
    mem_store_t *m = ctx;
    if (step && m->n) m->e[0].epoch += 10;
}

Test(resolver_rules, taken_over_reports_nothing_of_the_step) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    o.on_progress = steal;
    o.progress_ctx = f.m;
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("steal"), "1000", CODE_IN_PROCESS, &o);
    cr_expect(r->taken_over);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "UNRESOLVED");
    cr_expect_null(r->result);
    cr_expect_null(r->decided_by);
    aop_resolution_free(r);
    fx_free(&f);
}

static volatile int stop_flag;
static void stop_after_first(const aop_step_t *step, aop_phase_t next, void *ctx) {
    (void)next, (void)ctx;
    if (step) stop_flag = 1;
}

Test(resolver_rules, stop_leaves_the_entry_open_and_released) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    stop_flag = 0;
    o.stop_flag = &stop_flag;
    o.on_progress = stop_after_first;
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("stop"), "1000", CODE_PAYING, &o);
    cr_expect(r->interrupted);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "UNRESOLVED");
    cr_expect_eq(r->n_steps, 1, "no call after the stop");
    cr_expect(!aop_entry_state_final(f.m->e[0].state));
    cr_expect_leq(f.m->e[0].lease_expires_ms, aop_now_ms(), "released");
    aop_resolution_free(r);
    fx_free(&f);
}

Test(resolver_rules, nothing_sent_is_failed_without_cancel) {
    aop_client_t *c = rs_client(1, NULL, NULL); /* nobody listens on port 1 */
    aop_journal_t *j = mem_journal(NULL);
    aop_resolve_options_t o = rs_fast();
    aop_resolution_t *r = rs_pay(c, j, rs_mtid("refused"), "1000", DEMO_CODE, &o);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "FAILED", "%s", r->reason);
    cr_expect_not_null(strstr(r->reason, "not sent"), "%s", r->reason);
    cr_expect_gt(r->n_steps, 1, "re-sent until the pay deadline");
    for (unsigned i = 0; i < r->n_steps; i++) cr_expect_eq(r->steps[i].function, &aop_fn_offline_pay);
    aop_resolution_free(r);
    aop_journal_close(j);
    aop_client_free(c);
}

/* Sets *flag after a delay, from another thread: an abort that comes during a wait. */
typedef struct {
    volatile int *flag;
    long after_ms;
} later_t;

static void *set_later(void *arg) {
    later_t *l = arg;
    struct timespec ts = {l->after_ms / 1000, (l->after_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    *l->flag = 1;
    return NULL;
}

Test(resolver_rules, abort_stops_resending_a_pay_never_sent) {
    aop_client_t *c = rs_client(1, NULL, NULL); /* nobody listens on port 1: nothing ever leaves */
    aop_journal_t *j = mem_journal(NULL);
    static volatile int abort_flag;
    abort_flag = 0;
    aop_resolve_options_t o = rs_fast();
    o.policy.deadline_ms = 20000;  /* re-sends would go on for 20 s */
    o.policy.backoff_min_s = 3;    /* and the wait before the first re-send is 3 s */
    o.policy.backoff_max_s = 3;
    o.abort_flag = &abort_flag;
    later_t l = {&abort_flag, 300}; /* the cashier aborts during that wait */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, set_later, &l), 0);
    int64_t t0 = aop_now_ms();
    aop_resolution_t *r = rs_pay(c, j, rs_mtid("abort-unsent"), "1000", DEMO_CODE, &o);
    int64_t took = aop_now_ms() - t0;
    pthread_join(t, NULL);
    cr_expect_eq(r->outcome, AOP_OUTCOME_FAILED, "%s (%s)", aop_outcome_name(r->outcome), r->reason);
    cr_expect_not_null(strstr(r->reason, "aborted"), "%s", r->reason);
    cr_expect_eq(r->n_steps, 1, "no re-send after the abort: %u calls", r->n_steps);
    for (unsigned i = 0; i < r->n_steps; i++) cr_expect_eq(r->steps[i].function, &aop_fn_offline_pay, "no cancel");
    cr_expect_lt(took, 1500, "the wait was not cut short by the abort: %lld ms", (long long)took);
    aop_resolution_free(r);
    aop_journal_close(j);
    aop_client_free(c);
}

/* The pay's start is stamped when it leaves: a slow progress callback (or journal) before it does
 * not bring the cancel moment forward. */
static void slow_before_pay(const aop_step_t *step, aop_phase_t next, void *ctx) {
    (void)ctx;
    if (!step && next == AOP_PHASE_SENDING) {
        struct timespec ts = {1, 500000000L};
        nanosleep(&ts, NULL);
    }
}

Test(resolver_rules, cancel_moment_counts_from_the_pay_leaving) {
    fx_t f = fx(NULL, NULL);
    static volatile int abort_flag;
    abort_flag = 1;
    aop_resolve_options_t o = rs_fast();
    o.policy.query_budget_s = 0.05;
    o.abort_flag = &abort_flag;
    o.on_progress = slow_before_pay;
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("stamp"), "1000", CODE_PAYING, &o);
    cr_assert_str_eq(aop_outcome_name(r->outcome), "CANCELLED", "%s", r->reason);
    const aop_step_t *pay = first_step(r, &aop_fn_offline_pay), *cancel = first_step(r, &aop_fn_pay_cancel);
    cr_assert(pay && cancel);
    int64_t margin = (int64_t)(o.policy.cancel_margin_s * 1000);
    cr_expect_geq(cancel->at_ms, pay->at_ms + DEADLINE_MS + margin, "cancel %lld ms after the pay left",
                  (long long)(cancel->at_ms - pay->at_ms));
    cr_expect_geq(f.m->e[0].pay_started_ms, pay->at_ms - 50, "the journal's pay start is %lld ms before the pay",
                  (long long)(pay->at_ms - f.m->e[0].pay_started_ms));
    aop_resolution_free(r);
    fx_free(&f);
}

/* The lease taken before the wait for the cancel moment lasts past it. */
static volatile int lease_stop;
static int64_t lease_seen, cancel_moment;
static void lease_at_reversing(const aop_step_t *step, aop_phase_t next, void *ctx) {
    (void)step;
    mem_store_t *m = ctx;
    if (next != AOP_PHASE_REVERSING || lease_seen) return;
    lease_seen = m->e[0].lease_expires_ms;
    cancel_moment = m->e[0].pay_started_ms + m->e[0].pay_deadline_ms + 120000;
    lease_stop = 1; /* no need to wait two minutes for the cancel */
}

Test(resolver_rules, lease_covers_the_wait_for_the_cancel) {
    fx_t f = fx(NULL, NULL);
    static volatile int abort_flag;
    abort_flag = 1;
    lease_stop = 0;
    lease_seen = 0;
    aop_resolve_options_t o = rs_fast();
    o.policy.cancel_margin_s = 120; /* longer than any other wait plus the lease's own margin */
    o.abort_flag = &abort_flag;
    o.stop_flag = &lease_stop;
    o.on_progress = lease_at_reversing;
    o.progress_ctx = f.m;
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("lease"), "1000", CODE_PAYING, &o);
    cr_expect(r->interrupted, "%s", r->reason);
    cr_assert_neq(lease_seen, 0, "never turned to reversing");
    cr_expect_geq(lease_seen, cancel_moment, "the lease ends %lld ms before the cancel may be sent",
                  (long long)(cancel_moment - lease_seen));
    aop_resolution_free(r);
    fx_free(&f);
}

/* Policies that are refused before anything is journaled or sent. */
static aop_status_t adopt(aop_resolve_options_t *o, aop_error_t *err) {
    aop_client_t *c = rs_client(1, NULL, NULL);
    aop_journal_t *j = mem_journal(NULL);
    aop_status_t st = aop_recover(c, j, o, NULL, NULL, NULL, err);
    aop_journal_close(j);
    aop_client_free(c);
    return st;
}

Test(resolver_rules, policy_bounds_are_checked) {
    aop_error_t err;
    aop_resolve_options_t o = rs_fast();
    o.policy.deadline_ms = 86400000;
    cr_expect_eq(adopt(&o, &err), AOP_OK, "one day is allowed: %s", err.msg);
    o.policy.deadline_ms = 86400001;
    cr_expect_eq(adopt(&o, &err), AOP_E_INVALID_ARG);
    cr_expect_not_null(strstr(err.path, "policy.deadline_ms"), "path %s", err.path);
    o = rs_fast();
    o.policy.backoff_min_s = 0; /* re-sends and re-queries without any delay */
    cr_expect_eq(adopt(&o, &err), AOP_E_INVALID_ARG);
    cr_expect_not_null(strstr(err.path, "backoff_min_s"), "path %s", err.path);
    const double bad[] = {-1, NAN, INFINITY, 86401};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = rs_fast();
        o.policy.poll_interval_s = bad[i];
        cr_expect_eq(adopt(&o, &err), AOP_E_INVALID_ARG, "poll_interval_s %g accepted", bad[i]);
    }
}

/* ---- refunds ---- */

static aop_resolution_t *refund_with(fx_t *f, const char *acq, const char *mrid, const char *amount, bool single,
                                     aop_status_t want) {
    aop_refund_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.acquirement_id = aop_str(acq);
    rq.body.merchant_refund_id = aop_str(mrid);
    rq.body.refund_amount.currency = aop_str("USD");
    rq.body.refund_amount.value = aop_str(amount);
    aop_resolve_options_t o = rs_fast();
    o.single_call = single;
    aop_resolution_t *r = NULL;
    aop_error_t err;
    aop_status_t st = aop_refund_resolve(f->c, f->j, &rq, &o, &r, &err);
    cr_assert_eq(st, want, "aop_refund_resolve: %s: %s", aop_status_name(st), err.msg);
    return r;
}

static aop_resolution_t *refund(fx_t *f, const char *acq, const char *mrid, const char *amount, aop_status_t want) {
    return refund_with(f, acq, mrid, amount, false, want);
}

/* A payment of 1000 PAID: its acquirementId in acq. */
static void paid(fx_t *f, const char *tag, char acq[AOP_JOURNAL_ID_SIZE]) {
    aop_resolve_options_t o = rs_fast();
    aop_resolution_t *p = rs_pay(f->c, f->j, rs_mtid(tag), "1000", DEMO_CODE, &o);
    cr_assert_str_eq(aop_outcome_name(p->outcome), "PAID");
    snprintf(acq, AOP_JOURNAL_ID_SIZE, "%s", p->acquirement_id);
    cr_assert_neq(acq[0], '\0');
    aop_resolution_free(p);
}

Test(resolver_rules, refunds_resolve_and_never_cancel) {
    seen_t seen = {0};
    fx_t f = fx(see, &seen);
    char acq[AOP_JOURNAL_ID_SIZE];
    paid(&f, "refd", acq);
    seen = (seen_t){0};
    aop_resolution_t *r = refund(&f, acq, rs_mtid("rf"), "400", AOP_OK);
    cr_expect_str_eq(aop_outcome_name(r->outcome), "REFUNDED", "%s", r->reason);
    cr_expect_eq(seen.queries, 0, "no payQuery or payCancel for a refund");
    cr_expect_eq(f.m->e[f.m->n - 1].state, AOP_STATE_REFUNDED);
    aop_resolution_free(r);
    r = refund(&f, acq, rs_mtid("rf2"), "900", AOP_OK); /* 400 + 900 > 1000 */
    cr_expect_str_eq(aop_outcome_name(r->outcome), "FAILED", "decided on the first send: %s", r->reason);
    cr_expect_eq(r->n_steps, 1);
    aop_resolution_free(r);
    fx_free(&f);
}

Test(resolver_rules, refund_refused_while_the_payment_is_open) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    o.single_call = true;
    aop_resolution_t *p = rs_pay(f.c, f.j, rs_mtid("open"), "1000", CODE_PAYING, &o);
    cr_assert_str_eq(aop_outcome_name(p->outcome), "UNRESOLVED");
    cr_assert_neq(p->acquirement_id[0], '\0');
    unsigned n = f.m->n;
    aop_resolution_t *r = refund(&f, p->acquirement_id, rs_mtid("rf"), "100", AOP_E_ENTRY_OPEN);
    cr_expect_null(r);
    cr_expect_eq(f.m->n, n, "nothing journaled");
    /* --no-resolve refuses nothing: the one call goes, and the gateway decides */
    r = refund_with(&f, p->acquirement_id, rs_mtid("rf1"), "100", true, AOP_OK);
    cr_expect_eq(r->n_steps, 1);
    cr_expect_eq(r->steps[0].function, &aop_fn_refund);
    aop_resolution_free(r);
    aop_resolution_free(p);
    fx_free(&f);
}

/* A refund entry left open (SENT, as a crash after the send leaves it) whose request was edited
 * by hand from 30 to 70, and one inserted by hand: recovery sends neither (row E26), ends both
 * NEEDS_ATTENTION, and goes on with the one nobody altered, which it re-sends identically. */
typedef struct {
    unsigned refunds;
    char amounts[4][16];
} refunds_seen_t;

static void see_refunds(const aop_event_t *ev, void *ctx) {
    refunds_seen_t *s = ctx;
    if (strcmp(ev->function, aop_fn_refund.name)) return;
    const char *v = strstr(ev->masked_request, "\"refundAmount\":{");
    v = v ? strstr(v, "\"value\":\"") : NULL;
    if (s->refunds < 4 && v) snprintf(s->amounts[s->refunds], sizeof s->amounts[0], "%.*s", (int)strcspn(v + 9, "\""), v + 9);
    s->refunds++;
}

Test(resolver_rules, a_refund_edited_by_hand_is_never_sent) {
    refunds_seen_t seen = {0};
    fx_t f = fx(see_refunds, &seen);
    char acq[AOP_JOURNAL_ID_SIZE];
    paid(&f, "forge", acq);
    aop_resolve_options_t o = rs_fast();
    const char *edited = rs_mtid("edited"), *honest = rs_mtid("honest");
    aop_resolution_free(refund(&f, acq, edited, "30", AOP_OK));
    aop_resolution_free(refund(&f, acq, honest, "30", AOP_OK));
    cr_assert_eq(seen.refunds, 2);
    cr_assert_eq(f.m->n, 3);
    aop_journal_entry_t *e = &f.m->e[1], *h = &f.m->e[2];
    e->state = h->state = AOP_STATE_SENT; /* as if the process had died after sending */
    char *v = strstr(e->request, "\"value\":\"30\"");
    cr_assert_not_null(v, "%s", e->request);
    memcpy(v + 9, "70", 2);
    snprintf(e->amount, sizeof e->amount, "70");
    /* and a refund of the rest written by hand, with no MAC */
    f.m->e[3] = *h;
    f.m->e[3].id = 99;
    snprintf(f.m->e[3].key, sizeof f.m->e[3].key, "forged-by-hand");
    f.m->e[3].mac[0] = '\0';
    f.m->n = 4;
    seen = (refunds_seen_t){0};
    aop_recover_summary_t sum;
    aop_recover_summary_init(&sum);
    aop_error_t err;
    cr_assert_eq(aop_recover_ex(f.c, f.j, &o, NULL, NULL, &sum, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(seen.refunds, 1, "only the refund nobody altered is re-sent: %u refunds", seen.refunds);
    cr_expect_str_eq(seen.amounts[0], "30");
    cr_expect_eq(h->state, AOP_STATE_REFUNDED);
    cr_expect_eq(e->state, AOP_STATE_NEEDS_ATTENTION, "%s", aop_entry_state_name(e->state));
    cr_expect_not_null(strstr(e->note, "the journal entry was altered"), "%s", e->note);
    cr_expect_eq(f.m->e[3].state, AOP_STATE_NEEDS_ATTENTION);
    cr_expect_not_null(strstr(f.m->e[3].note, "MAC is missing"), "%s", f.m->e[3].note);
    cr_expect_eq(sum.open_left, 2, "a person decides those two");
    fx_free(&f);
}

/* ---- recovery ---- */

static unsigned recovered;
static void count(const aop_journal_entry_t *e, const aop_resolution_t *r, void *ctx) {
    (void)e, (void)ctx;
    if (r) recovered++;
}

static unsigned recover(fx_t *f) {
    aop_resolve_options_t o = rs_fast();
    unsigned left = 99;
    aop_error_t err;
    recovered = 0;
    cr_assert_eq(aop_recover(f->c, f->j, &o, count, NULL, &left, &err), AOP_OK, "%s", err.msg);
    return left;
}

Test(resolver_rules, recover_finishes_a_dead_owners_entry) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    o.single_call = true;
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("dead"), "1000", CODE_IN_PROCESS, &o);
    cr_assert(!aop_entry_state_final(f.m->e[0].state));
    aop_resolution_free(r);
    /* as if the process holding it had been killed: a live-looking lease of a dead pid */
    char dead[AOP_JOURNAL_OWNER_SIZE];
    rs_dead_owner(dead);
    mem_set_lease(f.m, 0, dead, 3600000);
    /* and one entry of another gateway, which is only listed */
    f.m->e[1] = f.m->e[0];
    f.m->e[1].id = 77;
    snprintf(f.m->e[1].gateway, sizeof f.m->e[1].gateway, "another/gateway");
    f.m->n = 2;
    cr_expect_eq(recover(&f), 0);
    cr_expect_eq(recovered, 1);
    cr_expect_eq(f.m->e[0].state, AOP_STATE_PAID, "%s", aop_entry_state_name(f.m->e[0].state));
    cr_expect_eq(f.m->e[1].state, AOP_STATE_UNRESOLVED, "another gateway's entry is untouched");
    fx_free(&f);
}

static aop_recover_summary_t recover_summary(fx_t *f) {
    aop_resolve_options_t o = rs_fast();
    aop_recover_summary_t s;
    aop_recover_summary_init(&s);
    aop_error_t err;
    recovered = 0;
    cr_assert_eq(aop_recover_ex(f->c, f->j, &o, count, NULL, &s, &err), AOP_OK, "%s", err.msg);
    return s;
}

/* Another live worker's entry is theirs: held, not open, so a recovery that leaves only such
 * entries has nothing left to do (concurrent `aop recover`s all exit 0). */
Test(resolver_rules, recover_skips_a_live_lease) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    o.single_call = true;
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("live"), "1000", CODE_IN_PROCESS, &o);
    aop_resolution_free(r);
    mem_set_lease(f.m, 0, "elsewhere.example/1/1", 3600000);
    aop_recover_summary_t s = recover_summary(&f);
    cr_expect_eq(s.held, 1);
    cr_expect_eq(s.open_left, 0, "held by a live worker: not open for this recovery");
    cr_expect_eq(s.worked, 0);
    cr_expect_eq(recovered, 0);
    cr_expect_eq(f.m->e[0].state, AOP_STATE_UNRESOLVED);
    cr_expect_eq(recover(&f), 0, "aop_recover's open_left is the summary's");
    fx_free(&f);
}

/* A storage error is no "held by another": the entry stays open, nobody works on it, and the
 * resolution reported for it says why. */
static void note_reason(const aop_journal_entry_t *e, const aop_resolution_t *r, void *ctx) {
    (void)e;
    if (r) snprintf(ctx, 256, "%s", r->reason);
}

Test(resolver_rules, recover_counts_a_storage_error_as_open) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    o.single_call = true;
    aop_resolution_free(rs_pay(f.c, f.j, rs_mtid("ioerr"), "1000", CODE_IN_PROCESS, &o));
    f.m->fail_claim = true;
    o = rs_fast();
    aop_recover_summary_t s;
    aop_recover_summary_init(&s);
    aop_error_t err;
    char reason[256] = "";
    cr_assert_eq(aop_recover_ex(f.c, f.j, &o, note_reason, reason, &s, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(s.open_left, 1);
    cr_expect_eq(s.held, 0);
    cr_expect_not_null(strstr(reason, "could not be claimed: /tmp/journal.db: disk I/O error"), "%s", reason);
    cr_expect_eq(f.m->e[0].state, AOP_STATE_UNRESOLVED);
    fx_free(&f);
}

/* Two payers with one merchantTransId: the loser's insert meets the winner's entry (insert-or-get)
 * and reports as a taken-over entry does, never as a journal error. */
Test(resolver_rules, insert_race_loser_finds_the_winners_entry) {
    seen_t seen = {0};
    fx_t f = fx(see, &seen);
    aop_resolve_options_t o = rs_fast();
    o.single_call = true;
    const char *mtid = rs_mtid("race");
    aop_resolution_free(rs_pay(f.c, f.j, mtid, "1000", CODE_IN_PROCESS, &o));
    cr_assert_eq(f.m->n, 1);
    /* the winner is at work on it: a live lease */
    mem_set_lease(f.m, 0, "elsewhere.example/1/1", 3600000);
    unsigned calls = seen.calls;
    o = rs_fast();
    aop_resolution_t *r = rs_pay(f.c, f.j, mtid, "1000", DEMO_CODE, &o);
    cr_expect(r->taken_over, "%s: %s", aop_outcome_name(r->outcome), r->reason);
    cr_expect_eq(r->outcome, AOP_OUTCOME_UNRESOLVED);
    cr_expect_eq(r->entry_id, f.m->e[0].id);
    cr_expect_eq(seen.calls, calls, "nothing sent");
    cr_expect_eq(f.m->n, 1);
    aop_resolution_free(r);
    /* the winner has finished: the loser reports its outcome */
    f.m->e[0].state = AOP_STATE_PAID;
    r = rs_pay(f.c, f.j, mtid, "1000", DEMO_CODE, &o);
    cr_expect_eq(r->outcome, AOP_OUTCOME_PAID, "%s", r->reason);
    cr_expect_eq(seen.calls, calls, "nothing sent");
    aop_resolution_free(r);
    fx_free(&f);
}

/* A store's message reaches the caller whole: it is not formatted into the buffer it is read
 * from. */
Test(resolver_rules, journal_error_message_is_kept_whole) {
    fx_t f = fx(NULL, NULL);
    static const aop_status_t codes[] = {AOP_E_JOURNAL, AOP_E_NOMEM};
    for (size_t i = 0; i < 2; i++) {
        f.m->fail_insert = codes[i];
        snprintf(f.m->fail_msg, sizeof f.m->fail_msg, "/var/lib/aop/journal.db: disk I/O error");
        aop_offline_pay_request_t rq = aop_test_pay_request(rs_mtid("ioerr"), "1000", DEMO_CODE);
        aop_resolve_options_t o = rs_fast();
        aop_resolution_t *r = NULL;
        aop_error_t err;
        cr_expect_eq(aop_pay_resolve(f.c, f.j, &rq, &o, &r, &err), AOP_E_JOURNAL);
        cr_expect_null(r);
        const char *want = codes[i] == AOP_E_JOURNAL ? "/var/lib/aop/journal.db: disk I/O error"
                                                      : "journal: /var/lib/aop/journal.db: disk I/O error";
        cr_expect_str_eq(err.msg, want);
    }
    cr_expect_eq(f.m->n, 0, "nothing journaled");
    fx_free(&f);
}

/* The second entry is finished by "another process" while the first is recovered, i.e. after
 * the list: recovery must not query, cancel or re-send it. */
typedef struct {
    mem_store_t *m;
    seen_t *seen;
    unsigned calls_then, callbacks;
    aop_entry_kind_t kind;
} race_t;

static void finish_the_other(const aop_journal_entry_t *e, const aop_resolution_t *r, void *ctx) {
    race_t *x = ctx;
    x->callbacks++;
    if (!r || e->id != x->m->e[0].id) return;
    x->kind = r->kind;
    x->m->e[1].state = AOP_STATE_PAID;
    x->m->e[1].watch = false;
    x->calls_then = x->seen->calls;
}

Test(resolver_rules, recover_skips_an_entry_finished_after_the_list) {
    seen_t seen = {0};
    fx_t f = fx(see, &seen);
    aop_resolve_options_t o = rs_fast();
    o.single_call = true;
    for (int i = 0; i < 2; i++) aop_resolution_free(rs_pay(f.c, f.j, rs_mtid("race"), "1000", CODE_IN_PROCESS, &o));
    cr_assert_eq(f.m->n, 2);
    cr_assert(!aop_entry_state_final(f.m->e[1].state));
    race_t x = {f.m, &seen, 0, 0, 0};
    o = rs_fast();
    unsigned left = 99;
    aop_error_t err;
    cr_assert_eq(aop_recover(f.c, f.j, &o, finish_the_other, &x, &left, &err), AOP_OK, "%s", err.msg);
    cr_assert_gt(x.calls_then, 0, "the first entry was recovered by calls");
    cr_expect_eq(seen.calls, x.calls_then, "%u calls for the entry already finished", seen.calls - x.calls_then);
    cr_expect_eq(f.m->e[1].state, AOP_STATE_PAID);
    cr_expect_leq(f.m->e[1].lease_expires_ms, aop_now_ms(), "the lease is given back");
    cr_expect_eq(left, 0);
    cr_expect_eq(x.kind, AOP_ENTRY_PAYMENT, "recovery says which kind of key it resolved");
    fx_free(&f);
}

Test(resolver_rules, watch_query_finds_a_late_payment) {
    fx_t f = fx(NULL, NULL);
    aop_resolve_options_t o = rs_fast();
    /* a payment the gateway never acknowledged ends CANCELLED with a watch */
    aop_resolution_t *r = rs_pay(f.c, f.j, rs_mtid("watch"), "1000", CODE_DROPPED_UNRECORDED, &o);
    cr_assert_str_eq(aop_outcome_name(r->outcome), "CANCELLED", "%s", r->reason);
    cr_expect(r->watch);
    aop_resolution_free(r);
    usleep(250000); /* the watch window (0.2 s) */
    cr_expect_eq(recover(&f), 0);
    cr_expect_eq(recovered, 1, "the due watch query ran");
    cr_expect(!f.m->e[0].watch, "the closed id agrees: no more watch");
    cr_expect_eq(f.m->e[0].state, AOP_STATE_CANCELLED);
    /* the same entry made to look FAILED while the gateway has it paid: late PAID */
    const char *mtid = rs_mtid("late");
    r = rs_pay(f.c, f.j, mtid, "1000", DEMO_CODE, &o);
    aop_resolution_free(r);
    aop_journal_entry_t *e = &f.m->e[1];
    e->state = AOP_STATE_FAILED;
    e->acknowledged = false;
    e->acquirement_id[0] = '\0';
    rs_reseal(e);
    mem_set_watch(f.m, 1, -1);
    cr_expect_eq(recover(&f), 0);
    cr_expect_eq(e->state, AOP_STATE_PAID);
    cr_expect(!e->watch);
    cr_expect_not_null(strstr(e->note, "late PAID"), "%s", e->note);
    fx_free(&f);
}

/* ---- the crash switch (AOP_TEST_HOOKS) ---- */

/* Only in builds with the hooks: without them these tests do not exist (never a passing skip). */
#ifdef AOP_TEST_HOOKS
static void crash_then_recover(const char *point, const char *code, aop_entry_state_t left_in,
                               aop_entry_state_t final_state) {
    fx_t f = fx(NULL, NULL);
    const char *mtid = rs_mtid("crash");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("AOP_TEST_CRASH_AT", point, 1);
        aop_client_t *c = rs_client(aop_sandbox_port(f.s), NULL, NULL);
        aop_resolve_options_t o = rs_fast();
        aop_offline_pay_request_t rq = aop_test_pay_request(mtid, "1000", code);
        aop_resolution_t *r = NULL;
        aop_error_t err;
        if (aop_pay_resolve(c, f.j, &rq, &o, &r, &err) == AOP_OK) aop_resolution_free(r);
        _exit(0); /* not reached when the switch works */
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child was not killed at %s", point);
    cr_assert_eq(f.m->n, 1);
    cr_expect_eq(f.m->e[0].state, left_in, "left in %s", aop_entry_state_name(f.m->e[0].state));
    cr_expect_gt(f.m->e[0].lease_expires_ms, aop_now_ms(), "a killed process releases nothing");
    cr_expect_eq(recover(&f), 0, "recovery starts at once: the owner is dead");
    cr_expect_eq(f.m->e[0].state, final_state, "%s", aop_entry_state_name(f.m->e[0].state));
    fx_free(&f);
}

Test(resolver_crash, at_journaled) { crash_then_recover("journaled", DEMO_CODE, AOP_STATE_NEW, AOP_STATE_CANCELLED); }
Test(resolver_crash, at_polling) { crash_then_recover("polling", CODE_PAYING, AOP_STATE_POLLING, AOP_STATE_CANCELLED); }
Test(resolver_crash, at_cancelling) {
    crash_then_recover("cancelling", CODE_PAYING, AOP_STATE_CANCELLING, AOP_STATE_CANCELLED);
}
#endif /* AOP_TEST_HOOKS */
