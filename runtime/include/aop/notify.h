/* SPDX-License-Identifier: MIT */
/** @file
 * Alipay's payment notifications (alipay.intl.acquiring.offline.notify.pay, docs/protocol.md
 * section 8): Alipay POSTs a signed request to the merchant's notify URL when a payment was paid
 * successfully or unsuccessfully, and sends it again until the merchant answers S / SUCCESS.
 *
 * aop_notify_receive() verifies the signature over the exact bytes received (fail closed), checks
 * the head (function, clientId, reqTime within a window) and decodes the deciding members
 * strictly; any other deviation is a warning kept with the notification. aop_notify_answer()
 * gives the signed answer: S / SUCCESS once the caller has recorded the notification durably, F
 * when it could not (Alipay then sends it again).
 *
 * A notification keeps the body as received, so whoever applies it later verifies it again:
 * aop_notify_receive() of the stored body at the stored receipt time gives the same verdict.
 *
 * Thread safety: a receiver owns its signing contexts and is NOT thread-safe (one per thread,
 * like a client); the keys it borrows may be shared by any number of receivers and clients. A
 * notification is an independent object: any thread may read or free it, one at a time. */
#ifndef AOP_NOTIFY_H
#define AOP_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "aop/error.h"
#include "aop/export.h"
#include "aop/protocol.h"
#include "aop/sign.h"
#include "aop/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The default of aop_notify_config_t::max_age_s: 26 hours, beyond the vendor's 8 sends over
 * about 25 hours, which may carry the first send's reqTime. */
#define AOP_NOTIFY_MAX_AGE_S (26L * 3600L)
/** The default of aop_notify_config_t::max_ahead_s: 5 minutes of clock difference. */
#define AOP_NOTIFY_MAX_AHEAD_S 300L

/** Configuration of a receiver. Fill it with aop_notify_config_init() first, then set what you
 * need: members added later get their defaults there, and struct_size lets an older program run
 * against a newer library. */
typedef struct {
    size_t struct_size;                    /**< set by aop_notify_config_init(); do not change */
    const char *client_id;                 /**< the clientId Alipay assigned: head.clientId must equal it */
    /** Alipay's public key, which verifies every notification: borrowed, read-only, it must
     * outlive the receiver. */
    const aop_public_key_t *alipay_key;
    /** The merchant's private key, which signs the answers: borrowed like alipay_key. */
    const aop_private_key_t *merchant_key;
    aop_sign_type_t sign_type;             /**< of both signatures; default AOP_SIGN_RSA2 */
    long max_age_s;   /**< head.reqTime at most this many seconds before the receipt; default AOP_NOTIFY_MAX_AGE_S */
    long max_ahead_s; /**< head.reqTime at most this many seconds after it; default AOP_NOTIFY_MAX_AHEAD_S */
} aop_notify_config_t;

/** Sets every member of cfg to its default (and struct_size). */
AOP_API void aop_notify_config_init(aop_notify_config_t *cfg);

/** A receiver of notifications: the keys, the clientId and the window of a configuration, and
 * the signing contexts made from them once. */
typedef struct aop_notify_receiver aop_notify_receiver_t;

/** Checks the whole configuration (AOP_E_CONFIG naming the member at fault in err->path; an
 * Alipay key that is the merchant's own is AOP_E_KEY_MISMATCH) and makes the receiver. */
AOP_API AOP_NODISCARD aop_status_t aop_notify_receiver_new(const aop_notify_config_t *cfg,
                                                           aop_notify_receiver_t **out, aop_error_t *err);
/** Frees the receiver (NULL is fine); the borrowed keys are left alone. */
AOP_API void aop_notify_receiver_free(aop_notify_receiver_t *r);

/** A verified notification. Owns its memory: every view stays valid until
 * aop_notification_free(). */
