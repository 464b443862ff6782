/* SPDX-License-Identifier: MIT */
/* aop_encode_ex() with AOP_ENCODE_OMIT_SENSITIVE: the members with the role sensitive are checked
 * but not written, wherever they sit; without the flag (or without such a member) the output is
 * aop_encode()'s, byte for byte. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/protocol.h"
#include "support.h"

#define OMIT AOP_ENCODE_OMIT_SENSITIVE

static aop_json_tok_t toks[4096];
static unsigned scratch[4096];

/* The bench's pay request (a valid one, identityCode "28763443825664394"); body points into *buf. */
static void bench_pay(aop_offline_pay_request_t *m, char **buf) {
    *buf = aop_test_read("bench/pay-request.json", NULL);
    aop_json_ws_t ws = {toks, scratch, 4096};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_error_t err;
    cr_assert_eq(aop_envelope_read(*buf, strlen(*buf), "request", &ws, &doc, &env, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(aop_decode(&aop_offline_pay_request_desc, &doc, env.payload_tok, *buf, m, "request", true, NULL, &err),
                 AOP_OK, "%s at %s", err.msg, err.path);
}

static size_t encode(const aop_msg_desc_t *d, const void *m, unsigned flags, char *out, size_t cap) {
    size_t n = 0;
    aop_error_t err;
    aop_status_t st = aop_encode_ex(d, m, "request.body", flags, out, cap, &n, &err);
    cr_assert_eq(st, AOP_OK, "%s at %s", err.msg, err.path);
    cr_assert_lt(n, cap);
    out[n] = '\0';
    return n;
}

Test(encode_omit, pay_body_without_identity_code_decodes_to_the_rest) {
    static aop_offline_pay_request_t m;
    static aop_offline_pay_request_body_t again;
    char *buf, with[4096], without[4096];
    bench_pay(&m, &buf);
    encode(&aop_offline_pay_request_body_desc, &m.body, 0, with, sizeof with);
    size_t n = encode(&aop_offline_pay_request_body_desc, &m.body, OMIT, without, sizeof without);
    cr_assert(strstr(with, "\"identityCode\":\"28763443825664394\""));
    cr_assert_null(strstr(without, "identityCode"), "%s", without);
    cr_assert_null(strstr(without, "28763443825664394"));
    cr_assert_null(strstr(without, ",,"));
    cr_assert(strstr(without, "\"codeType\":\"BARCODE\",\"order\":{"), "%s", without);

    /* strictly, as a body: the only deviation is the mandatory identityCode it lacks */
    aop_json_ws_t ws = {toks, scratch, 4096};
    aop_json_doc_t doc;
    aop_error_t err;
    cr_assert_eq(aop_json_parse(without, n, &ws, &doc, &err), AOP_OK, "valid JSON: %s", err.msg);
    cr_assert_eq(aop_decode(&aop_offline_pay_request_body_desc, &doc, 0, without, &again, "request.body", true, NULL, &err),
                 AOP_E_MISSING);
    cr_assert_str_eq(err.path, "request.body.identityCode");
    cr_assert_null(again.identity_code.ptr);
    again.identity_code = m.body.identity_code;
    cr_assert_eq(aop_validate(&aop_offline_pay_request_body_desc, &again, "request.body", &err), AOP_OK, "%s", err.msg);
    cr_assert(aop_equal(&aop_offline_pay_request_body_desc, &m.body, &again), "every other value came back");
    free(buf);
}

Test(encode_omit, without_the_flag_it_is_aop_encode) {
    static aop_offline_pay_request_t m;
    char *buf, a[4096], b[4096];
    size_t na = 0, nb = 0;
    aop_error_t err;
    bench_pay(&m, &buf);
    cr_assert_eq(aop_encode(&aop_offline_pay_request_desc, &m, "request", a, sizeof a, &na, &err), AOP_OK);
    cr_assert_eq(aop_encode_ex(&aop_offline_pay_request_desc, &m, "request", 0, b, sizeof b, &nb, &err), AOP_OK);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na), 0);
    /* the whole request, the body nested in it: left out there too */
    cr_assert_eq(aop_encode_ex(&aop_offline_pay_request_desc, &m, "request", OMIT, b, sizeof b, &nb, &err), AOP_OK);
    cr_assert_eq(nb, na - strlen(",\"identityCode\":\"28763443825664394\""));
    free(buf);
}

