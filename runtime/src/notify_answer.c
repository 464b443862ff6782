/* SPDX-License-Identifier: MIT */
/* Answering a notification (docs/protocol.md section 8) and telling notifications apart. The
 * answer's codes come from the notify function's table in the schema: SUCCESS, and its one F
 * code for a notification that could not be recorded. */
#include <string.h>

#include "aop/envelope.h"
#include "aop/util.h"
#include "notify_internal.h"

/* The code of the answer: SUCCESS, or the table's F code (a guess of schema/notify_pay.yaml). */
static const aop_result_code_t *answer_code(aop_notify_verdict_t verdict) {
    const aop_result_table_t *t = aop_fn_notify_pay.codes;
    for (unsigned i = 0; i < t->count; i++) {
        const aop_result_code_t *rc = t->by_code[i];
        if (verdict == AOP_NOTIFY_RECORDED ? strcmp(rc->code, AOP_RC_SUCCESS) == 0 : rc->status == 'F') return rc;
    }
    return NULL;
}

aop_status_t aop_notify_answer(aop_notify_receiver_t *r, const aop_notification_t *n, aop_notify_verdict_t verdict,
                               aop_buf_t *out, aop_error_t *err) {
    aop_error_clear(err);
    if (!r || !n || !out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    if (verdict != AOP_NOTIFY_RECORDED && verdict != AOP_NOTIFY_NOT_RECORDED)
        return aop_error_set(err, AOP_E_INVALID_ARG, "verdict", -1, "unknown verdict %d", (int)verdict);
    const aop_result_code_t *rc = answer_code(verdict);
    if (!rc)
        return aop_error_set(err, AOP_E_INTERNAL, NULL, -1, "the table of %s has no %s code", aop_fn_notify_pay.name,
                             verdict == AOP_NOTIFY_RECORDED ? "SUCCESS" : "F");
    aop_notify_pay_response_t rs;
    memset(&rs, 0, sizeof rs);
    aop_fill_echo(&aop_fn_notify_pay, n->request, &rs);
    char now[AOP_RFC3339_SIZE];
    aop_now_rfc3339(now);
    rs.head.resp_time = aop_str(now);
    if (n->request->head.sign_type.ptr) rs.head.sign_type = aop_str(aop_sign_type_name(r->sign_type));
    aop_result_info_t *ri = &rs.body.result_info;
    ri->result_status.value = rc->status == 'S' ? AOP_RESULT_STATUS_ENUM_S : AOP_RESULT_STATUS_ENUM_F;
    ri->result_code = aop_str(rc->code);
    ri->result_code_id = aop_str(rc->id);
    ri->result_msg = aop_str(verdict == AOP_NOTIFY_RECORDED ? "success"
                                                            : "the notification could not be recorded: send it again");
    /* the echoes are the notification's own values, so they hold by construction */
    aop_status_t st = aop_check_echo(&aop_fn_notify_pay, n->request, &rs, err);
    if (st == AOP_OK) st = aop_envelope_write("response", aop_fn_notify_pay.response, &rs, r->signer, out, NULL, err);
    return st;
}

bool aop_notification_same_delivery(const aop_notification_t *a, const aop_notification_t *b) {
    return a && b && aop_str_eq(a->signed_bytes, b->signed_bytes);
}

bool aop_notification_same_fact(const aop_notification_t *a, const aop_notification_t *b) {
    if (!a || !b) return false;
    const aop_notify_pay_request_body_t *x = &a->request->body, *y = &b->request->body;
    return aop_str_eq(x->merchant_id, y->merchant_id) && aop_str_eq(x->merchant_trans_id, y->merchant_trans_id) &&
           x->result_info.result_status.value == y->result_info.result_status.value &&
           aop_str_eq(x->result_info.result_code, y->result_info.result_code);
}
