/* SPDX-License-Identifier: MIT */
/* Receiving and answering Alipay's payment notifications (aop/notify.h, docs/protocol.md section
 * 8): the signature over the exact bytes, every rule of the deciding members and the warnings of
 * the rest, the head's addressee and time window, forged and unsigned bodies, duplicates, the
 * signed answers, and the configuration. Notifications are signed here with the gateway's test
 * key through the runtime's envelope writer, as the sandbox signs them. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/aop.h"
#include "aop/envelope.h"
#include "aop/signer.h"
#include "mem_store.h"
#include "support.h"

#define DATA AOP_TEST_DATA
#define CLIENT "211020000000000000044"
#define FN "alipay.intl.acquiring.offline.notify.pay"
/* 2024-05-01T12:00:00+08:00 = 2024-05-01T04:00:00Z */
#define REQ_TIME "2024-05-01T12:00:00+08:00"
#define REQ_TIME_MS 1714536000000LL

static aop_private_key_t *gateway_priv, *merchant_priv;
static aop_public_key_t *gateway_pub, *merchant_pub;
static aop_notify_receiver_t *rx;

static void load_keys(void) {
    aop_error_t err;
    cr_assert_eq(aop_private_key_load_file(aop_test_private_key("gateway.pkcs8.pem"), NULL, &gateway_priv, &err), AOP_OK);
    cr_assert_eq(aop_private_key_load_file(aop_test_private_key("merchant.pkcs8.pem"), NULL, &merchant_priv, &err), AOP_OK);
    cr_assert_eq(aop_public_key_load_file(DATA "/gateway.spki.pem", &gateway_pub, &err), AOP_OK);
    cr_assert_eq(aop_public_key_load_file(DATA "/merchant.spki.pem", &merchant_pub, &err), AOP_OK);
}

static aop_notify_config_t config(void) {
    aop_notify_config_t cfg;
    aop_notify_config_init(&cfg);
    cfg.client_id = CLIENT;
    cfg.alipay_key = gateway_pub;
    cfg.merchant_key = merchant_priv;
    return cfg;
}

static void setup(void) {
    load_keys();
    aop_notify_config_t cfg = config();
    aop_error_t err;
    cr_assert_eq(aop_notify_receiver_new(&cfg, &rx, &err), AOP_OK, "%s", err.msg);
}

static void teardown(void) {
    aop_notify_receiver_free(rx);
    aop_private_key_free(gateway_priv);
    aop_private_key_free(merchant_priv);
    aop_public_key_free(gateway_pub);
    aop_public_key_free(merchant_pub);
}

TestSuite(notify, .init = setup, .fini = teardown);

/* ---- building signed notifications ------------------------------------------------------------ */

static const char head_fmt[] = "{\"version\":\"2.0.0\",\"function\":\"%s\",\"clientId\":\"%s\",\"reqTime\":\"%s\","
                               "\"reqMsgId\":\"%s\"}";
static const char success_body[] =
    "{\"resultInfo\":{\"resultStatus\":\"S\",\"resultCodeId\":\"00000000\",\"resultCode\":\"SUCCESS\","
    "\"resultMsg\":\"success\"},\"acquirementId\":\"2015032412007101547201351234\","
    "\"merchantTransId\":\"m-notify-1\",\"orderAmount\":{\"currency\":\"USD\",\"value\":\"100\"},"
    "\"payAmount\":{\"currency\":\"USD\",\"value\":\"100\"},\"conversionRate\":{\"currencyPair\":\"USD/USD\",\"rate\":\"1\"},"
    "\"paymentTime\":\"2024-05-01T11:59:58+08:00\"}";

/* {"head":<head>,"body":<body>} with the given head values. */
static char *payload_of(const char *fn, const char *client, const char *req_time, const char *msg_id, const char *body) {
    char head[1024];
    snprintf(head, sizeof head, head_fmt, fn, client, req_time, msg_id);
    size_t n = strlen(head) + strlen(body) + 32;
    char *p = malloc(n);
    cr_assert_not_null(p);
    snprintf(p, n, "{\"head\":%s,\"body\":%s}", head, body);
    return p;
}

static char *payload(const char *body) { return payload_of(FN, CLIENT, REQ_TIME, "msg-1", body); }

/* The envelope around payload's bytes as they are, signed with key (the gateway's: Alipay's). */
static char *seal_with(const aop_private_key_t *key, const char *p) {
    aop_signer_t *signer = NULL;
    aop_error_t err;
    cr_assert_eq(aop_signer_new(key, AOP_SIGN_RSA2, &signer, &err), AOP_OK);
    aop_buf_t out = {0};
    cr_assert_eq(aop_envelope_seal("request", p, strlen(p), signer, &out, NULL, &err), AOP_OK, "%s", err.msg);
    aop_signer_free(signer);
    cr_assert_eq(aop_buf_append(&out, "", 1), AOP_OK);
    return out.data;
}

static char *seal(const char *p) { return seal_with(gateway_priv, p); }

/* Receives body at the reqTime of the notifications built here (plus skew_ms). */
static aop_status_t receive_at(const char *body, int64_t received_ms, aop_notification_t **n, aop_error_t *err) {
    return aop_notify_receive(rx, body, strlen(body), received_ms, n, err);
}

