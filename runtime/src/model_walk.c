/* SPDX-License-Identifier: MIT */
/* Validation and encoding of any message from its descriptor: one walk that checks every rule
 * and, when given a sink, writes compact JSON in the same pass. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/model.h"
#include "model_path.h"
#include "utf8_internal.h"
#include "aop/json_quote.h"

typedef struct {
    char *p;
    size_t cap;
    size_t len;
} sink_t;

typedef struct {
    const void *root;
    bool strict;          /* requests and everything we send */
    aop_warnings_t *w;    /* lenient mode */
    aop_error_t *err;
    sink_t *out;          /* NULL: validate only */
    bool positive;        /* inside an object whose amounts must be at least 1 (strict only) */
    bool omit_sensitive;  /* AOP_ENCODE_OMIT_SENSITIVE */
} walk_t;

/* memcpy, inline for the short runs an encoding is made of (keys, most values): a call to
 * memcpy costs more than the copy. Every word is loaded before any is stored. */
static inline void copy_bytes(char *dst, const char *src, size_t n) {
    if (n > 16) {
        memcpy(dst, src, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = src[i];
    }
}

static inline void put(sink_t *s, const char *d, size_t n) {
    if (s->len + n <= s->cap) copy_bytes(s->p + s->len, d, n);
    s->len += n;
}

static inline void put1(sink_t *s, char c) {
    if (s->len < s->cap) s->p[s->len] = c;
    s->len++;
}

/* 1 for bytes that are escaped in a JSON string: those JSON requires ('"', '\\', below 0x20),
 * and DEL (0x7F), which JSON allows raw but a terminal showing the text would obey (the CLI
 * prints with this escaper). \u007f reads back as the same byte. */
static const unsigned char escape_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

static void put_escaped(sink_t *s, const char *str, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    /* The sink in locals: the compiler cannot keep s->len in a register across the copies. */
    char *const out = s->p;
    const size_t cap = s->cap;
    size_t len = s->len, run = 0, i = 0;
#define PUT_BYTES(d, k)                                        \
    do {                                                       \
        if (len + (k) <= cap) copy_bytes(out + len, (d), (k)); \
        len += (k);                                            \
    } while (0)
    if (len < cap) out[len] = '"';
    len++;
    while (i < n) {
        if (n >= 8) {
            /* Eight bytes at a time (the last word of the string overlaps bytes already seen,
             * which are masked off): a high bit of m is set for a '"', a '\\', a byte < 0x20
             * (zero-byte tests on v ^ '"', v ^ '\\' and v - 0x20) or DEL (0x7F + 1 sets the
             * high bit of a byte that had none). Every match is flagged; a borrow spills only
             * upwards from a match, a carry only from a byte 0xFF (never valid UTF-8), so a flag
             * may be spurious and the byte it points at is still looked up below. */
            size_t at = n - i >= 8 ? i : n - 8;
            uint64_t v, q, b, m;
            memcpy(&v, str + at, 8);
            q = v ^ (ones * '"');
            b = v ^ (ones * '\\');
            m = (((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20u) & ~v) | ((v + ones) & ~v)) & highs;
            m &= ~(uint64_t)0 << (8 * (i - at));
            if (!m) {
                i = at + 8;
                continue;
            }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            i = at + ((size_t)__builtin_ctzll(m) >> 3); /* the first flagged byte */
#endif
        }
        unsigned char c = (unsigned char)str[i];
        if (escape_class[c]) {
            PUT_BYTES(str + run, i - run);
            run = i + 1;
            char e[6] = {'\\', 0, 0, 0, 0, 0};
            size_t en = 2;
            switch (c) {
            case '"': e[1] = '"'; break;
            case '\\': e[1] = '\\'; break;
            case '\b': e[1] = 'b'; break;
            case '\f': e[1] = 'f'; break;
            case '\n': e[1] = 'n'; break;
            case '\r': e[1] = 'r'; break;
            case '\t': e[1] = 't'; break;
            default:
                e[1] = 'u';
                e[2] = '0';
                e[3] = '0';
                e[4] = hex[c >> 4];
                e[5] = hex[c & 15];
                en = 6;
            }
            PUT_BYTES(e, en);
        }
        i++;
    }
    PUT_BYTES(str + run, n - run);
#undef PUT_BYTES
    if (len < cap) out[len] = '"';
    s->len = len + 1;
}

size_t aop_json_quote(const char *s, size_t n, char *out, size_t cap) {
    sink_t sink = {out, cap, 0};
    put_escaped(&sink, s, n);
    return sink.len;
}

/* Writes s quoted for a reader (a report, a log): every character aop_json_quote() escapes, and
 * also the C1 controls (U+0080-U+009F, which a terminal obeys), escaped; a byte that is no valid
 * UTF-8 becomes U+FFFD. A character at a time: slower, and only for text that needs it. */
static int fquote_for_a_reader(FILE *f, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    int bad = fputc('"', f) == EOF;
    for (size_t i = 0; i < n && !bad;) {
        unsigned long cp = 0;
        size_t len = aop_internal_utf8_char(p + i, n - i, &cp);
        if (!len) {
            bad = fputs("\\ufffd", f) == EOF;
            i++;
            continue;
        }
        if (cp >= 0x80 && cp <= 0x9F) {
            char e[7] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15], 0};
            bad = fputs(e, f) == EOF;
        } else if (cp < 0x80) {
            char q[8];
            size_t qn = aop_json_quote((const char *)p + i, 1, q, sizeof q); /* its escapes, quoted */
            bad = fwrite(q + 1, 1, qn - 2, f) != qn - 2;
        } else {
            bad = fwrite(p + i, 1, len, f) != len;
        }
        i += len;
    }
    if (!bad) bad = fputc('"', f) == EOF;
    return bad ? -1 : 0;
}

