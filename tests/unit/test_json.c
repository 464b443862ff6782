/* SPDX-License-Identifier: MIT */
/* Strict JSON (SPEC.md section 3, DESIGN.md convention 7): one malformed case for every grammar
 * rule with its exact status and offset, the inputs jsmn alone accepts, valid documents of every
 * form, duplicate keys, limits, truncation, mutation smoke tests, the token layout (checked token
 * for token against jsmn 1.1.0 itself), the walking helpers, unescaping and the envelope reader. */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* jsmn itself, as the reference for the token layout (json.c produces the same offsets and sizes
 * in its own token type). Only this test includes it: the library's headers do not. */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "aop/envelope.h"
#include "aop/json.h"
#include "support.h"

/* ---------------------------------------------------------------------------------------------
 * Helpers */

/* At least aop_json_tokens_bound(AOP_JSON_MAX_BODY) (checked in json_tokens.bound_is_always_enough) */
#define BIG_CAP (AOP_JSON_MAX_BODY / 2 + 2 + AOP_JSON_MAX_DEPTH)
static aop_json_tok_t g_tok[BIG_CAP];
static unsigned g_scr[BIG_CAP];
static jsmntok_t g_ref[BIG_CAP];

static aop_json_ws_t big_ws(void) {
    aop_json_ws_t ws = {g_tok, g_scr, BIG_CAP};
    return ws;
}

/* One parse of s[0..n) with a workspace of cap entries: on the heap unless it is the largest (so
 * ASan sees a write past cap). */
static aop_status_t parse_cap(const char *s, size_t n, unsigned cap, aop_error_t *err, unsigned *count) {
    aop_json_ws_t ws = {g_tok, g_scr, cap};
    if (cap < BIG_CAP) {
        ws.tok = malloc(sizeof *ws.tok * (cap ? cap : 1));
        ws.scratch = malloc(sizeof *ws.scratch * (cap ? cap : 1));
        cr_assert(ws.tok && ws.scratch);
    }
    aop_json_doc_t doc;
    aop_error_clear(err);
    aop_status_t st = aop_json_parse(s, n, &ws, &doc, err);
    *count = doc.count;
    if (cap < BIG_CAP) {
        free(ws.tok);
        free(ws.scratch);
    }
    return st;
}

/* Parses a private copy of exactly n bytes (so ASan sees any read past the end) with a workspace of
 * aop_json_tokens_needed entries (what aop_json_ws_alloc reserves), then with
 * aop_json_tokens_bound(n) and with the largest workspace: all three must agree, so neither size
 * ever turns a body's real error into AOP_E_JSON_TOKENS (or loses a valid body). */
static aop_status_t check_n(const char *s, size_t n, aop_error_t *err, unsigned *count) {
    char *copy = malloc(n ? n : 1);
    cr_assert_not_null(copy);
    if (n) memcpy(copy, s, n);
    const unsigned needed = aop_json_tokens_needed(copy, n);
    cr_assert_geq(needed, 1);
    cr_assert_leq(needed, aop_json_tokens_bound(n));
    unsigned c0 = 0, c1 = 0, c2 = 0;
    aop_error_t e1, e2;
    aop_status_t st = parse_cap(copy, n, needed, err, &c0);
    aop_status_t st1 = parse_cap(copy, n, aop_json_tokens_bound(n), &e1, &c1);
    aop_status_t st2 = parse_cap(copy, n, BIG_CAP, &e2, &c2);
    cr_assert_eq(st, st2, "%.*s: %s with tokens_needed = %u, %s with room for all", (int)(n > 200 ? 200 : n),
                 s, aop_status_name(st), needed, aop_status_name(st2));
    cr_assert_eq(st1, st2, "%.*s: %s with tokens_bound, %s with room for all", (int)(n > 200 ? 200 : n), s,
                 aop_status_name(st1), aop_status_name(st2));
    cr_assert_eq(err->offset, e2.offset);
    cr_assert_eq(e1.offset, e2.offset);
    cr_assert(c0 == c2 && c1 == c2);
    if (count) *count = c0;
    free(copy);
    return st;
}

static aop_status_t check_s(const char *s, aop_error_t *err) { return check_n(s, strlen(s), err, NULL); }

/* Parses s in place (the doc points into s). */
static aop_status_t parse_doc(const char *s, size_t n, aop_json_doc_t *doc, aop_error_t *err) {
    aop_json_ws_t ws = big_ws();
    aop_error_clear(err);
    return aop_json_parse(s, n, &ws, doc, err);
}

/* Our type of a token jsmn found: its PRIMITIVE is our NUMBER, TRUE, FALSE or NULL, told apart
 * by the first byte (jsmn checked the rest). */
static aop_json_type_t from_jsmn(const jsmntok_t *t, const char *s) {
    switch (t->type) {
    case JSMN_OBJECT: return AOP_JSON_OBJECT;
    case JSMN_ARRAY: return AOP_JSON_ARRAY;
    case JSMN_STRING: return AOP_JSON_STRING;
    case JSMN_PRIMITIVE:
        return s[t->start] == 't' ? AOP_JSON_TRUE
               : s[t->start] == 'f' ? AOP_JSON_FALSE
               : s[t->start] == 'n' ? AOP_JSON_NULL
                                    : AOP_JSON_NUMBER;
    default: return AOP_JSON_UNDEFINED;
    }
}

/* jsmn 1.1.0 (strict) must produce exactly our tokens for a valid document, field by field. jsmn
 * refuses a top-level scalar that ends the input; those are skipped. */
static void expect_jsmn_layout(const char *s, size_t n, const aop_json_doc_t *doc) {
    jsmn_parser p;
    jsmn_init(&p);
    int r = jsmn_parse(&p, s, n, g_ref, BIG_CAP);
    if (r < 0 && doc->count >= 1 && doc->tok[0].type != AOP_JSON_OBJECT && doc->tok[0].type != AOP_JSON_ARRAY)
        return;
    cr_assert_eq(r, (int)doc->count, "jsmn found %d tokens, we found %u in %.*s", r, doc->count,
                 (int)(n > 200 ? 200 : n), s);
    for (unsigned i = 0; i < doc->count; i++) {
        cr_assert_geq(g_ref[i].start, 0, "token %u start", i);
        cr_assert_geq(g_ref[i].end, 0, "token %u end", i);
        cr_assert_geq(g_ref[i].size, 0, "token %u size", i);
        cr_assert_eq(from_jsmn(&g_ref[i], s), doc->tok[i].type, "token %u type", i);
        cr_assert_eq((uint32_t)g_ref[i].start, doc->tok[i].start, "token %u start", i);
        cr_assert_eq((uint32_t)g_ref[i].end, doc->tok[i].end, "token %u end", i);
        cr_assert_eq((uint32_t)g_ref[i].size, doc->tok[i].size, "token %u size", i);
    }
}

/* Empty objects and arrays: each one is a token more in aop_json_tokens_needed. */
static unsigned empty_containers(const aop_json_doc_t *doc) {
    unsigned k = 0;
    for (unsigned i = 0; i < doc->count; i++)
        k += (doc->tok[i].type == AOP_JSON_OBJECT || doc->tok[i].type == AOP_JSON_ARRAY) && doc->tok[i].size == 0;
    return k;
}

/* with_jsmn: also compare with jsmn's tokens (quadratic in jsmn: not for huge documents) */
static void expect_valid_x(const char *s, size_t n, int with_jsmn) {
    aop_error_t err;
    unsigned count = 0;
    aop_status_t st = check_n(s, n, &err, &count);
    cr_assert_eq(st, AOP_OK, "rejected valid %.*s: %s at %ld: %s", (int)(n > 300 ? 300 : n), s,
                 aop_status_name(st), err.offset, err.msg);
    cr_assert_leq(count, (n + 1) / 2, "more tokens than (len+1)/2");
    aop_json_doc_t doc;
    cr_assert_eq(parse_doc(s, n, &doc, &err), AOP_OK);
    cr_assert_eq(doc.count, count);
    cr_assert_eq(aop_json_tokens_needed(s, n), count + empty_containers(&doc), "%.*s", (int)(n > 300 ? 300 : n), s);
    if (with_jsmn) expect_jsmn_layout(s, n, &doc);
}

static void expect_valid_n(const char *s, size_t n) { expect_valid_x(s, n, 1); }

static void expect_valid(const char *s) { expect_valid_n(s, strlen(s)); }

static void expect_error_n(const char *s, size_t n, aop_status_t code, long off) {
    aop_error_t err;
    aop_status_t st = check_n(s, n, &err, NULL);
    cr_expect_eq(st, code, "%.*s: got %s (%s at %ld), want %s", (int)(n > 200 ? 200 : n), s,
                 aop_status_name(st), err.msg, err.offset, aop_status_name(code));
    if (st == code) {
        cr_expect_eq(err.code, code);
        cr_expect_eq(err.offset, off, "%.*s: %s at offset %ld, want %ld", (int)(n > 200 ? 200 : n),
                     s, aop_status_name(code), err.offset, off);
        cr_expect_neq(err.msg[0], '\0', "empty message");
    }
}

typedef struct {
    const char *s;
    size_t n;
    aop_status_t code;
    long off;
} bad_t;

#define BAD(lit, code, off) {lit, sizeof(lit) - 1, code, off}

static void run_bad(const bad_t *cases, size_t count) {
    for (size_t i = 0; i < count; i++) expect_error_n(cases[i].s, cases[i].n, cases[i].code, cases[i].off);
}

#define RUN_BAD(arr) run_bad(arr, sizeof(arr) / sizeof(arr[0]))