Test(encode_omit, a_message_without_sensitive_fields_is_unchanged) {
    aop_refund_request_body_t b;
    memset(&b, 0, sizeof b);
    b.merchant_id = aop_str("218820000000000000023");
    b.acquirement_id = aop_str("2015032412007101547201351234");
    b.merchant_refund_id = aop_str("61051001000000000002");
    b.refund_amount.currency = aop_str("USD");
    b.refund_amount.value = aop_str("100");
    b.refund_reason = aop_str("customer returned the goods");
    char a[1024], o[1024];
    size_t na = encode(&aop_refund_request_body_desc, &b, 0, a, sizeof a);
    size_t no = encode(&aop_refund_request_body_desc, &b, OMIT, o, sizeof o);
    cr_assert_eq(na, no);
    cr_assert_str_eq(a, o);
}

Test(encode_omit, the_size_contract_holds) {
    static aop_offline_pay_request_t m;
    char *buf, big[4096], small[64];
    size_t need = 0, got = 0;
    aop_error_t err;
    bench_pay(&m, &buf);
    const aop_msg_desc_t *d = &aop_offline_pay_request_body_desc;
    cr_assert_eq(aop_encode_ex(d, &m.body, "request.body", OMIT, small, sizeof small, &need, &err), AOP_E_BUFFER_TOO_SMALL);
    cr_assert(strstr(err.msg, "needs"), "%s", err.msg);
    cr_assert_eq(aop_encode_ex(d, &m.body, "request.body", OMIT, NULL, 0, &got, &err), AOP_E_BUFFER_TOO_SMALL);
    cr_assert_eq(got, need, "sized without a buffer too");
    cr_assert_eq(aop_encode_ex(d, &m.body, "request.body", OMIT, big, need - 1, &got, &err), AOP_E_BUFFER_TOO_SMALL);
    cr_assert_eq(aop_encode_ex(d, &m.body, "request.body", OMIT, big, need, &got, &err), AOP_OK);
    cr_assert_eq(got, need);
    free(buf);
}

Test(encode_omit, an_unknown_flag_is_refused) {
    static aop_offline_pay_request_t m;
    char *buf, out[4096];
    size_t n = 99;
    aop_error_t err;
    bench_pay(&m, &buf);
    cr_assert_eq(aop_encode_ex(&aop_offline_pay_request_desc, &m, "request", OMIT | 0x80u, out, sizeof out, &n, &err),
                 AOP_E_INVALID_ARG);
    cr_assert_eq(n, 0);
    cr_assert(strstr(err.msg, "0x80"), "%s", err.msg);
    free(buf);
}

/* ---- the member's position: hand-made descriptors of three strings and a nested object ----- */

typedef struct {
    aop_str_t a, b, c;
} three_t;

#define STR_FIELD(n, secret, fl)                                                                    \
    {.name = #n, .key = "\"" #n "\":", .name_len = 1, .key_len = 4, .kind = AOP_KIND_STRING, .flag = fl, \
     .offset = offsetof(three_t, n), .has_offset = -1, .max_len = 8, .sensitive = secret}