static aop_notification_t *receive_ok(const char *body) {
    aop_notification_t *n = NULL;
    aop_error_t err;
    aop_status_t st = receive_at(body, REQ_TIME_MS + 2000, &n, &err);
    cr_assert_eq(st, AOP_OK, "%s: %s at %s", aop_status_name(st), err.msg, err.path);
    cr_assert_not_null(n);
    return n;
}

/* A signed notification of body that is refused with want at path. */
static void expect_refused(const char *body, aop_status_t want, const char *path) {
    char *p = payload(body), *b = seal(p);
    aop_notification_t *n = (aop_notification_t *)1;
    aop_error_t err;
    aop_status_t st = receive_at(b, REQ_TIME_MS, &n, &err);
    cr_expect_eq(st, want, "%s: got %s (%s at %s), expected %s at %s", body, aop_status_name(st), err.msg, err.path,
                 aop_status_name(want), path);
    cr_expect_str_eq(err.path, path, "%s", body);
    cr_expect_null(n);
    free(p);
    free(b);
}

/* text with the first occurrence of old replaced by other (same length not required). */
static char *swap_payload(const char *text, const char *old, const char *other) {
    const char *at = strstr(text, old);
    cr_assert_not_null(at, "%s", old);
    size_t n = strlen(text) - strlen(old) + strlen(other) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - text), text, other, at + strlen(old));
    return s;
}

/* The success body with the first occurrence of old replaced by new. */
static char *success_with(const char *old, const char *new_) { return swap_payload(success_body, old, new_); }

/* A reqMsgId longer than its 64 characters. */
#define LONG_MSG_ID "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
_Static_assert(sizeof LONG_MSG_ID - 1 == 70, "past the schema's 64");

static bool has_warning(const aop_notification_t *n, aop_status_t code, const char *path) {
    for (unsigned i = 0; i < n->warnings.count; i++)
        if (n->warnings.items[i].code == code && strcmp(n->warnings.items[i].path, path) == 0) return true;
    return false;
}

/* ---- a notification that holds ------------------------------------------------------------------ */

Test(notify, a_signed_success_is_received_with_its_exact_bytes) {
    char *p = payload(success_body), *b = seal(p);
    aop_notification_t *n = receive_ok(b);
    cr_assert_eq(n->status, 'S');
    cr_assert_eq(n->warnings.count, 0, "first warning at %s", n->warnings.count ? n->warnings.items[0].path : "");
    cr_assert_eq(n->req_time_ms, REQ_TIME_MS);
    cr_assert_eq(n->received_ms, REQ_TIME_MS + 2000);
    /* the body as received, and within it the signed request object, byte for byte */
    cr_assert_eq(n->body.len, strlen(b));
    cr_assert_eq(memcmp(n->body.ptr, b, n->body.len), 0);
    cr_assert_eq(n->signed_bytes.len, strlen(p));
    cr_assert_eq(memcmp(n->signed_bytes.ptr, p, strlen(p)), 0);
    cr_assert(n->signed_bytes.ptr >= n->body.ptr && n->signed_bytes.ptr + n->signed_bytes.len <= n->body.ptr + n->body.len);
    const aop_notify_pay_request_body_t *rb = &n->request->body;
    cr_assert(aop_str_eq_cstr(rb->merchant_trans_id, "m-notify-1"));
    cr_assert(aop_str_eq_cstr(rb->acquirement_id, "2015032412007101547201351234"));
    cr_assert(rb->has_order_amount && aop_str_eq_cstr(rb->order_amount.value, "100"));
    cr_assert(aop_str_eq_cstr(rb->order_amount.currency, "USD"));
    cr_assert_null(rb->merchant_id.ptr, "absent from the 2.0.0 body");
    cr_assert(aop_str_eq_cstr(n->request->head.req_msg_id, "msg-1"));
    aop_notification_free(n);
    free(p);
    free(b);
}

Test(notify, a_failure_needs_no_acquirement_id_and_unknown_decides_nothing) {
    static const struct {
        const char *body;
        char status;
    } cases[] = {
        {"{\"resultInfo\":{\"resultStatus\":\"F\",\"resultCode\":\"USER_BALANCE_NOT_ENOUGH\"},\"merchantTransId\":\"m-2\"}", 'F'},
        {"{\"resultInfo\":{\"resultStatus\":\"U\",\"resultCode\":\"UNKNOWN_EXCEPTION\"},\"merchantTransId\":\"m-3\"}", 'U'},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = payload(cases[i].body), *b = seal(p);
        aop_notification_t *n = receive_ok(b);
        cr_expect_eq(n->status, cases[i].status);
        cr_expect_null(n->request->body.acquirement_id.ptr);
        cr_expect(!n->request->body.has_order_amount);
        aop_notification_free(n);
        free(p);
        free(b);
    }
}

/* ---- the signature: exact bytes, forged, unsigned ------------------------------------------------ */