/* A growable byte buffer for generated documents. */
typedef struct {
    char *p;
    size_t n, cap;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    cr_assert(k >= 0 && (size_t)k < sizeof tmp);
    sb_put(b, tmp, (size_t)k);
}

/* Valid samples: every form of every value. */
static const char *const valid_samples[] = {
    "{}",
    "[]",
    "{\"a\":1}",
    "[1]",
    "{\"a\":[1,\"x\",{\"b\":null}],\"c\":true}",
    "{\"a\":{\"b\":{\"c\":{\"d\":[[[]]]}}},\"e\":[{}, [], \"\", 0]}",
    "[0,-0,1,-1,10,123456789012345678901234567890,0.5,-0.5,0.0,10.25,1e5,1E5,1e+5,1e-5,1E+05,"
    "1.5e10,-1.5E-10,0e0,-0.0e-0,9007199254740993,1e999]",
    "[true,false,null,[true],{\"t\":false,\"n\":null}]",
    "[\"\\\"\",\"\\\\\",\"\\/\",\"\\b\",\"\\f\",\"\\n\",\"\\r\",\"\\t\",\"\\u0041\",\"\\u00e9\","
    "\"\\u00E9\",\"\\u4e2d\",\"\\uFFFF\",\"\\uD83D\\uDE00\",\"\\udbff\\udfff\",\"\\u0001\",\"a\\u0020b\"]",
    "[\"\xc2\x80\",\"\xdf\xbf\",\"\xe0\xa0\x80\",\"\xed\x9f\xbf\",\"\xee\x80\x80\",\"\xef\xbf\xbf\","
    "\"\xf0\x90\x80\x80\",\"\xf4\x8f\xbf\xbf\",\"\xe4\xb8\xad\xe6\x96\x87\",\"\xf0\x9f\x98\x80\"]",
    "{\"\":1,\" \":2}",
    " \t\n\r{ \t\n\r\"a\" \t\n\r: \t\n\r[ 1 , 2 ] \t\n\r, \"b\" : { } } \t\n\r",
    "{\"a\":\"\x7f del is allowed\"}",
    "{\"k\":\"a long string without escapes, to go through the eight-byte loop several times\"}",
    "{\"k\":\"long string with an escape at the very end of an eight-byte block.....\\n\"}",
    "{\"a\":1,\"A\":2,\"ab\":3,\"b\":4,\"\\u0062a\":5}",
    "{\"x\":{\"a\":1},\"y\":{\"a\":1},\"z\":[{\"a\":1},{\"a\":2}]}",
    "\"top-level string\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
};

/* Top-level scalars: valid, but every prefix is not necessarily invalid. */
static const char *const valid_scalars[] = {
    "1", "-0", "0", "1.5", "-1e-7", "true", "false", "null", " null ", "\"x\"", "\r\n0\t",
};

/* ---------------------------------------------------------------------------------------------
 * Valid documents */

Test(json_valid, samples) {
    for (size_t i = 0; i < sizeof valid_samples / sizeof *valid_samples; i++) expect_valid(valid_samples[i]);
}

Test(json_valid, top_level_scalars) {
    for (size_t i = 0; i < sizeof valid_scalars / sizeof *valid_scalars; i++) expect_valid(valid_scalars[i]);
    aop_json_doc_t doc;
    aop_error_t err;
    cr_assert_eq(parse_doc(" 12 ", 4, &doc, &err), AOP_OK);
    cr_assert_eq(doc.count, 1);
    cr_assert_eq(doc.tok[0].type, AOP_JSON_NUMBER);
    cr_assert_eq(doc.tok[0].start, 1);
    cr_assert_eq(doc.tok[0].end, 3);
}

Test(json_valid, envelope_files_and_bench_files) {
    const char *files[] = {"pay-request.envelope.json", "pay-response.envelope.json",
                           "pay-request.signed-bytes.json", "pay-response.signed-bytes.json",
                           "bench/pay-request.json", "bench/pay-response.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        size_t n;
        char *s = aop_test_read(files[i], &n);
        expect_valid_n(s, n);
        free(s);
    }
}

Test(json_valid, token_layout) {
    const char *s = "{\"a\":[1,\"x\",{\"b\":null}],\"c\":true}";
    aop_json_doc_t doc;
    aop_error_t err;
    cr_assert_eq(parse_doc(s, strlen(s), &doc, &err), AOP_OK);
    const struct {
        aop_json_type_t type;
        uint32_t start, end, size;
    } want[] = {
        {AOP_JSON_OBJECT, 0, 33, 2},  {AOP_JSON_STRING, 2, 3, 1}, {AOP_JSON_ARRAY, 5, 23, 3},
        {AOP_JSON_NUMBER, 6, 7, 0},   {AOP_JSON_STRING, 9, 10, 0}, {AOP_JSON_OBJECT, 12, 22, 1},
        {AOP_JSON_STRING, 14, 15, 1}, {AOP_JSON_NULL, 17, 21, 0},  {AOP_JSON_STRING, 25, 26, 1},
        {AOP_JSON_TRUE, 28, 32, 0},
    };
    cr_assert_eq(doc.count, sizeof want / sizeof *want);
    for (unsigned i = 0; i < doc.count; i++) {
        cr_assert_eq(doc.tok[i].type, want[i].type, "token %u", i);
        cr_assert_eq(doc.tok[i].start, want[i].start, "token %u", i);
        cr_assert_eq(doc.tok[i].end, want[i].end, "token %u", i);
        cr_assert_eq(doc.tok[i].size, want[i].size, "token %u", i);
    }
    cr_assert_eq(doc.buf, s);
    cr_assert_eq(doc.len, strlen(s));
}

