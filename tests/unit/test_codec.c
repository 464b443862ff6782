/* SPDX-License-Identifier: MIT */
/* The generated codecs on real samples: the vendor's and the signed vectors decode, validate and
 * re-encode; docs/protocol.md section 7 sorts every deviation of a response into fail or
 * warning. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/envelope.h"
#include "aop/json_quote.h"
#include "aop/protocol.h"
#include "support.h"

static aop_json_tok_t toks[8192];
static unsigned scratch[8192];

typedef struct {
    aop_status_t st;
    aop_error_t err;
    aop_warnings_t w;
} outcome_t;

/* Reads body as an envelope and decodes its payload with d. body is modified in place. */
static outcome_t decode(char *body, const char *member, const aop_msg_desc_t *d, void *msg, bool strict) {
    outcome_t o;
    aop_warnings_clear(&o.w);
    aop_json_ws_t ws = {toks, scratch, 8192};
    aop_json_doc_t doc;
    aop_envelope_t env;
    o.st = aop_envelope_read(body, strlen(body), member, &ws, &doc, &env, &o.err);
    if (o.st == AOP_OK) o.st = aop_decode(d, &doc, env.payload_tok, body, msg, member, strict, &o.w, &o.err);
    return o;
}

static bool has_warning(const outcome_t *o, aop_status_t code, const char *path) {
    for (unsigned i = 0; i < o->w.count; i++)
        if (o->w.items[i].code == code && !strcmp(o->w.items[i].path, path)) return true;
    return false;
}

Test(codec, bench_request_decodes_strictly_and_round_trips) {
    char *body = aop_test_read("bench/pay-request.json", NULL);
    static aop_offline_pay_request_t m, again;
    outcome_t o = decode(body, "request", &aop_offline_pay_request_desc, &m, true);
    cr_assert_eq(o.st, AOP_OK, "%s at %s", o.err.msg, o.err.path);
    cr_assert(aop_str_eq_cstr(m.body.identity_code, "28763443825664394"));
    cr_assert(aop_str_eq_cstr(m.body.order.order_amount.value, "100"));
    cr_assert_eq(m.body.env_info.os_type.value, AOP_OS_TYPE_ENUM_IOS);
    cr_assert(aop_str_eq_cstr(m.body.extend_info,
                              "{\"huabeiInstallment\":{\"installmentPlan\":\"3\", \"installmentFeeSellerContribution\":\"100\"}}"));
    char out[4096], wrapped[4200];
    size_t n;
    aop_error_t err;
    cr_assert_eq(aop_offline_pay_request_encode(&m, out, sizeof out, &n, &err), AOP_OK);
    snprintf(wrapped, sizeof wrapped, "{\"request\":%.*s}", (int)n, out);
    o = decode(wrapped, "request", &aop_offline_pay_request_desc, &again, true);
    cr_assert_eq(o.st, AOP_OK);
    cr_assert(aop_equal(&aop_offline_pay_request_desc, &m, &again));
    free(body);
}

Test(codec, bench_response_decodes_without_warnings) {
    char *body = aop_test_read("bench/pay-response.json", NULL);
    static aop_offline_pay_response_t m;
    outcome_t o = decode(body, "response", &aop_offline_pay_response_desc, &m, false);
    cr_assert_eq(o.st, AOP_OK, "%s", o.err.msg);
    cr_assert_eq(o.w.count, 0, "first warning: %s", o.w.count ? o.w.items[0].path : "");
    cr_assert_eq(m.body.result_info.result_status.value, AOP_RESULT_STATUS_ENUM_S);
    cr_assert(aop_str_eq_cstr(m.body.acquirement_id, "2015032412007101547201351234"));
    cr_assert(m.body.has_conversion_rate && aop_str_eq_cstr(m.body.conversion_rate.rate, "6.1968"));
    cr_assert_eq(m.body.user_site.value, AOP_SITE_ENUM_ALIPAY_CN);
    free(body);
}