Test(notify, the_signature_covers_the_exact_bytes) {
    char *p = payload(success_body), *b = seal(p);
    /* the same values serialised again: a space, the members reordered, a character escaped */
    char *spaced = swap_payload(b, "{\"head\":", "{ \"head\":");
    char *reordered_p = malloc(strlen(p) + 1);
    const char *body_at = strstr(p, ",\"body\":");
    snprintf(reordered_p, strlen(p) + 1, "{%.*s,%.*s}", (int)(strlen(body_at) - 2), body_at + 1, (int)(body_at - p - 1),
             p + 1);
    char *reordered = swap_payload(b, p, reordered_p);
    char *slash = swap_payload(b, "\"msg-1\"", "\"msg\\u002d1\"");
    const char *variants[] = {spaced, reordered, slash};
    for (unsigned i = 0; i < 3; i++) {
        aop_notification_t *n = (aop_notification_t *)1;
        aop_error_t err;
        aop_status_t st = receive_at(variants[i], REQ_TIME_MS, &n, &err);
        cr_expect_eq(st, AOP_E_SIGNATURE_INVALID, "variant %u: %s (%s)", i, aop_status_name(st), err.msg);
        cr_expect_null(n);
    }
    /* the original still verifies: the variants differ only in their bytes */
    aop_notification_free(receive_ok(b));
    free(spaced);
    free(reordered_p);
    free(reordered);
    free(slash);
    free(p);
    free(b);
}

Test(notify, forged_and_unsigned_bodies_are_refused_before_decoding) {
    /* garbage in every field: the signature is judged first, so the answer is about it */
    char *p = payload("{\"resultInfo\":{\"resultStatus\":\"?\"},\"merchantTransId\":17}");
    char *forged = seal_with(merchant_priv, p); /* a key that is not Alipay's */
    char *good = seal(p);
    char *unsigned_ = malloc(strlen(p) + 32);
    sprintf(unsigned_, "{\"request\":%s}", p);
    char *empty = malloc(strlen(p) + 48);
    sprintf(empty, "{\"request\":%s,\"signature\":\"\"}", p);
    char *number = malloc(strlen(p) + 48);
    sprintf(number, "{\"request\":%s,\"signature\":42}", p);
    struct {
        const char *body;
        aop_status_t want;
    } cases[] = {{forged, AOP_E_SIGNATURE_INVALID}, {unsigned_, AOP_E_SIGNATURE_MISSING},
                 {empty, AOP_E_SIGNATURE_MISSING}, {number, AOP_E_ENVELOPE},
                 {"{\"response\":{}}", AOP_E_ENVELOPE}, {"not json", AOP_E_JSON_NUMBER}};
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aop_notification_t *n = (aop_notification_t *)1;
        aop_error_t err;
        aop_status_t st = receive_at(cases[i].body, REQ_TIME_MS, &n, &err);
        cr_expect_eq(st, cases[i].want, "case %u: %s (%s)", i, aop_status_name(st), err.msg);
        cr_expect_null(n);
    }
    /* the same garbage, correctly signed, is refused for its fields */
    aop_notification_t *n = NULL;
    aop_error_t err;
    cr_expect_eq(receive_at(good, REQ_TIME_MS, &n, &err), AOP_E_WRONG_TYPE, "%s", err.msg);
    cr_expect_str_eq(err.path, "request.body.merchantTransId");
    free(p);
    free(forged);
    free(good);
    free(unsigned_);
    free(empty);
    free(number);
}

Test(notify, a_body_too_large_is_refused_unread) {
    size_t len = AOP_JSON_MAX_BODY + 1;
    char *big = malloc(len);
    memset(big, ' ', len);
    aop_notification_t *n = (aop_notification_t *)1;
    aop_error_t err;
    cr_assert_eq(aop_notify_receive(rx, big, len, 0, &n, &err), AOP_E_JSON_TOO_LARGE);
    cr_assert_null(n);
    free(big);
}

/* ---- the deciding members: every rule fails the notification ------------------------------------- */