Test(json_valid, numbers_of_every_form) {
    const char *nums[] = {"0",     "-0",    "7",      "-7",     "10",    "1234567890", "0.0",
                          "-0.0",  "0.125", "12.5",   "1e0",    "1E0",   "1e+0",       "1e-0",
                          "1e10",  "1E+10", "1e-10",  "0e5",    "-0E-5", "1.5e3",      "-1.5E+3",
                          "0.5e-3", "1e00", "1e007", "99999999999999999999999999999999"};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        char b[64];
        snprintf(b, sizeof b, "[%s]", nums[i]);
        expect_valid(b);
        snprintf(b, sizeof b, "{\"n\":%s}", nums[i]);
        expect_valid(b);
        expect_valid(nums[i]);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Malformed documents: one per rule, exact status and offset */

Test(json_grammar, structure) {
    static const bad_t cases[] = {
        BAD("", AOP_E_JSON_SYNTAX, 0),
        BAD("   ", AOP_E_JSON_SYNTAX, 3),
        BAD("{", AOP_E_JSON_SYNTAX, 1),
        BAD("[", AOP_E_JSON_SYNTAX, 1),
        BAD("}", AOP_E_JSON_SYNTAX, 0),
        BAD("]", AOP_E_JSON_SYNTAX, 0),
        BAD(",", AOP_E_JSON_SYNTAX, 0),
        BAD(":", AOP_E_JSON_SYNTAX, 0),
        BAD("{\"a\":", AOP_E_JSON_SYNTAX, 5),
        BAD("{\"a\"", AOP_E_JSON_SYNTAX, 4),
        BAD("{\"a\":1", AOP_E_JSON_SYNTAX, 6),
        BAD("{\"a\":1,", AOP_E_JSON_SYNTAX, 7),
        BAD("[1", AOP_E_JSON_SYNTAX, 2),
        BAD("[1,", AOP_E_JSON_SYNTAX, 3),
        /* keys: strings only, each followed by exactly one ':' and one value */
        BAD("{1:2}", AOP_E_JSON_SYNTAX, 1),
        BAD("{true:1}", AOP_E_JSON_SYNTAX, 1),
        BAD("{{}:1}", AOP_E_JSON_SYNTAX, 1),
        BAD("{'a':1}", AOP_E_JSON_SYNTAX, 1),
        BAD("{a:1}", AOP_E_JSON_SYNTAX, 1),
        BAD("{\"a\" 1}", AOP_E_JSON_SYNTAX, 5),
        BAD("{\"a\"=1}", AOP_E_JSON_SYNTAX, 4),
        BAD("{\"a\":}", AOP_E_JSON_SYNTAX, 5),
        BAD("{\"a\":1:2}", AOP_E_JSON_SYNTAX, 6),
        BAD("{\"a\":1,\"b\"}", AOP_E_JSON_SYNTAX, 10),
        BAD("{\"a\":1,\"b\":}", AOP_E_JSON_SYNTAX, 11),
        /* commas only between members and elements */
        BAD("{,}", AOP_E_JSON_SYNTAX, 1),
        BAD("{,\"a\":1}", AOP_E_JSON_SYNTAX, 1),
        BAD("{\"a\":1,,\"b\":2}", AOP_E_JSON_SYNTAX, 7),
        BAD("[,]", AOP_E_JSON_SYNTAX, 1),
        BAD("[,1]", AOP_E_JSON_SYNTAX, 1),
        BAD("[1,,2]", AOP_E_JSON_SYNTAX, 3),
        BAD("[1 2]", AOP_E_JSON_SYNTAX, 3),
        BAD("[\"a\" \"b\"]", AOP_E_JSON_SYNTAX, 5),
        BAD("[{} {}]", AOP_E_JSON_SYNTAX, 4),
        BAD("[1;2]", AOP_E_JSON_SYNTAX, 2),
        /* brackets must match */
        BAD("{\"a\":1]", AOP_E_JSON_SYNTAX, 6),
        BAD("[1}", AOP_E_JSON_SYNTAX, 2),
        BAD("[[1]}", AOP_E_JSON_SYNTAX, 4),
        BAD("{\"a\":[1}", AOP_E_JSON_SYNTAX, 7),
        BAD("[]]", AOP_E_JSON_SYNTAX, 2),
        BAD("{}}", AOP_E_JSON_SYNTAX, 2),
        /* one top-level value, then only whitespace */
        BAD("{}{}", AOP_E_JSON_SYNTAX, 2),
        BAD("{\"a\":1} {\"b\":2}", AOP_E_JSON_SYNTAX, 8),
        BAD("[] x", AOP_E_JSON_SYNTAX, 3),
        BAD("1 2", AOP_E_JSON_SYNTAX, 2),
        BAD("\"a\"\"b\"", AOP_E_JSON_SYNTAX, 3),
        BAD("{},", AOP_E_JSON_SYNTAX, 2),
        /* values */
        BAD("[x]", AOP_E_JSON_SYNTAX, 1),
        BAD("[True]", AOP_E_JSON_SYNTAX, 1),
        BAD("[NaN]", AOP_E_JSON_SYNTAX, 1),
        BAD("[Infinity]", AOP_E_JSON_SYNTAX, 1),
        BAD("[+1]", AOP_E_JSON_SYNTAX, 1),
        BAD("[.5]", AOP_E_JSON_SYNTAX, 1),
        BAD("['a']", AOP_E_JSON_SYNTAX, 1),
        BAD("[\xc3\xa9]", AOP_E_JSON_SYNTAX, 1),
        BAD("/* c */ {}", AOP_E_JSON_SYNTAX, 0),
        BAD("{} // c", AOP_E_JSON_SYNTAX, 3),
        /* whitespace is exactly space, \t, \n, \r */
        BAD("\xef\xbb\xbf{}", AOP_E_JSON_SYNTAX, 0),
        BAD("[\f1]", AOP_E_JSON_SYNTAX, 1),
        BAD("[1]\v", AOP_E_JSON_SYNTAX, 3),
        BAD("[\xc2\xa0" "1]", AOP_E_JSON_SYNTAX, 1),
        BAD("{\"a\":1}\x1a", AOP_E_JSON_SYNTAX, 7),
    };
    RUN_BAD(cases);
}

Test(json_grammar, numbers) {
    static const bad_t cases[] = {
        BAD("01", AOP_E_JSON_NUMBER, 1),
        BAD("[01]", AOP_E_JSON_NUMBER, 2),
        BAD("[00]", AOP_E_JSON_NUMBER, 2),
        BAD("[-01]", AOP_E_JSON_NUMBER, 3),
        BAD("[0.1.2]", AOP_E_JSON_NUMBER, 4),
        BAD("-", AOP_E_JSON_NUMBER, 1),
        BAD("[-]", AOP_E_JSON_NUMBER, 2),
        BAD("[--1]", AOP_E_JSON_NUMBER, 2),
        BAD("[-a]", AOP_E_JSON_NUMBER, 2),
        BAD("[- 1]", AOP_E_JSON_NUMBER, 2),
        BAD("[-Infinity]", AOP_E_JSON_NUMBER, 2),
        BAD("1.", AOP_E_JSON_NUMBER, 2),
        BAD("[1.]", AOP_E_JSON_NUMBER, 3),
        BAD("[1.e5]", AOP_E_JSON_NUMBER, 3),
        BAD("[-.5]", AOP_E_JSON_NUMBER, 2),
        BAD("[1e]", AOP_E_JSON_NUMBER, 3),
        BAD("[1E+]", AOP_E_JSON_NUMBER, 4),
        BAD("[1e-]", AOP_E_JSON_NUMBER, 4),
        BAD("[1e+-1]", AOP_E_JSON_NUMBER, 4),
        BAD("[1e5.5]", AOP_E_JSON_NUMBER, 4),
        BAD("[1e5e5]", AOP_E_JSON_NUMBER, 4),
        BAD("[0x10]", AOP_E_JSON_NUMBER, 2),
        BAD("[1a]", AOP_E_JSON_NUMBER, 2),
        BAD("[12-3]", AOP_E_JSON_NUMBER, 3),
        BAD("[1+2]", AOP_E_JSON_NUMBER, 2),
        BAD("{\"a\":01}", AOP_E_JSON_NUMBER, 6),
        BAD("{\"a\":1.}", AOP_E_JSON_NUMBER, 7),
        BAD("1e", AOP_E_JSON_NUMBER, 2),
    };
    RUN_BAD(cases);
}

Test(json_grammar, literals) {
    static const bad_t cases[] = {
        BAD("tru", AOP_E_JSON_NUMBER, 3),
        BAD("[tru]", AOP_E_JSON_NUMBER, 4),
        BAD("[t]", AOP_E_JSON_NUMBER, 2),
        BAD("[tRue]", AOP_E_JSON_NUMBER, 2),
        BAD("[truE]", AOP_E_JSON_NUMBER, 4),
        BAD("[fals]", AOP_E_JSON_NUMBER, 5),
        BAD("[falsy]", AOP_E_JSON_NUMBER, 5),
        BAD("[nul]", AOP_E_JSON_NUMBER, 4),
        BAD("[nil]", AOP_E_JSON_NUMBER, 2),
        BAD("[truex]", AOP_E_JSON_NUMBER, 5),
        BAD("[nulll]", AOP_E_JSON_NUMBER, 5),
        BAD("[true1]", AOP_E_JSON_NUMBER, 5),
        BAD("[false.]", AOP_E_JSON_NUMBER, 6),
        BAD("{\"a\":nul}", AOP_E_JSON_NUMBER, 8),
        BAD("nullnull", AOP_E_JSON_NUMBER, 4),
    };
    RUN_BAD(cases);
}

Test(json_grammar, strings) {
    static const bad_t cases[] = {
        /* unterminated */
        BAD("\"abc", AOP_E_JSON_SYNTAX, 4),
        BAD("[\"abc]", AOP_E_JSON_SYNTAX, 6),
        BAD("{\"abc:1}", AOP_E_JSON_SYNTAX, 8),
        BAD("\"abc\\", AOP_E_JSON_SYNTAX, 5),
        BAD("\"a long unterminated string, more than eight bytes", AOP_E_JSON_SYNTAX, 50),
        /* raw control characters */
        BAD("[\"a\nb\"]", AOP_E_JSON_STRING, 3),
        BAD("[\"a\rb\"]", AOP_E_JSON_STRING, 3),
        BAD("[\"a\tb\"]", AOP_E_JSON_STRING, 3),
        BAD("[\"\x01\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\x1f\"]", AOP_E_JSON_STRING, 2),
        BAD("{\"k\ney\":1}", AOP_E_JSON_STRING, 3),
        BAD("[\"0123456789abcdef\x1b\"]", AOP_E_JSON_STRING, 18),
        /* escapes: only \" \\ \/ \b \f \n \r \t \uXXXX */
        BAD("[\"\\x41\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\a\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\'\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\0\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\U0041\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\ \"]", AOP_E_JSON_STRING, 2),
        BAD("[\"ab\\\ncd\"]", AOP_E_JSON_STRING, 4),
        BAD("[\"\\u\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\u12\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\u12G4\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\u-123\"]", AOP_E_JSON_STRING, 2),
        BAD("\"\\u12", AOP_E_JSON_STRING, 1),
        /* surrogates only in valid pairs */
        BAD("[\"\\ud800\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\uDBFF\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\udc00\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\uDFFF\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\ud800x\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\ud800\\u0041\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\ud800\\ud800\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\ud800\\n\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\\udc00\\ud800\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"ok\\ud83d\\ude00 then \\ude00\"]", AOP_E_JSON_STRING, 22),
        BAD("\"\\ud800\\udc0", AOP_E_JSON_STRING, 1),
        BAD("{\"\\ud800\":1}", AOP_E_JSON_STRING, 2),
    };
    RUN_BAD(cases);
}

Test(json_grammar, utf8) {
    static const bad_t cases[] = {
        BAD("[\"\x80\"]", AOP_E_JSON_UTF8, 2),            /* lone continuation byte */
        BAD("[\"\xbf\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xc0\xaf\"]", AOP_E_JSON_UTF8, 2),        /* overlong '/' */
        BAD("[\"\xc1\xbf\"]", AOP_E_JSON_UTF8, 2),        /* overlong */
        BAD("[\"\xe0\x80\xaf\"]", AOP_E_JSON_UTF8, 2),    /* overlong, 3 bytes */
        BAD("[\"\xe0\x9f\xbf\"]", AOP_E_JSON_UTF8, 2),    /* overlong U+07FF */
        BAD("[\"\xf0\x80\x80\xaf\"]", AOP_E_JSON_UTF8, 2), /* overlong, 4 bytes */
        BAD("[\"\xf0\x8f\xbf\xbf\"]", AOP_E_JSON_UTF8, 2), /* overlong U+FFFF */
        BAD("[\"\xed\xa0\x80\"]", AOP_E_JSON_UTF8, 2),    /* U+D800 encoded */
        BAD("[\"\xed\xbf\xbf\"]", AOP_E_JSON_UTF8, 2),    /* U+DFFF encoded */
        BAD("[\"\xed\xa0\xbd\xed\xb8\x80\"]", AOP_E_JSON_UTF8, 2), /* CESU-8 pair */
        BAD("[\"\xf4\x90\x80\x80\"]", AOP_E_JSON_UTF8, 2), /* U+110000 */
        BAD("[\"\xf5\x80\x80\x80\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xf8\x88\x80\x80\x80\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xfe\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xff\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xc3\"]", AOP_E_JSON_UTF8, 2),             /* truncated before the quote */
        BAD("[\"\xc3x\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xe4\xb8\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xe4\xb8x\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xf0\x9f\x98\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\xf0\x9f\x98x\"]", AOP_E_JSON_UTF8, 2),
        BAD("\"\xe4\xb8", AOP_E_JSON_UTF8, 1),              /* truncated at the end of input */
        BAD("[\"abcdefgh\xe4\xb8\xad\xe4\xb8\"]", AOP_E_JSON_UTF8, 13),
        BAD("{\"k\xff\":1}", AOP_E_JSON_UTF8, 3),
    };
    RUN_BAD(cases);
}

Test(json_grammar, nul) {
    static const bad_t cases[] = {
        BAD("\0", AOP_E_JSON_NUL, 0),
        BAD("\0{}", AOP_E_JSON_NUL, 0),
        BAD("{}\0", AOP_E_JSON_NUL, 2),
        BAD("{\"a\":1}\0garbage", AOP_E_JSON_NUL, 7),
        BAD("{\"a\":1} \0", AOP_E_JSON_NUL, 8),
        BAD("[\0]", AOP_E_JSON_NUL, 1),
        BAD("[1,\0]", AOP_E_JSON_NUL, 3),
        BAD("[1\0]", AOP_E_JSON_NUL, 2),
        BAD("{\0}", AOP_E_JSON_NUL, 1),
        BAD("{\"a\"\0:1}", AOP_E_JSON_NUL, 4),
        BAD("{\"a\":\0}", AOP_E_JSON_NUL, 5),
        BAD("[\"a\0b\"]", AOP_E_JSON_NUL, 3),
        BAD("{\"a\0\":1}", AOP_E_JSON_NUL, 3),
        BAD("[\"0123456789\0\"]", AOP_E_JSON_NUL, 12),
        BAD("[tr\0e]", AOP_E_JSON_NUL, 3),
        /* not as an escape either */
        BAD("[\"\\u0000\"]", AOP_E_JSON_NUL, 2),
        BAD("[\"abc\\u0000\"]", AOP_E_JSON_NUL, 5),
        BAD("{\"\\u0000\":1}", AOP_E_JSON_NUL, 2),
    };
    RUN_BAD(cases);
}

/* The string scanner reads eight bytes at a time: every special byte at every position of a run,
 * with an exact offset. */
Test(json_grammar, string_bytes_at_every_position) {
    static const struct {
        const char *x;
        aop_status_t code;
    } specials[] = {
        {"\x01", AOP_E_JSON_STRING}, {"\x1f", AOP_E_JSON_STRING}, {"\n", AOP_E_JSON_STRING},
        {"\\q", AOP_E_JSON_STRING}, {"\\ud800", AOP_E_JSON_STRING}, {"\xff", AOP_E_JSON_UTF8},
        {"\x80", AOP_E_JSON_UTF8}, {"\xc3(", AOP_E_JSON_UTF8}, {"\xed\xa0\x80", AOP_E_JSON_UTF8},
        {"\\u0000", AOP_E_JSON_NUL}, {"\x7f", AOP_OK}, {"\\n", AOP_OK}, {"\\\"", AOP_OK},
        {"\xc3\xa9", AOP_OK}, {"\xe4\xb8\xad", AOP_OK}, {"\xf0\x9f\x98\x80", AOP_OK},
        {"\\ud83d\\ude00", AOP_OK}, {"~", AOP_OK},
    };
    for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
        for (unsigned pos = 0; pos < 24; pos++) {
            for (unsigned tail = 0; tail < 12; tail += 5) {
                sbuf_t b = {0};
                sb_puts(&b, "[\"");
                for (unsigned i = 0; i < pos; i++) sb_puts(&b, "a");
                sb_puts(&b, specials[k].x);
                for (unsigned i = 0; i < tail; i++) sb_puts(&b, "b");
                sb_puts(&b, "\"]");
                if (specials[k].code == AOP_OK)
                    expect_valid_n(b.p, b.n);
                else
                    expect_error_n(b.p, b.n, specials[k].code, 2 + (long)pos);
                free(b.p);
            }
        }
    }
    /* a NUL byte, and the end of input, at every position */
    for (unsigned pos = 0; pos < 24; pos++) {
        char s[40] = "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]";
        s[2 + pos] = '\0';
        expect_error_n(s, 36, AOP_E_JSON_NUL, 2 + (long)pos);
        expect_error_n(s, 2 + pos, AOP_E_JSON_SYNTAX, 2 + (long)pos);
    }
}

