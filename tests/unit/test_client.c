/* SPDX-License-Identifier: MIT */
/* The client API end to end against a minimal gateway on 127.0.0.1 (libmicrohttpd, inside the
 * test: tests/plain/mini_gateway.c). The gateway verifies what the client signs, decodes it
 * strictly with the generated descriptors and answers the generated sample response with every
 * echo pair copied from the request; per test it is told how to lie. Every function and every
 * echo pair comes from the generated tables, never from a hand-written list.
 *
 * Criterion runs each test in its own process: each test starts its own gateway (G) and the
 * suite's fini stops it. */
#define _GNU_SOURCE
#include "../plain/mini_gateway.c"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aop/aop.h"
#include "support.h"
#include "tests/samples.h"

static gw_t *G;

static void setup(void) { signal(SIGPIPE, SIG_IGN); }
static void teardown(void) {
    gw_stop(G);
    G = NULL;
}

TestSuite(client, .init = setup, .fini = teardown, .timeout = 30);

/* ---- helpers ------------------------------------------------------------------------------- */

static void start_gateway(void) {
    G = gw_start();
    cr_assert_not_null(G, "the test gateway did not start");
}

static aop_client_config_t base_config(void) {
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = G ? gw_url(G) : "http://127.0.0.1:1";
    cfg.client_id = "211020000000000000044";
    cfg.private_key_file = aop_test_private_key("merchant.pkcs8.pem");
    cfg.alipay_public_key_file = AOP_TEST_DATA "/gateway.spki.pem";
    return cfg;
}

static aop_client_t *client_with(const aop_client_config_t *cfg) {
    aop_client_t *c = NULL;
    aop_error_t err;
    aop_status_t st = aop_client_new(cfg, &c, &err);
    cr_assert_eq(st, AOP_OK, "aop_client_new: %s %s: %s", aop_status_name(st), err.path, err.msg);
    cr_assert_not_null(c);
    return c;
}

static aop_client_t *default_client(void) {
    aop_client_config_t cfg = base_config();
    return client_with(&cfg);
}

/* A generated sample request of fn (heap, large enough for any request). */
static void *sample_request(const aop_function_desc_t *fn) {
    void *rq = calloc(1, gw_any_request_size());
    cr_assert_not_null(rq);
    gw_sample_request(fn, rq);
    return rq;
}

/* One call with a deadline (0 = the function's default). */
static aop_result_t *call_within(aop_client_t *c, const aop_function_desc_t *fn, const void *rq, long deadline_ms) {
    aop_call_options_t opts;
    aop_call_options_init(&opts);
    opts.deadline_ms = deadline_ms;
    aop_result_t *r = NULL;
    aop_error_t err;
    aop_status_t st = aop_call(c, fn, rq, &opts, &r, &err);
    cr_assert_eq(st, AOP_OK, "%s: aop_call: %s %s: %s", fn->name, aop_status_name(st), err.path, err.msg);
    cr_assert_not_null(r);
    return r;
}

static aop_result_t *call(aop_client_t *c, const aop_function_desc_t *fn, const void *rq) {
    return call_within(c, fn, rq, 0);
}

static void set_gw(const gw_behaviour_t *b) { gw_set(G, b); }

static bool is_uuid(const char *s) {
    if (strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return s[14] == '4' && strchr("89abAB", s[19]) != NULL;
}

/* YYYY-MM-DDThh:mm:ss±hh:mm exactly (we always write the numeric offset). */
static bool is_rfc3339_offset(const char *s) {
    static const char shape[] = "dddd-dd-ddTdd:dd:dd?dd:dd";
    if (strlen(s) != sizeof shape - 1) return false;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd' && !isdigit((unsigned char)s[i])) return false;
        if (shape[i] == '?' && s[i] != '+' && s[i] != '-') return false;
        if (shape[i] != 'd' && shape[i] != '?' && shape[i] != s[i]) return false;
    }
    return aop_is_datetime(s, strlen(s));
}

static void assert_unknown(const aop_result_t *r, const char *what) {
    cr_assert_eq(r->status, 'U', "%s: status %c", what, r->status ? r->status : '0');
    cr_assert_not(r->outcome_known, "%s: outcome must be unknown", what);
    cr_assert_neq(r->error, AOP_OK, "%s: an unknown outcome names its reason", what);
}

static void assert_success(const aop_result_t *r, const aop_function_desc_t *fn) {
    cr_assert_eq(r->status, 'S', "%s: status %c, error %s (%s: %s)", fn->name, r->status ? r->status : '0',
                 aop_status_name(r->error), r->detail.path, r->detail.msg);
    cr_assert(r->outcome_known, "%s", fn->name);
    cr_assert(r->verified, "%s", fn->name);
    cr_assert(r->maybe_sent, "%s", fn->name);
    cr_assert_eq(r->error, AOP_OK, "%s: %s", fn->name, aop_status_name(r->error));
    cr_assert_eq(r->http_status, 200, "%s", fn->name);
    cr_assert_eq(r->claimed_status, 'S', "%s", fn->name);
    cr_assert(aop_str_eq_cstr(r->result_code, "SUCCESS"), "%s", fn->name);
    cr_assert_not_null(r->code, "%s: SUCCESS must be in the function's table", fn->name);
    cr_assert_str_eq(r->code->code, "SUCCESS");
    cr_assert_eq(r->code->status, 'S');
    cr_assert_not_null(r->response, "%s", fn->name);
}

static bool has_warning(const aop_result_t *r, const char *path, aop_status_t *code) {
    for (unsigned i = 0; i < r->warnings.count; i++)
        if (strcmp(r->warnings.items[i].path, path) == 0) {
            if (code) *code = r->warnings.items[i].code;
            return true;
        }
    return false;
}

static char *warnings_text(const aop_result_t *r) {
    static char buf[2048];
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < r->warnings.count && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=%s", i ? ", " : "", r->warnings.items[i].path,
                              aop_status_name(r->warnings.items[i].code));
    return buf;
}

/* ---- success, head filling, signatures ------------------------------------------------------ */

static void success_all_functions(aop_sign_type_t type) {
    start_gateway();
    gw_behaviour_t b = {.sign_type = type};
    set_gw(&b);
    aop_client_config_t cfg = base_config();
    cfg.sign_type = type;
    aop_client_t *c = client_with(&cfg);
    for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++) {
        const aop_function_desc_t *fn = aop_functions[i];
        void *rq = sample_request(fn);
        ((aop_request_head_t *)rq)->sign_type = AOP_STR_NULL; /* the samples carry one */
        void *before = malloc(gw_any_request_size());
        memcpy(before, rq, gw_any_request_size());
        unsigned seen = gw_requests(G);

        aop_result_t *r = call(c, fn, rq);
        assert_success(r, fn);
        cr_assert_eq(r->warnings.count, 0, "%s: warnings %s", fn->name, warnings_text(r));
        cr_assert(is_uuid(r->req_msg_id), "%s: reqMsgId %s", fn->name, r->req_msg_id);
        cr_assert_geq(r->latency_ms, 0);
        cr_assert_eq(memcmp(before, rq, gw_any_request_size()), 0, "%s: the caller's request changed", fn->name);
        cr_assert_eq(gw_requests(G), seen + 1, "%s: one call, one HTTP request", fn->name);

        gw_record_t rec;
        gw_last(G, &rec);
        cr_assert(rec.valid);
        cr_assert_str_eq(rec.method, "POST");
        cr_assert_str_eq(rec.url, fn->path);
        cr_assert_eq(rec.fn, fn);
        cr_assert_str_eq(rec.content_type, "application/json; charset=UTF-8");
        cr_assert_eq(rec.envelope, AOP_OK, "%s", fn->name);
        cr_assert_eq(rec.verify, AOP_OK, "%s: the gateway could not verify the request (%s)", fn->name,
                     aop_sign_type_name(type));
        cr_assert_eq(rec.decode, AOP_OK, "%s: strict decode: %s", fn->name, rec.decode_msg);
        cr_assert_str_eq(rec.version, "2.0.0");
        cr_assert_str_eq(rec.function, fn->name);
        cr_assert_str_eq(rec.client_id, "211020000000000000044");
        cr_assert(is_rfc3339_offset(rec.req_time), "reqTime %s", rec.req_time);
        cr_assert_str_eq(rec.req_msg_id, r->req_msg_id);
        cr_assert_str_neq(rec.req_msg_id, "1234567asdfasdf1123fda", "the sample's reqMsgId was sent");
        cr_assert_str_eq(rec.sign_type, "", "version 2.0.0 sends no signType");
        /* the body is exactly {"request":<signed bytes>,"signature":"<sig>"} */
        cr_assert_eq(rec.payload_off, strlen("{\"request\":"));
        cr_assert_eq(memcmp(rec.body, "{\"request\":{\"head\":{", 20), 0);
        cr_assert_eq(rec.body_len, rec.payload_off + rec.payload_len + strlen(",\"signature\":\"\"}") +
                                       strlen(rec.signature));
        cr_assert_null(strchr(rec.signature, '%'), "send plain base64");

        /* a second call: a fresh reqMsgId */
        aop_result_t *r2 = call(c, fn, rq);
        assert_success(r2, fn);
        cr_assert_str_neq(r2->req_msg_id, r->req_msg_id);
        gw_record_t rec2;
        gw_last(G, &rec2);
        cr_assert_str_eq(rec2.req_msg_id, r2->req_msg_id);
        cr_assert_str_neq(rec2.req_msg_id, rec.req_msg_id);

        gw_record_free(&rec);
        gw_record_free(&rec2);
        aop_result_free(r);
        aop_result_free(r2);
        free(before);
        free(rq);
    }
    aop_client_free(c);
}

