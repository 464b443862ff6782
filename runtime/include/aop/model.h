/* SPDX-License-Identifier: MIT */
/** @file
 * The descriptor types the generator fills in (generated/aop_model.c, declared in aop/protocol.h) and the engine that
 * validates, encodes and decodes any message from them (runtime/src/model_*.c). The runtime
 * knows kinds and flags, never a field name: names live in schema/ and the generated tables. */
#ifndef AOP_MODEL_H
#define AOP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aop/export.h"
#include "aop/error.h"
#include "aop/json.h"
#include "aop/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The descriptor format this engine reads. The generator writes the version it generated for
 * into aop/protocol.h, which refuses to compile (\#error) when the two differ: bump it whenever
 * a descriptor type below changes shape or meaning, together with codegen/aopgen (FORMAT_VERSION). */
#define AOP_MODEL_FORMAT_VERSION 4

/** At most this many fields per message: the decoder tracks the members it has seen in a
 * uint64_t (the generator refuses more, and the generated tables static_assert it). */
#define AOP_MAX_FIELDS 64

/** A whole request or response (the root) is two fields, in this order: fields[AOP_ROOT_HEAD] is
 * the head (also the struct's first member) and fields[AOP_ROOT_BODY] the body. */
#define AOP_ROOT_HEAD 0 /**< index of the head field of a root message */
#define AOP_ROOT_BODY 1 /**< index of the body field of a root message */

/** The kind of a field: how its value is stored and checked. */
typedef enum {
    AOP_KIND_STRING,   /**< aop_str_t */
    AOP_KIND_DATETIME, /**< aop_str_t, RFC 3339 date-time */
    AOP_KIND_AMOUNT,   /**< aop_str_t, minor units: digits, no sign, no leading zero */
    AOP_KIND_CURRENCY, /**< aop_str_t, three upper-case ASCII letters */
    AOP_KIND_DECIMAL,  /**< aop_str_t, digits[.digits] */
    AOP_KIND_ENUM,     /**< aop_enum_val_t */
    AOP_KIND_OBJECT    /**< nested struct */
} aop_kind_t;

/** Whether a field must be present. */
typedef enum {
    AOP_FLAG_M,  /**< mandatory */
    AOP_FLAG_O,  /**< optional */
    AOP_FLAG_C,  /**< conditional: required when cond holds */
} aop_flag_t;

/** The values of an enum of the schema. */
typedef struct {
    const char *name;           /**< the enum's schema name */
    unsigned count;             /**< values are 1..count; 0 is unknown */
    const char *const *values;  /**< values[v - 1] */
    const unsigned char *lens;  /**< lens[v - 1]: the length of values[v - 1] */
    const unsigned char *sorted; /**< value numbers sorted by text, for lookup */
} aop_enum_desc_t;

/** A condition over the root message (generated C). */
typedef bool (*aop_cond_fn)(const void *root);

/** The descriptor of a message (an object of the schema). */
typedef struct aop_msg_desc aop_msg_desc_t;

/** The descriptor of one field of a message. */
typedef struct {
    const char *name;    /**< JSON name */
    const char *key;     /**< "\"name\":" as written */
    const char *alias;   /**< another JSON name accepted when decoding, or NULL */
    uint16_t name_len;   /**< strlen(name) */
    uint16_t key_len;    /**< strlen(key) */
    uint16_t alias_len;  /**< strlen(alias), 0 without one */
    uint8_t kind;        /**< aop_kind_t */
    uint8_t flag;        /**< aop_flag_t */
    bool echo;           /**< response field that mirrors a request field */
    uint32_t offset;     /**< of the member in its parent struct */
    int32_t has_offset;  /**< of the bool has_ flag (objects that are not M), else -1 */
    uint32_t max_len;    /**< UTF-16 code units (amount: digits); 0 = none */
    bool nonempty;       /**< an id (schema type id): never "", even when optional */
    bool positive;       /**< an object with the role amount: its AOP_KIND_AMOUNT values are at
                            least 1 in what we send (strict); 0 stays valid when read */
    bool sensitive;      /**< the role sensitive (a credential): aop_encode_ex() with
                            AOP_ENCODE_OMIT_SENSITIVE validates it but does not write it */
    bool decides;        /**< a deciding member of a received request (an inbound function's,
                            docs/protocol.md section 8): when present, a value breaking any rule,
                            or a mandatory member of it breaking one, fails the message instead of
                            being a warning; its absence fails only by `outcome` */
    const aop_msg_desc_t *sub;   /**< AOP_KIND_OBJECT */
    const aop_enum_desc_t *enm;  /**< AOP_KIND_ENUM */
    aop_cond_fn when;            /**< AOP_FLAG_C: required when it returns true */
    aop_cond_fn outcome;         /**< non-NULL: a missing or wrongly typed value fails a response
                                    when it returns true (docs/protocol.md section 7) */
} aop_field_desc_t;

/** A group of fields of which at least one is required. */
typedef struct {
    uint8_t count;     /**< fields used */
    uint8_t fields[4]; /**< indexes into the message's fields */
} aop_one_of_t;

/** The descriptor of a message: its struct's size and its fields, in schema order. */
struct aop_msg_desc {
    const char *name;               /**< the schema's name of the object */
    size_t size;                    /**< sizeof its struct */
    unsigned nfields;               /**< entries of fields */
    const aop_field_desc_t *fields; /**< the fields */
    unsigned n_one_of;              /**< entries of one_of */
    const aop_one_of_t *one_of;     /**< its at-least-one-of groups */
};

/** A gateway of the schema (schema/hosts.yaml): its base URL, and that URL split in two, so a
 * URL with a known origin but without the gateway's path prefix can be recognised. */
typedef struct {
    const char *name;   /**< "production" */
    const char *url;    /**< base URL: origin + prefix, e.g. "https://open-sea.alipay.com/api" */
    const char *origin; /**< scheme://host[:port], e.g. "https://open-sea.alipay.com" */
    const char *prefix; /**< path prefix every function path follows, e.g. "/api"; "" for none */
} aop_host_desc_t;

/** A field addressed from the root of a request or response struct. */
typedef struct {
    const char *path;     /**< JSON path, e.g. "request.body.identityCode" */
    uint32_t offset;      /**< of the member from the root struct */
    int32_t has_offset;   /**< of the has_ flag of the member or of its optional parent, or -1 */
    uint8_t kind;         /**< aop_kind_t */
    const aop_msg_desc_t *sub; /**< AOP_KIND_OBJECT: its descriptor */
} aop_field_ref_t;

/** A response field that must carry back what the request sent (docs/protocol.md section 1). */
typedef struct {
    aop_field_ref_t request;  /**< the field sent */
    aop_field_ref_t response; /**< the field that must carry it back */
    bool mandatory; /**< ME: must be present when the request carried a value */
} aop_echo_desc_t;

/** One result code of a function (schema/result_codes.yaml). */
typedef struct {
    const char *code;    /**< resultCode, e.g. "SUCCESS" */
    const char *id;      /**< NULL when the vendor publishes none */
    char status;         /**< 'S', 'F' or 'U' */
    const char *meaning; /**< what it means, for a person */
    unsigned classes;    /**< the result-code classes it belongs to (schema/result_codes.yaml,
                            code_classes): AOP_RC_CLASS_ bits of aop/protocol.h; test with
                            aop_result_code_in() */
} aop_result_code_t;

/** The result codes of a function, indexed two ways. */
typedef struct {
    unsigned count;                          /**< entries of by_code */
    const aop_result_code_t *const *by_code; /**< sorted by code */
    unsigned n_ids;                          /**< entries of by_id */
    const aop_result_code_t *const *by_id;   /**< the codes that have an id, sorted by id */
} aop_result_table_t;

/** The descriptor of a function of the API (aop_fn_offline_pay, ...): what aop_call() needs; or
 * of an inbound function (aop_fn_notify_pay), which Alipay calls and the merchant answers. */
typedef struct {
    const char *name;           /**< alipay.intl.acquiring.offline.pay */
    /** Alipay sends the request to the merchant and the merchant answers (a notification): the
     * request is received (judged by docs/protocol.md section 7) and the response sent (strict).
     * Such a function has no path and no deadline, and aop_call() refuses it. */
    bool inbound;
    const char *path;           /**< /alipay/intl/acquiring/offline/pay.htm (after the host's base URL);
                                   NULL for an inbound function */
    long deadline_ms;               /**< the default deadline of one call (0 for an inbound function) */
    const aop_msg_desc_t *request;  /**< the request's root descriptor */
    const aop_msg_desc_t *response; /**< the response's root descriptor */
    unsigned n_echo;                /**< entries of echo */
    const aop_echo_desc_t *echo;    /**< the response fields that echo the request */
    unsigned n_sensitive;           /**< entries of sensitive */
    const aop_field_ref_t *sensitive; /**< fields masked in logs and events */
    const aop_field_ref_t *idempotency_key; /**< or NULL */
    const aop_field_ref_t *amount;          /**< or NULL */
    const aop_field_ref_t *merchant;        /**< the merchantId the client fills by default, or NULL */
    const aop_field_ref_t *result_info;     /**< the response's ResultInfo */
    const aop_result_table_t *codes;        /**< its result codes */
} aop_function_desc_t;

/* ---- engine ---- */

/** Strict validation of a message to be sent: the first violation, with its JSON path
 * (prefixed with root, e.g. "request"). */
AOP_API aop_status_t aop_validate(const aop_msg_desc_t *d, const void *msg, const char *root,
                          aop_error_t *err);

/** Lenient validation of a received message, a response or an inbound request (docs/protocol.md
 * section 7): deviations that may not overturn the outcome go to warnings; an outcome-deciding
 * violation (and any violation of a deciding member, aop_field_desc_t::decides) is returned
 * (AOP_OK when none). */
AOP_API aop_status_t aop_validate_response(const aop_msg_desc_t *d, const void *msg, const char *root,
                                   aop_warnings_t *warnings, aop_error_t *err);

/** Every echo pair of fn: AOP_E_ECHO_MISMATCH (path of the response field) on the first that
 * does not hold. */
AOP_API aop_status_t aop_check_echo(const aop_function_desc_t *fn, const void *request,
                            const void *response, aop_error_t *err);

/** Copies into response every value of request that an echo pair of fn names (the head's
 * version, function, clientId and reqMsgId, and the body's echoes), as the side that answers
 * does; a value the request lacks is left as it is in response. The views are copied, not the
 * bytes: they point where request's do. */
AOP_API void aop_fill_echo(const aop_function_desc_t *fn, const void *request, void *response);

/** Encodes msg compactly into out[0..cap), validating it strictly in the same pass. *len gets
 * the size written, or the size needed when AOP_E_BUFFER_TOO_SMALL is returned (nothing is
 * ever silently truncated; out holds no usable JSON then). No heap allocation. */
AOP_API aop_status_t aop_encode(const aop_msg_desc_t *d, const void *msg, const char *root, char *out,
                        size_t cap, size_t *len, aop_error_t *err);

/** aop_encode_ex() flag: members whose field has the role sensitive (the pay's identityCode) are
 * validated like the others but left out of the output, so the request can be kept (journaled)
 * without the credential. */
#define AOP_ENCODE_OMIT_SENSITIVE 0x1u

/** aop_encode() with flags (AOP_ENCODE_ flags or'ed, 0 for none: then the output is aop_encode()'s,
 * byte for byte). A left-out member changes only what is written, never what is checked; the
 * contract is aop_encode()'s (the size needed on AOP_E_BUFFER_TOO_SMALL, no truncation, no heap).
 * An unknown flag is AOP_E_INVALID_ARG. */
AOP_API aop_status_t aop_encode_ex(const aop_msg_desc_t *d, const void *msg, const char *root, unsigned flags,
                                   char *out, size_t cap, size_t *len, aop_error_t *err);

/** Decodes the object at token tok of a checked document (aop_json_parse) into msg, which is
 * zeroed first. Strings are unescaped in place in buf (the document's bytes, which must be
 * writable), and msg's views point into buf: they stay valid while buf is unchanged and alive.
 * strict (what the merchant sends: an outbound request, an inbound response): any deviation is an
 * error. Otherwise (what it receives: a response, an inbound request): docs/protocol.md section 7;
 * deviations become warnings and only outcome-deciding ones, and those of deciding members, fail.
 * Validation is included.
 * No heap allocation. */
AOP_API aop_status_t aop_decode(const aop_msg_desc_t *d, const aop_json_doc_t *doc, unsigned tok,
                        char *buf, void *msg, const char *root, bool strict,
                        aop_warnings_t *warnings, aop_error_t *err);

/** Whether a and b hold the same values (presence included; enums by value, or by text when
 * unknown). */
AOP_API bool aop_equal(const aop_msg_desc_t *d, const void *a, const void *b);

/** Enum lookup by text (binary search); 0 when unknown. */
AOP_API int aop_enum_from_text(const aop_enum_desc_t *e, const char *s, size_t n);
AOP_API const char *aop_enum_text(const aop_enum_desc_t *e, int v); /**< NULL when out of range */

/** Result codes: lookup by code (binary search) or by id. NULL when not in the table. */
AOP_API const aop_result_code_t *aop_result_code_find(const aop_result_table_t *t, const char *code, size_t n);
/** Result code lookup by resultCodeId; NULL when not in the table. */
AOP_API const aop_result_code_t *aop_result_code_find_id(const aop_result_table_t *t, const char *id, size_t n);
/** Whether rc belongs to at least one of the classes cls (AOP_RC_CLASS_ bits of aop/protocol.h,
 * or'ed); false for a NULL rc (a code no table knows belongs to no class) or cls 0. */
AOP_API bool aop_result_code_in(const aop_result_code_t *rc, unsigned cls);

/** Access to a field addressed from a root struct. */
static inline const aop_str_t *aop_ref_str(const aop_field_ref_t *r, const void *root) {
    return (const aop_str_t *)(const void *)((const char *)root + r->offset);
}
/** Whether the field (and its optional parent) is present in root. */
static inline bool aop_ref_present(const aop_field_ref_t *r, const void *root);

/** Length in UTF-16 code units of valid UTF-8 (a character outside the BMP counts 2); 0 for
 * invalid UTF-8. */
AOP_API size_t aop_utf16_len(const char *s, size_t n);
/** Checks UTF-8 (no NUL, no overlong form, no surrogate, at most U+10FFFF) and counts UTF-16
 * code units into *units. */
AOP_API bool aop_utf8_units(const char *s, size_t n, size_t *units);

/** Format checks of docs/protocol.md section 3's table. */
AOP_API bool aop_is_datetime(const char *s, size_t n);      /**< as we write: 'T' and 'Z' upper case */
AOP_API bool aop_is_datetime_read(const char *s, size_t n); /**< as we read: either case */
/** The instant of an RFC 3339 date-time (read as aop_is_datetime_read() accepts it) as Unix time
 * in milliseconds into *out: the offset applied, a fraction's first three digits kept, a leap
 * second read as the last millisecond of its minute. False (and *out unchanged) when s is no
 * date-time. */
AOP_API bool aop_datetime_ms(const char *s, size_t n, int64_t *out);
AOP_API bool aop_is_amount(const char *s, size_t n);   /**< minor units: digits, no sign, no leading zero, at most 16 */
AOP_API bool aop_is_currency(const char *s, size_t n); /**< three upper-case ASCII letters */
AOP_API bool aop_is_decimal(const char *s, size_t n);  /**< digits[.digits] */
AOP_API bool aop_is_utf8(const char *s, size_t n); /**< valid UTF-8 without NUL */
/** Whether valid UTF-8 s[0..n) holds a control character: C0 (U+0000..U+001F), DEL (U+007F) or
 * C1 (U+0080..U+009F, which mis-decoded Windows-1252 text produces and 8-bit terminals obey,
 * U+009B being CSI). Text we send may hold none; in a response they are a warning. */
AOP_API bool aop_has_control(const char *s, size_t n);

static inline bool aop_ref_present(const aop_field_ref_t *r, const void *root) {
    const char *base = (const char *)root;
    if (r->has_offset >= 0 && !*(const bool *)(const void *)(base + r->has_offset)) return false;
    if (r->kind == AOP_KIND_OBJECT) return true;
    if (r->kind == AOP_KIND_ENUM) {
        const aop_enum_val_t *e = (const aop_enum_val_t *)(const void *)(base + r->offset);
        return e->value != 0 || e->text.ptr != NULL;
    }
    return aop_ref_str(r, root)->ptr != NULL;
}

#ifdef __cplusplus
}
#endif
#endif
