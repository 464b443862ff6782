/* SPDX-License-Identifier: MIT */
/* The client: fills the head, signs, sends, verifies, decodes and judges one call. It knows
 * kinds and roles from the generated tables, never a field name of a function. */
#include "aop/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "aop/envelope.h"
#include "aop/util.h"
#include "client_internal.h"

struct aop_client {
    char *gateway_url, *client_id, *merchant_id, *version;
    const aop_private_key_t *priv;
    const aop_public_key_t *alipay;
    aop_private_key_t *own_priv; /* loaded by this client (else priv is borrowed) */
    aop_public_key_t *own_alipay;
    /* The EVP contexts of this client, set up once (the keys may be shared by many clients). */
    aop_signer_t *signer;
    aop_verifier_t *verifier;
    aop_sign_type_t sign_type;
    const char *sign_type_head; /* head.signType sent when the caller sets none, or NULL */
    aop_transport_t *transport;
    bool owns_transport;
    aop_event_fn on_event;
    void *event_ctx;
    /* The journal's MAC key, derived from the merchant key when first needed (a client is used by
     * one thread at a time). */
    bool journal_key_ready;
    aop_journal_key_t journal_key;
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static aop_status_t load_keys(aop_client_t *c, const aop_client_config_t *cfg, aop_error_t *err) {
    aop_status_t st = AOP_OK;
    if (cfg->merchant_key)
        c->priv = cfg->merchant_key;
    else if (cfg->private_key)
        st = aop_private_key_load_mem(cfg->private_key, strlen(cfg->private_key),
                                      cfg->private_key_passphrase, &c->own_priv, err);
    else if (cfg->private_key_file)
        st = aop_private_key_load_file(cfg->private_key_file, cfg->private_key_passphrase, &c->own_priv, err);
    else
        return aop_error_set(err, AOP_E_CONFIG, "private_key", -1, "no merchant private key is configured");
    if (st != AOP_OK) return st;
    if (c->own_priv) c->priv = c->own_priv;
    if (cfg->alipay_key)
        c->alipay = cfg->alipay_key;
    else if (cfg->alipay_public_key)
        st = aop_public_key_load_mem(cfg->alipay_public_key, strlen(cfg->alipay_public_key), &c->own_alipay, err);
    else if (cfg->alipay_public_key_file)
        st = aop_public_key_load_file(cfg->alipay_public_key_file, &c->own_alipay, err);
    else
        return aop_error_set(err, AOP_E_CONFIG, "alipay_public_key", -1, "no Alipay public key is configured");
    if (st != AOP_OK) return st;
    if (c->own_alipay) c->alipay = c->own_alipay;
    if (aop_keys_pair(c->priv, c->alipay))
        return aop_error_set(err, AOP_E_KEY_MISMATCH, "alipay_public_key", -1,
                             "the Alipay public key is the merchant's own public key: configure the key "
                             "Alipay gave you for verifying its responses");
    return AOP_OK;
}

void aop_client_config_init(aop_client_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->sign_type = AOP_SIGN_RSA2;
    cfg->version = "2.0.0";
    cfg->connect_timeout_ms = 5000;
}

void aop_call_options_init(aop_call_options_t *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

/* A caller built against an older, smaller struct passes its size: the members it knows are
 * copied over the defaults. A size of 0 means the init function was never called. */
aop_status_t aop_internal_adopt(const void *given, size_t given_size, void *full, size_t full_size,
                                const char *what, aop_error_t *err) {
    if (given_size == 0 || given_size > full_size)
        return aop_error_set(err, AOP_E_CONFIG, what, -1,
                             "struct_size is %zu: initialise the struct with its _init function first",
                             given_size);
    memcpy(full, given, given_size);
    return AOP_OK;
}

/* A known gateway's origin without its path prefix (https://open-sea.alipay.com, where the
 * functions live under /api) would 404 on every call and leave every payment unknown: refused
 * here, with the URL that works. The hosts come from schema/hosts.yaml. */
static aop_status_t check_known_host(const char *url, aop_error_t *err) {
    for (unsigned i = 0; i < AOP_HOST_COUNT; i++) {
        const aop_host_desc_t *h = &aop_hosts[i];
        size_t ol = strlen(h->origin), pl = strlen(h->prefix);
        if (pl == 0 || strncasecmp(url, h->origin, ol) != 0) continue;
        const char *path = url + ol;
        if (*path != '\0' && *path != '/') continue; /* another host that starts the same */
        if (strncmp(path, h->prefix, pl) == 0 && (path[pl] == '\0' || path[pl] == '/')) return AOP_OK;
        return aop_error_set(err, AOP_E_CONFIG, "gateway_url", -1,
                             "%s is the %s gateway without its path prefix %s: use %s", url, h->name,
                             h->prefix, h->url);
    }
    return AOP_OK;
}

/* head.signType follows head.version (docs/protocol.md section 1, "Request head"): the 2.0.0
 * profile of the vendor's pay page has no such field; from 2.0.2 on "RSA2" is sent, and those
 * versions know no other value. */
static aop_status_t sign_type_for_version(aop_client_t *c, aop_error_t *err) {
    unsigned major, minor, patch;
    char tail;
    if (sscanf(c->version, "%u.%u.%u%c", &major, &minor, &patch, &tail) != 3)
        return aop_error_set(err, AOP_E_CONFIG, "version", -1,
                             "version must be MAJOR.MINOR.PATCH, e.g. 2.0.0");
    bool sends = major > 2 || (major == 2 && (minor > 0 || patch >= 2));
    if (!sends) return AOP_OK;
    if (c->sign_type != AOP_SIGN_RSA2)
        return aop_error_set(err, AOP_E_CONFIG, "sign_type", -1,
                             "version %s signs with RSA2 only: SHA-1 (RSA) needs version 2.0.0", c->version);
    c->sign_type_head = aop_sign_type_name(AOP_SIGN_RSA2);
    return AOP_OK;
}

aop_status_t aop_client_new(const aop_client_config_t *given, aop_client_t **out, aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    *out = NULL;
    if (!given) return aop_error_set(err, AOP_E_CONFIG, NULL, -1, "no configuration");
    aop_client_config_t cfg_full;
    aop_client_config_init(&cfg_full);
    aop_status_t st = aop_internal_adopt(given, given->struct_size, &cfg_full, sizeof cfg_full, "struct_size", err);
    if (st != AOP_OK) return st;
    const aop_client_config_t *cfg = &cfg_full;
    if (!cfg->gateway_url || !*cfg->gateway_url)
        return aop_error_set(err, AOP_E_CONFIG, "gateway_url", -1, "no gateway URL is configured");
    if (!cfg->client_id || !*cfg->client_id)
        return aop_error_set(err, AOP_E_CONFIG, "client_id", -1, "no clientId is configured");
    if (!aop_url_allowed(cfg->gateway_url))
        return aop_error_set(err, AOP_E_INSECURE_URL, "gateway_url", -1,
                             "gateway URL must be https (plain http only for loopback hosts)");
    if ((unsigned)cfg->sign_type > AOP_SIGN_RSA)
        return aop_error_set(err, AOP_E_CONFIG, "sign_type", -1, "unknown sign type");
    st = check_known_host(cfg->gateway_url, err);
    if (st != AOP_OK) return st;
    aop_client_t *c = calloc(1, sizeof *c);
    if (!c) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    c->gateway_url = dup_or_null(cfg->gateway_url);
    c->client_id = dup_or_null(cfg->client_id);
    c->merchant_id = dup_or_null(cfg->merchant_id);
    c->version = dup_or_null(cfg->version ? cfg->version : "2.0.0");
    if (!c->gateway_url || !c->client_id || !c->version || (cfg->merchant_id && !c->merchant_id)) {
        aop_client_free(c);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    }
    size_t ul = strlen(c->gateway_url);
    while (ul && c->gateway_url[ul - 1] == '/') c->gateway_url[--ul] = '\0';
    c->sign_type = cfg->sign_type;
    c->on_event = cfg->on_event;
    c->event_ctx = cfg->event_ctx;
    st = sign_type_for_version(c, err);
    if (st == AOP_OK) st = load_keys(c, cfg, err);
    if (st == AOP_OK) st = aop_signer_new(c->priv, c->sign_type, &c->signer, err);
    if (st == AOP_OK) st = aop_verifier_new(c->alipay, c->sign_type, &c->verifier, err);
    if (st == AOP_OK) {
        if (cfg->transport) {
            c->transport = cfg->transport;
        } else {
            aop_curl_options_t opt = {cfg->ca_file, cfg->ca_path, cfg->proxy, cfg->connect_timeout_ms, 0};
            st = aop_curl_transport_new(&opt, &c->transport, err);
            c->owns_transport = st == AOP_OK;
        }
    }
    if (st != AOP_OK) {
        aop_client_free(c);
        return st;
    }
    *out = c;
    return AOP_OK;
}

void aop_client_free(aop_client_t *c) {
    if (!c) return;
    if (c->owns_transport && c->transport) c->transport->destroy(c->transport);
    aop_signer_free(c->signer);
    aop_verifier_free(c->verifier);
    aop_private_key_free(c->own_priv);
    aop_public_key_free(c->own_alipay);
    free(c->gateway_url);
    free(c->client_id);
    free(c->merchant_id);
    free(c->version);
    OPENSSL_cleanse(&c->journal_key, sizeof c->journal_key);
    free(c);
}

void aop_client_fingerprints(const aop_client_t *c, char merchant[AOP_FINGERPRINT_MAX],
                             char alipay[AOP_FINGERPRINT_MAX]) {
    aop_private_key_fingerprint(c->priv, merchant);
    aop_public_key_fingerprint(c->alipay, alipay);
}

void aop_internal_client_fill_merchant(const aop_client_t *c, const aop_function_desc_t *fn, void *req) {
    if (fn->merchant && c->merchant_id && !aop_ref_present(fn->merchant, req))
        *(aop_str_t *)(void *)((char *)req + fn->merchant->offset) = aop_str(c->merchant_id);
}

const char *aop_internal_client_id(const aop_client_t *c) { return c->client_id; }

const char *aop_internal_client_merchant_id(const aop_client_t *c) { return c->merchant_id ? c->merchant_id : ""; }

void aop_internal_client_notify_config(const aop_client_t *c, aop_notify_config_t *cfg) {
    aop_notify_config_init(cfg);
    cfg->client_id = c->client_id;
    cfg->alipay_key = c->alipay;
    cfg->merchant_key = c->priv;
    cfg->sign_type = c->sign_type;
}

void aop_internal_client_gateway(const aop_client_t *c, char out[AOP_JOURNAL_GATEWAY_SIZE]) {
    char fp[AOP_FINGERPRINT_MAX];
    aop_public_key_fingerprint(c->alipay, fp);
    aop_journal_gateway_identity(fp, c->client_id, out);
}

aop_status_t aop_internal_client_journal_key(aop_client_t *c, aop_journal_key_t *out, aop_error_t *err) {
    if (!c->journal_key_ready) {
        aop_status_t st = aop_journal_key_derive(c->priv, &c->journal_key, err);
        if (st != AOP_OK) return st;
        c->journal_key_ready = true;
    }
    *out = c->journal_key;
    return AOP_OK;
}

void aop_result_free(aop_result_t *r) {
    if (!r) return;
    result_impl_t *impl = (result_impl_t *)r;
    aop_buf_free(&impl->body);
    free(impl->response);
    free(impl->response_text);
    for (member_text_t *t = impl->texts, *next; t; t = next) {
        next = t->next;
        free(t);
    }
    free(impl);
}

/* Room for one masked value: the first and last two characters (up to 4 bytes each in UTF-8)
 * and at most 120 stars between them. */
#define MASKED_MAX 140

/* The request object as sent, with every sensitive field masked, for the event hook. A
 * sensitive field that cannot be masked (not text) leaves the JSON out rather than leak it. */
static void emit_event(const aop_client_t *c, const aop_function_desc_t *fn, void *req,
                       const aop_result_t *r) {
    unsigned n = fn->n_sensitive;
    char *masked = n ? malloc((size_t)n * MASKED_MAX) : NULL;
    aop_str_t *saved = n ? malloc((size_t)n * sizeof *saved) : NULL;
    bool maskable = !n || (masked && saved);
    for (unsigned i = 0; maskable && i < n; i++)
        maskable = fn->sensitive[i].kind != AOP_KIND_OBJECT && fn->sensitive[i].kind != AOP_KIND_ENUM;
    aop_buf_t json = {0};
    if (maskable) {
        for (unsigned i = 0; i < n; i++) {
            aop_str_t *v = (aop_str_t *)(void *)((char *)req + fn->sensitive[i].offset);
            saved[i] = *v;
            if (v->ptr) {
                aop_mask(v->ptr, v->len, masked + (size_t)i * MASKED_MAX, MASKED_MAX);
                *v = aop_str(masked + (size_t)i * MASKED_MAX);
            }
        }
        size_t need = 0;
        aop_encode(fn->request, req, "request", NULL, 0, &need, NULL);
        if (need && aop_buf_reserve(&json, need + 1) == AOP_OK &&
            aop_encode(fn->request, req, "request", json.data, json.cap, &json.len, NULL) == AOP_OK)
            json.data[json.len] = '\0';
        else
            json.len = 0;
        for (unsigned i = 0; i < n; i++)
            *(aop_str_t *)(void *)((char *)req + fn->sensitive[i].offset) = saved[i];
    }
    free(masked);
    free(saved);
    aop_event_t ev = {fn->name,
                      fn->idempotency_key ? *aop_ref_str(fn->idempotency_key, req) : AOP_STR_NULL,
                      r->req_msg_id, 1, r->latency_ms, r->http_status, r->status, r->outcome_known,
                      r->error, json.len ? json.data : ""};
    c->on_event(&ev, c->event_ctx);
    aop_buf_free(&json);
}

static void unknown(aop_result_t *r, aop_status_t why, const aop_error_t *detail) {
    r->status = 'U';
    r->outcome_known = false;
    if (r->error == AOP_OK) {
        r->error = why;
        if (detail) r->detail = *detail;
    }
}

/* Reads what the response claims, whether or not it can be trusted. */
static void read_claim(aop_result_t *r, const aop_function_desc_t *fn, const void *resp) {
    const aop_result_info_t *ri = (const aop_result_info_t *)(const void *)((const char *)resp + fn->result_info->offset);
    r->result_code = ri->result_code;
    r->result_code_id = ri->result_code_id;
    r->result_msg = ri->result_msg;
    const char *s = aop_result_status_enum_to_string((aop_result_status_enum_t)ri->result_status.value);
    r->claimed_status = s ? s[0] : 0;
    if (ri->result_code.ptr) r->code = aop_result_code_find(fn->codes, ri->result_code.ptr, ri->result_code.len);
}

static void judge(aop_client_t *c, const aop_function_desc_t *fn, const void *req,
                  result_impl_t *impl, const aop_http_response_t *http) {
    aop_result_t *r = &impl->pub;
    aop_error_t e;
    aop_error_clear(&e);
    if (http->status != 200) {
        aop_error_set(&e, AOP_E_HTTP_STATUS, NULL, -1, "the gateway answered HTTP %ld", http->status);
        return unknown(r, AOP_E_HTTP_STATUS, &e);
    }
    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_status_t st = aop_json_ws_alloc(&ws, impl->body.data, impl->body.len, &e);
    if (st == AOP_OK) st = aop_envelope_read(impl->body.data, impl->body.len, "response", &ws, &doc, &env, &e);
    if (st != AOP_OK) {
        aop_json_ws_free(&ws);
        return unknown(r, st, &e);
    }
    /* Verify over the raw bytes before decoding rewrites them in place. */
    aop_error_t verr;
    aop_error_clear(&verr);
    aop_status_t vst = aop_envelope_verify(&env, c->verifier, &verr);
    r->verified = vst == AOP_OK;
    if (r->verified) {
        impl->response_text = malloc(env.payload.len + 1);
        if (!impl->response_text) {
            aop_json_ws_free(&ws);
            return unknown(r, AOP_E_NOMEM, NULL);
        }
        memcpy(impl->response_text, env.payload.ptr, env.payload.len);
        impl->response_text[env.payload.len] = '\0';
        r->response_text = aop_strn(impl->response_text, env.payload.len);
    }
    impl->response = calloc(1, fn->response->size);
    if (!impl->response) {
        aop_json_ws_free(&ws);
        return unknown(r, AOP_E_NOMEM, NULL);
    }
    aop_status_t dst = aop_decode(fn->response, &doc, env.payload_tok, impl->body.data, impl->response,
                                  "response", false, &r->warnings, &e);
    if (env.extra_members) aop_warnings_add(&r->warnings, AOP_E_UNKNOWN_MEMBER, "(envelope)", NULL);
    aop_json_ws_free(&ws);
    r->response = impl->response;
    read_claim(r, fn, impl->response);
    if (vst != AOP_OK) return unknown(r, vst, &verr);
    if (dst != AOP_OK) return unknown(r, dst, &e);
    st = aop_check_echo(fn, req, impl->response, &e);
    if (st != AOP_OK) return unknown(r, st, &e);
    /* F with SUCCESS, or S with a failure code: a signed answer that contradicts itself decides
     * nothing (the code's status is the function's table's). */
    if ((r->claimed_status == 'S' || r->claimed_status == 'F') && r->code && r->code->status != r->claimed_status) {
        aop_error_set(&e, AOP_E_CONTRADICTION, "response.body.resultInfo", -1,
                      "resultStatus %c contradicts resultCode %.64s (status %c)", r->claimed_status,
                      r->code->code, r->code->status);
        return unknown(r, AOP_E_CONTRADICTION, &e);
    }
    r->status = r->claimed_status;
    r->outcome_known = r->status == 'S' || r->status == 'F';
    if (!r->outcome_known) r->status = 'U'; /* the gateway itself does not know yet */
}

aop_status_t aop_call(aop_client_t *c, const aop_function_desc_t *fn, const void *request,
                      const aop_call_options_t *given, aop_result_t **out, aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    *out = NULL;
    if (!c || !fn || !request) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    if (fn->inbound)
        return aop_error_set(err, AOP_E_INVALID_ARG, "function", -1,
                             "%s is sent by Alipay to the merchant: receive it with aop_notify_receive()", fn->name);
    aop_call_options_t opts;
    aop_call_options_init(&opts);
    if (given && aop_internal_adopt(given, given->struct_size, &opts, sizeof opts, "options.struct_size", err) != AOP_OK)
        return err ? err->code : AOP_E_CONFIG;
    if (opts.deadline_ms < 0)
        return aop_error_set(err, AOP_E_INVALID_ARG, "options.deadline_ms", -1, "a deadline cannot be negative");
    result_impl_t *impl = calloc(1, sizeof *impl);
    void *req = malloc(fn->request->size);
    if (!impl || !req) {
        free(impl);
        free(req);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    }
    aop_result_t *r = &impl->pub;
    r->function = fn;
    memcpy(req, request, fn->request->size);
    /* Every request struct starts with the shared head: the generated code asserts it. */
    aop_request_head_t *head = req;
    char req_time[AOP_RFC3339_SIZE];
    aop_now_rfc3339(req_time);
    aop_status_t st = aop_uuid(r->req_msg_id);
    if (st != AOP_OK) aop_error_set(err, st, NULL, -1, "no random bytes for the reqMsgId");
    head->version = aop_str(c->version);
    head->function = aop_str(fn->name);
    head->client_id = aop_str(c->client_id);
    head->req_time = aop_str(req_time);
    head->req_msg_id = aop_str(r->req_msg_id);
    if (head->sign_type.ptr == NULL && c->sign_type_head) head->sign_type = aop_str(c->sign_type_head);
    aop_internal_client_fill_merchant(c, fn, req);

    char url[2048];
    int ul = snprintf(url, sizeof url, "%s%s", c->gateway_url, fn->path);
    if (st == AOP_OK && (ul < 0 || (size_t)ul >= sizeof url))
        st = aop_error_set(err, AOP_E_CONFIG, "gateway_url", -1, "gateway URL is too long");
    if (st == AOP_OK)
        st = aop_envelope_write("request", fn->request, req, c->signer, &impl->body, NULL, err);
    if (st != AOP_OK) {
        aop_result_free(r);
        free(req);
        return st;
    }
    aop_http_request_t hreq = {url, impl->body.data, impl->body.len, opts.deadline_ms ? opts.deadline_ms : fn->deadline_ms,
                               opts.stop_flag};
    /* maybe_sent starts true: a transport that never says the request did not leave must not make
     * an unknown outcome look like "certainly not sent" (which ends a payment FAILED). */
    aop_http_response_t hresp = {0};
    hresp.maybe_sent = true;
    aop_error_t terr;
    aop_error_clear(&terr);
    aop_status_t tst = c->transport->post(c->transport, &hreq, &hresp, &terr);
    aop_buf_free(&impl->body);
    impl->body = hresp.body;
    r->http_status = hresp.status;
    r->latency_ms = hresp.elapsed_ms;
    r->maybe_sent = tst == AOP_OK || hresp.maybe_sent;
    if (tst != AOP_OK)
        unknown(r, tst, &terr);
    else
        judge(c, fn, req, impl, &hresp);
    if (c->on_event) emit_event(c, fn, req, r);
    free(req);
    *out = r;
    return AOP_OK;
}
