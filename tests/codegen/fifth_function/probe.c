/* SPDX-License-Identifier: MIT */
/* Built by the fifth_function test against the library built from a schema copy with
 * demo_query.yaml added: the new function is in aop_functions[] and its sample encodes. */
#include <stdio.h>
#include <string.h>
#include "samples.h" /* generated: sample_<message>() from the schema's samples */

static char out[1 << 16];

int main(void) {
    static const char name[] = "alipay.intl.acquiring.offline.demoQuery";
    const aop_function_desc_t *fn = aop_function_find(name, sizeof name - 1);
    if (AOP_FUNCTION_COUNT != 5 || fn != &aop_fn_offline_demo_query) {
        fprintf(stderr, "probe: %s is not in aop_functions[] (%d functions)\n", name, AOP_FUNCTION_COUNT);
        return 1;
    }
    static aop_offline_demo_query_request_t rq;
    sample_offline_demo_query_request(&rq);
    aop_error_t err;
    size_t n = 0;
    aop_status_t st = aop_encode(fn->request, &rq, "request", out, sizeof out, &n, &err);
    if (st != AOP_OK) {
        fprintf(stderr, "probe: the sample request does not encode: %s at %s\n", aop_status_name(st), err.path);
        return 1;
    }
    printf("%s %s %.*s\n", fn->name, fn->path, (int)n, out);
    /* the schema's request rules reach the new function */
    rq.body.amount.value = aop_str("0");
    st = aop_encode(fn->request, &rq, "request", out, sizeof out, &n, &err);
    if (st != AOP_E_AMOUNT_ZERO || strcmp(err.path, "request.body.amount.value") != 0) {
        fprintf(stderr, "probe: a zero amount gave %s at '%s'\n", aop_status_name(st), err.path);
        return 1;
    }
    rq.body.amount.value = aop_str("1");
    rq.body.demo_id = aop_str("");
    st = aop_validate(fn->request, &rq, "request", &err);
    if (st != AOP_E_EMPTY || strcmp(err.path, "request.body.demoId") != 0) {
        fprintf(stderr, "probe: an empty id gave %s at '%s'\n", aop_status_name(st), err.path);
        return 1;
    }
    if (fn->n_echo == 0 || !fn->amount || !fn->idempotency_key || fn->n_sensitive != 1 ||
        !aop_result_code_find(fn->codes, AOP_RC_ORDER_NOT_EXIST, strlen(AOP_RC_ORDER_NOT_EXIST))) {
        fprintf(stderr, "probe: the function's tables are incomplete\n");
        return 1;
    }
    return 0;
}
