/* Status codes, errors and warnings shared by the generated model and the runtime. */
#ifndef AOP_ERROR_H
#define AOP_ERROR_H

#include <stddef.h>
#include "aop/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One list makes the enum and its names (DESIGN.md convention 5). */
#define AOP_STATUS_LIST(X)                                                        \
    X(AOP_OK, "ok")                                                               \
    /* schema rules */                                                            \
    X(AOP_E_MISSING, "required field is missing")                                 \
    X(AOP_E_EMPTY, "required field is empty")                                     \
    X(AOP_E_TOO_LONG, "value is longer than the field's maximum length")          \
    X(AOP_E_BAD_ENUM, "value is not one of the enum's values")                    \
    X(AOP_E_BAD_DATETIME, "value is not an RFC 3339 date-time")                   \
    X(AOP_E_BAD_AMOUNT, "value is not a minor-unit amount (digits, no sign, no leading zero, at most 16)") \
    X(AOP_E_BAD_CURRENCY, "value is not three upper-case ASCII letters")          \
    X(AOP_E_BAD_DECIMAL, "value is not digits[.digits]")                          \
    X(AOP_E_BAD_UTF8, "value is not valid UTF-8 or contains a NUL character")     \
    X(AOP_E_ONE_OF_REQUIRED, "at least one of these fields is required")          \
    X(AOP_E_ECHO_MISMATCH, "response does not echo the request's value")          \
    X(AOP_E_WRONG_TYPE, "JSON value has the wrong type for this field")           \
    X(AOP_E_UNKNOWN_MEMBER, "member is not defined by the schema")                \
    X(AOP_E_NULL_MANDATORY, "mandatory field is null")                            \
    /* JSON grammar and limits (SPEC.md section 3) */                             \
    X(AOP_E_JSON_SYNTAX, "body is not valid JSON")                                \
    X(AOP_E_JSON_STRING, "invalid JSON string (control character, escape or surrogate)") \
    X(AOP_E_JSON_UTF8, "invalid UTF-8 in JSON text")                              \
    X(AOP_E_JSON_NUL, "NUL character in JSON text")                               \
    X(AOP_E_JSON_NUMBER, "invalid JSON number or literal")                        \
    X(AOP_E_JSON_DUPLICATE_KEY, "duplicate key in JSON object")                   \
    X(AOP_E_JSON_DEPTH, "JSON nesting deeper than 32 levels")                     \
    X(AOP_E_JSON_TOO_LARGE, "JSON body larger than 1 MiB")                        \
    X(AOP_E_JSON_TOKENS, "token workspace too small")                             \
    X(AOP_E_ENVELOPE, "not a signed envelope")                                    \
    /* encoding */                                                                \
    X(AOP_E_BUFFER_TOO_SMALL, "output buffer is too small")                       \
    /* signing and keys */                                                        \
    X(AOP_E_SIGNATURE_MISSING, "signature is missing")                            \
    X(AOP_E_SIGNATURE_INVALID, "signature does not verify")                       \
    X(AOP_E_KEY_FORMAT, "key is not in a supported format")                       \
    X(AOP_E_KEY_ENCRYPTED, "key is encrypted and no passphrase was given")        \
    X(AOP_E_KEY_NOT_RSA, "key is not an RSA key")                                 \
    X(AOP_E_KEY_WEAK, "RSA key is shorter than 2048 bits")                        \
    X(AOP_E_KEY_MISMATCH, "configured keys are inconsistent")                     \
    X(AOP_E_CRYPTO, "cryptographic operation failed")                             \
    /* transport */                                                               \
    X(AOP_E_TIMEOUT, "deadline exceeded")                                         \
    X(AOP_E_CONNECT, "could not connect")                                         \
    X(AOP_E_TRANSPORT, "transport error")                                         \
    X(AOP_E_HTTP_STATUS, "HTTP status is not 200")                                \
    X(AOP_E_BODY_TOO_LARGE, "response body larger than the limit")                \
    X(AOP_E_INSECURE_URL, "plain http is allowed only for loopback hosts")        \
    /* API use */                                                                 \
    X(AOP_E_INVALID_ARG, "invalid argument")                                      \
    X(AOP_E_CONFIG, "invalid configuration")                                      \
    X(AOP_E_IO, "I/O error")                                                      \
    X(AOP_E_NOMEM, "out of memory")                                               \
    X(AOP_E_CONTROL_CHAR, "text contains a control character (U+0001-U+001F, U+007F-U+009F)") \
    X(AOP_E_AMOUNT_ZERO, "a request amount must be at least 1 minor unit")      \
    X(AOP_E_INTERNAL, "internal error")

typedef enum {
#define AOP_STATUS_ENUM_(name, text) name,
    AOP_STATUS_LIST(AOP_STATUS_ENUM_)
#undef AOP_STATUS_ENUM_
    AOP_STATUS_COUNT_
} aop_status_t;

/* "AOP_E_TOO_LONG"; "AOP_E_?" for an out-of-range value. */
const char *aop_status_name(aop_status_t s);
/* Human description of the status. */
const char *aop_status_text(aop_status_t s);

#define AOP_ERROR_PATH_MAX 128
#define AOP_ERROR_MSG_MAX 192

/* First violation found: code, JSON path of the field (may be empty), byte offset into the
 * decoded body (-1 when not a decode error) and a short message. Never holds a secret. */
typedef struct {
    aop_status_t code;
    long offset;
    char path[AOP_ERROR_PATH_MAX];
    char msg[AOP_ERROR_MSG_MAX];
} aop_error_t;

void aop_error_clear(aop_error_t *err);
/* Sets err (when not NULL) and returns code. path may be NULL; msg is printf-style. */
aop_status_t aop_error_set(aop_error_t *err, aop_status_t code, const char *path, long offset,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* path = prefix "." name (or just name when prefix is empty). */
aop_status_t aop_error_setp(aop_error_t *err, aop_status_t code, const char *prefix,
                            const char *name, long offset, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Deviations in a received response that SPEC.md section 7 does not let overturn the outcome. */
#define AOP_MAX_WARNINGS 16
typedef struct {
    aop_status_t code;
    char path[AOP_ERROR_PATH_MAX];
} aop_warning_t;

typedef struct {
    unsigned count;   /* entries stored in items */
    unsigned dropped; /* warnings that did not fit */
    aop_warning_t items[AOP_MAX_WARNINGS];
} aop_warnings_t;

void aop_warnings_clear(aop_warnings_t *w);
void aop_warnings_add(aop_warnings_t *w, aop_status_t code, const char *prefix, const char *name);

#ifdef __cplusplus
}
#endif
#endif