Test(client, success_every_function_rsa2) { success_all_functions(AOP_SIGN_RSA2); }
Test(client, success_every_function_rsa) { success_all_functions(AOP_SIGN_RSA); }

Test(client, decoded_response_is_the_gateways) {
    start_gateway();
    aop_client_t *c = default_client();
    aop_offline_pay_request_t rq;
    gw_sample_request(&aop_fn_offline_pay, &rq);
    rq.body.merchant_trans_id = aop_str("mtid-decoded-0001");
    aop_result_t *r = call(c, &aop_fn_offline_pay, &rq);
    assert_success(r, &aop_fn_offline_pay);
    const aop_offline_pay_response_t *p = r->response;
    cr_assert(aop_str_eq_cstr(p->body.merchant_trans_id, "mtid-decoded-0001"));
    cr_assert(aop_str_eq_cstr(p->body.acquirement_id, "2015032412007101547201351234"));
    cr_assert(aop_str_eq_cstr(p->head.req_msg_id, r->req_msg_id));
    cr_assert(aop_str_eq_cstr(r->result_code_id, "00000000"));
    cr_assert(aop_str_eq_cstr(r->result_msg, "success"));
    cr_assert_eq(p->body.user_site.value, AOP_SITE_ENUM_ALIPAY_CN);
    aop_result_free(r);
    aop_client_free(c);
}

/* The signType the gateway records for one payQuery of a client (version, sign type), with the
 * caller's own head.signType (NULL = none); "" when none was sent. */
static void sign_type_sent(const char *version, aop_sign_type_t type, const char *callers, const char *want) {
    gw_behaviour_t b = {.sign_type = type};
    set_gw(&b);
    aop_client_config_t cfg = base_config();
    cfg.version = version;
    cfg.sign_type = type;
    aop_client_t *c = client_with(&cfg);
    aop_offline_pay_query_request_t rq;
    gw_sample_request(&aop_fn_offline_pay_query, &rq);
    rq.head.sign_type = callers ? aop_str(callers) : AOP_STR_NULL;
    aop_result_t *r = call(c, &aop_fn_offline_pay_query, &rq);
    assert_success(r, &aop_fn_offline_pay_query);
    gw_record_t rec;
    gw_last(G, &rec);
    cr_assert_str_eq(rec.sign_type, want, "version %s, %s, caller %s", version, aop_sign_type_name(type),
                     callers ? callers : "none");
    if (!*want) cr_assert_null(memmem(rec.body, rec.body_len, "signType", 8));
    gw_record_free(&rec);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, head_sign_type_follows_the_version) {
    start_gateway();
    /* 2.0.0, the seed's profile, has no signType: never sent, whatever the hash */
    sign_type_sent("2.0.0", AOP_SIGN_RSA2, NULL, "");
    sign_type_sent("2.0.0", AOP_SIGN_RSA, NULL, "");
    /* from 2.0.2 on, RSA2 is sent */
    sign_type_sent("2.0.2", AOP_SIGN_RSA2, NULL, "RSA2");
    sign_type_sent("2.0.4", AOP_SIGN_RSA2, NULL, "RSA2");
    /* a caller's explicit value wins */
    sign_type_sent("2.0.0", AOP_SIGN_RSA2, "RSA2", "RSA2");
    /* SHA-1 with a version that knows only RSA2 is a configuration error; so is a bad version */
    aop_client_config_t cfg = base_config();
    cfg.version = "2.0.4";
    cfg.sign_type = AOP_SIGN_RSA;
    aop_error_t err;
    aop_client_t *c = NULL;
    cr_assert_eq(aop_client_new(&cfg, &c, &err), AOP_E_CONFIG);
    cr_assert_null(c);
    cr_assert_str_eq(err.path, "sign_type");
    cr_assert_not_null(strstr(err.msg, "2.0.4"), "%s", err.msg);
    cfg.version = "2.0";
    cfg.sign_type = AOP_SIGN_RSA2;
    cr_assert_eq(aop_client_new(&cfg, &c, &err), AOP_E_CONFIG);
    cr_assert_str_eq(err.path, "version");
}

Test(client, sign_type_mismatch_is_never_trusted) {
    start_gateway();
    gw_behaviour_t b = {.sign_type = AOP_SIGN_RSA}; /* the gateway hashes with SHA-1 */
    set_gw(&b);
    aop_client_t *c = default_client();          /* the client with SHA-256 */
    void *rq = sample_request(&aop_fn_offline_pay);
    aop_result_t *r = call(c, &aop_fn_offline_pay, rq);
    assert_unknown(r, "sign type mismatch");
    cr_assert_not(r->verified);
    cr_assert_eq(r->error, AOP_E_SIGNATURE_INVALID);
    gw_record_t rec;
    gw_last(G, &rec);
    cr_assert_neq(rec.verify, AOP_OK);
    /* the gateway answered INVALID_SIGNATURE (F): kept as a claim only */
    cr_assert(aop_str_eq_cstr(r->result_code, "INVALID_SIGNATURE"));
    cr_assert_eq(r->claimed_status, 'F');
    gw_record_free(&rec);
    aop_result_free(r);
    aop_client_free(c);
    free(rq);
}

Test(client, merchant_id_filled_when_absent) {
    start_gateway();
    aop_client_config_t cfg = base_config();
    cfg.merchant_id = "218820000000009999";
    aop_client_t *c = client_with(&cfg);
    for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++) {
        const aop_function_desc_t *fn = aop_functions[i];
        if (!fn->merchant) continue;
        void *rq = sample_request(fn);
        *(aop_str_t *)(void *)((char *)rq + fn->merchant->offset) = AOP_STR_NULL;
        aop_result_t *r = call(c, fn, rq);
        assert_success(r, fn);
        gw_record_t rec;
        gw_last(G, &rec);
        cr_assert_str_eq(rec.merchant_id, "218820000000009999", "%s", fn->name);
        gw_record_free(&rec);
        aop_result_free(r);
        /* the caller's own merchantId wins */
        *(aop_str_t *)(void *)((char *)rq + fn->merchant->offset) = aop_str("218820000000000000023");
        r = call(c, fn, rq);
        gw_last(G, &rec);
        cr_assert_str_eq(rec.merchant_id, "218820000000000000023", "%s", fn->name);
        gw_record_free(&rec);
        aop_result_free(r);
        free(rq);
    }
    aop_client_free(c);
}

Test(client, req_time_has_the_local_offset) {
    start_gateway();
    aop_client_t *c = default_client();
    void *rq = sample_request(&aop_fn_pay_cancel);
    static const struct {
        const char *tz, *suffix;
    } zones[] = {{"IST-5:30", "+05:30"}, {"NST3:30", "-03:30"}, {"UTC0", "+00:00"}};
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        setenv("TZ", zones[i].tz, 1);
        tzset();
        aop_result_t *r = call(c, &aop_fn_pay_cancel, rq);
        assert_success(r, &aop_fn_pay_cancel);
        gw_record_t rec;
        gw_last(G, &rec);
        cr_assert(is_rfc3339_offset(rec.req_time), "%s", rec.req_time);
        cr_assert_str_eq(rec.req_time + 19, zones[i].suffix, "TZ=%s: %s", zones[i].tz, rec.req_time);
        char local[32];
        aop_now_rfc3339(local);
        cr_assert_eq(strncmp(local, rec.req_time, 13), 0, "reqTime %s is not now (%s)", rec.req_time, local);
        gw_record_free(&rec);
        aop_result_free(r);
    }
    aop_client_free(c);
    free(rq);
}

/* Base64 to bytes (standard alphabet, padded). */
static size_t b64_decode(const char *s, unsigned char *out) {
    size_t n = strlen(s);
    int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    cr_assert_geq(len, 0);
    size_t pad = (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
    return (size_t)len - pad;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int openssl_verify(const char *hash, const char *pub, const char *sig_file, const char *payload_file) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "openssl dgst -%s -verify '%s/%s' -signature '%s' '%s' >/dev/null 2>&1", hash,
             AOP_TEST_DATA, pub, sig_file, payload_file);
    return system(cmd);
}

