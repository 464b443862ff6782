/* SPDX-License-Identifier: MIT */
/* Baseline: the same typed work with jansson, written as a competent jansson user would.
 * jansson checks the JSON syntax and UTF-8, nothing of the schema. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define STR(obj, key) json_string_value(json_object_get((obj), (key)))

/* ---- decode of the pay response ---- */

static plain_pay_response_t resp;

static void get_money(const json_t *o, plain_money_t *m) {
    const json_t *v = json_object_get(o, "value");
    m->currency = STR(o, "currency");
    if (json_is_string(v)) {
        m->value = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(m->value_buf, sizeof m->value_buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        m->value = m->value_buf;
    } else {
        m->value = NULL;
    }
}

/* Parses the body and fills r with views into the returned tree (valid until json_decref). */
static json_t *decode(plain_pay_response_t *r) {
    json_error_t error;
    json_t *root = json_loadb((const char *)bench_pay_response_json, bench_pay_response_json_len,
                              0, &error);
    if (!root) return NULL;
    memset(r, 0, sizeof *r);
    const json_t *response = json_object_get(root, "response");
    const json_t *head = json_object_get(response, "head");
    const json_t *body = json_object_get(response, "body");
    r->head.version = STR(head, "version");
    r->head.function = STR(head, "function");
    r->head.client_id = STR(head, "clientId");
    r->head.resp_time = STR(head, "respTime");
    r->head.req_msg_id = STR(head, "reqMsgId");
    r->head.reserve = STR(head, "reserve");
    r->head.sign_type = STR(head, "signType");
    const json_t *ri = json_object_get(body, "resultInfo");
    r->body.result_info.result_status = STR(ri, "resultStatus");
    r->body.result_info.result_code_id = STR(ri, "resultCodeId");
    r->body.result_info.result_code = STR(ri, "resultCode");
    r->body.result_info.result_msg = STR(ri, "resultMsg");
    r->body.acquirement_id = STR(body, "acquirementId");
    r->body.merchant_trans_id = STR(body, "merchantTransId");
    const json_t *o = json_object_get(body, "orderAmount");
    if (json_is_object(o)) {
        r->body.has_order_amount = true;
        get_money(o, &r->body.order_amount);
    }
    o = json_object_get(body, "payAmount");
    if (json_is_object(o)) {
        r->body.has_pay_amount = true;
        get_money(o, &r->body.pay_amount);
    }
    o = json_object_get(body, "conversionRate");
    if (json_is_object(o)) {
        r->body.has_conversion_rate = true;
        r->body.conversion_rate.currency_pair = STR(o, "currencyPair");
        r->body.conversion_rate.rate = STR(o, "rate");
        r->body.conversion_rate.conversion_time = STR(o, "conversionTime");
    }
    r->body.create_time = STR(body, "createTime");
    r->body.user_site = STR(body, "userSite");
    r->body.user_id = STR(body, "userId");
    r->body.user_login_id = STR(body, "userLoginId");
    r->body.extend_info = STR(body, "extendInfo");
    r->signature = STR(root, "signature");
    return root;
}

__attribute__((noinline)) int op_jansson_decode_pay_response(void) {
    json_t *root = decode(&resp);
    if (!root) return 1;
    int ok = resp.body.result_info.result_status != NULL;
    json_decref(root);
    return ok ? 0 : 1;
}

static int setup_decode(void) {
    json_t *root = decode(&resp);
    const plain_pay_response_t *r = &resp;
    int ok = root && r->head.resp_time && r->body.result_info.result_status &&
             strcmp(r->body.result_info.result_status, "S") == 0 && r->body.has_pay_amount &&
             r->body.pay_amount.value && strcmp(r->body.pay_amount.value, "1481") == 0 &&
             r->body.conversion_rate.conversion_time && r->body.extend_info &&
             strcmp(r->body.extend_info,
                    "{\"isEnterpriseUser\":\"true\", \"enterpriseUserName\":\"seller\"}") == 0 &&
             r->signature;
    json_decref(root);
    if (!ok) fprintf(stderr, "aop-bench: jansson: pay-response.json decodes to unexpected values\n");
    return ok ? 0 : 1;
}

static size_t bytes_decode(void) { return bench_pay_response_json_len; }

/* ---- encode of the pay request ---- */

static const plain_pay_request_t *req;
static size_t out_len;

static void add(json_t *o, const char *key, const char *v) {
    if (v) json_object_set_new(o, key, json_string(v));
}

static json_t *add_object(json_t *parent, const char *key) {
    json_t *o = json_object();
    json_object_set_new(parent, key, o);
    return o;
}

static void add_money(json_t *parent, const char *key, const plain_money_t *m) {
    json_t *o = add_object(parent, key);
    add(o, "currency", m->currency);
    add(o, "value", m->value);
}

/* Builds the tree of the "request" object and dumps it compactly (caller frees). Objects keep
 * insertion order (jansson >= 2.8). */
static char *encode(const plain_pay_request_t *r) {
    json_t *root = json_object();
    if (!root) return NULL;
    json_t *head = add_object(root, "head");
    add(head, "version", r->head.version);
    add(head, "function", r->head.function);
    add(head, "clientId", r->head.client_id);
    add(head, "reqTime", r->head.req_time);
    add(head, "reqMsgId", r->head.req_msg_id);
    add(head, "reserve", r->head.reserve);
    add(head, "signType", r->head.sign_type);
    json_t *body = add_object(root, "body");
    add(body, "merchantId", r->body.merchant_id);
    add(body, "productCode", r->body.product_code);
    add(body, "merchantTransId", r->body.merchant_trans_id);
    add(body, "codeType", r->body.code_type);
    add(body, "identityCode", r->body.identity_code);
    json_t *order = add_object(body, "order");
    add_money(order, "orderAmount", &r->body.order.order_amount);
    add(order, "orderTitle", r->body.order.order_title);
    add(order, "orderDetail", r->body.order.order_detail);
    add(body, "settleContractId", r->body.settle_contract_id);
    if (r->body.has_env_info) {
        json_t *env = add_object(body, "envInfo");
        add(env, "terminalType", r->body.env_info.terminal_type);
        add(env, "osType", r->body.env_info.os_type);
        add(env, "userAgent", r->body.env_info.user_agent);
        add(env, "deviceTokenId", r->body.env_info.device_token_id);
        add(env, "clientIp", r->body.env_info.client_ip);
        add(env, "cookieId", r->body.env_info.cookie_id);
        add(env, "storeTerminalId", r->body.env_info.store_terminal_id);
        add(env, "storeTerminalRequestTime", r->body.env_info.store_terminal_request_time);
        add(env, "deviceName", r->body.env_info.device_name);
        add(env, "deviceModel", r->body.env_info.device_model);
        add(env, "wirelessNetwork", r->body.env_info.wireless_network);
        add(env, "wirelessCarrier", r->body.env_info.wireless_carrier);
        add(env, "extendInfo", r->body.env_info.extend_info);
    }
    add(body, "extendInfo", r->body.extend_info);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

__attribute__((noinline)) int op_jansson_encode_pay_request(void) {
    char *out = encode(req);
    if (!out) return 1;
    out_len = strlen(out);
    free(out);
    return 0;
}

static int setup_encode(void) {
    size_t ours_len;
    const char *ours = bench_aop_request_json(&ours_len);
    req = bench_plain_request();
    if (!ours || !req) return 1;
    char *out = encode(req);
    if (!out) return 1;
    out_len = strlen(out);
    int same = out_len == ours_len && memcmp(out, ours, ours_len) == 0;
    if (!same) {
        /* Different bytes are fine if the values are the same. */
        json_error_t error;
        json_t *a = json_loadb(ours, ours_len, 0, &error), *b = json_loads(out, 0, &error);
        same = a && b && json_equal(a, b);
        json_decref(a);
        json_decref(b);
    }
    free(out);
    if (!same) fprintf(stderr, "aop-bench: jansson's encoding of the request differs from ours\n");
    return same ? 0 : 1;
}

static size_t bytes_encode(void) { return out_len; }

const bench_op_t bench_jansson_ops[2] = {
    {"jansson_decode_pay_response", "json_loadb + typed extraction + json_decref (no validation)",
     setup_decode, op_jansson_decode_pay_response, bytes_decode},
    {"jansson_encode_pay_request", "typed -> jansson tree + json_dumps(JSON_COMPACT) (no validation)",
     setup_encode, op_jansson_encode_pay_request, bytes_encode},
};
