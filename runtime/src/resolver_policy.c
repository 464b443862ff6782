/* SPDX-License-Identifier: MIT */
/* The resolver's policy and options, its names, and its sense of time: waits that an abort or a
 * stop can cut short, back-off, deadlines and the lease's lifetime. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aop/util.h"
#include "resolver_internal.h"

void aop_policy_init(aop_policy_t *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->first_poll_s = 3;
    p->poll_interval_s = 5;
    p->query_budget_s = 60;
    p->cancel_margin_s = 10;
    p->cancel_budget_s = 60;
    p->backoff_min_s = 1;
    p->backoff_max_s = 8;
    p->watch_window_s = 180;
    p->refund_budget_s = 60;
    p->deadline_ms = 0;
}

void aop_resolve_options_init(aop_resolve_options_t *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    aop_policy_init(&o->policy);
}

const char *aop_outcome_name(aop_outcome_t o) {
    static const char *const names[] = {NULL, "PAID", "FAILED", "CANCELLED", "REFUNDED", "UNRESOLVED",
                                        "NEEDS_ATTENTION"};
    return (unsigned)o >= 1 && (unsigned)o < sizeof names / sizeof *names ? names[o] : "?";
}

bool aop_outcome_known(aop_outcome_t o) {
    return o == AOP_OUTCOME_PAID || o == AOP_OUTCOME_FAILED || o == AOP_OUTCOME_CANCELLED ||
           o == AOP_OUTCOME_REFUNDED;
}

const char *aop_phase_text(aop_phase_t p) {
    static const char *const texts[] = {NULL, "sending the payment", "waiting for the customer to confirm",
                                        "checking the payment", "reversing", "done"};
    return (unsigned)p >= 1 && (unsigned)p < sizeof texts / sizeof *texts ? texts[p] : "?";
}

/* A call's deadline beyond a day is a mistake (and would overflow the waits built on it). */
#define DEADLINE_MAX_MS 86400000L

/* (NaN fails both comparisons; infinity the upper bound) */
static bool seconds_ok(double s) { return s >= 0 && s <= 86400; }

aop_status_t rsv_adopt_options(const aop_resolve_options_t *given, aop_resolve_options_t *out, aop_error_t *err) {
    aop_resolve_options_init(out);
    if (given) {
        /* an older caller's smaller struct keeps our defaults for the members it does not know */
        if (given->struct_size == 0 || given->struct_size > sizeof *out)
            return aop_error_set(err, AOP_E_INVALID_ARG, "options.struct_size", -1,
                                 "fill the options with aop_resolve_options_init()");
        memcpy(out, given, given->struct_size);
        out->struct_size = sizeof *out;
    }
    const aop_policy_t *p = &out->policy;
    const double v[] = {p->first_poll_s, p->poll_interval_s, p->query_budget_s, p->cancel_margin_s,
                        p->cancel_budget_s, p->backoff_min_s, p->backoff_max_s, p->watch_window_s,
                        p->refund_budget_s};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (!seconds_ok(v[i]))
            return aop_error_set(err, AOP_E_INVALID_ARG, "options.policy", -1,
                                 "policy times are seconds from 0 to 86400");
    /* a zero back-off would re-send and re-query in a tight loop */
    if (!(p->backoff_min_s > 0))
        return aop_error_set(err, AOP_E_INVALID_ARG, "options.policy.backoff_min_s", -1,
                             "backoff_min_s must be above 0");
    if (p->backoff_max_s < p->backoff_min_s)
        return aop_error_set(err, AOP_E_INVALID_ARG, "options.policy.backoff_max_s", -1,
                             "backoff_max_s is below backoff_min_s");
    if (p->deadline_ms < 0 || p->deadline_ms > DEADLINE_MAX_MS)
        return aop_error_set(err, AOP_E_INVALID_ARG, "options.policy.deadline_ms", -1,
                             "policy.deadline_ms is from 0 to %ld ms (one day)", (long)DEADLINE_MAX_MS);
    return AOP_OK;
}

long rsv_deadline_ms(const rsv_t *r, const aop_function_desc_t *fn) {
    return r->o.policy.deadline_ms ? r->o.policy.deadline_ms : (long)fn->deadline_ms;
}

