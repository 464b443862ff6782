/* SPDX-License-Identifier: MIT */
/* The public token type and the workspace that holds the tokens (issue 8): no public header
 * depends on jsmn, the token layout is fixed, aop_json_tokens_needed counts exactly what a body
 * needs (strings full of brackets, commas and escaped quotes do not fool it), and the workspace
 * the client reserves follows the tokens of the answer, not its length. */
#include "aop/client.h"
#include "aop/envelope.h"
#include "aop/error.h"
#include "aop/json.h"
#include "aop/model.h"
#include "aop/protocol.h"
#include "aop/sign.h"
#include "aop/transport.h"
#include "aop/types.h"
#ifdef JSMN_H
#error "a public aop header includes jsmn.h: users' JSMN_* options would change our types"
#endif

/* A user's jsmn, configured unlike anything the library was built with: 20-byte tokens. */
#define JSMN_PARENT_LINKS
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* The portable way of building the masks (where SSE2 is not), compiled here under another name:
 * it must count exactly as the library does. */
#define AOP_JSON_COUNT_PORTABLE
#define aop_json_tokens_needed portable_tokens_needed
#include "../../runtime/src/json_count.c"
#undef aop_json_tokens_needed
unsigned portable_tokens_needed(const char *buf, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Helpers */

/* Parses s[0..n) with a workspace that has room for any body; returns the status. */
static aop_status_t parse_all(const char *s, size_t n, aop_json_ws_t *ws, aop_json_doc_t *doc) {
    unsigned cap = aop_json_tokens_bound(n);
    ws->tok = malloc(sizeof *ws->tok * cap);
    ws->scratch = malloc(sizeof *ws->scratch * cap);
    ws->cap = cap;
    cr_assert(ws->tok && ws->scratch);
    aop_error_t err;
    return aop_json_parse(s, n, ws, doc, &err);
}

static unsigned empty_containers(const aop_json_doc_t *doc) {
    unsigned k = 0;
    for (unsigned i = 0; i < doc->count; i++)
        k += (doc->tok[i].type == AOP_JSON_OBJECT || doc->tok[i].type == AOP_JSON_ARRAY) && doc->tok[i].size == 0;
    return k;
}

/* s is valid: aop_json_tokens_needed is its token count plus one per empty container, and the
 * user's parent-links jsmn finds the same tokens. */
static void expect_needed_exact(const char *s, size_t n) {
    aop_json_ws_t ws;
    aop_json_doc_t doc;
    cr_assert_eq(parse_all(s, n, &ws, &doc), AOP_OK, "%.*s", (int)(n > 200 ? 200 : n), s);
    cr_assert_eq(aop_json_tokens_needed(s, n), doc.count + empty_containers(&doc), "%.*s",
                 (int)(n > 200 ? 200 : n), s);
    cr_assert_eq(portable_tokens_needed(s, n), doc.count + empty_containers(&doc));
    if (doc.tok[0].type == AOP_JSON_OBJECT || doc.tok[0].type == AOP_JSON_ARRAY) {
        jsmntok_t *ref = malloc(sizeof *ref * doc.count);
        jsmn_parser p;
        jsmn_init(&p);
        cr_assert_eq(jsmn_parse(&p, s, n, ref, doc.count), (int)doc.count);
        for (unsigned i = 0; i < doc.count; i++) {
            const uint32_t t = doc.tok[i].type;
            cr_assert_eq(ref[i].type, t == AOP_JSON_OBJECT ? JSMN_OBJECT
                                      : t == AOP_JSON_ARRAY ? JSMN_ARRAY
                                      : t == AOP_JSON_STRING ? JSMN_STRING
                                                             : JSMN_PRIMITIVE, "token %u", i);
            cr_assert_eq((uint32_t)ref[i].start, doc.tok[i].start, "token %u", i);
            cr_assert_eq((uint32_t)ref[i].end, doc.tok[i].end, "token %u", i);
            cr_assert_eq((uint32_t)ref[i].size, doc.tok[i].size, "token %u", i);
        }
        free(ref);
    }
    free(ws.tok);
    free(ws.scratch);
}

static void expect_needed_exact_s(const char *s) { expect_needed_exact(s, strlen(s)); }

static uint64_t rng = 0x243F6A8885A308D3u;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

typedef struct {
    char *p;
    size_t n, cap;
} out_t;

static void put(out_t *o, const char *s) {
    size_t k = strlen(s);
    if (o->n + k + 1 > o->cap) {
        o->cap = (o->n + k + 1) * 2;
        o->p = realloc(o->p, o->cap);
        cr_assert_not_null(o->p);
    }
    memcpy(o->p + o->n, s, k + 1);
    o->n += k;
}

/* A string made of the bytes that matter to a counter: structure, quotes and backslashes (as
 * escapes), \u escapes, runs long enough for the eight-byte loop. */
static void random_string(out_t *o) {
    static const char *const parts[] = {"{", "}", "[", "]", ",", ":", "\\\"", "\\\\", "\\/", "\\n",
                                        "\\u005b", "\\u0022", "\\ud83d\\ude00", "x", "abcdefghij", " ",
                                        "\xc3\xa9", "\\\\\\\""};
    put(o, "\"");
    for (unsigned k = rnd() % 12; k > 0; k--) put(o, parts[rnd() % (sizeof parts / sizeof *parts)]);
    put(o, "\"");
}

static void random_value(out_t *o, unsigned depth, unsigned *key_id) {
    unsigned pick = depth >= 6 ? rnd() % 4 : rnd() % 7;
    switch (pick) {
    case 0: random_string(o); break;
    case 1: put(o, rnd() % 2 ? "-12.5e3" : "0"); break;
    case 2: put(o, rnd() % 3 == 0 ? "true" : rnd() % 2 ? "false" : "null"); break;
    case 3: put(o, rnd() % 2 ? "{}" : "[ ]"); break;
    case 4:
    case 5: {
        put(o, "[");
        for (unsigned k = rnd() % 5, i = 0; i < k; i++) {
            if (i) put(o, rnd() % 2 ? "," : " ,\n");
            random_value(o, depth + 1, key_id);
        }
        put(o, "]");
        break;
    }
    default: {
        put(o, "{");
        for (unsigned k = rnd() % 5, i = 0; i < k; i++) {
            char key[32];
            /* distinct keys (duplicates are refused), with structure inside some of them */
            snprintf(key, sizeof key, "%s\"k%u%s\" : ", i ? "," : "", (*key_id)++, rnd() % 2 ? ",:[{" : "\\\"");
            put(o, key);
            random_value(o, depth + 1, key_id);
        }
        put(o, "}");
        break;
    }
    }
}

/* ---------------------------------------------------------------------------------------------
 * The type and its layout */

Test(tokens, layout_is_fixed_and_not_jsmn_s) {
    cr_assert_eq(sizeof(aop_json_tok_t), 16);
    cr_assert_eq(offsetof(aop_json_tok_t, type), 0);
    cr_assert_eq(offsetof(aop_json_tok_t, start), 4);
    cr_assert_eq(offsetof(aop_json_tok_t, end), 8);
    cr_assert_eq(offsetof(aop_json_tok_t, size), 12);
    /* the user's jsmn here has a parent field: were json.h still jsmn's, tokens would not match */
    cr_assert_neq(sizeof(jsmntok_t), sizeof(aop_json_tok_t));
}

Test(tokens, types_and_their_names) {
    const char *s = "[1,-0.5e3,true,false,null,\"s\",{},[]]";
    const aop_json_type_t want[] = {AOP_JSON_ARRAY, AOP_JSON_NUMBER, AOP_JSON_NUMBER, AOP_JSON_TRUE, AOP_JSON_FALSE,
                                    AOP_JSON_NULL,  AOP_JSON_STRING, AOP_JSON_OBJECT, AOP_JSON_ARRAY};
    const char *names[] = {"array", "number", "number", "true", "false", "null", "string", "object", "array"};
    aop_json_ws_t ws;
    aop_json_doc_t doc;
    cr_assert_eq(parse_all(s, strlen(s), &ws, &doc), AOP_OK);
    cr_assert_eq(doc.count, sizeof want / sizeof *want);
    for (unsigned i = 0; i < doc.count; i++) {
        cr_assert_eq(doc.tok[i].type, want[i], "token %u", i);
        cr_assert_str_eq(aop_json_type_name((aop_json_type_t)doc.tok[i].type), names[i]);
    }
    free(ws.tok);
    free(ws.scratch);
    cr_assert_str_eq(aop_json_type_name(AOP_JSON_UNDEFINED), "undefined");
    cr_assert_str_eq(aop_json_type_name((aop_json_type_t)99), "undefined");
}

/* ---------------------------------------------------------------------------------------------
 * aop_json_tokens_needed */

Test(tokens, needed_is_not_fooled_by_strings) {
    expect_needed_exact_s("{\"a,b\":\"[{:,\",\"c\\\"\":[1,\"\\\\\",{\"d\":\"\\\"}],:\"}]}");
    expect_needed_exact_s("[\"\\\\\\\"\",\"\\\\\",\"x\\\\\"]");
    expect_needed_exact_s("[\"0123456789,:{[]}0123456789\\\"0123456789\",2,\"\\\\\\\\\\\\\\\\\"]");
    expect_needed_exact_s("{\"\\u005b\\u007b\\u002c\":\"\\u0022\",\"k\":[\"]\",\"[\",\"}\",\"{\"]}");
    expect_needed_exact_s("\",:[{\"");
    expect_needed_exact_s("1");
    expect_needed_exact_s("{\"a\":{},\"b\":[],\"c\":[{}],\"d\":[[],[]]}");
    expect_needed_exact_s(" [ 1 , { \"a\" : [ true , null ] } , \"x\" ] ");
}

/* Escapes, quotes and introducing bytes at every position of the 64-byte blocks the counter
 * works in, and strings that span blocks. */
Test(tokens, needed_at_every_block_position) {
    const char *doc = "{\"a\\\\\":[\"\\\\\",\"\\\"\\\\\\\"\",\"[{,:0123456789abcdefghij,:{[\\\"\\\\\"],"
                      "\"b\\\"\":{\"c\":\"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"},\"d\":[]}";
    out_t o = {0};
    for (unsigned pad = 0; pad < 130; pad++) {
        o.n = 0;
        for (unsigned i = 0; i < pad; i++) put(&o, " ");
        put(&o, doc);
        expect_needed_exact(o.p, o.n);
    }
    free(o.p);
}

