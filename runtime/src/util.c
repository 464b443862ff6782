/* Small helpers: request ids, timestamps and masking. */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aop/client.h"

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

void aop_now_rfc3339(char out[32]) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0) off = -off;
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, "%c%02ld:%02ld", sign, (off / 60) % 24, off % 60);
}

void aop_mask(const char *s, size_t n, char *out, size_t cap) {
    if (!cap) return;
    size_t keep = n >= 8 ? 2 : 0, o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        out[o++] = (i < keep || i >= n - keep) ? s[i] : '*';
    out[o] = '\0';
}
