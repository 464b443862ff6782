/* SPDX-License-Identifier: MIT */
/* Decoding of any message from its descriptor over a checked JSON document: zero-copy views
 * unescaped in place, then the same validation walk as encoding (strict or lenient). */
#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "aop/model.h"
#include "model_path.h"

static_assert(AOP_MAX_FIELDS <= sizeof(uint64_t) * CHAR_BIT, "the seen-mask has one bit per field");

typedef struct {
    const aop_json_doc_t *doc;
    char *buf;
    const void *root;
    bool strict;
    bool deciding; /* inside a deciding member (aop_field_desc_t::decides) of a received message */
    aop_warnings_t *w;
    aop_error_t *err;
} dec_t;

/* A member whose every deviation fails the received message: a deciding one, or a mandatory
 * member of one (docs/protocol.md section 8). */
static bool decisive(const dec_t *k, const aop_field_desc_t *f) {
    return f->decides || (k->deciding && f->flag == AOP_FLAG_M);
}

/* A violation found while decoding; lenient mode only fails for outcome-deciding fields, and
 * their conditions are judged after the whole message is decoded (by the validation walk,
 * which then sees the field as absent). */
static aop_status_t bad(dec_t *k, const aop_path_t *p, const char *name, size_t len,
                        aop_status_t code, unsigned tok, bool fatal) {
    return aop_violation(k->strict || fatal, k->w, k->err, p, name, len, code,
                         (long)k->doc->tok[tok].start, NULL);
}

/* a[0..n) == b[0..n), inline: keys are short and a memcmp call costs more than comparing them.
 * Eight bytes at a time, the last word overlapping; 4 to 7 bytes as two overlapping words. */
static inline bool same_bytes(const char *a, const char *b, size_t n) {
    if (n >= 8) {
        uint64_t x, y;
        for (size_t i = 0; n - i > 8; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return x0 == y0 && x1 == y1;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}

/* Whether s[0..n) holds a backslash: eight bytes at a time (zero-byte test on v ^ '\\', exact
 * for a word without one), the last word overlapping. */
static inline bool has_backslash(const char *s, size_t n) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (s[i] == '\\') return true;
        return false;
    }
    uint64_t v;
    for (size_t i = 0; n - i > 8; i += 8) {
        memcpy(&v, s + i, 8);
        v ^= ones * '\\';
        if ((v - ones) & ~v & highs) return true;
    }
    memcpy(&v, s + n - 8, 8);
    v ^= ones * '\\';
    return ((v - ones) & ~v & highs) != 0;
}

static const aop_field_desc_t *find_field(const dec_t *k, const aop_msg_desc_t *d, unsigned key,
                                          unsigned *index) {
    const aop_json_tok_t *t = &k->doc->tok[key];
    const char *s = k->doc->buf + t->start;
    size_t n = (size_t)(t->end - t->start);
    for (unsigned i = 0; i < d->nfields; i++) {
        const aop_field_desc_t *f = &d->fields[i];
        if ((f->name_len == n && same_bytes(f->name, s, n)) ||
            (f->alias && f->alias_len == n && same_bytes(f->alias, s, n))) {
            *index = i;
            return f;
        }
    }
    if (!memchr(s, '\\', n)) return NULL;
    for (unsigned i = 0; i < d->nfields; i++) {
        const aop_field_desc_t *f = &d->fields[i];
        if (aop_json_str_eq(k->doc, key, f->name, f->name_len) ||
            (f->alias && aop_json_str_eq(k->doc, key, f->alias, f->alias_len))) {
            *index = i;
            return f;
        }
    }
    return NULL;
}

static bool is_null(const dec_t *k, unsigned v) {
    return k->doc->tok[v].type == AOP_JSON_NULL;
}

/* A JSON number with the integer grammar of an amount (the parser checked RFC 8259 already). */
static bool integer_token(const dec_t *k, unsigned v) {
    const aop_json_tok_t *t = &k->doc->tok[v];
    if (t->type != AOP_JSON_NUMBER) return false;
    for (uint32_t i = t->start; i < t->end; i++)
        if (k->doc->buf[i] < '0' || k->doc->buf[i] > '9') return false;
    return true;
}

static aop_str_t string_view(dec_t *k, unsigned v) {
    const aop_json_tok_t *t = &k->doc->tok[v];
    char *s = k->buf + t->start;
    size_t n = (size_t)(t->end - t->start);
    if (has_backslash(s, n)) n = aop_json_unescape(s, n);
    return aop_strn(s, n);
}

static aop_status_t decode_obj(dec_t *k, const aop_msg_desc_t *d, unsigned obj, void *msg,
                               const aop_path_t *p, unsigned *next);

