/* SPDX-License-Identifier: MIT */
/* The resolver's rows that the sandbox's scenario table cannot reach, against the programmable
 * gateway of tests/plain/mini_gateway.c and a SQLite journal in a temporary directory (the rows of
 * docs/resolver.md):
 *   - an undecided refund is re-sent identically and never becomes a payCancel;
 *   - a refund's outcomes: F on the first send, the conflict codes on a re-send, throttling, the
 *     refund budget;
 *   - a resumed pay answered REPEAT_REQ_INCONSISTENT / ORDER_STATUS_INVALID is queried, while a
 *     new pay answered the same fails at once;
 *   - query ORDER_NOT_EXIST before acknowledgement, and after a cancel answered ORDER_NOT_EXIST;
 *   - a cancel answered with a credential code;
 *   - a refund with single_call (`aop refund --no-resolve`) makes one call.
 *
 * Each test scripts the gateway per request ("the first request gets behaviour 0, the second
 * behaviour 1, ..."): the resolver's progress callback runs between steps on the caller's thread,
 * so it records the request the gateway just saw (gw_last) and sets the behaviour of the next one.
 * Criterion runs each test in its own process, with its own gateway and journal. */
#define _GNU_SOURCE
#include "../plain/mini_gateway.c"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "resolver_support.h"

#define REFUND_ACQ "2015032412007101547201351234" /* the payment refunded (the gateway keeps no state) */
#define AMOUNT "100" /* the sample query answer's orderAmount: a SUCCESS of it is no mismatch */
#define NO_ACQ "response.body.acquirementId" /* an answer that does not show the payment is known */

/* ---- the scripted gateway ------------------------------------------------------------------- */

#define SCRIPT_MAX 8
#define SEEN_MAX 64

/* One request as the gateway saw it. */
typedef struct {
    const aop_function_desc_t *fn;
    aop_status_t verify;
    char req_msg_id[96];
    char *payload; /* the signed request object (malloc'd) */
} seen_t;

static struct {
    gw_t *g;
    unsigned base;                     /* the gateway's request count when the script began */
    gw_behaviour_t script[SCRIPT_MAX]; /* request i gets script[min(i, n_script - 1)] */
    unsigned n_script;
    seen_t seen[SEEN_MAX];
    unsigned n_seen;
    bool missed;      /* two requests between two callbacks: one went unrecorded */
    unsigned stop_at; /* > 0: set stop_flag once this many requests were made */
    volatile int stop_flag;
    /* how many queries precede the cancel depends on timing: the cancel's answer is armed when
     * the resolver turns to reversing */
    gw_behaviour_t reversing;
    bool has_reversing;
} S;

static unsigned made(void) { return gw_requests(S.g) - S.base; }

/* Records the gateway's newest request (the one the last step made), then arms the next one. */
static void sync_gateway(void) {
    unsigned n = made();
    if (n > S.n_seen) {
        if (n != S.n_seen + 1) S.missed = true;
        gw_record_t rec;
        gw_last(S.g, &rec);
        if (S.n_seen < SEEN_MAX) {
            seen_t *s = &S.seen[S.n_seen++];
            s->fn = rec.fn;
            s->verify = rec.verify;
            snprintf(s->req_msg_id, sizeof s->req_msg_id, "%s", rec.req_msg_id);
            s->payload = rec.body ? strndup(rec.body + rec.payload_off, rec.payload_len) : NULL;
        }
        gw_record_free(&rec);
    }
    if (S.n_script) gw_set(S.g, &S.script[n < S.n_script ? n : S.n_script - 1]);
    if (S.stop_at && n >= S.stop_at) S.stop_flag = 1;
}

static void on_progress(const aop_step_t *step, aop_phase_t next, void *ctx) {
    (void)step, (void)ctx;
    sync_gateway();
    if (next == AOP_PHASE_REVERSING && S.has_reversing) gw_set(S.g, &S.reversing);
}

static void forget_seen(void) {
    for (unsigned i = 0; i < S.n_seen; i++) free(S.seen[i].payload);
    S.n_seen = 0;
    S.missed = false;
}

/* Starts a script of n behaviours for the next resolution. */
static void script(const gw_behaviour_t *b, unsigned n) {
    cr_assert(n >= 1 && n <= SCRIPT_MAX);
    forget_seen();
    memcpy(S.script, b, n * sizeof *b);
    S.n_script = n;
    S.base = gw_requests(S.g);
    S.stop_at = 0;
    S.stop_flag = 0;
    S.has_reversing = false;
    gw_set(S.g, &S.script[0]);
}
#define SCRIPT(...)                                                    \
    do {                                                               \
        const gw_behaviour_t b_[] = {__VA_ARGS__};                     \
        script(b_, sizeof b_ / sizeof b_[0]);                          \
    } while (0)

/* The behaviours the tests use. */
static const gw_behaviour_t OK = {0};
static const gw_behaviour_t HELD = {.sleep_ms = 2 * DEADLINE_MS}; /* answered after the deadline */
static const gw_behaviour_t UNSIGNED = {.key = GW_KEY_NONE};      /* an answer no one can trust */
#define CODE(c) ((gw_behaviour_t){.result_code = (c)})
#define CODE_NO_ACQ(c) ((gw_behaviour_t){.result_code = (c), .remove_path = NO_ACQ})

static void query_paying(const aop_function_desc_t *fn, void *rs) {
    if (fn == &aop_fn_offline_pay_query)
        ((aop_offline_pay_query_response_t *)rs)->body.acquirement_status.value = AOP_ACQUIREMENT_STATUS_ENUM_PAYING;
}
static void query_closed(const aop_function_desc_t *fn, void *rs) {
    if (fn == &aop_fn_offline_pay_query)
        ((aop_offline_pay_query_response_t *)rs)->body.acquirement_status.value = AOP_ACQUIREMENT_STATUS_ENUM_CLOSED;
}