Test(tokens, needed_is_exact_on_random_documents) {
    for (unsigned iter = 0; iter < 3000; iter++) {
        out_t o = {0};
        unsigned key_id = 0;
        random_value(&o, 0, &key_id);
        expect_needed_exact(o.p, o.n);
        free(o.p);
    }
}

Test(tokens, needed_stays_in_bounds) {
    /* never 0 (a workspace is reserved even for an empty body), never above the bound, and an
     * escape or string cut at the end of the buffer is not read past (ASan) */
    const char *cases[] = {"", "\"", "\"\\", "\"abc\\", "[\"abcdefgh\\", ",,,,,,,,,,,,,,,,,,,,", "[[[[[[[[[["};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = strlen(cases[i]);
        char *copy = malloc(n ? n : 1);
        memcpy(copy, cases[i], n);
        unsigned k = aop_json_tokens_needed(copy, n);
        cr_assert_geq(k, 1, "%s", cases[i]);
        cr_assert_leq(k, aop_json_tokens_bound(n), "%s", cases[i]);
        free(copy);
    }
    cr_assert_eq(aop_json_tokens_needed(NULL, 0), 1);
}

/* ---------------------------------------------------------------------------------------------
 * The workspace follows the answer */

/* {"response":{"head":{...},"body":{<filler>}},"signature":"s"}, filled to exactly len bytes. */
static char *response_of(size_t len, int dense) {
    const char *head = "{\"response\":{\"head\":{\"version\":\"2.0.0\"},\"body\":{\"extendInfo\":";
    const char *tail = "}},\"signature\":\"s\"}";
    size_t hl = strlen(head), tl = strlen(tail);
    char *s = malloc(len);
    cr_assert_not_null(s);
    memcpy(s, head, hl);
    size_t room = len - hl - tl, i = 0;
    if (dense) { /* [1,1,...,1] padded with spaces: a token every two bytes */
        s[hl + i++] = '[';
        while (i + 3 <= room) {
            memcpy(s + hl + i, "1,", 2);
            i += 2;
        }
        s[hl + i - 1] = ']';
        while (i < room) s[hl + i++] = ' ';
    } else { /* one long string, full of what a naive counter would count */
        s[hl + i++] = '"';
        while (i + 5 <= room) {
            memcpy(s + hl + i, i % 64 == 1 ? "\\\"{[" : ",:ab", 4);
            i += 4;
        }
        while (i + 1 < room) s[hl + i++] = 'x';
        s[hl + i++] = '"';
    }
    memcpy(s + hl + room, tail, tl);
    return s;
}

