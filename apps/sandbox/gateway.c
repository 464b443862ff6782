/* SPDX-License-Identifier: MIT */
/* The gateway proper: one request body in, one signed response envelope out.
 *
 * Order of checks (after the HTTP ones in server.c): the JSON envelope; the clientId
 * (UNKNOWN_CLIENT); the request signature over the raw `request` bytes (INVALID_SIGNATURE);
 * strict decoding (PARAM_ILLEGAL, the failing field's JSON path in resultMsg); the business
 * rules. Every answer echoes what the request let the gateway read, generically from the
 * function's echo table, and is signed with the gateway's key. Field names appear here only
 * through the generated structs; paths, result codes and echo pairs come from the tables. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbx_internal.h"

/* ---- helpers ------------------------------------------------------------------------------ */

int64_t sbx_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sbx_clock_ms(const aop_sandbox_t *s) { return sbx_now_ms() + s->clock_offset_ms; }

void sbx_rfc3339(int64_t unix_ms, char out[32]) { aop_rfc3339((time_t)(unix_ms / 1000), out); }

bool sbx_parse_amount(const char *s, size_t n, uint64_t *out) {
    if (!s || n == 0 || n > 19) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

void sbx_cstr(aop_str_t v, char *out, size_t cap) {
    size_t n = v.ptr ? (v.len < cap ? v.len : cap - 1) : 0;
    if (n) memcpy(out, v.ptr, n);
    out[n] = '\0';
}

/* SHA-256 of salt || s, in hex. */
static bool code_hash(const char *salt, const char *s, size_t n, char out[65]) {
    unsigned char md[32];
    unsigned int len = 0;
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, salt, strlen(salt)) == 1 && EVP_DigestUpdate(ctx, s, n) == 1 &&
              EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == sizeof md;
    EVP_MD_CTX_free(ctx);
    if (!ok) return false;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return true;
}

/* An id like the vendor's: the Beijing date, a two-digit kind and 18 random digits (28 digits;
 * unique across processes sharing the state: the UNIQUE constraints catch a collision). The
 * digits come from the runtime's generator on OpenSSL's RNG; when it fails there is no id, and
 * the caller answers an internal error rather than use a weaker source. */
static bool new_id(char *out, size_t cap, const char *kind) {
    time_t now = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    char digits[19];
    if (aop_random_chars(digits, 18, "0123456789") != AOP_OK) return false;
    snprintf(out, cap, "%04d%02d%02d%s%s", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, kind, digits);
    return true;
}

/* A head text that can be read (present, non-empty, valid, short enough). */
static bool head_text_ok(aop_str_t v, size_t max) {
    size_t units;
    return v.ptr && v.len > 0 && aop_utf8_units(v.ptr, v.len, &units) && units <= max;
}

/* One that may also be echoed: the answer is text the gateway sends, which holds no control
 * character; a value with one is answered with a placeholder, so the answer is still signed. */
static bool head_echo_ok(aop_str_t v, size_t max) { return head_text_ok(v, max) && !aop_has_control(v.ptr, v.len); }

/* Cuts s to at most max bytes on a UTF-8 character boundary (bytes >= UTF-16 units). */
static void utf8_cut(char *s, size_t max) {
    size_t n = strlen(s);
    if (n <= max) return;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    s[n] = '\0';
}

/* ---- one request --------------------------------------------------------------------------- */

typedef struct {
    aop_sandbox_t *s;
    const aop_function_desc_t *fn;
    void *loose;              /* lenient decode of a copy (what could be read), or NULL */
    char *loose_buf;
    void *req;                /* strict decode, NULL until it succeeded */
    void *resp;
    bool echo_from_loose;
    sbx_fault_t fault;
    char resp_time[32];
    char msg[AOP_RESULT_INFO_RESULT_MSG_MAX + 1];
    char echo_alt[SBX_ID_MAX];
    const sbx_call_fault_t *call_fault; /* of this payQuery or payCancel, NULL = none */
    /* storage for the answer's strings */
    sbx_txn_t txn;
    sbx_refund_t refund;
    char amount_text[24], pair[16], cancel_time[32];
    /* for the log line */
    char log_note[1200];
} ctx_t;

static void set_result(ctx_t *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_result(ctx_t *c, const char *code, const char *fmt, ...) {
    const aop_result_code_t *rc = aop_result_code_find(c->fn->codes, code, strlen(code));
    if (!rc) {
        sbx_log(c->s, "internal: %s is not in the result table of %s", code, c->fn->name);
        rc = aop_result_code_find(&aop_all_codes, code, strlen(code));
    }
    aop_result_info_t *ri = (aop_result_info_t *)(void *)((char *)c->resp + c->fn->result_info->offset);
    memset(ri, 0, sizeof *ri);
    ri->result_status.value = rc && rc->status == 'S'   ? AOP_RESULT_STATUS_ENUM_S
                              : rc && rc->status == 'F' ? AOP_RESULT_STATUS_ENUM_F
                                                        : AOP_RESULT_STATUS_ENUM_U;
    ri->result_code = aop_str(rc ? rc->code : code);
    ri->result_code_id = rc && rc->id ? aop_str(rc->id) : AOP_STR_NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msg, sizeof c->msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(c->msg, sizeof c->msg, "%s", rc ? rc->meaning : code);
    }
    utf8_cut(c->msg, AOP_RESULT_INFO_RESULT_MSG_MAX);
    ri->result_msg = aop_str(c->msg);
}

static const aop_result_info_t *result_of(const ctx_t *c) {
    return (const aop_result_info_t *)(const void *)((const char *)c->resp + c->fn->result_info->offset);
}

/* The response head: the request's values where they could be read and are valid, otherwise
 * placeholders (the response encoder needs non-empty mandatory head fields). */
static void fill_head(ctx_t *c) {
    aop_response_head_t *h = c->resp; /* every response struct starts with the shared head */
    const aop_request_head_t *rq = c->req ? c->req : c->loose;
    aop_str_t none = AOP_STR_NULL;
    aop_str_t version = rq ? rq->version : none, function = rq ? rq->function : none;
    aop_str_t client = rq ? rq->client_id : none, msg_id = rq ? rq->req_msg_id : none;
    aop_str_t sign_type = rq ? rq->sign_type : none;
    h->version = head_echo_ok(version, AOP_RESPONSE_HEAD_VERSION_MAX) ? version : aop_str("unknown");
    h->function = head_echo_ok(function, AOP_RESPONSE_HEAD_FUNCTION_MAX) ? function : aop_str(c->fn->name);
    h->client_id = head_echo_ok(client, AOP_RESPONSE_HEAD_CLIENT_ID_MAX) ? client : aop_str("unknown");
    h->req_msg_id = head_echo_ok(msg_id, AOP_RESPONSE_HEAD_REQ_MSG_ID_MAX) ? msg_id : aop_str("unknown");
    h->resp_time = aop_str(c->resp_time);
    h->sign_type = sign_type.ptr ? aop_str(aop_sign_type_name(c->s->sign_type)) : AOP_STR_NULL;
    h->reserve = AOP_STR_NULL;
}

static void placeholder_head(ctx_t *c) {
    aop_response_head_t *h = c->resp;
    h->version = aop_str("unknown");
    h->function = aop_str(c->fn->name);
    h->client_id = aop_str("unknown");
    h->req_msg_id = aop_str("unknown");
    h->sign_type = AOP_STR_NULL;
    h->reserve = AOP_STR_NULL;
}