/* ---- the fixture: gateway, client, SQLite journal ------------------------------------------ */

static aop_client_t *C;
static aop_journal_t *J;
static char dir[64];

static void setup(void) {
    signal(SIGPIPE, SIG_IGN);
    memset((void *)&S, 0, sizeof S);
    S.g = gw_start();
    cr_assert_not_null(S.g, "the test gateway did not start");
    C = rs_client((unsigned short)gw_port(S.g), NULL, NULL);
    snprintf(dir, sizeof dir, "/tmp/aop-rgw-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/journal.db", dir);
    aop_error_t err;
    cr_assert_eq(aop_journal_open_sqlite(path, &J, &err), AOP_OK, "%s", err.msg);
}

static void teardown(void) {
    aop_journal_close(J);
    aop_client_free(C);
    gw_stop(S.g);
    forget_seen();
    static const char *const files[] = {"journal.db", "journal.db-wal", "journal.db-shm", "journal.db-journal"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

TestSuite(resolver_gateway, .init = setup, .fini = teardown, .timeout = 30);

/* The fast policy of resolver_support.h, with the progress callback that runs the script. */
static aop_resolve_options_t opts(void) {
    aop_resolve_options_t o = rs_fast();
    o.on_progress = on_progress;
    o.stop_flag = &S.stop_flag;
    return o;
}

typedef struct {
    const char *key;
    aop_journal_entry_t *out;
    bool found;
} find_t;

static bool find_key(const aop_journal_entry_t *e, void *ctx) {
    find_t *f = ctx;
    if (strcmp(e->key, f->key) != 0) return true;
    *f->out = *e;
    f->found = true;
    return false;
}

/* The journal's entry of key (heap; free it). */
static aop_journal_entry_t *entry(const char *key) {
    aop_journal_entry_t *e = calloc(1, sizeof *e);
    cr_assert_not_null(e);
    find_t f = {key, e, false};
    aop_error_t err;
    cr_assert_eq(aop_journal_list(J, false, find_key, &f, &err), AOP_OK, "%s", err.msg);
    cr_assert(f.found, "no journal entry for %s", key);
    return e;
}

static void expect_state(const char *key, aop_entry_state_t want) {
    aop_journal_entry_t *e = entry(key);
    cr_expect_eq(e->state, want, "%s: the journal says %s, want %s", key, aop_entry_state_name(e->state),
                 aop_entry_state_name(want));
    free(e);
}

static aop_resolution_t *pay(const char *mtid, aop_resolve_options_t *o) {
    aop_resolution_t *r = rs_pay(C, J, mtid, AMOUNT, DEMO_CODE, o);
    sync_gateway(); /* a resolution that ends without a later step still shows its last request */
    return r;
}

static aop_refund_request_t refund_req(const char *mrid, const char *amount) {
    aop_refund_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.acquirement_id = aop_str(REFUND_ACQ);
    rq.body.merchant_refund_id = aop_str(mrid);
    rq.body.refund_amount.currency = aop_str("USD");
    rq.body.refund_amount.value = aop_str(amount);
    rq.body.refund_reason = aop_str("returned");
    return rq;
}

static aop_resolution_t *refund(const char *mrid, aop_resolve_options_t *o) {
    aop_refund_request_t rq = refund_req(mrid, "40");
    aop_resolution_t *r = NULL;
    aop_error_t err;
    aop_status_t st = aop_refund_resolve(C, J, &rq, o, &r, &err);
    cr_assert_eq(st, AOP_OK, "aop_refund_resolve: %s: %s", aop_status_name(st), err.msg);
    cr_assert_not_null(r);
    sync_gateway();
    return r;
}

/* Asserts the steps' functions, in order (NULL-terminated), and that the gateway saw the same. */
static void expect_calls(const aop_resolution_t *r, const aop_function_desc_t *const *want) {
    unsigned n = 0;
    while (want[n]) n++;
    if (r->n_steps != n) rs_dump(r);
    cr_assert_eq(r->n_steps, n, "%u steps, want %u", r->n_steps, n);
    cr_assert(!S.missed, "a request went unrecorded");
    cr_assert_eq(S.n_seen, n, "the gateway saw %u requests, the resolution has %u steps", S.n_seen, n);
    cr_assert_eq(made(), n);
    for (unsigned i = 0; i < n; i++) {
        cr_expect_eq(r->steps[i].function, want[i], "step %u is %s, want %s", i, r->steps[i].function->name,
                     want[i]->name);
        cr_expect_eq(S.seen[i].fn, want[i], "request %u went to %s, want %s", i,
                     S.seen[i].fn ? S.seen[i].fn->name : "(unknown)", want[i]->name);
    }
}
#define CALLS(r, ...)                                                        \
    do {                                                                     \
        static const aop_function_desc_t *const w_[] = {__VA_ARGS__, NULL};  \
        expect_calls((r), w_);                                               \
    } while (0)
#define PAY_ (&aop_fn_offline_pay)
#define QUERY_ (&aop_fn_offline_pay_query)
#define CANCEL_ (&aop_fn_pay_cancel)
#define REFUND_ (&aop_fn_refund)

static void expect_outcome(const aop_resolution_t *r, aop_outcome_t want, const aop_function_desc_t *decided_by) {
    if (r->outcome != want) rs_dump(r);
    cr_expect_eq(r->outcome, want, "%s (%s), want %s", aop_outcome_name(r->outcome), r->reason, aop_outcome_name(want));
    cr_expect_eq(r->decided_by, decided_by, "decided by %s, want %s", r->decided_by ? r->decided_by->name : "nothing",
                 decided_by ? decided_by->name : "nothing");
    cr_expect(!r->taken_over && !r->interrupted);
}

/* The payload with the values of the head's reqMsgId and reqTime emptied: what a re-send must
 * repeat byte for byte (malloc'd). */
static char *without_head_ids(const char *payload) {
    char *p = strdup(payload);
    cr_assert_not_null(p);
    static const char *const members[] = {"\"reqMsgId\":\"", "\"reqTime\":\""};
    for (size_t i = 0; i < 2; i++) {
        char *at = strstr(p, members[i]);
        cr_assert_not_null(at, "%s not in %s", members[i], payload);
        cr_assert_null(strstr(at + 1, members[i]), "%s twice in %s", members[i], payload);
        char *v = at + strlen(members[i]), *end = strchr(v, '"');
        cr_assert_not_null(end);
        memmove(v, end, strlen(end) + 1);
    }
    return p;
}

/* Every refund request seen is the first one again, but for the head's reqMsgId and reqTime,
 * and names mrid; each is a request of its own (a fresh reqMsgId). */
static void expect_identical_refunds(const char *mrid) {
    cr_assert_geq(S.n_seen, 2, "a re-send was expected");
    char want_id[128];
    snprintf(want_id, sizeof want_id, "\"merchantRefundId\":\"%s\"", mrid);
    char *first = without_head_ids(S.seen[0].payload);
    cr_expect_not_null(strstr(first, want_id), "%s", first);
    for (unsigned i = 0; i < S.n_seen; i++) {
        cr_expect_eq(S.seen[i].fn, REFUND_, "request %u is no refund", i);
        cr_expect_eq(S.seen[i].verify, AOP_OK, "request %u is not signed right", i);
        char *again = without_head_ids(S.seen[i].payload);
        cr_expect_str_eq(again, first, "request %u differs from the first", i);
        free(again);
        if (i > 0) cr_expect_str_neq(S.seen[i].req_msg_id, S.seen[0].req_msg_id, "request %u reuses reqMsgId", i);
    }
    free(first);
}

/* ---- 1. an undecided refund is re-sent identically, never cancelled ------------------------- */

static void resend_then_refunded(gw_behaviour_t first, aop_status_t why) {
    const char *mrid = rs_mtid("rfre");
    SCRIPT(first, OK);
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = refund(mrid, &o);
    expect_outcome(r, AOP_OUTCOME_REFUNDED, REFUND_);
    CALLS(r, REFUND_, REFUND_);
    cr_expect(!r->steps[0].decided);
    cr_expect_eq(r->steps[0].error, why, "the first answer: %s", aop_status_name(r->steps[0].error));
    cr_expect(r->steps[1].decided && r->steps[1].status == 'S');
    expect_identical_refunds(mrid);
    /* the journal holds the whole request: the body sent is the journaled one */
    aop_journal_entry_t *e = entry(mrid);
    cr_expect_eq(e->kind, AOP_ENTRY_REFUND);
    cr_expect_eq(e->state, AOP_STATE_REFUNDED, "%s", aop_entry_state_name(e->state));
    cr_expect_not_null(strstr(S.seen[1].payload, e->request), "journaled %s\nsent %s", e->request, S.seen[1].payload);
    free(e);
    aop_resolution_free(r);
}

Test(resolver_gateway, refund_timeout_is_resent_identically_never_cancelled) {
    resend_then_refunded(HELD, AOP_E_TIMEOUT);
}

Test(resolver_gateway, refund_unsigned_answer_is_resent_identically) {
    resend_then_refunded(UNSIGNED, AOP_E_SIGNATURE_MISSING);
}

/* Recovery re-sends the refund from the journal alone (the caller's request is gone). */
Test(resolver_gateway, recovered_refund_is_resent_from_the_journal_identically) {
    const char *mrid = rs_mtid("rfrec");
    SCRIPT(HELD, OK);
    S.stop_at = 1; /* ^C after the first (undecided) send */
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = refund(mrid, &o);
    cr_expect(r->interrupted, "%s", r->reason);
    aop_resolution_free(r);
    expect_state(mrid, AOP_STATE_SENT);
    S.stop_at = 0;
    S.stop_flag = 0;
    unsigned left = 99;
    aop_error_t err;
    cr_assert_eq(aop_recover(C, J, &o, NULL, NULL, &left, &err), AOP_OK, "%s", err.msg);
    sync_gateway();
    cr_expect_eq(left, 0);
    cr_assert_eq(S.n_seen, 2);
    expect_identical_refunds(mrid);
    expect_state(mrid, AOP_STATE_REFUNDED);
}

/* ---- 2. a refund's outcomes ----------------------------------------------------------------- */

Test(resolver_gateway, refund_declined_on_first_send_fails) {
    static const char *const codes[] = {AOP_RC_REFUND_AMOUNT_EXCEED, AOP_RC_REPEAT_REQ_INCONSISTENT};
    for (size_t i = 0; i < 2; i++) {
        const char *mrid = rs_mtid("rff");
        SCRIPT(CODE(codes[i]));
        aop_resolve_options_t o = opts();
        aop_resolution_t *r = refund(mrid, &o);
        expect_outcome(r, AOP_OUTCOME_FAILED, REFUND_);
        CALLS(r, REFUND_);
        cr_expect_str_eq(r->steps[0].result_code, codes[i]);
        expect_state(mrid, AOP_STATE_FAILED);
        aop_resolution_free(r);
    }
}

Test(resolver_gateway, refund_conflict_on_resend_is_unresolved) {
    static const char *const codes[] = {AOP_RC_REPEAT_REQ_INCONSISTENT, AOP_RC_REFUND_AMOUNT_EXCEED, AOP_RC_PROCESS_FAIL,
                                        AOP_RC_KEY_NO_FOUND, AOP_RC_ORDER_STATUS_INVALID};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        const char *mrid = rs_mtid("rfu");
        SCRIPT(UNSIGNED, CODE(codes[i]));
        aop_resolve_options_t o = opts();
        aop_resolution_t *r = refund(mrid, &o);
        /* the earlier attempt may have refunded: that answer may be about it */
        expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
        CALLS(r, REFUND_, REFUND_);
        cr_expect_str_eq(r->steps[1].result_code, codes[i]);
        cr_expect_not_null(strstr(r->reason, codes[i]), "%s", r->reason);
        cr_expect_not_null(strstr(r->reason, "an earlier attempt may have refunded; check before refunding again"),
                           "%s", r->reason);
        expect_state(mrid, AOP_STATE_UNRESOLVED);
        expect_identical_refunds(mrid);
        aop_resolution_free(r);
    }
}

/* The same after a crash: the gateway refunded, the process died before the answer, and the
 * resumed re-send is answered PROCESS_FAIL. Never FAILED: that would invite a second refund. */
Test(resolver_gateway, resumed_refund_refused_is_unresolved_never_failed) {
    const char *mrid = rs_mtid("rfcr");
    SCRIPT(HELD);
    S.stop_at = 1;
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = refund(mrid, &o);
    cr_assert(r->interrupted, "%s", r->reason);
    aop_resolution_free(r);
    expect_state(mrid, AOP_STATE_SENT);
    SCRIPT(CODE(AOP_RC_PROCESS_FAIL));
    o = opts();
    r = refund(mrid, &o);
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    CALLS(r, REFUND_);
    cr_expect_not_null(strstr(r->reason, "an earlier attempt may have refunded; check before refunding again"), "%s",
                       r->reason);
    expect_state(mrid, AOP_STATE_UNRESOLVED);
    aop_resolution_free(r);
}

Test(resolver_gateway, refund_throttled_is_retried) {
    const char *mrid = rs_mtid("rft");
    SCRIPT(CODE(AOP_RC_REQUEST_TRAFFIC_EXCEED_LIMIT), CODE(AOP_RC_REQUEST_TRAFFIC_EXCEED_LIMIT), OK);
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = refund(mrid, &o);
    expect_outcome(r, AOP_OUTCOME_REFUNDED, REFUND_);
    CALLS(r, REFUND_, REFUND_, REFUND_);
    cr_expect_str_eq(r->steps[0].result_code, AOP_RC_REQUEST_TRAFFIC_EXCEED_LIMIT);
    cr_expect(r->steps[0].decided, "a decided F, retried all the same");
    /* after a back-off, not at once */
    cr_expect_geq(r->steps[1].at_ms - r->steps[0].at_ms, (int64_t)(o.policy.backoff_min_s * 1000));
    expect_identical_refunds(mrid);
    expect_state(mrid, AOP_STATE_REFUNDED);
    aop_resolution_free(r);
}

Test(resolver_gateway, refund_budget_spent_is_unresolved) {
    const char *mrid = rs_mtid("rfb");
    SCRIPT(UNSIGNED);
    aop_resolve_options_t o = opts();
    o.policy.refund_budget_s = 0.4;
    int64_t t0 = aop_now_ms();
    aop_resolution_t *r = refund(mrid, &o);
    int64_t took = aop_now_ms() - t0;
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    cr_expect_geq(r->n_steps, 2, "re-sent within the budget");
    cr_expect_geq(took, 400, "gave up after %lld ms, before the budget", (long long)took);
    cr_expect_lt(took, 400 + 2 * (int64_t)(o.policy.backoff_max_s * 1000) + 1000, "%lld ms", (long long)took);
    cr_expect_not_null(strstr(r->reason, "budget"), "%s", r->reason);
    cr_assert(!S.missed);
    cr_expect_eq(S.n_seen, r->n_steps);
    expect_identical_refunds(mrid);
    aop_journal_entry_t *e = entry(mrid);
    cr_expect_eq(e->state, AOP_STATE_UNRESOLVED, "left open for recovery: %s", aop_entry_state_name(e->state));
    cr_expect_leq(e->lease_expires_ms, aop_now_ms(), "the lease is released");
    free(e);
    aop_resolution_free(r);
}

/* ---- 3. a resumed pay's conflict codes are queried; a new pay's fail ------------------------ */

/* Leaves an open entry of mtid in POLLING: the pay answers PAYMENT_IN_PROCESS, then ^C. */
static void open_entry(const char *mtid) {
    SCRIPT(CODE(AOP_RC_PAYMENT_IN_PROCESS));
    S.stop_at = 1;
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = pay(mtid, &o);
    cr_assert(r->interrupted, "%s: %s", aop_outcome_name(r->outcome), r->reason);
    CALLS(r, PAY_);
    aop_resolution_free(r);
    expect_state(mtid, AOP_STATE_POLLING);
}

static void resume_is_queried(const char *code, gw_behaviour_t query, aop_outcome_t want, aop_entry_state_t state) {
    const char *mtid = rs_mtid("resume");
    open_entry(mtid);
    SCRIPT(CODE(code), query);
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = pay(mtid, &o);
    /* the answer may be about our own earlier pay: the query tells */
    expect_outcome(r, want, QUERY_);
    CALLS(r, PAY_, QUERY_);
    cr_expect_str_eq(r->steps[0].result_code, code);
    cr_expect(r->steps[0].decided && r->steps[0].status == 'F');
    expect_state(mtid, state);
    aop_resolution_free(r);
}

Test(resolver_gateway, resumed_pay_repeat_req_inconsistent_is_queried) {
    resume_is_queried(AOP_RC_REPEAT_REQ_INCONSISTENT, OK, AOP_OUTCOME_PAID, AOP_STATE_PAID);
    resume_is_queried(AOP_RC_REPEAT_REQ_INCONSISTENT, (gw_behaviour_t){.edit = query_closed}, AOP_OUTCOME_FAILED,
                      AOP_STATE_FAILED);
}

Test(resolver_gateway, resumed_pay_order_status_invalid_is_queried) {
    resume_is_queried(AOP_RC_ORDER_STATUS_INVALID, OK, AOP_OUTCOME_PAID, AOP_STATE_PAID);
    resume_is_queried(AOP_RC_ORDER_STATUS_INVALID, (gw_behaviour_t){.edit = query_closed}, AOP_OUTCOME_FAILED,
                      AOP_STATE_FAILED);
}

/* Any decided F to a re-sent pay is that call's refusal, not the payment's: the earlier attempt
 * may have been paid. The query decides (here: paid); never FAILED from the refusal. */
static const char *const REFUSALS[] = {AOP_RC_REQUEST_TRAFFIC_EXCEED_LIMIT, AOP_RC_PROCESS_FAIL, AOP_RC_KEY_NO_FOUND,
                                       AOP_RC_ORDER_IS_CLOSED, AOP_RC_USER_BALANCE_NOT_ENOUGH, AOP_RC_RISK_REJECT};

Test(resolver_gateway, resumed_pay_refused_is_queried_never_failed) {
    for (size_t i = 0; i < sizeof REFUSALS / sizeof *REFUSALS; i++)
        resume_is_queried(REFUSALS[i], OK, AOP_OUTCOME_PAID, AOP_STATE_PAID);
}

/* The price of that rule: a genuine decline after a crash, at a gateway that keeps no record of
 * declined pays, takes the query budget and a cancel before it is FAILED (and watched). */
Test(resolver_gateway, resumed_pay_genuinely_declined_takes_queries_and_a_cancel) {
    const char *mtid = rs_mtid("decl");
    SCRIPT(HELD); /* the first attempt's answer never came: nothing acknowledged */
    S.stop_at = 1;
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = pay(mtid, &o);
    cr_assert(r->interrupted, "%s: %s", aop_outcome_name(r->outcome), r->reason);
    aop_resolution_free(r);
    SCRIPT(CODE_NO_ACQ(AOP_RC_RISK_REJECT), CODE_NO_ACQ(AOP_RC_ORDER_NOT_EXIST));
    o = opts();
    o.policy.query_budget_s = 0.3;
    r = pay(mtid, &o);
    expect_outcome(r, AOP_OUTCOME_FAILED, QUERY_);
    unsigned n = r->n_steps;
    cr_assert_geq(n, 4, "pay, queries, cancel, query");
    cr_expect_eq(r->steps[0].function, PAY_);
    cr_expect_str_eq(r->steps[0].result_code, AOP_RC_RISK_REJECT);
    cr_expect_eq(r->steps[1].function, QUERY_, "the refusal is queried");
    cr_expect_eq(r->steps[n - 2].function, CANCEL_);
    cr_expect_eq(r->steps[n - 1].function, QUERY_);
    cr_expect(r->watch, "never acknowledged: a late query must agree");
    expect_state(mtid, AOP_STATE_FAILED);
    aop_resolution_free(r);
}

/* A signed answer whose resultStatus contradicts its resultCode decides nothing: here F with the
 * code SUCCESS to a new pay, which the query then finds paid. */
static void status_f(const aop_function_desc_t *fn, void *rs) {
    ((aop_result_info_t *)(void *)((char *)rs + fn->result_info->offset))->result_status.value = AOP_RESULT_STATUS_ENUM_F;
}

Test(resolver_gateway, contradictory_pay_answer_is_queried) {
    const char *mtid = rs_mtid("contra");
    SCRIPT((gw_behaviour_t){.edit = status_f}, OK);
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = pay(mtid, &o);
    expect_outcome(r, AOP_OUTCOME_PAID, QUERY_);
    CALLS(r, PAY_, QUERY_);
    cr_expect(!r->steps[0].decided);
    cr_expect_eq(r->steps[0].error, AOP_E_CONTRADICTION, "%s", aop_status_name(r->steps[0].error));
    expect_state(mtid, AOP_STATE_PAID);
    aop_resolution_free(r);
}

Test(resolver_gateway, new_pay_conflict_codes_fail_without_query) {
    static const char *const codes[] = {AOP_RC_REPEAT_REQ_INCONSISTENT, AOP_RC_ORDER_STATUS_INVALID};
    for (size_t i = 0; i < 2; i++) {
        const char *mtid = rs_mtid("newf");
        SCRIPT(CODE(codes[i]), OK); /* a query would find it paid: none may be made */
        aop_resolve_options_t o = opts();
        aop_resolution_t *r = pay(mtid, &o);
        expect_outcome(r, AOP_OUTCOME_FAILED, PAY_);
        CALLS(r, PAY_);
        cr_expect_str_eq(r->steps[0].result_code, codes[i]);
        expect_state(mtid, AOP_STATE_FAILED);
        aop_resolution_free(r);
    }
}

/* Recovery's query budget runs from the journaled pay's start (row Q2): an entry an hour old is
 * queried once, then cancelled, not polled for a fresh budget. */
Test(resolver_gateway, recovery_of_an_old_entry_queries_once_then_cancels) {
    const char *mtid = rs_mtid("old");
    SCRIPT(CODE(AOP_RC_PAYMENT_IN_PROCESS));
    S.stop_at = 1;
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = pay(mtid, &o);
    cr_assert(r->interrupted, "%s", r->reason);
    aop_resolution_free(r);
    /* the pay left an hour ago, on another boot (the store's clock then: only the wall clock
     * compares), as a file written by another machine says */
    aop_journal_entry_t *e = entry(mtid);
    aop_error_t err;
    char sql[200], path[128];
    snprintf(sql, sizeof sql, "UPDATE entries SET pay_started_ms = %lld, clock_id = 'another-boot' WHERE id = %lld",
             (long long)(aop_now_ms() - 3600 * 1000), (long long)e->id);
    snprintf(path, sizeof path, "%s/journal.db", dir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    free(e);
    SCRIPT((gw_behaviour_t){.edit = query_paying});
    S.reversing = OK;
    S.has_reversing = true;
    o = opts();
    o.policy.query_budget_s = 30; /* long since spent */
    unsigned left = 99;
    int64_t t0 = aop_mono_ms();
    cr_assert_eq(aop_recover(C, J, &o, NULL, NULL, &left, &err), AOP_OK, "%s", err.msg);
    int64_t took = aop_mono_ms() - t0;
    sync_gateway();
    cr_expect_eq(left, 0);
    cr_assert(!S.missed);
    cr_assert_eq(S.n_seen, 2, "one query, one cancel: %u requests", S.n_seen);
    cr_expect_eq(S.seen[0].fn, QUERY_);
    cr_expect_eq(S.seen[1].fn, CANCEL_);
    cr_expect_lt(took, 2000, "%lld ms", (long long)took);
    expect_state(mtid, AOP_STATE_CANCELLED);
}

/* A stop (Ctrl-C, SIGTERM) abandons the call in flight within 0.5 s: the pay may have left, so
 * the entry stays open (NEW) for recovery, with its lease released. */
static void *stop_in_300_ms(void *arg) {
    (void)arg;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    S.stop_flag = 1;
    return NULL;
}

Test(resolver_gateway, a_stop_abandons_the_pay_in_flight) {
    const char *mtid = rs_mtid("stopf");
    SCRIPT((gw_behaviour_t){.sleep_ms = 8000});
    aop_resolve_options_t o = opts();
    o.policy.deadline_ms = 10000;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, stop_in_300_ms, NULL), 0);
    int64_t t0 = aop_mono_ms();
    aop_resolution_t *r = rs_pay(C, J, mtid, AMOUNT, DEMO_CODE, &o);
    int64_t took = aop_mono_ms() - t0;
    pthread_join(th, NULL);
    cr_expect(r->interrupted, "%s: %s", aop_outcome_name(r->outcome), r->reason);
    cr_expect_eq(r->outcome, AOP_OUTCOME_UNRESOLVED);
    cr_assert_eq(r->n_steps, 1);
    cr_expect_eq(r->steps[0].error, AOP_E_STOPPED, "%s", aop_status_name(r->steps[0].error));
    cr_expect_leq(took, 300 + 500 + 1000, "returned %lld ms after the stop (0.5 s asked, 1 s slack)",
                  (long long)(took - 300));
    aop_journal_entry_t *e = entry(mtid);
    cr_expect(!aop_entry_state_final(e->state), "left open: %s", aop_entry_state_name(e->state));
    cr_expect_leq(e->lease_expires_ms, aop_now_ms(), "the lease is released");
    free(e);
    aop_resolution_free(r);
}

