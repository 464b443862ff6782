/* SPDX-License-Identifier: MIT */
/* RSASSA-PKCS1-v1_5 signing and verification of envelopes (SPEC.md section 2). The keys are in
 * keys.c. A signer/verifier (aop/signer.h) holds the EVP contexts of one client; the keys are
 * only read, so one loaded key serves many clients in many threads. */
#include "aop/sign.h"
#include "aop/signer.h"
#include "sign_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
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

/* The value of each byte, 64 for any byte outside the alphabet ('=' included). */
static const unsigned char b64_table[256] = {
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64, 64, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
    64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 64,
    64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
};

bool aop_internal_b64_decode(const char *in, size_t n, bool skip_ws, unsigned char *out, size_t cap,
                             size_t *out_len, size_t *bad_at, const char **why) {
    unsigned v[4];
    unsigned q = 0, pad = 0;
    size_t o = 0, chars = 0;
    bool done = false;
    size_t i = 0;
    /* Fast path (a signature has no whitespace): whole groups of four alphabet characters
     * before the last group, one table load per character. The first group that has anything
     * else (padding, a bad byte) and the last group are left to the exact loop below, which
     * also reports the errors. */
    if (!skip_ws) {
        const unsigned char *u = (const unsigned char *)in;
        while (i + 4 < n && o + 3 <= cap) {
            unsigned a = b64_table[u[i]], b = b64_table[u[i + 1]], c = b64_table[u[i + 2]], d = b64_table[u[i + 3]];
            if ((a | b | c | d) & 64) break;
            uint32_t w = (uint32_t)(a << 18 | b << 12 | c << 6 | d);
            out[o] = (unsigned char)(w >> 16);
            out[o + 1] = (unsigned char)(w >> 8);
            out[o + 2] = (unsigned char)w;
            o += 3;
            i += 4;
            chars += 4;
        }
    }
#define B64_FAIL(at, text)   \
    do {                     \
        *bad_at = (at);      \
        *why = (text);       \
        return false;        \
    } while (0)
    for (; i < n; i++) {
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

struct aop_signer {
    const aop_private_key_t *key;
    aop_sign_type_t type;
    int size;             /* bytes of a signature */
    EVP_MD_CTX *tmpl;     /* initialised once: EVP_DigestSignInit_ex + padding */
    EVP_MD_CTX *work;     /* each signature: a copy of tmpl */
};

struct aop_verifier {
    const aop_public_key_t *key;
    aop_sign_type_t type;
    int size;
    EVP_MD_CTX *tmpl;
    EVP_MD_CTX *work;
};

static bool init_ctx(EVP_MD_CTX *ctx, bool sign, aop_sign_type_t type, EVP_PKEY *pkey) {
    EVP_PKEY_CTX *pctx = NULL;
    int ok = sign ? EVP_DigestSignInit_ex(ctx, &pctx, md_name(type), NULL, NULL, pkey, NULL)
                  : EVP_DigestVerifyInit_ex(ctx, &pctx, md_name(type), NULL, NULL, pkey, NULL);
    if (ok != 1 || !pctx || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
    /* One signature per context: without this flag, the final step duplicates the provider
     * context so that more data could follow, which never happens here. */
    EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
    return true;
}

/* Makes the template and the working context of a signer or verifier. */
static aop_status_t make_ctxs(bool sign, aop_sign_type_t type, EVP_PKEY *pkey, EVP_MD_CTX **tmpl,
                              EVP_MD_CTX **work, aop_error_t *err) {
    const char *what = sign ? "sign" : "verify";
    ERR_clear_error();
    *tmpl = EVP_MD_CTX_new();
    *work = EVP_MD_CTX_new();
    if (!*tmpl || !*work) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "%s: out of memory", what);
    aop_status_t st = AOP_OK;
    if (!init_ctx(*tmpl, sign, type, pkey))
        st = aop_error_set(err, AOP_E_CRYPTO, NULL, -1, "%s: cannot set up %s %s", what,
                           aop_sign_type_name(type), sign ? "signing" : "verification");
    ERR_clear_error();
    return st;
}

static aop_status_t check_new_args(const void *key, aop_sign_type_t type, const void *out, const char *what,
                                   aop_error_t *err) {
    if (!key || !out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "%s: invalid argument", what);
    if (!md_name(type))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "%s: unknown sign type %d", what, (int)type);
    return AOP_OK;
}

aop_status_t aop_signer_new(const aop_private_key_t *key, aop_sign_type_t type, aop_signer_t **out,
                            aop_error_t *err) {
    if (out) *out = NULL;
    aop_status_t st = check_new_args(key, type, out, "sign", err);
    if (st != AOP_OK) return st;
    int size = EVP_PKEY_get_size(key->pkey);
    if (size <= 0 || (size_t)size > AOP_SIG_MAX_BYTES)
        return aop_error_set(err, AOP_E_CRYPTO, NULL, -1, "sign: unexpected key size");
    aop_signer_t *s = calloc(1, sizeof *s);
    if (!s) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "sign: out of memory");
    s->key = key;
    s->type = type;
    s->size = size;
    st = make_ctxs(true, type, key->pkey, &s->tmpl, &s->work, err);
    if (st != AOP_OK) {
        aop_signer_free(s);
        return st;
    }
    *out = s;
    return AOP_OK;
}