/* Whether s holds only characters aop_json_quote() writes safely for a reader: valid UTF-8
 * without C1 controls. */
static bool readable_as_is(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        unsigned long cp;
        size_t len = aop_internal_utf8_char(p + i, n - i, &cp);
        if (!len || cp <= 0x9F) return false;
        i += len;
    }
    return true;
}

int aop_json_fquote(FILE *f, const char *s, size_t n) {
    if (!s) return fputs("null", f) == EOF ? -1 : 0;
    if (!readable_as_is(s, n)) return fquote_for_a_reader(f, s, n);
    char local[1024];
    size_t need = aop_json_quote(s, n, local, sizeof local);
    char *buf = need <= sizeof local ? local : malloc(need); /* the first pass sized it */
    if (!buf) return -1;
    if (buf != local) aop_json_quote(s, n, buf, need);
    int r = fwrite(buf, 1, need, f) == need ? 0 : -1;
    if (buf != local) free(buf);
    return r;
}

/* Whether every byte of s is printable ASCII other than '"' and '\\' (0x20..0x7E): then s is
 * valid UTF-8 of n UTF-16 units and is written as it is. The usual text, checked a word at a
 * time (a string of 8 bytes or more ends with a word that overlaps the one before; one of 4 to
 * 7 bytes is two overlapping 4-byte words); anything else goes the general ways. */
/* Non-zero when a byte of v is not plain. Below the lowest such byte every byte is plain, so
 * none of the subtractions borrows and the addition does not carry there; at it, a byte >= 0x80
 * shows in v, a byte < 0x20 wraps in v - 0x20, DEL (0x7F) becomes 0x80 in v + 1, and '"' or
 * '\\' is 0 in q or b and wraps when 1 is subtracted. When all bytes are plain nothing borrows
 * or carries, q and b are 0x01..0x7F, v - 0x20 is below 0x5F and v + 1 below 0x80. */
static inline uint64_t not_plain8(uint64_t v) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    return ((q - ones) | (b - ones) | (v - ones * 0x20u) | (v + ones) | v) & highs;
}

static inline uint32_t not_plain4(uint32_t v) {
    const uint32_t ones = 0x01010101u, highs = 0x80808080u;
    uint32_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    return ((q - ones) | (b - ones) | (v - ones * 0x20u) | (v + ones) | v) & highs;
}

