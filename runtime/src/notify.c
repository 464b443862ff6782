/* SPDX-License-Identifier: MIT */
/* Receiving Alipay's notifications (docs/protocol.md section 8): the receiver, and the checks
 * of one notification in the order aop/notify.h gives them. The request is decoded by the
 * schema's rules for a received message: its deciding members (schema `decides`) strictly, the
 * rest as warnings. */
#include "aop/notify.h"

#include <stdlib.h>
#include <string.h>

#include "aop/envelope.h"
#include "aop/signer.h"
#include "aop/util.h"
#include "client_internal.h"
#include "notify_internal.h"

void aop_notify_config_init(aop_notify_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->sign_type = AOP_SIGN_RSA2;
    cfg->max_age_s = AOP_NOTIFY_MAX_AGE_S;
    cfg->max_ahead_s = AOP_NOTIFY_MAX_AHEAD_S;
}

static aop_status_t check_config(const aop_notify_config_t *cfg, aop_error_t *err) {
    size_t units = 0;
    if (!cfg->client_id || !*cfg->client_id || !aop_utf8_units(cfg->client_id, strlen(cfg->client_id), &units) ||
        units > AOP_REQUEST_HEAD_CLIENT_ID_MAX || aop_has_control(cfg->client_id, strlen(cfg->client_id)))
        return aop_error_set(err, AOP_E_CONFIG, "client_id", -1,
                             "client_id must be the clientId Alipay assigned (1 to %d characters)",
                             AOP_REQUEST_HEAD_CLIENT_ID_MAX);
    if (!cfg->alipay_key)
        return aop_error_set(err, AOP_E_CONFIG, "alipay_key", -1, "no Alipay public key: nothing could be verified");
    if (!cfg->merchant_key)
        return aop_error_set(err, AOP_E_CONFIG, "merchant_key", -1, "no merchant private key: no answer could be signed");
    if ((unsigned)cfg->sign_type > AOP_SIGN_RSA)
        return aop_error_set(err, AOP_E_CONFIG, "sign_type", -1, "unknown sign type");
    if (cfg->max_age_s <= 0 || cfg->max_ahead_s < 0)
        return aop_error_set(err, AOP_E_CONFIG, cfg->max_age_s <= 0 ? "max_age_s" : "max_ahead_s", -1,
                             "the reqTime window needs max_age_s > 0 and max_ahead_s >= 0 (seconds)");
    if (aop_keys_pair(cfg->merchant_key, cfg->alipay_key))
        return aop_error_set(err, AOP_E_KEY_MISMATCH, "alipay_key", -1,
                             "the Alipay public key is the merchant's own public key: configure the key "
                             "Alipay gave you for verifying its notifications");
    return AOP_OK;
}

aop_status_t aop_notify_receiver_new(const aop_notify_config_t *given, aop_notify_receiver_t **out,
                                     aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    *out = NULL;
    if (!given) return aop_error_set(err, AOP_E_CONFIG, NULL, -1, "no configuration");
    aop_notify_config_t cfg;
    aop_notify_config_init(&cfg);
    aop_status_t st = aop_internal_adopt(given, given->struct_size, &cfg, sizeof cfg, "struct_size", err);
    if (st == AOP_OK) st = check_config(&cfg, err);
    if (st != AOP_OK) return st;
    aop_notify_receiver_t *r = calloc(1, sizeof *r);
    if (!r || !(r->client_id = strdup(cfg.client_id))) {
        free(r);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    }
    r->sign_type = cfg.sign_type;
    r->max_age_ms = (int64_t)cfg.max_age_s * 1000;
    r->max_ahead_ms = (int64_t)cfg.max_ahead_s * 1000;
    st = aop_verifier_new(cfg.alipay_key, cfg.sign_type, &r->verifier, err);
    if (st == AOP_OK) st = aop_signer_new(cfg.merchant_key, cfg.sign_type, &r->signer, err);
    if (st != AOP_OK) {
        aop_notify_receiver_free(r);
        return st;
    }
    *out = r;
    return AOP_OK;
}

void aop_notify_receiver_free(aop_notify_receiver_t *r) {
    if (!r) return;
    aop_signer_free(r->signer);
    aop_verifier_free(r->verifier);
    free(r->client_id);
    free(r);
}

void aop_notification_free(aop_notification_t *n) {
    if (!n) return;
    notification_impl_t *impl = (notification_impl_t *)n;
    free(impl->raw);
    free(impl->work);
    free(impl);
}

/* The head names this receiver: the notification's function and the configured clientId. */
static aop_status_t check_addressee(const aop_notify_receiver_t *r, const aop_request_head_t *h, aop_error_t *err) {
    if (!h->function.ptr)
        return aop_error_set(err, AOP_E_MISSING, "request.head.function", -1, "request.head.function: %s",
                             aop_status_text(AOP_E_MISSING));
    if (!aop_str_eq_cstr(h->function, aop_fn_notify_pay.name))
        return aop_error_set(err, AOP_E_MISADDRESSED, "request.head.function", -1,
                             "request.head.function is not %s: this receiver takes payment notifications only",
                             aop_fn_notify_pay.name);
    if (!h->client_id.ptr)
        return aop_error_set(err, AOP_E_MISSING, "request.head.clientId", -1, "request.head.clientId: %s",
                             aop_status_text(AOP_E_MISSING));
    if (!aop_str_eq_cstr(h->client_id, r->client_id))
        return aop_error_set(err, AOP_E_MISADDRESSED, "request.head.clientId", -1,
                             "request.head.clientId is not this receiver's clientId %s", r->client_id);
    return AOP_OK;
}