void aop_signer_free(aop_signer_t *s) {
    if (!s) return;
    EVP_MD_CTX_free(s->tmpl);
    EVP_MD_CTX_free(s->work);
    free(s);
}

aop_sign_type_t aop_signer_type(const aop_signer_t *s) { return s->type; }

aop_status_t aop_signer_sign(aop_signer_t *s, const char *data, size_t len, char *out, size_t cap,
                             size_t *out_len, aop_error_t *err) {
    if (out_len) *out_len = 0;
    if (!s || !out || (!data && len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "sign: invalid argument");
    size_t need = 4 * (((size_t)s->size + 2) / 3);
    if (cap < need + 1) {
        if (out_len) *out_len = need;
        if (cap) out[0] = '\0';
        return aop_error_set(err, AOP_E_BUFFER_TOO_SMALL, NULL, -1,
                             "sign: the signature needs %zu bytes with its NUL; the buffer has %zu",
                             need + 1, cap);
    }
    ERR_clear_error();
    unsigned char sig[AOP_SIG_MAX_BYTES];
    size_t sig_len = sizeof sig;
    aop_status_t st = AOP_OK;
    if (EVP_MD_CTX_copy_ex(s->work, s->tmpl) != 1 ||
        EVP_DigestSign(s->work, sig, &sig_len, (const unsigned char *)(data ? data : ""), len) != 1 ||
        sig_len != (size_t)s->size) {
        st = aop_error_set(err, AOP_E_CRYPTO, NULL, -1, "sign: %s signing failed",
                           aop_sign_type_name(s->type));
    } else {
        int n = EVP_EncodeBlock((unsigned char *)out, sig, (int)sig_len);
        if (out_len) *out_len = (size_t)n;
    }
    OPENSSL_cleanse(sig, sizeof sig);
    ERR_clear_error();
    return st;
}

aop_status_t aop_sign(const aop_private_key_t *key, aop_sign_type_t type, const char *data,
                      size_t len, char *out, size_t cap, size_t *out_len, aop_error_t *err) {
    if (out_len) *out_len = 0;
    if (!key || !out || (!data && len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "sign: invalid argument");
    aop_signer_t *s = NULL;
    aop_status_t st = aop_signer_new(key, type, &s, err);
    if (st == AOP_OK) st = aop_signer_sign(s, data, len, out, cap, out_len, err);
    aop_signer_free(s);
    return st;
}

aop_status_t aop_verifier_new(const aop_public_key_t *key, aop_sign_type_t type, aop_verifier_t **out,
                              aop_error_t *err) {
    if (out) *out = NULL;
    aop_status_t st = check_new_args(key, type, out, "verify", err);
    if (st != AOP_OK) return st;
    aop_verifier_t *v = calloc(1, sizeof *v);
    if (!v) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "verify: out of memory");
    v->key = key;
    v->type = type;
    v->size = EVP_PKEY_get_size(key->pkey);
    st = make_ctxs(false, type, key->pkey, &v->tmpl, &v->work, err);
    if (st != AOP_OK) {
        aop_verifier_free(v);
        return st;
    }
    *out = v;
    return AOP_OK;
}

void aop_verifier_free(aop_verifier_t *v) {
    if (!v) return;
    EVP_MD_CTX_free(v->tmpl);
    EVP_MD_CTX_free(v->work);
    free(v);
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The raw signature bytes of sig: %XX escapes undone (and nothing else: '+' stays '+'), then
 * strict base64, then the key's signature size. */
static aop_status_t decode_sig(const char *sig, size_t sig_len, int size, unsigned char raw[AOP_SIG_MAX_BYTES],
                               size_t *raw_len, aop_error_t *err) {
    if (!sig || sig_len == 0)
        return aop_error_set(err, AOP_E_SIGNATURE_MISSING, NULL, -1, "signature is missing");
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
    size_t bad_at = 0;
    const char *why = NULL;
    if (!aop_internal_b64_decode(b64, b64_len, false, raw, AOP_SIG_MAX_BYTES, raw_len, &bad_at, &why))
        return aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                             "signature: not valid base64 (%s at offset %zu)", why, bad_at);
    if (size <= 0 || *raw_len != (size_t)size)
        return aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                             "signature: %zu bytes, but the key's signatures are %d bytes", *raw_len,
                             size);
    return AOP_OK;
}

