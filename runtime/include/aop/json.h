/* SPDX-License-Identifier: MIT */
/** @file
 * Strict JSON: the whole grammar and limits of SPEC.md section 3, checked before any value is
 * used, plus the envelope reader that finds the signed bytes. The tokens are our own type: no
 * third-party header is included here, and no option a user builds with (JSMN_PARENT_LINKS,
 * -fshort-enums) changes the token layout the library was compiled with. */
#ifndef AOP_JSON_H
#define AOP_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "aop/export.h"
#include "aop/error.h"
#include "aop/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AOP_JSON_MAX_BODY (1024u * 1024u) /**< the largest body aop_json_parse() accepts, in bytes */
#define AOP_JSON_MAX_DEPTH 32            /**< the deepest nesting aop_json_parse() accepts */

/** The JSON type of a value. Numbers and the three literals each have their own type, so a
 * value's type is known without looking at its bytes. */
typedef enum {
    AOP_JSON_UNDEFINED = 0,
    AOP_JSON_OBJECT = 1,
    AOP_JSON_ARRAY = 2,
    AOP_JSON_STRING = 3,
    AOP_JSON_NUMBER = 4,
    AOP_JSON_TRUE = 5,
    AOP_JSON_FALSE = 6,
    AOP_JSON_NULL = 7
} aop_json_type_t;

/** One token, in document order (pre-order). All fields are fixed-width (type holds an
 * aop_json_type_t), so the layout (16 bytes) does not depend on the compiler's enum size.
 *   OBJECT / ARRAY: start = offset of '{' / '[', end = offset just past '}' / ']',
 *                   size = number of members / elements;
 *   STRING: start = offset just past the opening quote, end = offset of the closing quote
 *           (contents still escaped), size = 1 for an object key, 0 for a value;
 *   NUMBER, TRUE, FALSE, NULL: the bytes of the number or literal, size 0. */
typedef struct {
    uint32_t type;  /**< an aop_json_type_t */
    uint32_t start; /**< byte offset where the token starts (see above) */
    uint32_t end;   /**< byte offset just past the token (see above) */
    uint32_t size;  /**< members, elements, or 1 for an object key (see above) */
} aop_json_tok_t;

/** "object", "array", "string", "number", "true", "false", "null"; "undefined" otherwise. */
AOP_API const char *aop_json_type_name(aop_json_type_t type);

/** Caller-owned workspace: parsing allocates nothing. scratch has cap entries too (it is used to
 * find duplicate keys in large objects in O(n log n)). */
typedef struct {
    aop_json_tok_t *tok; /**< cap tokens */
    unsigned *scratch;   /**< cap entries */
    unsigned cap;        /**< entries of tok and of scratch */
} aop_json_ws_t;

/** A checked document: tokens index into buf (not NUL-terminated). */
typedef struct {
    const char *buf;           /**< the text parsed (borrowed) */
    size_t len;                /**< its length in bytes */
    const aop_json_tok_t *tok; /**< the tokens, root first (the workspace's) */
    unsigned count;            /**< tokens used */
} aop_json_doc_t;

/** An upper bound of the tokens any valid body of len bytes needs (about len / 2: for a fixed
 * workspace that must take any body of that size). */
AOP_API unsigned aop_json_tokens_bound(size_t len);

/** The tokens aop_json_parse needs for buf, from one linear pass that counts the bytes that
 * introduce a value or key outside strings ('{', '[', ',', ':'): exact for a valid body whose
 * containers are all non-empty, one more per empty container otherwise. For an invalid body it is
 * never fewer than the parser uses before it finds the problem, so a workspace of this size
 * reports the real error, never AOP_E_JSON_TOKENS. At least 1, at most aop_json_tokens_bound(len). */
AOP_API unsigned aop_json_tokens_needed(const char *buf, size_t len);

/** Tokenises buf and checks all of SPEC.md section 3's grammar and limits: one top-level value
 * with only whitespace after it, every separator in place, literals and numbers per RFC 8259,
 * strings (escapes, control characters, surrogate pairs, UTF-8, no NUL, no \\u0000), duplicate
 * keys at every level (compared after unescaping), depth <= 32, len <= 1 MiB.
 * On error: err->offset is the byte offset of the problem. */
AOP_API aop_status_t aop_json_parse(const char *buf, size_t len, aop_json_ws_t *ws, aop_json_doc_t *doc,
                            aop_error_t *err);

/** Index of the first token after the subtree rooted at i. */
AOP_API unsigned aop_json_skip(const aop_json_doc_t *doc, unsigned i);

/** Whether string token i (a checked key) equals name once unescaped. */
AOP_API bool aop_json_str_eq(const aop_json_doc_t *doc, unsigned i, const char *name, size_t name_len);

/** Unescapes the checked JSON string contents s[0..len) in place (\\uXXXX and surrogate pairs to
 * UTF-8) and returns the new length (never longer). */
AOP_API size_t aop_json_unescape(char *s, size_t len);

/** The parts of a received {"request"|"response": {...}, "signature": "..."} body.
 * payload: the exact raw bytes of the value of `member` (what the signature covers).
 * signature: the raw contents of the signature string, between its quotes, still escaped
 * (ptr NULL when the member is absent). payload_tok: the token index of the payload object. */
typedef struct {
    aop_str_t payload;       /**< the raw bytes the signature covers */
    aop_str_t signature;     /**< the signature's raw (escaped) contents; ptr NULL when absent */
    unsigned payload_tok;    /**< token index of the payload object */
    unsigned extra_members; /**< other top-level members: a warning for a response (SPEC.md
                               section 7), refused in a request by the gateway */
    long extra_offset;      /**< byte offset of the first of them, or -1 */
} aop_envelope_t;

/** Parses buf with aop_json_parse and locates the envelope's parts. The top level must be an
 * object holding `member` (an object) and, optionally, "signature" (a string); a signature of
 * another type is AOP_E_ENVELOPE. Other members are counted in extra_members. */
AOP_API aop_status_t aop_envelope_read(const char *buf, size_t len, const char *member, aop_json_ws_t *ws,
                               aop_json_doc_t *doc, aop_envelope_t *env, aop_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