/* head.reqTime within [received - max age, received + max ahead]: a notification captured and
 * replayed long after is refused even though its signature verifies. */
static aop_status_t check_window(const aop_notify_receiver_t *r, const aop_str_t t, int64_t received_ms,
                                 int64_t *req_ms, aop_error_t *err) {
    static const char path[] = "request.head.reqTime";
    if (!t.ptr) return aop_error_set(err, AOP_E_MISSING, path, -1, "%s: %s", path, aop_status_text(AOP_E_MISSING));
    if (!aop_datetime_ms(t.ptr, t.len, req_ms))
        return aop_error_set(err, AOP_E_BAD_DATETIME, path, -1, "%s: %s", path, aop_status_text(AOP_E_BAD_DATETIME));
    int64_t age = received_ms - *req_ms;
    if (age > r->max_age_ms)
        return aop_error_set(err, AOP_E_OUT_OF_WINDOW, path, -1,
                             "%s is %lld s before the receipt; at most %lld s are accepted", path,
                             (long long)(age / 1000), (long long)(r->max_age_ms / 1000));
    if (-age > r->max_ahead_ms)
        return aop_error_set(err, AOP_E_OUT_OF_WINDOW, path, -1,
                             "%s is %lld s after the receipt; at most %lld s are accepted", path,
                             (long long)(-age / 1000), (long long)(r->max_ahead_ms / 1000));
    return AOP_OK;
}

/* The payment's result: S only with SUCCESS, F never with it (the codes and their statuses are
 * the pay function's, whose result the notification reports). */
static aop_status_t read_status(const aop_result_info_t *ri, char *status, aop_error_t *err) {
    static const char path[] = "request.body.resultInfo";
    const char *s = aop_result_status_enum_to_string((aop_result_status_enum_t)ri->result_status.value);
    bool success = aop_str_eq_cstr(ri->result_code, AOP_RC_SUCCESS);
    const aop_result_code_t *rc = aop_result_code_find(aop_fn_offline_pay.codes, ri->result_code.ptr, ri->result_code.len);
    *status = s ? s[0] : 0;
    if ((*status == 'S' && !success) || (*status == 'F' && success) || (rc && rc->status != *status && *status != 'U'))
        return aop_error_set(err, AOP_E_CONTRADICTION, path, -1, "resultStatus %c contradicts resultCode %.*s", *status,
                             (int)(ri->result_code.len > 64 ? 64 : ri->result_code.len), ri->result_code.ptr);
    return AOP_OK;
}

/* Parses, verifies and decodes impl->work (a copy of the body, decoded in place). */
static aop_status_t read_notification(aop_notify_receiver_t *r, notification_impl_t *impl, size_t len,
                                      aop_error_t *err) {
    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_status_t st = aop_json_ws_alloc(&ws, impl->work, len, err);
    if (st == AOP_OK) st = aop_envelope_read(impl->work, len, "request", &ws, &doc, &env, err);
    /* over the bytes as received, before decoding unescapes anything in place */
    if (st == AOP_OK) st = aop_envelope_verify(&env, r->verifier, err);
    if (st == AOP_OK) {
        aop_notification_t *n = &impl->pub;
        size_t off = (size_t)(env.payload.ptr - impl->work);
        n->signed_bytes = aop_strn(impl->raw + off, env.payload.len);
        st = aop_decode(aop_fn_notify_pay.request, &doc, env.payload_tok, impl->work, &impl->request, "request", false,
                        &n->warnings, err);
        if (env.extra_members) aop_warnings_add(&n->warnings, AOP_E_UNKNOWN_MEMBER, "(envelope)", NULL);
    }
    aop_json_ws_free(&ws);
    return st;
}

aop_status_t aop_notify_receive(aop_notify_receiver_t *r, const char *body, size_t len, int64_t received_ms,
                                aop_notification_t **out, aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    *out = NULL;
    if (!r || (!body && len)) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    if (len > AOP_JSON_MAX_BODY)
        return aop_error_set(err, AOP_E_JSON_TOO_LARGE, NULL, -1, "the body has %zu bytes, more than %u", len,
                             AOP_JSON_MAX_BODY);
    notification_impl_t *impl = calloc(1, sizeof *impl);
    if (impl) {
        impl->raw = malloc(len + 1);
        impl->work = malloc(len + 1);
    }
    if (!impl || !impl->raw || !impl->work) {
        aop_notification_free(impl ? &impl->pub : NULL);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    }
    if (len) {
        memcpy(impl->raw, body, len);
        memcpy(impl->work, body, len);
    }
    impl->raw[len] = impl->work[len] = '\0';
    aop_notification_t *n = &impl->pub;
    n->body = aop_strn(impl->raw, len);
    n->request = &impl->request;
    n->received_ms = received_ms ? received_ms : aop_now_ms();
    aop_warnings_clear(&n->warnings);
    aop_status_t st = read_notification(r, impl, len, err);
    if (st == AOP_OK) st = check_addressee(r, &impl->request.head, err);
    if (st == AOP_OK) st = check_window(r, impl->request.head.req_time, n->received_ms, &n->req_time_ms, err);
    if (st == AOP_OK) st = read_status(&impl->request.body.result_info, &n->status, err);
    if (st != AOP_OK) {
        aop_notification_free(n);
        return st;
    }
    *out = n;
    return AOP_OK;
}