static void envelope_verified_by_openssl(aop_sign_type_t type) {
    start_gateway();
    gw_behaviour_t b = {.sign_type = type};
    set_gw(&b);
    aop_client_config_t cfg = base_config();
    cfg.sign_type = type;
    aop_client_t *c = client_with(&cfg);
    char dir[] = "/tmp/aop-client-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char payload_file[128], sig_file[128];
    snprintf(payload_file, sizeof payload_file, "%s/payload.json", dir);
    snprintf(sig_file, sizeof sig_file, "%s/sig.bin", dir);
    const char *hash = type == AOP_SIGN_RSA ? "sha1" : "sha256";
    const char *other = type == AOP_SIGN_RSA ? "sha256" : "sha1";
    for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++) {
        const aop_function_desc_t *fn = aop_functions[i];
        void *rq = sample_request(fn);
        aop_result_t *r = call(c, fn, rq);
        assert_success(r, fn);
        gw_record_t rec;
        gw_last(G, &rec);
        write_file(payload_file, rec.body + rec.payload_off, rec.payload_len);
        unsigned char sig[1024];
        size_t sig_len = b64_decode(rec.signature, sig);
        cr_assert_eq(sig_len, 256, "a 2048-bit signature");
        write_file(sig_file, sig, sig_len);
        cr_assert_eq(openssl_verify(hash, "merchant.spki.pem", sig_file, payload_file), 0,
                     "%s: openssl dgst -%s -verify rejects the request signature", fn->name, hash);
        cr_assert_neq(openssl_verify(hash, "gateway.spki.pem", sig_file, payload_file), 0);
        cr_assert_neq(openssl_verify(other, "merchant.spki.pem", sig_file, payload_file), 0);
        gw_record_free(&rec);
        aop_result_free(r);
        free(rq);
    }
    unlink(payload_file);
    unlink(sig_file);
    rmdir(dir);
    aop_client_free(c);
}

Test(client, request_envelope_verified_by_openssl_rsa2) { envelope_verified_by_openssl(AOP_SIGN_RSA2); }
Test(client, request_envelope_verified_by_openssl_rsa) { envelope_verified_by_openssl(AOP_SIGN_RSA); }

Test(client, response_signed_by_openssl_is_verified) {
    start_gateway();
    for (int t = 0; t < 2; t++) {
        aop_sign_type_t type = t ? AOP_SIGN_RSA : AOP_SIGN_RSA2;
        gw_behaviour_t b = {.sign_type = type, .key = GW_KEY_OPENSSL_CLI};
        set_gw(&b);
        aop_client_config_t cfg = base_config();
        cfg.sign_type = type;
        aop_client_t *c = client_with(&cfg);
        void *rq = sample_request(&aop_fn_offline_pay);
        aop_result_t *r = call(c, &aop_fn_offline_pay, rq);
        assert_success(r, &aop_fn_offline_pay);
        aop_result_free(r);
        aop_client_free(c);
        free(rq);
    }
}

Test(client, percent_encoded_and_escaped_signatures_are_accepted) {
    start_gateway();
    aop_client_t *c = default_client();
    void *rq = sample_request(&aop_fn_refund);
    /* One vendor sample %-encodes the base64; JSON allows writing '/' as \/ (PHP does). The
     * signature differs per call (reqMsgId, respTime), so a few calls meet both '+' and '/'. */
    gw_behaviour_t variants[] = {{.percent_sig = true}, {.escape_sig_slash = true}};
    for (size_t v = 0; v < 2; v++) {
        set_gw(&variants[v]);
        for (int k = 0; k < 3; k++) {
            aop_result_t *r = call(c, &aop_fn_refund, rq);
            assert_success(r, &aop_fn_refund);
            aop_result_free(r);
        }
    }
    aop_client_free(c);
    free(rq);
}

/* ---- responses that must not decide an outcome ---------------------------------------------- */

static aop_result_t *pay_with(const gw_behaviour_t *b, aop_client_t *c) {
    set_gw(b);
    void *rq = sample_request(&aop_fn_offline_pay);
    aop_result_t *r = call(c, &aop_fn_offline_pay, rq);
    free(rq);
    return r;
}

Test(client, tampered_body_is_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.tamper_body = true};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "tampered body");
    cr_assert_not(r->verified);
    cr_assert_eq(r->error, AOP_E_SIGNATURE_INVALID, "%s", aop_status_name(r->error));
    cr_assert_eq(r->claimed_status, 'S');
    cr_assert(aop_str_eq_cstr(r->result_code, "SUCCESS"), "the claim is kept for information");
    cr_assert(r->maybe_sent);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, signature_covers_the_exact_bytes) {
    start_gateway();
    aop_client_t *c = default_client();
    /* the same JSON with other whitespace than was signed: not the signed bytes */
    gw_behaviour_t b = {.space_after_signing = true};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "whitespace added after signing");
    cr_assert_eq(r->error, AOP_E_SIGNATURE_INVALID);
    aop_result_free(r);
    /* insignificant whitespace that was signed is fine: nothing is re-serialised */
    b = (gw_behaviour_t){.patch_from = "\"body\":{", .patch_to = "\"body\" :\n {"};
    r = pay_with(&b, c);
    assert_success(r, &aop_fn_offline_pay);
    aop_result_free(r);
    /* an echoed amount written as a JSON number is the same amount */
    b = (gw_behaviour_t){.patch_from = "\"orderAmount\":{\"currency\":\"USD\",\"value\":\"100\"}",
                         .patch_to = "\"orderAmount\":{\"currency\":\"USD\",\"value\":100}"};
    r = pay_with(&b, c);
    assert_success(r, &aop_fn_offline_pay);
    cr_assert(aop_str_eq_cstr(((const aop_offline_pay_response_t *)r->response)->body.order_amount.value, "100"));
    aop_result_free(r);
    /* ...but another number is another amount */
    b.patch_to = "\"orderAmount\":{\"currency\":\"USD\",\"value\":1000}";
    r = pay_with(&b, c);
    assert_unknown(r, "orderAmount 1000");
    cr_assert_eq(r->error, AOP_E_ECHO_MISMATCH);
    cr_assert_str_eq(r->detail.path, "response.body.orderAmount");
    aop_result_free(r);
    /* an escaped echo is compared after unescaping: "2\u002e0.0" is "2.0.0" */
    b = (gw_behaviour_t){.patch_from = "\"version\":\"2.0.0\"", .patch_to = "\"version\":\"2\\u002e0.0\""};
    r = pay_with(&b, c);
    assert_success(r, &aop_fn_offline_pay);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, tampered_signature_is_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.tamper_sig = true};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "tampered signature");
    cr_assert_not(r->verified);
    cr_assert_eq(r->error, AOP_E_SIGNATURE_INVALID, "%s", aop_status_name(r->error));
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, wrong_key_is_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.key = GW_KEY_MERCHANT};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "signed with the merchant key");
    cr_assert_not(r->verified);
    cr_assert_eq(r->error, AOP_E_SIGNATURE_INVALID);
    aop_result_free(r);
    b.key = GW_KEY_OTHER;
    r = pay_with(&b, c);
    assert_unknown(r, "signed with a stranger's key");
    cr_assert_not(r->verified);
    cr_assert_eq(r->error, AOP_E_SIGNATURE_INVALID);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, missing_signature_is_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.key = GW_KEY_NONE};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "no signature");
    cr_assert_not(r->verified);
    cr_assert_eq(r->error, AOP_E_SIGNATURE_MISSING, "%s", aop_status_name(r->error));
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, empty_signature_is_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    const char *body_fmt = "{\"response\":{},\"signature\":\"\"}";
    gw_behaviour_t b = {.raw_body = body_fmt};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "empty signature");
    cr_assert_not(r->verified);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, swapped_keys_are_unknown) {
    start_gateway();
    /* the merchant configured its keys the wrong way round */
    aop_client_config_t cfg = base_config();
    cfg.private_key_file = aop_test_private_key("gateway.pkcs8.pem");
    cfg.alipay_public_key_file = AOP_TEST_DATA "/merchant.spki.pem";
    aop_client_t *c = client_with(&cfg);
    aop_result_t *r = pay_with(&(gw_behaviour_t){0}, c);
    assert_unknown(r, "swapped keys");
    cr_assert_not(r->verified);
    gw_record_t rec;
    gw_last(G, &rec);
    cr_assert_eq(rec.verify, AOP_E_SIGNATURE_INVALID, "the gateway refuses the request's signature");
    cr_assert(aop_str_eq_cstr(r->result_code, "INVALID_SIGNATURE"));
    cr_assert_eq(r->claimed_status, 'F', "a claimed F...");
    cr_assert_eq(r->status, 'U', "...that is not verified stays unknown");
    gw_record_free(&rec);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, unverified_failure_claim_stays_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t lies[] = {
        {.result_code = "RISK_REJECT", .key = GW_KEY_MERCHANT},
        {.result_code = "RISK_REJECT", .key = GW_KEY_OTHER},
        {.result_code = "RISK_REJECT", .key = GW_KEY_NONE},
        {.result_code = "RISK_REJECT", .tamper_sig = true},
        {.result_code = "RISK_REJECT", .tamper_body = true},
        {.result_code = "USER_BALANCE_NOT_ENOUGH", .key = GW_KEY_NONE},
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        aop_result_t *r = pay_with(&lies[i], c);
        assert_unknown(r, lies[i].result_code);
        cr_assert_not(r->verified, "case %zu", i);
        cr_assert_eq(r->claimed_status, 'F', "case %zu", i);
        cr_assert(aop_str_eq_cstr(r->result_code, lies[i].result_code), "case %zu: claimed code kept", i);
        cr_assert_not_null(r->code, "case %zu", i);
        cr_assert_str_eq(r->code->code, lies[i].result_code);
        aop_result_free(r);
    }
    /* the same failure, signed properly, is a definite F */
    gw_behaviour_t honest = {.result_code = "RISK_REJECT"};
    aop_result_t *r = pay_with(&honest, c);
    cr_assert_eq(r->status, 'F', "%s %s", aop_status_name(r->error), r->detail.msg);
    cr_assert(r->outcome_known);
    cr_assert(r->verified);
    cr_assert_eq(r->error, AOP_OK);
    cr_assert(aop_str_eq_cstr(r->result_code_id, "00000011"));
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, gateway_unknown_status_is_unknown_but_verified) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.result_code = "PAYMENT_IN_PROCESS"};
    aop_result_t *r = pay_with(&b, c);
    cr_assert_eq(r->status, 'U');
    cr_assert_not(r->outcome_known);
    cr_assert(r->verified);
    cr_assert_eq(r->claimed_status, 'U');
    cr_assert(aop_str_eq_cstr(r->result_code, "PAYMENT_IN_PROCESS"));
    aop_result_free(r);
    aop_client_free(c);
}

