/* SPDX-License-Identifier: MIT */
/** @file
 * The client: one signed HTTPS call per function, and a verified, decoded, checked answer.
 *
 * Thread safety: a client owns one HTTP connection and its signing contexts and is NOT
 * thread-safe; use one client per thread. Keys loaded once (aop_private_key_load_file, ...)
 * can be shared read-only by all of them (aop_client_config_t::merchant_key). Results are
 * independent objects and may be used and freed from any thread. */
#ifndef AOP_CLIENT_H
#define AOP_CLIENT_H

#include <stdbool.h>
#include "aop/error.h"
#include "aop/export.h"
#include "aop/model.h"
#include "aop/protocol.h"
#include "aop/sign.h"
#include "aop/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One attempt, as the event hook sees it. Nothing in it is secret: the request JSON has every
 * `sensitive` field masked, and keys and signatures never appear. Valid during the callback. */
typedef struct {
    const char *function;        /**< alipay.intl.acquiring.offline.pay */
    aop_str_t idempotency_key;   /**< merchantTransId / merchantRefundId, or absent */
    const char *req_msg_id;      /**< head.reqMsgId of this attempt */
    unsigned attempt;            /**< 1 for the first attempt of a call */
    long latency_ms;             /**< of the HTTP exchange */
    long http_status;            /**< 0 when no HTTP answer */
    char status;                 /**< 'S', 'F' or 'U' */
    bool outcome_known;          /**< false when status is 'U' */
    aop_status_t error;          /**< why the outcome is unknown, or AOP_OK */
    const char *masked_request;  /**< the request object as sent, sensitive fields masked */
} aop_event_t;

/** The event hook: called once per attempt, from the calling thread. */
typedef void (*aop_event_fn)(const aop_event_t *ev, void *ctx);

/** Configuration of a client. Fill it with aop_client_config_init() first, then set what you
 * need: members added in later versions get their defaults there, so the caller's code keeps
 * compiling and working, and struct_size lets an older program run against a newer library. */
typedef struct {
    size_t struct_size;            /**< set by aop_client_config_init(); do not change */
    const char *gateway_url;       /**< base URL, e.g. AOP_HOST_PRODUCTION; http only for loopback */
    const char *client_id;         /**< the clientId Alipay assigned */
    const char *merchant_id;       /**< filled into requests that carry none (may be NULL) */
    /** The merchant private key, loaded once and shared: borrowed, read-only, usable by many
     * clients in many threads; it must outlive them. When NULL, private_key or
     * private_key_file is loaded by this client. */
    const aop_private_key_t *merchant_key;
    const char *private_key;            /**< PEM text of the merchant private key */
    const char *private_key_file;       /**< or a file holding it (a regular file, not group/other readable) */
    const char *private_key_passphrase; /**< for an encrypted PKCS#8 key, or NULL */
    /** Alipay's public key, shared like merchant_key; when NULL, alipay_public_key or
     * alipay_public_key_file is loaded by this client. */
    const aop_public_key_t *alipay_key;
    const char *alipay_public_key;      /**< PEM or bare base64 SPKI text */
    const char *alipay_public_key_file; /**< or a file holding it */
    aop_sign_type_t sign_type;     /**< default AOP_SIGN_RSA2 */
    /** head.version; default "2.0.0" (the seed's profile, which sends no signType). From
     * "2.0.2" on, head.signType "RSA2" is sent and AOP_SIGN_RSA is a configuration error. */
    const char *version;
    long connect_timeout_ms;       /**< default 5000 */
    const char *ca_file;           /**< CA bundle (PEM file), checked when the client is created */
    const char *ca_path;           /**< CA directory */
    const char *proxy;             /**< NULL: libcurl's environment defaults */
    aop_transport_t *transport;    /**< NULL = libcurl; else borrowed, must outlive the client */
    aop_event_fn on_event;         /**< optional hook, called once per attempt */
    void *event_ctx;               /**< passed to on_event */
} aop_client_config_t;

/** Sets every member of cfg to its default (and struct_size). */
AOP_API void aop_client_config_init(aop_client_config_t *cfg);

/** A client: one HTTP connection, per-client signing contexts. */
typedef struct aop_client aop_client_t;

/** Parses or borrows the keys and checks the whole configuration: nothing is left to fail
 * later for a reason that was known now. Refuses (AOP_E_KEY_MISMATCH) an Alipay public key that
 * is the merchant's own. Errors name the setting at fault (err->path). */
AOP_API AOP_NODISCARD aop_status_t aop_client_new(const aop_client_config_t *cfg, aop_client_t **out,
                                                  aop_error_t *err);
/** Frees the client (NULL is fine). Borrowed keys and transports are left alone. */
AOP_API void aop_client_free(aop_client_t *c);