Test(notify, each_rule_of_a_deciding_member_refuses_it) {
    char long_id[80];
    memset(long_id, '7', 65);
    long_id[65] = '\0';
    char quoted_long[100];
    snprintf(quoted_long, sizeof quoted_long, "\"merchantTransId\":\"%s\"", long_id);
    struct {
        const char *old, *new_;
        aop_status_t want;
        const char *path;
    } rules[] = {
        {"\"merchantTransId\":\"m-notify-1\"", quoted_long, AOP_E_TOO_LONG, "request.body.merchantTransId"},
        {"\"merchantTransId\":\"m-notify-1\"", "\"merchantTransId\":\"\"", AOP_E_EMPTY, "request.body.merchantTransId"},
        {"\"merchantTransId\":\"m-notify-1\"", "\"merchantTransId\":\"m\\u001b1\"", AOP_E_CONTROL_CHAR,
         "request.body.merchantTransId"},
        {"\"merchantTransId\":\"m-notify-1\"", "\"merchantTransId\":\"m\\u00851\"", AOP_E_CONTROL_CHAR,
         "request.body.merchantTransId"},
        {"\"merchantTransId\":\"m-notify-1\"", "\"merchantTransId\":101", AOP_E_WRONG_TYPE,
         "request.body.merchantTransId"},
        {"\"merchantTransId\":\"m-notify-1\"", "\"merchantTransId\":null", AOP_E_NULL_MANDATORY,
         "request.body.merchantTransId"},
        {"\"merchantTransId\":\"m-notify-1\",", "", AOP_E_MISSING, "request.body.merchantTransId"},
        {"\"acquirementId\":\"2015032412007101547201351234\",", "", AOP_E_MISSING, "request.body.acquirementId"},
        {"\"acquirementId\":\"2015032412007101547201351234\"", "\"acquirementId\":[]", AOP_E_WRONG_TYPE,
         "request.body.acquirementId"},
        {"\"acquirementId\":\"2015032412007101547201351234\"", "\"acquirementId\":\"a\\tb\"", AOP_E_CONTROL_CHAR,
         "request.body.acquirementId"},
        {"\"currency\":\"USD\",\"value\":\"100\"}", "\"currency\":\"usd\",\"value\":\"100\"}", AOP_E_BAD_CURRENCY,
         "request.body.orderAmount.currency"},
        {"\"currency\":\"USD\",\"value\":\"100\"}", "\"currency\":\"USD\",\"value\":\"1.00\"}", AOP_E_BAD_AMOUNT,
         "request.body.orderAmount.value"},
        {"\"currency\":\"USD\",\"value\":\"100\"}", "\"currency\":\"USD\"}", AOP_E_MISSING,
         "request.body.orderAmount.value"},
        {"\"currency\":\"USD\",\"value\":\"100\"}", "\"currency\":\"USD\",\"value\":null}", AOP_E_NULL_MANDATORY,
         "request.body.orderAmount.value"},
        {"\"orderAmount\":{\"currency\":\"USD\",\"value\":\"100\"}", "\"orderAmount\":\"100 USD\"", AOP_E_WRONG_TYPE,
         "request.body.orderAmount"},
        {"\"resultStatus\":\"S\"", "\"resultStatus\":\"s\"", AOP_E_BAD_ENUM, "request.body.resultInfo.resultStatus"},
        {"\"resultStatus\":\"S\",", "", AOP_E_MISSING, "request.body.resultInfo.resultStatus"},
        {"\"resultCode\":\"SUCCESS\"", "\"resultCode\":\"SUCC\\nESS\"", AOP_E_CONTROL_CHAR,
         "request.body.resultInfo.resultCode"},
        {"\"resultCode\":\"SUCCESS\"", "\"resultCode\":true", AOP_E_WRONG_TYPE, "request.body.resultInfo.resultCode"},
        {"\"resultInfo\":{", "\"resultInfo\":null,\"x\":{", AOP_E_NULL_MANDATORY, "request.body.resultInfo"},
    };
    for (unsigned i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        char *body = success_with(rules[i].old, rules[i].new_);
        expect_refused(body, rules[i].want, rules[i].path);
        free(body);
    }
}

Test(notify, cosmetic_deviations_are_warnings_with_the_record) {
    char *body = success_with("\"payAmount\":{\"currency\":\"USD\",\"value\":\"100\"}",
                              "\"payAmount\":{\"currency\":\"usd\",\"value\":\"ten\"},\"extendInfo\":\"a\\u0007b\","
                              "\"merchantId\":\"\",\"sandboxNote\":1");
    char *b2 = success_with("\"paymentTime\":\"2024-05-01T11:59:58+08:00\"", "\"paymentTime\":\"yesterday\"");
    char *b3 = success_with("\"resultMsg\":\"success\"", "\"resultMsg\":\"ok\\u009b2J\"");
    char *p1 = payload_of(FN, CLIENT, REQ_TIME, LONG_MSG_ID, body), *s1 = seal(p1);
    char *p2 = payload(b2), *s2 = seal(p2);
    char *p3 = payload(b3), *s3 = seal(p3);
    aop_notification_t *n = receive_ok(s1);
    cr_assert_eq(n->status, 'S');
    cr_expect(has_warning(n, AOP_E_BAD_CURRENCY, "request.body.payAmount.currency"));
    cr_expect(has_warning(n, AOP_E_BAD_AMOUNT, "request.body.payAmount.value"));
    cr_expect(has_warning(n, AOP_E_CONTROL_CHAR, "request.body.extendInfo"));
    cr_expect(has_warning(n, AOP_E_EMPTY, "request.body.merchantId"));
    cr_expect(has_warning(n, AOP_E_UNKNOWN_MEMBER, "request.body.sandboxNote"));
    cr_expect(has_warning(n, AOP_E_TOO_LONG, "request.head.reqMsgId"));
    aop_notification_free(n);
    n = receive_ok(s2);
    cr_expect(has_warning(n, AOP_E_BAD_DATETIME, "request.body.paymentTime"));
    aop_notification_free(n);
    n = receive_ok(s3);
    cr_expect(has_warning(n, AOP_E_CONTROL_CHAR, "request.body.resultInfo.resultMsg"));
    aop_notification_free(n);
    /* an absent orderAmount is no refusal: a query decides then */
    char *b4 = success_with("\"orderAmount\":{\"currency\":\"USD\",\"value\":\"100\"},", "");
    char *p4 = payload(b4), *s4 = seal(p4);
    n = receive_ok(s4);
    cr_expect(!n->request->body.has_order_amount);
    cr_expect(has_warning(n, AOP_E_MISSING, "request.body.orderAmount"));
    aop_notification_free(n);
    /* a member of the envelope besides request and signature */
    char *s5 = swap_payload(s4, "{\"request\":", "{\"note\":1,\"request\":");
    n = receive_ok(s5);
    cr_expect(has_warning(n, AOP_E_UNKNOWN_MEMBER, "(envelope)"));
    aop_notification_free(n);
    free(body), free(b2), free(b3), free(b4);
    free(p1), free(p2), free(p3), free(p4);
    free(s1), free(s2), free(s3), free(s4), free(s5);
}

/* ---- the head: addressee, time window, contradiction ------------------------------------------ */