/* Keeps the head and resultInfo, drops every other member of the response. */
static void strip_body(ctx_t *c) {
    aop_response_head_t head = *(aop_response_head_t *)c->resp;
    aop_result_info_t ri = *result_of(c);
    memset(c->resp, 0, c->fn->response->size);
    *(aop_response_head_t *)c->resp = head;
    *(aop_result_info_t *)(void *)((char *)c->resp + c->fn->result_info->offset) = ri;
}

/* The unknown-member fault's payload: the answer's, with a member the schema lacks added at
 * the end of its body (the payload ends with the body's '}' and its own). */
static aop_status_t payload_with_unknown_member(ctx_t *c, aop_buf_t *payload, aop_error_t *err) {
    static const char extra[] = ",\"sandboxNote\":\"a member the schema does not define\"}}";
    aop_status_t st = aop_envelope_encode("response", c->fn->response, c->resp, payload, err);
    if (st != AOP_OK) return st;
    if (payload->len < 2 || memcmp(payload->data + payload->len - 2, "}}", 2) != 0)
        return aop_error_set(err, AOP_E_INTERNAL, NULL, -1, "unexpected end of the encoded response");
    payload->len -= 2;
    return aop_buf_append(payload, extra, sizeof extra - 1);
}

/* The signed envelope of the answer: the runtime's writer, or (unknown member) its two steps
 * with the payload changed between them. lay locates the payload and the signature. */
static aop_status_t sign_answer(ctx_t *c, aop_signer_t *signer, aop_buf_t *out, aop_envelope_layout_t *lay,
                                aop_error_t *err) {
    if (c->fault != SBX_FAULT_UNKNOWN_MEMBER)
        return aop_envelope_write("response", c->fn->response, c->resp, signer, out, lay, err);
    aop_buf_t payload = {0};
    aop_status_t st = payload_with_unknown_member(c, &payload, err);
    if (st == AOP_OK) st = aop_envelope_seal("response", payload.data, payload.len, signer, out, lay, err);
    aop_buf_free(&payload);
    return st;
}

void sbx_spoil_signature(aop_buf_t *envelope, const aop_envelope_layout_t *lay) {
    if (lay->sig_len <= 16) return;
    /* one base64 character well inside the signature (clear of any '=' padding), so the text
     * stays base64 and decodes to a signature that does not verify */
    char *ch = &envelope->data[lay->sig_off + 10];
    *ch = *ch == 'A' ? 'B' : 'A';
}

/* Writes the signed envelope, with the scenario's protocol fault if any. */
static aop_status_t write_envelope(ctx_t *c, aop_buf_t *out, aop_error_t *err) {
    aop_envelope_layout_t lay;
    aop_signer_t *signer = sbx_signer_take(c->s, err);
    aop_status_t st = signer ? sign_answer(c, signer, out, &lay, err) : err->code;
    sbx_signer_give(c->s, signer);
    if (st != AOP_OK) return st;
    if (c->fault == SBX_FAULT_BAD_SIGNATURE) {
        sbx_spoil_signature(out, &lay);
    } else if (c->fault == SBX_FAULT_UNSIGNED) {
        out->len = lay.payload_off + lay.payload_len; /* the signature member cut off */
        return aop_buf_append(out, "}", 1);
    }
    return AOP_OK;
}

/* The echo an echo-mismatch fault changes: the idempotency key's, or (payQuery, payCancel) the
 * first id of the body the request sent (the client checks only those). */
static bool mismatch_target(const ctx_t *c, const aop_echo_desc_t *e) {
    if (e->request.kind != AOP_KIND_STRING || !aop_ref_str(&e->request, c->req)->ptr) return false;
    if (c->fn->idempotency_key) return e->request.offset == c->fn->idempotency_key->offset;
    return strncmp(e->request.path, "request.body.", 13) == 0;
}

/* Echoes another id: the last character of the target echo replaced (whole, so the text stays
 * valid UTF-8). */
static void mismatch_echo(ctx_t *c) {
    for (unsigned i = 0; i < c->fn->n_echo; i++) {
        const aop_echo_desc_t *e = &c->fn->echo[i];
        if (!mismatch_target(c, e)) continue;
        aop_str_t *v = (aop_str_t *)(void *)((char *)c->resp + e->response.offset);
        if (!v->ptr || v->len == 0) continue;
        sbx_cstr(*v, c->echo_alt, sizeof c->echo_alt);
        size_t n = strlen(c->echo_alt) - 1;
        while (n > 0 && ((unsigned char)c->echo_alt[n] & 0xC0) == 0x80) n--;
        char repl = c->echo_alt[n] == 'X' ? 'Y' : 'X';
        c->echo_alt[n++] = repl;
        c->echo_alt[n] = '\0';
        *v = aop_strn(c->echo_alt, n);
        return;
    }
}

/* Encodes the answer; when it breaks a rule (a value read from a malformed request that cannot
 * be echoed), falls back to fewer members, then to placeholders. */
static void finish(ctx_t *c, sbx_reply_t *reply) {
    if (c->req) aop_fill_echo(c->fn, c->req, c->resp);
    else if (c->loose && c->echo_from_loose) aop_fill_echo(c->fn, c->loose, c->resp);
    fill_head(c);
    if (c->fault == SBX_FAULT_ECHO_MISMATCH && c->req) mismatch_echo(c);
    aop_error_t err;
    aop_status_t st = write_envelope(c, &reply->body, &err);
    if (st != AOP_OK && st != AOP_E_NOMEM && st != AOP_E_CRYPTO) {
        sbx_log(c->s, "%s: the answer breaks a rule (%s); answering with resultInfo only",
                c->fn->name, err.msg);
        strip_body(c);
        st = write_envelope(c, &reply->body, &err);
        if (st != AOP_OK && st != AOP_E_NOMEM && st != AOP_E_CRYPTO) {
            placeholder_head(c);
            st = write_envelope(c, &reply->body, &err);
        }
    }
    if (st != AOP_OK) {
        sbx_log(c->s, "%s: cannot write the answer: %s", c->fn->name, err.msg);
        reply->http_status = 500;
        reply->fault = SBX_FAULT_NONE;
        reply->body.len = 0;
        static const char text[] = "internal error: the gateway could not sign its answer\n";
        if (aop_buf_append(&reply->body, text, sizeof text - 1) != AOP_OK) reply->body.len = 0;
        return;
    }
    reply->http_status = 200;
    reply->fault = c->fault;
}

/* ---- business rules ------------------------------------------------------------------------ */

static const char *status_name(int st) {
    const char *s = aop_acquirement_status_enum_to_string((aop_acquirement_status_enum_t)st);
    return s ? s : "UNKNOWN";
}

bool sbx_settle(sbx_txn_t *t, int64_t now_ms) {
    if (t->status != AOP_ACQUIREMENT_STATUS_ENUM_PAYING || t->settle_at_ms == 0 || now_ms < t->settle_at_ms)
        return false;
    t->status = t->settle_to;
    if (t->status == AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS) {
        sbx_rfc3339(t->settle_at_ms, t->paid_time);
        snprintf(t->result_code, sizeof t->result_code, "%s", AOP_RC_SUCCESS);
    } else {
        snprintf(t->result_code, sizeof t->result_code, "%s", AOP_RC_ORDER_IS_CLOSED);
    }
    t->settle_at_ms = 0;
    t->settle_to = 0;
    return true;
}

bool sbx_hidden(const sbx_txn_t *t, int64_t now_ms) { return t->visible_at_ms && now_ms < t->visible_at_ms; }

