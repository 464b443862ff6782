/* SPDX-License-Identifier: MIT */
/* Shared by the resolver's suites (tests/unit/test_resolver*.c): an in-memory journal store in
 * shared memory (so that a forked child killed mid-payment leaves its entries to the parent's
 * recovery), the in-process sandbox with fast switches, a client, and a fast policy. */
#ifndef AOP_RESOLVER_SUPPORT_H
#define AOP_RESOLVER_SUPPORT_H

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define RS_UNUSED __attribute__((unused))

#include "aop/aop.h"
#include "sandbox.h"
#include "sbx_internal.h"
#include "support.h"

#define CLIENT_ID "211020000000000000044"
#define MERCHANT_ID "218820000000000000023"
#define DEMO_CODE "28763443825664394"

/* ---- the in-memory store ---------------------------------------------------------------------- */

#define MEM_MAX 32
typedef struct {
    unsigned n;
    int64_t next_id;
    unsigned inserts, transitions, claims;
    bool fail_insert;   /* the next inserts fail (AOP_E_JOURNAL) */
    aop_journal_entry_t e[MEM_MAX];
} mem_store_t;

static RS_UNUSED aop_journal_entry_t *mem_get(mem_store_t *m, int64_t id) {
    for (unsigned i = 0; i < m->n; i++)
        if (m->e[i].id == id) return &m->e[i];
    return NULL;
}

static RS_UNUSED aop_status_t mem_insert(void *store, aop_journal_entry_t *e, aop_error_t *err) {
    mem_store_t *m = store;
    if (m->fail_insert || m->n == MEM_MAX) return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "disk full (test)");
    for (unsigned i = 0; i < m->n; i++)
        if (m->e[i].kind == e->kind && !strcmp(m->e[i].gateway, e->gateway) &&
            !strcmp(m->e[i].merchant_id, e->merchant_id) && !strcmp(m->e[i].key, e->key))
            return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "duplicate key (test)");
    e->id = ++m->next_id;
    e->state = AOP_STATE_NEW;
    e->epoch = 1;
    m->e[m->n++] = *e;
    m->inserts++;
    return AOP_OK;
}

static aop_status_t mem_find(void *store, aop_entry_kind_t kind, const char *gateway, const char *merchant_id,
                             const char *key, aop_journal_entry_t *out, aop_error_t *err) {
    mem_store_t *m = store;
    for (unsigned i = 0; i < m->n; i++)
        if (m->e[i].kind == kind && !strcmp(m->e[i].gateway, gateway) && !strcmp(m->e[i].merchant_id, merchant_id) &&
            !strcmp(m->e[i].key, key)) {
            *out = m->e[i];
            return AOP_OK;
        }
    return aop_error_set(err, AOP_E_MISSING, NULL, -1, "no such entry");
}

static aop_status_t mem_claim(void *store, int64_t id, const char *owner, int64_t now_ms, int64_t expires_ms,
                              bool (*owner_dead)(const char *, void *), void *ctx, aop_journal_entry_t *out,
                              aop_error_t *err) {
    mem_store_t *m = store;
    aop_journal_entry_t *e = mem_get(m, id);
    if (!e) return aop_error_set(err, AOP_E_MISSING, NULL, -1, "no such entry");
    bool free_ = !e->lease_owner[0] || e->lease_expires_ms <= now_ms || !strcmp(e->lease_owner, owner) ||
                 (owner_dead && owner_dead(e->lease_owner, ctx));
    if (!free_) return aop_error_set(err, AOP_E_TAKEN_OVER, NULL, -1, "leased by %s", e->lease_owner);
    snprintf(e->lease_owner, sizeof e->lease_owner, "%s", owner);
    e->lease_expires_ms = expires_ms;
    e->epoch++;
    m->claims++;
    *out = *e;
    return AOP_OK;
}