/* Everything DESIGN.md convention 7 lists: jsmn 1.1.0 (strict) takes it, we refuse it. */
Test(json_grammar, jsmn_traps) {
    static const bad_t cases[] = {
        BAD("{\"a\" \"b\"}", AOP_E_JSON_SYNTAX, 5),
        BAD("{\"a\":1 \"b\":2}", AOP_E_JSON_SYNTAX, 7),
        BAD("{\"a\"}", AOP_E_JSON_SYNTAX, 4),
        BAD("[1,]", AOP_E_JSON_SYNTAX, 3),
        BAD("{\"a\"::1}", AOP_E_JSON_SYNTAX, 5),
        BAD("[tru]", AOP_E_JSON_NUMBER, 4),
        BAD("[01]", AOP_E_JSON_NUMBER, 2),
        BAD("[1.]", AOP_E_JSON_NUMBER, 3),
        BAD("[\"a\nb\"]", AOP_E_JSON_STRING, 3),
        BAD("{\"a\":1}{\"b\":2}", AOP_E_JSON_SYNTAX, 7),
        BAD("{\"a\":1}\0{", AOP_E_JSON_NUL, 7),
        BAD("{\"a\":1,}", AOP_E_JSON_SYNTAX, 7),
        BAD("{\"a\":1,\"a\":2}", AOP_E_JSON_DUPLICATE_KEY, 7),
        BAD("[\"\\ud800\"]", AOP_E_JSON_STRING, 2),
        BAD("[\"\xff\"]", AOP_E_JSON_UTF8, 2),
        BAD("[\"\\u0000\"]", AOP_E_JSON_NUL, 2),
        BAD("[-]", AOP_E_JSON_NUMBER, 2),
        BAD("[1,,2]", AOP_E_JSON_SYNTAX, 3),
        BAD("[\"a\":1]", AOP_E_JSON_SYNTAX, 4),
    };
    /* First, that these really are traps: jsmn tokenises every one without complaint. */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        jsmn_parser p;
        jsmn_init(&p);
        int r = jsmn_parse(&p, cases[i].s, cases[i].n, g_ref, 64);
        cr_expect(r > 0, "jsmn refuses trap %zu (%s): %d", i, cases[i].s, r);
    }
    RUN_BAD(cases);
}

