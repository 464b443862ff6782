/* SPDX-License-Identifier: MIT */
/* RSA keys for signing (SPEC.md section 2): loading with errors that name what was found,
 * fingerprints, the key pair check, and key generation. OpenSSL 3 EVP/decoder APIs only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, mkostemp, GNU strerror_r */
#endif

#include "aop/sign.h"
#include "file_internal.h"
#include "sign_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define KEY_FILE_MAX (64u * 1024u)
#define MAX_PEM_BLOCKS 16
#define LABEL_SHOW_MAX 40

/* ---------------------------------------------------------------------------------------------
 * Small helpers */

/* The reason of the last OpenSSL error, as " (OpenSSL: ...)", or "". Never key material. */
static const char *ossl_reason(char *buf, size_t cap) {
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (!r) return "";
    snprintf(buf, cap, " (OpenSSL: %s)", r);
    return buf;
}

static const char *errno_text(int e, char *buf, size_t cap) {
    return strerror_r(e, buf, cap); /* GNU variant */
}

static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool all_ws(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_ws((unsigned char)s[i])) return false;
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Fingerprints: SHA-256 of the key's DER SubjectPublicKeyInfo. The DER is written here from n and
 * e (rsaEncryption with NULL parameters: check_rsa lets no other key in) rather than by
 * i2d_PUBKEY, whose encoder framework (OpenSSL 3.0) costs a process more to set up than loading
 * both keys; DER has one encoding, so the bytes are the same. */

/* The DER length octets of n into out (NULL: only counted); returns how many. */
static size_t der_length(unsigned char *out, size_t n) {
    if (n < 0x80) {
        if (out) out[0] = (unsigned char)n;
        return 1;
    }
    size_t k = 0;
    for (size_t v = n; v; v >>= 8) k++;
    if (out) {
        out[0] = (unsigned char)(0x80 | k);
        for (size_t i = 0; i < k; i++) out[1 + i] = (unsigned char)(n >> (8 * (k - 1 - i)));
    }
    return 1 + k;
}

/* tag, length, then the content's first byte (NULL: none) and len more bytes at at (NULL: not
 * written, counted). Returns the bytes of the whole element. */
static size_t der_put(unsigned char *out, unsigned char tag, size_t len, const unsigned char *lead) {
    size_t h = 1 + der_length(NULL, len + (lead ? 1 : 0));
    if (out) {
        out[0] = tag;
        der_length(out + 1, len + (lead ? 1 : 0));
        if (lead) out[h] = *lead;
    }
    return h + (lead ? 1 : 0);
}

/* A non-negative INTEGER: its magnitude, with a 0x00 in front when the top bit is set. */
static size_t der_int(unsigned char *out, const BIGNUM *v) {
    size_t n = (size_t)BN_num_bytes(v);
    bool pad = n == 0 || BN_num_bits(v) % 8 == 0;
    static const unsigned char zero = 0;
    size_t h = der_put(out, 0x02, n, pad ? &zero : NULL);
    if (out && n) BN_bn2bin(v, out + h);
    return h + n;
}

/* The SubjectPublicKeyInfo of (n, e) into out (NULL: only counted); returns its length. */
static size_t der_spki(unsigned char *out, const BIGNUM *n, const BIGNUM *e) {
    static const unsigned char alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                        0x0d, 0x01, 0x01, 0x01, 0x05, 0x00}; /* rsaEncryption, NULL */
    static const unsigned char unused_bits = 0;
    size_t ints = der_int(NULL, n) + der_int(NULL, e);
    size_t rsa = der_put(NULL, 0x30, ints, NULL) + ints;
    size_t bits = der_put(NULL, 0x03, rsa, &unused_bits) + rsa;
    size_t body = sizeof alg + bits;
    size_t total = der_put(NULL, 0x30, body, NULL) + body;
    if (!out) return total;
    unsigned char *p = out;
    p += der_put(p, 0x30, body, NULL);
    memcpy(p, alg, sizeof alg);
    p += sizeof alg;
    p += der_put(p, 0x03, rsa, &unused_bits);
    p += der_put(p, 0x30, ints, NULL);
    p += der_int(p, n);
    der_int(p, e);
    return total;
}

static aop_status_t fingerprint_of(EVP_PKEY *pkey, char out[AOP_FINGERPRINT_MAX]) {
    BIGNUM *n = NULL, *e = NULL;
    unsigned char *der = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    aop_status_t st = AOP_E_CRYPTO;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1) {
        size_t len = der_spki(NULL, n, e);
        if ((der = malloc(len)) != NULL && der_spki(der, n, e) == len &&
            EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32)
            st = AOP_OK;
    }
    free(der);
    BN_free(n);
    BN_free(e);
    ERR_clear_error();
    if (st != AOP_OK) return st;
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "SHA256:", 7);
    for (unsigned i = 0; i < mdlen; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[7 + 2 * mdlen] = '\0';
    return AOP_OK;
}