/* A mistake of configuration makes every answer fail alike: after the pay and one query, the
 * resolver stops querying, still tries the cancel (briefly), and names the setting to check
 * (rows Q3, C1). */
static void mistake_stops_the_queries(gw_behaviour_t fault, aop_mistake_t want, const char *advice) {
    const char *mtid = rs_mtid("mist");
    SCRIPT(fault);
    aop_resolve_options_t o = opts();
    /* the answers must come back (a timeout is no mistake of configuration): the gateway makes
     * its other key on the first answer, which may take longer than the fast deadline */
    o.policy.deadline_ms = 2000;
    aop_resolution_t *r = pay(mtid, &o);
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    cr_assert_geq(r->n_steps, 3);
    cr_expect_eq(r->steps[0].function, PAY_);
    cr_expect_eq(r->steps[1].function, QUERY_);
    for (unsigned i = 2; i < r->n_steps; i++) cr_expect_eq(r->steps[i].function, CANCEL_, "step %u: no more queries", i);
    cr_expect_eq(r->mistake, want);
    cr_expect_not_null(strstr(r->reason, advice), "%s", r->reason);
    cr_expect_str_eq(r->row, "C1");
    expect_state(mtid, AOP_STATE_UNRESOLVED);
    aop_resolution_free(r);
}

