/* SPDX-License-Identifier: MIT */
/* pay, query, cancel and refund: build the request from the options, call, report. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define CODE_MAX (AOP_OFFLINE_PAY_REQUEST_BODY_IDENTITY_CODE_MAX * 4 + 2)

/* The wallet code from standard input ('-'), so it stays out of ps and shell history. */
static int read_code(char *buf, size_t cap, aop_str_t *out) {
    size_t n = fread(buf, 1, cap, stdin);
    if (n == cap) {
        fprintf(stderr, "aop pay: the identity code on standard input is longer than the limit\n");
        return AOP_EXIT_USAGE;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    *out = aop_strn(buf, n);
    return 0;
}

/* prefix, the UTC time and 96 random bits: unique without coordination, sortable by time. */
static int new_id(const char *prefix, char out[48]) {
    char stamp[16], rnd[25];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    if (aop_random_chars(rnd, 24, "0123456789abcdef") != AOP_OK) {
        fprintf(stderr, "aop: no random bytes for a new id\n");
        return AOP_EXIT_CONFIG;
    }
    snprintf(out, 48, "%s%s%s", prefix, stamp, rnd);
    return 0;
}

static int need(const char *cmd, const char *value, const char *option) {
    if (value) return 0;
    fprintf(stderr, "aop %s: %s is required (see aop %s --help)\n", cmd, option, cmd);
    return AOP_EXIT_USAGE;
}

static aop_str_t opt(const char *s) { return s ? aop_str(s) : AOP_STR_NULL; }

int cmd_call(const char *cmd, const cli_opts_t *o) {
    static char code_buf[CODE_MAX];
    static char mtid[48], mrid[48];
    union {
        aop_offline_pay_request_t pay;
        aop_offline_pay_query_request_t query;
        aop_pay_cancel_request_t cancel;
        aop_refund_request_t refund;
    } rq;
    memset(&rq, 0, sizeof rq);
    const aop_function_desc_t *fn;
    cli_ids_t ids = {o->merchant_trans_id, o->merchant_refund_id};
    int rc = 0;
    if (!strcmp(cmd, "pay")) {
        fn = &aop_fn_offline_pay;
        rc = need(cmd, o->amount, "--amount");
        if (!rc) rc = need(cmd, o->currency, "--currency");
        if (!rc) rc = need(cmd, o->code, "--code");
        if (rc) return rc;
        aop_offline_pay_request_body_t *b = &rq.pay.body;
        if (!strcmp(o->code, "-")) {
            if ((rc = read_code(code_buf, sizeof code_buf, &b->identity_code)) != 0) return rc;
        } else {
            b->identity_code = aop_str(o->code);
        }
        b->product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
        b->code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
        b->order.order_amount.value = aop_str(o->amount);
        b->order.order_amount.currency = aop_str(o->currency);
        b->order.order_title = aop_str(o->title ? o->title : CLI_DEFAULT_TITLE);
        if (!ids.merchant_trans_id) {
            if ((rc = new_id("aop", mtid)) != 0) return rc;
            ids.merchant_trans_id = mtid;
        }
        b->merchant_trans_id = aop_str(ids.merchant_trans_id);
    } else if (!strcmp(cmd, "query") || !strcmp(cmd, "cancel")) {
        if (!o->merchant_trans_id && !o->acquirement_id) {
            fprintf(stderr, "aop %s: give --merchant-trans-id or --acquirement-id\n", cmd);
            return AOP_EXIT_USAGE;
        }
        bool query = !strcmp(cmd, "query");
        fn = query ? &aop_fn_offline_pay_query : &aop_fn_pay_cancel;
        aop_str_t *acq = query ? &rq.query.body.acquirement_id : &rq.cancel.body.acquirement_id;
        aop_str_t *mt = query ? &rq.query.body.merchant_trans_id : &rq.cancel.body.merchant_trans_id;
        *acq = opt(o->acquirement_id);
        *mt = opt(o->merchant_trans_id);
    } else {
        fn = &aop_fn_refund;
        rc = need(cmd, o->acquirement_id, "--acquirement-id");
        if (!rc) rc = need(cmd, o->amount, "--amount");
        if (!rc) rc = need(cmd, o->currency, "--currency");
        if (rc) return rc;
        aop_refund_request_body_t *b = &rq.refund.body;
        b->acquirement_id = aop_str(o->acquirement_id);
        b->refund_amount.value = aop_str(o->amount);
        b->refund_amount.currency = aop_str(o->currency);
        b->refund_reason = opt(o->reason);
        if (!ids.merchant_refund_id) {
            if ((rc = new_id("aopr", mrid)) != 0) return rc;
            ids.merchant_refund_id = mrid;
        }
        b->merchant_refund_id = aop_str(ids.merchant_refund_id);
    }

    /* Refuse bad input before any key is read or sandbox started: the body is all ours (the
     * client fills the head, and validates the whole request again). */
    aop_error_t err;
    if (fn->merchant) *(aop_str_t *)(void *)((char *)&rq + fn->merchant->offset) =
        aop_str(o->merchant_id ? o->merchant_id : CLI_DEFAULT_MERCHANT_ID);
    assert(fn->request->nfields == 2 && fn->request->fields[AOP_ROOT_BODY].kind == AOP_KIND_OBJECT);
    const aop_field_desc_t *body = &fn->request->fields[AOP_ROOT_BODY]; /* head, then body */
    if (aop_validate(body->sub, (const char *)&rq + body->offset, "request.body", &err) != AOP_OK) {
        fprintf(stderr, "aop %s: invalid input: %s\n", cmd, err.msg);
        return AOP_EXIT_USAGE;
    }
    if (ids.merchant_trans_id && !o->merchant_trans_id)
        fprintf(stderr, "aop %s: merchantTransId %s (reuse it with --merchant-trans-id to retry or query)\n",
                cmd, ids.merchant_trans_id);
    if (ids.merchant_refund_id && !o->merchant_refund_id)
        fprintf(stderr, "aop %s: merchantRefundId %s (reuse it with --merchant-refund-id to retry)\n", cmd,
                ids.merchant_refund_id);

    cli_env_t *env;
    aop_client_t *client;
    if ((rc = cli_env_open(o, &env, &client)) != 0) return rc;
    if (fn == &aop_fn_offline_pay || fn == &aop_fn_refund) {
        rc = cli_resolve(o, env, client, fn, &rq);
        cli_env_close(env);
        return rc;
    }
    aop_call_options_t opts;
    aop_call_options_init(&opts);
    if (o->timeout_s > 0) opts.deadline_ms = (long)(o->timeout_s * 1000.0 + 0.5);
    aop_result_t *res = NULL;
    aop_status_t st = aop_call(client, fn, &rq, &opts, &res, &err);
    if (st != AOP_OK) {
        fprintf(stderr, "aop %s: %s\n", cmd, err.msg);
        cli_env_close(env);
        return st == AOP_E_KEY_FORMAT || st == AOP_E_CONFIG ? AOP_EXIT_CONFIG : AOP_EXIT_USAGE;
    }
    rc = cli_report(o, fn, res, &ids, cli_env_is_sandbox(env));
    aop_result_free(res);
    cli_env_close(env);
    return rc;
}