/* fp's text, computed on first use; "" when it could not be (out of memory), and then tried
 * again on the next call. */
static const char *key_fingerprint(EVP_PKEY *pkey, aop_fingerprint_t *fp) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    if (!atomic_load_explicit(&fp->ready, memory_order_acquire)) {
        pthread_mutex_lock(&lock);
        if (!atomic_load_explicit(&fp->ready, memory_order_relaxed)) {
            if (fingerprint_of(pkey, fp->text) == AOP_OK) atomic_store_explicit(&fp->ready, true, memory_order_release);
            else fp->text[0] = '\0'; /* asked again next time */
        }
        pthread_mutex_unlock(&lock);
    }
    return fp->text;
}

/* ---------------------------------------------------------------------------------------------
 * Decoding */

typedef struct {
    const char *pass; /* NULL or "" = none given */
    bool asked;       /* the decoder wanted a passphrase */
} pw_t;

/* Gives the configured passphrase, or fails: OpenSSL never prompts on a terminal. */
static int pw_cb(char *buf, size_t size, size_t *outlen, const OSSL_PARAM params[], void *arg) {
    (void)params;
    pw_t *pw = arg;
    pw->asked = true;
    if (!pw->pass || !*pw->pass) return 0;
    size_t n = strlen(pw->pass);
    if (n > size) return 0;
    memcpy(buf, pw->pass, n);
    *outlen = n;
    return 1;
}

/* Decodes one object. input "PEM" or "DER"; structure and keytype may be NULL. */
static EVP_PKEY *decode_key(const void *data, size_t len, const char *input, const char *structure,
                            const char *keytype, int selection, pw_t *pw) {
    EVP_PKEY *pkey = NULL;
    pw_t none = {NULL, false};
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, input, structure, keytype, selection, NULL, NULL);
    if (!dctx) return NULL;
    if (OSSL_DECODER_CTX_get_num_decoders(dctx) == 0 ||
        OSSL_DECODER_CTX_set_passphrase_cb(dctx, pw_cb, pw ? pw : &none) != 1) {
        OSSL_DECODER_CTX_free(dctx);
        return NULL;
    }
    const unsigned char *p = data;
    size_t left = len;
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

/* ---------------------------------------------------------------------------------------------
 * PEM scanning: find the "-----BEGIN <label>-----" ... "-----END <label>-----" blocks so errors
 * can name what was found, and hand the decoder only the block that matters. */

typedef struct {
    const char *label;
    size_t label_len;
    const char *begin; /* at "-----BEGIN" */
    const char *end;   /* one past "-----END <label>-----", or the end of the text */
    bool complete;     /* the END line was found */
    bool legacy_encrypted; /* "Proc-Type: 4,ENCRYPTED" header (traditional OpenSSL encryption) */
} pem_block_t;

static size_t pem_scan(const char *s, size_t n, pem_block_t *blocks, size_t max) {
    static const char begin_tag[] = "-----BEGIN ";
    size_t count = 0;
    const char *p = s, *end = s + n;
    while (count < max && p < end) {
        const char *b = memmem(p, (size_t)(end - p), begin_tag, sizeof begin_tag - 1);
        if (!b) break;
        pem_block_t *blk = &blocks[count++];
        memset(blk, 0, sizeof *blk);
        blk->begin = b;
        blk->end = end;
        const char *l = b + sizeof begin_tag - 1;
        const char *q = l;
        while (q < end && *q != '\n' && *q != '\r' && !(end - q >= 5 && memcmp(q, "-----", 5) == 0))
            q++;
        if (!(end - q >= 5 && memcmp(q, "-----", 5) == 0)) {
            blk->label = l; /* unterminated BEGIN line */
            blk->label_len = 0;
            break;
        }
        blk->label = l;
        blk->label_len = (size_t)(q - l);
        char endline[96];
        if (blk->label_len > sizeof endline - 20) break;
        int el = snprintf(endline, sizeof endline, "-----END %.*s-----", (int)blk->label_len, l);
        const char *after = q + 5;
        const char *e = memmem(after, (size_t)(end - after), endline, (size_t)el);
        if (!e) break;
        blk->end = e + el;
        blk->complete = true;
        blk->legacy_encrypted =
            memmem(after, (size_t)(e - after), "Proc-Type: 4,ENCRYPTED", 22) != NULL;
        p = blk->end;
    }
    return count;
}