static aop_status_t receive_head(const char *fn, const char *client, const char *req_time, int64_t received_ms,
                                 aop_error_t *err) {
    char *p = payload_of(fn, client, req_time, "msg-1", success_body), *b = seal(p);
    aop_notification_t *n = NULL;
    aop_status_t st = receive_at(b, received_ms, &n, err);
    cr_assert_eq(st == AOP_OK, n != NULL);
    aop_notification_free(n);
    free(p);
    free(b);
    return st;
}

Test(notify, the_head_names_this_receiver) {
    aop_error_t err;
    cr_expect_eq(receive_head("alipay.intl.acquiring.offline.pay", CLIENT, REQ_TIME, REQ_TIME_MS, &err),
                 AOP_E_MISADDRESSED);
    cr_expect_str_eq(err.path, "request.head.function");
    cr_expect_eq(receive_head(FN, "211020000000000000045", REQ_TIME, REQ_TIME_MS, &err), AOP_E_MISADDRESSED);
    cr_expect_str_eq(err.path, "request.head.clientId");
    cr_expect(strstr(err.msg, CLIENT), "%s", err.msg);
    /* a head without them: missing, named */
    char *p = malloc(strlen(success_body) + 200);
    sprintf(p, "{\"head\":{\"version\":\"2.0.0\",\"function\":\"%s\",\"reqTime\":\"%s\",\"reqMsgId\":\"m\"},\"body\":%s}",
            FN, REQ_TIME, success_body);
    char *b = seal(p);
    aop_notification_t *n = NULL;
    cr_expect_eq(receive_at(b, REQ_TIME_MS, &n, &err), AOP_E_MISSING);
    cr_expect_str_eq(err.path, "request.head.clientId");
    free(p);
    free(b);
}

Test(notify, the_req_time_window) {
    aop_error_t err;
    const int64_t s = 1000, h = 3600 * s;
    /* 26 hours in the past and 5 minutes in the future, both ends included */
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, REQ_TIME_MS + 26 * h, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, REQ_TIME_MS + 26 * h + s, &err), AOP_E_OUT_OF_WINDOW);
    cr_expect_str_eq(err.path, "request.head.reqTime");
    cr_expect(strstr(err.msg, "93601 s before"), "%s", err.msg);
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, REQ_TIME_MS - 300 * s, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, REQ_TIME_MS - 301 * s, &err), AOP_E_OUT_OF_WINDOW);
    cr_expect(strstr(err.msg, "301 s after"), "%s", err.msg);
    /* the offset counts: the same instant written in UTC, and a fraction */
    cr_expect_eq(receive_head(FN, CLIENT, "2024-05-01T04:00:00Z", REQ_TIME_MS + 26 * h, &err), AOP_OK);
    cr_expect_eq(receive_head(FN, CLIENT, "2024-05-01T04:00:00.999Z", REQ_TIME_MS - 300 * s, &err), AOP_E_OUT_OF_WINDOW);
    cr_expect_eq(receive_head(FN, CLIENT, "2024-05-01 12:00:00", REQ_TIME_MS, &err), AOP_E_BAD_DATETIME);
    cr_expect_str_eq(err.path, "request.head.reqTime");
    /* received now (0): a notification of 2024 is long out of its window */
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, 0, &err), AOP_E_OUT_OF_WINDOW);

    /* a configured window */
    aop_notify_config_t cfg = config();
    cfg.max_age_s = 60;
    cfg.max_ahead_s = 0;
    aop_notify_receiver_t *narrow = NULL;
    cr_assert_eq(aop_notify_receiver_new(&cfg, &narrow, &err), AOP_OK);
    aop_notify_receiver_t *wide = rx;
    rx = narrow;
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, REQ_TIME_MS + 60 * s, &err), AOP_OK);
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, REQ_TIME_MS + 61 * s, &err), AOP_E_OUT_OF_WINDOW);
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, REQ_TIME_MS - 1 * s, &err), AOP_E_OUT_OF_WINDOW);
    rx = wide;
    aop_notify_receiver_free(narrow);
}

Test(notify, a_result_that_contradicts_itself_is_refused) {
    char *s_decline = success_with("\"resultCode\":\"SUCCESS\"", "\"resultCode\":\"RISK_REJECT\"");
    expect_refused(s_decline, AOP_E_CONTRADICTION, "request.body.resultInfo");
    char *f_success = success_with("\"resultStatus\":\"S\"", "\"resultStatus\":\"F\"");
    expect_refused(f_success, AOP_E_CONTRADICTION, "request.body.resultInfo");
    char *s_unknown = success_with("\"resultCode\":\"SUCCESS\"", "\"resultCode\":\"PAID_SOMEHOW\"");
    expect_refused(s_unknown, AOP_E_CONTRADICTION, "request.body.resultInfo");
    free(s_decline);
    free(f_success);
    free(s_unknown);
}

/* ---- duplicates, and verifying a record again -------------------------------------------------- */

