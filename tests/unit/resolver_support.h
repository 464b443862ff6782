/* SPDX-License-Identifier: MIT */
/* Shared by the resolver's suites (tests/unit/test_resolver*.c): the in-memory journal store
 * (tests/support/mem_store.h), the in-process sandbox with fast switches, a client, and a fast
 * policy. */
#ifndef AOP_RESOLVER_SUPPORT_H
#define AOP_RESOLVER_SUPPORT_H

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS_UNUSED __attribute__((unused))

#include "aop/aop.h"
#include "mem_store.h"
#include "sandbox.h"
#include "sbx_internal.h"
#include "support.h"

#define CLIENT_ID "211020000000000000044"
#define MERCHANT_ID "218820000000000000023"
#define DEMO_CODE "28763443825664394"

/* ---- the journal's entries -------------------------------------------------------------------- */

/* The owner text of a process of this host, boot and PID namespace that is gone (a pid no
 * kernel hands out): what a killed resolver leaves behind. */
static RS_UNUSED void rs_dead_owner(char out[AOP_JOURNAL_OWNER_SIZE]) {
    char self[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_self_owner(self);
    /* host/boot/ns/pid/start#nonce: keep the first three */
    char *p = self;
    for (int i = 0; i < 3; i++) p = strchr(p, '/') + 1;
    snprintf(p, (size_t)(self + sizeof self - p), "%d/1#dead", 0x3ffffff);
    memcpy(out, self, AOP_JOURNAL_OWNER_SIZE);
}

/* Makes e's MAC again with the test merchant key's (an entry edited by a test as a real process
 * would have written it). */
static RS_UNUSED void rs_reseal(aop_journal_entry_t *e) {
    aop_private_key_t *k = NULL;
    aop_error_t err;
    cr_assert_eq(aop_private_key_load_file(aop_test_private_key("merchant.pkcs8.pem"), NULL, &k, &err), AOP_OK);
    aop_journal_key_t key;
    cr_assert_eq(aop_journal_key_derive(k, &key, &err), AOP_OK, "%s", err.msg);
    aop_private_key_free(k);
    aop_journal_entry_seal(&key, e);
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
    aop_offline_pay_request_t rq = aop_test_pay_request(mtid, amount, code);
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
    return sbx_outcome_name(sc->outcome);
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