Test(resolver_gateway, answers_that_never_verify_name_the_sign_type_and_key) {
    mistake_stops_the_queries((gw_behaviour_t){.key = GW_KEY_OTHER}, AOP_MISTAKE_UNVERIFIED,
                              "check the sign type and Alipay's public key");
}

Test(resolver_gateway, a_wrong_path_names_the_gateway_url) {
    mistake_stops_the_queries((gw_behaviour_t){.http_status = 404}, AOP_MISTAKE_PATH, "HTTP 404: check the gateway URL's path");
}

Test(resolver_gateway, a_credential_refusal_is_named_not_declined) {
    const char *mtid = rs_mtid("cred1");
    SCRIPT(CODE(AOP_RC_UNKNOWN_CLIENT));
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = pay(mtid, &o);
    expect_outcome(r, AOP_OUTCOME_FAILED, PAY_);
    CALLS(r, PAY_);
    cr_expect_eq(r->mistake, AOP_MISTAKE_CREDENTIAL);
    cr_expect_str_eq(r->row, "P11");
    cr_expect_null(strstr(r->reason, "declined"), "%s", r->reason);
    aop_resolution_free(r);
}

/* ---- 4. query ORDER_NOT_EXIST ----------------------------------------------------------------- */

Test(resolver_gateway, query_order_not_exist_before_ack_queries_again) {
    const char *mtid = rs_mtid("one");
    /* the pay's answer is lost: nothing acknowledged; the gateway has not seen it yet, then has */
    SCRIPT(HELD, CODE_NO_ACQ(AOP_RC_ORDER_NOT_EXIST), CODE_NO_ACQ(AOP_RC_ORDER_NOT_EXIST), OK);
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = pay(mtid, &o);
    expect_outcome(r, AOP_OUTCOME_PAID, QUERY_);
    CALLS(r, PAY_, QUERY_, QUERY_, QUERY_);
    cr_expect_str_eq(r->steps[1].result_code, AOP_RC_ORDER_NOT_EXIST);
    cr_expect_str_eq(r->steps[2].result_code, AOP_RC_ORDER_NOT_EXIST);
    cr_expect(r->steps[1].decided && r->steps[1].status == 'F');
    expect_state(mtid, AOP_STATE_PAID);
    aop_resolution_free(r);
}

