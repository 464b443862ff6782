/* SPDX-License-Identifier: MIT */
/** @file
 * Status codes, errors and warnings shared by the generated model and the runtime. */
#ifndef AOP_ERROR_H
#define AOP_ERROR_H

#include <stddef.h>
#include "aop/export.h"
#include "aop/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The X-macro list of every status: X(name, number, text).
 *
 * One list makes the enum and its names (docs/design.md convention 5). Every number is written out
 * and never changes (tests/unit/test_status.c pins them): a program or a log that stored a
 * number keeps its meaning across versions. Groups leave room: 1-99 schema rules, 100-199 JSON,
 * 200-299 encoding, 300-399 signing and keys, 400-499 transport, 500-599 API use, 600-699 the journal and the resolver,
 * 700-799 notifications. */
#define AOP_STATUS_LIST(X)                                                        \
    X(AOP_OK, 0, "ok")                                                               \
    /* schema rules */                                                            \
    X(AOP_E_MISSING, 1, "required field is missing")                                 \
    X(AOP_E_EMPTY, 2, "required field is empty")                                     \
    X(AOP_E_TOO_LONG, 3, "value is longer than the field's maximum length")          \
    X(AOP_E_BAD_ENUM, 4, "value is not one of the enum's values")                    \
    X(AOP_E_BAD_DATETIME, 5, "value is not an RFC 3339 date-time")                   \
    X(AOP_E_BAD_AMOUNT, 6, "value is not a minor-unit amount (digits, no sign, no leading zero, at most 16)") \
    X(AOP_E_BAD_CURRENCY, 7, "value is not three upper-case ASCII letters")          \
    X(AOP_E_BAD_DECIMAL, 8, "value is not digits[.digits]")                          \
    X(AOP_E_BAD_UTF8, 9, "value is not valid UTF-8 or contains a NUL character")     \
    X(AOP_E_ONE_OF_REQUIRED, 10, "at least one of these fields is required")          \
    X(AOP_E_ECHO_MISMATCH, 11, "response does not echo the request's value")          \
    X(AOP_E_WRONG_TYPE, 12, "JSON value has the wrong type for this field")           \
    X(AOP_E_UNKNOWN_MEMBER, 13, "member is not defined by the schema")                \
    X(AOP_E_NULL_MANDATORY, 14, "mandatory field is null")                            \
    X(AOP_E_CONTROL_CHAR, 15, "text contains a control character (U+0001-U+001F, U+007F-U+009F)") \
    X(AOP_E_AMOUNT_ZERO, 16, "a request amount must be at least 1 minor unit")       \
    /* JSON grammar and limits (docs/protocol.md section 3) */                    \
    X(AOP_E_JSON_SYNTAX, 100, "body is not valid JSON")                                \
    X(AOP_E_JSON_STRING, 101, "invalid JSON string (control character, escape or surrogate)") \
    X(AOP_E_JSON_UTF8, 102, "invalid UTF-8 in JSON text")                              \
    X(AOP_E_JSON_NUL, 103, "NUL character in JSON text")                               \
    X(AOP_E_JSON_NUMBER, 104, "invalid JSON number or literal")                        \
    X(AOP_E_JSON_DUPLICATE_KEY, 105, "duplicate key in JSON object")                   \
    X(AOP_E_JSON_DEPTH, 106, "JSON nesting deeper than 32 levels")                     \
    X(AOP_E_JSON_TOO_LARGE, 107, "JSON body larger than 1 MiB")                        \
    X(AOP_E_JSON_TOKENS, 108, "token workspace too small")                             \
    X(AOP_E_ENVELOPE, 109, "not a signed envelope")                                    \
    X(AOP_E_CONTRADICTION, 110, "resultStatus contradicts the resultCode's status")    \
    /* encoding */                                                                \
    X(AOP_E_BUFFER_TOO_SMALL, 200, "output buffer is too small")                       \
    /* signing and keys */                                                        \
    X(AOP_E_SIGNATURE_MISSING, 300, "signature is missing")                            \
    X(AOP_E_SIGNATURE_INVALID, 301, "signature does not verify")                       \
    X(AOP_E_KEY_FORMAT, 302, "key is not in a supported format")                       \
    X(AOP_E_KEY_ENCRYPTED, 303, "key is encrypted and no passphrase was given")        \
    X(AOP_E_KEY_NOT_RSA, 304, "key is not an RSA key")                                 \
    X(AOP_E_KEY_WEAK, 305, "RSA key is shorter than 2048 bits")                        \
    X(AOP_E_KEY_MISMATCH, 306, "configured keys are inconsistent")                     \
    X(AOP_E_CRYPTO, 307, "cryptographic operation failed")                             \
    /* transport */                                                               \
    X(AOP_E_TIMEOUT, 400, "deadline exceeded")                                         \
    X(AOP_E_CONNECT, 401, "could not connect")                                         \
    X(AOP_E_TRANSPORT, 402, "transport error")                                         \
    X(AOP_E_HTTP_STATUS, 403, "HTTP status is not 200")                                \
    X(AOP_E_BODY_TOO_LARGE, 404, "response body larger than the limit")                \
    X(AOP_E_INSECURE_URL, 405, "plain http is allowed only for loopback hosts")        \
    X(AOP_E_STOPPED, 406, "the call was stopped before its answer (an interrupt)")     \
    /* API use */                                                                 \
    X(AOP_E_INVALID_ARG, 500, "invalid argument")                                      \
    X(AOP_E_CONFIG, 501, "invalid configuration")                                      \
    X(AOP_E_IO, 502, "I/O error")                                                      \
    X(AOP_E_NOMEM, 503, "out of memory")                                               \
    X(AOP_E_INTERNAL, 504, "internal error")                                           \
    /* the journal and the resolver */                                             \
    X(AOP_E_JOURNAL, 600, "the payment journal could not be read or written")         \
    X(AOP_E_TAKEN_OVER, 601, "another process took the journal entry over")           \
    X(AOP_E_ENTRY_OPEN, 602, "the payment's journal entry is still open")            \
    X(AOP_E_JOURNAL_BUSY, 603, "the journal is busy: nothing was written, try again") \
    X(AOP_E_JOURNAL_UNKNOWN, 604, "the journal write may or may not have been committed") \
    X(AOP_E_JOURNAL_UNSUPPORTED, 605, "the journal's store does not support this operation") \
    X(AOP_E_ENTRY_ALTERED, 606, "the journal entry's MAC does not verify") \
    /* notifications (docs/protocol.md section 8) */                              \
    X(AOP_E_MISADDRESSED, 700, "the notification names another function or clientId") \
    X(AOP_E_OUT_OF_WINDOW, 701, "the notification's reqTime is outside the accepted window")