static void store_failed(ctx_t *c, const char *what) {
    sbx_log(c->s, "%s: state store error while %s: %s", c->fn->name, what, sbx_store_errmsg(&c->s->store));
    set_result(c, AOP_RC_UNKNOWN_EXCEPTION, "the gateway's state store failed (%s); the outcome is unknown", what);
}

/* Ends a transaction that only read or counted: committed, so timers and call counters stay. */
static bool commit_or_fail(ctx_t *c, const char *what) {
    if (sbx_store_commit(&c->s->store) == 0) return true;
    store_failed(c, what);
    return false;
}

/* new_id failed (no random bytes): nothing is recorded, and the client learns the outcome is
 * unknown (UNKNOWN_EXCEPTION), as for any other internal failure. */
enum { NO_ID = -2 };

static void no_id(ctx_t *c, const char *what) {
    sbx_log(c->s, "%s: the RNG gave no random bytes for a %s id; nothing recorded", c->fn->name, what);
    set_result(c, AOP_RC_UNKNOWN_EXCEPTION, "the gateway could not make a %s id; nothing was recorded", what);
}

static void money_text(ctx_t *c, uint64_t v) { snprintf(c->amount_text, sizeof c->amount_text, "%llu", (unsigned long long)v); }

void sbx_paid_amounts(const sbx_txn_t *t, char amount[24], char pair[16], aop_money_t *order, aop_money_t *pay,
                      aop_exchange_rate_t *rate) {
    snprintf(amount, 24, "%llu", (unsigned long long)t->amount);
    order->currency = aop_str(t->currency);
    order->value = aop_str(amount);
    *pay = *order;
    snprintf(pair, 16, "%s/%s", t->currency, t->currency);
    rate->currency_pair = aop_str(pair);
    rate->rate = aop_str("1");
    rate->conversion_time = aop_str(t->create_time);
}

/* The pay answer for a recorded transaction, as it stands now. */
static void pay_answer(ctx_t *c, const sbx_txn_t *t) {
    aop_offline_pay_response_t *rs = c->resp;
    if (&c->txn != t) c->txn = *t;
    t = &c->txn;
    switch (t->status) {
    case AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS:
        set_result(c, AOP_RC_SUCCESS, "success");
        rs->body.acquirement_id = aop_str(t->acquirement_id);
        rs->body.merchant_trans_id = aop_str(t->merchant_trans_id);
        rs->body.has_order_amount = rs->body.has_pay_amount = rs->body.has_conversion_rate = true;
        sbx_paid_amounts(t, c->amount_text, c->pair, &rs->body.order_amount, &rs->body.pay_amount,
                         &rs->body.conversion_rate);
        rs->body.create_time = aop_str(t->create_time);
        rs->body.user_site.value = AOP_SITE_ENUM_ALIPAY_CN;
        rs->body.user_id = aop_str(t->user_id);
        break;
    case AOP_ACQUIREMENT_STATUS_ENUM_PAYING:
    case AOP_ACQUIREMENT_STATUS_ENUM_INIT:
        set_result(c, AOP_RC_PAYMENT_IN_PROCESS, NULL);
        rs->body.acquirement_id = aop_str(t->acquirement_id);
        rs->body.merchant_trans_id = aop_str(t->merchant_trans_id);
        break;
    case AOP_ACQUIREMENT_STATUS_ENUM_CANCELLED:
        set_result(c, t->result_code[0] ? t->result_code : AOP_RC_ORDER_IS_CLOSED,
                   "the payment was cancelled at %s", t->cancel_time);
        break;
    default:
        set_result(c, t->result_code[0] ? t->result_code : AOP_RC_ORDER_IS_CLOSED, NULL);
        break;
    }
}

/* The row of the pay's identityCode as it plays now (--no-faults: without its faults), or NULL. */
static const sbx_scenario_t *pay_scenario(const ctx_t *c, aop_str_t code, sbx_scenario_t *buf) {
    const sbx_scenario_t *sc = sbx_scenario_find(code.ptr, code.len);
    if (!sc || !c->s->no_faults) return sc;
    *buf = sbx_scenario_without_faults(sc);
    return buf;
}

/* Reads the pay's key data into t. False when answered (PARAM_ILLEGAL, hashing failed). */
static bool pay_read(ctx_t *c, const aop_offline_pay_request_body_t *b, sbx_txn_t *t) {
    uint64_t amount = 0;
    if (!sbx_parse_amount(b->order.order_amount.value.ptr, b->order.order_amount.value.len, &amount) || amount == 0) {
        set_result(c, AOP_RC_PARAM_ILLEGAL, "%s.value: the amount must be a positive number of minor units",
                   aop_fn_offline_pay.amount->path);
        return false;
    }
    memset(t, 0, sizeof *t);
    sbx_cstr(b->merchant_id, t->merchant_id, sizeof t->merchant_id);
    sbx_cstr(b->merchant_trans_id, t->merchant_trans_id, sizeof t->merchant_trans_id);
    sbx_cstr(b->order.order_amount.currency, t->currency, sizeof t->currency);
    t->amount = amount;
    if (!code_hash(c->s->store.salt, b->identity_code.ptr, b->identity_code.len, t->code_hash)) {
        set_result(c, AOP_RC_UNKNOWN_EXCEPTION, "the gateway could not hash the identityCode");
        return false;
    }
    return true;
}

/* A pay with a merchantTransId already recorded (transaction open): the same payment answers
 * its current state, other key data is REPEAT_REQ_INCONSISTENT. */
static void pay_repeat(ctx_t *c, const sbx_txn_t *t, sbx_txn_t *old, const sbx_scenario_t *sc) {
    aop_sandbox_t *s = c->s;
    if (old->amount != t->amount || strcmp(old->currency, t->currency) != 0 || strcmp(old->code_hash, t->code_hash) != 0) {
        sbx_store_rollback(&s->store);
        const char *what = old->amount != t->amount           ? "amount"
                           : strcmp(old->currency, t->currency) ? "currency"
                                                                : "identityCode";
        snprintf(c->log_note, sizeof c->log_note, "repeat with another %s", what);
        return set_result(c, AOP_RC_REPEAT_REQ_INCONSISTENT,
                          "merchantTransId %s was already used for a payment with another %s",
                          t->merchant_trans_id, what);
    }
    if (sc && sc->repeat_code) { /* a gateway that refuses re-sends: no verdict on the payment */
        sbx_store_rollback(&s->store);
        snprintf(c->log_note, sizeof c->log_note, "repeat refused (%s)", sc->repeat_code);
        return set_result(c, sc->repeat_code, "the identical repeat of merchantTransId %s is refused",
                          t->merchant_trans_id);
    }
    if (sbx_settle(old, sbx_clock_ms(s)) && sbx_txn_update(&s->store, old) != 0) {
        sbx_store_rollback(&s->store);
        return store_failed(c, "settling the payment");
    }
    if (!commit_or_fail(c, "committing")) return;
    snprintf(c->log_note, sizeof c->log_note, "repeat of %s (%s)", old->acquirement_id, status_name(old->status));
    pay_answer(c, old);
    c->fault = sc ? sc->fault : SBX_FAULT_NONE;
}