/* The pay's answer is lost; every query and the cancel answer ORDER_NOT_EXIST. */
static aop_resolution_t *never_exists(const char *mtid, gw_behaviour_t pay_answer) {
    SCRIPT(pay_answer, CODE_NO_ACQ(AOP_RC_ORDER_NOT_EXIST));
    aop_resolve_options_t o = opts();
    o.policy.query_budget_s = 0.3;
    aop_resolution_t *r = pay(mtid, &o);
    cr_assert_geq(r->n_steps, 4, "pay, queries, cancel, query");
    cr_assert(!S.missed);
    cr_expect_eq(S.n_seen, r->n_steps);
    unsigned n = r->n_steps;
    cr_expect_eq(r->steps[0].function, PAY_);
    for (unsigned i = 1; i < n - 2; i++) cr_expect_eq(r->steps[i].function, QUERY_, "step %u", i);
    cr_expect_eq(r->steps[n - 2].function, CANCEL_, "the cancel, once");
    cr_expect_str_eq(r->steps[n - 2].result_code, AOP_RC_ORDER_NOT_EXIST);
    cr_expect_eq(r->steps[n - 1].function, QUERY_, "one more query after the cancel");
    cr_expect_str_eq(r->steps[n - 1].result_code, AOP_RC_ORDER_NOT_EXIST);
    for (unsigned i = 0; i < S.n_seen; i++) cr_expect_eq(S.seen[i].fn, r->steps[i].function, "request %u", i);
    return r;
}