/** The outcome of a library call: AOP_OK, or why it failed. */
typedef enum {
/** @cond */
#define AOP_STATUS_ENUM_(name, number, text) name = number,
/** @endcond */
    AOP_STATUS_LIST(AOP_STATUS_ENUM_)
#undef AOP_STATUS_ENUM_
} aop_status_t;

/** "AOP_E_TOO_LONG"; "AOP_E_?" for a number that is no status. */
AOP_API const char *aop_status_name(aop_status_t s);
/** Human description of the status; "unknown status" for a number that is no status. */
AOP_API const char *aop_strstatus(aop_status_t s);
/** The same as aop_strstatus(). */
AOP_API const char *aop_status_text(aop_status_t s);

#define AOP_ERROR_PATH_MAX 128 /**< size of aop_error_t::path, NUL included */
#define AOP_ERROR_MSG_MAX 192  /**< size of aop_error_t::msg, NUL included */

/** First violation found: code, JSON path of the field (may be empty), byte offset into the
 * decoded body (-1 when not a decode error) and a short message. Never holds a secret. */
typedef struct {
    aop_status_t code;             /**< AOP_OK, or what went wrong */
    long offset;                   /**< byte offset into the decoded body, or -1 */
    char path[AOP_ERROR_PATH_MAX]; /**< JSON path of the field ("request.body.identityCode"), or "" */
    char msg[AOP_ERROR_MSG_MAX];   /**< a short message for a person */
} aop_error_t;

/** Resets err (when not NULL) to AOP_OK with no path, offset -1 and no message. */
AOP_API void aop_error_clear(aop_error_t *err);
/** Sets err (when not NULL) and returns code. path may be NULL; msg is printf-style. */
AOP_API aop_status_t aop_error_set(aop_error_t *err, aop_status_t code, const char *path, long offset,
                                   const char *fmt, ...) AOP_PRINTF(5, 6);
/** Like aop_error_set() with path = prefix "." name (or just name when prefix is empty). */
AOP_API aop_status_t aop_error_setp(aop_error_t *err, aop_status_t code, const char *prefix,
                                    const char *name, long offset, const char *fmt, ...) AOP_PRINTF(6, 7);

/** At most this many warnings are kept per response (the others are counted as dropped). */
#define AOP_MAX_WARNINGS 16
/** A deviation in a received response that docs/protocol.md section 7 does not let overturn the
 * outcome. */
typedef struct {
    aop_status_t code;             /**< what deviates (e.g. AOP_E_UNKNOWN_MEMBER) */
    char path[AOP_ERROR_PATH_MAX]; /**< JSON path of the member */
} aop_warning_t;

/** The warnings of one response, in the order found. */
typedef struct {
    unsigned count;                        /**< entries stored in items */
    unsigned dropped;                      /**< warnings that did not fit */
    aop_warning_t items[AOP_MAX_WARNINGS]; /**< the first count warnings */
} aop_warnings_t;

/** Empties w. */
AOP_API void aop_warnings_clear(aop_warnings_t *w);
/** Adds a warning at path prefix "." name; counts it in dropped when w is full. */
AOP_API void aop_warnings_add(aop_warnings_t *w, aop_status_t code, const char *prefix, const char *name);

#ifdef __cplusplus
}
#endif
#endif