/* The new payment's state, timers, tag and visibility for its action. */
static void pay_record_fields(ctx_t *c, sbx_txn_t *t, sbx_action_t action, const sbx_scenario_t *sc, int64_t now) {
    t->created_ms = now;
    sbx_rfc3339(now, t->create_time);
    snprintf(t->user_id, sizeof t->user_id, "2088");
    for (unsigned i = 0; i < 12; i++) {
        unsigned char h = (unsigned char)t->code_hash[i];
        t->user_id[4 + i] = (char)('0' + (h >= 'a' ? h - 'a' + 10 : h - '0') % 10);
    }
    t->user_id[16] = '\0';
    switch (action) {
    case SBX_ACT_PAY:
        t->status = AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS;
        snprintf(t->paid_time, sizeof t->paid_time, "%s", t->create_time);
        break;
    case SBX_ACT_IN_PROCESS:
        t->status = AOP_ACQUIREMENT_STATUS_ENUM_PAYING;
        if (sc->settle_to) { /* else PAYING until a cancel */
            t->settle_at_ms = now + (int64_t)c->s->settle_ms;
            t->settle_to = sc->settle_to;
        }
        break;
    default: /* declines, and UNKNOWN_EXCEPTION: not paid */
        t->status = AOP_ACQUIREMENT_STATUS_ENUM_CLOSED;
        break;
    }
    if (sc && sc->tag) snprintf(t->scenario, sizeof t->scenario, "%s", sc->tag);
    if (sc && sc->late) t->visible_at_ms = now + (int64_t)c->s->delay_ms;
}

/* A pay with a new merchantTransId (transaction open): recorded as its row says. */
static void pay_new(ctx_t *c, sbx_txn_t *t, aop_str_t identity_code, const sbx_scenario_t *sc) {
    aop_sandbox_t *s = c->s;
    sbx_action_t action = SBX_ACT_PAY;
    const char *code = AOP_RC_SUCCESS;
    if (sc) {
        action = sc->action;
        code = sc->result_code;
    } else if (!sbx_code_well_formed(identity_code.ptr, identity_code.len)) {
        action = SBX_ACT_DECLINE;
        code = AOP_RC_IDENTITY_CODE_INVALID;
    }
    c->fault = sc ? sc->fault : SBX_FAULT_NONE;
    if (action == SBX_ACT_REJECT) { /* refused (or dropped) before anything is recorded */
        sbx_store_rollback(&s->store);
        return set_result(c, code, NULL);
    }
    pay_record_fields(c, t, action, sc, sbx_clock_ms(s));
    /* what a repeat answers: UNKNOWN_EXCEPTION left the payment closed */
    snprintf(t->result_code, sizeof t->result_code, "%s", action == SBX_ACT_EXCEPTION ? AOP_RC_ORDER_IS_CLOSED : code);
    int r = 1;
    for (int attempt = 0; attempt < 3 && r == 1; attempt++) /* 1: the id collided */
        r = new_id(t->acquirement_id, sizeof t->acquirement_id, "11") ? sbx_txn_insert(&s->store, t) : NO_ID;
    if (r != 0) {
        sbx_store_rollback(&s->store);
        return r == NO_ID ? no_id(c, "payment") : store_failed(c, "recording the payment");
    }
    if (!commit_or_fail(c, "committing the payment")) return;
    sbx_notify_payment(s, t, ((const aop_request_head_t *)c->req)->client_id);
    snprintf(c->log_note, sizeof c->log_note, "new %s (%s%s)", t->acquirement_id, status_name(t->status),
             t->visible_at_ms ? ", late" : "");
    if (action == SBX_ACT_PAY || action == SBX_ACT_IN_PROCESS) pay_answer(c, t);
    else set_result(c, code, NULL);
}

static void do_pay(ctx_t *c) {
    aop_sandbox_t *s = c->s;
    const aop_offline_pay_request_body_t *b = &((const aop_offline_pay_request_t *)c->req)->body;
    sbx_txn_t *t = &c->txn, old;
    sbx_scenario_t buf;
    const sbx_scenario_t *sc = pay_scenario(c, b->identity_code, &buf);
    if (!pay_read(c, b, t)) return;
    if (sbx_store_begin(&s->store) != 0) return store_failed(c, "starting a transaction");
    int found = sbx_txn_by_trans_id(&s->store, t->merchant_id, t->merchant_trans_id, &old);
    int closed = found == 0 ? sbx_closed_find(&s->store, t->merchant_id, t->merchant_trans_id) : 0;
    if (found < 0 || closed < 0) {
        sbx_store_rollback(&s->store);
        return store_failed(c, "reading the payment");
    }
    if (found) return pay_repeat(c, t, &old, sc);
    if (closed) {
        sbx_store_rollback(&s->store);
        snprintf(c->log_note, sizeof c->log_note, "id closed by an earlier payCancel");
        return set_result(c, AOP_RC_ORDER_IS_CLOSED, "merchantTransId %s was closed by a payCancel before any pay",
                          t->merchant_trans_id);
    }
    pay_new(c, t, b->identity_code, sc);
}

/* payQuery and payCancel find their payment alike; a cancel also closes an unseen id. */
typedef enum { FIND_QUERY, FIND_CANCEL } find_for_t;

/* Counts this call of t and returns its fault, if the payment's row has one for it (the first
 * `times` calls, or all) and faults are on. */
static const sbx_call_fault_t *count_call(ctx_t *c, sbx_txn_t *t, find_for_t why) {
    const sbx_scenario_t *sc = sbx_scenario_by_tag(t->scenario);
    if (!sc) return NULL;
    int64_t n = why == FIND_CANCEL ? ++t->cancel_count : ++t->query_count;
    const sbx_call_fault_t *f = why == FIND_CANCEL ? &sc->cancel : &sc->query;
    if (c->s->no_faults || !sbx_call_fault_active(f) || (f->times && n > f->times)) return NULL;
    return f;
}

/* Answers ORDER_NOT_EXIST for a payment that is not there. */
static void not_found(ctx_t *c, const char *merchant, const char *acq, const char *mtid) {
    if (acq[0])
        set_result(c, AOP_RC_ORDER_NOT_EXIST, "merchant %s has no payment with acquirementId %s", merchant, acq);
    else
        set_result(c, AOP_RC_ORDER_NOT_EXIST, "merchant %s has no payment with merchantTransId %s", merchant, mtid);
}

/* Finds the payment a query or cancel names: by acquirementId when sent (a merchantTransId sent
 * beside it must belong to the same payment), else by merchantTransId; settles its timer and
 * counts the call (c->call_fault). Returns 1 found (transaction open: the caller commits), 0
 * answered ORDER_NOT_EXIST, -1 store error (answered), or, for a cancel by merchantTransId
 * alone, 2: never seen (transaction open; c->txn.row is a hidden late pay's row, or 0). */
static int find_payment(ctx_t *c, aop_str_t merchant_v, aop_str_t acq_v, aop_str_t mtid_v, find_for_t why) {
    aop_sandbox_t *s = c->s;
    sbx_txn_t *t = &c->txn;
    char merchant[SBX_ID_MAX], acq[SBX_ID_MAX], mtid[SBX_ID_MAX];
    sbx_cstr(merchant_v, merchant, sizeof merchant);
    sbx_cstr(acq_v, acq, sizeof acq);
    sbx_cstr(mtid_v, mtid, sizeof mtid);
    if (sbx_store_begin(&s->store) != 0) return store_failed(c, "starting a transaction"), -1;
    int found = acq_v.ptr ? sbx_txn_by_acq_id(&s->store, merchant, acq, t)
                          : sbx_txn_by_trans_id(&s->store, merchant, mtid, t);
    if (found < 0) {
        sbx_store_rollback(&s->store);
        return store_failed(c, "reading the payment"), -1;
    }
    int64_t now = sbx_clock_ms(s);
    if (found && sbx_hidden(t, now)) found = 0;
    else if (!found) t->row = 0;
    if (!found && !acq_v.ptr && why == FIND_CANCEL) return 2;
    if (found && acq_v.ptr && mtid_v.ptr && strcmp(t->merchant_trans_id, mtid) != 0) {
        sbx_store_rollback(&s->store);
        set_result(c, AOP_RC_ORDER_NOT_EXIST, "acquirementId %s does not belong to merchantTransId %s", acq, mtid);
        return 0;
    }
    if (!found) {
        sbx_store_rollback(&s->store);
        return not_found(c, merchant, acq, mtid), 0;
    }
    bool changed = sbx_settle(t, now);
    c->call_fault = count_call(c, t, why);
    changed |= t->scenario[0] != '\0';
    if (changed && sbx_txn_update(&s->store, t) != 0) {
        sbx_store_rollback(&s->store);
        return store_failed(c, "updating the payment"), -1;
    }
    return 1;
}