/* (no libm: the library links none) */
static int64_t ms(double s) { return (int64_t)(s * 1000.0 + 0.5); }
static double dmax(double a, double b) { return a > b ? a : b; }
static double dmin(double a, double b) { return a < b ? a : b; }

int64_t rsv_lease_ttl_ms(const rsv_t *r) {
    const aop_policy_t *p = &r->o.policy;
    double wait = dmax(dmax(p->first_poll_s, p->poll_interval_s), p->backoff_max_s);
    long call = rsv_deadline_ms(r, &aop_fn_offline_pay);
    long q = rsv_deadline_ms(r, &aop_fn_offline_pay_query), k = rsv_deadline_ms(r, &aop_fn_pay_cancel);
    long rf = rsv_deadline_ms(r, &aop_fn_refund);
    if (q > call) call = q;
    if (k > call) call = k;
    if (rf > call) call = rf;
    /* the longest wait between two renewals is the cancel's (after an abort, or resuming in
     * CANCELLING): until the last pay's start + its deadline + the margin */
    double cancel_wait = (double)rsv_deadline_ms(r, &aop_fn_offline_pay) / 1000.0 + p->cancel_margin_s;
    wait = dmax(wait, cancel_wait);
    /* one wait and one call happen between two renewals; the margin covers a slow journal */
    return ms(wait) + call + 30000;
}

void rsv_schedule(rsv_t *r, rsv_wait_t w) {
    const aop_policy_t *p = &r->o.policy;
    double s = 0;
    switch (w) {
    case RSV_WAIT_NONE:
    case RSV_WAIT_CANCEL_MOMENT: s = 0; break; /* the cancel's own wait holds it to its moment */
    case RSV_WAIT_FIRST_POLL: s = p->first_poll_s; break;
    case RSV_WAIT_POLL: s = p->poll_interval_s; break;
    case RSV_WAIT_BACKOFF:
        s = r->backoff_s > 0 ? r->backoff_s : p->backoff_min_s;
        r->backoff_s = dmin(s * 2, p->backoff_max_s);
        break;
    }
    if (w != RSV_WAIT_BACKOFF) r->backoff_s = p->backoff_min_s; /* an answer that was heard resets it */
    r->next_at_ms = aop_mono_ms() + ms(s);
}

/* finish_flag stops as stop_flag does, but only here, between calls: the transport watches
 * stop_flag alone (resolver_core.c), so the call in flight runs to its end. */
bool rsv_stop_requested(const rsv_t *r) {
    return (r->o.stop_flag && *r->o.stop_flag) || (r->o.finish_flag && *r->o.finish_flag);
}

bool rsv_abort_requested(const rsv_t *r) { return r->o.abort_flag && *r->o.abort_flag; }

rsv_wake_t rsv_sleep_until(rsv_t *r, int64_t t_ms, bool watch_abort) {
    for (;;) {
        /* the flags are read at least every 20 ms: a cashier's abort or ^C feels immediate */
        if (rsv_stop_requested(r)) return RSV_STOPPED;
        if (watch_abort && rsv_abort_requested(r)) return RSV_ABORTED;
        int64_t now = aop_mono_ms();
        int64_t left = t_ms - now;
        if (left <= 0) return RSV_WOKE;
        /* the lease holder applies its key's notifications: nobody else may write the entry */
        if (r->notices && now - r->notices_checked_ms >= NOTICE_CHECK_MS) {
            r->notices_checked_ms = now;
            if (rsv_check_notices(r)) return r->notice_decided ? RSV_NOTICE : RSV_WOKE;
            continue; /* the check took its time: look at the clock again */
        }
        if (r->notices && left > NOTICE_CHECK_MS - (now - r->notices_checked_ms))
            left = NOTICE_CHECK_MS - (now - r->notices_checked_ms);
        if (left > 20) left = 20;
        struct timespec ts = {0, (long)left * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            if (rsv_stop_requested(r)) return RSV_STOPPED;
        }
    }
}


#ifdef AOP_TEST_HOOKS
void rsv_crash_point(const char *point) {
    const char *at = getenv("AOP_TEST_CRASH_AT");
    if (!at || strcmp(at, point) != 0) return;
    /* as `kill -9` would: no atexit handler, no lease released, no buffer flushed */
    raise(SIGKILL);
    _exit(137);
}
#endif
