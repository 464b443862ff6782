/* SPDX-License-Identifier: MIT */
/* Private to runtime/src/sign.c and runtime/src/keys.c: the key structures and strict base64. */
#ifndef AOP_SIGN_INTERNAL_H
#define AOP_SIGN_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>
#include "aop/sign.h"

#define AOP_RSA_MIN_BITS 2048u
#define AOP_RSA_MAX_BITS 8192u
#define AOP_SIG_MAX_BYTES (AOP_RSA_MAX_BITS / 8u)

/* The fingerprint of a key, computed when it is first asked for (most processes never ask for
 * the merchant key's): written once under a lock, then read without one once ready is set. */
typedef struct {
    atomic_bool ready;
    char text[AOP_FINGERPRINT_MAX];
} aop_fingerprint_t;

/* Immutable after loading but for the fingerprint (set once, see above): sign and verify only
 * read them, so one key serves many threads. */
struct aop_private_key {
    EVP_PKEY *pkey;
    unsigned bits;
    aop_fingerprint_t fingerprint;
};

struct aop_public_key {
    EVP_PKEY *pkey;
    unsigned bits;
    aop_fingerprint_t fingerprint;
};

/* Strict decoding of standard, padded base64: only A-Z a-z 0-9 + /, '=' only as the final one or
 * two characters of a 4-character group, length a multiple of 4, unused bits zero (so exactly
 * one text decodes to given bytes). skip_ws skips ' ', '\t', '\r', '\n' anywhere. Returns true
 * on success; otherwise *bad_at gets the offset in `in` of the problem and *why a static
 * description. */
bool aop_internal_b64_decode(const char *in, size_t n, bool skip_ws, unsigned char *out, size_t cap,
                             size_t *out_len, size_t *bad_at, const char **why);

#endif
