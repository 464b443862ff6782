/* SPDX-License-Identifier: MIT */
/* Our side: the generated typed decode (+ lenient validation) of the pay response and the
 * generated typed encode (+ strict validation) of the pay request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/json.h"
#include "aop/protocol.h"
#include "bench.h"

#define WS_TOKENS 256u

/* ---- decode of the pay response ---- */

static char resp_buf[4096];
static aop_json_tok_t resp_tok[WS_TOKENS];
static unsigned resp_scratch[WS_TOKENS];
static aop_offline_pay_response_t resp;
static aop_warnings_t resp_warnings;
static aop_error_t resp_err;

/* One received body: copied into a writable buffer (strings are unescaped in place), the
 * envelope read (whole grammar of SPEC.md section 3, duplicate keys, exact payload span), then
 * the typed decode, which validates the response leniently (SPEC.md section 7). */
__attribute__((noinline)) int op_aop_decode_pay_response(void) {
    memcpy(resp_buf, bench_pay_response_json, bench_pay_response_json_len);
    aop_json_ws_t ws = {resp_tok, resp_scratch, WS_TOKENS};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_status_t st = aop_envelope_read(resp_buf, bench_pay_response_json_len, "response", &ws,
                                        &doc, &env, &resp_err);
    if (st != AOP_OK) return (int)st;
    aop_warnings_clear(&resp_warnings);
    st = aop_offline_pay_response_decode(&doc, env.payload_tok, resp_buf, &resp, &resp_warnings,
                                         &resp_err);
    if (st != AOP_OK) return (int)st;
    return resp_warnings.count || resp_warnings.dropped ? -1 : 0;
}

static int setup_decode(void) {
    if (bench_pay_response_json_len > sizeof resp_buf) {
        fprintf(stderr, "aop-bench: pay-response.json is larger than %zu bytes\n", sizeof resp_buf);
        return 1;
    }
    int r = op_aop_decode_pay_response();
    if (r > 0) {
        fprintf(stderr, "aop-bench: decoding pay-response.json: %s at %s (byte %ld): %s\n",
                aop_status_name(resp_err.code), resp_err.path, resp_err.offset, resp_err.msg);
        return 1;
    }
    if (r < 0) {
        fprintf(stderr, "aop-bench: pay-response.json decodes with %u warning(s), e.g. %s at %s\n",
                resp_warnings.count, aop_status_name(resp_warnings.items[0].code),
                resp_warnings.items[0].path);
        return 1;
    }
    const aop_offline_pay_response_body_t *b = &resp.body;
    if (b->result_info.result_status.value != AOP_RESULT_STATUS_ENUM_S ||
        !b->has_order_amount || !b->has_pay_amount || !b->has_conversion_rate ||
        !aop_str_eq_cstr(b->pay_amount.value, "1481") ||
        !aop_str_eq_cstr(b->extend_info,
                         "{\"isEnterpriseUser\":\"true\", \"enterpriseUserName\":\"seller\"}")) {
        fprintf(stderr, "aop-bench: pay-response.json decodes to unexpected values\n");
        return 1;
    }
    return 0;
}

static size_t bytes_decode(void) { return bench_pay_response_json_len; }

/* ---- encode of the pay request ---- */

static char req_buf[4096];
static aop_json_tok_t req_tok[WS_TOKENS];
static unsigned req_scratch[WS_TOKENS];
static aop_offline_pay_request_t req;
static char req_out[4096];
static size_t req_out_len;
static aop_error_t req_err;

/* The pre-filled typed request encoded (compact JSON of the "request" object) into a caller
 * buffer, validated strictly in the same pass. */
__attribute__((noinline)) int op_aop_encode_pay_request(void) {
    return (int)aop_offline_pay_request_encode(&req, req_out, sizeof req_out, &req_out_len, &req_err);
}

/* The typed request, from bench/data/pay-request.json by our strict request decoder. */
static int load_request(void) {
    static int loaded; /* 1 ok, -1 failed */
    if (loaded) return loaded > 0 ? 0 : 1;
    loaded = -1;
    if (bench_pay_request_json_len > sizeof req_buf) {
        fprintf(stderr, "aop-bench: pay-request.json is larger than %zu bytes\n", sizeof req_buf);
        return 1;
    }
    memcpy(req_buf, bench_pay_request_json, bench_pay_request_json_len);
    aop_json_ws_t ws = {req_tok, req_scratch, WS_TOKENS};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_status_t st = aop_envelope_read(req_buf, bench_pay_request_json_len, "request", &ws, &doc,
                                        &env, &req_err);
    if (st == AOP_OK)
        st = aop_offline_pay_request_decode(&doc, env.payload_tok, req_buf, &req, NULL, &req_err);
    if (st != AOP_OK) {
        fprintf(stderr, "aop-bench: decoding pay-request.json: %s at %s (byte %ld): %s\n",
                aop_status_name(req_err.code), req_err.path, req_err.offset, req_err.msg);
        return 1;
    }
    loaded = 1;
    return 0;
}

