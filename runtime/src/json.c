/* SPDX-License-Identifier: MIT */
/* Strict JSON (SPEC.md section 3) in one pass, producing aop_json_tok_t tokens (layout: see
 * aop/json.h).
 *
 * Why this file does not use jsmn_parse: jsmn 1.1.0 without JSMN_PARENT_LINKS finds the enclosing
 * container by scanning the token array backwards, at every ',' that follows an object member and
 * at every closing bracket. That is quadratic: a valid 1 MiB body such as [{},{},...] takes about
 * a minute and a flat 1 MiB object about ten seconds, which anyone who can send us a body could use
 * to stall a client or the local gateway. jsmn also accepts much that is not JSON (DESIGN.md
 * convention 7), so every byte had to be checked a second time anyway. The scanner below checks the
 * whole grammar and emits the tokens in the same pass, in linear time, with no allocation.
 *
 * jsmn remains the test oracle: tests/unit/test_json.c checks our tokens field by field against
 * jsmn_parse (JSMN_STRICT) on valid documents. The same offsets and sizes as jsmn 1.1.0; our
 * NUMBER, TRUE, FALSE and NULL are its PRIMITIVE. The only extension: a top-level scalar (e.g. the
 * body `1`) is one token, where jsmn in strict mode refuses it. */
#include "aop/json.h"

#include <stdint.h>
#include <string.h>

/* Layout assumptions: 16-byte tokens with no padding (the public header promises it), offsets of a
 * body up to the limit fit the uint32_t fields, and token indexes leave KEY_ESC's bit free. */
_Static_assert(sizeof(aop_json_tok_t) == 16, "aop_json_tok_t is four uint32_t");
_Static_assert(AOP_JSON_MAX_BODY <= UINT32_MAX / 2, "offsets fit a token's uint32_t fields");

/* A scratch entry is a key's token index, with this bit set when the raw key holds an escape. */
#define KEY_ESC 0x80000000u
_Static_assert(AOP_JSON_MAX_BODY / 2 + 2 + AOP_JSON_MAX_DEPTH < KEY_ESC, "token indexes leave KEY_ESC free");
/* Objects with more keys than this are checked for duplicates by sorting, not pairwise. */
#define DUP_PAIRWISE_MAX 16u

/* Classes of the bytes inside a string. */
enum {
    SC_OK,    /* printable ASCII other than '"' and '\' */
    SC_QUOTE, /* end of the string */
    SC_ESC,   /* backslash */
    SC_CTRL,  /* 0x01..0x1f */
    SC_NUL,   /* 0x00 */
    SC_U2,    /* C2..DF: one continuation byte */
    SC_E0,    /* E0: A0..BF, then one continuation byte (no overlongs) */
    SC_U3,    /* E1..EC, EE..EF: two continuation bytes */
    SC_ED,    /* ED: 80..9F, then one continuation byte (no UTF-16 surrogates) */
    SC_F0,    /* F0: 90..BF, then two continuation bytes (no overlongs) */
    SC_U4,    /* F1..F3: three continuation bytes */
    SC_F4,    /* F4: 80..8F, then two continuation bytes (nothing above U+10FFFF) */
    SC_BAD    /* 80..C1, F5..FF: never the first byte of a UTF-8 sequence */
};

static const unsigned char str_class[256] = {
     4,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,
     0,  0,  1,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
    12, 12,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,
     5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,
     6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  7,
     9, 10, 10, 10, 11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
};

#define CH_WS 1u   /* JSON whitespace: space, \t, \n, \r */
#define CH_WORD 2u /* [A-Za-z0-9.+-]: may not directly follow a number or a literal */

static const unsigned char ch_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 2, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0,
    0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0,
    0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Value of a hex digit; 16 for any other byte. */
static const unsigned char hex_val[256] = {
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 16, 16, 16, 16, 16, 16,
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
};