/* *next: set to the token after v's subtree when v is an object that was decoded (else left). */
static aop_status_t decode_value(dec_t *k, const aop_field_desc_t *f, unsigned v, char *base,
                                 const aop_path_t *p, unsigned *next) {
    const aop_json_tok_t *t = &k->doc->tok[v];
    void *at = base + f->offset;
    const bool deciding = decisive(k, f);
    if (f->kind == AOP_KIND_OBJECT) {
        if (t->type != AOP_JSON_OBJECT) return bad(k, p, f->name, f->name_len, AOP_E_WRONG_TYPE, v, deciding);
        if (f->has_offset >= 0) *(bool *)(void *)(base + f->has_offset) = true;
        aop_path_t sub = {p, f->name, f->name_len};
        bool outer = k->deciding;
        k->deciding = deciding;
        aop_status_t st = decode_obj(k, f->sub, v, at, &sub, next);
        k->deciding = outer;
        return st;
    }
    if (t->type == AOP_JSON_STRING) {
        aop_str_t s = string_view(k, v);
        if (f->kind == AOP_KIND_ENUM) {
            aop_enum_val_t *e = at;
            e->text = s;
            e->value = aop_enum_from_text(f->enm, s.ptr, s.len);
        } else {
            *(aop_str_t *)at = s;
        }
        return AOP_OK;
    }
    if (f->kind == AOP_KIND_AMOUNT && integer_token(k, v)) {
        *(aop_str_t *)at = aop_strn(k->buf + t->start, (size_t)(t->end - t->start));
        return AOP_OK;
    }
    return bad(k, p, f->name, f->name_len, AOP_E_WRONG_TYPE, v, deciding);
}

/* *next: the token after the object's subtree (what aop_json_skip(doc, obj) gives), set when the
 * members have all been walked. */
static aop_status_t decode_obj(dec_t *k, const aop_msg_desc_t *d, unsigned obj, void *msg,
                               const aop_path_t *p, unsigned *next) {
    const aop_json_tok_t *tok = k->doc->tok;
    char *base = msg;
    uint64_t seen = 0, got = 0; /* got: mandatory objects decoded with the right type */
    assert(d->nfields <= AOP_MAX_FIELDS);
    unsigned members = (unsigned)tok[obj].size;
    unsigned key = obj + 1;
    for (unsigned m = 0; m < members; m++) {
        unsigned v = key + 1, idx = 0, after = 0;
        const aop_field_desc_t *f = find_field(k, d, key, &idx);
        aop_status_t st = AOP_OK;
        if (!f) {
            char name[48];
            aop_str_t raw = aop_strn(k->doc->buf + tok[key].start, (size_t)(tok[key].end - tok[key].start));
            size_t n = raw.len < sizeof name - 4 ? raw.len : sizeof name - 4;
            memcpy(name, raw.ptr, n);
            if (n < raw.len) memcpy(name + n, "...", 3), n += 3;
            st = bad(k, p, name, n, AOP_E_UNKNOWN_MEMBER, key, false);
        } else if (seen >> idx & 1) {
            /* the same field under its name and its alias */
            st = bad(k, p, f->name, f->name_len, AOP_E_JSON_DUPLICATE_KEY, key, decisive(k, f));
        } else {
            seen |= (uint64_t)1 << idx;
            if (is_null(k, v)) {
                if (f->flag == AOP_FLAG_M)
                    st = bad(k, p, f->name, f->name_len, AOP_E_NULL_MANDATORY, v, decisive(k, f));
            } else {
                st = decode_value(k, f, v, base, p, &after);
                if (st == AOP_OK && tok[v].type == AOP_JSON_OBJECT) got |= (uint64_t)1 << idx;
            }
        }
        if (st != AOP_OK) return st;
        /* a scalar value is one token; a decoded object said where it ends */
        if (after)
            key = after;
        else if (v < k->doc->count && tok[v].type != AOP_JSON_OBJECT && tok[v].type != AOP_JSON_ARRAY)
            key = v + 1;
        else
            key = aop_json_skip(k->doc, v);
    }
    *next = key;
    /* A mandatory object has no has_ flag: its absence is only visible here. */
    for (unsigned i = 0; i < d->nfields; i++) {
        const aop_field_desc_t *f = &d->fields[i];
        if (f->kind == AOP_KIND_OBJECT && f->has_offset < 0 && !(got >> i & 1)) {
            bool fatal = !k->strict && ((f->outcome && f->outcome(k->root)) || k->deciding);
            aop_status_t st = aop_violation(k->strict || fatal, k->w, k->err, p, f->name,
                                            f->name_len, AOP_E_MISSING, (long)tok[obj].start, NULL);
            if (st != AOP_OK) return st;
        }
    }
    return AOP_OK;
}

aop_status_t aop_decode(const aop_msg_desc_t *d, const aop_json_doc_t *doc, unsigned tok,
                        char *buf, void *msg, const char *root, bool strict,
                        aop_warnings_t *warnings, aop_error_t *err) {
    aop_error_clear(err);
    memset(msg, 0, d->size);
    aop_path_t p = {NULL, root, strlen(root)};
    if (tok >= doc->count || doc->tok[tok].type != AOP_JSON_OBJECT)
        return aop_error_set(err, AOP_E_WRONG_TYPE, root, tok < doc->count ? (long)doc->tok[tok].start : -1L,
                             "%s is not a JSON object", root);
    dec_t k = {doc, buf, msg, strict, false, warnings, err};
    unsigned next;
    aop_status_t st = decode_obj(&k, d, tok, msg, &p, &next);
    if (st != AOP_OK) return st;
    return strict ? aop_validate(d, msg, root, err)
                  : aop_validate_response(d, msg, root, warnings, err);
}