static int setup_encode(void) {
    if (load_request()) return 1;
    int r = op_aop_encode_pay_request();
    if (r) {
        fprintf(stderr, "aop-bench: encoding the pay request: %s at %s: %s\n",
                aop_status_name(req_err.code), req_err.path, req_err.msg);
        return 1;
    }
    return 0;
}

static size_t bytes_encode(void) { return req_out_len; }

const char *bench_aop_request_json(size_t *len) {
    if (setup_encode()) return NULL;
    *len = req_out_len;
    return req_out;
}

/* ---- the same request as a plain struct of NUL-terminated strings, for the baselines ---- */

static char plain_arena[4096];
static size_t plain_used;
static plain_pay_request_t plain_req;

static const char *cstr(aop_str_t s) {
    if (!s.ptr) return NULL;
    if (plain_used + s.len + 1 > sizeof plain_arena) abort();
    char *p = plain_arena + plain_used;
    memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    plain_used += s.len + 1;
    return p;
}

static const char *cenum(aop_enum_val_t e, const aop_enum_desc_t *d) {
    const char *text = aop_enum_text(d, e.value);
    return text ? text : cstr(e.text);
}

const plain_pay_request_t *bench_plain_request(void) {
    static int done;
    if (done) return &plain_req;
    if (load_request()) return NULL;
    const aop_request_head_t *h = &req.head;
    const aop_offline_pay_request_body_t *b = &req.body;
    plain_pay_request_t *p = &plain_req;
    p->head.version = cstr(h->version);
    p->head.function = cstr(h->function);
    p->head.client_id = cstr(h->client_id);
    p->head.req_time = cstr(h->req_time);
    p->head.req_msg_id = cstr(h->req_msg_id);
    p->head.reserve = cstr(h->reserve);
    p->head.sign_type = cstr(h->sign_type);
    p->body.merchant_id = cstr(b->merchant_id);
    p->body.product_code = cenum(b->product_code, &aop_product_code_enum_desc);
    p->body.merchant_trans_id = cstr(b->merchant_trans_id);
    p->body.code_type = cenum(b->code_type, &aop_offline_code_type_enum_desc);
    p->body.identity_code = cstr(b->identity_code);
    p->body.order.order_amount.currency = cstr(b->order.order_amount.currency);
    p->body.order.order_amount.value = cstr(b->order.order_amount.value);
    p->body.order.order_title = cstr(b->order.order_title);
    p->body.order.order_detail = cstr(b->order.order_detail);
    p->body.settle_contract_id = cstr(b->settle_contract_id);
    p->body.has_env_info = b->has_env_info;
    const aop_env_info_t *e = &b->env_info;
    p->body.env_info.terminal_type = cenum(e->terminal_type, &aop_terminal_type_enum_desc);
    p->body.env_info.os_type = cenum(e->os_type, &aop_os_type_enum_desc);
    p->body.env_info.user_agent = cstr(e->user_agent);
    p->body.env_info.device_token_id = cstr(e->device_token_id);
    p->body.env_info.client_ip = cstr(e->client_ip);
    p->body.env_info.cookie_id = cstr(e->cookie_id);
    p->body.env_info.store_terminal_id = cstr(e->store_terminal_id);
    p->body.env_info.store_terminal_request_time = cstr(e->store_terminal_request_time);
    p->body.env_info.device_name = cstr(e->device_name);
    p->body.env_info.device_model = cstr(e->device_model);
    p->body.env_info.wireless_network = cstr(e->wireless_network);
    p->body.env_info.wireless_carrier = cstr(e->wireless_carrier);
    p->body.env_info.extend_info = cstr(e->extend_info);
    p->body.extend_info = cstr(b->extend_info);
    done = 1;
    return p;
}

const bench_op_t bench_aop_ops[2] = {
    {"aop_decode_pay_response", "envelope + typed decode + lenient validation (zero-copy)",
     setup_decode, op_aop_decode_pay_response, bytes_decode},
    {"aop_encode_pay_request", "typed encode + strict validation into a caller buffer",
     setup_encode, op_aop_encode_pay_request, bytes_encode},
};