static bool plain_text(const char *s, size_t n) {
    if (n >= 8) {
        uint64_t v;
        size_t i = 0;
        for (; n - i > 8; i += 8) {
            memcpy(&v, s + i, 8);
            if (not_plain8(v)) return false;
        }
        memcpy(&v, s + n - 8, 8);
        return !not_plain8(v);
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        return !not_plain4(a) && !not_plain4(b);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x7F || escape_class[c]) return false;
    }
    return true;
}

/* A plain_text string: the same bytes put_escaped would write. */
static inline void put_plain(sink_t *s, const char *str, size_t n) {
    char *const out = s->p;
    const size_t cap = s->cap;
    size_t len = s->len;
    if (len < cap) out[len] = '"';
    len++;
    if (len + n <= cap) copy_bytes(out + len, str, n);
    len += n;
    if (len < cap) out[len] = '"';
    s->len = len + 1;
}

static bool outcome_holds(const walk_t *k, const aop_field_desc_t *f) {
    return !k->strict && f->outcome && f->outcome(k->root);
}

static aop_status_t report(walk_t *k, const aop_path_t *p, const aop_field_desc_t *f,
                           aop_status_t code, bool fatal, const char *detail) {
    return aop_violation(k->strict || fatal, k->w, k->err, p, f->name, f->name_len, code, -1,
                         detail);
}

/* Checks one value of a string-like kind (plain: plain_text(v) holds); returns the violation
 * or AOP_OK. */
static aop_status_t check_text(const walk_t *k, const aop_field_desc_t *f, aop_str_t v,
                               bool plain, char *detail, size_t cap) {
    size_t units = v.len;
    if (!plain && !aop_utf8_units(v.ptr, v.len, &units)) return AOP_E_BAD_UTF8;
    if (v.len == 0 && (f->flag == AOP_FLAG_M || f->nonempty)) {
        if (f->nonempty) snprintf(detail, cap, "an id is never empty");
        return AOP_E_EMPTY;
    }
    if (f->max_len && units > f->max_len) {
        snprintf(detail, cap, "%zu characters (UTF-16 units), the limit is %u", units, (unsigned)f->max_len);
        return AOP_E_TOO_LONG;
    }
    switch (f->kind) {
    case AOP_KIND_STRING:
        /* plain text (printable ASCII) holds none */
        if (!plain && aop_has_control(v.ptr, v.len)) return AOP_E_CONTROL_CHAR;
        break;
    case AOP_KIND_DATETIME:
        if (!(k->strict ? aop_is_datetime(v.ptr, v.len) : aop_is_datetime_read(v.ptr, v.len)))
            return AOP_E_BAD_DATETIME;
        break;
    case AOP_KIND_AMOUNT:
        if (!aop_is_amount(v.ptr, v.len)) return AOP_E_BAD_AMOUNT;
        if (k->strict && k->positive && v.len == 1 && v.ptr[0] == '0') return AOP_E_AMOUNT_ZERO;
        break;
    case AOP_KIND_CURRENCY:
        if (!aop_is_currency(v.ptr, v.len)) return AOP_E_BAD_CURRENCY;
        break;
    case AOP_KIND_DECIMAL:
        if (!aop_is_decimal(v.ptr, v.len)) return AOP_E_BAD_DECIMAL;
        break;
    default:
        break;
    }
    return AOP_OK;
}

static bool present(const aop_field_desc_t *f, const char *base) {
    const void *at = base + f->offset;
    switch (f->kind) {
    case AOP_KIND_OBJECT:
        return f->has_offset < 0 || *(const bool *)(const void *)(base + f->has_offset);
    case AOP_KIND_ENUM: {
        const aop_enum_val_t *e = at;
        return e->value != 0 || e->text.ptr != NULL;
    }
    default:
        return ((const aop_str_t *)at)->ptr != NULL;
    }
}

static aop_status_t walk_msg(walk_t *k, const aop_msg_desc_t *d, const void *msg,
                             const aop_path_t *p);

static aop_status_t walk_field(walk_t *k, const aop_field_desc_t *f, const char *base,
                               const aop_path_t *p, bool *first);

/* A member left out of the output is still checked, as if validating only: the flag may change
 * what is written, never what is accepted. It leaves *first alone, so the commas of the members
 * written around it come out right. */