/* A signed answer that contradicts itself decides nothing, for every function: F with the code
 * SUCCESS, S with a failure code. */
static void status_f(const aop_function_desc_t *fn, void *rs) {
    ((aop_result_info_t *)(void *)((char *)rs + fn->result_info->offset))->result_status.value = AOP_RESULT_STATUS_ENUM_F;
}
static void status_s(const aop_function_desc_t *fn, void *rs) {
    ((aop_result_info_t *)(void *)((char *)rs + fn->result_info->offset))->result_status.value = AOP_RESULT_STATUS_ENUM_S;
}

Test(client, contradictory_answer_is_unknown_for_every_function) {
    start_gateway();
    aop_client_t *c = default_client();
    const gw_behaviour_t lies[] = {
        {.edit = status_f},                                     /* F SUCCESS */
        {.result_code = "PROCESS_FAIL", .edit = status_s},      /* S PROCESS_FAIL */
        {.result_code = "UNKNOWN_EXCEPTION", .edit = status_s}, /* S UNKNOWN_EXCEPTION (a U code) */
    };
    for (unsigned f = 0; f < AOP_FUNCTION_COUNT; f++) {
        const aop_function_desc_t *fn = aop_functions[f];
        for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
            set_gw(&lies[i]);
            void *rq = sample_request(fn);
            aop_result_t *r = call(c, fn, rq);
            free(rq);
            assert_unknown(r, fn->name);
            cr_expect(r->verified, "%s case %zu: signed, verified, and still undecided", fn->name, i);
            cr_expect_eq(r->error, AOP_E_CONTRADICTION, "%s case %zu: %s %s", fn->name, i, aop_status_name(r->error),
                         r->detail.msg);
            cr_expect_not_null(strstr(r->detail.msg, "contradicts"), "%s", r->detail.msg);
            cr_expect_not_null(strstr(r->detail.msg, r->code ? r->code->code : "?"), "%s", r->detail.msg);
            aop_result_free(r);
        }
    }
    aop_client_free(c);
}

/* ---- echo pairs, every one of every function --------------------------------------------- */

Test(client, every_changed_echo_is_a_protocol_error) {
    start_gateway();
    aop_client_t *c = default_client();
    unsigned checked = 0;
    for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++) {
        const aop_function_desc_t *fn = aop_functions[i];
        cr_assert_gt(fn->n_echo, 0, "%s has no echo pairs", fn->name);
        void *rq = sample_request(fn);
        for (unsigned k = 0; k < fn->n_echo; k++) {
            const aop_echo_desc_t *e = &fn->echo[k];
            /* the sample sends every echoed field (head fields are filled by the client) */
            if (strncmp(e->request.path, "request.head.", 13) != 0)
                cr_assert(aop_ref_present(&e->request, rq), "%s: the sample lacks %s", fn->name, e->request.path);
            gw_behaviour_t b = {.echo_change = k + 1};
            set_gw(&b);
            aop_result_t *r = call(c, fn, rq);
            assert_unknown(r, e->response.path);
            cr_assert(r->verified, "%s: the lie is signed", e->response.path);
            cr_assert_eq(r->error, AOP_E_ECHO_MISMATCH, "%s %s: %s (%s)", fn->name, e->response.path,
                         aop_status_name(r->error), r->detail.msg);
            cr_assert_str_eq(r->detail.path, e->response.path, "%s", fn->name);
            cr_assert_eq(r->claimed_status, 'S');
            aop_result_free(r);
            checked++;
        }
        free(rq);
    }
    cr_assert_geq(checked, 4 * 4, "the head's four echoes at least, per function");
    aop_client_free(c);
}

Test(client, every_dropped_echo_me_unknown_ce_stands) {
    start_gateway();
    aop_client_t *c = default_client();
    for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++) {
        const aop_function_desc_t *fn = aop_functions[i];
        void *rq = sample_request(fn);
        for (unsigned k = 0; k < fn->n_echo; k++) {
            const aop_echo_desc_t *e = &fn->echo[k];
            gw_behaviour_t b = {.echo_drop = k + 1};
            set_gw(&b);
            aop_result_t *r = call(c, fn, rq);
            if (e->mandatory) {
                assert_unknown(r, e->response.path);
                cr_assert(r->verified);
            } else {
                /* a CE echo may be absent, never different: the outcome stands */
                cr_assert_eq(r->status, 'S', "%s without %s: %s %s", fn->name, e->response.path,
                             aop_status_name(r->error), r->detail.msg);
                cr_assert(r->outcome_known);
            }
            aop_result_free(r);
        }
        free(rq);
    }
    aop_client_free(c);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

Test(client, slow_gateway_times_out_within_the_deadline) {
    start_gateway();
    gw_behaviour_t b = {.sleep_ms = 3000};
    set_gw(&b);
    aop_client_t *c = default_client();
    void *rq = sample_request(&aop_fn_offline_pay);
    long t0 = aop_test_mono_ms();
    aop_result_t *r = call_within(c, &aop_fn_offline_pay, rq, 1000);
    long took = aop_test_mono_ms() - t0;
    assert_unknown(r, "timeout");
    cr_assert_eq(r->error, AOP_E_TIMEOUT, "%s: %s", aop_status_name(r->error), r->detail.msg);
    cr_assert(r->maybe_sent);
    cr_assert_not(r->verified);
    cr_assert_eq(r->http_status, 0);
    cr_assert_geq(took, 900, "returned after %ld ms", took);
    cr_assert_leq(took, 2000, "returned after %ld ms, the deadline is 1000", took);
    cr_assert_leq(r->latency_ms, 2000);
    cr_assert_null(r->response);
    aop_result_free(r);
    free(rq);
    aop_client_free(c);
}

Test(client, deadlines_are_per_call) {
    start_gateway();
    gw_behaviour_t b = {.sleep_ms = 1200};
    set_gw(&b);
    aop_client_t *c = default_client();
    void *rq = sample_request(&aop_fn_offline_pay_query);
    long t0 = aop_test_mono_ms();
    aop_result_t *r = call_within(c, &aop_fn_offline_pay_query, rq, 400); /* only this call is short */
    cr_assert_eq(r->error, AOP_E_TIMEOUT);
    cr_assert_leq(aop_test_mono_ms() - t0, 1100);
    aop_result_free(r);
    free(rq);
    rq = sample_request(&aop_fn_pay_cancel); /* default 10 s: waits for the slow answer */
    r = call(c, &aop_fn_pay_cancel, rq);
    assert_success(r, &aop_fn_pay_cancel);
    aop_result_free(r);
    free(rq);
    aop_client_free(c);
}

/* A transport of the test's own (terminals may bring theirs): records what the client asks. */
typedef struct {
    aop_transport_t base;
    int posts, destroyed;
    long deadline_ms;
    char url[256];
} fake_transport_t;

static aop_status_t fake_post(aop_transport_t *t, const aop_http_request_t *req, aop_http_response_t *resp,
                              aop_error_t *err) {
    fake_transport_t *f = t->ctx;
    f->posts++;
    f->deadline_ms = req->deadline_ms;
    snprintf(f->url, sizeof f->url, "%s", req->url);
    resp->status = 0;
    resp->maybe_sent = false;
    resp->elapsed_ms = 3;
    return aop_error_set(err, AOP_E_TRANSPORT, NULL, -1, "the fake network is down");
}

static void fake_destroy(aop_transport_t *t) { ((fake_transport_t *)t->ctx)->destroyed++; }