/* Messages say what and where, never what the body said. */
Test(json_grammar, messages_do_not_echo_content) {
    const char *bodies[] = {
        "{\"pin\":\"SECRET-1234\x01\"}",  "{\"SECRET-1234\":1,\"SECRET-1234\":2}",
        "{\"pin\":\"SECRET-1234\\q\"}",   "{\"pin\":\"SECRET-1234\xff\"}",
        "{\"pin\":SECRET-1234}",          "{\"pin\":\"SECRET-1234\"}SECRET-1234",
        "{\"pin\":\"SECRET-1234\\ud800\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        aop_error_t err;
        cr_assert_neq(check_s(bodies[i], &err), AOP_OK);
        cr_expect_null(strstr(err.msg, "SECRET"), "message echoes content: %s", err.msg);
        cr_expect_null(strstr(err.path, "SECRET"), "path echoes content: %s", err.path);
        cr_expect_null(strstr(err.msg, "pin"), "message echoes content: %s", err.msg);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Duplicate keys */

Test(json_duplicates, every_level) {
    static const bad_t cases[] = {
        BAD("{\"a\":1,\"a\":2}", AOP_E_JSON_DUPLICATE_KEY, 7),
        BAD("{\"a\":1,\"a\":1}", AOP_E_JSON_DUPLICATE_KEY, 7),
        BAD("{\"a\":1,\"b\":2,\"a\":3}", AOP_E_JSON_DUPLICATE_KEY, 13),
        BAD("{\"\":1,\"\":2}", AOP_E_JSON_DUPLICATE_KEY, 6),
        BAD("{\"x\":{\"a\":1,\"a\":2}}", AOP_E_JSON_DUPLICATE_KEY, 12),
        BAD("{\"x\":{\"y\":{\"z\":{\"a\":[],\"a\":{}}}}}", AOP_E_JSON_DUPLICATE_KEY, 23),
        BAD("[{\"a\":1},{\"b\":1,\"b\":2}]", AOP_E_JSON_DUPLICATE_KEY, 16),
        BAD("[[[[{\"unknown\":{\"k\":1,\"k\":2}}]]]]", AOP_E_JSON_DUPLICATE_KEY, 22),
        BAD("{\"a\":{\"b\":1},\"a\":{\"c\":1}}", AOP_E_JSON_DUPLICATE_KEY, 13),
        /* the earliest key that repeats an earlier one */
        BAD("{\"b\":1,\"a\":1,\"a\":2,\"b\":2}", AOP_E_JSON_DUPLICATE_KEY, 13),
        /* compared after unescaping */
        BAD("{\"a\":1,\"\\u0061\":2}", AOP_E_JSON_DUPLICATE_KEY, 7),
        BAD("{\"\\u0061\":1,\"a\":2}", AOP_E_JSON_DUPLICATE_KEY, 12),
        BAD("{\"\\u0061\":1,\"\\u0061\":2}", AOP_E_JSON_DUPLICATE_KEY, 12),
        BAD("{\"\\u0061\":1,\"\\u0041\":2,\"\\u0061\":3}", AOP_E_JSON_DUPLICATE_KEY, 23),
        BAD("{\"\\u00e9\":1,\"\xc3\xa9\":2}", AOP_E_JSON_DUPLICATE_KEY, 12),
        BAD("{\"\\u00E9\":1,\"\\u00e9\":2}", AOP_E_JSON_DUPLICATE_KEY, 12),
        BAD("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", AOP_E_JSON_DUPLICATE_KEY, 18),
        BAD("{\"\\/\":1,\"/\":2}", AOP_E_JSON_DUPLICATE_KEY, 8),
        BAD("{\"\\n\":1,\"\\u000a\":2}", AOP_E_JSON_DUPLICATE_KEY, 8),
        BAD("{\"a\\\"b\":1,\"a\\u0022b\":2}", AOP_E_JSON_DUPLICATE_KEY, 10),
        BAD("{\"ab\\\\\":1,\"ab\\u005c\":2}", AOP_E_JSON_DUPLICATE_KEY, 10),
        BAD("{ \"a\" : 1 , \"a\" : 2 }", AOP_E_JSON_DUPLICATE_KEY, 12),
    };
    RUN_BAD(cases);
}

Test(json_duplicates, not_duplicates) {
    expect_valid("{\"a\":1,\"A\":2}");
    expect_valid("{\"a\":1,\"a \":2,\" a\":3,\"aa\":4}");
    expect_valid("{\"\":1,\"\\u0020\":2}");
    expect_valid("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}");
    expect_valid("[{\"a\":1},{\"a\":2}]");
    expect_valid("{\"\\u00e9\":1,\"e\":2,\"\\u00e8\":3,\"\xc3\xaa\":4}");
    expect_valid("{\"\\\\\":1,\"\\/\":2,\"\\\"\":3,\"\\\\/\":4}");
    expect_valid("{\"ab\":1,\"a\\u0062c\":2,\"a\":3}");
    expect_valid("{\"\\ud83d\\ude00\":1,\"\\ud83d\\ude01\":2}");
}

/* Objects of 2..40 keys (pairwise up to 16, sorted above), a duplicate at every pair of
 * positions, escaped or not. */
Test(json_duplicates, every_position_both_strategies) {
    for (unsigned m = 2; m <= 40; m++) {
        for (unsigned i = 0; i < m; i++) {
            for (unsigned j = i + 1; j < m; j++) {
                sbuf_t b = {0};
                long dup_off = -1;
                sb_puts(&b, "{");
                for (unsigned k = 0; k < m; k++) {
                    if (k) sb_puts(&b, ",");
                    unsigned name = k == j ? i : k;
                    if (k == j) dup_off = (long)b.n;
                    if (k == j && (i + j) % 2) /* the same name, escaped: k -> \u006b */
                        sb_printf(&b, "\"\\u006b%u\":%u", name, k);
                    else
                        sb_printf(&b, "\"k%u\":%u", name, k);
                }
                sb_puts(&b, "}");
                expect_error_n(b.p, b.n, AOP_E_JSON_DUPLICATE_KEY, dup_off);
                free(b.p);
            }
        }
        sbuf_t b = {0};
        sb_puts(&b, "{");
        for (unsigned k = 0; k < m; k++) sb_printf(&b, k % 3 ? "%s\"k%u\":1" : "%s\"\\u006b%u\":1", k ? "," : "", k);
        sb_puts(&b, "}");
        expect_valid_n(b.p, b.n);
        free(b.p);
    }
}

static char *big_object(unsigned m, long dup_of, long dup_at, int escaped, size_t *len, long *off) {
    sbuf_t b = {0};
    sb_puts(&b, "{");
    for (unsigned k = 0; k < m; k++) {
        if (k) sb_puts(&b, ",");
        if ((long)k == dup_at) {
            *off = (long)b.n;
            sb_printf(&b, escaped ? "\"\\u006bey%ld\":{\"v\":%u}" : "\"key%ld\":{\"v\":%u}", dup_of, k);
        } else {
            sb_printf(&b, "\"key%u\":{\"v\":%u}", k, k);
        }
    }
    sb_puts(&b, "}");
    *len = b.n;
    return b.p;
}

Test(json_duplicates, big_object) {
    size_t n;
    long off = -1;
    char *s = big_object(5000, -1, -1, 0, &n, &off);
    expect_valid_n(s, n);
    free(s);

    const long pos[][2] = {{0, 4999}, {4998, 4999}, {0, 1}, {2500, 2501}, {17, 4000}};
    for (size_t i = 0; i < sizeof pos / sizeof *pos; i++) {
        for (int esc = 0; esc <= 1; esc++) {
            s = big_object(5000, pos[i][0], pos[i][1], esc, &n, &off);
            expect_error_n(s, n, AOP_E_JSON_DUPLICATE_KEY, off);
            free(s);
        }
    }
}

Test(json_duplicates, big_object_several_groups_reports_earliest) {
    sbuf_t b = {0};
    sb_puts(&b, "{");
    long want = -1;
    for (unsigned k = 0; k < 3000; k++) {
        if (k) sb_puts(&b, ",");
        unsigned name = k;
        if (k == 2900) name = 5;  /* a later repeat of key 5 */
        if (k == 1500) name = 2999 - 1; /* repeats 2998, which comes later: the second one is the dup */
        if (k == 2000) { name = 7; want = (long)b.n; } /* the earliest key that repeats an earlier one */
        sb_printf(&b, "\"k%u\":%u", name, k);
    }
    sb_puts(&b, "}");
    expect_error_n(b.p, b.n, AOP_E_JSON_DUPLICATE_KEY, want);
    free(b.p);
}

Test(json_duplicates, big_nested_objects) {
    /* an outer object of 100 members, each an object of 100 members; one inner duplicate */
    sbuf_t b = {0};
    long want = -1;
    sb_puts(&b, "{");
    for (unsigned i = 0; i < 100; i++) {
        sb_printf(&b, "%s\"o%u\":{", i ? "," : "", i);
        for (unsigned j = 0; j < 100; j++) {
            if (j) sb_puts(&b, ",");
            if (i == 77 && j == 99) want = (long)b.n;
            sb_printf(&b, "\"i%u\":[%u]", (i == 77 && j == 99) ? 3 : j, j);
        }
        sb_puts(&b, "}");
    }
    sb_puts(&b, "}");
    expect_error_n(b.p, b.n, AOP_E_JSON_DUPLICATE_KEY, want);
    free(b.p);
}

Test(json_duplicates, huge_object_is_fast, .timeout = 20) {
    /* ~100k members: pairwise checking would take ~5e9 comparisons */
    sbuf_t b = {0};
    sb_puts(&b, "{");
    for (unsigned k = 0; k < 100000; k++) sb_printf(&b, "%s\"%u\":1", k ? "," : "", (k * 7919u) % 100003u);
    sb_puts(&b, "}");
    cr_assert_leq(b.n, AOP_JSON_MAX_BODY);
    expect_valid_x(b.p, b.n, 0);
    free(b.p);
}

/* ---------------------------------------------------------------------------------------------
 * Limits */

static char *nest(unsigned depth, int objects, size_t *len) {
    sbuf_t b = {0};
    for (unsigned i = 0; i < depth; i++) sb_puts(&b, objects ? (i % 2 ? "{\"o\":" : "{\"a\":[") : "[");
    sb_puts(&b, "1");
    for (unsigned i = depth; i-- > 0;) sb_puts(&b, objects ? (i % 2 ? "}" : "]}") : "]");
    *len = b.n;
    return b.p;
}

Test(json_limits, depth) {
    size_t n;
    char *s = nest(32, 0, &n);
    expect_valid_n(s, n);
    free(s);
    s = nest(33, 0, &n);
    expect_error_n(s, n, AOP_E_JSON_DEPTH, 32);
    free(s);
    /* objects and arrays alternating: {"a":[{"o":{"a":[ ... 16 objects + 16 arrays = 32 levels */
    s = nest(16, 1, &n);
    expect_valid_n(s, n);
    free(s);
    /* 32 levels of objects */
    sbuf_t b = {0};
    for (int i = 0; i < 32; i++) sb_puts(&b, "{\"k\":");
    sb_puts(&b, "{}");
    for (int i = 0; i < 32; i++) sb_puts(&b, "}");
    expect_error_n(b.p, b.n, AOP_E_JSON_DEPTH, 32 * 5);
    b.n = 0;
    for (int i = 0; i < 31; i++) sb_puts(&b, "{\"k\":");
    sb_puts(&b, "{}");
    for (int i = 0; i < 31; i++) sb_puts(&b, "}");
    expect_valid_n(b.p, b.n);
    free(b.p);
}

/* A body cut short inside many containers that never closed holds more tokens than half its
 * length: its error is still the end of the input, with every workspace size check_n tries. */
Test(json_limits, cut_short_while_deep) {
    for (unsigned d = 1; d <= AOP_JSON_MAX_DEPTH; d++) {
        sbuf_t b = {0};
        for (unsigned i = 0; i < d; i++) sb_puts(&b, i % 2 ? "{\"\":" : "[");
        expect_error_n(b.p, b.n, AOP_E_JSON_SYNTAX, (long)b.n);
        sb_puts(&b, "1");
        expect_error_n(b.p, b.n, AOP_E_JSON_SYNTAX, (long)b.n);
        free(b.p);
    }
}

Test(json_limits, very_deep_is_an_error_not_a_crash) {
    size_t n = 1000000;
    char *s = malloc(n);
    memset(s, '[', n / 2);
    memset(s + n / 2, ']', n / 2);
    expect_error_n(s, n, AOP_E_JSON_DEPTH, 32);
    memset(s, '[', n);
    expect_error_n(s, n, AOP_E_JSON_DEPTH, 32);
    free(s);
}

Test(json_limits, body_size) {
    size_t n = AOP_JSON_MAX_BODY;
    char *s = malloc(n + 1);
    /* exactly 1 MiB: one string */
    s[0] = '"';
    memset(s + 1, 'x', n - 2);
    s[n - 1] = '"';
    expect_valid_n(s, n);
    /* 1 MiB + 1 byte: refused before anything is read, even when it is otherwise valid */
    s[n - 1] = 'x';
    s[n] = '"';
    expect_error_n(s, n + 1, AOP_E_JSON_TOO_LARGE, (long)AOP_JSON_MAX_BODY);
    memset(s, ' ', n + 1);
    s[0] = '1';
    expect_error_n(s, n + 1, AOP_E_JSON_TOO_LARGE, (long)AOP_JSON_MAX_BODY);
    free(s);
}

/* jsmn 1.1.0 takes about a minute on this body (it scans its tokens backwards at every closing
 * bracket); ours is linear. */
Test(json_limits, dense_1mib_documents_are_linear, .timeout = 20) {
    size_t cap = AOP_JSON_MAX_BODY;
    char *s = malloc(cap);
    const char *units[] = {"{},", "[],", "1,", "\"\","};
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        size_t k = strlen(units[u]), n = 0;
        s[n++] = '[';
        while (n + k + 1 <= cap) {
            memcpy(s + n, units[u], k);
            n += k;
        }
        s[n - 1] = ']';
        aop_error_t err;
        unsigned count = 0;
        cr_assert_eq(check_n(s, n, &err, &count), AOP_OK, "%s: %s", units[u], err.msg);
        cr_assert_leq(count, aop_json_tokens_bound(n));
    }
    /* a flat object of ~150k members */
    sbuf_t b = {0};
    sb_puts(&b, "{");
    for (unsigned i = 0; b.n < cap - 16; i++) sb_printf(&b, "%s\"%x\":1", i ? "," : "", i);
    sb_puts(&b, "}");
    aop_error_t err;
    cr_assert_eq(check_n(b.p, b.n, &err, NULL), AOP_OK, "%s", err.msg);
    free(b.p);
    free(s);
}

/* ---------------------------------------------------------------------------------------------
 * The token workspace */

Test(json_tokens, bound_is_always_enough) {
    /* The densest bodies of every length: tokens <= (len + 1) / 2 <= bound. */
    const char *units[] = {"1,", "[],", "{},", "\"\",", "0,", "[1],", "{\"\":1},", "{\"\":[]},"};
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        for (unsigned reps = 1; reps < 200; reps++) {
            sbuf_t b = {0};
            sb_puts(&b, "[");
            for (unsigned i = 0; i < reps; i++) sb_puts(&b, units[u]);
            b.p[b.n - 1] = ']';
            aop_error_t err;
            unsigned count = 0;
            cr_assert_eq(check_n(b.p, b.n, &err, &count), AOP_OK, "%s", b.p);
            cr_assert_leq(count, (b.n + 1) / 2);
            cr_assert_leq(count + 1, aop_json_tokens_bound(b.n));
            free(b.p);
        }
    }
    /* objects of scalars: {"":1,"":2} is refused (duplicates), so distinct one-letter keys */
    sbuf_t b = {0};
    sb_puts(&b, "{");
    for (char ch = 'a'; ch <= 'z'; ch++) {
        sb_printf(&b, "%s\"%c\":1", ch == 'a' ? "" : ",", ch);
        aop_error_t err;
        unsigned count = 0;
        sbuf_t c = {0};
        sb_put(&c, b.p, b.n);
        sb_puts(&c, "}");
        cr_assert_eq(check_n(c.p, c.n, &err, &count), AOP_OK);
        cr_assert_leq(count, (c.n + 1) / 2);
        free(c.p);
    }
    free(b.p);
    for (size_t len = 0; len < 10; len++) cr_assert_geq(aop_json_tokens_bound(len), (len + 1) / 2 + 1);
    /* no overflow for absurd lengths (those bodies are refused anyway) */
    cr_assert_eq(aop_json_tokens_bound((size_t)-1), aop_json_tokens_bound(AOP_JSON_MAX_BODY));
    cr_assert_geq(aop_json_tokens_bound(AOP_JSON_MAX_BODY), AOP_JSON_MAX_BODY / 2 + 1);
    cr_assert_leq(aop_json_tokens_bound(AOP_JSON_MAX_BODY), BIG_CAP);
}