static aop_status_t walk_unwritten(walk_t *k, const aop_field_desc_t *f, const char *base,
                                   const aop_path_t *p) {
    sink_t *out = k->out;
    bool unused = true;
    k->out = NULL;
    aop_status_t st = walk_field(k, f, base, p, &unused);
    k->out = out;
    return st;
}

static aop_status_t walk_field(walk_t *k, const aop_field_desc_t *f, const char *base,
                               const aop_path_t *p, bool *first) {
    const void *at = base + f->offset;
    if (f->sensitive && k->omit_sensitive && k->out) return walk_unwritten(k, f, base, p);
    if (!present(f, base)) {
        bool required = f->flag == AOP_FLAG_M || (f->flag == AOP_FLAG_C && f->when && f->when(k->root));
        if (required) return report(k, p, f, AOP_E_MISSING, outcome_holds(k, f), NULL);
        return AOP_OK;
    }
    if (k->out) {
        if (!*first) put1(k->out, ',');
        put(k->out, f->key, f->key_len);
    }
    *first = false;
    if (f->kind == AOP_KIND_OBJECT) {
        aop_path_t sub = {p, f->name, f->name_len};
        bool outer = k->positive;
        k->positive = outer || f->positive;
        aop_status_t st = walk_msg(k, f->sub, at, &sub);
        k->positive = outer;
        return st;
    }
    aop_str_t v;
    bool plain;
    if (f->kind == AOP_KIND_ENUM) {
        const aop_enum_val_t *e = at;
        const char *text = aop_enum_text(f->enm, e->value);
        if (text) {
            v = aop_strn(text, f->enm->lens[e->value - 1]);
        } else if (e->value == 0 && aop_enum_from_text(f->enm, e->text.ptr, e->text.len)) {
            v = e->text;
        } else {
            aop_status_t st = report(k, p, f, AOP_E_BAD_ENUM, outcome_holds(k, f), NULL);
            if (st != AOP_OK || !k->out) return st;
            v = e->text;
        }
        if (!k->out) return AOP_OK;
        plain = plain_text(v.ptr, v.len);
    } else {
        v = *(const aop_str_t *)at;
        plain = plain_text(v.ptr, v.len);
        char detail[96];
        detail[0] = '\0';
        aop_status_t bad = check_text(k, f, v, plain, detail, sizeof detail);
        if (bad != AOP_OK) {
            aop_status_t st = report(k, p, f, bad, false, detail[0] ? detail : NULL);
            if (st != AOP_OK) return st;
        }
    }
    if (k->out) {
        if (plain)
            put_plain(k->out, v.ptr, v.len);
        else
            put_escaped(k->out, v.ptr, v.len);
    }
    return AOP_OK;
}

static aop_status_t walk_msg(walk_t *k, const aop_msg_desc_t *d, const void *msg,
                             const aop_path_t *p) {
    const char *base = msg;
    bool first = true;
    if (k->out) put1(k->out, '{');
    for (unsigned i = 0; i < d->nfields; i++) {
        aop_status_t st = walk_field(k, &d->fields[i], base, p, &first);
        if (st != AOP_OK) return st;
    }
    for (unsigned g = 0; g < d->n_one_of; g++) {
        const aop_one_of_t *grp = &d->one_of[g];
        bool any = false;
        for (unsigned i = 0; i < grp->count; i++) any |= present(&d->fields[grp->fields[i]], base);
        if (!any) {
            const aop_field_desc_t *f0 = &d->fields[grp->fields[0]];
            char names[160];
            size_t n = 0;
            for (unsigned i = 0; i < grp->count && n < sizeof names; i++)
                n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? " / " : "",
                                      d->fields[grp->fields[i]].name);
            aop_status_t st = report(k, p, f0, AOP_E_ONE_OF_REQUIRED, false, names);
            if (st != AOP_OK) return st;
        }
    }
    if (k->out) put1(k->out, '}');
    return AOP_OK;
}

aop_status_t aop_validate(const aop_msg_desc_t *d, const void *msg, const char *root,
                          aop_error_t *err) {
    aop_error_clear(err);
    walk_t k = {msg, true, NULL, err, NULL, false, false};
    aop_path_t p = {NULL, root, strlen(root)};
    return walk_msg(&k, d, msg, &p);
}