static bool label_is(const pem_block_t *b, const char *label) {
    size_t n = strlen(label);
    return b->label_len == n && memcmp(b->label, label, n) == 0;
}

static bool label_has(const pem_block_t *b, const char *needle) {
    return b->label_len && memmem(b->label, b->label_len, needle, strlen(needle)) != NULL;
}

static int show_len(const pem_block_t *b) {
    return (int)(b->label_len > LABEL_SHOW_MAX ? LABEL_SHOW_MAX : b->label_len);
}

static bool is_private_label(const pem_block_t *b) {
    return label_is(b, "RSA PRIVATE KEY") || label_is(b, "PRIVATE KEY") ||
           label_is(b, "ENCRYPTED PRIVATE KEY");
}

static bool is_public_label(const pem_block_t *b) {
    return label_is(b, "PUBLIC KEY") || label_is(b, "RSA PUBLIC KEY");
}

/* The PEM block's key. The usual labels are decoded as RSA in their one structure first: the
 * decoder then builds a chain of a few decoders instead of one per key type and format, the
 * largest part of loading a key. Anything else, or a key that does not decode so (another key
 * type, for the error that names it), goes through every decoder. */
static EVP_PKEY *decode_hinted(const pem_block_t *b, int selection, pw_t *pw) {
    size_t len = (size_t)(b->end - b->begin);
    const char *structure = label_is(b, "PRIVATE KEY")     ? "PrivateKeyInfo"
                            : label_is(b, "RSA PRIVATE KEY") && !b->legacy_encrypted ? "type-specific"
                            : label_is(b, "PUBLIC KEY")    ? "SubjectPublicKeyInfo"
                                                           : NULL;
    EVP_PKEY *pkey = structure ? decode_key(b->begin, len, "PEM", structure, "RSA", selection, pw) : NULL;
    if (!pkey) {
        ERR_clear_error();
        pkey = decode_key(b->begin, len, "PEM", NULL, NULL, selection, pw);
    }
    return pkey;
}

/* What a bare (unarmored) base64 text decodes to, for messages and for public keys. */
typedef enum {
    BARE_NOT_BASE64,
    BARE_UNKNOWN_DER,
    BARE_SPKI,
    BARE_PKCS8,
    BARE_PKCS8_ENCRYPTED,
    BARE_PKCS1
} bare_kind_t;

/* Classifies DER by its ASN.1 structure (the 3.0 decoders do not enforce the structure name for
 * private keys, so they cannot tell PKCS#1 from PKCS#8). */
static bare_kind_t classify_der(const unsigned char *der, size_t len, EVP_PKEY **spki_out) {
    EVP_PKEY *k = decode_key(der, len, "DER", "SubjectPublicKeyInfo", NULL, EVP_PKEY_PUBLIC_KEY,
                             NULL);
    if (k) {
        if (spki_out)
            *spki_out = k;
        else
            EVP_PKEY_free(k);
        return BARE_SPKI;
    }
    if (len > LONG_MAX) return BARE_UNKNOWN_DER;
    const unsigned char *p = der;
    X509_SIG *epki = d2i_X509_SIG(NULL, &p, (long)len);
    if (epki) {
        X509_SIG_free(epki);
        return BARE_PKCS8_ENCRYPTED;
    }
    p = der;
    PKCS8_PRIV_KEY_INFO *pki = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (pki) {
        PKCS8_PRIV_KEY_INFO_free(pki);
        return BARE_PKCS8;
    }
    k = decode_key(der, len, "DER", "type-specific", "RSA", EVP_PKEY_KEYPAIR, NULL);
    if (k) {
        EVP_PKEY_free(k);
        return BARE_PKCS1;
    }
    return BARE_UNKNOWN_DER;
}

static bare_kind_t bare_decode(const char *text, size_t len, EVP_PKEY **spki_out, size_t *bad_at,
                               const char **why) {
    if (spki_out) *spki_out = NULL;
    size_t cap = len / 4 * 3 + 3;
    unsigned char *der = malloc(cap);
    if (!der) return BARE_NOT_BASE64;
    size_t dl = 0;
    bare_kind_t kind = BARE_NOT_BASE64;
    if (aop_internal_b64_decode(text, len, true, der, cap, &dl, bad_at, why))
        kind = classify_der(der, dl, spki_out);
    OPENSSL_clear_free(der, cap);
    return kind;
}

