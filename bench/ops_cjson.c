/* SPDX-License-Identifier: MIT */
/* Baseline: the same typed work with cJSON, written as a competent cJSON user would. cJSON
 * checks the JSON syntax and nothing else (no schema rules, no duplicate keys): expected. */
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define STR(obj, key) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive((obj), (key)))

/* ---- decode of the pay response ---- */

static plain_pay_response_t resp;

/* Money value: a string, or a JSON integer (cJSON keeps numbers as doubles). */
static void get_money(const cJSON *o, plain_money_t *m) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    m->currency = STR(o, "currency");
    if (cJSON_IsString(v)) {
        m->value = v->valuestring;
    } else if (cJSON_IsNumber(v)) {
        snprintf(m->value_buf, sizeof m->value_buf, "%.0f", v->valuedouble);
        m->value = m->value_buf;
    } else {
        m->value = NULL;
    }
}

/* Parses the body and fills r with views into the returned tree (valid until cJSON_Delete). */
static cJSON *decode(plain_pay_response_t *r) {
    cJSON *root = cJSON_ParseWithLength((const char *)bench_pay_response_json,
                                        bench_pay_response_json_len);
    if (!root) return NULL;
    memset(r, 0, sizeof *r);
    const cJSON *response = cJSON_GetObjectItemCaseSensitive(root, "response");
    const cJSON *head = cJSON_GetObjectItemCaseSensitive(response, "head");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(response, "body");
    r->head.version = STR(head, "version");
    r->head.function = STR(head, "function");
    r->head.client_id = STR(head, "clientId");
    r->head.resp_time = STR(head, "respTime");
    r->head.req_msg_id = STR(head, "reqMsgId");
    r->head.reserve = STR(head, "reserve");
    r->head.sign_type = STR(head, "signType");
    const cJSON *ri = cJSON_GetObjectItemCaseSensitive(body, "resultInfo");
    r->body.result_info.result_status = STR(ri, "resultStatus");
    r->body.result_info.result_code_id = STR(ri, "resultCodeId");
    r->body.result_info.result_code = STR(ri, "resultCode");
    r->body.result_info.result_msg = STR(ri, "resultMsg");
    r->body.acquirement_id = STR(body, "acquirementId");
    r->body.merchant_trans_id = STR(body, "merchantTransId");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(body, "orderAmount");
    if (cJSON_IsObject(o)) {
        r->body.has_order_amount = true;
        get_money(o, &r->body.order_amount);
    }
    o = cJSON_GetObjectItemCaseSensitive(body, "payAmount");
    if (cJSON_IsObject(o)) {
        r->body.has_pay_amount = true;
        get_money(o, &r->body.pay_amount);
    }
    o = cJSON_GetObjectItemCaseSensitive(body, "conversionRate");
    if (cJSON_IsObject(o)) {
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

__attribute__((noinline)) int op_cjson_decode_pay_response(void) {
    cJSON *root = decode(&resp);
    if (!root) return 1;
    int ok = resp.body.result_info.result_status != NULL;
    cJSON_Delete(root);
    return ok ? 0 : 1;
}

static int setup_decode(void) {
    cJSON *root = decode(&resp);
    const plain_pay_response_t *r = &resp;
    int ok = root && r->head.resp_time && r->body.result_info.result_status &&
             strcmp(r->body.result_info.result_status, "S") == 0 && r->body.has_pay_amount &&
             r->body.pay_amount.value && strcmp(r->body.pay_amount.value, "1481") == 0 &&
             r->body.conversion_rate.conversion_time && r->body.extend_info &&
             strcmp(r->body.extend_info,
                    "{\"isEnterpriseUser\":\"true\", \"enterpriseUserName\":\"seller\"}") == 0 &&
             r->signature;
    cJSON_Delete(root);
    if (!ok) fprintf(stderr, "aop-bench: cJSON: pay-response.json decodes to unexpected values\n");
    return ok ? 0 : 1;
}

static size_t bytes_decode(void) { return bench_pay_response_json_len; }

/* ---- encode of the pay request ---- */

static const plain_pay_request_t *req;
static size_t out_len;

static void add(cJSON *o, const char *key, const char *v) {
    if (v) cJSON_AddStringToObject(o, key, v);
}

static void add_money(cJSON *parent, const char *key, const plain_money_t *m) {
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    add(o, "currency", m->currency);
    add(o, "value", m->value);
}

/* Builds the tree of the "request" object and prints it compactly (caller frees). */
static char *encode(const plain_pay_request_t *r) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON *head = cJSON_AddObjectToObject(root, "head");
    add(head, "version", r->head.version);
    add(head, "function", r->head.function);
    add(head, "clientId", r->head.client_id);
    add(head, "reqTime", r->head.req_time);
    add(head, "reqMsgId", r->head.req_msg_id);
    add(head, "reserve", r->head.reserve);
    add(head, "signType", r->head.sign_type);
    cJSON *body = cJSON_AddObjectToObject(root, "body");
    add(body, "merchantId", r->body.merchant_id);
    add(body, "productCode", r->body.product_code);
    add(body, "merchantTransId", r->body.merchant_trans_id);
    add(body, "codeType", r->body.code_type);
    add(body, "identityCode", r->body.identity_code);
    cJSON *order = cJSON_AddObjectToObject(body, "order");
    add_money(order, "orderAmount", &r->body.order.order_amount);
    add(order, "orderTitle", r->body.order.order_title);
    add(order, "orderDetail", r->body.order.order_detail);
    add(body, "settleContractId", r->body.settle_contract_id);
    if (r->body.has_env_info) {
        cJSON *env = cJSON_AddObjectToObject(body, "envInfo");
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
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

__attribute__((noinline)) int op_cjson_encode_pay_request(void) {
    char *out = encode(req);
    if (!out) return 1;
    out_len = strlen(out);
    cJSON_free(out);
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
        cJSON *a = cJSON_ParseWithLength(ours, ours_len), *b = cJSON_Parse(out);
        same = a && b && cJSON_Compare(a, b, 1);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    cJSON_free(out);
    if (!same) fprintf(stderr, "aop-bench: cJSON's encoding of the request differs from ours\n");
    return same ? 0 : 1;
}

static size_t bytes_encode(void) { return out_len; }

const bench_op_t bench_cjson_ops[2] = {
    {"cjson_decode_pay_response", "cJSON_Parse + typed extraction + cJSON_Delete (no validation)",
     setup_decode, op_cjson_decode_pay_response, bytes_decode},
    {"cjson_encode_pay_request", "typed -> cJSON tree + cJSON_PrintUnformatted (no validation)",
     setup_encode, op_cjson_encode_pay_request, bytes_encode},
};
