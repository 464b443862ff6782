/* SPDX-License-Identifier: MIT */
/* Members of a verified response that the schema does not know, read by path. The copy of the
 * payload kept by the client is parsed again on each lookup: lookups are rare, and a result
 * that nobody reads this way pays nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/envelope.h"
#include "client_internal.h"

static aop_member_type_t type_of(const aop_json_doc_t *doc, unsigned i) {
    switch ((aop_json_type_t)doc->tok[i].type) {
    case AOP_JSON_OBJECT: return AOP_MEMBER_OBJECT;
    case AOP_JSON_ARRAY: return AOP_MEMBER_ARRAY;
    case AOP_JSON_STRING: return AOP_MEMBER_STRING;
    case AOP_JSON_TRUE:
    case AOP_JSON_FALSE: return AOP_MEMBER_BOOL;
    case AOP_JSON_NULL: return AOP_MEMBER_NULL;
    case AOP_JSON_NUMBER:
    case AOP_JSON_UNDEFINED: break;
    }
    return AOP_MEMBER_NUMBER; /* a checked document holds no undefined token */
}

/* The value of member name[0..n) of the object at token obj, or 0 (token 0 is the root and
 * never a member's value). */
static unsigned find_member(const aop_json_doc_t *doc, unsigned obj, const char *name, size_t n) {
    unsigned i = obj + 1;
    for (uint32_t k = 0; k < doc->tok[obj].size; k++) {
        if (aop_json_str_eq(doc, i, name, n)) return i + 1;
        i = aop_json_skip(doc, i + 1);
    }
    return 0;
}

static unsigned find_element(const aop_json_doc_t *doc, unsigned arr, unsigned long index) {
    if (doc->tok[arr].size <= index) return 0;
    unsigned i = arr + 1;
    for (unsigned long k = 0; k < index; k++) i = aop_json_skip(doc, i);
    return i;
}

/* Walks path from the root object; 0 when it leads nowhere. */
static unsigned walk(const aop_json_doc_t *doc, const char *path, aop_error_t *err) {
    unsigned at = 0;
    const char *p = path;
    for (;;) {
        size_t n = strcspn(p, ".[");
        if (n == 0) return aop_error_set(err, AOP_E_INVALID_ARG, path, -1, "empty member name in the path"), 0;
        if (doc->tok[at].type != AOP_JSON_OBJECT || !(at = find_member(doc, at, p, n))) break;
        p += n;
        while (*p == '[') {
            char *end;
            unsigned long index = strtoul(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || p[1] == '-' || p[1] == '+')
                return aop_error_set(err, AOP_E_INVALID_ARG, path, -1, "an index is [digits]"), 0;
            if (doc->tok[at].type != AOP_JSON_ARRAY || !(at = find_element(doc, at, index))) goto missing;
            p = end + 1;
        }
        if (*p == '\0') return at;
        if (*p != '.') return aop_error_set(err, AOP_E_INVALID_ARG, path, -1, "'.' or '[' expected after ']'"), 0;
        p++;
    }
missing:
    aop_error_set(err, AOP_E_MISSING, path, -1, "the response has no such member");
    return 0;
}

aop_status_t aop_result_member(aop_result_t *r, const char *path, aop_member_t *out, aop_error_t *err) {
    aop_error_clear(err);
    if (!r || !path || !out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    memset(out, 0, sizeof *out);
    if (!r->verified || !r->response_text.ptr)
        return aop_error_set(err, r->error != AOP_OK ? r->error : AOP_E_SIGNATURE_INVALID, path, -1,
                             "the response did not verify: none of its members can be trusted");
    result_impl_t *impl = (result_impl_t *)r;
    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_status_t st = aop_json_ws_alloc(&ws, r->response_text.ptr, r->response_text.len, err);
    if (st == AOP_OK) st = aop_json_parse(r->response_text.ptr, r->response_text.len, &ws, &doc, err);
    unsigned at = st == AOP_OK ? walk(&doc, path, err) : 0;
    if (st == AOP_OK && at == 0) st = err ? err->code : AOP_E_MISSING;
    if (st == AOP_OK) {
        const char *text = doc.buf + doc.tok[at].start;
        size_t len = (size_t)(doc.tok[at].end - doc.tok[at].start);
        out->type = type_of(&doc, at);
        if (out->type == AOP_MEMBER_STRING && memchr(text, '\\', len)) {
            member_text_t *t = malloc(sizeof *t + len + 1);
            if (!t) {
                st = aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
            } else {
                memcpy(t->text, text, len);
                len = aop_json_unescape(t->text, len);
                t->text[len] = '\0';
                t->next = impl->texts;
                impl->texts = t;
                text = t->text;
            }
        }
        out->text = aop_strn(text, len);
    }
    aop_json_ws_free(&ws);
    if (st != AOP_OK) memset(out, 0, sizeof *out);
    return st;
}