/* Checks algorithm and size; fills bits. what = "private key" / "public key". */
static aop_status_t check_rsa(EVP_PKEY *pkey, const char *what, const char *found, unsigned *bits,
                              aop_error_t *err) {
    if (!EVP_PKEY_is_a(pkey, "RSA")) {
        const char *t = EVP_PKEY_get0_type_name(pkey);
        return aop_error_set(err, AOP_E_KEY_NOT_RSA, NULL, -1,
                             "%s: found %s holding a key of type %s, not RSA", what, found,
                             t ? t : "unknown");
    }
    int b = EVP_PKEY_get_bits(pkey);
    if (b < (int)AOP_RSA_MIN_BITS)
        return aop_error_set(err, AOP_E_KEY_WEAK, NULL, -1,
                             "%s: found %s holding a %d-bit RSA key; at least %u bits are required",
                             what, found, b, AOP_RSA_MIN_BITS);
    if (b > (int)AOP_RSA_MAX_BITS)
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found %s holding a %d-bit RSA key; at most %u bits are supported",
                             what, found, b, AOP_RSA_MAX_BITS);
    *bits = (unsigned)b;
    return AOP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Private keys */

static aop_status_t load_private(const char *text, size_t len, const char *passphrase,
                                 EVP_PKEY **out, aop_error_t *err) {
    static const char W[] = "private key";
    char why[96];
    if (len == 0 || all_ws(text, len))
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1, "%s: the text is empty", W);

    pem_block_t blocks[MAX_PEM_BLOCKS];
    size_t nb = pem_scan(text, len, blocks, MAX_PEM_BLOCKS);
    if (nb == 0) {
        size_t bad = 0;
        const char *reason = NULL;
        switch (bare_decode(text, len, NULL, &bad, &reason)) {
        case BARE_SPKI:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found bare base64 public key (SPKI): a public key was given "
                                 "where the merchant private key is expected", W);
        case BARE_PKCS8:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found bare base64 PKCS#8 without PEM armor: add the lines "
                                 "'-----BEGIN PRIVATE KEY-----' and '-----END PRIVATE KEY-----'", W);
        case BARE_PKCS8_ENCRYPTED:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found bare base64 encrypted PKCS#8 without PEM armor: add the "
                                 "lines '-----BEGIN ENCRYPTED PRIVATE KEY-----' and "
                                 "'-----END ENCRYPTED PRIVATE KEY-----'", W);
        case BARE_PKCS1:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found bare base64 PKCS#1 without PEM armor: add the lines "
                                 "'-----BEGIN RSA PRIVATE KEY-----' and '-----END RSA PRIVATE KEY-----'",
                                 W);
        case BARE_UNKNOWN_DER:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: not PEM (no '-----BEGIN' line); the text is base64 but not "
                                 "of a key; expected PEM PKCS#1 or PKCS#8", W);
        case BARE_NOT_BASE64:
        default:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: not PEM (no '-----BEGIN' line found); expected PEM PKCS#1 "
                                 "('RSA PRIVATE KEY') or PKCS#8 ('PRIVATE KEY')", W);
        }
    }

    const pem_block_t *pick = NULL;
    size_t npriv = 0;
    for (size_t i = 0; i < nb; i++)
        if (is_private_label(&blocks[i]) && npriv++ == 0) pick = &blocks[i];
    if (npriv > 1)
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found %zu PEM private keys; give exactly one", W, npriv);

    if (!pick) {
        /* Name the most telling block: a "... PRIVATE KEY" one if any, else the first. */
        const pem_block_t *b = &blocks[0];
        for (size_t i = 0; i < nb; i++)
            if (label_has(&blocks[i], "PRIVATE KEY")) {
                b = &blocks[i];
                break;
            }
        int sl = show_len(b);
        if (b->label_len == 0)
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: malformed PEM: the '-----BEGIN' line has no closing '-----'", W);
        if (label_is(b, "EC PRIVATE KEY") || label_is(b, "DSA PRIVATE KEY"))
            return aop_error_set(err, AOP_E_KEY_NOT_RSA, NULL, -1,
                                 "%s: found PEM '%.*s': a key of type %.*s, not RSA", W, sl, b->label,
                                 (int)(b->label_len - 12), b->label);
        if (label_is(b, "OPENSSH PRIVATE KEY"))
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found PEM 'OPENSSH PRIVATE KEY': OpenSSH's format is not "
                                 "supported; convert it to PKCS#8 (ssh-keygen -p -m PKCS8)", W);
        if (is_public_label(b))
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found PEM '%.*s': a public key was given where the merchant "
                                 "private key is expected", W, sl, b->label);
        if (label_is(b, "CERTIFICATE"))
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found PEM 'CERTIFICATE': a certificate was given where the "
                                 "merchant private key is expected", W);
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found PEM '%.*s', which is not a supported private key format "
                             "(expected 'RSA PRIVATE KEY' or 'PRIVATE KEY')", W, sl, b->label);
    }

    int sl = show_len(pick);
    if (!pick->complete)
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found PEM '%.*s' but no matching '-----END %.*s-----' line "
                             "(truncated?)", W, sl, pick->label, sl, pick->label);
    bool encrypted = label_is(pick, "ENCRYPTED PRIVATE KEY") || pick->legacy_encrypted;
    bool have_pass = passphrase && *passphrase;
    if (encrypted && !have_pass)
        return aop_error_set(err, AOP_E_KEY_ENCRYPTED, NULL, -1,
                             "%s: found PEM '%.*s'%s but no passphrase was given", W, sl,
                             pick->label, pick->legacy_encrypted ? " (encrypted)" : "");

    pw_t pw = {passphrase, false};
    ERR_clear_error();
    EVP_PKEY *pkey = decode_hinted(pick, EVP_PKEY_KEYPAIR, &pw);
    if (!pkey) {
        if (pw.asked && !have_pass)
            return aop_error_set(err, AOP_E_KEY_ENCRYPTED, NULL, -1,
                                 "%s: found PEM '%.*s', which is encrypted, but no passphrase was "
                                 "given", W, sl, pick->label);
        if (pw.asked || encrypted)
            return aop_error_set(err, AOP_E_KEY_ENCRYPTED, NULL, -1,
                                 "%s: found PEM '%.*s' but could not decrypt it: wrong passphrase?%s",
                                 W, sl, pick->label, ossl_reason(why, sizeof why));
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found PEM '%.*s' but could not decode it (corrupted?)%s", W, sl,
                             pick->label, ossl_reason(why, sizeof why));
    }
    char found[64];
    snprintf(found, sizeof found, "PEM '%.*s'", sl, pick->label);
    unsigned bits = 0;
    aop_status_t st = check_rsa(pkey, W, found, &bits, err);
    if (st != AOP_OK) {
        EVP_PKEY_free(pkey);
        return st;
    }
    *out = pkey;
    return AOP_OK;
}