Test(resolver_gateway, cancel_order_not_exist_never_acknowledged_fails_nothing_charged) {
    const char *mtid = rs_mtid("none");
    aop_resolution_t *r = never_exists(mtid, HELD);
    expect_outcome(r, AOP_OUTCOME_FAILED, QUERY_);
    cr_expect_not_null(strstr(r->reason, "nothing charged"), "%s", r->reason);
    cr_expect(r->watch, "never acknowledged: a late query must agree");
    aop_journal_entry_t *e = entry(mtid);
    cr_expect_eq(e->state, AOP_STATE_FAILED, "%s", aop_entry_state_name(e->state));
    cr_expect(!e->acknowledged);
    cr_expect(e->watch);
    free(e);
    aop_resolution_free(r);
}

/* The control: the same answers about a payment the gateway acknowledged contradict it. */
Test(resolver_gateway, cancel_order_not_exist_after_ack_needs_attention) {
    const char *mtid = rs_mtid("ack");
    aop_resolution_t *r = never_exists(mtid, CODE(AOP_RC_PAYMENT_IN_PROCESS));
    expect_outcome(r, AOP_OUTCOME_NEEDS_ATTENTION, QUERY_);
    aop_journal_entry_t *e = entry(mtid);
    cr_expect(e->acknowledged, "PAYMENT_IN_PROCESS with its acquirementId acknowledges it");
    cr_expect_eq(e->state, AOP_STATE_NEEDS_ATTENTION, "%s", aop_entry_state_name(e->state));
    free(e);
    aop_resolution_free(r);
}

