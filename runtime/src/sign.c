/* RSASSA-PKCS1-v1_5 signing and verification of envelopes (SPEC.md section 2). The keys are in
 * keys.c. Every call makes its own EVP_MD_CTX, so one loaded key serves many threads. */
#include "aop/sign.h"
#include "sign_internal.h"

#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h> /* RSA_PKCS1_PADDING only: no RSA_* functions are used */

const char *aop_sign_type_name(aop_sign_type_t t) {
    switch (t) {
    case AOP_SIGN_RSA2: return "RSA2";
    case AOP_SIGN_RSA: return "RSA";
    }
    return "?";
}

bool aop_sign_type_parse(const char *s, aop_sign_type_t *out) {
    if (!s) return false;
    aop_sign_type_t t;
    if (strcmp(s, "RSA2") == 0)
        t = AOP_SIGN_RSA2;
    else if (strcmp(s, "RSA") == 0)
        t = AOP_SIGN_RSA;
    else
        return false;
    if (out) *out = t;
    return true;
}

static const char *md_name(aop_sign_type_t t) {
    switch (t) {
    case AOP_SIGN_RSA2: return "SHA256";
    case AOP_SIGN_RSA: return "SHA1";
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Strict base64 */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

bool aop_internal_b64_decode(const char *in, size_t n, bool skip_ws, unsigned char *out, size_t cap,
                             size_t *out_len, size_t *bad_at, const char **why) {
    unsigned v[4];
    unsigned q = 0, pad = 0;
    size_t o = 0, chars = 0;
    bool done = false;
#define B64_FAIL(at, text)   \
    do {                     \
        *bad_at = (at);      \
        *why = (text);       \
        return false;        \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (skip_ws && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) continue;
        chars++;
        if (done) B64_FAIL(i, "characters after the '=' padding");
        if (c == '=') {
            if (q < 2) B64_FAIL(i, "misplaced '='");
            v[q++] = 0;
            pad++;
        } else {
            if (pad) B64_FAIL(i, "characters after the '=' padding");
            int x = b64_value(c);
            if (x < 0) B64_FAIL(i, "invalid base64 character");
            v[q++] = (unsigned)x;
        }
        if (q < 4) continue;
        uint32_t w = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        unsigned nbytes = 3 - pad;
        if (pad == 1 && (v[2] & 3)) B64_FAIL(i, "non-zero bits before the '=' padding");
        if (pad == 2 && (v[1] & 15)) B64_FAIL(i, "non-zero bits before the '=' padding");
        if (o + nbytes > cap) B64_FAIL(i, "too long");
        out[o++] = (unsigned char)(w >> 16);
        if (nbytes > 1) out[o++] = (unsigned char)(w >> 8);
        if (nbytes > 2) out[o++] = (unsigned char)w;
        q = 0;
        if (pad) done = true;
    }
    if (chars == 0) B64_FAIL(0, "empty");
    if (q != 0) B64_FAIL(n, "length is not a multiple of 4 (missing '=' padding?)");
#undef B64_FAIL
    *out_len = o;
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Sign and verify */

static bool init_ctx(EVP_MD_CTX *ctx, bool sign, aop_sign_type_t type, EVP_PKEY *pkey) {
    EVP_PKEY_CTX *pctx = NULL;
    int ok = sign ? EVP_DigestSignInit_ex(ctx, &pctx, md_name(type), NULL, NULL, pkey, NULL)
                  : EVP_DigestVerifyInit_ex(ctx, &pctx, md_name(type), NULL, NULL, pkey, NULL);
    return ok == 1 && pctx && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
}

aop_status_t aop_sign(const aop_private_key_t *key, aop_sign_type_t type, const char *data,
                      size_t len, char *out, size_t cap, size_t *out_len, aop_error_t *err) {
    if (out_len) *out_len = 0;
    if (!key || !out || (!data && len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "sign: invalid argument");
    if (!md_name(type))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "sign: unknown sign type %d",
                             (int)type);
    int size = EVP_PKEY_get_size(key->pkey);
    if (size <= 0 || (size_t)size > AOP_SIG_MAX_BYTES)
        return aop_error_set(err, AOP_E_CRYPTO, NULL, -1, "sign: unexpected key size");
    size_t need = 4 * (((size_t)size + 2) / 3);
    if (cap < need + 1) {
        if (out_len) *out_len = need;
        if (cap) out[0] = '\0';
        return aop_error_set(err, AOP_E_BUFFER_TOO_SMALL, NULL, -1,
                             "sign: the signature needs %zu bytes with its NUL; the buffer has %zu",
                             need + 1, cap);
    }
    ERR_clear_error();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "sign: out of memory");
    unsigned char sig[AOP_SIG_MAX_BYTES];
    size_t sig_len = sizeof sig;
    aop_status_t st = AOP_OK;
    if (!init_ctx(ctx, true, type, key->pkey) ||
        EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)(data ? data : ""), len) != 1 ||
        sig_len != (size_t)size) {
        st = aop_error_set(err, AOP_E_CRYPTO, NULL, -1, "sign: %s signing failed",
                           aop_sign_type_name(type));
    } else {
        int n = EVP_EncodeBlock((unsigned char *)out, sig, (int)sig_len);
        if (out_len) *out_len = (size_t)n;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return st;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

aop_status_t aop_verify(const aop_public_key_t *key, aop_sign_type_t type, const char *data,
                        size_t len, const char *sig, size_t sig_len, aop_error_t *err) {
    if (!key || (!data && len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "verify: invalid argument");
    if (!md_name(type))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "verify: unknown sign type %d",
                             (int)type);
    if (!sig || sig_len == 0)
        return aop_error_set(err, AOP_E_SIGNATURE_MISSING, NULL, -1, "signature is missing");

    /* Undo %XX escapes (and nothing else: '+' stays '+'). */
    char b64[AOP_SIG_B64_MAX];
    size_t b64_len = 0;
    for (size_t i = 0; i < sig_len; i++) {
        unsigned char c = (unsigned char)sig[i];
        if (c == '%') {
            int hi = i + 2 < sig_len ? hex_value((unsigned char)sig[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value((unsigned char)sig[i + 2]) : -1;
            if (lo < 0)
                return aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                                     "signature: malformed %%-escape at offset %zu", i);
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (b64_len >= sizeof b64 - 1)
            return aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                                 "signature: longer than %d base64 characters",
                                 AOP_SIG_B64_MAX - 1);
        b64[b64_len++] = (char)c;
    }

    unsigned char raw[AOP_SIG_MAX_BYTES];
    size_t raw_len = 0, bad_at = 0;
    const char *why = NULL;
    if (!aop_internal_b64_decode(b64, b64_len, false, raw, sizeof raw, &raw_len, &bad_at, &why))
        return aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                             "signature: not valid base64 (%s at offset %zu)", why, bad_at);
    int size = EVP_PKEY_get_size(key->pkey);
    if (size <= 0 || raw_len != (size_t)size)
        return aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                             "signature: %zu bytes, but the key's signatures are %d bytes", raw_len,
                             size);

    ERR_clear_error();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "verify: out of memory");
    aop_status_t st = AOP_OK;
    if (!init_ctx(ctx, false, type, key->pkey))
        st = aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                           "verify: cannot set up %s verification", aop_sign_type_name(type));
    else if (EVP_DigestVerify(ctx, raw, raw_len, (const unsigned char *)(data ? data : ""), len) != 1)
        st = aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                           "signature does not verify (%s, %s) with public key %s",
                           aop_sign_type_name(type), type == AOP_SIGN_RSA2 ? "SHA-256" : "SHA-1",
                           key->fingerprint);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return st;
}