static void do_query(ctx_t *c) {
    const aop_offline_pay_query_request_body_t *b = &((const aop_offline_pay_query_request_t *)c->req)->body;
    aop_offline_pay_query_response_t *rs = c->resp;
    sbx_txn_t *t = &c->txn;
    if (find_payment(c, b->merchant_id, b->acquirement_id, b->merchant_trans_id, FIND_QUERY) != 1) return;
    if (!commit_or_fail(c, "committing")) return;
    const sbx_call_fault_t *f = c->call_fault;
    if (f && f->result_code) {
        snprintf(c->log_note, sizeof c->log_note, "%s: scenario answers %s", t->acquirement_id, f->result_code);
        return set_result(c, f->result_code, NULL);
    }
    c->fault = f ? f->fault : SBX_FAULT_NONE;
    set_result(c, AOP_RC_SUCCESS, "success");
    rs->body.acquirement_id = aop_str(t->acquirement_id);
    rs->body.merchant_trans_id = aop_str(t->merchant_trans_id);
    rs->body.acquirement_status.value = t->status;
    money_text(c, t->amount + (f && f->other_amount ? 1 : 0));
    rs->body.has_order_amount = true;
    rs->body.order_amount.currency = aop_str(t->currency);
    rs->body.order_amount.value = aop_str(c->amount_text);
    if (t->status == AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS) {
        rs->body.has_pay_amount = true;
        rs->body.pay_amount = rs->body.order_amount;
    }
    if (t->paid_time[0]) rs->body.payment_time = aop_str(t->paid_time);
    snprintf(c->log_note, sizeof c->log_note, "%s is %s", t->acquirement_id, status_name(t->status));
}

/* payCancel is allowed on the day of the payment (Beijing time) plus 15 minutes. */
static bool cancel_window_open(const sbx_txn_t *t, int64_t now_ms) {
    const int64_t day = 86400, bj = 8 * 3600;
    int64_t created = t->created_ms / 1000;
    int64_t closes = ((created + bj) / day + 1) * day - bj + 15 * 60;
    return now_ms / 1000 < closes;
}

/* Cancels t in the open transaction: a paid payment is reversed (CANCELLED), an unpaid one is
 * closed (CLOSED), a closed or cancelled one stays. 1 done, 0 refused (answered), -1 store error
 * (answered). */
static int cancel_apply(ctx_t *c, sbx_txn_t *t, int64_t now) {
    switch (t->status) {
    case AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS:
        if (t->refunded > 0) {
            set_result(c, AOP_RC_ORDER_STATUS_INVALID, "the payment has refunds: refund the rest instead of cancelling");
            return 0;
        }
        if (!cancel_window_open(t, now)) {
            set_result(c, AOP_RC_ORDER_STATUS_INVALID,
                       "payCancel is allowed only on the day of the payment (Beijing time) plus 15 minutes: "
                       "refund it instead");
            return 0;
        }
        t->status = AOP_ACQUIREMENT_STATUS_ENUM_CANCELLED;
        break;
    case AOP_ACQUIREMENT_STATUS_ENUM_PAYING:
    case AOP_ACQUIREMENT_STATUS_ENUM_INIT:
        t->status = AOP_ACQUIREMENT_STATUS_ENUM_CLOSED;
        break;
    default: /* CANCELLED or CLOSED already: nothing to undo */
        return 1;
    }
    t->settle_at_ms = 0;
    t->settle_to = 0;
    sbx_rfc3339(now, t->cancel_time);
    snprintf(t->result_code, sizeof t->result_code, "%s", AOP_RC_ORDER_IS_CLOSED);
    if (sbx_txn_update(&c->s->store, t) == 0) return 1;
    store_failed(c, "cancelling the payment");
    return -1;
}

/* A cancel of a merchantTransId never seen (transaction open): S, and the id is closed, so a
 * pay that arrives later with it gets ORDER_IS_CLOSED (a guess: a sibling product documents
 * it). A late pay not yet arrived is dropped: it will never pay. */
static void cancel_unseen(ctx_t *c, aop_str_t merchant_v, aop_str_t mtid_v) {
    aop_sandbox_t *s = c->s;
    aop_pay_cancel_response_t *rs = c->resp;
    char merchant[SBX_ID_MAX], mtid[SBX_ID_MAX];
    sbx_cstr(merchant_v, merchant, sizeof merchant);
    sbx_cstr(mtid_v, mtid, sizeof mtid);
    int64_t now = sbx_clock_ms(s);
    if ((c->txn.row && sbx_txn_delete(&s->store, c->txn.row) != 0) || sbx_closed_insert(&s->store, merchant, mtid, now) != 0) {
        sbx_store_rollback(&s->store);
        return store_failed(c, "closing the id");
    }
    if (!commit_or_fail(c, "committing the cancel")) return;
    snprintf(c->log_note, sizeof c->log_note, "closed the unseen id%s", c->txn.row ? " (a late pay's)" : "");
    memset(&c->txn, 0, sizeof c->txn);
    set_result(c, AOP_RC_SUCCESS, "success");
    sbx_rfc3339(now, c->cancel_time);
    rs->body.cancel_time = aop_str(c->cancel_time);
}

/* A cancel fault that changes nothing: an F code, or HTTP 500. True when it answered. */
static bool cancel_refused_by_fault(ctx_t *c) {
    const sbx_call_fault_t *f = c->call_fault;
    if (!f || (!f->result_code && f->fault != SBX_FAULT_HTTP_500)) return false;
    if (!commit_or_fail(c, "committing")) return true; /* the call counter */
    snprintf(c->log_note, sizeof c->log_note, "%s: scenario refuses the cancel", c->txn.acquirement_id);
    if (f->result_code) {
        set_result(c, f->result_code, NULL);
    } else {
        set_result(c, AOP_RC_UNKNOWN_EXCEPTION, "HTTP 500 (sandbox scenario)");
        c->fault = SBX_FAULT_HTTP_500;
    }
    return true;
}