/** Options of one call. Fill with aop_call_options_init(), or pass NULL for the defaults. */
typedef struct {
    size_t struct_size; /**< set by aop_call_options_init(); do not change */
    long deadline_ms;   /**< whole-call deadline; 0 = the function's default (fn->deadline_ms) */
} aop_call_options_t;

/** Sets every member of o to its default (and struct_size). */
AOP_API void aop_call_options_init(aop_call_options_t *o);

/** Size of aop_result_t::req_msg_id: a UUID and the NUL. */
#define AOP_REQ_MSG_ID_SIZE 37

/** The answer to one call. Owns its memory: every view in it (and in `response`) stays valid
 * until aop_result_free(). A result may be read and freed from any thread, by one at a time. */
typedef struct {
    const aop_function_desc_t *function; /**< the function that was called */
    char status;                  /**< 'S', 'F' or 'U'; 'U' whenever !outcome_known */
    bool outcome_known;           /**< S or F decided by a response that passed SPEC.md section 7 */
    bool maybe_sent;              /**< false only when the request certainly never left */
    bool verified;                /**< the response signature verified */
    aop_status_t error;           /**< why the outcome is unknown (AOP_OK otherwise) */
    aop_error_t detail;           /**< the error's path, offset and message */
    aop_str_t result_code;        /**< as the response claims it (even unverified: information only) */
    aop_str_t result_code_id;     /**< as claimed */
    aop_str_t result_msg;         /**< as claimed; gateway text: sanitise before printing */
    char claimed_status;          /**< resultStatus as claimed, or 0 */
    const aop_result_code_t *code; /**< the code in the function's table, or NULL */
    long http_status;             /**< 0 when no HTTP answer */
    long latency_ms;              /**< of the HTTP exchange */
    char req_msg_id[AOP_REQ_MSG_ID_SIZE]; /**< the head.reqMsgId this attempt sent */
    aop_warnings_t warnings;      /**< SPEC.md section 7 deviations that did not fail the response */
    /** The decoded response struct of the function (e.g. aop_offline_pay_response_t), or NULL
     * when nothing could be decoded. Read it only as information unless outcome_known. */
    const void *response;
    /** The exact bytes of the response object the signature covers (`{"head":...,"body":...}`);
     * present only when `verified`. Members the schema does not know are in it: read them with
     * aop_result_member(). */
    aop_str_t response_text;
} aop_result_t;

/** Frees the result (NULL is fine). */
AOP_API void aop_result_free(aop_result_t *r);

/** One call. Validation errors (the request breaks a rule) return their status with *out NULL:
 * nothing was sent. Once sending was attempted the call returns AOP_OK with a result, whatever
 * happened (a timeout, a bad signature... all give status 'U' with the reason in `error`).
 * The head is filled by the client (version, function, clientId, reqTime, a fresh reqMsgId, and
 * signType as the version requires unless the caller set one); the caller's request is not
 * modified. opts may be NULL. The typed wrappers in aop/calls.h check the request's type. */
AOP_API AOP_NODISCARD aop_status_t aop_call(aop_client_t *c, const aop_function_desc_t *fn,
                                            const void *request, const aop_call_options_t *opts,
                                            aop_result_t **out, aop_error_t *err);

/** The JSON type of a member read by aop_result_member(). */
typedef enum {
    AOP_MEMBER_STRING = 1, /**< text: the value, unescaped (valid UTF-8) */
    AOP_MEMBER_NUMBER = 2, /**< text: the number as written */
    AOP_MEMBER_BOOL = 3,   /**< text: "true" or "false" */
    AOP_MEMBER_NULL = 4,   /**< text: "null" */
    AOP_MEMBER_OBJECT = 5, /**< text: the object's JSON as received */
    AOP_MEMBER_ARRAY = 6   /**< text: the array's JSON as received */
} aop_member_type_t;

/** A member of the verified response. */
typedef struct {
    aop_member_type_t type; /**< its JSON type */
    aop_str_t text;         /**< see aop_member_type_t; valid until aop_result_free() */
} aop_member_t;

/** Reads any member of the verified response by its path from the response object, e.g.
 * "body.foo.bar" or "body.items[0].name" (a name holding '.' or '[' cannot be addressed).
 * Meaningful only for a verified response: otherwise AOP_E_SIGNATURE_INVALID (or the status
 * that kept it from verifying). AOP_E_MISSING when the path leads nowhere. Not for concurrent
 * use on the same result. */
AOP_API AOP_NODISCARD aop_status_t aop_result_member(aop_result_t *r, const char *path, aop_member_t *out,
                                                     aop_error_t *err);

/** The fingerprints of the client's keys, for logs. */
AOP_API void aop_client_fingerprints(const aop_client_t *c, char merchant[AOP_FINGERPRINT_MAX],
                                     char alipay[AOP_FINGERPRINT_MAX]);

#ifdef __cplusplus
}
#endif
#endif
