/* The client: one signed HTTPS call per function, and a verified, decoded, checked answer.
 *
 * Thread safety: a client owns one HTTP connection and is NOT thread-safe; use one client per
 * thread (keys are parsed per client; creating clients is cheap next to a payment). Results are
 * independent objects and may be used and freed from any thread. */
#ifndef AOP_CLIENT_H
#define AOP_CLIENT_H

#include <stdbool.h>
#include <time.h>
#include "aop/error.h"
#include "aop/model.h"
#include "aop/protocol.h"
#include "aop/sign.h"
#include "aop/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One attempt, as the event hook sees it. Nothing in it is secret: the request JSON has every
 * `sensitive` field masked, and keys and signatures never appear. Valid during the callback. */
typedef struct {
    const char *function;        /* alipay.intl.acquiring.offline.pay */
    aop_str_t idempotency_key;   /* merchantTransId / merchantRefundId, or absent */
    const char *req_msg_id;
    unsigned attempt;            /* 1 for the first attempt of a call */
    long latency_ms;
    long http_status;            /* 0 when no HTTP answer */
    char status;                 /* 'S', 'F' or 'U' */
    bool outcome_known;
    aop_status_t error;          /* why the outcome is unknown, or AOP_OK */
    const char *masked_request;  /* the request object as sent, sensitive fields masked */
} aop_event_t;

typedef void (*aop_event_fn)(const aop_event_t *ev, void *ctx);

typedef struct {
    const char *gateway_url;       /* base URL, e.g. AOP_HOST_PRODUCTION; http only for loopback */
    const char *client_id;
    const char *merchant_id;       /* filled into requests that carry none (may be NULL) */
    /* The merchant private key: PEM text (private_key) or a file (private_key_file). */
    const char *private_key;
    const char *private_key_file;
    const char *private_key_passphrase;
    /* Alipay's public key: PEM or bare base64 SPKI text, or a file. */
    const char *alipay_public_key;
    const char *alipay_public_key_file;
    aop_sign_type_t sign_type;     /* default AOP_SIGN_RSA2 */
    const char *version;           /* head version; NULL = "2.0.0" */
    /* Whole-call deadlines in ms; 0 = the schema's default for the function. */
    long pay_deadline_ms, query_deadline_ms, cancel_deadline_ms, refund_deadline_ms;
    long connect_timeout_ms;       /* 0 = 5000 */
    const char *ca_file, *ca_path, *proxy;
    aop_transport_t *transport;    /* NULL = libcurl; else borrowed, must outlive the client */
    aop_event_fn on_event;         /* optional */
    void *event_ctx;
} aop_client_config_t;

typedef struct aop_client aop_client_t;

/* Parses the keys once. Refuses (AOP_E_KEY_MISMATCH) an Alipay public key that is the
 * merchant's own. Errors name the setting at fault. */
aop_status_t aop_client_new(const aop_client_config_t *cfg, aop_client_t **out, aop_error_t *err);
void aop_client_free(aop_client_t *c);

/* The answer to one call. Owns its buffer: every view in it (and in `response`) stays valid
 * until aop_result_free. */
typedef struct {
    char status;                  /* 'S', 'F' or 'U'; 'U' whenever !outcome_known */
    bool outcome_known;           /* S or F decided by a response that passed SPEC.md section 7 */
    bool maybe_sent;              /* false only when the request certainly never left */
    bool verified;                /* the response signature verified */
    aop_status_t error;           /* why the outcome is unknown (AOP_OK otherwise) */
    aop_error_t detail;           /* the error's path, offset and message */
    aop_str_t result_code;        /* as the response claims it (even unverified: information only) */
    aop_str_t result_code_id;
    aop_str_t result_msg;
    char claimed_status;          /* resultStatus as claimed, or 0 */
    const aop_result_code_t *code; /* the code in the function's table, or NULL */
    long http_status;
    long latency_ms;
    char req_msg_id[40];
    aop_warnings_t warnings;
    /* The decoded response struct of the function (e.g. aop_offline_pay_response_t), or NULL
     * when nothing could be decoded. Read it only as information unless outcome_known. */
    const void *response;
} aop_result_t;

void aop_result_free(aop_result_t *r);

/* One call. Validation errors (the request breaks a rule) return their status with *out NULL:
 * nothing was sent. Once sending was attempted the call returns AOP_OK with a result, whatever
 * happened (a timeout, a bad signature... all give status 'U' with the reason in `error`).
 * The head is filled by the client (version, function, clientId, reqTime, a fresh reqMsgId);
 * the caller's request is not modified. */
aop_status_t aop_call(aop_client_t *c, const aop_function_desc_t *fn, const void *request,
                      aop_result_t **out, aop_error_t *err);

static inline aop_status_t aop_pay(aop_client_t *c, const aop_offline_pay_request_t *req,
                                   aop_result_t **out, aop_error_t *err) {
    return aop_call(c, &aop_fn_offline_pay, req, out, err);
}
static inline aop_status_t aop_pay_query(aop_client_t *c, const aop_offline_pay_query_request_t *req,
                                         aop_result_t **out, aop_error_t *err) {
    return aop_call(c, &aop_fn_offline_pay_query, req, out, err);
}
static inline aop_status_t aop_pay_cancel(aop_client_t *c, const aop_pay_cancel_request_t *req,
                                          aop_result_t **out, aop_error_t *err) {
    return aop_call(c, &aop_fn_pay_cancel, req, out, err);
}
static inline aop_status_t aop_refund(aop_client_t *c, const aop_refund_request_t *req,
                                      aop_result_t **out, aop_error_t *err) {
    return aop_call(c, &aop_fn_refund, req, out, err);
}

/* Helpers shared with the apps. */

/* A fresh random UUID (version 4), 36 characters + NUL. */
aop_status_t aop_uuid(char out[37]);
/* Now as RFC 3339 with the local UTC offset ("2026-11-25T21:55:34+08:00"), 25 chars + NUL. */
void aop_now_rfc3339(char out[32]);
/* The time t in the same form. */
void aop_rfc3339(time_t t, char out[32]);
/* Masks a secret for logs: keeps at most the first 2 and last 2 characters of 8 or more. */
void aop_mask(const char *s, size_t n, char *out, size_t cap);
/* The fingerprints of the client's keys, for logs. */
void aop_client_fingerprints(const aop_client_t *c, char merchant[AOP_FINGERPRINT_MAX],
                             char alipay[AOP_FINGERPRINT_MAX]);

#ifdef __cplusplus
}
#endif
#endif