Test(client, borrowed_transport_and_default_deadlines) {
    fake_transport_t f = {{fake_post, fake_destroy, NULL}, 0, 0, 0, ""};
    f.base.ctx = &f;
    aop_client_config_t cfg = base_config();
    cfg.gateway_url = "https://open-sea.alipay.com/api/";
    cfg.transport = &f.base;
    aop_client_t *c = client_with(&cfg);
    static const struct {
        const aop_function_desc_t *fn;
        long deadline;
    } want[] = {{&aop_fn_offline_pay, 15000}, {&aop_fn_offline_pay_query, 8000}, {&aop_fn_pay_cancel, 10000},
                {&aop_fn_refund, 1234}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        void *rq = sample_request(want[i].fn);
        aop_result_t *r = want[i].fn == &aop_fn_refund ? call_within(c, want[i].fn, rq, 1234) : call(c, want[i].fn, rq);
        assert_unknown(r, want[i].fn->name);
        cr_assert_eq(r->error, AOP_E_TRANSPORT);
        cr_assert_not(r->maybe_sent, "the transport said it never left");
        cr_assert_str_eq(r->detail.msg, "the fake network is down");
        cr_assert_eq(r->latency_ms, 3);
        cr_assert_eq(f.deadline_ms, want[i].deadline, "%s", want[i].fn->name);
        char url[256];
        snprintf(url, sizeof url, "https://open-sea.alipay.com/api%s", want[i].fn->path);
        cr_assert_str_eq(f.url, url);
        aop_result_free(r);
        free(rq);
    }
    cr_assert_eq(f.posts, 4);
    aop_client_free(c);
    cr_assert_eq(f.destroyed, 0, "a borrowed transport belongs to the caller");
}

/* A port on 127.0.0.1 bound but not listening: connecting is refused. */
static int refused_port(unsigned *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

Test(client, connection_refused_is_unknown_and_not_sent) {
    unsigned port;
    int fd = refused_port(&port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", port);
    aop_client_config_t cfg = base_config();
    cfg.gateway_url = url;
    aop_client_t *c = client_with(&cfg);
    void *rq = sample_request(&aop_fn_offline_pay);
    aop_result_t *r = call(c, &aop_fn_offline_pay, rq);
    assert_unknown(r, "refused");
    cr_assert_eq(r->error, AOP_E_CONNECT, "%s", aop_status_name(r->error));
    cr_assert_not(r->maybe_sent);
    cr_assert_eq(r->http_status, 0);
    cr_assert(is_uuid(r->req_msg_id));
    aop_result_free(r);
    free(rq);
    aop_client_free(c);
    close(fd);
}

Test(client, http_500_is_unknown_even_when_signed) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.http_status = 500}; /* a well-signed S body, with status 500 */
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "HTTP 500");
    cr_assert_eq(r->error, AOP_E_HTTP_STATUS);
    cr_assert_eq(r->http_status, 500);
    cr_assert(r->maybe_sent);
    aop_result_free(r);
    b = (gw_behaviour_t){.http_status = 500, .raw_body = "<html>Internal Server Error</html>"};
    r = pay_with(&b, c);
    assert_unknown(r, "HTTP 500 html");
    cr_assert_eq(r->error, AOP_E_HTTP_STATUS);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, garbage_and_broken_bodies_are_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    const char *bodies[] = {
        "not json",
        "",
        "{}",
        "[]",
        "{\"response\":{}}",
        "{\"response\":[],\"signature\":\"abc\"}",
        "{\"response\":{},\"signature\":1}",
        "{\"response\":{\"head\":{},\"body\":{}},\"signature\":\"AAAA\"} trailing",
        "{\"response\":{\"a\":1,\"a\":2},\"signature\":\"AAAA\"}",
        "{\"response\":{},\"signature\":\"AAAA\",\"extra\":true}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        gw_behaviour_t b = {.raw_body = bodies[i]};
        aop_result_t *r = pay_with(&b, c);
        assert_unknown(r, bodies[i]);
        cr_assert_not(r->verified, "%s", bodies[i]);
        cr_assert_eq(r->http_status, 200);
        aop_result_free(r);
    }
    aop_client_free(c);
}

Test(client, oversized_body_and_redirect_are_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    size_t big = AOP_HTTP_MAX_BODY + 100;
    char *body = malloc(big + 1);
    cr_assert_not_null(body);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = '\0';
    gw_behaviour_t b = {.raw_body = body};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "over 1 MiB");
    cr_assert_eq(r->error, AOP_E_BODY_TOO_LARGE, "%s", aop_status_name(r->error));
    cr_assert(r->maybe_sent);
    aop_result_free(r);
    free(body);
    /* a redirect is not followed (and says nothing about the payment) */
    b = (gw_behaviour_t){.http_status = 302};
    r = pay_with(&b, c);
    assert_unknown(r, "302");
    cr_assert_eq(r->error, AOP_E_HTTP_STATUS);
    cr_assert_eq(r->http_status, 302);
    aop_result_free(r);
    cr_assert_eq(gw_requests(G), 2, "nothing was retried or followed");
    aop_client_free(c);
}

Test(client, truncated_body_is_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.truncate = true};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "truncated");
    cr_assert(r->maybe_sent);
    cr_assert_not(r->verified);
    aop_result_free(r);
    aop_client_free(c);
}

/* ---- docs/protocol.md section 7: informational deviations are warnings --------------------- */

