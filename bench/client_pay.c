/* SPDX-License-Identifier: MIT */
/* aop-bench-client: N whole client pays (aop_call: head, encode+validate, sign, post, envelope
 * read, verify, decode, echo check) against an in-process fake transport, for callgrind.
 *
 *   aop-bench-client N        setup (one checked pay), then N pays; exit 0 when all were S
 *
 * The fake transport answers each request with a valid response signed by the gateway key. The
 * response must echo the request's random reqMsgId, so it is signed per post: callgrind leaves
 * that cost out with --toggle-collect=fake_post (nested inside --toggle-collect=op_client_pay,
 * collection is switched off while fake_post runs). See bench/client_pay.sh. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/client.h"
#include "aop/util.h"

#define EX_USAGE 64
#ifndef AOP_BENCH_DATA
#error "AOP_BENCH_DATA (the test key directory) must be defined"
#endif

static aop_private_key_t *gateway_key;

static char *read_all(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AOP_BENCH_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The answer to the request in req->body: the sample pay response with the echoes copied. */
__attribute__((noinline)) static aop_status_t fake_post(aop_transport_t *t, const aop_http_request_t *req,
                                                        aop_http_response_t *resp, aop_error_t *err) {
    (void)t;
    static const char key[] = "\"reqMsgId\":\"";
    const char *p = memmem(req->body, req->body_len, key, sizeof key - 1);
    if (!p) return aop_error_set(err, AOP_E_TRANSPORT, NULL, -1, "fake: no reqMsgId");
    p += sizeof key - 1;
    const char *q = memchr(p, '"', req->body_len - (size_t)(p - req->body));
    if (!q) return aop_error_set(err, AOP_E_TRANSPORT, NULL, -1, "fake: bad reqMsgId");
    char payload[2048];
    int n = snprintf(payload, sizeof payload,
                     "{\"head\":{\"version\":\"2.0.0\",\"function\":\"alipay.intl.acquiring.offline.pay\","
                     "\"clientId\":\"211020000000000000044\",\"respTime\":\"2001-07-04T12:08:58+05:30\","
                     "\"reqMsgId\":\"%.*s\",\"reserve\":\"{}\"},\"body\":{\"resultInfo\":{\"resultStatus\":\"S\","
                     "\"resultCodeId\":\"00000000\",\"resultCode\":\"SUCCESS\",\"resultMsg\":\"success\"},"
                     "\"acquirementId\":\"2015032412007101547201351234\",\"merchantTransId\":\"51051001000000000002\","
                     "\"orderAmount\":{\"currency\":\"USD\",\"value\":\"100\"},\"payAmount\":{\"currency\":\"CNY\","
                     "\"value\":\"620\"},\"createTime\":\"2001-07-04T12:08:56+05:30\",\"userSite\":\"ALIPAY_CN\","
                     "\"userId\":\"2088123456789012\",\"userLoginId\":\"c***\"}}",
                     (int)(q - p), p);
    char sig[AOP_SIG_B64_MAX];
    size_t sig_len = 0;
    aop_status_t st = aop_sign(gateway_key, AOP_SIGN_RSA2, payload, (size_t)n, sig, sizeof sig, &sig_len, err);
    if (st != AOP_OK) return st;
    resp->body.len = 0;
    if (aop_buf_append(&resp->body, "{\"response\":", 12) != AOP_OK ||
        aop_buf_append(&resp->body, payload, (size_t)n) != AOP_OK ||
        aop_buf_append(&resp->body, ",\"signature\":\"", 14) != AOP_OK ||
        aop_buf_append(&resp->body, sig, sig_len) != AOP_OK || aop_buf_append(&resp->body, "\"}", 2) != AOP_OK)
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "fake: out of memory");
    resp->status = 200;
    resp->maybe_sent = true;
    resp->elapsed_ms = 1;
    return AOP_OK;
}

static void fake_destroy(aop_transport_t *t) { (void)t; }

static aop_client_t *client;
static aop_offline_pay_request_t pay;

/* One pay; 0 when it succeeded, verified. */
__attribute__((noinline)) int op_client_pay(void) {
    aop_result_t *r = NULL;
    aop_error_t err;
    aop_status_t st = aop_call(client, &aop_fn_offline_pay, &pay, NULL, &r, &err);
    if (st != AOP_OK) {
        fprintf(stderr, "aop-bench-client: %s\n", err.msg);
        return 1;
    }
    int rc = r->status == 'S' && r->verified ? 0 : 1;
    if (rc) fprintf(stderr, "aop-bench-client: status %c: %s\n", r->status, r->detail.msg);
    aop_result_free(r);
    return rc;
}

int main(int argc, char **argv) {
    char *end = NULL;
    long n = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (n < 0 || !end || *end) {
        fprintf(stderr, "usage: aop-bench-client N\n");
        return EX_USAGE;
    }
    size_t len = 0;
    aop_error_t err;
    const char *text = read_all("gateway.pkcs8.pem", &len);
    if (!text || aop_private_key_load_mem(text, len, NULL, &gateway_key, &err) != AOP_OK) {
        fprintf(stderr, "aop-bench-client: gateway key: %s\n", text ? err.msg : "cannot read");
        return 1;
    }
    /* The keys are loaded once and shared, as a terminal with several clients would do. */
    static aop_private_key_t *merchant_key;
    static aop_public_key_t *alipay_key;
    text = read_all("merchant.pkcs8.pem", &len);
    if (!text || aop_private_key_load_mem(text, len, NULL, &merchant_key, &err) != AOP_OK) return 1;
    text = read_all("gateway.spki.pem", &len);
    if (!text || aop_public_key_load_mem(text, len, &alipay_key, &err) != AOP_OK) return 1;
    static aop_transport_t fake = {fake_post, fake_destroy, NULL};
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = "https://gateway.invalid";
    cfg.client_id = "211020000000000000044";
    cfg.merchant_id = "218820000000000000023";
    cfg.merchant_key = merchant_key;
    cfg.alipay_key = alipay_key;
    cfg.transport = &fake;
    if (aop_client_new(&cfg, &client, &err) != AOP_OK) {
        fprintf(stderr, "aop-bench-client: %s\n", err.msg);
        return 1;
    }
    aop_offline_pay_request_body_t *b = &pay.body;
    b->product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
    b->code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
    b->identity_code = aop_str("28763443825664394");
    b->merchant_trans_id = aop_str("51051001000000000002");
    b->order.order_amount.value = aop_str("100");
    b->order.order_amount.currency = aop_str("USD");
    b->order.order_title = aop_str("Women Summer Dress");
    int failed = op_client_pay(); /* the check: setup of every measured run */
    for (long i = 0; i < n && !failed; i++) failed = op_client_pay();
    aop_client_free(client);
    aop_private_key_free(gateway_key);
    aop_private_key_free(merchant_key);
    aop_public_key_free(alipay_key);
    return failed;
}