Test(codec, signed_vectors_verify_then_decode) {
    char *body = aop_test_read("pay-response.envelope.json", NULL);
    size_t len = strlen(body);
    aop_public_key_t *key;
    aop_error_t err;
    cr_assert_eq(aop_public_key_load_file(AOP_TEST_DATA "/gateway.spki.pem", &key, &err), AOP_OK);
    aop_json_ws_t ws = {toks, scratch, 8192};
    aop_json_doc_t doc;
    aop_envelope_t env;
    cr_assert_eq(aop_envelope_read(body, len, "response", &ws, &doc, &env, &err), AOP_OK);
    aop_verifier_t *verifier = NULL;
    cr_assert_eq(aop_verifier_new(key, AOP_SIGN_RSA2, &verifier, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(aop_envelope_verify(&env, verifier, &err), AOP_OK, "%s", err.msg);
    aop_verifier_free(verifier);
    static aop_offline_pay_response_t m;
    aop_warnings_t w;
    aop_warnings_clear(&w);
    cr_assert_eq(aop_offline_pay_response_decode(&doc, env.payload_tok, body, &m, &w, &err), AOP_OK);
    cr_assert_eq(w.count, 0);
    aop_public_key_free(key);
    free(body);
}

/* A valid pay S response with one change. */
#define RESP_HEAD "{\"response\":{\"head\":{\"version\":\"2.0.0\",\"function\":\"f\",\"clientId\":\"c\",\"respTime\":\"2001-07-04T12:08:58+05:30\",\"reqMsgId\":\"r\"},\"body\":{"
#define RI_S "\"resultInfo\":{\"resultStatus\":\"S\",\"resultCodeId\":\"00000000\",\"resultCode\":\"SUCCESS\"}"
#define SUCCESS_REST ",\"acquirementId\":\"A1\",\"merchantTransId\":\"M1\",\"orderAmount\":{\"currency\":\"USD\",\"value\":\"100\"},\"payAmount\":{\"currency\":\"USD\",\"value\":\"100\"},\"conversionRate\":{\"currencyPair\":\"USD/USD\",\"rate\":\"1\"},\"createTime\":\"2001-07-04T12:08:58Z\",\"userSite\":\"ALIPAY_CN\""

static outcome_t pay_response(const char *text, aop_offline_pay_response_t *m) {
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s", text);
    return decode(buf, "response", &aop_offline_pay_response_desc, m, false);
}

Test(codec, valid_response_has_no_warning) {
    static aop_offline_pay_response_t m;
    outcome_t o = pay_response(RESP_HEAD RI_S SUCCESS_REST "}}}", &m);
    cr_assert_eq(o.st, AOP_OK, "%s", o.err.msg);
    cr_assert_eq(o.w.count, 0, "%s", o.w.count ? o.w.items[0].path : "");
}

Test(codec, money_value_as_json_integer_is_accepted) {
    static aop_offline_pay_response_t m;
    outcome_t o = pay_response(RESP_HEAD RI_S ",\"acquirementId\":\"A1\",\"orderAmount\":{\"currency\":\"USD\",\"value\":100}}}}", &m);
    cr_assert_eq(o.st, AOP_OK);
    cr_assert(aop_str_eq_cstr(m.body.order_amount.value, "100"));
    cr_assert(!has_warning(&o, AOP_E_WRONG_TYPE, "response.body.orderAmount.value"));
}

Test(codec, cosmetic_deviations_are_warnings_and_the_outcome_stands) {
    static aop_offline_pay_response_t m;
    outcome_t o = pay_response(RESP_HEAD RI_S ",\"acquirementId\":\"A1\",\"createTime\":5,\"userSite\":\"MARS_PAY\","
                               "\"payAmount\":{\"currency\":\"usd\",\"value\":\"01\"},\"surprise\":{\"x\":[1,2]},"
                               "\"userId\":\"" "12345678901234567890123456789012345678901234567890123456789012345" "\"}}}", &m);
    cr_assert_eq(o.st, AOP_OK, "%s", o.err.msg);
    cr_assert(has_warning(&o, AOP_E_WRONG_TYPE, "response.body.createTime"));
    cr_assert(has_warning(&o, AOP_E_BAD_ENUM, "response.body.userSite"));
    cr_assert(aop_str_eq_cstr(m.body.user_site.text, "MARS_PAY"), "unknown enum kept as text");
    cr_assert(has_warning(&o, AOP_E_BAD_CURRENCY, "response.body.payAmount.currency"));
    cr_assert(has_warning(&o, AOP_E_UNKNOWN_MEMBER, "response.body.surprise"));
    cr_assert(has_warning(&o, AOP_E_TOO_LONG, "response.body.userId"));
    cr_assert(has_warning(&o, AOP_E_MISSING, "response.body.orderAmount"), "missing conditional field");
    cr_assert_eq(m.body.result_info.result_status.value, AOP_RESULT_STATUS_ENUM_S);
}

Test(codec, outcome_deciding_violations_fail_the_response) {
    static aop_offline_pay_response_t m;
    static const struct {
        const char *body;
        aop_status_t code;
        const char *path;
    } cases[] = {
        {RESP_HEAD "\"acquirementId\":\"A1\"}}}", AOP_E_MISSING, "response.body.resultInfo"},
        {RESP_HEAD "\"resultInfo\":\"S\",\"acquirementId\":\"A1\"}}}", AOP_E_MISSING, "response.body.resultInfo"},
        {RESP_HEAD "\"resultInfo\":{\"resultStatus\":\"X\",\"resultCode\":\"SUCCESS\"}}}}", AOP_E_BAD_ENUM,
         "response.body.resultInfo.resultStatus"},
        {RESP_HEAD "\"resultInfo\":{\"resultStatus\":1,\"resultCode\":\"SUCCESS\"}}}}", AOP_E_MISSING,
         "response.body.resultInfo.resultStatus"},
        {RESP_HEAD "\"resultInfo\":{\"resultStatus\":\"F\"}}}}", AOP_E_MISSING, "response.body.resultInfo.resultCode"},
        {RESP_HEAD "\"resultInfo\":{\"resultStatus\":\"F\",\"resultCode\":null}}}}", AOP_E_MISSING,
         "response.body.resultInfo.resultCode"},
        {RESP_HEAD RI_S "}}}", AOP_E_MISSING, "response.body.acquirementId"},
        {RESP_HEAD RI_S ",\"acquirementId\":7}}}", AOP_E_MISSING, "response.body.acquirementId"},
        {"{\"response\":{\"head\":{}}}", AOP_E_MISSING, "response.body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome_t o = pay_response(cases[i].body, &m);
        cr_expect_eq(o.st, cases[i].code, "case %zu: %s", i, aop_status_name(o.st));
        cr_expect_str_eq(o.err.path, cases[i].path, "case %zu: %s", i, o.err.path);
    }
}

Test(codec, pay_f_without_acquirement_id_decides) {
    static aop_offline_pay_response_t m;
    outcome_t o = pay_response(RESP_HEAD "\"resultInfo\":{\"resultStatus\":\"F\",\"resultCode\":\"RISK_REJECT\"}}}}", &m);
    cr_assert_eq(o.st, AOP_OK);
}

Test(codec, requests_are_strict) {
    static aop_offline_pay_query_request_t m;
    static char body[] = "{\"request\":{\"head\":{\"version\":\"2.0.0\",\"function\":\"f\",\"clientId\":\"c\","
                         "\"reqTime\":\"2001-07-04T12:08:56+05:30\",\"reqMsgId\":\"r\"},"
                         "\"body\":{\"merchantId\":\"m\",\"acquirementId\":5}}}";
    outcome_t o = decode(body, "request", &aop_offline_pay_query_request_desc, &m, true);
    cr_assert_eq(o.st, AOP_E_WRONG_TYPE);
    cr_assert_str_eq(o.err.path, "request.body.acquirementId");
    cr_assert_gt(o.err.offset, 0);
    static char body2[] = "{\"request\":{\"head\":{\"version\":\"2.0.0\",\"function\":\"f\",\"clientId\":\"c\","
                          "\"reqTime\":\"2001-07-04T12:08:56+05:30\",\"reqMsgId\":\"r\"},"
                          "\"body\":{\"merchantId\":\"m\",\"extra\":1,\"acquirementId\":\"a\"}}}";
    o = decode(body2, "request", &aop_offline_pay_query_request_desc, &m, true);
    cr_assert_eq(o.st, AOP_E_UNKNOWN_MEMBER);
    cr_assert_str_eq(o.err.path, "request.body.extra");
}

/* A request with an escaped control character, an empty optional id, or a zero amount is
 * refused naming the field; the same in a response only warns. */
Test(codec, request_rules_are_strict_and_only_warn_in_responses) {
#define RQ_HEAD "{\"request\":{\"head\":{\"version\":\"2.0.0\",\"function\":\"f\",\"clientId\":\"c\"," \
                "\"reqTime\":\"2001-07-04T12:08:56+05:30\",\"reqMsgId\":\"r\"},\"body\":"
    static aop_refund_request_t rq;
    static const struct {
        const char *body;
        aop_status_t st;
        const char *path;
    } bad[] = {
        {"{\"merchantId\":\"m\",\"acquirementId\":\"a\",\"merchantRefundId\":\"r\",\"refundReason\":\"a\\u0007b\","
         "\"refundAmount\":{\"currency\":\"USD\",\"value\":\"1\"}}",
         AOP_E_CONTROL_CHAR, "request.body.refundReason"},
        {"{\"merchantId\":\"m\",\"acquirementId\":\"a\",\"merchantRefundId\":\"r\",\"refundReason\":\"a\\u009bb\","
         "\"refundAmount\":{\"currency\":\"USD\",\"value\":\"1\"}}",
         AOP_E_CONTROL_CHAR, "request.body.refundReason"},
        {"{\"merchantId\":\"m\",\"acquirementId\":\"a\",\"merchantRefundId\":\"r\",\"refundReason\":\"a\\u007f\","
         "\"refundAmount\":{\"currency\":\"USD\",\"value\":\"1\"}}",
         AOP_E_CONTROL_CHAR, "request.body.refundReason"},
        {"{\"merchantId\":\"m\",\"acquirementId\":\"a\",\"merchantRefundId\":\"r\","
         "\"refundAmount\":{\"currency\":\"USD\",\"value\":\"0\"}}",
         AOP_E_AMOUNT_ZERO, "request.body.refundAmount.value"},
        {"{\"merchantId\":\"m\",\"acquirementId\":\"\",\"merchantRefundId\":\"r\","
         "\"refundAmount\":{\"currency\":\"USD\",\"value\":\"1\"}}",
         AOP_E_EMPTY, "request.body.acquirementId"},
        /* U+00A0, the first character after C1, is text */
        {"{\"merchantId\":\"m\",\"acquirementId\":\"a\",\"merchantRefundId\":\"r\",\"refundReason\":\"a\\u00a0b\","
         "\"refundAmount\":{\"currency\":\"USD\",\"value\":\"1\"}}",
         AOP_OK, ""},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        static char buf[2048];
        snprintf(buf, sizeof buf, RQ_HEAD "%s}}", bad[i].body);
        outcome_t o = decode(buf, "request", &aop_refund_request_desc, &rq, true);
        cr_assert_eq(o.st, bad[i].st, "%u: %s at %s", i, aop_status_name(o.st), o.err.path);
        cr_assert_str_eq(o.err.path, bad[i].path, "%u", i);
    }
    /* in a response: a warning, and the outcome stands (a zero amount is valid) */
    static aop_offline_pay_response_t m;
    outcome_t o = pay_response(RESP_HEAD RI_S ",\"acquirementId\":\"A1\",\"userLoginId\":\"c\\u0001*\","
                               "\"userId\":\"\",\"payAmount\":{\"currency\":\"USD\",\"value\":\"0\"}}}}", &m);
    cr_assert_eq(o.st, AOP_OK, "%s", o.err.msg);
    cr_assert(has_warning(&o, AOP_E_CONTROL_CHAR, "response.body.userLoginId"));
    cr_assert(has_warning(&o, AOP_E_EMPTY, "response.body.userId"));
    cr_assert(!has_warning(&o, AOP_E_AMOUNT_ZERO, "response.body.payAmount.value"));
    cr_assert_eq(m.body.result_info.result_status.value, AOP_RESULT_STATUS_ENUM_S);
#undef RQ_HEAD
}

Test(codec, escaped_keys_and_values_decode) {
    static aop_offline_pay_response_t m;
    outcome_t o = pay_response(RESP_HEAD RI_S ",\"acquirement\\u0049d\":\"A\\u00e9\\ud83d\\ude00\"}}}", &m);
    cr_assert_eq(o.st, AOP_OK, "%s", o.err.msg);
    cr_assert(aop_str_eq_cstr(m.body.acquirement_id, "A\xc3\xa9\xf0\x9f\x98\x80"));
}

Test(codec, encode_reports_the_size_it_needs) {
    char *body = aop_test_read("bench/pay-request.json", NULL);
    static aop_offline_pay_request_t m;
    outcome_t o = decode(body, "request", &aop_offline_pay_request_desc, &m, true);
    cr_assert_eq(o.st, AOP_OK);
    char small[100], big[4096];
    size_t need = 0, got = 0;
    aop_error_t err;
    cr_assert_eq(aop_offline_pay_request_encode(&m, small, sizeof small, &need, &err), AOP_E_BUFFER_TOO_SMALL);
    cr_assert(strstr(err.msg, "needs"));
    cr_assert_eq(aop_offline_pay_request_encode(&m, big, need, &got, &err), AOP_OK);
    cr_assert_eq(got, need);
    cr_assert_eq(aop_offline_pay_request_encode(&m, big, need - 1, &got, &err), AOP_E_BUFFER_TOO_SMALL);
    free(body);
}

Test(codec, result_code_tables) {
    cr_assert_eq(aop_fn_offline_pay.codes->count, 33);
    const aop_result_code_t *c = aop_result_code_find(aop_fn_offline_pay.codes, "PAYMENT_IN_PROCESS", 18);
    cr_assert(c && c->status == 'U' && !strcmp(c->id, "12005124"));
    c = aop_result_code_find_id(aop_fn_offline_pay.codes, "00000025", 8);
    cr_assert(c && !strcmp(c->code, "REPEAT_REQ_INCONSISTENT"));
    c = aop_result_code_find(aop_fn_offline_pay.codes, "QUERY_CONTRACT_VALUE_NULL", 25);
    cr_assert(c && c->id == NULL && c->status == 'F');
    cr_assert_null(aop_result_code_find(aop_fn_offline_pay.codes, "REFUND_AMOUNT_EXCEED", 20));
    cr_assert_not_null(aop_result_code_find(aop_fn_refund.codes, "REFUND_AMOUNT_EXCEED", 20));
    cr_assert_eq(aop_function_find("alipay.intl.acquiring.common.refund", 35), &aop_fn_refund);
    cr_assert_str_eq(aop_fn_refund.path, "/alipay/intl/acquiring/common/grefund.htm");
}

/* ---- the envelope writer's two steps and its layout ---------------------------------------- */

Test(codec, envelope_layout_locates_payload_and_signature_and_seal_matches_write) {
    char *body = aop_test_read("bench/pay-request.json", NULL);
    static aop_offline_pay_request_t m;
    cr_assert_eq(decode(body, "request", &aop_offline_pay_request_desc, &m, true).st, AOP_OK);
    aop_error_t err;
    aop_private_key_t *priv = NULL;
    aop_public_key_t *pub = NULL;
    cr_assert_eq(aop_private_key_load_file(aop_test_private_key("gateway.pkcs8.pem"), NULL, &priv, &err), AOP_OK,
                 "%s", err.msg);
    cr_assert_eq(aop_public_key_load_file(AOP_TEST_DATA "/gateway.spki.pem", &pub, &err), AOP_OK, "%s", err.msg);
    aop_signer_t *signer = NULL;
    aop_verifier_t *verifier = NULL;
    cr_assert_eq(aop_signer_new(priv, AOP_SIGN_RSA2, &signer, &err), AOP_OK);
    cr_assert_eq(aop_verifier_new(pub, AOP_SIGN_RSA2, &verifier, &err), AOP_OK);

    aop_buf_t env = {0}, payload = {0}, sealed = {0};
    aop_envelope_layout_t lay, lay2;
    cr_assert_eq(aop_envelope_write("request", &aop_offline_pay_request_desc, &m, signer, &env, &lay, &err), AOP_OK);
    /* {"request":PAYLOAD,"signature":"SIG"} exactly, by the layout */
    cr_assert_eq(lay.payload_off, strlen("{\"request\":"));
    cr_assert_eq(memcmp(env.data, "{\"request\":", lay.payload_off), 0);
    cr_assert_eq(env.data[lay.payload_off], '{');
    cr_assert_eq(env.data[lay.payload_off + lay.payload_len - 1], '}');
    cr_assert_eq(lay.sig_off, lay.payload_off + lay.payload_len + strlen(",\"signature\":\""));
    cr_assert_eq(lay.sig_off + lay.sig_len + 2, env.len);
    cr_assert_eq(memcmp(env.data + lay.sig_off + lay.sig_len, "\"}", 2), 0);
    cr_assert_eq(aop_verifier_verify(verifier, env.data + lay.payload_off, lay.payload_len, env.data + lay.sig_off,
                                     lay.sig_len, &err),
                 AOP_OK, "%s", err.msg);

    /* encode gives the payload write signed; seal around it gives write's envelope (RSA PKCS#1
     * v1.5 signatures are deterministic) */
    cr_assert_eq(aop_envelope_encode("request", &aop_offline_pay_request_desc, &m, &payload, &err), AOP_OK);
    cr_assert_eq(payload.len, lay.payload_len);
    cr_assert_eq(memcmp(payload.data, env.data + lay.payload_off, payload.len), 0);
    cr_assert_eq(aop_envelope_seal("request", payload.data, payload.len, signer, &sealed, &lay2, &err), AOP_OK);
    cr_assert_eq(sealed.len, env.len);
    cr_assert_eq(memcmp(sealed.data, env.data, env.len), 0);
    cr_assert_eq(memcmp(&lay, &lay2, sizeof lay), 0);

    /* seal signs the bytes as given: an edited payload verifies, the original signature does not */
    payload.data[payload.len - 2] = ' ';
    cr_assert_eq(aop_envelope_seal("request", payload.data, payload.len, signer, &sealed, &lay2, &err), AOP_OK);
    cr_assert_eq(aop_verifier_verify(verifier, sealed.data + lay2.payload_off, lay2.payload_len,
                                     sealed.data + lay2.sig_off, lay2.sig_len, &err),
                 AOP_OK);
    cr_assert_neq(aop_verifier_verify(verifier, sealed.data + lay2.payload_off, lay2.payload_len,
                                      env.data + lay.sig_off, lay.sig_len, &err),
                  AOP_OK);
    aop_buf_free(&env);
    aop_buf_free(&payload);
    aop_buf_free(&sealed);
    aop_signer_free(signer);
    aop_verifier_free(verifier);
    aop_private_key_free(priv);
    aop_public_key_free(pub);
    free(body);
}

/* ---- the one JSON string escaper ------------------------------------------------------------ */

static char *quoted(const char *s, size_t n) {
    static char out[512];
    size_t len = aop_json_quote(s, n, out, sizeof out - 1);
    cr_assert_lt(len, sizeof out);
    out[len] = '\0';
    return out;
}

Test(codec, json_quote_escapes_json_and_del) {
    cr_assert_str_eq(quoted("a\"b\\c\n\x01\x7f", 8), "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
    cr_assert_str_eq(quoted("caf\xc3\xa9", 5), "\"caf\xc3\xa9\""); /* UTF-8 stays as it is */
    /* DEL at every position of strings long enough for the word-at-a-time scan, after bytes that
     * end UTF-8 sequences (0xBF) and make carries likely; it reads back as the same bytes */
    for (size_t n = 8; n <= 24; n++) {
        for (size_t at = 0; at < n; at++) {
            char s[32], expect[64];
            memset(s, 'x', n);
            if (at > 0) s[at - 1] = (char)0xBF;
            s[at] = 0x7F;
            char *q = quoted(s, n);
            size_t ql = strlen(q);
            cr_assert_eq(ql, n + 5 + 2, "n %zu at %zu: %s", n, at, q);
            snprintf(expect, sizeof expect, "\\u007f");
            cr_assert_eq(memcmp(q + 1 + at, expect, 6), 0, "n %zu at %zu: %s", n, at, q);
            memmove(q, q + 1, ql - 2); /* the content, for the unescaper */
            cr_assert_eq(aop_json_unescape(q, ql - 2), n);
            cr_assert_eq(memcmp(q, s, n), 0, "n %zu at %zu", n, at);
        }
    }
    /* like snprintf: the whole length even when cap is short, and nothing written past cap */
    char small[4] = {'#', '#', '#', '#'};
    cr_assert_eq(aop_json_quote("\x7f", 1, small, 3), 8);
    cr_assert_eq(small[0], '"');
    cr_assert_eq(small[3], '#');
}

Test(codec, json_fquote_writes_null_and_long_strings) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    char big[3000];
    memset(big, 'y', sizeof big);
    big[1500] = 0x7F;
    cr_assert_eq(aop_json_fquote(f, NULL, 0), 0);
    cr_assert_eq(aop_json_fquote(f, big, sizeof big), 0); /* past the escaper's local buffer */
    fclose(f);
    cr_assert_eq(len, 4 + sizeof big + 5 + 2);
    cr_assert_eq(memcmp(text, "null\"yy", 7), 0);
    cr_assert_eq(memcmp(text + 4 + 1 + 1500, "\\u007f", 6), 0);
    free(text);
}

/* For a reader, every output is valid JSON a terminal cannot be steered by: C1 controls escaped,
 * bytes that are no UTF-8 replaced; valid text (accents included) is kept as it is. */
Test(codec, json_fquote_escapes_c1_and_replaces_invalid_utf8) {
    static const struct {
        const char *in;
        size_t n;
        const char *want;
    } cases[] = {
        {"a\xc2\x9b" "31mb", 7, "\"a\\u009b31mb\""},          /* U+009B, the C1 CSI */
        {"\xc2\x85", 2, "\"\\u0085\""},                       /* U+0085 NEL */
        {"caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\""}, /* kept */
        {"x\xff" "y", 3, "\"x\\ufffdy\""},                   /* not UTF-8 */
        {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},                /* overlong '/' */
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},    /* a surrogate */
        {"q\"\x1b\xc2\xa0", 5, "\"q\\\"\\u001b\xc2\xa0\""},   /* ESC escaped; NBSP kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        cr_assert_eq(aop_json_fquote(f, cases[i].in, cases[i].n), 0);
        fclose(f);
        cr_expect_str_eq(text, cases[i].want, "case %zu", i);
        free(text);
    }
}
