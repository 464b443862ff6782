/* SPDX-License-Identifier: MIT */
/* The resolver against the in-process sandbox, one test per class of rows of the sandbox's
 * scenario table: every row ends as its `outcome` column says (issue 10 section 1). The policy is
 * in fractions of a second (resolver_support.h), the sandbox's timers likewise. */
#include "resolver_support.h"

static void rows(const char *const *codes, size_t n) {
    aop_sandbox_t *s = rs_sandbox(false, 0);
    aop_client_t *c = rs_client(aop_sandbox_port(s), NULL, NULL);
    aop_journal_t *j = mem_journal(NULL);
    for (size_t i = 0; i < n; i++) rs_expect_row(c, j, codes[i]);
    aop_journal_close(j);
    aop_client_free(c);
    aop_sandbox_stop(s);
}
#define ROWS(...)                                              \
    do {                                                       \
        static const char *const codes_[] = {__VA_ARGS__};     \
        rows(codes_, sizeof codes_ / sizeof codes_[0]);        \
    } while (0)

/* Every row belongs to one of the classes below: a new row fails here until a test covers it. */
static const char *const classified[] = {
    DEMO_CODE, "281000000000009008",                                                   /* pays at once */
    "281000000000001013",                                                              /* in process, pays */
    "281000000000001020", "281000000000002002",                                        /* closes */
    "281000000000009001", "281000000000009002", "281000000000009003", "281000000000009005",
    "281000000000009006", "281000000000009007",                                        /* reply faults, paid */
    "281000000000009004", "281000000000009009",                                        /* nothing recorded */
    "281000000000009010",                                                              /* late pay */
    "281000000000003001", "281000000000003002", "281000000000003003",                  /* stays PAYING */
    "281000000000003004", "281000000000003005", "281000000000003006", "281000000000003007",
    "281000000000003008",
};

static bool is_classified(const char *code) {
    for (size_t i = 0; i < sizeof classified / sizeof *classified; i++)
        if (!strcmp(classified[i], code)) return true;
    /* the declines (decided F at once) are classified by their status */
    const sbx_scenario_t *sc = sbx_scenario_find(code, strlen(code));
    return sc && sbx_scenario_status(sc) == 'F';
}

Test(resolver_rows, every_row_is_covered) {
    for (unsigned i = 0; i < sbx_n_scenarios; i++)
        cr_expect(is_classified(sbx_scenarios[i].identity_code), "row %s is in no test class",
                  sbx_scenarios[i].identity_code);
}

Test(resolver_rows, declined_at_once_fail_without_query) {
    aop_sandbox_t *s = rs_sandbox(false, 0);
    aop_client_t *c = rs_client(aop_sandbox_port(s), NULL, NULL);
    aop_journal_t *j = mem_journal(NULL);
    unsigned n = 0;
    for (unsigned i = 0; i < sbx_n_scenarios; i++) {
        const sbx_scenario_t *sc = &sbx_scenarios[i];
        if (sbx_scenario_status(sc) != 'F') continue;
        aop_resolve_options_t o = rs_fast();
        aop_resolution_t *r = rs_pay(c, j, rs_mtid("dec"), "1000", sc->identity_code, &o);
        cr_expect_str_eq(aop_outcome_name(r->outcome), rs_row_outcome(sc->identity_code), "row %s", sc->identity_code);
        cr_expect_eq(r->n_steps, 1, "row %s: a decided F is not queried (%u steps)", sc->identity_code, r->n_steps);
        cr_expect_eq(r->decided_by, &aop_fn_offline_pay);
        cr_expect_str_eq(r->steps[0].result_code, sc->result_code);
        aop_resolution_free(r);
        n++;
    }
    cr_expect_gt(n, 20, "the table's declines: %u", n);
    aop_journal_close(j);
    aop_client_free(c);
    aop_sandbox_stop(s);
}

Test(resolver_rows, pays_at_once) { ROWS(DEMO_CODE, "281000000000009008"); }
Test(resolver_rows, in_process_then_paid) { ROWS("281000000000001013"); }
Test(resolver_rows, in_process_then_closed) { ROWS("281000000000001020", "281000000000002002"); }
Test(resolver_rows, reply_faults_after_payment) {
    ROWS("281000000000009001", "281000000000009002", "281000000000009003", "281000000000009005",
         "281000000000009006", "281000000000009007");
}
Test(resolver_rows, nothing_recorded_then_cancelled) { ROWS("281000000000009004", "281000000000009009"); }
Test(resolver_rows, late_pay) { ROWS("281000000000009010"); }
Test(resolver_rows, stays_paying_then_cancelled) { ROWS("281000000000003001"); }
Test(resolver_rows, undecided_queries) { ROWS("281000000000003002", "281000000000003003"); }
Test(resolver_rows, amount_mismatch_on_query) { ROWS("281000000000003004"); }
Test(resolver_rows, credential_code_on_query) { ROWS("281000000000003005"); }
Test(resolver_rows, cancel_held_twice) { ROWS("281000000000003006"); }
Test(resolver_rows, cancel_http_500) { ROWS("281000000000003007"); }
Test(resolver_rows, cancel_order_not_exist) { ROWS("281000000000003008"); }