typedef struct {
    const unsigned char *b; /* body */
    const unsigned char *e; /* one past its end */
    aop_error_t *err;
} pctx_t;

/* Reports a problem at byte `at`. A NUL byte there is reported as such, whatever the grammar
 * expected; the end of the input says so. Messages never quote the body. */
__attribute__((cold, noinline)) static aop_status_t fail(const pctx_t *c, aop_status_t code,
                                                         const unsigned char *at, const char *msg) {
    long off = (long)(at - c->b);
    if (at >= c->e) return aop_error_set(c->err, code, NULL, off, "unexpected end of input: %s", msg);
    if (*at == 0) return aop_error_set(c->err, AOP_E_JSON_NUL, NULL, off, "NUL byte in JSON text");
    return aop_error_set(c->err, code, NULL, off, "%s", msg);
}

static inline unsigned hex4(const unsigned char *p) {
    return (unsigned)hex_val[p[0]] << 12 | (unsigned)hex_val[p[1]] << 8 |
           (unsigned)hex_val[p[2]] << 4 | (unsigned)hex_val[p[3]];
}

static inline int hex4_ok(const unsigned char *p) {
    return (hex_val[p[0]] | hex_val[p[1]] | hex_val[p[2]] | hex_val[p[3]]) < 16;
}

/* Checks the escape at p (p[0] == '\\') and returns its length, or 0 after setting *st. */
__attribute__((noinline)) static size_t check_escape(const pctx_t *c, const unsigned char *p,
                                                     aop_status_t *st) {
    const unsigned char *e = c->e;
    if (e - p < 2) {
        *st = fail(c, AOP_E_JSON_SYNTAX, e, "unterminated string");
        return 0;
    }
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return 2;
    case 'u':
        break;
    default:
        *st = fail(c, AOP_E_JSON_STRING, p, "invalid escape in string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        return 0;
    }
    if (e - p < 6 || !hex4_ok(p + 2)) {
        *st = fail(c, AOP_E_JSON_STRING, p, "\\u must be followed by four hex digits");
        return 0;
    }
    unsigned cp = hex4(p + 2);
    if (cp == 0) {
        *st = aop_error_set(c->err, AOP_E_JSON_NUL, NULL, (long)(p - c->b), "\\u0000 (NUL) in string");
        return 0;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        *st = fail(c, AOP_E_JSON_STRING, p, "low surrogate escape without a high surrogate before it");
        return 0;
    }
    if (cp < 0xD800 || cp > 0xDBFF) return 6;
    if (e - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4_ok(p + 8) ||
        (cp = hex4(p + 8)) < 0xDC00 || cp > 0xDFFF) {
        *st = fail(c, AOP_E_JSON_STRING, p, "high surrogate escape not followed by a low surrogate escape");
        return 0;
    }
    return 12;
}

/* Scans string contents from *pp (just past the opening quote). On success *pp points at the
 * closing quote and *esc says whether an escape was seen. */
