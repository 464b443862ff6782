/* SPDX-License-Identifier: MIT */
/* aop_json_tokens_needed: how many tokens a body needs, so the workspace reserved for an answer
 * follows what was received rather than the worst case for its length (issue 8).
 *
 * Every token but the first is introduced by the byte before it (whitespace aside): a key by '{'
 * or ',', a member's value by ':', an element by '[' or ','. Each such byte outside strings
 * introduces at most one token (an empty container's opening bracket none), so 1 + their number
 * is exact without empty containers and an upper bound always. For an invalid body the count over
 * any prefix the parser accepted covers every token of that prefix, and the count only grows with
 * more bytes, so a workspace of this size lets the parser reach the body's real error.
 *
 * It runs on every answer before parsing, so it is done 64 bytes at a time with bit masks (one bit
 * per byte): quotes that are not escaped delimit strings, and a prefix XOR of them marks the bytes
 * inside strings. SSE2 (every x86-64) builds the masks; elsewhere a plain loop does. */
#include "aop/json.h"

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(AOP_JSON_COUNT_PORTABLE)
#include <emmintrin.h>
#endif

typedef struct {
    uint64_t quote;  /* '"' */
    uint64_t bslash; /* '\\' */
    uint64_t intro;  /* '{' '[' ',' ':' */
} masks_t;

#if defined(__SSE2__) && !defined(AOP_JSON_COUNT_PORTABLE)
/* The masks of 16 bytes, at bit k of each. '[' is 0x5B and '{' 0x7B: one comparison after
 * setting bit 5 finds both. */
#define CLASSIFY16(k)                                                                              \
    do {                                                                                           \
        const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + (k)));               \
        const __m128i in = _mm_or_si128(_mm_cmpeq_epi8(_mm_or_si128(v, x20), br),                 \
                                        _mm_or_si128(_mm_cmpeq_epi8(v, co), _mm_cmpeq_epi8(v, cl))); \
        m.quote |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q)) << (k);            \
        m.bslash |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bs)) << (k);          \
        m.intro |= (uint64_t)(uint32_t)_mm_movemask_epi8(in) << (k);                              \
    } while (0)
#endif

__attribute__((always_inline)) static inline masks_t classify(const unsigned char *b) {
    masks_t m = {0, 0, 0};
#if defined(__SSE2__) && !defined(AOP_JSON_COUNT_PORTABLE)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), co = _mm_set1_epi8(','),
                  cl = _mm_set1_epi8(':'), br = _mm_set1_epi8('{'), x20 = _mm_set1_epi8(0x20);
    CLASSIFY16(0);
    CLASSIFY16(16);
    CLASSIFY16(32);
    CLASSIFY16(48);
#else
    for (unsigned i = 0; i < 64; i++) {
        const unsigned char c = b[i];
        m.quote |= (uint64_t)(c == '"') << i;
        m.bslash |= (uint64_t)(c == '\\') << i;
        m.intro |= (uint64_t)(c == '{' || c == '[' || c == ',' || c == ':') << i;
    }
#endif
    return m;
}

/* The bytes escaped by a backslash. *carry: in, 1 when the block's first byte is escaped by the
 * previous block's last backslash; out, the same for the next block. A backslash that is itself
 * escaped escapes nothing (in "a\\" the second quote ends the string). */
static uint64_t escaped_bytes(uint64_t bs, uint64_t *carry) {
    uint64_t esc = *carry;
    bs &= ~esc;
    *carry = 0;
    while (bs) {
        const unsigned i = (unsigned)__builtin_ctzll(bs);
        if (i == 63) {
            *carry = 1;
            break;
        }
        esc |= (uint64_t)2 << i;
        bs &= ~((uint64_t)3 << i);
    }
    return esc;
}

/* Bit i set when an odd number of bits 0..i of x are. */
__attribute__((always_inline)) static inline uint64_t prefix_xor(uint64_t x) {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

__attribute__((always_inline)) static inline unsigned popcount64(uint64_t x) {
#if defined(__POPCNT__)
    return (unsigned)__builtin_popcountll(x);
#else /* without the instruction, GCC would call libgcc */
    x -= (x >> 1) & 0x5555555555555555u;
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Fu;
    return (unsigned)((x * 0x0101010101010101u) >> 56);
#endif
}

/* The introducing bytes outside strings in one 64-byte block. *inside: all ones when the block
 * starts inside a string; updated for the next block. */
__attribute__((always_inline)) static inline unsigned count_block(const unsigned char *b, uint64_t *inside, uint64_t *carry) {
    const masks_t m = classify(b);
    uint64_t quote = m.quote;
    if (m.bslash | *carry) quote &= ~escaped_bytes(m.bslash, carry);
    const uint64_t in = prefix_xor(quote) ^ *inside;
    *inside = (uint64_t)0 - (in >> 63);
    return popcount64(m.intro & ~in);
}

unsigned aop_json_tokens_needed(const char *buf, size_t len) {
    const unsigned bound = aop_json_tokens_bound(len);
    if (!buf) return 1;
    if (len > AOP_JSON_MAX_BODY) len = AOP_JSON_MAX_BODY; /* refused before any token */
    const unsigned char *p = (const unsigned char *)buf;
    uint64_t inside = 0, carry = 0;
    size_t n = 1, i = 0;
    for (; len - i >= 64; i += 64) n += count_block(p + i, &inside, &carry);
    if (i < len) { /* the last bytes, padded with NULs (no class) */
        unsigned char last[64] = {0};
        memcpy(last, p + i, len - i);
        n += count_block(last, &inside, &carry);
    }
    return n < bound ? (unsigned)n : bound;
}