static void do_cancel(ctx_t *c) {
    const aop_pay_cancel_request_body_t *b = &((const aop_pay_cancel_request_t *)c->req)->body;
    aop_pay_cancel_response_t *rs = c->resp;
    sbx_txn_t *t = &c->txn;
    int found = find_payment(c, b->merchant_id, b->acquirement_id, b->merchant_trans_id, FIND_CANCEL);
    if (found == 2) return cancel_unseen(c, b->merchant_id, b->merchant_trans_id);
    if (found != 1 || cancel_refused_by_fault(c)) return;
    int64_t now = sbx_clock_ms(c->s);
    int before = t->status;
    int done = cancel_apply(c, t, now);
    if (done < 0) return sbx_store_rollback(&c->s->store);
    if (done == 0) {
        commit_or_fail(c, "committing"); /* refused: the settled timer and the call counter stay */
        return;
    }
    if (!commit_or_fail(c, "committing the cancel")) return;
    if (before != t->status && t->status == AOP_ACQUIREMENT_STATUS_ENUM_CLOSED)
        sbx_notify_payment(c->s, t, ((const aop_request_head_t *)c->req)->client_id);
    c->fault = c->call_fault ? c->call_fault->fault : SBX_FAULT_NONE;
    set_result(c, AOP_RC_SUCCESS, "success");
    rs->body.acquirement_id = aop_str(t->acquirement_id);
    rs->body.merchant_trans_id = aop_str(t->merchant_trans_id);
    if (t->cancel_time[0]) {
        rs->body.cancel_time = aop_str(t->cancel_time);
    } else {
        sbx_rfc3339(now, c->cancel_time);
        rs->body.cancel_time = aop_str(c->cancel_time);
    }
    snprintf(c->log_note, sizeof c->log_note, "%s %s -> %s", t->acquirement_id, status_name(before),
             status_name(t->status));
}

static void refund_answer(ctx_t *c, const sbx_refund_t *r) {
    aop_refund_response_t *rs = c->resp;
    if (&c->refund != r) c->refund = *r;
    r = &c->refund;
    set_result(c, AOP_RC_SUCCESS, "success");
    rs->body.acquirement_id = aop_str(r->acquirement_id);
    rs->body.merchant_refund_id = aop_str(r->merchant_refund_id);
    rs->body.refund_id = aop_str(r->refund_id);
    money_text(c, r->amount);
    rs->body.has_refund_amount = true;
    rs->body.refund_amount.currency = aop_str(r->currency);
    rs->body.refund_amount.value = aop_str(c->amount_text);
    rs->body.refund_time = aop_str(r->refund_time);
}

/* Reads the refund's key data into r. False when answered (PARAM_ILLEGAL). */
static bool refund_read(ctx_t *c, const aop_refund_request_body_t *b, sbx_refund_t *r) {
    memset(r, 0, sizeof *r);
    sbx_cstr(b->merchant_id, r->merchant_id, sizeof r->merchant_id);
    sbx_cstr(b->merchant_refund_id, r->merchant_refund_id, sizeof r->merchant_refund_id);
    sbx_cstr(b->acquirement_id, r->acquirement_id, sizeof r->acquirement_id);
    sbx_cstr(b->refund_amount.currency, r->currency, sizeof r->currency);
    if (sbx_parse_amount(b->refund_amount.value.ptr, b->refund_amount.value.len, &r->amount) && r->amount > 0)
        return true;
    set_result(c, AOP_RC_PARAM_ILLEGAL, "%s.value: the amount must be a positive number of minor units",
               aop_fn_refund.amount->path);
    return false;
}

/* A refund with a merchantRefundId already recorded (transaction open, ended here): the same
 * refund answers as recorded, other key data is REPEAT_REQ_INCONSISTENT. */
static void refund_repeat(ctx_t *c, const sbx_refund_t *r, const sbx_refund_t *old) {
    sbx_store_rollback(&c->s->store);
    if (old->amount != r->amount || strcmp(old->currency, r->currency) != 0 ||
        strcmp(old->acquirement_id, r->acquirement_id) != 0) {
        const char *what = strcmp(old->acquirement_id, r->acquirement_id) ? "acquirementId"
                           : old->amount != r->amount                       ? "amount"
                                                                            : "currency";
        snprintf(c->log_note, sizeof c->log_note, "repeat with another %s", what);
        return set_result(c, AOP_RC_REPEAT_REQ_INCONSISTENT,
                          "merchantRefundId %s was already used for a refund with another %s",
                          r->merchant_refund_id, what);
    }
    snprintf(c->log_note, sizeof c->log_note, "repeat of refund %s", old->refund_id);
    refund_answer(c, old);
}

/* Whether the payment t can take the refund r. When it cannot, the answer is set and the
 * transaction ended: committed when `changed` (a timer settled), else rolled back. */
static bool refund_allowed(ctx_t *c, sbx_txn_t *t, const sbx_refund_t *r, bool changed) {
    if (t->status != AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS)
        set_result(c, AOP_RC_ORDER_STATUS_INVALID, "the payment is %s: only a paid (SUCCESS) payment can be refunded",
                   status_name(t->status));
    else if (strcmp(t->currency, r->currency) != 0)
        set_result(c, AOP_RC_PARAM_ILLEGAL, "%s.currency: the payment was made in %s", aop_fn_refund.amount->path,
                   t->currency);
    else if (r->amount > t->amount - t->refunded)
        set_result(c, AOP_RC_REFUND_AMOUNT_EXCEED, "refunds would total %llu, more than the %llu paid (%llu refunded so far)",
                   (unsigned long long)(t->refunded + r->amount), (unsigned long long)t->amount,
                   (unsigned long long)t->refunded);
    else
        return true;
    if (changed && sbx_txn_update(&c->s->store, t) == 0) sbx_store_commit(&c->s->store);
    else sbx_store_rollback(&c->s->store);
    return false;
}

/* Records the refund r of t under a new refundId (transaction open, ended here) and answers. */
static void refund_record(ctx_t *c, sbx_txn_t *t, sbx_refund_t *r, int64_t now) {
    aop_sandbox_t *s = c->s;
    t->refunded += r->amount;
    sbx_rfc3339(now, r->refund_time);
    int ins = 1;
    for (int attempt = 0; attempt < 3 && ins == 1; attempt++) /* 1: the id collided */
        ins = new_id(r->refund_id, sizeof r->refund_id, "12") ? sbx_refund_insert(&s->store, r) : NO_ID;
    if (ins != 0 || sbx_txn_update(&s->store, t) != 0) {
        sbx_store_rollback(&s->store);
        return ins == NO_ID ? no_id(c, "refund") : store_failed(c, "recording the refund");
    }
    if (sbx_store_commit(&s->store) != 0) return store_failed(c, "committing the refund");
    snprintf(c->log_note, sizeof c->log_note, "refund %s of %s (%llu of %llu refunded)", r->refund_id,
             t->acquirement_id, (unsigned long long)t->refunded, (unsigned long long)t->amount);
    refund_answer(c, r);
}

static void do_refund(ctx_t *c) {
    aop_sandbox_t *s = c->s;
    sbx_refund_t r, old;
    if (!refund_read(c, &((const aop_refund_request_t *)c->req)->body, &r)) return;
    if (sbx_store_begin(&s->store) != 0) return store_failed(c, "starting a transaction");
    int found = sbx_refund_find(&s->store, r.merchant_id, r.merchant_refund_id, &old);
    if (found) {
        if (found > 0) return refund_repeat(c, &r, &old);
        sbx_store_rollback(&s->store);
        return store_failed(c, "reading the refund");
    }
    sbx_txn_t *t = &c->txn;
    found = sbx_txn_by_acq_id(&s->store, r.merchant_id, r.acquirement_id, t);
    int64_t now = sbx_clock_ms(s);
    if (found > 0 && sbx_hidden(t, now)) found = 0;
    if (found <= 0) {
        sbx_store_rollback(&s->store);
        if (found < 0) return store_failed(c, "reading the payment");
        return set_result(c, AOP_RC_ORDER_NOT_EXIST, "merchant %s has no payment with acquirementId %s",
                          r.merchant_id, r.acquirement_id);
    }
    if (refund_allowed(c, t, &r, sbx_settle(t, now))) refund_record(c, t, &r, now);
}