/* ---- 5. a cancel answered with a credential code -------------------------------------------- */

Test(resolver_gateway, cancel_credential_code_is_unresolved_with_reason) {
    const char *mtid = rs_mtid("cred");
    /* the pay's answer is lost, the payment stays PAYING, and the cancel is refused for the key */
    SCRIPT(HELD, (gw_behaviour_t){.edit = query_paying});
    S.reversing = CODE(AOP_RC_KEY_NO_FOUND);
    S.has_reversing = true;
    aop_resolve_options_t o = opts();
    o.policy.query_budget_s = 0.3;
    aop_resolution_t *r = pay(mtid, &o);
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    cr_expect_not_null(strstr(r->reason, AOP_RC_KEY_NO_FOUND), "%s", r->reason);
    unsigned n = r->n_steps;
    cr_assert_geq(n, 3);
    cr_expect_eq(r->steps[n - 1].function, CANCEL_, "the cancel is the last call: not retried, no query after it");
    cr_expect_str_eq(r->steps[n - 1].result_code, AOP_RC_KEY_NO_FOUND);
    for (unsigned i = 1; i < n - 1; i++) {
        cr_expect_eq(r->steps[i].function, QUERY_, "step %u", i);
        cr_expect_str_eq(r->steps[i].acquirement_status, "PAYING", "step %u", i);
    }
    cr_assert(!S.missed);
    cr_expect_eq(S.n_seen, n);
    expect_state(mtid, AOP_STATE_UNRESOLVED);
    aop_resolution_free(r);
}

/* ---- single_call (`aop refund --no-resolve`) ------------------------------------------------ */

/* One call only, as for a payment: an undecided answer leaves the entry open for aop_recover,
 * it is not re-sent here. */
Test(resolver_gateway, refund_single_call_makes_one_call) {
    const char *mrid = rs_mtid("rf1");
    SCRIPT(UNSIGNED, OK);
    aop_resolve_options_t o = opts();
    o.single_call = true;
    aop_resolution_t *r = refund(mrid, &o);
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    CALLS(r, REFUND_);
    aop_journal_entry_t *e = entry(mrid);
    cr_expect(!aop_entry_state_final(e->state), "the entry stays open: %s", aop_entry_state_name(e->state));
    cr_expect_leq(e->lease_expires_ms, aop_now_ms(), "the lease is released");
    free(e);
    aop_resolution_free(r);
    /* a decided answer closes it */
    mrid = rs_mtid("rf1s");
    SCRIPT(OK);
    o = opts();
    o.single_call = true;
    r = refund(mrid, &o);
    expect_outcome(r, AOP_OUTCOME_REFUNDED, REFUND_);
    CALLS(r, REFUND_);
    cr_expect_eq(r->kind, AOP_ENTRY_REFUND, "the key is a merchantRefundId");
    expect_state(mrid, AOP_STATE_REFUNDED);
    aop_resolution_free(r);
}

/* ---- single_call (`aop pay --no-resolve`) on an open entry ---------------------------------- */