static aop_status_t encode_three(unsigned secret_mask, const three_t *v, char *out, size_t cap) {
    const aop_field_desc_t fields[3] = {STR_FIELD(a, (secret_mask & 1) != 0, AOP_FLAG_M),
                                        STR_FIELD(b, (secret_mask & 2) != 0, AOP_FLAG_O),
                                        STR_FIELD(c, (secret_mask & 4) != 0, AOP_FLAG_M)};
    const aop_msg_desc_t d = {.name = "three", .size = sizeof(three_t), .nfields = 3, .fields = fields};
    size_t n = 0;
    aop_error_t err;
    aop_status_t st = aop_encode_ex(&d, v, "m", OMIT, out, cap, &n, &err);
    if (st == AOP_OK) out[n] = '\0';
    else snprintf(out, cap, "%s", err.path);
    return st;
}

Test(encode_omit, commas_are_right_wherever_the_member_sits) {
    const three_t v = {aop_str("1"), aop_str("2"), aop_str("3")};
    static const char *const want[8] = {
        "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}", "{\"b\":\"2\",\"c\":\"3\"}", "{\"a\":\"1\",\"c\":\"3\"}",
        "{\"c\":\"3\"}", "{\"a\":\"1\",\"b\":\"2\"}", "{\"b\":\"2\"}", "{\"a\":\"1\"}", "{}",
    };
    char out[128];
    for (unsigned mask = 0; mask < 8; mask++) {
        cr_assert_eq(encode_three(mask, &v, out, sizeof out), AOP_OK, "mask %u", mask);
        cr_assert_str_eq(out, want[mask], "mask %u", mask);
    }
    /* b absent (optional) and a left out: c is first */
    const three_t no_b = {aop_str("1"), {NULL, 0}, aop_str("3")};
    cr_assert_eq(encode_three(1, &no_b, out, sizeof out), AOP_OK);
    cr_assert_str_eq(out, "{\"c\":\"3\"}");
}

Test(encode_omit, a_left_out_member_is_still_checked) {
    char out[128];
    const three_t too_long = {aop_str("123456789"), aop_str("2"), aop_str("3")};
    cr_assert_eq(encode_three(1, &too_long, out, sizeof out), AOP_E_TOO_LONG);
    cr_assert_str_eq(out, "m.a");
    const three_t control = {aop_str("1"), aop_str("2"), aop_str("\x01")};
    cr_assert_eq(encode_three(4, &control, out, sizeof out), AOP_E_CONTROL_CHAR);
    cr_assert_str_eq(out, "m.c");
    const three_t missing = {{NULL, 0}, aop_str("2"), aop_str("3")};
    cr_assert_eq(encode_three(1, &missing, out, sizeof out), AOP_E_MISSING);
    cr_assert_str_eq(out, "m.a");
}

Test(encode_omit, a_nested_object_may_end_up_empty) {
    typedef struct {
        aop_str_t x;
        three_t inner;
    } outer_t;
    const aop_field_desc_t inner_fields[1] = {STR_FIELD(a, true, AOP_FLAG_M)};
    const aop_msg_desc_t inner = {.name = "inner", .size = sizeof(three_t), .nfields = 1, .fields = inner_fields};
    const aop_field_desc_t fields[2] = {
        {.name = "i", .key = "\"i\":", .name_len = 1, .key_len = 4, .kind = AOP_KIND_OBJECT, .flag = AOP_FLAG_M,
         .offset = offsetof(outer_t, inner), .has_offset = -1, .sub = &inner},
        {.name = "x", .key = "\"x\":", .name_len = 1, .key_len = 4, .kind = AOP_KIND_STRING, .flag = AOP_FLAG_M,
         .offset = offsetof(outer_t, x), .has_offset = -1, .sensitive = true},
    };
    const aop_msg_desc_t d = {.name = "outer", .size = sizeof(outer_t), .nfields = 2, .fields = fields};
    outer_t v = {aop_str("x"), {aop_str("1"), {NULL, 0}, {NULL, 0}}};
    char out[64];
    size_t n = 0;
    aop_error_t err;
    cr_assert_eq(aop_encode_ex(&d, &v, "m", OMIT, out, sizeof out, &n, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(n, strlen("{\"i\":{}}"));
    cr_assert_eq(memcmp(out, "{\"i\":{}}", n), 0);
}