/* ---- the pipeline ---------------------------------------------------------------------------- */

static bool client_known(const aop_sandbox_t *s, aop_str_t id) {
    for (unsigned i = 0; i < s->n_client_ids; i++)
        if (aop_str_eq_cstr(id, s->client_ids[i])) return true;
    return false;
}

/* Reads what the lenient decoder could make of a copy of the body (the original bytes stay
 * untouched for the signature check). */
static void read_loose(ctx_t *c, const aop_json_doc_t *doc, const aop_envelope_t *env, const char *body, size_t len) {
    c->loose_buf = malloc(len + 1);
    c->loose = calloc(1, c->fn->request->size);
    if (!c->loose_buf || !c->loose) {
        free(c->loose_buf);
        free(c->loose);
        c->loose_buf = NULL;
        c->loose = NULL;
        return;
    }
    memcpy(c->loose_buf, body, len);
    c->loose_buf[len] = '\0';
    aop_warnings_t w;
    aop_warnings_clear(&w);
    aop_error_t e;
    aop_decode(c->fn->request, doc, env->payload_tok, c->loose_buf, c->loose, "request", false, &w, &e);
}

static void log_request(ctx_t *c, const sbx_reply_t *reply, long elapsed_ms) {
    if (!c->s->log) return;
    const void *src = c->req ? c->req : c->loose;
    char client[40] = "-", key[80] = "-", code[48] = "";
    if (src) {
        const aop_request_head_t *h = src;
        if (head_text_ok(h->client_id, 32)) sbx_cstr(h->client_id, client, sizeof client);
        if (c->fn->idempotency_key) {
            aop_str_t k = *aop_ref_str(c->fn->idempotency_key, src);
            if (k.ptr && k.len <= 64 && aop_is_utf8(k.ptr, k.len)) sbx_cstr(k, key, sizeof key);
        }
        for (unsigned i = 0; i < c->fn->n_sensitive; i++) {
            aop_str_t v = *aop_ref_str(&c->fn->sensitive[i], src);
            if (!v.ptr) continue;
            /* the runtime's masking; sbx_log makes the line's control characters harmless */
            char masked[32];
            aop_mask(v.ptr, v.len, masked, sizeof masked);
            snprintf(code, sizeof code, " %s=%s", strrchr(c->fn->sensitive[i].path, '.') + 1, masked);
        }
    }
    const aop_result_info_t *ri = result_of(c);
    static const char *const fault_names[] = {"", " fault=delay", " fault=drop", " fault=bad-signature",
                                              " fault=http-500", " fault=truncate", " fault=unsigned",
                                              " fault=echo-mismatch", " fault=unknown-member"};
    char rc[72];
    sbx_cstr(ri->result_code, rc, sizeof rc);
    const char *status = aop_result_status_enum_to_string((aop_result_status_enum_t)ri->result_status.value);
    sbx_log(c->s, "%s clientId=%s key=%s%s -> HTTP %u %s %s%s%s%s (%ld ms)", c->fn->name, client, key, code,
            reply->http_status, status ? status : "?", rc[0] ? rc : "-", c->log_note[0] ? " " : "",
            c->log_note, fault_names[c->fault], elapsed_ms);
}

/* The request's value of a body id (found through the echo table, so by path), when it could
 * be read and is text; "" otherwise. */
static void request_id(const ctx_t *c, const char *path, char *out, size_t cap) {
    const void *src = c->req ? c->req : c->echo_from_loose ? c->loose : NULL;
    out[0] = '\0';
    for (unsigned i = 0; src && i < c->fn->n_echo; i++) {
        const aop_echo_desc_t *e = &c->fn->echo[i];
        if (e->request.kind != AOP_KIND_STRING || strcmp(e->request.path, path) != 0) continue;
        aop_str_t v = *aop_ref_str(&e->request, src);
        if (v.ptr && v.len < cap && aop_is_utf8(v.ptr, v.len)) sbx_cstr(v, out, cap);
    }
}

/* The request log's line: written after the state change committed, before the answer leaves.
 * resultStatus and resultCode are null when no JSON answer is sent (HTTP 500, a dropped
 * connection, a truncated body). */
static void request_log(ctx_t *c, const sbx_reply_t *reply) {
    if (c->s->request_log_fd < 0) return;
    char mtid[SBX_ID_MAX], acq[SBX_ID_MAX], code[72] = "";
    request_id(c, "request.body.merchantTransId", mtid, sizeof mtid);
    request_id(c, "request.body.acquirementId", acq, sizeof acq);
    if (!acq[0] && c->txn.acquirement_id[0]) snprintf(acq, sizeof acq, "%s", c->txn.acquirement_id);
    bool answered = reply->http_status == 200 && reply->fault != SBX_FAULT_HTTP_500 &&
                    reply->fault != SBX_FAULT_DROP && reply->fault != SBX_FAULT_TRUNCATE;
    const aop_result_info_t *ri = result_of(c);
    sbx_cstr(ri->result_code, code, sizeof code);
    sbx_reqlog_entry_t e = {
        .function = c->fn->name,
        .merchant_trans_id = mtid[0] ? mtid : NULL,
        .acquirement_id = acq[0] ? acq : NULL,
        .result_status = answered ? aop_result_status_enum_to_string(
                                        (aop_result_status_enum_t)ri->result_status.value)
                                  : NULL,
        .result_code = answered && code[0] ? code : NULL,
        .time_ms = sbx_clock_ms(c->s),
    };
    sbx_reqlog_write(c->s, &e);
}

/* PARAM_ILLEGAL with the failing field's JSON path first in resultMsg. */
static void param_illegal(ctx_t *c, aop_status_t st, const aop_error_t *err) {
    if (st == AOP_OK) {
        set_result(c, AOP_RC_PARAM_ILLEGAL, "request.head.clientId: not a valid clientId");
        return;
    }
    size_t pl = strlen(err->path);
    if (pl && strncmp(err->msg, err->path, pl) == 0)
        set_result(c, AOP_RC_PARAM_ILLEGAL, "%s", err->msg);
    else
        set_result(c, AOP_RC_PARAM_ILLEGAL, "%s: %s", err->path[0] ? err->path : "request", err->msg);
}

/* Strict decoding of the request's head alone (in place). */
static aop_status_t decode_head(const aop_json_doc_t *doc, unsigned payload, char *body, aop_error_t *err) {
    const aop_json_tok_t *t = doc->tok;
    unsigned i = payload + 1;
    for (uint32_t k = 0; k < t[payload].size; k++) {
        if (aop_json_str_eq(doc, i, "head", 4)) {
            aop_request_head_t head;
            aop_warnings_t w;
            aop_warnings_clear(&w);
            return aop_decode(&aop_request_head_desc, doc, i + 1, body, &head, "request.head", true, &w, err);
        }
        i = aop_json_skip(doc, i + 1);
    }
    return aop_error_set(err, AOP_E_MISSING, "request.head", -1, "request.head: %s", aop_status_text(AOP_E_MISSING));
}

/* The steps of one request, in the order of the file's head comment. Each check returns false
 * when it has answered (set_result); the next step runs only after it passed. */

/* The JSON envelope: parsed into doc/env, and what the lenient decoder could read of it kept
 * for the echoes. Only "request" and "signature" are allowed: requests are read strictly. */