typedef struct {
    /** The decoded request; its views point into the notification's own copy of the body. */
    const aop_notify_pay_request_t *request;
    /** The payment's result as the notification states it: 'S' (resultStatus S with resultCode
     * SUCCESS), 'F' (resultStatus F), or 'U' (resultStatus U: it decides nothing). */
    char status;
    /** The HTTP body exactly as received: what a journal stores, and what aop_notify_receive()
     * verifies again. */
    aop_str_t body;
    /** Within body: the bytes of the request object the signature covers. */
    aop_str_t signed_bytes;
    int64_t req_time_ms;      /**< head.reqTime as Unix time in milliseconds */
    int64_t received_ms;      /**< the receipt time the window was judged at (Unix ms) */
    /** Deviations that did not refuse it (docs/protocol.md section 7's cosmetic ones): a
     * verified notification is never refused for a field that decides nothing. */
    aop_warnings_t warnings;
} aop_notification_t;

/** Receives one notification: the HTTP body body[0..len) as Alipay POSTed it, received at
 * received_ms (Unix ms; 0 = now). Fails closed, in this order:
 * - not a request envelope: the JSON statuses, AOP_E_ENVELOPE;
 * - no signature, or one that does not verify with Alipay's key over the exact bytes of the
 *   request object: AOP_E_SIGNATURE_MISSING, AOP_E_SIGNATURE_INVALID (nothing is decoded first);
 * - a deciding member that breaks a rule of the schema (resultInfo's status and code,
 *   merchantTransId, acquirementId with SUCCESS, orderAmount when present), with its JSON path;
 * - head.function other than the notification's or head.clientId other than the configured one:
 *   AOP_E_MISADDRESSED (AOP_E_MISSING when absent);
 * - head.reqTime missing or malformed (AOP_E_MISSING, AOP_E_BAD_DATETIME) or outside the window:
 *   AOP_E_OUT_OF_WINDOW;
 * - resultStatus S with a code other than SUCCESS, or F with SUCCESS: AOP_E_CONTRADICTION.
 *
 * On AOP_OK *out is the notification (free it with aop_notification_free()); otherwise *out is
 * NULL and err says why, naming the field. Nothing secret is in either. */
AOP_API AOP_NODISCARD aop_status_t aop_notify_receive(aop_notify_receiver_t *r, const char *body, size_t len,
                                                      int64_t received_ms, aop_notification_t **out,
                                                      aop_error_t *err);
/** Frees the notification (NULL is fine). */
AOP_API void aop_notification_free(aop_notification_t *n);

/** What the merchant did with a notification: what aop_notify_answer() tells Alipay. */
typedef enum {
    /** Durably recorded (or recorded before: a re-delivery): S / SUCCESS, Alipay stops sending. */
    AOP_NOTIFY_RECORDED = 1,
    /** It could not be recorded: F with the notify function's failure code (a guess of
     * schema/notify_pay.yaml), so Alipay sends it again later. */
    AOP_NOTIFY_NOT_RECORDED = 2
} aop_notify_verdict_t;

/** The signed answer to n for verdict into out (its content replaced): the response envelope,
 * its head echoing the notification's version, function, clientId and reqMsgId (signType when
 * the notification carried one), signed with the merchant's key. Send it as the HTTP 200 body
 * with Content-Type application/json. An echoed value that no rule lets the merchant send (a
 * reqMsgId over its length, say) is that rule's status with its path: answer with an HTTP error
 * then, and Alipay sends the notification again. */
AOP_API AOP_NODISCARD aop_status_t aop_notify_answer(aop_notify_receiver_t *r, const aop_notification_t *n,
                                                     aop_notify_verdict_t verdict, aop_buf_t *out,
                                                     aop_error_t *err);

/** Whether a and b are the same delivery: byte for byte the same signed request (a replay, or
 * a network's duplicate). */
AOP_API bool aop_notification_same_delivery(const aop_notification_t *a, const aop_notification_t *b);
/** Whether a and b state the same fact of the same payment, however often and whenever it was
 * sent: the same merchantId (or both without one), merchantTransId, resultStatus and resultCode
 * (the key a journal deduplicates by, the gateway aside). */
AOP_API bool aop_notification_same_fact(const aop_notification_t *a, const aop_notification_t *b);

#ifdef __cplusplus
}
#endif
#endif