static RS_UNUSED aop_status_t mem_transition(void *store, aop_journal_entry_t *e, aop_entry_state_t expect, aop_error_t *err) {
    mem_store_t *m = store;
    aop_journal_entry_t *s = mem_get(m, e->id);
    if (!s) return aop_error_set(err, AOP_E_MISSING, NULL, -1, "no such entry");
    if (s->state != expect || s->epoch != e->epoch || strcmp(s->lease_owner, e->lease_owner) != 0)
        return aop_error_set(err, AOP_E_TAKEN_OVER, NULL, -1, "compare-and-set failed");
    e->epoch++;
    *s = *e;
    m->transitions++;
    return AOP_OK;
}

static RS_UNUSED aop_status_t mem_list(void *store, bool open_only, aop_journal_each_fn fn, void *ctx, aop_error_t *err) {
    (void)err;
    mem_store_t *m = store;
    for (unsigned i = 0; i < m->n; i++)
        if (!open_only || !aop_entry_state_final(m->e[i].state))
            if (!fn(&m->e[i], ctx)) break;
    return AOP_OK;
}

static void mem_close(void *store) { munmap(store, sizeof(mem_store_t)); }

static const aop_journal_ops_t mem_ops = {mem_insert, mem_find, mem_claim, mem_transition, mem_list, mem_close};

/* A journal over a fresh store in shared memory; *store (may be NULL) gets the store. */
static RS_UNUSED aop_journal_t *mem_journal(mem_store_t **store) {
    mem_store_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    memset(m, 0, sizeof *m);
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(aop_journal_open_custom(&mem_ops, m, &j, &err), AOP_OK, "%s", err.msg);
    if (store) *store = m;
    return j;
}

/* ---- the sandbox, the client and the policy -------------------------------------------------- */

#define SETTLE_MS 300
#define DELAY_MS 600   /* held answers: past the per-call deadline below */
#define DEADLINE_MS 300

static RS_UNUSED const char *rs_data(const char *name) {
    static char paths[4][512];
    static unsigned next;
    char *p = paths[next++ % 4];
    snprintf(p, 512, "%s/%s", AOP_TEST_DATA, name);
    return p;
}

static RS_UNUSED aop_sandbox_t *rs_sandbox(bool no_faults, unsigned short port) {
    aop_sandbox_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.port = port;
    cfg.key_file = aop_test_private_key("gateway.pkcs8.pem");
    cfg.merchant_public_key_file = rs_data("merchant.spki.pem");
    cfg.sign_type = AOP_SIGN_RSA2;
    cfg.settle_ms = SETTLE_MS;
    cfg.delay_ms = DELAY_MS;
    cfg.no_faults = no_faults;
    aop_sandbox_t *s = NULL;
    aop_error_t err;
    aop_status_t st = aop_sandbox_start(&cfg, &s, &err);
    cr_assert_eq(st, AOP_OK, "aop_sandbox_start: %s: %s", aop_status_name(st), err.msg);
    return s;
}

/* A client of the sandbox on port; on_event (may be NULL) sees every attempt. */
static RS_UNUSED aop_client_t *rs_client(unsigned short port, aop_event_fn on_event, void *ctx) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = url;
    cfg.client_id = CLIENT_ID;
    cfg.merchant_id = MERCHANT_ID;
    cfg.private_key_file = aop_test_private_key("merchant.pkcs8.pem");
    cfg.alipay_public_key_file = rs_data("gateway.spki.pem");
    cfg.on_event = on_event;
    cfg.event_ctx = ctx;
    aop_client_t *c = NULL;
    aop_error_t err;
    aop_status_t st = aop_client_new(&cfg, &c, &err);
    cr_assert_eq(st, AOP_OK, "aop_client_new: %s: %s", aop_status_name(st), err.msg);
    return c;
}