static aop_status_t wrap_private(EVP_PKEY *pkey, aop_private_key_t **out, aop_error_t *err) {
    aop_private_key_t *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "private key: out of memory");
    }
    k->pkey = pkey;
    k->bits = (unsigned)EVP_PKEY_get_bits(pkey);
    *out = k;
    return AOP_OK;
}

aop_status_t aop_private_key_load_mem(const char *pem, size_t len, const char *passphrase,
                                      aop_private_key_t **out, aop_error_t *err) {
    if (out) *out = NULL;
    if (!out || (!pem && len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "private key: invalid argument");
    ERR_clear_error();
    EVP_PKEY *pkey = NULL;
    aop_status_t st = load_private(pem ? pem : "", len, passphrase, &pkey, err);
    if (st == AOP_OK) st = wrap_private(pkey, out, err);
    ERR_clear_error();
    return st;
}

void aop_private_key_free(aop_private_key_t *key) {
    if (!key) return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

/* ---------------------------------------------------------------------------------------------
 * Public keys */

static aop_status_t load_public(const char *text, size_t len, EVP_PKEY **out, aop_error_t *err) {
    static const char W[] = "public key";
    char why[96];
    if (len == 0 || all_ws(text, len))
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1, "%s: the text is empty", W);

    pem_block_t blocks[MAX_PEM_BLOCKS];
    size_t nb = pem_scan(text, len, blocks, MAX_PEM_BLOCKS);
    if (nb == 0) {
        size_t bad = 0;
        const char *reason = "";
        EVP_PKEY *pkey = NULL;
        bare_kind_t kind = bare_decode(text, len, &pkey, &bad, &reason);
        switch (kind) {
        case BARE_SPKI: {
            unsigned bits = 0;
            aop_status_t st = check_rsa(pkey, W, "bare base64 SPKI", &bits, err);
            if (st != AOP_OK) {
                EVP_PKEY_free(pkey);
                return st;
            }
            *out = pkey;
            return AOP_OK;
        }
        case BARE_PKCS8:
        case BARE_PKCS8_ENCRYPTED:
        case BARE_PKCS1:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found bare base64 private key (%s): a private key was given "
                                 "where Alipay's public key is expected", W,
                                 kind == BARE_PKCS1 ? "PKCS#1" : "PKCS#8");
        case BARE_UNKNOWN_DER:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found bare base64 text, but it is not a DER "
                                 "SubjectPublicKeyInfo (SPKI)", W);
        case BARE_NOT_BASE64:
        default:
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: neither PEM (no '-----BEGIN' line) nor bare base64 SPKI "
                                 "(%s at offset %zu)", W, reason ? reason : "invalid", bad);
        }
    }

    const pem_block_t *pick = NULL;
    size_t npub = 0;
    for (size_t i = 0; i < nb; i++)
        if (is_public_label(&blocks[i]) && npub++ == 0) pick = &blocks[i];
    if (npub > 1)
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found %zu PEM public keys; give exactly one", W, npub);
    if (!pick) {
        const pem_block_t *b = &blocks[0];
        int sl = show_len(b);
        if (b->label_len == 0)
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: malformed PEM: the '-----BEGIN' line has no closing '-----'", W);
        if (label_has(b, "PRIVATE KEY"))
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found PEM '%.*s': a private key was given where Alipay's "
                                 "public key is expected", W, sl, b->label);
        if (label_is(b, "CERTIFICATE"))
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s: found PEM 'CERTIFICATE': certificates are not accepted; "
                                 "extract the key with 'openssl x509 -pubkey -noout'", W);
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found PEM '%.*s', which is not a supported public key format "
                             "(expected 'PUBLIC KEY' or 'RSA PUBLIC KEY')", W, sl, b->label);
    }
    int sl = show_len(pick);
    if (!pick->complete)
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found PEM '%.*s' but no matching '-----END %.*s-----' line "
                             "(truncated?)", W, sl, pick->label, sl, pick->label);
    ERR_clear_error();
    EVP_PKEY *pkey = decode_hinted(pick, EVP_PKEY_PUBLIC_KEY, NULL);
    if (!pkey)
        return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                             "%s: found PEM '%.*s' but could not decode it (corrupted?)%s", W, sl,
                             pick->label, ossl_reason(why, sizeof why));
    char found[64];
    snprintf(found, sizeof found, "PEM '%.*s'", sl, pick->label);
    unsigned bits = 0;
    aop_status_t st = check_rsa(pkey, W, found, &bits, err);
    if (st != AOP_OK) {
        EVP_PKEY_free(pkey);
        return st;
    }
    *out = pkey;
    return AOP_OK;
}