Test(notify, duplicates_as_far_as_the_library_can_tell) {
    char *p1 = payload(success_body), *b1 = seal(p1);
    char *p2 = payload_of(FN, CLIENT, "2024-05-01T12:02:00+08:00", "msg-2", success_body), *b2 = seal(p2);
    char *other = success_with("\"merchantTransId\":\"m-notify-1\"", "\"merchantTransId\":\"m-notify-9\"");
    char *p3 = payload(other), *b3 = seal(p3);
    char *with_merchant = success_with("\"merchantTransId\"", "\"merchantId\":\"218820000000000000023\",\"merchantTransId\"");
    char *p4 = payload(with_merchant), *b4 = seal(p4);
    char *failed = "{\"resultInfo\":{\"resultStatus\":\"F\",\"resultCode\":\"ORDER_IS_CLOSED\"},\"merchantTransId\":\"m-notify-1\"}";
    char *p5 = payload(failed), *b5 = seal(p5);
    aop_notification_t *a = receive_ok(b1), *again = receive_ok(b1), *resent = receive_ok(b2), *c = receive_ok(b3),
                       *d = receive_ok(b4), *e = receive_ok(b5);
    cr_expect(aop_notification_same_delivery(a, again), "the same bytes twice");
    cr_expect(aop_notification_same_fact(a, again));
    cr_expect(!aop_notification_same_delivery(a, resent), "a re-send: new reqMsgId and reqTime");
    cr_expect(aop_notification_same_fact(a, resent), "the same fact");
    cr_expect(!aop_notification_same_fact(a, c), "another payment");
    cr_expect(!aop_notification_same_fact(a, d), "a merchantId where there was none");
    cr_expect(!aop_notification_same_fact(a, e), "another result of the same payment");
    cr_expect(!aop_notification_same_fact(a, NULL) && !aop_notification_same_delivery(NULL, a));
    aop_notification_free(a), aop_notification_free(again), aop_notification_free(resent);
    aop_notification_free(c), aop_notification_free(d), aop_notification_free(e);
    free(p1), free(b1), free(p2), free(b2), free(other), free(p3), free(b3), free(with_merchant), free(p4), free(b4);
    free(p5), free(b5);
}

Test(notify, a_record_verifies_again_at_its_receipt_time) {
    char *p = payload(success_body), *b = seal(p);
    aop_notification_t *n = receive_ok(b);
    /* what a journal keeps: the body as received and the receipt time */
    char *kept = malloc(n->body.len);
    memcpy(kept, n->body.ptr, n->body.len);
    size_t kept_len = n->body.len;
    int64_t kept_at = n->received_ms;
    aop_notification_t *again = NULL;
    aop_error_t err;
    cr_assert_eq(aop_notify_receive(rx, kept, kept_len, kept_at, &again, &err), AOP_OK, "%s", err.msg);
    cr_assert(aop_notification_same_delivery(n, again));
    cr_assert(aop_equal(&aop_notify_pay_request_desc, n->request, again->request));
    aop_notification_free(again);
    /* ...and a row changed by hand decides nothing */
    char *edited = swap_payload(b, "\"value\":\"100\"}", "\"value\":\"900\"}");
    cr_assert_eq(aop_notify_receive(rx, edited, strlen(edited), kept_at, &again, &err), AOP_E_SIGNATURE_INVALID);
    aop_notification_free(n);
    free(kept);
    free(edited);
    free(p);
    free(b);
}

/* ---- applying recorded notifications ------------------------------------------------------------ */

/* An open payment entry of key, MACed with the merchant key, leased for ttl_ms to another host
 * (live until then); its notification recorded PENDING. */
static void open_entry_notified(aop_client_t *c, aop_journal_t *j, const char *key, int64_t ttl_ms) {
    aop_error_t err;
    char fp[AOP_FINGERPRINT_MAX];
    aop_journal_key_t k;
    cr_assert_eq(aop_journal_key_derive(merchant_priv, &k, &err), AOP_OK, "%s", err.msg);
    aop_public_key_fingerprint(gateway_pub, fp);
    aop_journal_entry_t *e = calloc(1, sizeof *e);
    cr_assert_not_null(e);
    e->kind = AOP_ENTRY_PAYMENT;
    snprintf(e->function, sizeof e->function, "%s", aop_fn_offline_pay.name);
    snprintf(e->merchant_id, sizeof e->merchant_id, "218820000000000000023"); /* aop_test_client's */
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->amount, sizeof e->amount, "100");
    snprintf(e->currency, sizeof e->currency, "USD");
    aop_journal_gateway_identity(fp, CLIENT, e->gateway);
    snprintf(e->client_id, sizeof e->client_id, CLIENT);
    e->pay_deadline_ms = 100;
    snprintf(e->lease_owner, sizeof e->lease_owner, "other-host/00000000-0000-0000-0000-000000000000/1/1/1#x");
    e->request_len = (size_t)snprintf(e->request, sizeof e->request, "{\"merchantTransId\":\"%s\"}", key);
    e->has_request = true;
    aop_journal_entry_seal(&k, e);
    cr_assert_eq(aop_journal_insert(j, e, ttl_ms, NULL, &err), AOP_OK, "%s", err.msg);
    free(e);
    char *body = success_with("m-notify-1", key), *p = payload(body), *b = seal(p);
    aop_notification_t *n = receive_ok(b);
    cr_assert_eq(aop_notice_record(c, j, n, NULL, NULL, &err), AOP_OK, "%s", err.msg);
    aop_notification_free(n);
    free(body);
    free(p);
    free(b);
}

