/* SPDX-License-Identifier: MIT */
/* pay, query, cancel and refund: build the request from the options, call, report. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "currency.h"

#define CODE_MAX (AOP_OFFLINE_PAY_REQUEST_BODY_IDENTITY_CODE_MAX * 4 + 2)

/* The wallet code from standard input ('-'), so it stays out of ps and shell history. */
static int read_code(char *buf, size_t cap, aop_str_t *out) {
    size_t n = fread(buf, 1, cap, stdin);
    if (n == cap)
        return cli_fail(AOP_EXIT_USAGE, AOP_E_TOO_LONG, "--code", "the identity code on standard input is longer "
                        "than the limit");
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
    if (aop_random_chars(rnd, 24, "0123456789abcdef") != AOP_OK)
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_CRYPTO, NULL, "no random bytes for a new id");
    snprintf(out, 48, "%s%s%s", prefix, stamp, rnd);
    return 0;
}

static int need(const char *cmd, const char *value, const char *option) {
    if (value) return 0;
    return cli_fail(AOP_EXIT_USAGE, AOP_E_MISSING, option, "%s is required (see aop %s --help)", option, cmd);
}

/* The currency as the till means it: a code of the ISO 4217 table (or one the person insists on). */
static int check_currency(const cli_opts_t *o) {
    if (cli_currency_find(o->currency) || o->allow_unknown_currency) return 0;
    char upper[4] = "";
    for (size_t i = 0; i < 3 && o->currency[i]; i++) upper[i] = (char)(o->currency[i] & ~0x20);
    if (strlen(o->currency) == 3 && cli_currency_find(upper))
        return cli_fail(AOP_EXIT_USAGE, AOP_E_BAD_CURRENCY, "--currency", "--currency %s: did you mean %s?",
                        o->currency, upper);
    return cli_fail(AOP_EXIT_USAGE, AOP_E_BAD_CURRENCY, "--currency",
                    "--currency %s is not an ISO 4217 currency this aop knows; give --allow-unknown-currency to send "
                    "it anyway", o->currency);
}

/* An amount written in major units ("1.00", "1,5") is the most likely slip at a till: the option
 * takes minor units, and the currency's exponent tells what was meant. */
static int check_amount(const cli_opts_t *o) {
    const char *a = o->amount;
    size_t point = strcspn(a, ".,");
    if (!a[point]) return 0;
    const cli_currency_t *c = cli_currency_find(o->currency);
    const char *frac = a + point + 1;
    size_t nfrac = strlen(frac);
    bool digits = point > 0 && strspn(a, "0123456789") == point && strspn(frac, "0123456789") == nfrac;
    if (c && digits && nfrac <= (size_t)c->exponent && point + (size_t)c->exponent < 20) {
        char minor[32];
        size_t m = 0;
        for (size_t i = 0; i < point; i++) minor[m++] = a[i];
        for (size_t i = 0; i < (size_t)c->exponent; i++) minor[m++] = i < nfrac ? frac[i] : '0';
        minor[m] = '\0';
        const char *lead = minor;
        while (lead[0] == '0' && lead[1]) lead++; /* 0.05 is 5, not 005 */
        return cli_fail(AOP_EXIT_USAGE, AOP_E_BAD_AMOUNT, "--amount", "--amount is in minor units: for %s %s, give "
                        "--amount %s", c->code, a, lead);
    }
    return cli_fail(AOP_EXIT_USAGE, AOP_E_BAD_AMOUNT, "--amount", "--amount is a whole number of minor units (100 is "
                    "USD 1.00), not '%s'", a);
}

/* Alipay's wallet codes are 16 to 24 digits (most often 18, starting 25 to 30); other wallets
 * differ, so another shape is only worth a warning. The code itself is never printed. */
static void warn_on_code_shape(aop_str_t code) {
    bool digits = code.len >= 16 && code.len <= 24;
    for (size_t i = 0; digits && i < code.len; i++) digits = code.ptr[i] >= '0' && code.ptr[i] <= '9';
    if (!digits && code.len) /* an empty one is refused as invalid input */
        fprintf(stderr, "aop pay: warning: the code (%zu characters) is not shaped like an Alipay wallet code (16 to "
                        "24 digits); it is sent as given\n", code.len);
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
        if (!rc) rc = check_currency(o);
        if (!rc) rc = check_amount(o);
        if (rc) return rc;
        aop_offline_pay_request_body_t *b = &rq.pay.body;
        if (!strcmp(o->code, "-")) {
            if ((rc = read_code(code_buf, sizeof code_buf, &b->identity_code)) != 0) return rc;
        } else {
            b->identity_code = aop_str(o->code);
        }
        warn_on_code_shape(b->identity_code);
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
        if (!o->merchant_trans_id && !o->acquirement_id)
            return cli_fail(AOP_EXIT_USAGE, AOP_E_ONE_OF_REQUIRED, "--merchant-trans-id",
                            "give --merchant-trans-id or --acquirement-id");
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
        if (!rc) rc = check_currency(o);
        if (!rc) rc = check_amount(o);
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
    if (aop_validate(body->sub, (const char *)&rq + body->offset, "request.body", &err) != AOP_OK)
        return cli_fail(AOP_EXIT_USAGE, err.code, err.path, "invalid input: %s", err.msg);

    cli_env_t *env;
    aop_client_t *client;
    if ((rc = cli_env_open(o, &env, &client)) != 0) return rc;
    if (fn == &aop_fn_offline_pay || fn == &aop_fn_refund) {
        cli_sale_t sale = {o->amount, o->currency, false, 0};
        const char *generated = fn == &aop_fn_refund ? (o->merchant_refund_id ? NULL : ids.merchant_refund_id)
                                                     : (o->merchant_trans_id ? NULL : ids.merchant_trans_id);
        rc = cli_resolve(o, env, client, fn, &rq, &sale, generated);
        cli_env_close(env);
        return rc;
    }
    aop_call_options_t opts;
    aop_call_options_init(&opts);
    if (o->timeout_s > 0) opts.deadline_ms = (long)(o->timeout_s * 1000.0 + 0.5);
    cli_catch_stop_signals();
    opts.stop_flag = (const volatile int *)&cli_stop;
    aop_result_t *res = NULL;
    aop_status_t st = aop_call(client, fn, &rq, &opts, &res, &err);
    if (st != AOP_OK) {
        cli_env_close(env);
        return cli_fail(st == AOP_E_KEY_FORMAT || st == AOP_E_CONFIG ? AOP_EXIT_CONFIG : AOP_EXIT_USAGE, st, err.path,
                        "%s", err.msg);
    }
    if (res->error == AOP_E_STOPPED) { /* a query changes nothing; a cancel may have left */
        fprintf(stderr, "aop %s: stopped by %s%s\n", cmd, cli_interrupt_name(),
                fn == &aop_fn_pay_cancel && res->maybe_sent ? ": the cancel may have been sent; see what became of the "
                                                              "payment with aop query" : "");
        aop_result_free(res);
        cli_env_close(env);
        return cli_interrupted_exit();
    }
    rc = cli_report(o, fn, res, &ids, cli_env_is_sandbox(env));
    aop_result_free(res);
    cli_env_close(env);
    return rc;
}
