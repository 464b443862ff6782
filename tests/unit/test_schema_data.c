/* SPDX-License-Identifier: MIT */
/* What the schema declares reaches the C tables and the engine: the result-code classes of
 * schema/result_codes.yaml, and the role sensitive, which aop_encode_ex() leaves out. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/protocol.h"
#include "support.h"

/* ---- result-code classes ------------------------------------------------------------------ */

static const char *const credential[] = {
    "INVALID_SIGNATURE", "KEY_NO_FOUND", "UNKNOWN_CLIENT", "ACCESS_DENIED", "CLIENT_FORBIDDEN_ACCESS_API",
    "INVALID_CLIENT_STATUS", "OAUTH_FAILED", "NO_INTERFACE_DEF", "API_IS_INVALID", "PARAM_ILLEGAL",
};

static bool in_list(const char *code, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(code, list[i])) return true;
    return false;
}

static const aop_result_code_t *code(const aop_result_table_t *t, const char *c) {
    return aop_result_code_find(t, c, strlen(c));
}

Test(code_classes, every_code_carries_exactly_the_declared_classes) {
    cr_assert_neq(AOP_RC_CLASS_CREDENTIAL, AOP_RC_CLASS_THROTTLED);
    cr_assert_eq(AOP_RC_CLASS_CREDENTIAL & AOP_RC_CLASS_THROTTLED, 0u, "one bit each");
    unsigned n_credential = 0, n_throttled = 0;
    for (unsigned i = 0; i < aop_all_codes.count; i++) {
        const aop_result_code_t *rc = aop_all_codes.by_code[i];
        unsigned want = (in_list(rc->code, credential, sizeof credential / sizeof *credential) ? AOP_RC_CLASS_CREDENTIAL : 0u) |
                        (!strcmp(rc->code, AOP_RC_REQUEST_TRAFFIC_EXCEED_LIMIT) ? AOP_RC_CLASS_THROTTLED : 0u);
        cr_assert_eq(rc->classes, want, "%s: classes 0x%x, expected 0x%x", rc->code, rc->classes, want);
        n_credential += aop_result_code_in(rc, AOP_RC_CLASS_CREDENTIAL);
        n_throttled += aop_result_code_in(rc, AOP_RC_CLASS_THROTTLED);
    }
    cr_assert_eq(n_credential, sizeof credential / sizeof *credential);
    cr_assert_eq(n_throttled, 1);
}

Test(code_classes, named_codes) {
    cr_assert(aop_result_code_in(code(&aop_all_codes, "KEY_NO_FOUND"), AOP_RC_CLASS_CREDENTIAL));
    cr_assert_not(aop_result_code_in(code(&aop_all_codes, "KEY_NO_FOUND"), AOP_RC_CLASS_THROTTLED));
    cr_assert(aop_result_code_in(code(&aop_all_codes, "REQUEST_TRAFFIC_EXCEED_LIMIT"), AOP_RC_CLASS_THROTTLED));
    cr_assert_not(aop_result_code_in(code(&aop_all_codes, "REQUEST_TRAFFIC_EXCEED_LIMIT"), AOP_RC_CLASS_CREDENTIAL));
    /* "General business failure. No retry.": not throttled, so a cancel series does not retry it */
    const aop_result_code_t *pf = code(&aop_all_codes, "PROCESS_FAIL");
    cr_assert_not_null(pf);
    cr_assert_not(aop_result_code_in(pf, AOP_RC_CLASS_CREDENTIAL | AOP_RC_CLASS_THROTTLED));
    cr_assert_not(aop_result_code_in(code(&aop_all_codes, "SUCCESS"), AOP_RC_CLASS_CREDENTIAL | AOP_RC_CLASS_THROTTLED));
}

Test(code_classes, function_tables_carry_them_too) {
    for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++) {
        const aop_result_table_t *t = aop_functions[i]->codes;
        cr_assert(aop_result_code_in(code(t, "INVALID_SIGNATURE"), AOP_RC_CLASS_CREDENTIAL), "%s", aop_functions[i]->name);
        cr_assert(aop_result_code_in(code(t, "REQUEST_TRAFFIC_EXCEED_LIMIT"), AOP_RC_CLASS_THROTTLED),
                  "%s", aop_functions[i]->name);
    }
    const aop_result_code_t *by_id = aop_result_code_find_id(aop_fn_pay_cancel.codes, "00000024", 8);
    cr_assert(aop_result_code_in(by_id, AOP_RC_CLASS_THROTTLED), "found by id, the same code");
}

Test(code_classes, helper_edges) {
    const aop_result_code_t *key = code(&aop_all_codes, "KEY_NO_FOUND");
    cr_assert_not(aop_result_code_in(NULL, AOP_RC_CLASS_CREDENTIAL), "an unknown code is in no class");
    cr_assert_not(aop_result_code_in(key, 0), "no class asked");
    cr_assert(aop_result_code_in(key, AOP_RC_CLASS_THROTTLED | AOP_RC_CLASS_CREDENTIAL), "any of several");
}