/* Reserves the workspace as the client does and reads the envelope with it. */
static unsigned read_with_alloc(char *body, size_t len, aop_json_doc_t *doc) {
    aop_json_ws_t ws = {0};
    aop_error_t err;
    aop_envelope_t env;
    cr_assert_eq(aop_json_ws_alloc(&ws, body, len, &err), AOP_OK);
    cr_assert_eq(aop_envelope_read(body, len, "response", &ws, doc, &env, &err), AOP_OK, "%s at %ld", err.msg,
                 err.offset);
    cr_assert_eq(ws.cap, doc->count + empty_containers(doc));
    unsigned cap = ws.cap;
    aop_json_ws_free(&ws);
    cr_assert_null(ws.tok);
    return cap;
}

Test(tokens, workspace_follows_the_answer, .timeout = 20) {
    aop_json_doc_t doc;
    size_t n;
    char *pay = aop_test_read("bench/pay-response.json", &n);
    unsigned cap = read_with_alloc(pay, n, &doc);
    /* a few dozen tokens, where the bound for its length is hundreds */
    cr_assert_lt(cap * 4, aop_json_tokens_bound(n), "%u tokens for %zu bytes", cap, n);
    free(pay);

    /* 1 MiB answers, the largest allowed: one long string needs a handful of tokens ... */
    char *big = response_of(AOP_JSON_MAX_BODY, 0);
    cap = read_with_alloc(big, AOP_JSON_MAX_BODY, &doc);
    cr_assert_lt(cap, 16);
    free(big);
    /* ... and the densest one still has room for every token */
    char *dense = response_of(AOP_JSON_MAX_BODY, 1);
    cap = read_with_alloc(dense, AOP_JSON_MAX_BODY, &doc);
    cr_assert_gt(cap, AOP_JSON_MAX_BODY / 2 - 64, "%u tokens", cap);
    cr_assert_leq(cap, aop_json_tokens_bound(AOP_JSON_MAX_BODY));
    free(dense);
}