__attribute__((always_inline)) static inline aop_status_t scan_string(const pctx_t *c, const unsigned char **pp, unsigned *esc) {
    const unsigned char *p = *pp;
    const unsigned char *const e = c->e;
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    aop_status_t st = AOP_OK;
    *esc = 0;
    for (;;) {
        if (e - p >= 8) {
            /* Eight bytes at a time: flag '"', '\\', < 0x20 and >= 0x80. The lowest flag of each
             * test is exact (borrows only spill upwards), so the first flagged byte is found. */
            uint64_t v, q, s, m;
            memcpy(&v, p, 8);
            q = v ^ (ones * '"');
            s = v ^ (ones * '\\');
            m = (((q - ones) & ~q) | ((s - ones) & ~s) | ((v - ones * 0x20u) & ~v) | v) & highs;
            if (!m) {
                p += 8;
                continue;
            }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            p += __builtin_ctzll(m) >> 3;
#else
            while (str_class[*p] == SC_OK) p++;
#endif
        } else {
            while (p < e && str_class[*p] == SC_OK) p++;
            if (p == e) return fail(c, AOP_E_JSON_SYNTAX, p, "unterminated string");
        }
        switch (str_class[*p]) {
        case SC_OK:
            p++;
            break;
        case SC_QUOTE:
            *pp = p;
            return AOP_OK;
        case SC_ESC: {
            size_t n = check_escape(c, p, &st);
            if (!n) return st;
            *esc = 1;
            p += n;
            break;
        }
        case SC_CTRL:
            return fail(c, AOP_E_JSON_STRING, p, "raw control character in string (must be escaped)");
        case SC_NUL:
            return fail(c, AOP_E_JSON_NUL, p, "NUL byte in string");
        case SC_U2:
            if (e - p < 2 || (p[1] & 0xC0) != 0x80) goto bad_utf8;
            p += 2;
            break;
        case SC_E0:
            if (e - p < 3 || (p[1] & 0xE0) != 0xA0 || (p[2] & 0xC0) != 0x80) goto bad_utf8;
            p += 3;
            break;
        case SC_U3:
            if (e - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) goto bad_utf8;
            p += 3;
            break;
        case SC_ED:
            if (e - p < 3 || (p[1] & 0xE0) != 0x80 || (p[2] & 0xC0) != 0x80) goto bad_utf8;
            p += 3;
            break;
        case SC_F0:
            if (e - p < 4 || p[1] < 0x90 || p[1] > 0xBF || (p[2] & 0xC0) != 0x80 ||
                (p[3] & 0xC0) != 0x80)
                goto bad_utf8;
            p += 4;
            break;
        case SC_U4:
            if (e - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
                goto bad_utf8;
            p += 4;
            break;
        case SC_F4:
            if (e - p < 4 || (p[1] & 0xF0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
                goto bad_utf8;
            p += 4;
            break;
        default:
            goto bad_utf8;
        }
    }
bad_utf8:
    return aop_error_set(c->err, AOP_E_JSON_UTF8, NULL, (long)(p - c->b),
                         "invalid UTF-8 sequence in string");
}

/* ---- unescaping ---------------------------------------------------------------------------- */

static size_t put_utf8(unsigned char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the escape at p (p[0] == '\\', p < e) into out (at most 4 bytes, never more than it
 * consumes) and sets *used to the bytes consumed. Checked input is assumed; anything else is
 * copied through (a lone backslash) or becomes U+FFFD (a lone surrogate), without reading past e. */
static size_t decode_escape(const unsigned char *p, const unsigned char *e, unsigned char *out,
                            size_t *used) {
    *used = 2;
    if (e - p >= 2) {
        switch (p[1]) {
        case '"': out[0] = '"'; return 1;
        case '\\': out[0] = '\\'; return 1;
        case '/': out[0] = '/'; return 1;
        case 'b': out[0] = '\b'; return 1;
        case 'f': out[0] = '\f'; return 1;
        case 'n': out[0] = '\n'; return 1;
        case 'r': out[0] = '\r'; return 1;
        case 't': out[0] = '\t'; return 1;
        case 'u':
            if (e - p >= 6 && hex4_ok(p + 2)) {
                unsigned cp = hex4(p + 2);
                *used = 6;
                if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
                    hex4_ok(p + 8)) {
                    unsigned lo = hex4(p + 8);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        *used = 12;
                        return put_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                    }
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
                return put_utf8(out, cp);
            }
            break;
        default:
            break;
        }
    }
    *used = 1;
    out[0] = '\\';
    return 1;
}

size_t aop_json_unescape(char *s, size_t len) {
    char *bs = s ? memchr(s, '\\', len) : NULL;
    if (!bs) return len;
    unsigned char *const u = (unsigned char *)s;
    size_t r = (size_t)(bs - s), w = r;
    while (r < len) {
        size_t used, k = decode_escape(u + r, u + len, u + w, &used);
        w += k;
        r += used;
        /* copy the plain run up to the next backslash */
        const char *nx = memchr(s + r, '\\', len - r);
        size_t run = nx ? (size_t)(nx - (s + r)) : len - r;
        if (run) memmove(s + w, s + r, run);
        w += run;
        r += run;
    }
    return w;
}

/* Walks the unescaped bytes of raw string contents. */
typedef struct {
    const unsigned char *p, *e;
    unsigned char u[4];
    unsigned ui, un;
} kiter_t;

static int kiter_next(kiter_t *k) {
    if (k->ui < k->un) return k->u[k->ui++];
    if (k->p >= k->e) return -1;
    if (*k->p != '\\') return *k->p++;
    size_t used, n = decode_escape(k->p, k->e, k->u, &used);
    k->p += used;
    k->un = (unsigned)n;
    k->ui = 1;
    return k->u[0];
}

static int esc_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
    kiter_t x = {a, a + alen, {0}, 0, 0}, y = {b, b + blen, {0}, 0, 0};
    for (;;) {
        int cx = kiter_next(&x), cy = kiter_next(&y);
        if (cx != cy) return cx < cy ? -1 : 1;
        if (cx < 0) return 0;
    }
}

/* ---- duplicate keys -------------------------------------------------------------------------- */

static int key_cmp(const unsigned char *b, const aop_json_tok_t *tok, unsigned x, unsigned y) {
    const aop_json_tok_t *tx = &tok[x & ~KEY_ESC], *ty = &tok[y & ~KEY_ESC];
    size_t lx = (size_t)(tx->end - tx->start), ly = (size_t)(ty->end - ty->start);
    if ((x | y) & KEY_ESC) return esc_cmp(b + tx->start, lx, b + ty->start, ly);
    int r = memcmp(b + tx->start, b + ty->start, lx < ly ? lx : ly);
    if (r) return r;
    return (lx > ly) - (lx < ly);
}

static inline int key_eq(const unsigned char *b, const aop_json_tok_t *tok, unsigned x, unsigned y) {
    if ((x | y) & KEY_ESC) return key_cmp(b, tok, x, y) == 0;
    const aop_json_tok_t *tx = &tok[x], *ty = &tok[y];
    uint32_t lx = tx->end - tx->start;
    return lx == ty->end - ty->start && memcmp(b + tx->start, b + ty->start, lx) == 0;
}

/* Total order: by unescaped key, then by position. */
static int sort_cmp(const unsigned char *b, const aop_json_tok_t *tok, unsigned x, unsigned y) {
    int r = key_cmp(b, tok, x, y);
    if (r) return r;
    x &= ~KEY_ESC;
    y &= ~KEY_ESC;
    return (x > y) - (x < y);
}

static void sift_down(const unsigned char *b, const aop_json_tok_t *tok, unsigned *a, size_t root,
                      size_t n) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && sort_cmp(b, tok, a[child], a[child + 1]) < 0) child++;
        if (sort_cmp(b, tok, a[root], a[child]) >= 0) return;
        unsigned t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* In-place heap sort: O(n log n), no allocation (glibc's qsort may allocate). */
static void heap_sort(const unsigned char *b, const aop_json_tok_t *tok, unsigned *a, size_t n) {
    for (size_t i = n / 2; i-- > 0;) sift_down(b, tok, a, i, n);
    for (size_t end = n; end-- > 1;) {
        unsigned t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(b, tok, a, 0, end);
    }
}

/* keys: the scratch entries of one object's keys, in document order. Reports the earliest key
 * that repeats an earlier one. */
static aop_status_t check_dups(const pctx_t *c, const aop_json_tok_t *tok, unsigned *keys, size_t m) {
    const unsigned char *b = c->b;
    unsigned first = 0, dup = 0;
    int found = 0;
    if (m <= DUP_PAIRWISE_MAX) {
        /* Keys without escapes: compare a fingerprint (length, first and last byte) pairwise,
         * and the bytes only when it matches. */
        uint32_t fp[DUP_PAIRWISE_MAX];
        unsigned any_esc = 0;
        for (size_t k = 0; k < m; k++) {
            const aop_json_tok_t *t = &tok[keys[k] & ~KEY_ESC];
            any_esc |= keys[k];
            fp[k] = (uint32_t)(t->end - t->start) << 16 ^ (uint32_t)b[t->start] << 8 ^ b[t->end - 1];
        }
        if (!(any_esc & KEY_ESC)) {
            for (size_t j = 1; j < m; j++)
                for (size_t i = 0; i < j; i++)
                    if (fp[i] == fp[j] && key_eq(b, tok, keys[i], keys[j])) {
                        first = keys[i];
                        dup = keys[j];
                        goto report;
                    }
            return AOP_OK;
        }
        for (size_t j = 1; j < m; j++)
            for (size_t i = 0; i < j; i++)
                if (key_eq(b, tok, keys[i], keys[j])) {
                    first = keys[i] & ~KEY_ESC;
                    dup = keys[j] & ~KEY_ESC;
                    goto report;
                }
        return AOP_OK;
    } else {
        heap_sort(b, tok, keys, m);
        for (size_t k = 1; k < m; k++) {
            if (key_cmp(b, tok, keys[k - 1], keys[k]) != 0) continue;
            unsigned later = keys[k] & ~KEY_ESC;
            if (!found || later < dup) {
                dup = later;
                first = keys[k - 1] & ~KEY_ESC;
                found = 1;
            }
        }
    }
    if (!found) return AOP_OK;
report:
    return aop_error_set(c->err, AOP_E_JSON_DUPLICATE_KEY, NULL, (long)tok[dup].start - 1,
                         "duplicate key in object (first occurrence at byte %ld)",
                         (long)tok[first].start - 1);
}

/* ---- the parser ------------------------------------------------------------------------------ */

unsigned aop_json_tokens_bound(size_t len) {
    /* Every token but one needs two bytes of its own (a container its brackets, a string its
     * quotes, a number or literal its first byte and the ',' or ']' after it; an object member's
     * ':' pays for a scalar value): a body of len bytes holds at most (len + 1) / 2 tokens. A body
     * cut short may also hold up to AOP_JSON_MAX_DEPTH containers that never closed (one byte
     * each): counting them too, the parser reports such a body's real error, not a lack of
     * tokens. */
    if (len > AOP_JSON_MAX_BODY) len = AOP_JSON_MAX_BODY;
    return (unsigned)(len / 2 + 2 + AOP_JSON_MAX_DEPTH);
}

#define SKIP_WS()                                     \
    while (p < e && (ch_class[*p] & CH_WS)) p++

aop_status_t aop_json_parse(const char *buf, size_t len, aop_json_ws_t *ws, aop_json_doc_t *doc,
                            aop_error_t *err) {
    struct frame {
        unsigned tok;  /* the container's token */
        unsigned mark; /* scratch height when it opened (objects) */
        unsigned obj;  /* 1 object, 0 array */
    } st[AOP_JSON_MAX_DEPTH], *top = NULL;
    unsigned depth = 0, n = 0, nk = 0, esc = 0;
    aop_json_type_t ptype; /* of the number or literal being scanned */
    const unsigned char *p, *q, *e, *s0;
    aop_status_t s;

    if (!ws || !doc || (!buf && len) || (ws->cap && (!ws->tok || !ws->scratch)))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "aop_json_parse: missing argument");
    doc->buf = buf;
    doc->len = len;
    doc->tok = ws->tok;
    doc->count = 0;
    if (len > AOP_JSON_MAX_BODY)
        return aop_error_set(err, AOP_E_JSON_TOO_LARGE, NULL, (long)AOP_JSON_MAX_BODY,
                             "body is %zu bytes, over the limit of %u", len, AOP_JSON_MAX_BODY);
    if (len == 0) return aop_error_set(err, AOP_E_JSON_SYNTAX, NULL, 0, "empty body");

    aop_json_tok_t *const tok = ws->tok;
    unsigned *const scr = ws->scratch;
    const unsigned cap = ws->cap;
    p = (const unsigned char *)buf;
    e = p + len;
    const pctx_t c = {p, e, err};
    const unsigned char *const b = p;

value:
    SKIP_WS();
    if (p == e) return fail(&c, AOP_E_JSON_SYNTAX, p, "a value is expected");
    s0 = p;
    switch (*p) {
    case '{':
    case '[':
        if (depth == AOP_JSON_MAX_DEPTH)
            return fail(&c, AOP_E_JSON_DEPTH, p, "nesting deeper than 32 levels");
        if (n == cap) goto no_tokens;
        top = &st[depth++];
        top->tok = n;
        top->mark = nk;
        top->obj = *p == '{' ? 1u : 0u;
        tok[n].type = top->obj ? AOP_JSON_OBJECT : AOP_JSON_ARRAY;
        tok[n].start = (uint32_t)(p - b);
        tok[n].end = 0; /* set when it closes */
        tok[n].size = 0;
        n++;
        p++;
        SKIP_WS();
        if (p < e && *p == (top->obj ? '}' : ']')) goto close;
        if (top->obj) goto key;
        tok[top->tok].size = 1;
        goto value;
    case '"':
        q = p + 1;
        if ((s = scan_string(&c, &q, &esc)) != AOP_OK) return s;
        if (n == cap) goto no_tokens;
        tok[n].type = AOP_JSON_STRING;
        tok[n].start = (uint32_t)(p + 1 - b);
        tok[n].end = (uint32_t)(q - b);
        tok[n].size = 0;
        n++;
        p = q + 1;
        goto after;
    case 't':
        if (e - p >= 4 && memcmp(p, "true", 4) == 0) {
            p += 4;
            ptype = AOP_JSON_TRUE;
            goto literal;
        }
        goto bad_literal;
    case 'f':
        if (e - p >= 5 && memcmp(p, "false", 5) == 0) {
            p += 5;
            ptype = AOP_JSON_FALSE;
            goto literal;
        }
        goto bad_literal;
    case 'n':
        if (e - p >= 4 && memcmp(p, "null", 4) == 0) {
            p += 4;
            ptype = AOP_JSON_NULL;
            goto literal;
        }
        goto bad_literal;
    case '-':
        p++;
        if (p == e || (unsigned)(*p - '0') > 9)
            return fail(&c, AOP_E_JSON_NUMBER, p, "a digit is expected after '-'");
        /* fall through */
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (*p == '0') {
            p++;
            if (p < e && (unsigned)(*p - '0') <= 9)
                return fail(&c, AOP_E_JSON_NUMBER, p, "leading zero in number");
        } else {
            do p++;
            while (p < e && (unsigned)(*p - '0') <= 9);
        }
        if (p < e && *p == '.') {
            p++;
            if (p == e || (unsigned)(*p - '0') > 9)
                return fail(&c, AOP_E_JSON_NUMBER, p, "a digit is expected after '.' in number");
            do p++;
            while (p < e && (unsigned)(*p - '0') <= 9);
        }
        if (p < e && (*p | 0x20) == 'e') {
            p++;
            if (p < e && (*p == '+' || *p == '-')) p++;
            if (p == e || (unsigned)(*p - '0') > 9)
                return fail(&c, AOP_E_JSON_NUMBER, p, "a digit is expected in the exponent");
            do p++;
            while (p < e && (unsigned)(*p - '0') <= 9);
        }
        if (p < e && (ch_class[*p] & CH_WORD))
            return fail(&c, AOP_E_JSON_NUMBER, p, "unexpected character in number");
        ptype = AOP_JSON_NUMBER;
        goto primitive;
    default:
        return fail(&c, AOP_E_JSON_SYNTAX, p, "a value is expected");
    }

literal:
    if (p < e && (ch_class[*p] & CH_WORD))
        return fail(&c, AOP_E_JSON_NUMBER, p, "unexpected character after literal");
primitive:
    if (n == cap) goto no_tokens;
    tok[n].type = ptype;
    tok[n].start = (uint32_t)(s0 - b);
    tok[n].end = (uint32_t)(p - b);
    tok[n].size = 0;
    n++;
    /* fall through */
after:
    SKIP_WS();
    if (!top) {
        if (p != e) return fail(&c, AOP_E_JSON_SYNTAX, p, "data after the top-level value");
        doc->count = n;
        return AOP_OK;
    }
    if (p < e && *p == ',') {
        p++;
        if (top->obj) goto key;
        tok[top->tok].size++;
        goto value;
    }
    if (p < e && *p == (top->obj ? '}' : ']')) goto close;
    return fail(&c, AOP_E_JSON_SYNTAX, p,
                top->obj ? "',' or '}' is expected after an object member"
                         : "',' or ']' is expected after an array element");

close:
    tok[top->tok].end = (uint32_t)(p + 1 - b);
    p++;
    if (top->obj && nk - top->mark > 1 &&
        (s = check_dups(&c, tok, scr + top->mark, nk - top->mark)) != AOP_OK)
        return s;
    nk = top->mark;
    depth--;
    top = depth ? &st[depth - 1] : NULL;
    goto after;

key:
    SKIP_WS();
    if (p == e || *p != '"') return fail(&c, AOP_E_JSON_SYNTAX, p, "a string key is expected");
    q = p + 1;
    if ((s = scan_string(&c, &q, &esc)) != AOP_OK) return s;
    if (n == cap) goto no_tokens;
    tok[n].type = AOP_JSON_STRING;
    tok[n].start = (uint32_t)(p + 1 - b);
    tok[n].end = (uint32_t)(q - b);
    tok[n].size = 1;
    tok[top->tok].size++;
    scr[nk++] = esc ? n | KEY_ESC : n; /* nk <= n < cap: every key has a token */
    n++;
    p = q + 1;
    SKIP_WS();
    if (p == e || *p != ':') return fail(&c, AOP_E_JSON_SYNTAX, p, "':' is expected after an object key");
    p++;
    goto value;

bad_literal:
    /* point at the first byte that differs from true/false/null */
    {
        const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
        while (p < e && *lit && *p == (unsigned char)*lit) p++, lit++;
        return fail(&c, AOP_E_JSON_NUMBER, p, "invalid literal (true, false and null are the only ones)");
    }

no_tokens:
    return aop_error_set(err, AOP_E_JSON_TOKENS, NULL, (long)(p - b),
                         "token workspace of %u entries is too small (aop_json_tokens_needed(buf, "
                         "len) always suffices)",
                         cap);
}

const char *aop_json_type_name(aop_json_type_t type) {
    switch (type) {
    case AOP_JSON_OBJECT: return "object";
    case AOP_JSON_ARRAY: return "array";
    case AOP_JSON_STRING: return "string";
    case AOP_JSON_NUMBER: return "number";
    case AOP_JSON_TRUE: return "true";
    case AOP_JSON_FALSE: return "false";
    case AOP_JSON_NULL: return "null";
    case AOP_JSON_UNDEFINED: break;
    }
    return "undefined";
}

/* ---- walking a checked document -------------------------------------------------------------- */

unsigned aop_json_skip(const aop_json_doc_t *doc, unsigned i) {
    const aop_json_tok_t *t = doc->tok;
    const unsigned count = doc->count;
    if (i >= count) return count;
    if (t[i].type != AOP_JSON_OBJECT && t[i].type != AOP_JSON_ARRAY) return i + 1;
    const uint32_t end = t[i].end;
    /* Starts increase in document order: gallop, then bisect, for the first start >= end. */
    unsigned lo = i + 1, hi, step = 1;
    if (lo >= count || t[lo].start >= end) return lo;
    for (;;) { /* invariant: t[lo].start < end */
        hi = lo + step;
        if (hi >= count) {
            hi = count;
            break;
        }
        if (t[hi].start >= end) break;
        lo = hi;
        step <<= 1;
    }
    while (hi - lo > 1) {
        unsigned mid = lo + (hi - lo) / 2;
        if (t[mid].start >= end)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

bool aop_json_str_eq(const aop_json_doc_t *doc, unsigned i, const char *name, size_t name_len) {
    if (i >= doc->count || doc->tok[i].type != AOP_JSON_STRING) return false;
    const char *raw = doc->buf + doc->tok[i].start;
    size_t rl = (size_t)(doc->tok[i].end - doc->tok[i].start);
    /* Unescaping only shortens: a raw string shorter than name never matches, one of the same
     * length matches only byte for byte and without escapes. */
    if (rl == name_len) return rl == 0 || (memcmp(raw, name, rl) == 0 && !memchr(raw, '\\', rl));
    if (rl < name_len || !memchr(raw, '\\', rl)) return false;
    kiter_t k = {(const unsigned char *)raw, (const unsigned char *)raw + rl, {0}, 0, 0};
    for (size_t j = 0; j < name_len; j++)
        if (kiter_next(&k) != (unsigned char)name[j]) return false;
    return kiter_next(&k) < 0;
}

/* ---- the signed envelope --------------------------------------------------------------------- */

aop_status_t aop_envelope_read(const char *buf, size_t len, const char *member, aop_json_ws_t *ws,
                               aop_json_doc_t *doc, aop_envelope_t *env, aop_error_t *err) {
    if (!member || !env)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "aop_envelope_read: missing argument");
    env->payload = AOP_STR_NULL;
    env->signature = AOP_STR_NULL;
    env->payload_tok = 0;
    env->extra_members = 0;
    env->extra_offset = -1;
    aop_status_t s = aop_json_parse(buf, len, ws, doc, err);
    if (s != AOP_OK) return s;

    const aop_json_tok_t *t = doc->tok;
    if (t[0].type != AOP_JSON_OBJECT)
        return aop_error_set(err, AOP_E_ENVELOPE, NULL,
                             (long)t[0].start - (t[0].type == AOP_JSON_STRING),
                             "the body is not a JSON object");
    const size_t mlen = strlen(member);
    unsigned i = 1;
    for (uint32_t k = 0; k < t[0].size; k++) {
        const unsigned v = i + 1;
        if (aop_json_str_eq(doc, i, member, mlen)) {
            if (t[v].type != AOP_JSON_OBJECT)
                return aop_error_set(err, AOP_E_ENVELOPE, member,
                                     (long)t[v].start - (t[v].type == AOP_JSON_STRING),
                                     "\"%s\" is not an object", member);
            env->payload = aop_strn(buf + t[v].start, (size_t)(t[v].end - t[v].start));
            env->payload_tok = v;
        } else if (aop_json_str_eq(doc, i, "signature", 9)) {
            if (t[v].type != AOP_JSON_STRING)
                return aop_error_set(err, AOP_E_ENVELOPE, "signature",
                                     (long)t[v].start, "\"signature\" is not a string");
            env->signature = aop_strn(buf + t[v].start, (size_t)(t[v].end - t[v].start));
        } else if (env->extra_members++ == 0) {
            env->extra_offset = (long)t[i].start - 1;
        }
        i = aop_json_skip(doc, v);
    }
    if (!env->payload.ptr)
        return aop_error_set(err, AOP_E_ENVELOPE, member, 0, "the envelope has no \"%s\" member",
                             member);
    return AOP_OK;
}
