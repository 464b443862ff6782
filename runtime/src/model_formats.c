/* SPDX-License-Identifier: MIT */
/* The value formats of docs/protocol.md section 3, enum and result-code lookups. */
#include <stdint.h>
#include <string.h>

#include "aop/model.h"

static bool digit(char c) { return c >= '0' && c <= '9'; }

static int two(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

static bool all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!digit(s[i])) return false;
    return true;
}

static int days_in_month(int y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

static bool is_upper(char c, char want, bool any_case) {
    return c == want || (any_case && c == (char)(want + ('a' - 'A')));
}

/* RFC 3339 section 5.6 date-time. Lower-case 't'/'z' only when any_case (reading). */
static bool datetime(const char *s, size_t n, bool any_case) {
    if (n < 20) return false;
    if (!all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) || s[7] != '-' ||
        !all_digits(s + 8, 2) || !is_upper(s[10], 'T', any_case) || !all_digits(s + 11, 2) ||
        s[13] != ':' || !all_digits(s + 14, 2) || s[16] != ':' || !all_digits(s + 17, 2))
        return false;
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + two(s + 2);
    int month = two(s + 5), day = two(s + 8);
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
    if (two(s + 11) > 23 || two(s + 14) > 59 || two(s + 17) > 60) return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && digit(s[i])) i++;
        if (i == start) return false;
    }
    if (i == n) return false;
    if (is_upper(s[i], 'Z', any_case)) return i + 1 == n;
    if ((s[i] != '+' && s[i] != '-') || n - i != 6) return false;
    const char *o = s + i + 1;
    return all_digits(o, 2) && o[2] == ':' && all_digits(o + 3, 2) && two(o) <= 23 && two(o + 3) <= 59;
}

bool aop_is_datetime(const char *s, size_t n) { return datetime(s, n, false); }
bool aop_is_datetime_read(const char *s, size_t n) { return datetime(s, n, true); }

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (the civil-from-days
 * inverse: years counted from March, so the leap day ends a year). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool aop_datetime_ms(const char *s, size_t n, int64_t *out) {
    if (!s || !datetime(s, n, true)) return false;
    int64_t year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + two(s + 2);
    /* a leap second (":60") reads as the last millisecond of its minute: the order of times stays */
    int sec = two(s + 17);
    int64_t ms = ((days_from_civil(year, two(s + 5), two(s + 8)) * 24 + two(s + 11)) * 60 + two(s + 14)) * 60000 +
                 (sec > 59 ? 59999 : (int64_t)sec * 1000);
    size_t i = 19;
    if (s[i] == '.') {
        int64_t frac = 0, scale = 100;
        for (i++; i < n && digit(s[i]); i++, scale /= 10) frac += (s[i] - '0') * scale;
        if (sec <= 59) ms += frac;
    }
    if (s[i] == '+' || s[i] == '-') {
        int64_t offset = ((int64_t)two(s + i + 1) * 60 + two(s + i + 4)) * 60000;
        ms += s[i] == '+' ? -offset : offset;
    }
    *out = ms;
    return true;
}

bool aop_is_amount(const char *s, size_t n) {
    return n > 0 && all_digits(s, n) && (n == 1 || s[0] != '0');
}

bool aop_is_currency(const char *s, size_t n) {
    return n == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' &&
           s[2] <= 'Z';
}

bool aop_is_decimal(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && digit(s[i])) i++;
    if (i == 0) return false;
    if (i == n) return true;
    if (s[i] != '.') return false;
    size_t frac = ++i;
    while (i < n && digit(s[i])) i++;
    return i > frac && i == n;
}

/* Validates UTF-8 (no NUL, no overlong, no surrogate, <= U+10FFFF) and counts UTF-16 units. */
bool aop_utf8_units(const char *str, size_t n, size_t *units) {
    const unsigned char *s = (const unsigned char *)str;
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t u = 0, i = 0;
    while (i < n) {
        if (n >= 8) {
            /* Eight bytes at a time while they are all 0x01..0x7F (one unit each): then no byte
             * has its high bit set, and none borrows when 1 is subtracted (only a 0 byte does,
             * and the lowest 0 byte then becomes 0xFF). The last word of the string overlaps
             * bytes already counted: when it is all ASCII, so are the bytes from i on. */
            size_t at = n - i >= 8 ? i : n - 8;
            uint64_t v;
            memcpy(&v, s + at, 8);
            if (!(((v - ones) | v) & highs)) {
                u += at + 8 - i;
                i = at + 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c >= 0x01 && c < 0x80) {
            i++;
            u++;
            continue;
        }
        if (c == 0) return false;
        size_t len;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        u += len == 4 ? 2 : 1;
        i += len;
    }
    *units = u;
    return true;
}

bool aop_is_utf8(const char *s, size_t n) {
    size_t units;
    return aop_utf8_units(s, n, &units);
}

bool aop_has_control(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c < 0x20 || c == 0x7F) return true;
        /* C1: U+0080..U+009F are 0xC2 0x80..0x9F; in valid UTF-8 a 0xC2 is always a lead byte */
        if (c == 0xC2 && i + 1 < n && s[i + 1] < 0xA0) return true;
    }
    return false;
}

size_t aop_utf16_len(const char *s, size_t n) {
    size_t units = 0;
    return aop_utf8_units(s, n, &units) ? units : 0;
}

int aop_enum_from_text(const aop_enum_desc_t *e, const char *s, size_t n) {
    if (!s) return 0;
    unsigned lo = 0, hi = e->count;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        unsigned v = e->sorted[mid];
        size_t vn = e->lens[v - 1];
        int c = memcmp(e->values[v - 1], s, vn < n ? vn : n);
        if (c == 0) c = (vn > n) - (vn < n);
        if (c == 0) return (int)v;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

const char *aop_enum_text(const aop_enum_desc_t *e, int v) {
    return (v >= 1 && (unsigned)v <= e->count) ? e->values[v - 1] : NULL;
}

static int cmp_text(const char *a, const char *b, size_t bn) {
    size_t an = strlen(a);
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

const aop_result_code_t *aop_result_code_find(const aop_result_table_t *t, const char *code,
                                              size_t n) {
    if (!t || !code) return NULL;
    unsigned lo = 0, hi = t->count;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = cmp_text(t->by_code[mid]->code, code, n);
        if (c == 0) return t->by_code[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const aop_result_code_t *aop_result_code_find_id(const aop_result_table_t *t, const char *id,
                                                 size_t n) {
    if (!t || !id) return NULL;
    unsigned lo = 0, hi = t->n_ids;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = cmp_text(t->by_id[mid]->id, id, n);
        if (c == 0) return t->by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool aop_result_code_in(const aop_result_code_t *rc, unsigned cls) {
    return rc != NULL && (rc->classes & cls) != 0;
}
