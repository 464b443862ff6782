/* SPDX-License-Identifier: MIT */
/* aop_buf_t: a growable byte buffer (runtime/include/aop/transport.h).
 *
 * Growth doubles the capacity (at least 64 bytes) with every size computation checked for
 * overflow; on failure the buffer is left exactly as it was and AOP_E_NOMEM is returned.
 * aop_buf_append keeps one NUL byte after data[len] (not counted in len), so a received body can
 * also be handed to code that wants a C string; nothing else depends on it. */
#include "aop/transport.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AOP_BUF_MIN_CAP 64u

aop_status_t aop_buf_reserve(aop_buf_t *b, size_t cap) {
    if (!b) return AOP_E_INVALID_ARG;
    if (cap <= b->cap) return AOP_OK;

    size_t ncap = b->cap < AOP_BUF_MIN_CAP ? AOP_BUF_MIN_CAP : b->cap;
    while (ncap < cap) {
        if (ncap > SIZE_MAX / 2) {
            ncap = cap; /* doubling would overflow: take exactly what was asked */
            break;
        }
        ncap *= 2;
    }
    char *p = realloc(b->data, ncap);
    if (!p) return AOP_E_NOMEM;
    b->data = p;
    b->cap = ncap;
    return AOP_OK;
}

aop_status_t aop_buf_append(aop_buf_t *b, const void *p, size_t n) {
    if (!b || (!p && n)) return AOP_E_INVALID_ARG;
    if (b->len > SIZE_MAX - 1 || n > SIZE_MAX - 1 - b->len) return AOP_E_NOMEM;
    aop_status_t st = aop_buf_reserve(b, b->len + n + 1);
    if (st != AOP_OK) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return AOP_OK;
}

void aop_buf_free(aop_buf_t *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