Test(json_tokens, too_few) {
    const char *s = "{\"a\":[1,2,3],\"b\":{\"c\":\"d\"}}";
    size_t n = strlen(s);
    aop_json_doc_t doc;
    aop_error_t err;
    aop_json_ws_t ws = big_ws();
    cr_assert_eq(aop_json_parse(s, n, &ws, &doc, &err), AOP_OK);
    const unsigned need = doc.count;
    cr_assert_eq(need, 10);
    for (unsigned cap = 0; cap <= need; cap++) {
        aop_json_tok_t *t = malloc(sizeof *t * (cap ? cap : 1));
        unsigned *sc = malloc(sizeof *sc * (cap ? cap : 1));
        aop_json_ws_t small = {t, sc, cap};
        aop_error_clear(&err);
        aop_status_t st = aop_json_parse(s, n, &small, &doc, &err);
        if (cap < need) {
            cr_assert_eq(st, AOP_E_JSON_TOKENS, "cap %u: %s", cap, aop_status_name(st));
            cr_assert_geq(err.offset, 0);
            cr_assert_leq(err.offset, (long)n);
        } else {
            cr_assert_eq(st, AOP_OK);
            cr_assert_eq(doc.count, need);
        }
        free(t);
        free(sc);
    }
    aop_json_ws_t none = {NULL, NULL, 0};
    cr_assert_eq(aop_json_parse("1", 1, &none, &doc, &err), AOP_E_JSON_TOKENS);
    cr_assert_eq(err.offset, 1);
}

Test(json_tokens, bad_arguments) {
    aop_json_doc_t doc;
    aop_error_t err;
    aop_json_ws_t ws = big_ws();
    cr_assert_eq(aop_json_parse("{}", 2, NULL, &doc, &err), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_json_parse("{}", 2, &ws, NULL, &err), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_json_parse(NULL, 2, &ws, &doc, &err), AOP_E_INVALID_ARG);
    aop_json_ws_t half = {g_tok, NULL, 4};
    cr_assert_eq(aop_json_parse("{}", 2, &half, &doc, &err), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_json_parse(NULL, 0, &ws, &doc, &err), AOP_E_JSON_SYNTAX);
    cr_assert_eq(aop_json_parse("{}", 2, &ws, &doc, NULL), AOP_OK);
    cr_assert_eq(aop_json_parse("{", 1, &ws, &doc, NULL), AOP_E_JSON_SYNTAX);
}

/* ---------------------------------------------------------------------------------------------
 * Truncation and mutation */

/* Every proper prefix of a document whose top-level value is a container or a string and that ends
 * on it is invalid. Each prefix is parsed from a buffer of exactly its size. */
