/* SPDX-License-Identifier: MIT */
/* Small helpers: request ids, timestamps, masking and terminal-safe text. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "aop/util.h"
#include "utf8_internal.h"

/* Ids need unpredictable, unique bytes, not a DRBG of their own: the kernel's generator gives
 * them without setting up OpenSSL's (which the first signature sets up when it needs it). */
static aop_status_t random_bytes(unsigned char *buf, size_t n) {
    while (n) {
        ssize_t got = getrandom(buf, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return AOP_E_CRYPTO;
        }
        buf += got;
        n -= (size_t)got;
    }
    return AOP_OK;
}

aop_status_t aop_uuid(char out[37]) {
    unsigned char b[16];
    if (random_bytes(b, sizeof b) != AOP_OK) return AOP_E_CRYPTO;
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return AOP_OK;
}

aop_status_t aop_random_chars(char *out, size_t n, const char *alphabet) {
    size_t k = alphabet ? strlen(alphabet) : 0;
    if (k == 0 || k > 255) return AOP_E_INVALID_ARG;
    /* Bytes at or above the largest multiple of k are redrawn, so every character is equally
     * likely (a plain byte % 10 would favour 0-5). */
    const unsigned limit = 256u - 256u % (unsigned)k;
    unsigned char buf[64];
    size_t have = 0, used = 0;
    for (size_t i = 0; i < n;) {
        if (used == have) {
            if (random_bytes(buf, sizeof buf) != AOP_OK) return AOP_E_CRYPTO;
            have = sizeof buf;
            used = 0;
        }
        unsigned b = buf[used++];
        if (b < limit) out[i++] = alphabet[b % k];
    }
    out[n] = '\0';
    return AOP_OK;
}

static int64_t clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t aop_now_ms(void) { return clock_ms(CLOCK_REALTIME); }

int64_t aop_mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

void aop_now_rfc3339(char out[32]) { aop_rfc3339(time(NULL), out); }

void aop_rfc3339(time_t t, char out[32]) {
    struct tm tm;
    localtime_r(&t, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0) off = -off;
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, "%c%02ld:%02ld", sign, (off / 60) % 24, off % 60);
}

static bool continuation(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* Counts and keeps characters, not bytes, so that a multi-byte character is never cut (the
 * masked text stays valid UTF-8 and can go into the event's JSON). The kept ends survive a
 * small buffer by dropping stars first; when even the ends do not fit, only stars remain. */
void aop_mask(const char *s, size_t n, char *out, size_t cap) {
    if (!out || !cap) return;
    if (!s) {
        s = "";
        n = 0;
    }
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += !continuation(s[i]);
    size_t keep = chars >= 8 ? 2 : 0;
    size_t head = 0; /* bytes of the first `keep` characters */
    for (size_t k = 0; k < keep && head < n; k++)
        for (head++; head < n && continuation(s[head]); head++) {
        }
    size_t tail = n; /* the last `keep` characters start here */
    for (size_t k = 0; k < keep && tail > head; k++)
        for (tail--; tail > head && continuation(s[tail]); tail--) {
        }
    size_t tail_len = n - tail, stars = chars - 2 * keep;
    if (keep && head + tail_len + 2 > cap) { /* the ends and one star do not fit */
        head = tail_len = 0;
        stars = chars;
    }
    size_t room = cap - 1 - head - tail_len;
    if (stars > room) stars = room;
    memcpy(out, s, head);
    memset(out + head, '*', stars);
    memcpy(out + head + stars, s + tail, tail_len);
    out[head + stars + tail_len] = '\0';
}

size_t aop_internal_utf8_char(const unsigned char *s, size_t n, unsigned long *cp) {
    unsigned char c = s[0];
    size_t len;
    unsigned long v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

/* Text from the network goes to a cashier's terminal: an ESC or CSI (C1 0x9B, written as
 * U+009B in UTF-8) could move the cursor, rewrite the line or change what the screen says. */
size_t aop_terminal_safe(const char *s, size_t n, char *out, size_t cap) {
    if (!out || !cap) return 0;
    if (!s) n = 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned long cp = 0;
        size_t len = aop_internal_utf8_char(p + i, n - i, &cp);
        bool control = len && (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F));
        size_t emit = len && !control ? len : 1;
        if (o + emit > cap - 1) break; /* a character is copied whole or not at all */
        if (emit == len && !control)
            memcpy(out + o, p + i, len);
        else
            out[o] = '?';
        o += emit;
        i += len ? len : 1; /* a control character is one character; a bad byte, one byte */
    }
    out[o] = '\0';
    return o;
}