aop_status_t aop_validate_response(const aop_msg_desc_t *d, const void *msg, const char *root,
                                   aop_warnings_t *warnings, aop_error_t *err) {
    aop_error_clear(err);
    walk_t k = {msg, false, warnings, err, NULL, false, false};
    aop_path_t p = {NULL, root, strlen(root)};
    return walk_msg(&k, d, msg, &p);
}

aop_status_t aop_encode(const aop_msg_desc_t *d, const void *msg, const char *root, char *out,
                        size_t cap, size_t *len, aop_error_t *err) {
    return aop_encode_ex(d, msg, root, 0, out, cap, len, err);
}

aop_status_t aop_encode_ex(const aop_msg_desc_t *d, const void *msg, const char *root, unsigned flags,
                           char *out, size_t cap, size_t *len, aop_error_t *err) {
    aop_error_clear(err);
    if (len) *len = 0;
    if (flags & ~AOP_ENCODE_OMIT_SENSITIVE)
        return aop_error_set(err, AOP_E_INVALID_ARG, root, -1, "unknown aop_encode_ex flags 0x%x",
                             flags & ~AOP_ENCODE_OMIT_SENSITIVE);
    sink_t s = {out, out ? cap : 0, 0};
    walk_t k = {msg, true, NULL, err, &s, false, (flags & AOP_ENCODE_OMIT_SENSITIVE) != 0};
    aop_path_t p = {NULL, root, strlen(root)};
    aop_status_t st = walk_msg(&k, d, msg, &p);
    if (len) *len = st == AOP_OK ? s.len : 0; /* the size needed when the buffer is too small */
    if (st != AOP_OK) return st;
    if (s.len > s.cap)
        return aop_error_set(err, AOP_E_BUFFER_TOO_SMALL, root, -1,
                             "%s needs %zu bytes, the buffer has %zu", root, s.len, cap);
    return AOP_OK;
}

static bool same_enum(const aop_enum_val_t *x, const aop_enum_val_t *y) {
    return x->value == y->value && (x->value != 0 || aop_str_eq(x->text, y->text));
}

bool aop_equal(const aop_msg_desc_t *d, const void *a, const void *b) {
    const char *pa = a, *pb = b;
    for (unsigned i = 0; i < d->nfields; i++) {
        const aop_field_desc_t *f = &d->fields[i];
        bool ha = present(f, pa), hb = present(f, pb);
        if (ha != hb) return false;
        if (!ha) continue;
        const void *xa = pa + f->offset, *xb = pb + f->offset;
        if (f->kind == AOP_KIND_OBJECT) {
            if (!aop_equal(f->sub, xa, xb)) return false;
        } else if (f->kind == AOP_KIND_ENUM) {
            if (!same_enum(xa, xb)) return false;
        } else if (!aop_str_eq(*(const aop_str_t *)xa, *(const aop_str_t *)xb)) {
            return false;
        }
    }
    return true;
}

static bool same_value(const aop_field_ref_t *a, const void *ra, const aop_field_ref_t *b,
                       const void *rb) {
    const char *pa = (const char *)ra + a->offset, *pb = (const char *)rb + b->offset;
    if (a->kind != AOP_KIND_OBJECT) return aop_str_eq(*(const aop_str_t *)(const void *)pa,
                                                      *(const aop_str_t *)(const void *)pb);
    return aop_equal(a->sub, pa, pb);
}

aop_status_t aop_check_echo(const aop_function_desc_t *fn, const void *request,
                            const void *response, aop_error_t *err) {
    for (unsigned i = 0; i < fn->n_echo; i++) {
        const aop_echo_desc_t *e = &fn->echo[i];
        if (!aop_ref_present(&e->request, request)) continue;
        if (!aop_ref_present(&e->response, response)) {
            if (!e->mandatory) continue;
            return aop_error_set(err, AOP_E_ECHO_MISMATCH, e->response.path, -1,
                                 "%s is missing: it must echo %s", e->response.path, e->request.path);
        }
        if (!same_value(&e->request, request, &e->response, response))
            return aop_error_set(err, AOP_E_ECHO_MISMATCH, e->response.path, -1,
                                 "%s differs from %s", e->response.path, e->request.path);
    }
    return AOP_OK;
}