aop_status_t aop_verifier_verify(aop_verifier_t *v, const char *data, size_t len, const char *sig,
                                 size_t sig_len, aop_error_t *err) {
    if (!v || (!data && len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "verify: invalid argument");
    unsigned char raw[AOP_SIG_MAX_BYTES];
    size_t raw_len = 0;
    aop_status_t st = decode_sig(sig, sig_len, v->size, raw, &raw_len, err);
    if (st != AOP_OK) return st;
    ERR_clear_error();
    if (EVP_MD_CTX_copy_ex(v->work, v->tmpl) != 1)
        st = aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                           "verify: cannot set up %s verification", aop_sign_type_name(v->type));
    else if (EVP_DigestVerify(v->work, raw, raw_len, (const unsigned char *)(data ? data : ""), len) != 1) {
        char fp[AOP_FINGERPRINT_MAX];
        aop_public_key_fingerprint(v->key, fp);
        st = aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1,
                           "signature does not verify (%s, %s) with public key %s",
                           aop_sign_type_name(v->type), v->type == AOP_SIGN_RSA2 ? "SHA-256" : "SHA-1", fp);
    }
    ERR_clear_error();
    return st;
}

aop_status_t aop_verify(const aop_public_key_t *key, aop_sign_type_t type, const char *data,
                        size_t len, const char *sig, size_t sig_len, aop_error_t *err) {
    if (!key || (!data && len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "verify: invalid argument");
    if (!md_name(type))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "verify: unknown sign type %d",
                             (int)type);
    aop_verifier_t *v = NULL;
    aop_status_t st = aop_verifier_new(key, type, &v, err);
    if (st == AOP_E_CRYPTO) /* as ever: a response that cannot be checked is not trusted */
        st = aop_error_set(err, AOP_E_SIGNATURE_INVALID, NULL, -1, "verify: cannot set up %s verification",
                           aop_sign_type_name(type));
    if (st == AOP_OK) st = aop_verifier_verify(v, data, len, sig, sig_len, err);
    aop_verifier_free(v);
    return st;
}

aop_status_t aop_sign_use_hash_drbg(void) {
    int ok = RAND_set_DRBG_type(NULL, "HASH-DRBG", NULL, NULL, "SHA256");
    ERR_clear_error();
    return ok == 1 ? AOP_OK : AOP_E_CRYPTO;
}