static aop_resolution_t *pay_once(const char *mtid, const char *amount) {
    aop_resolve_options_t o = opts();
    o.single_call = true;
    aop_resolution_t *r = rs_pay(C, J, mtid, amount, DEMO_CODE, &o);
    sync_gateway();
    return r;
}

/* Resuming with single_call: one pay, whatever the entry's state (never a query or a cancel);
 * only S closes it, since an earlier attempt may have paid. */
Test(resolver_gateway, single_call_resume_makes_one_pay) {
    const char *mtid = rs_mtid("once");
    SCRIPT(UNSIGNED); /* the outcome is unknown: the entry is left UNRESOLVED */
    aop_resolution_t *r = pay_once(mtid, AMOUNT);
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    CALLS(r, PAY_);
    expect_state(mtid, AOP_STATE_UNRESOLVED);
    aop_resolution_free(r);

    SCRIPT(UNSIGNED, OK); /* a query or cancel after it would be answered: none may be made */
    r = pay_once(mtid, AMOUNT);
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    CALLS(r, PAY_);
    expect_state(mtid, AOP_STATE_UNRESOLVED);
    aop_resolution_free(r);

    /* a refusal of the repeat may be about the earlier attempt: open, never FAILED */
    SCRIPT(CODE(AOP_RC_REPEAT_REQ_INCONSISTENT), OK);
    r = pay_once(mtid, AMOUNT);
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    CALLS(r, PAY_);
    cr_expect_not_null(strstr(r->reason, "refused the repeat"), "%s", r->reason);
    cr_expect_not_null(strstr(r->reason, AOP_RC_REPEAT_REQ_INCONSISTENT), "%s", r->reason);
    expect_state(mtid, AOP_STATE_UNRESOLVED);
    aop_journal_entry_t *e = entry(mtid);
    cr_expect_leq(e->lease_expires_ms, aop_now_ms(), "the lease is released");
    free(e);
    aop_resolution_free(r);

    SCRIPT(OK, OK);
    r = pay_once(mtid, AMOUNT);
    expect_outcome(r, AOP_OUTCOME_PAID, PAY_);
    CALLS(r, PAY_);
    cr_expect_eq(r->kind, AOP_ENTRY_PAYMENT);
    expect_state(mtid, AOP_STATE_PAID);
    aop_resolution_free(r);
}

/* The same from POLLING (an interrupted full resolution). */
Test(resolver_gateway, single_call_resume_of_polling_entry_makes_one_pay) {
    const char *mtid = rs_mtid("oncep");
    open_entry(mtid);
    SCRIPT(UNSIGNED, OK);
    aop_resolution_t *r = pay_once(mtid, AMOUNT);
    expect_outcome(r, AOP_OUTCOME_UNRESOLVED, NULL);
    CALLS(r, PAY_);
    expect_state(mtid, AOP_STATE_UNRESOLVED);
    aop_resolution_free(r);
}

/* ---- a merchantTransId reused with another amount: sent unjournaled ------------------------- */

Test(resolver_gateway, unjournaled_pay_undecided_needs_attention) {
    const char *mtid = rs_mtid("reuse");
    SCRIPT(OK);
    aop_resolve_options_t o = opts();
    aop_resolution_t *r = pay(mtid, &o);
    expect_outcome(r, AOP_OUTCOME_PAID, PAY_);
    aop_resolution_free(r);

    /* aop recover cannot see this pay: a person must query it */
    SCRIPT(UNSIGNED, OK);
    o = opts();
    r = rs_pay(C, J, mtid, "200", DEMO_CODE, &o);
    sync_gateway();
    expect_outcome(r, AOP_OUTCOME_NEEDS_ATTENTION, NULL);
    CALLS(r, PAY_);
    cr_expect_eq(r->entry_id, 0, "no entry is this pay's");
    cr_expect_eq(r->kind, AOP_ENTRY_PAYMENT);
    cr_expect_not_null(strstr(r->reason, "not journaled"), "%s", r->reason);
    cr_expect_not_null(strstr(r->reason, mtid), "%s", r->reason);
    cr_expect_not_null(strstr(r->reason, "aop query --merchant-trans-id"), "%s", r->reason);
    expect_state(mtid, AOP_STATE_PAID);
    aop_resolution_free(r);

    /* a decided answer stays as it is */
    SCRIPT(CODE(AOP_RC_REPEAT_REQ_INCONSISTENT));
    o = opts();
    r = rs_pay(C, J, mtid, "300", DEMO_CODE, &o);
    sync_gateway();
    expect_outcome(r, AOP_OUTCOME_FAILED, PAY_);
    CALLS(r, PAY_);
    expect_state(mtid, AOP_STATE_PAID);
    aop_resolution_free(r);
}

/* ---- the last query's reason names the cancel's refusal ------------------------------------- */

Test(resolver_gateway, refused_cancel_then_open_status_names_the_cancel_code) {
    const char *mtid = rs_mtid("refz");
    /* the pay's answer is lost, the payment stays PAYING, the cancel is refused */
    SCRIPT(HELD, (gw_behaviour_t){.edit = query_paying});
    S.reversing = CODE(AOP_RC_ORDER_STATUS_INVALID);
    S.has_reversing = true;
    aop_resolve_options_t o = opts();
    o.policy.query_budget_s = 0.3;
    aop_resolution_t *r = pay(mtid, &o);
    expect_outcome(r, AOP_OUTCOME_NEEDS_ATTENTION, QUERY_);
    unsigned n = r->n_steps;
    cr_assert_geq(n, 3);
    cr_expect_eq(r->steps[n - 2].function, CANCEL_);
    cr_expect_str_eq(r->steps[n - 2].result_code, AOP_RC_ORDER_STATUS_INVALID);
    cr_expect_not_null(strstr(r->reason, "refused (" AOP_RC_ORDER_STATUS_INVALID ")"), "%s", r->reason);
    aop_resolution_free(r);
}