Test(notify, rows_left_to_their_lease_holders_do_not_hide_the_rows_after_them) {
    mem_store_t *m = NULL;
    aop_journal_t *j = mem_journal(&m);
    aop_client_t *c = aop_test_client(1); /* no query is made */
    /* more held rows than a page of them, then one whose entry nobody holds */
    char key[32];
    for (unsigned i = 0; i < 9; i++) {
        snprintf(key, sizeof key, "m-held-%u", i);
        open_entry_notified(c, j, key, 600000);
    }
    open_entry_notified(c, j, "m-free", 1);
    aop_test_sleep_ms(5); /* its lease expired */
    unsigned pending = 0;
    aop_error_t err;
    cr_assert_eq(aop_notices_apply(c, j, NULL, false, NULL, NULL, NULL, &pending, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(pending, 9u, "the held ones, left to their holders");
    cr_assert_eq(m->n, 10u);
    for (unsigned i = 0; i < m->n; i++) {
        bool free_one = strcmp(m->e[i].key, "m-free") == 0;
        cr_expect_eq(m->e[i].state == AOP_STATE_PAID, free_one, "%s is %s", m->e[i].key,
                     aop_entry_state_name(m->e[i].state));
    }
    aop_client_free(c);
    aop_journal_close(j);
}

/* ---- the answers ------------------------------------------------------------------------------------- */

/* Reads an answer as Alipay does: the merchant's signature over the response bytes, then strictly. */
static void read_answer(const aop_buf_t *a, aop_notify_pay_response_t *rs, char **keep) {
    *keep = malloc(a->len + 1);
    memcpy(*keep, a->data, a->len);
    (*keep)[a->len] = '\0';
    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_error_t err;
    cr_assert_eq(aop_json_ws_alloc(&ws, *keep, a->len, &err), AOP_OK);
    cr_assert_eq(aop_envelope_read(*keep, a->len, "response", &ws, &doc, &env, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(aop_verify(merchant_pub, AOP_SIGN_RSA2, env.payload.ptr, env.payload.len, env.signature.ptr,
                            env.signature.len, &err),
                 AOP_OK, "the answer is signed with the merchant's key: %s", err.msg);
    cr_assert_eq(aop_notify_pay_response_decode(&doc, env.payload_tok, *keep, rs, NULL, &err), AOP_OK, "%s at %s",
                 err.msg, err.path);
    aop_json_ws_free(&ws);
}

Test(notify, recorded_is_answered_s_success_and_echoes_the_head) {
    char *p = payload(success_body), *b = seal(p);
    aop_notification_t *n = receive_ok(b);
    aop_buf_t out = {0};
    aop_error_t err;
    cr_assert_eq(aop_notify_answer(rx, n, AOP_NOTIFY_RECORDED, &out, &err), AOP_OK, "%s", err.msg);
    aop_notify_pay_response_t rs;
    char *keep;
    read_answer(&out, &rs, &keep);
    cr_assert_eq(rs.body.result_info.result_status.value, AOP_RESULT_STATUS_ENUM_S);
    cr_assert(aop_str_eq_cstr(rs.body.result_info.result_code, "SUCCESS"));
    cr_assert(aop_str_eq_cstr(rs.body.result_info.result_code_id, "00000000"));
    cr_assert_eq(aop_check_echo(&aop_fn_notify_pay, n->request, &rs, &err), AOP_OK, "%s", err.msg);
    cr_assert(aop_str_eq_cstr(rs.head.req_msg_id, "msg-1"));
    cr_assert(aop_str_eq_cstr(rs.head.function, FN));
    cr_assert_null(rs.head.sign_type.ptr, "none asked, none sent (the 2.0.0 profile)");
    aop_buf_free(&out);
    aop_notification_free(n);
    free(keep);
    free(p);
    free(b);
}

Test(notify, not_recorded_is_answered_f_with_the_schemas_code) {
    char *p = payload_of(FN, CLIENT, REQ_TIME, "msg-7", success_body);
    /* a head with signType: the answer carries it too */
    char *with_sign_type = swap_payload(p, "\"reqMsgId\":\"msg-7\"", "\"reqMsgId\":\"msg-7\",\"signType\":\"RSA2\"");
    char *b = seal(with_sign_type);
    aop_notification_t *n = receive_ok(b);
    aop_buf_t out = {0};
    aop_error_t err;
    cr_assert_eq(aop_notify_answer(rx, n, AOP_NOTIFY_NOT_RECORDED, &out, &err), AOP_OK, "%s", err.msg);
    aop_notify_pay_response_t rs;
    char *keep;
    read_answer(&out, &rs, &keep);
    cr_assert_eq(rs.body.result_info.result_status.value, AOP_RESULT_STATUS_ENUM_F);
    const aop_result_code_t *rc = aop_result_code_find(aop_fn_notify_pay.codes, rs.body.result_info.result_code.ptr,
                                                       rs.body.result_info.result_code.len);
    cr_assert_not_null(rc, "a code of the notify function's table");
    cr_assert_eq(rc->status, 'F');
    cr_assert(aop_str_eq_cstr(rs.head.sign_type, "RSA2"));
    cr_assert(aop_str_eq_cstr(rs.head.req_msg_id, "msg-7"));
    aop_buf_free(&out);
    /* a verdict that is neither */
    cr_assert_eq(aop_notify_answer(rx, n, (aop_notify_verdict_t)7, &out, &err), AOP_E_INVALID_ARG);
    aop_notification_free(n);
    free(keep);
    free(p);
    free(with_sign_type);
    free(b);
}

Test(notify, an_echo_the_merchant_may_not_send_is_named) {
    char *p = payload_of(FN, CLIENT, REQ_TIME, LONG_MSG_ID, success_body), *b = seal(p);
    aop_notification_t *n = receive_ok(b); /* received: a warning */
    aop_buf_t out = {0};
    aop_error_t err;
    cr_assert_eq(aop_notify_answer(rx, n, AOP_NOTIFY_RECORDED, &out, &err), AOP_E_TOO_LONG);
    cr_assert_str_eq(err.path, "response.head.reqMsgId");
    aop_buf_free(&out);
    aop_notification_free(n);
    free(p);
    free(b);
}

/* ---- configuration ------------------------------------------------------------------------------------ */

static aop_status_t make(const aop_notify_config_t *cfg, aop_error_t *err) {
    aop_notify_receiver_t *r = (aop_notify_receiver_t *)1;
    aop_status_t st = aop_notify_receiver_new(cfg, &r, err);
    cr_assert_eq(st == AOP_OK, r != NULL, "*out is the receiver, or NULL");
    aop_notify_receiver_free(r);
    return st;
}

Test(notify, the_configuration_is_checked_and_named) {
    aop_error_t err;
    aop_notify_config_t cfg = config();
    cfg.struct_size = 0;
    cr_expect_eq(make(&cfg, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "struct_size");
    cfg = config();
    cfg.client_id = NULL;
    cr_expect_eq(make(&cfg, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "client_id");
    cfg.client_id = "a\nb";
    cr_expect_eq(make(&cfg, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "client_id");
    cfg = config();
    cfg.alipay_key = NULL;
    cr_expect_eq(make(&cfg, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "alipay_key");
    cfg = config();
    cfg.merchant_key = NULL;
    cr_expect_eq(make(&cfg, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "merchant_key");
    cfg = config();
    cfg.max_age_s = 0;
    cr_expect_eq(make(&cfg, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "max_age_s");
    cfg = config();
    cfg.max_ahead_s = -1;
    cr_expect_eq(make(&cfg, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "max_ahead_s");
    cfg = config();
    cfg.sign_type = (aop_sign_type_t)9;
    cr_expect_eq(make(&cfg, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "sign_type");
    /* the merchant's own public key configured as Alipay's */
    cfg = config();
    cfg.alipay_key = merchant_pub;
    cr_expect_eq(make(&cfg, &err), AOP_E_KEY_MISMATCH);
    cr_expect_str_eq(err.path, "alipay_key");
    cr_expect_eq(aop_notify_receiver_new(NULL, NULL, &err), AOP_E_INVALID_ARG);
}

Test(notify, an_older_smaller_configuration_gets_the_defaults) {
    /* a program built when the struct ended before the window: the window is the default */
    aop_notify_config_t cfg = config();
    cfg.struct_size = offsetof(aop_notify_config_t, max_age_s);
    cfg.max_age_s = 1; /* not part of that program's struct: ignored */
    aop_notify_receiver_t *old = NULL;
    aop_error_t err;
    cr_assert_eq(aop_notify_receiver_new(&cfg, &old, &err), AOP_OK, "%s", err.msg);
    aop_notify_receiver_t *wide = rx;
    rx = old;
    cr_expect_eq(receive_head(FN, CLIENT, REQ_TIME, REQ_TIME_MS + AOP_NOTIFY_MAX_AGE_S * 1000, &err), AOP_OK, "%s", err.msg);
    rx = wide;
    aop_notify_receiver_free(old);
    cfg.struct_size = sizeof cfg + 8;
    cr_expect_eq(aop_notify_receiver_new(&cfg, &old, &err), AOP_E_CONFIG, "a struct larger than the library's");
}

Test(notify, aop_call_refuses_the_notification) {
    aop_client_config_t cc;
    aop_client_config_init(&cc);
    cc.gateway_url = "http://127.0.0.1:9";
    cc.client_id = CLIENT;
    cc.merchant_key = merchant_priv;
    cc.alipay_key = gateway_pub;
    aop_client_t *c = NULL;
    aop_error_t err;
    cr_assert_eq(aop_client_new(&cc, &c, &err), AOP_OK, "%s", err.msg);
    static aop_notify_pay_request_t rq;
    aop_result_t *r = (aop_result_t *)1;
    cr_expect_eq(aop_call(c, &aop_fn_notify_pay, &rq, NULL, &r, &err), AOP_E_INVALID_ARG);
    cr_expect_null(r);
    cr_expect(strstr(err.msg, "aop_notify_receive"), "%s", err.msg);
    aop_client_free(c);
}

Test(notify, datetimes_as_instants) {
    int64_t ms = -1;
    cr_expect(aop_datetime_ms("1970-01-01T00:00:00Z", 20, &ms) && ms == 0);
    cr_expect(aop_datetime_ms(REQ_TIME, strlen(REQ_TIME), &ms) && ms == REQ_TIME_MS, "%lld", (long long)ms);
    cr_expect(aop_datetime_ms("2024-05-01t04:00:00.25z", 23, &ms) && ms == REQ_TIME_MS + 250);
    cr_expect(aop_datetime_ms("2000-02-29T23:59:60-00:30", 25, &ms) && ms == 951870599999LL,
              "a leap second: %lld", (long long)ms);
    cr_expect(aop_datetime_ms("1969-12-31T23:59:59Z", 20, &ms) && ms == -1000);
    ms = 7;
    cr_expect(!aop_datetime_ms("2023-02-29T00:00:00Z", 20, &ms) && ms == 7, "no such day");
    cr_expect(!aop_datetime_ms("2024-05-01T12:00:00", 19, &ms));
    cr_expect(!aop_datetime_ms(NULL, 0, &ms));
}