/* Fractions of a second: a whole unknown-outcome flow in about two seconds. */
static RS_UNUSED aop_resolve_options_t rs_fast(void) {
    aop_resolve_options_t o;
    aop_resolve_options_init(&o);
    o.policy.first_poll_s = 0.05;
    o.policy.poll_interval_s = 0.1;
    o.policy.query_budget_s = 1.0;
    o.policy.cancel_margin_s = 0.1;
    o.policy.cancel_budget_s = 1.5;
    o.policy.backoff_min_s = 0.05;
    o.policy.backoff_max_s = 0.2;
    o.policy.watch_window_s = 0.2;
    o.policy.refund_budget_s = 1.0;
    o.policy.deadline_ms = DEADLINE_MS;
    return o;
}

/* A pay request; its views point at the arguments and static text. */
static RS_UNUSED aop_offline_pay_request_t rs_pay_req(const char *mtid, const char *amount, const char *code) {
    aop_offline_pay_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
    rq.body.code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
    rq.body.merchant_trans_id = aop_str(mtid);
    rq.body.identity_code = aop_str(code);
    rq.body.order.order_amount.currency = aop_str("USD");
    rq.body.order.order_amount.value = aop_str(amount);
    rq.body.order.order_title = aop_str("resolver test");
    return rq;
}

/* A fresh merchantTransId (the sandbox keeps state per id). */
static RS_UNUSED const char *rs_mtid(const char *tag) {
    static char ids[8][65];
    static unsigned next;
    char *p = ids[next++ % 8];
    char rnd[13];
    cr_assert_eq(aop_random_chars(rnd, 12, "abcdefghijklmnopqrstuvwxyz0123456789"), AOP_OK);
    snprintf(p, 65, "rsv-%s-%s", tag, rnd);
    return p;
}

/* Pays and resolves; asserts the call itself worked. */
static RS_UNUSED aop_resolution_t *rs_pay(aop_client_t *c, aop_journal_t *j, const char *mtid, const char *amount,
                                const char *code, const aop_resolve_options_t *o) {
    aop_offline_pay_request_t rq = rs_pay_req(mtid, amount, code);
    aop_resolution_t *res = NULL;
    aop_error_t err;
    aop_status_t st = aop_pay_resolve(c, j, &rq, o, &res, &err);
    cr_assert_eq(st, AOP_OK, "aop_pay_resolve: %s: %s", aop_status_name(st), err.msg);
    cr_assert_not_null(res);
    return res;
}

/* The outcome column of the sandbox's row for code, as the resolver names outcomes. */
static RS_UNUSED const char *rs_row_outcome(const char *code) {
    const sbx_scenario_t *sc = sbx_scenario_find(code, strlen(code));
    cr_assert_not_null(sc, "no row %s", code);
    return sbx_outcome_name(sbx_scenario_outcome(sc));
}

static RS_UNUSED void rs_dump(const aop_resolution_t *r) {
    for (unsigned i = 0; i < r->n_steps; i++)
        fprintf(stderr, "  step %u: %s %c %s %s (%s)\n", i, r->steps[i].function->name, r->steps[i].status,
                r->steps[i].result_code, r->steps[i].acquirement_status, aop_status_name(r->steps[i].error));
}

/* Asserts that paying with the row's code ends as the row's outcome column says. */
static RS_UNUSED void rs_expect_row(aop_client_t *c, aop_journal_t *j, const char *code) {
    aop_resolve_options_t o = rs_fast();
    aop_resolution_t *r = rs_pay(c, j, rs_mtid("row"), "1000", code, &o);
    const char *want = rs_row_outcome(code);
    if (strcmp(aop_outcome_name(r->outcome), want) != 0) rs_dump(r);
    cr_expect_str_eq(aop_outcome_name(r->outcome), want, "row %s: %s (%s), the table says %s", code,
                     aop_outcome_name(r->outcome), r->reason, want);
    cr_expect(!r->taken_over && !r->interrupted);
    aop_resolution_free(r);
}

#endif