Test(json_robustness, every_truncation_is_rejected) {
    const char *files[] = {"pay-request.envelope.json", "pay-response.envelope.json",
                           "bench/pay-request.json", "bench/pay-response.json"};
    for (size_t i = 0; i < sizeof valid_samples / sizeof *valid_samples + sizeof files / sizeof *files; i++) {
        size_t n;
        char *s;
        if (i < sizeof valid_samples / sizeof *valid_samples) {
            n = strlen(valid_samples[i]);
            s = malloc(n + 1);
            memcpy(s, valid_samples[i], n + 1);
        } else {
            s = aop_test_read(files[i - sizeof valid_samples / sizeof *valid_samples], &n);
        }
        while (n && strchr(" \t\r\n", s[n - 1])) n--;
        cr_assert_eq(check_n(s, n, &(aop_error_t){0}, NULL), AOP_OK);
        for (size_t k = 0; k < n; k++) {
            aop_error_t err;
            aop_status_t st = check_n(s, k, &err, NULL);
            cr_assert_neq(st, AOP_OK, "prefix of %zu bytes of sample %zu accepted", k, i);
            cr_assert_geq(err.offset, 0);
            cr_assert_leq(err.offset, (long)k, "offset %ld beyond the %zu bytes", err.offset, k);
        }
        free(s);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Random edits of valid documents: never a crash or an out-of-bounds read (ASan), the offset is
 * inside the body, and what is accepted has jsmn's exact token layout. */
Test(json_robustness, mutations) {
    static const char alphabet[] = "{}[]:,\"\\ \t\n\r0123456789-+.eEtfnulasru\x01\x7f\x80\xbf\xc0\xc2\xe0\xed\xf0\xf4\xf5\xff";
    const size_t alen = sizeof alphabet - 1 + 1; /* with the NUL */
    size_t nreq, nresp;
    char *req = aop_test_read("pay-request.envelope.json", &nreq);
    char *resp = aop_test_read("pay-response.envelope.json", &nresp);
    const char *seeds[] = {req, resp, valid_samples[4], valid_samples[5], valid_samples[8], valid_samples[9]};
    const size_t nseeds = sizeof seeds / sizeof *seeds;
    char *buf = malloc(nreq + nresp + 64);
    unsigned accepted = 0;
    for (unsigned iter = 0; iter < 30000; iter++) {
        const char *seed = seeds[rnd() % nseeds];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        unsigned edits = 1 + rnd() % 3;
        for (unsigned k = 0; k < edits && n > 0; k++) {
            size_t at = rnd() % n;
            char ch = alphabet[rnd() % alen];
            switch (rnd() % 4) {
            case 0: buf[at] = ch; break;
            case 1: memmove(buf + at + 1, buf + at, n - at); buf[at] = ch; n++; break;
            case 2: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;
            default: n = at; break;
            }
        }
        aop_error_t err;
        unsigned count = 0;
        aop_status_t st = check_n(buf, n, &err, &count);
        if (st == AOP_OK) {
            accepted++;
            aop_json_doc_t doc;
            cr_assert_eq(parse_doc(buf, n, &doc, &err), AOP_OK);
            expect_jsmn_layout(buf, n, &doc);
        } else {
            cr_assert_geq(err.offset, 0);
            cr_assert_leq(err.offset, (long)n);
            cr_assert_eq(err.code, st);
        }
    }
    cr_assert_gt(accepted, 100, "the mutations should keep some documents valid");
    free(buf);
    free(req);
    free(resp);
}

/* ---------------------------------------------------------------------------------------------
 * Walking a document: skip and str_eq */

static unsigned naive_skip(const aop_json_doc_t *doc, unsigned i) {
    unsigned j = i + 1;
    while (j < doc->count && doc->tok[j].start < doc->tok[i].end) j++;
    return j;
}

Test(json_walk, skip_matches_definition) {
    const char *files[] = {"pay-request.envelope.json", "pay-response.envelope.json"};
    for (size_t f = 0; f < 2; f++) {
        size_t n;
        char *s = aop_test_read(files[f], &n);
        aop_json_doc_t doc;
        aop_error_t err;
        cr_assert_eq(parse_doc(s, n, &doc, &err), AOP_OK);
        for (unsigned i = 0; i <= doc.count; i++)
            cr_assert_eq(aop_json_skip(&doc, i), i < doc.count ? naive_skip(&doc, i) : doc.count, "token %u", i);
        cr_assert_eq(aop_json_skip(&doc, 0), doc.count);
        free(s);
    }
    for (size_t k = 0; k < sizeof valid_samples / sizeof *valid_samples; k++) {
        aop_json_doc_t doc;
        aop_error_t err;
        cr_assert_eq(parse_doc(valid_samples[k], strlen(valid_samples[k]), &doc, &err), AOP_OK);
        for (unsigned i = 0; i < doc.count; i++) cr_assert_eq(aop_json_skip(&doc, i), naive_skip(&doc, i));
    }
    /* a big array of nested subtrees of every size */
    sbuf_t b = {0};
    sb_puts(&b, "[");
    for (unsigned i = 0; i < 300; i++) {
        sb_puts(&b, i ? ",[" : "[");
        for (unsigned j = 0; j < i; j++) sb_printf(&b, "%s{\"a\":[%u]}", j ? "," : "", j);
        sb_puts(&b, "]");
    }
    sb_puts(&b, "]");
    aop_json_doc_t doc;
    aop_error_t err;
    cr_assert_eq(parse_doc(b.p, b.n, &doc, &err), AOP_OK);
    for (unsigned i = 0; i < doc.count; i++) cr_assert_eq(aop_json_skip(&doc, i), naive_skip(&doc, i), "token %u", i);
    free(b.p);
}

/* The member walk a decoder does: key at i, value at i + 1, next key at skip(i + 1). */
Test(json_walk, object_member_walk) {
    const char *s = "{\"a\":{\"x\":[1,2,{\"y\":3}]},\"b\":[],\"c\":\"s\",\"d\":{\"e\":{}}}";
    aop_json_doc_t doc;
    aop_error_t err;
    cr_assert_eq(parse_doc(s, strlen(s), &doc, &err), AOP_OK);
    const char *names[] = {"a", "b", "c", "d"};
    const aop_json_type_t types[] = {AOP_JSON_OBJECT, AOP_JSON_ARRAY, AOP_JSON_STRING, AOP_JSON_OBJECT};
    unsigned i = 1;
    for (uint32_t k = 0; k < doc.tok[0].size; k++) {
        cr_assert(aop_json_str_eq(&doc, i, names[k], 1));
        cr_assert_eq(doc.tok[i].size, 1);
        cr_assert_eq(doc.tok[i + 1].type, types[k]);
        i = aop_json_skip(&doc, i + 1);
    }
    cr_assert_eq(i, doc.count);
}

Test(json_walk, str_eq) {
    const char *s = "{\"orderAmount\":1,\"\\u006frderTitle\":2,\"\":3,\"a\\nb\":4,\"\\u00e9t\\u00e9\":5,"
                    "\"\\ud83d\\ude00\":6,\"a\\\\nb\":7,\"q\\\"\":8,\"v\":\"orderAmount\"}";
    aop_json_doc_t doc;
    aop_error_t err;
    cr_assert_eq(parse_doc(s, strlen(s), &doc, &err), AOP_OK);
    unsigned key[9], i = 1;
    for (int k = 0; k < 9; k++) {
        key[k] = i;
        i = aop_json_skip(&doc, i + 1);
    }
    cr_assert(aop_json_str_eq(&doc, key[0], "orderAmount", 11));
    cr_assert_not(aop_json_str_eq(&doc, key[0], "orderAmoun", 10));
    cr_assert_not(aop_json_str_eq(&doc, key[0], "orderAmountX", 12));
    cr_assert_not(aop_json_str_eq(&doc, key[0], "orderAmounT", 11));
    cr_assert(aop_json_str_eq(&doc, key[1], "orderTitle", 10));
    cr_assert_not(aop_json_str_eq(&doc, key[1], "\\u006frderTitle", 15));
    cr_assert_not(aop_json_str_eq(&doc, key[1], "orderTitl", 9));
    cr_assert_not(aop_json_str_eq(&doc, key[1], "orderTitles", 11));
    cr_assert(aop_json_str_eq(&doc, key[2], "", 0));
    cr_assert(aop_json_str_eq(&doc, key[2], NULL, 0));
    cr_assert_not(aop_json_str_eq(&doc, key[2], "a", 1));
    cr_assert(aop_json_str_eq(&doc, key[3], "a\nb", 3));
    cr_assert_not(aop_json_str_eq(&doc, key[3], "a\\nb", 4));
    cr_assert(aop_json_str_eq(&doc, key[4], "\xc3\xa9t\xc3\xa9", 5));
    cr_assert(aop_json_str_eq(&doc, key[5], "\xf0\x9f\x98\x80", 4));
    cr_assert(aop_json_str_eq(&doc, key[6], "a\\nb", 4));
    cr_assert_not(aop_json_str_eq(&doc, key[6], "a\nb", 3));
    cr_assert(aop_json_str_eq(&doc, key[7], "q\"", 2));
    /* a value string compares too; non-strings and out-of-range indices never match */
    cr_assert(aop_json_str_eq(&doc, key[8] + 1, "orderAmount", 11));
    cr_assert_not(aop_json_str_eq(&doc, 0, "", 0));
    cr_assert_not(aop_json_str_eq(&doc, key[0] + 1, "1", 1));
    cr_assert_not(aop_json_str_eq(&doc, doc.count, "", 0));
}

/* ---------------------------------------------------------------------------------------------
 * Unescaping */

static void expect_unescape(const char *raw, const char *want, size_t want_len) {
    size_t n = strlen(raw);
    char *s = malloc(n + 1);
    memcpy(s, raw, n + 1);
    size_t got = aop_json_unescape(s, n);
    cr_assert_eq(got, want_len, "%s: length %zu, want %zu", raw, got, want_len);
    cr_assert_leq(got, n);
    cr_assert(memcmp(s, want, want_len) == 0, "%s: wrong bytes", raw);
    free(s);
}

#define UNESC(raw, lit) expect_unescape(raw, lit, sizeof(lit) - 1)

Test(json_unescape, cases) {
    UNESC("", "");
    UNESC("plain text", "plain text");
    UNESC("\\\"", "\"");
    UNESC("\\\\", "\\");
    UNESC("\\/", "/");
    UNESC("\\b\\f\\n\\r\\t", "\b\f\n\r\t");
    UNESC("a\\nb\\tc", "a\nb\tc");
    UNESC("\\u0041", "A");
    UNESC("\\u007f", "\x7f");
    UNESC("\\u0080", "\xc2\x80");
    UNESC("\\u00e9", "\xc3\xa9");
    UNESC("\\u00E9", "\xc3\xa9");
    UNESC("\\u07ff", "\xdf\xbf");
    UNESC("\\u0800", "\xe0\xa0\x80");
    UNESC("\\u4e2d\\u6587", "\xe4\xb8\xad\xe6\x96\x87");
    UNESC("\\uffff", "\xef\xbf\xbf");
    UNESC("\\ud83d\\ude00", "\xf0\x9f\x98\x80");
    UNESC("\\uD800\\uDC00", "\xf0\x90\x80\x80");
    UNESC("\\udbff\\udfff", "\xf4\x8f\xbf\xbf");
    UNESC("x\\ud83d\\ude00y\\u00e9z", "x\xf0\x9f\x98\x80y\xc3\xa9z");
    UNESC("\\\\u0041", "\\u0041");
    UNESC("raw \xe4\xb8\xad stays", "raw \xe4\xb8\xad stays");
    UNESC("{\\\"huabeiInstallment\\\":{\\\"installmentPlan\\\":\\\"3\\\"}}",
          "{\"huabeiInstallment\":{\"installmentPlan\":\"3\"}}");
}

Test(json_unescape, unchecked_input_stays_in_bounds) {
    /* Not for unchecked input, but it must neither overrun nor grow. */
    const char *raws[] = {"\\", "a\\", "\\u", "\\u12", "\\uZZZZ", "\\ud800", "\\ud800\\u", "\\q", "\\udc00x"};
    for (size_t i = 0; i < sizeof raws / sizeof *raws; i++) {
        size_t n = strlen(raws[i]);
        char *s = malloc(n);
        memcpy(s, raws[i], n);
        cr_assert_leq(aop_json_unescape(s, n), n);
        free(s);
    }
    cr_assert_eq(aop_json_unescape(NULL, 0), 0);
}

Test(json_unescape, every_string_of_a_document) {
    const char *s = "[\"a\\u00e9\",\"\\ud83d\\ude00!\",\"\\\"q\\\"\",\"plain\"]";
    const char *want[] = {"a\xc3\xa9", "\xf0\x9f\x98\x80!", "\"q\"", "plain"};
    char *copy = strdup(s);
    aop_json_doc_t doc;
    aop_error_t err;
    cr_assert_eq(parse_doc(copy, strlen(copy), &doc, &err), AOP_OK);
    for (unsigned i = 1; i < doc.count; i++) {
        char *p = copy + doc.tok[i].start;
        size_t n = aop_json_unescape(p, (size_t)(doc.tok[i].end - doc.tok[i].start));
        cr_assert_eq(n, strlen(want[i - 1]));
        cr_assert(memcmp(p, want[i - 1], n) == 0);
    }
    free(copy);
}

/* ---------------------------------------------------------------------------------------------
 * The signed envelope */

static void expect_envelope_file(const char *envelope, const char *member, const char *signed_bytes,
                                 const char *sig_file) {
    size_t n, sn, gn;
    char *body = aop_test_read(envelope, &n);
    char *want = aop_test_read(signed_bytes, &sn);
    char *sig = aop_test_read(sig_file, &gn);
    while (gn && (sig[gn - 1] == '\n' || sig[gn - 1] == '\r')) gn--;
    aop_json_ws_t ws = big_ws();
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_error_t err;
    aop_error_clear(&err);
    cr_assert_eq(aop_envelope_read(body, n, member, &ws, &doc, &env, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(env.payload.len, sn);
    cr_assert(memcmp(env.payload.ptr, want, sn) == 0, "payload differs from the signed bytes");
    cr_assert_geq(env.payload.ptr, body);
    cr_assert_leq(env.payload.ptr + env.payload.len, body + n);
    cr_assert_not_null(env.signature.ptr);
    cr_assert_eq(env.signature.len, gn);
    cr_assert(memcmp(env.signature.ptr, sig, gn) == 0);
    cr_assert_eq(doc.tok[env.payload_tok].type, AOP_JSON_OBJECT);
    cr_assert_eq(body + doc.tok[env.payload_tok].start, env.payload.ptr);
    cr_assert(aop_json_str_eq(&doc, env.payload_tok - 1, member, strlen(member)));
    free(body);
    free(want);
    free(sig);
}

Test(json_envelope, request_file) {
    expect_envelope_file("pay-request.envelope.json", "request", "pay-request.signed-bytes.json",
                         "request_rsa2.sig.b64");
}

Test(json_envelope, response_file) {
    expect_envelope_file("pay-response.envelope.json", "response", "pay-response.signed-bytes.json",
                         "response_rsa2.sig.b64");
}

static aop_status_t envelope(const char *s, const char *member, aop_envelope_t *env, aop_error_t *err) {
    aop_json_ws_t ws = big_ws();
    aop_json_doc_t doc;
    aop_error_clear(err);
    return aop_envelope_read(s, strlen(s), member, &ws, &doc, env, err);
}

Test(json_envelope, forms) {
    aop_envelope_t env;
    aop_error_t err;
    /* whitespace around: the payload is the raw span from '{' to '}' */
    const char *s = " { \"signature\" : \"c2ln\" , \"request\" : { \"a\" : [ 1 ] } } ";
    cr_assert_eq(envelope(s, "request", &env, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(env.payload.len, strlen("{ \"a\" : [ 1 ] }"));
    cr_assert(memcmp(env.payload.ptr, "{ \"a\" : [ 1 ] }", env.payload.len) == 0);
    cr_assert_eq(env.signature.len, 4);
    cr_assert(memcmp(env.signature.ptr, "c2ln", 4) == 0);
    /* no signature: absent, not empty */
    cr_assert_eq(envelope("{\"response\":{}}", "response", &env, &err), AOP_OK);
    cr_assert_null(env.signature.ptr);
    cr_assert_eq(env.payload.len, 2);
    cr_assert_eq(env.payload_tok, 2);
    /* an empty signature is present and empty */
    cr_assert_eq(envelope("{\"response\":{},\"signature\":\"\"}", "response", &env, &err), AOP_OK);
    cr_assert_not_null(env.signature.ptr);
    cr_assert_eq(env.signature.len, 0);
    /* the signature stays escaped */
    cr_assert_eq(envelope("{\"request\":{},\"signature\":\"a\\/b\"}", "request", &env, &err), AOP_OK);
    cr_assert_eq(env.signature.len, 4);
    /* member names compare after unescaping */
    cr_assert_eq(envelope("{\"\\u0072equest\":{\"x\":1},\"\\u0073ignature\":\"s\"}", "request", &env, &err), AOP_OK);
    cr_assert_eq(env.payload.len, 7);
    cr_assert_eq(env.signature.len, 1);
}

Test(json_envelope, errors) {
    static const struct {
        const char *s;
        const char *member;
        aop_status_t code;
        long off;
    } cases[] = {
        {"[]", "request", AOP_E_ENVELOPE, 0},
        {"\"request\"", "request", AOP_E_ENVELOPE, 0},
        {"1", "request", AOP_E_ENVELOPE, 0},
        {"{}", "request", AOP_E_ENVELOPE, 0},
        {"{\"signature\":\"x\"}", "request", AOP_E_ENVELOPE, 0},
        {"{\"response\":{}}", "request", AOP_E_ENVELOPE, 0},
        {"{\"request\":{}}", "response", AOP_E_ENVELOPE, 0},
        {"{\"request\":[]}", "request", AOP_E_ENVELOPE, 11},
        {"{\"request\":\"{}\"}", "request", AOP_E_ENVELOPE, 11},
        {"{\"request\":null}", "request", AOP_E_ENVELOPE, 11},
        {"{\"request\":{},\"signature\":1}", "request", AOP_E_ENVELOPE, 26},
        {"{\"request\":{},\"signature\":null}", "request", AOP_E_ENVELOPE, 26},
        {"{\"request\":{},\"signature\":[\"x\"]}", "request", AOP_E_ENVELOPE, 26},
        {"{\"request\":{},\"signature\":{}}", "request", AOP_E_ENVELOPE, 26},
        {"{\"Request\":{}}", "request", AOP_E_ENVELOPE, 0},
        /* the parser's errors pass through */
        {"{\"request\":{},\"request\":{}}", "request", AOP_E_JSON_DUPLICATE_KEY, 14},
        {"{\"request\":{},\"signature\":\"x\",\"signature\":\"x\"}", "request", AOP_E_JSON_DUPLICATE_KEY, 30},
        {"{\"request\":{\"a\":1,\"a\":2}}", "request", AOP_E_JSON_DUPLICATE_KEY, 18},
        {"{\"request\":{}", "request", AOP_E_JSON_SYNTAX, 13},
        {"{\"request\":{}}x", "request", AOP_E_JSON_SYNTAX, 14},
        {"", "request", AOP_E_JSON_SYNTAX, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        aop_envelope_t env;
        aop_error_t err;
        aop_status_t st = envelope(cases[i].s, cases[i].member, &env, &err);
        cr_expect_eq(st, cases[i].code, "%s: %s (%s)", cases[i].s, aop_status_name(st), err.msg);
        cr_expect_eq(err.offset, cases[i].off, "%s: offset %ld", cases[i].s, err.offset);
        cr_expect_neq(err.msg[0], '\0');
    }
    aop_envelope_t env;
    aop_error_t err;
    aop_json_ws_t ws = big_ws();
    aop_json_doc_t doc;
    cr_assert_eq(aop_envelope_read("{}", 2, NULL, &ws, &doc, &env, &err), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_envelope_read("{}", 2, "request", &ws, &doc, NULL, &err), AOP_E_INVALID_ARG);
}

Test(json_envelope, other_members_are_counted_not_refused) {
    static const struct {
        const char *s;
        unsigned extra;
        long off;
    } cases[] = {
        {"{\"request\":{},\"extra\":1}", 1, 14},
        {"{\"extra\":{},\"request\":{}}", 1, 1},
        {"{\"request\":{},\"Signature\":\"x\",\"b\":[]}", 2, 14},
        {"{\"request\":{},\"signature\":\"x\"}", 0, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        aop_envelope_t env;
        aop_error_t err;
        cr_assert_eq(envelope(cases[i].s, "request", &env, &err), AOP_OK, "%s", cases[i].s);
        cr_expect_eq(env.extra_members, cases[i].extra, "%s", cases[i].s);
        cr_expect_eq(env.extra_offset, cases[i].off, "%s", cases[i].s);
        cr_expect_not_null(env.payload.ptr);
    }
}

Test(json_envelope, truncated_envelopes) {
    size_t n;
    char *body = aop_test_read("pay-response.envelope.json", &n);
    aop_json_ws_t ws = big_ws();
    for (size_t k = 0; k < n; k++) {
        char *copy = malloc(k ? k : 1);
        memcpy(copy, body, k);
        aop_json_doc_t doc;
        aop_envelope_t env;
        aop_error_t err;
        cr_assert_neq(aop_envelope_read(copy, k, "response", &ws, &doc, &env, &err), AOP_OK);
        free(copy);
    }
    free(body);
}