static bool read_envelope(ctx_t *c, char *body, size_t len, aop_json_ws_t *ws, aop_json_doc_t *doc,
                          aop_envelope_t *env) {
    aop_error_t err;
    aop_error_clear(&err);
    aop_status_t st = aop_json_ws_alloc(ws, body, len, &err);
    if (st == AOP_OK) st = aop_envelope_read(body, len, "request", ws, doc, env, &err);
    if (st == AOP_E_NOMEM) {
        set_result(c, AOP_RC_UNKNOWN_EXCEPTION, "the gateway ran out of memory");
        return false;
    }
    if (st != AOP_OK) {
        if (err.offset >= 0)
            set_result(c, AOP_RC_PARAM_ILLEGAL, "the body is not a request envelope: %s (at byte %ld)", err.msg, err.offset);
        else
            set_result(c, AOP_RC_PARAM_ILLEGAL, "the body is not a request envelope: %s", err.msg);
        return false;
    }
    read_loose(c, doc, env, body, len);
    c->echo_from_loose = true;
    if (!env->extra_members) return true;
    set_result(c, AOP_RC_PARAM_ILLEGAL, "the envelope has %u member%s besides \"request\" and \"signature\"",
               env->extra_members, env->extra_members == 1 ? "" : "s");
    return false;
}

/* The clientId: present, valid and known (UNKNOWN_CLIENT). */
static bool check_client(ctx_t *c, const aop_json_doc_t *doc, const aop_envelope_t *env, char *body) {
    const aop_request_head_t *lh = c->loose;
    if (!lh || !head_text_ok(lh->client_id, AOP_REQUEST_HEAD_CLIENT_ID_MAX)) {
        /* no usable clientId: say precisely what is wrong with the head (the body is not used
         * any more, so decoding it in place is harmless now) */
        aop_error_t err;
        aop_error_clear(&err);
        param_illegal(c, decode_head(doc, env->payload_tok, body, &err), &err);
        return false;
    }
    if (client_known(c->s, lh->client_id)) return true;
    /* the resultMsg is text the gateway sends: the unknown id's control characters become '?' */
    char id[AOP_REQUEST_HEAD_CLIENT_ID_MAX * 4 + 1];
    aop_terminal_safe(lh->client_id.ptr, lh->client_id.len, id, sizeof id);
    set_result(c, AOP_RC_UNKNOWN_CLIENT, "clientId %s is not known to this gateway", id);
    return false;
}

/* The signType (when sent) and the signature over the raw request bytes (INVALID_SIGNATURE). */
static bool check_signature(ctx_t *c, const aop_envelope_t *env) {
    aop_sandbox_t *s = c->s;
    const aop_request_head_t *lh = c->loose;
    if (lh->sign_type.ptr) {
        aop_sign_type_t t;
        char name[16];
        sbx_cstr(lh->sign_type, name, sizeof name);
        if (lh->sign_type.len >= sizeof name || !aop_sign_type_parse(name, &t) || t != s->sign_type) {
            set_result(c, AOP_RC_INVALID_SIGNATURE, "request.head.signType: this client signs with %s",
                       aop_sign_type_name(s->sign_type));
            return false;
        }
    }
    aop_error_t err;
    aop_error_clear(&err);
    aop_verifier_t *verifier = sbx_verifier_take(s, &err);
    aop_status_t st = verifier ? aop_envelope_verify(env, verifier, &err) : err.code;
    sbx_verifier_give(s, verifier);
    if (st == AOP_OK) return true;
    set_result(c, AOP_RC_INVALID_SIGNATURE, st == AOP_E_SIGNATURE_MISSING
                                                ? "the request carries no signature"
                                                : "the signature does not verify over the request bytes with "
                                                  "the merchant's public key (%s)",
               aop_sign_type_name(s->sign_type));
    return false;
}

/* Strict decoding into c->req (PARAM_ILLEGAL with the failing path), and the head's function
 * against the path's (NO_INTERFACE_DEF for one that does not exist). */
static bool decode_strict(ctx_t *c, const aop_json_doc_t *doc, const aop_envelope_t *env, char *body) {
    const aop_function_desc_t *fn = c->fn;
    c->req = calloc(1, fn->request->size);
    if (!c->req) {
        set_result(c, AOP_RC_UNKNOWN_EXCEPTION, "the gateway ran out of memory");
        return false;
    }
    aop_warnings_t w;
    aop_warnings_clear(&w);
    aop_error_t err;
    aop_error_clear(&err);
    aop_status_t st = aop_decode(fn->request, doc, env->payload_tok, body, c->req, "request", true, &w, &err);
    if (st != AOP_OK) {
        free(c->req);
        c->req = NULL;
        param_illegal(c, st, &err);
        return false;
    }
    const aop_request_head_t *h = c->req;
    if (aop_str_eq_cstr(h->function, fn->name)) return true;
    char name[AOP_REQUEST_HEAD_FUNCTION_MAX * 4 + 1];
    sbx_cstr(h->function, name, sizeof name);
    if (!aop_function_find(h->function.ptr, h->function.len))
        set_result(c, AOP_RC_NO_INTERFACE_DEF, "request.head.function: %s is not defined", name);
    else
        set_result(c, AOP_RC_PARAM_ILLEGAL, "request.head.function: %s is not the function of %s (%s)", name,
                   fn->path, fn->name);
    return false;
}

/* The business rules of the function. */
static void apply_rules(ctx_t *c) {
    const aop_function_desc_t *fn = c->fn;
    if (fn == &aop_fn_offline_pay)
        do_pay(c);
    else if (fn == &aop_fn_offline_pay_query)
        do_query(c);
    else if (fn == &aop_fn_pay_cancel)
        do_cancel(c);
    else if (fn == &aop_fn_refund)
        do_refund(c);
    else
        set_result(c, AOP_RC_NO_INTERFACE_DEF, "%s is not served by this gateway", fn->name);
}

/* A request's context with its response struct, or NULL (out of memory). */
static ctx_t *ctx_new(aop_sandbox_t *s, const aop_function_desc_t *fn) {
    ctx_t *c = calloc(1, sizeof *c);
    void *resp = c ? calloc(1, fn->response->size) : NULL;
    if (!resp) {
        free(c);
        return NULL;
    }
    c->s = s;
    c->fn = fn;
    c->resp = resp;
    sbx_rfc3339(sbx_clock_ms(s), c->resp_time);
    return c;
}

static void ctx_free(ctx_t *c) {
    free(c->req);
    free(c->loose);
    free(c->loose_buf);
    free(c->resp);
    free(c);
}

void sbx_handle(aop_sandbox_t *s, const aop_function_desc_t *fn, char *body, size_t len, sbx_reply_t *reply) {
    int64_t started = sbx_now_ms();
    memset(reply, 0, sizeof *reply);
    ctx_t *c = ctx_new(s, fn);
    if (!c) {
        reply->http_status = 500;
        if (aop_buf_append(&reply->body, "out of memory\n", 14) != AOP_OK) reply->body.len = 0; /* an empty 500 */
        return;
    }
    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_envelope_t env;
    if (read_envelope(c, body, len, &ws, &doc, &env) && check_client(c, &doc, &env, body) &&
        check_signature(c, &env) && decode_strict(c, &doc, &env, body))
        apply_rules(c);
    aop_json_ws_free(&ws);
    finish(c, reply);
    request_log(c, reply);
    log_request(c, reply, (long)(sbx_now_ms() - started));
    ctx_free(c);
}

void sbx_reply_free(sbx_reply_t *reply) { aop_buf_free(&reply->body); }