static aop_status_t wrap_public(EVP_PKEY *pkey, aop_public_key_t **out, aop_error_t *err) {
    aop_public_key_t *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "public key: out of memory");
    }
    k->pkey = pkey;
    k->bits = (unsigned)EVP_PKEY_get_bits(pkey);
    *out = k;
    return AOP_OK;
}

aop_status_t aop_public_key_load_mem(const char *text, size_t len, aop_public_key_t **out,
                                     aop_error_t *err) {
    if (out) *out = NULL;
    if (!out || (!text && len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "public key: invalid argument");
    ERR_clear_error();
    EVP_PKEY *pkey = NULL;
    aop_status_t st = load_public(text ? text : "", len, &pkey, err);
    if (st == AOP_OK) st = wrap_public(pkey, out, err);
    ERR_clear_error();
    return st;
}

void aop_public_key_free(aop_public_key_t *key) {
    if (!key) return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

aop_status_t aop_private_key_public(const aop_private_key_t *key, aop_public_key_t **out,
                                    aop_error_t *err) {
    if (out) *out = NULL;
    if (!key || !out)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "public key: invalid argument");
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key->pkey, &der);
    EVP_PKEY *pub = NULL;
    if (n > 0)
        pub = decode_key(der, (size_t)n, "DER", "SubjectPublicKeyInfo", NULL, EVP_PKEY_PUBLIC_KEY,
                         NULL);
    OPENSSL_free(der);
    ERR_clear_error();
    if (!pub)
        return aop_error_set(err, AOP_E_CRYPTO, NULL, -1,
                             "public key: could not derive it from the private key");
    return wrap_public(pub, out, err);
}

/* ---------------------------------------------------------------------------------------------
 * Comparisons and properties */

static bool same_bn(EVP_PKEY *a, EVP_PKEY *b, const char *name) {
    BIGNUM *x = NULL, *y = NULL;
    bool same = EVP_PKEY_get_bn_param(a, name, &x) == 1 && EVP_PKEY_get_bn_param(b, name, &y) == 1 &&
                BN_cmp(x, y) == 0;
    BN_free(x);
    BN_free(y);
    return same;
}

bool aop_keys_pair(const aop_private_key_t *priv, const aop_public_key_t *pub) {
    if (!priv || !pub) return false;
    bool same = same_bn(priv->pkey, pub->pkey, OSSL_PKEY_PARAM_RSA_N) &&
                same_bn(priv->pkey, pub->pkey, OSSL_PKEY_PARAM_RSA_E);
    ERR_clear_error();
    return same;
}

