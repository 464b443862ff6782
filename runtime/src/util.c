/* Small helpers: request ids, timestamps and masking. */
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aop/util.h"

aop_status_t aop_uuid(char out[37]) {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) return AOP_E_CRYPTO;
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return AOP_OK;
}

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