Test(client, wrong_type_informational_field_is_a_warning) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.patch_from = "\"createTime\":\"2001-07-04T12:08:56+05:30\"", .patch_to = "\"createTime\":5"};
    aop_result_t *r = pay_with(&b, c);
    assert_success(r, &aop_fn_offline_pay);
    aop_status_t code = AOP_OK;
    cr_assert(has_warning(r, "response.body.createTime", &code), "warnings: %s", warnings_text(r));
    cr_assert_eq(code, AOP_E_WRONG_TYPE, "%s", aop_status_name(code));
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, unknown_member_is_a_warning) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.patch_from = "\"body\":{", .patch_to = "\"body\":{\"surprise\":{\"x\":[1,2]},"};
    aop_result_t *r = pay_with(&b, c);
    assert_success(r, &aop_fn_offline_pay);
    aop_status_t code = AOP_OK;
    cr_assert(has_warning(r, "response.body.surprise", &code), "warnings: %s", warnings_text(r));
    cr_assert_eq(code, AOP_E_UNKNOWN_MEMBER);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, other_informational_deviations_are_warnings) {
    start_gateway();
    aop_client_t *c = default_client();
    static const struct {
        const char *from, *to, *path;
    } cases[] = {
        {"\"userSite\":\"ALIPAY_CN\"", "\"userSite\":\"MARS_PAY\"", "response.body.userSite"},
        {"\"createTime\":\"2001-07-04T12:08:56+05:30\"", "\"createTime\":\"yesterday\"", "response.body.createTime"},
        {"\"payAmount\":{", "\"payAmount\":{\"bogus\":1,", "response.body.payAmount.bogus"},
        {"\"acquirementId\":\"2015032412007101547201351234\"",
         "\"acquirementId\":\"20150324120071015472013512342015032412007101547201351234201503241200710154720135123420150324\"",
         "response.body.acquirementId"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_behaviour_t b = {.patch_from = cases[i].from, .patch_to = cases[i].to};
        aop_result_t *r = pay_with(&b, c);
        assert_success(r, &aop_fn_offline_pay);
        cr_assert(has_warning(r, cases[i].path, NULL), "%s: warnings: %s", cases[i].path, warnings_text(r));
        aop_result_free(r);
    }
    aop_client_free(c);
}

Test(client, pay_success_without_acquirement_id_is_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    gw_behaviour_t b = {.remove_path = "response.body.acquirementId"};
    aop_result_t *r = pay_with(&b, c);
    assert_unknown(r, "pay S without acquirementId");
    cr_assert(r->verified);
    cr_assert_eq(r->claimed_status, 'S');
    aop_result_free(r);
    /* a failure needs none */
    b.result_code = "RISK_REJECT";
    r = pay_with(&b, c);
    cr_assert_eq(r->status, 'F', "%s %s", aop_status_name(r->error), r->detail.msg);
    cr_assert(r->outcome_known);
    aop_result_free(r);
    aop_client_free(c);
}

Test(client, broken_result_info_is_unknown) {
    start_gateway();
    aop_client_t *c = default_client();
    static const struct {
        const char *from, *to;
    } cases[] = {
        {"\"resultStatus\":\"S\"", "\"resultStatus\":\"X\""},
        {"\"resultStatus\":\"S\"", "\"resultStatus\":1"},
        {"\"resultStatus\":\"S\",", ""},
        {"\"resultCode\":\"SUCCESS\"", "\"resultCode\":7"},
        {"\"resultInfo\":{", "\"resultInfo\":\"S\",\"x\":{"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_behaviour_t b = {.patch_from = cases[i].from, .patch_to = cases[i].to};
        aop_result_t *r = pay_with(&b, c);
        cr_assert_eq(r->status, 'U', "%s -> %s: status %c", cases[i].from, cases[i].to, r->status ? r->status : '0');
        cr_assert_not(r->outcome_known, "%s -> %s", cases[i].from, cases[i].to);
        cr_assert_neq(r->error, AOP_OK, "%s -> %s: the reason is named", cases[i].from, cases[i].to);
        cr_assert(r->verified, "%s -> %s", cases[i].from, cases[i].to);
        aop_result_free(r);
    }
    aop_client_free(c);
}

/* ---- validation stops the call before anything is sent ------------------------------------ */

Test(client, validation_errors_send_nothing) {
    start_gateway();
    aop_client_t *c = default_client();
    aop_offline_pay_request_t rq;
    aop_error_t err;
    aop_result_t *r = (aop_result_t *)&err; /* must become NULL */

    gw_sample_request(&aop_fn_offline_pay, &rq);
    rq.body.identity_code = rep('7', AOP_OFFLINE_PAY_REQUEST_BODY_IDENTITY_CODE_MAX + 1, "");
    aop_status_t st = aop_call(c, &aop_fn_offline_pay, &rq, NULL, &r, &err);
    cr_assert_eq(st, AOP_E_TOO_LONG, "%s", aop_status_name(st));
    cr_assert_null(r);
    cr_assert_str_eq(err.path, "request.body.identityCode");
    cr_assert_null(strstr(err.msg, "7777"), "the secret leaked into the message");

    gw_sample_request(&aop_fn_offline_pay, &rq);
    rq.body.order.order_amount.value = aop_str("01");
    r = (aop_result_t *)&err;
    st = aop_offline_pay(c, &rq, NULL, &r, &err);
    cr_assert_eq(st, AOP_E_BAD_AMOUNT, "%s", aop_status_name(st));
    cr_assert_null(r);
    cr_assert_str_eq(err.path, "request.body.order.orderAmount.value");

    gw_sample_request(&aop_fn_offline_pay, &rq);
    rq.body.merchant_trans_id = AOP_STR_NULL;
    st = aop_offline_pay(c, &rq, NULL, &r, &err);
    cr_assert_eq(st, AOP_E_MISSING, "%s", aop_status_name(st));
    cr_assert_str_eq(err.path, "request.body.merchantTransId");

    aop_offline_pay_query_request_t q;
    gw_sample_request(&aop_fn_offline_pay_query, &q);
    q.body.acquirement_id = AOP_STR_NULL;
    q.body.merchant_trans_id = AOP_STR_NULL;
    st = aop_offline_pay_query(c, &q, NULL, &r, &err);
    cr_assert_eq(st, AOP_E_ONE_OF_REQUIRED, "%s", aop_status_name(st));

    aop_refund_request_t rf;
    gw_sample_request(&aop_fn_refund, &rf);
    rf.body.refund_amount.currency = aop_str("usd");
    st = aop_refund(c, &rf, NULL, &r, &err);
    cr_assert_eq(st, AOP_E_BAD_CURRENCY, "%s", aop_status_name(st));
    cr_assert_str_eq(err.path, "request.body.refundAmount.currency");

    cr_assert_eq(gw_requests(G), 0, "a request that breaks a rule reached the gateway");
    st = aop_call(c, &aop_fn_offline_pay, NULL, NULL, &r, &err);
    cr_assert_eq(st, AOP_E_INVALID_ARG);
    aop_client_free(c);
}

/* ---- configuration ------------------------------------------------------------------------- */

static aop_status_t try_new(const aop_client_config_t *cfg, aop_error_t *err) {
    aop_client_t *c = (aop_client_t *)err;
    aop_status_t st = aop_client_new(cfg, &c, err);
    if (st != AOP_OK) cr_assert_null(c);
    aop_client_free(c);
    return st;
}

Test(client, config_errors) {
    aop_error_t err;
    aop_client_config_t cfg = base_config();
    cfg.alipay_public_key_file = AOP_TEST_DATA "/merchant.spki.pem";
    cr_assert_eq(try_new(&cfg, &err), AOP_E_KEY_MISMATCH);
    cr_assert_str_eq(err.path, "alipay_public_key");

    cfg = base_config();
    cfg.alipay_public_key_file = NULL;
    size_t n;
    char *b64 = aop_test_read("merchant.spki.b64", &n);
    cfg.alipay_public_key = b64; /* the bare base64 form, still the merchant's own */
    cr_assert_eq(try_new(&cfg, &err), AOP_E_KEY_MISMATCH);
    free(b64);

    cfg = base_config();
    cfg.gateway_url = "http://open-sea.alipay.com";
    cr_assert_eq(try_new(&cfg, &err), AOP_E_INSECURE_URL);
    cr_assert_str_eq(err.path, "gateway_url");
    cfg.gateway_url = "http://10.1.2.3:8080";
    cr_assert_eq(try_new(&cfg, &err), AOP_E_INSECURE_URL);
    cfg.gateway_url = "";
    cr_assert_eq(try_new(&cfg, &err), AOP_E_CONFIG);

    cfg = base_config();
    cfg.private_key_file = NULL;
    cr_assert_eq(try_new(&cfg, &err), AOP_E_CONFIG);
    cr_assert_str_eq(err.path, "private_key");
    cfg = base_config();
    cfg.alipay_public_key_file = NULL;
    cr_assert_eq(try_new(&cfg, &err), AOP_E_CONFIG);
    cr_assert_str_eq(err.path, "alipay_public_key");
    cfg = base_config();
    cfg.client_id = NULL;
    cr_assert_eq(try_new(&cfg, &err), AOP_E_CONFIG);
    cr_assert_str_eq(err.path, "client_id");
    cfg = base_config();
    cfg.sign_type = (aop_sign_type_t)7;
    cr_assert_eq(try_new(&cfg, &err), AOP_E_CONFIG);
    cfg = base_config();
    cfg.private_key_file = aop_test_private_key("merchant.pkcs8.enc.pem");
    cr_assert_eq(try_new(&cfg, &err), AOP_E_KEY_ENCRYPTED);
    cfg.private_key_passphrase = "test-passphrase";
    cr_assert_eq(try_new(&cfg, &err), AOP_OK, "%s", err.msg);
    cfg = base_config();
    cfg.private_key_file = aop_test_private_key("weak-1024.pkcs8.pem");
    cr_assert_eq(try_new(&cfg, &err), AOP_E_KEY_WEAK);
    cfg = base_config();
    cfg.private_key_file = AOP_TEST_DATA "/no-such-key.pem";
    cr_assert_neq(try_new(&cfg, &err), AOP_OK);
    cfg = base_config();
    cfg.connect_timeout_ms = -1;
    cr_assert_eq(try_new(&cfg, &err), AOP_E_CONFIG);
    cr_assert_eq(aop_client_new(NULL, &(aop_client_t *){NULL}, &err), AOP_E_CONFIG);
    aop_client_free(NULL);
    aop_result_free(NULL);
}

Test(client, keys_from_memory_and_bare_base64) {
    start_gateway();
    size_t n;
    char *priv = aop_test_read("merchant.pkcs1.pem", &n);
    char *pub = aop_test_read("gateway.spki.b64", &n);
    aop_client_config_t cfg = base_config();
    cfg.private_key_file = NULL;
    cfg.alipay_public_key_file = NULL;
    cfg.private_key = priv;
    cfg.alipay_public_key = pub;
    cfg.gateway_url = NULL;
    char url[80];
    snprintf(url, sizeof url, "%s///", gw_url(G)); /* trailing slashes are trimmed */
    cfg.gateway_url = url;
    aop_client_t *c = client_with(&cfg);
    char mf[AOP_FINGERPRINT_MAX], af[AOP_FINGERPRINT_MAX];
    aop_client_fingerprints(c, mf, af);
    cr_assert_eq(strncmp(mf, "SHA256:", 7), 0);
    cr_assert_str_neq(mf, af);
    void *rq = sample_request(&aop_fn_refund);
    aop_result_t *r = call(c, &aop_fn_refund, rq);
    assert_success(r, &aop_fn_refund);
    gw_record_t rec;
    gw_last(G, &rec);
    cr_assert_str_eq(rec.url, aop_fn_refund.path);
    gw_record_free(&rec);
    aop_result_free(r);
    free(rq);
    aop_client_free(c);
    free(priv);
    free(pub);
}

Test(client, known_gateway_without_its_path_prefix_is_refused) {
    static const struct {
        const char *url, *fix;
    } refused[] = {{"https://open-sea.alipay.com", AOP_HOST_PRODUCTION},
                   {"https://open-sea.alipay.com/", AOP_HOST_PRODUCTION},
                   {"https://OPEN-NA.alipay.com/alipay", AOP_HOST_NORTH_AMERICA},
                   {"https://isupergw.alipaydev.com", AOP_HOST_SANDBOX}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        aop_client_config_t cfg = base_config();
        cfg.gateway_url = refused[i].url;
        aop_client_t *c = NULL;
        aop_error_t err;
        cr_assert_eq(aop_client_new(&cfg, &c, &err), AOP_E_CONFIG, "%s", refused[i].url);
        cr_assert_null(c);
        cr_assert_str_eq(err.path, "gateway_url");
        cr_assert_not_null(strstr(err.msg, refused[i].fix), "%s: %s", refused[i].url, err.msg);
    }
    static const char *const accepted[] = {AOP_HOST_PRODUCTION, AOP_HOST_PRODUCTION "/", AOP_HOST_NORTH_AMERICA,
                                           AOP_HOST_SANDBOX, "https://open-sea.alipay.com.example.org",
                                           "https://gateway.example.org"};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        aop_client_config_t cfg = base_config();
        cfg.gateway_url = accepted[i];
        aop_client_t *c = NULL;
        aop_error_t err;
        cr_assert_eq(aop_client_new(&cfg, &c, &err), AOP_OK, "%s: %s", accepted[i], err.msg);
        aop_client_free(c);
    }
}

/* ---- the event hook ------------------------------------------------------------------------ */

typedef struct {
    int calls;
    char function[160];
    char req_msg_id[64];
    char idem[96];
    long latency_ms, http_status;
    char status;
    bool outcome_known;
    aop_status_t error;
    unsigned attempt;
    char *masked;
} events_t;

static void on_event(const aop_event_t *ev, void *ctx) {
    events_t *e = ctx;
    e->calls++;
    snprintf(e->function, sizeof e->function, "%s", ev->function);
    snprintf(e->req_msg_id, sizeof e->req_msg_id, "%s", ev->req_msg_id);
    copy_cstr(e->idem, sizeof e->idem, ev->idempotency_key);
    e->latency_ms = ev->latency_ms;
    e->http_status = ev->http_status;
    e->status = ev->status;
    e->outcome_known = ev->outcome_known;
    e->error = ev->error;
    e->attempt = ev->attempt;
    free(e->masked);
    e->masked = strdup(ev->masked_request ? ev->masked_request : "");
}

#define SECRET_CODE "ZQ81726354099887766XY"

Test(client, event_hook_masks_the_identity_code) {
    start_gateway();
    events_t ev = {0};
    aop_client_config_t cfg = base_config();
    cfg.on_event = on_event;
    cfg.event_ctx = &ev;
    aop_client_t *c = client_with(&cfg);
    aop_offline_pay_request_t rq;
    gw_sample_request(&aop_fn_offline_pay, &rq);
    rq.body.identity_code = aop_str(SECRET_CODE);
    rq.body.merchant_trans_id = aop_str("mtid-event-42");
    aop_result_t *r = call(c, &aop_fn_offline_pay, &rq);
    assert_success(r, &aop_fn_offline_pay);
    cr_assert_eq(ev.calls, 1);
    cr_assert_str_eq(ev.function, aop_fn_offline_pay.name);
    cr_assert_str_eq(ev.req_msg_id, r->req_msg_id);
    cr_assert_str_eq(ev.idem, "mtid-event-42");
    cr_assert_eq(ev.attempt, 1);
    cr_assert_eq(ev.status, 'S');
    cr_assert(ev.outcome_known);
    cr_assert_eq(ev.error, AOP_OK);
    cr_assert_eq(ev.http_status, 200);
    cr_assert_geq(ev.latency_ms, 0);
    cr_assert_eq(ev.latency_ms, r->latency_ms);
    cr_assert_not_null(ev.masked);
    cr_assert_null(strstr(ev.masked, SECRET_CODE), "the identity code leaked: %s", ev.masked);
    cr_assert_null(strstr(ev.masked, "81726354"), "part of the identity code leaked: %s", ev.masked);
    char masked[64];
    aop_mask(SECRET_CODE, strlen(SECRET_CODE), masked, sizeof masked);
    cr_assert_str_eq(masked, "ZQ*****************XY");
    char want[96];
    snprintf(want, sizeof want, "\"identityCode\":\"%s\"", masked);
    cr_assert_not_null(strstr(ev.masked, want), "%s", ev.masked);
    cr_assert_not_null(strstr(ev.masked, r->req_msg_id), "the request as sent");
    cr_assert_eq(strncmp(ev.masked, "{\"head\":{", 9), 0, "%s", ev.masked);
    cr_assert_null(strstr(ev.masked, "signature"));
    /* ...while the gateway got the real code */
    gw_record_t rec;
    gw_last(G, &rec);
    cr_assert_not_null(strstr(rec.body, SECRET_CODE));
    gw_record_free(&rec);
    /* the caller's request still holds it */
    cr_assert(aop_str_eq_cstr(rq.body.identity_code, SECRET_CODE));
    aop_result_free(r);

    /* one event per call, also when the outcome is unknown */
    gw_behaviour_t b = {.tamper_sig = true};
    set_gw(&b);
    r = call(c, &aop_fn_offline_pay, &rq);
    cr_assert_eq(ev.calls, 2);
    cr_assert_eq(ev.status, 'U');
    cr_assert_not(ev.outcome_known);
    cr_assert_eq(ev.error, AOP_E_SIGNATURE_INVALID);
    cr_assert_null(strstr(ev.masked, SECRET_CODE));
    aop_result_free(r);

    /* and none when nothing was sent */
    rq.body.order.order_amount.value = aop_str("-1");
    aop_error_t err;
    cr_assert_eq(aop_offline_pay(c, &rq, NULL, &r, &err), AOP_E_BAD_AMOUNT);
    cr_assert_eq(ev.calls, 2);

    /* functions without sensitive fields and without an idempotency key */
    void *q = sample_request(&aop_fn_offline_pay_query);
    set_gw(NULL);
    r = call(c, &aop_fn_offline_pay_query, q);
    cr_assert_eq(ev.calls, 3);
    cr_assert_str_eq(ev.function, aop_fn_offline_pay_query.name);
    cr_assert_str_eq(ev.idem, "");
    cr_assert_not_null(strstr(ev.masked, "\"merchantTransId\":\"51051001000000000002\""), "%s", ev.masked);
    aop_result_free(r);
    free(q);
    free(ev.masked);
    aop_client_free(c);
}

Test(client, long_and_multibyte_identity_codes_are_masked) {
    start_gateway();
    events_t ev = {0};
    aop_client_config_t cfg = base_config();
    cfg.on_event = on_event;
    cfg.event_ctx = &ev;
    aop_client_t *c = client_with(&cfg);
    aop_offline_pay_request_t rq;
    gw_sample_request(&aop_fn_offline_pay, &rq);
    /* 300 characters: the masked form keeps the real last two */
    char longcode[301];
    for (int i = 0; i < 300; i++) longcode[i] = (char)('0' + i % 10);
    longcode[298] = 'Q';
    longcode[299] = 'R';
    longcode[300] = '\0';
    rq.body.identity_code = aop_str(longcode);
    aop_result_t *r = call(c, &aop_fn_offline_pay, &rq);
    assert_success(r, &aop_fn_offline_pay);
    cr_assert_eq(ev.calls, 1);
    cr_assert_not_null(strstr(ev.masked, "\"identityCode\":\"01*"), "%s", ev.masked);
    cr_assert_not_null(strstr(ev.masked, "*QR\""), "%s", ev.masked);
    cr_assert_null(strstr(ev.masked, "23456789"), "%s", ev.masked);
    aop_result_free(r);
    /* multi-byte characters are masked whole: the event still has the request */
    rq.body.identity_code = aop_str("\xc3\xa9\xc3\xa9" "123456" "\xe2\x82\xac\xe2\x82\xac");
    r = call(c, &aop_fn_offline_pay, &rq);
    assert_success(r, &aop_fn_offline_pay);
    cr_assert_eq(ev.calls, 2);
    cr_assert_not_null(strstr(ev.masked, "\"identityCode\":\"\xc3\xa9\xc3\xa9******\xe2\x82\xac\xe2\x82\xac\""),
                       "%s", ev.masked);
    aop_result_free(r);
    free(ev.masked);
    aop_client_free(c);
}

Test(client, nothing_is_printed_by_default, .init = cr_redirect_stdout) {
    cr_redirect_stderr();
    start_gateway();
    aop_client_t *c = default_client();
    void *rq = sample_request(&aop_fn_offline_pay);
    aop_result_t *r = call(c, &aop_fn_offline_pay, rq);
    assert_success(r, &aop_fn_offline_pay);
    aop_result_free(r);
    gw_behaviour_t b = {.tamper_sig = true};
    set_gw(&b);
    r = call(c, &aop_fn_offline_pay, rq);
    assert_unknown(r, "tampered");
    aop_result_free(r);
    aop_offline_pay_request_t *p = rq;
    p->body.order.order_amount.value = aop_str("01");
    aop_error_t err;
    cr_assert_eq(aop_offline_pay(c, p, NULL, &r, &err), AOP_E_BAD_AMOUNT);
    aop_client_free(c);
    free(rq);
    fflush(stdout);
    fflush(stderr);
    cr_assert_stdout_eq_str("");
    cr_assert_stderr_eq_str("");
}

/* ---- helpers shared with the apps ---------------------------------------------------------- */

Test(client, helpers) {
    char u1[37], u2[37];
    cr_assert_eq(aop_uuid(u1), AOP_OK);
    cr_assert_eq(aop_uuid(u2), AOP_OK);
    cr_assert(is_uuid(u1), "%s", u1);
    cr_assert_str_neq(u1, u2);
    char out[64];
    aop_mask("12345678", 8, out, sizeof out);
    cr_assert_str_eq(out, "12****78");
    aop_mask("1234567", 7, out, sizeof out);
    cr_assert_str_eq(out, "*******");
    aop_mask("", 0, out, sizeof out);
    cr_assert_str_eq(out, "");
    aop_mask("abcdefghij", 10, out, 5); /* never past cap */
    cr_assert_lt(strlen(out), 5);
    cr_assert_null(strstr(out, "cdef"));
    char t[32];
    aop_now_rfc3339(t);
    cr_assert(is_rfc3339_offset(t), "%s", t);
}

/* ---- API shape: growing structs, shared keys, members the schema does not know -------------- */

Test(client, config_struct_size_is_checked_and_older_callers_get_defaults) {
    start_gateway();
    aop_client_config_t cfg = base_config();
    aop_client_t *c = NULL;
    aop_error_t err;
    cfg.struct_size = 0; /* never initialised */
    cr_assert_eq(aop_client_new(&cfg, &c, &err), AOP_E_CONFIG);
    cr_assert_str_eq(err.path, "struct_size");
    cr_assert_null(c);
    cfg.struct_size = sizeof cfg + 8; /* from a newer library than this one */
    cr_assert_eq(aop_client_new(&cfg, &c, &err), AOP_E_CONFIG);
    /* an older caller knew the members up to transport: the rest take their defaults */
    aop_client_config_t older = base_config();
    older.struct_size = offsetof(aop_client_config_t, on_event);
    older.on_event = (aop_event_fn)(uintptr_t)1; /* past the caller's struct: must never be read */
    c = client_with(&older);
    void *rq = sample_request(&aop_fn_offline_pay);
    aop_result_t *r = call(c, &aop_fn_offline_pay, rq);
    assert_success(r, &aop_fn_offline_pay);
    aop_result_free(r);
    free(rq);
    aop_client_free(c);

    aop_call_options_t opts = {0}; /* never initialised */
    rq = sample_request(&aop_fn_offline_pay);
    c = default_client();
    r = (aop_result_t *)&err;
    cr_assert_eq(aop_call(c, &aop_fn_offline_pay, rq, &opts, &r, &err), AOP_E_CONFIG);
    cr_assert_null(r);
    aop_call_options_init(&opts);
    opts.deadline_ms = -5;
    cr_assert_eq(aop_call(c, &aop_fn_offline_pay, rq, &opts, &r, &err), AOP_E_INVALID_ARG);
    cr_assert_str_eq(err.path, "options.deadline_ms");
    cr_assert_eq(gw_requests(G), 1, "a refused call sent nothing");
    free(rq);
    aop_client_free(c);
}

Test(client, keys_loaded_once_are_shared_by_clients) {
    start_gateway();
    aop_private_key_t *mk = NULL;
    aop_public_key_t *ak = NULL;
    aop_error_t err;
    cr_assert_eq(aop_private_key_load_file(aop_test_private_key("merchant.pkcs8.pem"), NULL, &mk, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(aop_public_key_load_file(AOP_TEST_DATA "/gateway.spki.pem", &ak, &err), AOP_OK, "%s", err.msg);
    aop_client_config_t cfg = base_config();
    cfg.private_key_file = cfg.alipay_public_key_file = NULL;
    cfg.merchant_key = mk;
    cfg.alipay_key = ak;
    aop_client_t *a = client_with(&cfg), *b = client_with(&cfg);
    void *rq = sample_request(&aop_fn_offline_pay_query);
    for (int round = 0; round < 2; round++) {
        aop_result_t *r = call(round ? b : a, &aop_fn_offline_pay_query, rq);
        assert_success(r, &aop_fn_offline_pay_query);
        aop_result_free(r);
    }
    aop_client_free(a); /* borrowed keys outlive the clients */
    aop_result_t *r = call(b, &aop_fn_offline_pay_query, rq);
    assert_success(r, &aop_fn_offline_pay_query);
    aop_result_free(r);
    aop_client_free(b);
    /* the pair check still applies to shared keys */
    aop_public_key_t *own = NULL;
    cr_assert_eq(aop_private_key_public(mk, &own, &err), AOP_OK);
    cfg.alipay_key = own;
    aop_client_t *none = NULL;
    cr_assert_eq(aop_client_new(&cfg, &none, &err), AOP_E_KEY_MISMATCH);
    cr_assert_null(none);
    aop_public_key_free(own);
    aop_private_key_free(mk);
    aop_public_key_free(ak);
    free(rq);
}

static void expect_member(aop_result_t *r, const char *path, aop_member_type_t type, const char *text) {
    aop_member_t m;
    aop_error_t err;
    aop_status_t st = aop_result_member(r, path, &m, &err);
    cr_assert_eq(st, AOP_OK, "%s: %s %s", path, aop_status_name(st), err.msg);
    cr_assert_eq(m.type, type, "%s: type %d", path, (int)m.type);
    cr_assert_eq(m.text.len, strlen(text), "%s: %.*s", path, (int)m.text.len, m.text.ptr);
    cr_assert_eq(memcmp(m.text.ptr, text, m.text.len), 0, "%s: %.*s", path, (int)m.text.len, m.text.ptr);
}

static void expect_no_member(aop_result_t *r, const char *path, aop_status_t want) {
    aop_member_t m;
    aop_error_t err;
    cr_assert_eq(aop_result_member(r, path, &m, &err), want, "%s", path);
    cr_assert_null(m.text.ptr);
}

Test(client, members_the_schema_does_not_know_are_readable_when_verified) {
    start_gateway();
    gw_behaviour_t b = {
        .patch_from = "\"body\":{",
        .patch_to = "\"body\":{\"loyalty\":{\"points\":12,\"tier\":\"gold \\u00e9\\\"x\\/y\",\"tags\":[\"a\",{\"k\":\"b\"}],"
                    "\"ok\":true,\"off\":false,\"none\":null},",
    };
    set_gw(&b);
    aop_client_t *c = default_client();
    void *rq = sample_request(&aop_fn_offline_pay);
    aop_result_t *r = call(c, &aop_fn_offline_pay, rq);
    assert_success(r, &aop_fn_offline_pay);
    cr_assert_eq(r->warnings.count, 1, "the unknown member is one warning: %s", warnings_text(r));
    /* the exact signed bytes */
    cr_assert_not_null(r->response_text.ptr);
    cr_assert_eq(memcmp(r->response_text.ptr, "{\"head\":{", 9), 0);
    cr_assert_eq(r->response_text.ptr[r->response_text.len - 1], '}');
    cr_assert_not_null(memmem(r->response_text.ptr, r->response_text.len, "\\u00e9\\\"x\\/y", 12),
                       "the text is as received, not unescaped");
    expect_member(r, "body.loyalty.points", AOP_MEMBER_NUMBER, "12");
    expect_member(r, "body.loyalty.tier", AOP_MEMBER_STRING, "gold \xc3\xa9\"x/y");
    expect_member(r, "body.loyalty.tags[0]", AOP_MEMBER_STRING, "a");
    expect_member(r, "body.loyalty.tags[1].k", AOP_MEMBER_STRING, "b");
    expect_member(r, "body.loyalty.tags", AOP_MEMBER_ARRAY, "[\"a\",{\"k\":\"b\"}]");
    expect_member(r, "body.loyalty.ok", AOP_MEMBER_BOOL, "true");
    expect_member(r, "body.loyalty.off", AOP_MEMBER_BOOL, "false");
    expect_member(r, "body.loyalty.none", AOP_MEMBER_NULL, "null");
    expect_member(r, "body.acquirementId", AOP_MEMBER_STRING, "2015032412007101547201351234");
    expect_member(r, "body.resultInfo.resultStatus", AOP_MEMBER_STRING, "S");
    expect_no_member(r, "body.loyalty.nothing", AOP_E_MISSING);
    expect_no_member(r, "body.loyalty.tags[2]", AOP_E_MISSING);
    expect_no_member(r, "body.loyalty.points.x", AOP_E_MISSING);
    expect_no_member(r, "body.loyalty.tags[x]", AOP_E_INVALID_ARG);
    expect_no_member(r, "body..points", AOP_E_INVALID_ARG);
    aop_result_free(r);

    /* an answer that does not verify exposes nothing to read */
    gw_behaviour_t t = b;
    t.tamper_sig = true;
    set_gw(&t);
    r = call(c, &aop_fn_offline_pay, rq);
    assert_unknown(r, "tampered");
    cr_assert_null(r->response_text.ptr);
    expect_no_member(r, "body.loyalty.points", AOP_E_SIGNATURE_INVALID);
    aop_result_free(r);
    free(rq);
    aop_client_free(c);
}

Test(client, typed_calls_and_typed_responses) {
    start_gateway();
    aop_client_t *c = default_client();
    aop_offline_pay_request_t rq;
    gw_sample_request(&aop_fn_offline_pay, &rq);
    aop_result_t *r = NULL;
    aop_error_t err;
    cr_assert_eq(aop_offline_pay(c, &rq, NULL, &r, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(r->function, &aop_fn_offline_pay);
    const aop_offline_pay_response_t *p = aop_offline_pay_response(r);
    cr_assert_not_null(p);
    cr_assert(aop_str_eq(p->body.merchant_trans_id, rq.body.merchant_trans_id));
    cr_assert_null(aop_refund_response(r), "a pay result is no refund");
    cr_assert_null(aop_offline_pay_response(NULL));
    aop_result_free(r);
    aop_client_free(c);
}