/* The key is const to its users; its fingerprint is filled in on first use (thread-safe). */
void aop_private_key_fingerprint(const aop_private_key_t *key, char out[AOP_FINGERPRINT_MAX]) {
    if (!out) return;
    aop_private_key_t *k = (aop_private_key_t *)key;
    snprintf(out, AOP_FINGERPRINT_MAX, "%s", k ? key_fingerprint(k->pkey, &k->fingerprint) : "");
}

void aop_public_key_fingerprint(const aop_public_key_t *key, char out[AOP_FINGERPRINT_MAX]) {
    if (!out) return;
    aop_public_key_t *k = (aop_public_key_t *)key;
    snprintf(out, AOP_FINGERPRINT_MAX, "%s", k ? key_fingerprint(k->pkey, &k->fingerprint) : "");
}

unsigned aop_private_key_bits(const aop_private_key_t *key) { return key ? key->bits : 0; }

/* ---------------------------------------------------------------------------------------------
 * Files */

/* Reads at most KEY_FILE_MAX bytes of a regular file; *buf is malloc'd with room for
 * KEY_FILE_MAX + 1 bytes (free with OPENSSL_clear_free(buf, KEY_FILE_MAX + 1): it may hold a
 * private key). private_key: refuse a file of ours that group or others may access, as ssh
 * does (a key owned by another account, e.g. root's readable by a service's group, is that
 * account's decision). */
static aop_status_t read_key_file(const char *what, const char *path, bool private_key, char **buf,
                                  size_t *len, aop_error_t *err) {
    char eb[128], label[32];
    *buf = NULL;
    *len = 0;
    snprintf(label, sizeof label, "%s file", what);
    int fd = -1;
    struct stat st;
    aop_status_t rs = aop_internal_open_regular(label, path, &fd, &st, err);
    if (rs != AOP_OK) return rs;
    if (private_key && st.st_uid == geteuid() && (st.st_mode & 077)) {
        close(fd);
        return aop_error_set(err, AOP_E_CONFIG, NULL, -1,
                             "%s has mode %04o, which lets group or others access it; fix it "
                             "with: chmod 600 '%s'", label, (unsigned)(st.st_mode & 07777), path);
    }
    char *b = malloc(KEY_FILE_MAX + 1);
    if (!b) {
        close(fd);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "%s file '%s': out of memory", what, path);
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, b + n, KEY_FILE_MAX + 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            OPENSSL_clear_free(b, KEY_FILE_MAX + 1);
            return aop_error_set(err, AOP_E_IO, NULL, -1, "%s file '%s': %s", what, path,
                                 errno_text(e, eb, sizeof eb));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > KEY_FILE_MAX) {
            close(fd);
            OPENSSL_clear_free(b, KEY_FILE_MAX + 1);
            return aop_error_set(err, AOP_E_KEY_FORMAT, NULL, -1,
                                 "%s file '%s' is larger than %u KiB: not a key file", what, path,
                                 KEY_FILE_MAX / 1024);
        }
    }
    close(fd);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return AOP_OK;
}

/* Re-states a _mem error with the file's path appended. */
static aop_status_t with_path(aop_status_t st, const aop_error_t *inner, const char *path,
                              aop_error_t *err) {
    return aop_error_set(err, st, NULL, -1, "%s (file '%s')", inner->msg, path);
}

aop_status_t aop_private_key_load_file(const char *path, const char *passphrase,
                                       aop_private_key_t **out, aop_error_t *err) {
    if (out) *out = NULL;
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "private key: invalid argument");
    char *buf = NULL;
    size_t len = 0;
    aop_status_t st = read_key_file("private key", path, true, &buf, &len, err);
    if (st != AOP_OK) return st;
    aop_error_t inner;
    aop_error_clear(&inner);
    st = aop_private_key_load_mem(buf, len, passphrase, out, &inner);
    OPENSSL_clear_free(buf, KEY_FILE_MAX + 1);
    if (st != AOP_OK) return with_path(st, &inner, path, err);
    return AOP_OK;
}

aop_status_t aop_public_key_load_file(const char *path, aop_public_key_t **out, aop_error_t *err) {
    if (out) *out = NULL;
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "public key: invalid argument");
    char *buf = NULL;
    size_t len = 0;
    aop_status_t st = read_key_file("public key", path, false, &buf, &len, err);
    if (st != AOP_OK) return st;
    aop_error_t inner;
    aop_error_clear(&inner);
    st = aop_public_key_load_mem(buf, len, out, &inner);
    OPENSSL_clear_free(buf, KEY_FILE_MAX + 1);
    if (st != AOP_OK) return with_path(st, &inner, path, err);
    return AOP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Key generation */

/* Writes data to a new temporary file next to path (O_EXCL, mode 0600, then `mode`), fsyncs it
 * and leaves its name in tmp. */
static aop_status_t write_temp(const char *path, const unsigned char *data, size_t len, mode_t mode,
                               char tmp[PATH_MAX], aop_error_t *err) {
    char eb[128];
    int n = snprintf(tmp, PATH_MAX, "%s.tmp-XXXXXX", path);
    if (n < 0 || n >= PATH_MAX)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "keygen: path '%s' is too long", path);
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
    if (fd < 0) {
        int e = errno;
        return aop_error_set(err, AOP_E_IO, NULL, -1, "keygen: cannot create a file next to '%s': %s",
                             path, errno_text(e, eb, sizeof eb));
    }
    int e = 0;
    if (fchmod(fd, mode) != 0) e = errno;
    for (size_t off = 0; !e && off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno != EINTR) e = errno;
            continue;
        }
        off += (size_t)w;
    }
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (e) {
        unlink(tmp);
        return aop_error_set(err, AOP_E_IO, NULL, -1, "keygen: cannot write '%s': %s", tmp,
                             errno_text(e, eb, sizeof eb));
    }
    return AOP_OK;
}

static void sync_parent_dir(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static bool encode_key(EVP_PKEY *pkey, int selection, const char *structure, unsigned char **data,
                       size_t *len) {
    *data = NULL;
    *len = 0;
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, "PEM", structure, NULL);
    bool ok = ectx && OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0 &&
              OSSL_ENCODER_to_data(ectx, data, len) == 1;
    OSSL_ENCODER_CTX_free(ectx);
    return ok;
}

aop_status_t aop_keygen_files(const char *private_path, const char *public_path, unsigned bits,
                              aop_error_t *err) {
    char eb[128];
    if (!private_path || !*private_path || !public_path || !*public_path)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "keygen: a path is missing");
    if (strcmp(private_path, public_path) == 0)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1,
                             "keygen: the private and public key paths are the same");
    if (bits < AOP_RSA_MIN_BITS)
        return aop_error_set(err, AOP_E_KEY_WEAK, NULL, -1,
                             "keygen: %u bits is too short; at least %u are required", bits,
                             AOP_RSA_MIN_BITS);
    if (bits > AOP_RSA_MAX_BITS)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1,
                             "keygen: %u bits is more than the supported %u", bits,
                             AOP_RSA_MAX_BITS);
    ERR_clear_error();
    aop_status_t st = AOP_OK;
    unsigned char *priv = NULL, *pub = NULL;
    size_t priv_len = 0, pub_len = 0;
    char priv_tmp[PATH_MAX] = "", pub_tmp[PATH_MAX] = "";
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (!pkey) {
        st = aop_error_set(err, AOP_E_CRYPTO, NULL, -1, "keygen: RSA key generation failed");
        goto done;
    }
    if (!encode_key(pkey, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", &priv, &priv_len) ||
        !encode_key(pkey, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", &pub, &pub_len)) {
        st = aop_error_set(err, AOP_E_CRYPTO, NULL, -1, "keygen: cannot encode the key as PEM");
        goto done;
    }
    st = write_temp(private_path, priv, priv_len, 0600, priv_tmp, err);
    if (st != AOP_OK) {
        priv_tmp[0] = '\0';
        goto done;
    }
    st = write_temp(public_path, pub, pub_len, 0644, pub_tmp, err);
    if (st != AOP_OK) {
        pub_tmp[0] = '\0';
        goto done;
    }
    if (rename(priv_tmp, private_path) != 0) {
        int e = errno;
        st = aop_error_set(err, AOP_E_IO, NULL, -1, "keygen: cannot rename to '%s': %s",
                           private_path, errno_text(e, eb, sizeof eb));
        goto done;
    }
    priv_tmp[0] = '\0';
    if (rename(pub_tmp, public_path) != 0) {
        int e = errno;
        st = aop_error_set(err, AOP_E_IO, NULL, -1, "keygen: cannot rename to '%s': %s",
                           public_path, errno_text(e, eb, sizeof eb));
        goto done;
    }
    pub_tmp[0] = '\0';
    sync_parent_dir(private_path);
    sync_parent_dir(public_path);
done:
    if (priv_tmp[0]) unlink(priv_tmp);
    if (pub_tmp[0]) unlink(pub_tmp);
    if (priv) OPENSSL_clear_free(priv, priv_len);
    OPENSSL_free(pub);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return st;
}
