/* SPDX-License-Identifier: MIT */
/* Entries nobody else can forge: the journal's MAC key is derived (HKDF-SHA256) from the
 * merchant's RSA private key, and every entry carries an HMAC-SHA256 over the columns a request
 * is built from (journal_columns.c marks them), in an encoding where no two entries give the same
 * bytes: each column's name, its length and its value. */
#include "aop/journal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <stdio.h>
#include <string.h>

#include "journal_columns.h"
#include "sign_internal.h"

#define SALT "aop journal MAC key, version 1"
#define INFO "HMAC-SHA256 of journal entries"
#define KEY_ID_LABEL "aop journal key id"

static aop_status_t crypto_error(aop_error_t *err, const char *what) {
    return aop_error_set(err, AOP_E_CRYPTO, "merchant_key", -1, "the journal's MAC key: %s failed", what);
}

static void to_hex(const unsigned char *in, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

aop_status_t aop_journal_key_derive(const aop_private_key_t *merchant_key, aop_journal_key_t *out, aop_error_t *err) {
    aop_error_clear(err);
    if (!merchant_key || !out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    memset(out, 0, sizeof *out);
    /* The input keying material: the private exponent, which only the key's holder knows. */
    BIGNUM *d = NULL;
    if (EVP_PKEY_get_bn_param(merchant_key->pkey, OSSL_PKEY_PARAM_RSA_D, &d) != 1 || !d)
        return crypto_error(err, "reading the private key");
    unsigned char ikm[AOP_RSA_MAX_BITS / 8];
    int n = BN_bn2binpad(d, ikm, (int)(merchant_key->bits + 7) / 8);
    BN_clear_free(d);
    if (n <= 0) return crypto_error(err, "reading the private key");
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm, (size_t)n),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)SALT, sizeof SALT - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)INFO, sizeof INFO - 1),
        OSSL_PARAM_construct_end(),
    };
    bool ok = kctx && EVP_KDF_derive(kctx, out->secret, sizeof out->secret, params) == 1;
    EVP_KDF_CTX_free(kctx);
    OPENSSL_cleanse(ikm, sizeof ikm);
    if (!ok) return crypto_error(err, "HKDF");
    /* The id names the key without telling anything of it: an HMAC of a fixed label. */
    unsigned char md[32];
    unsigned mdlen = 0;
    if (!HMAC(EVP_sha256(), out->secret, sizeof out->secret, (const unsigned char *)KEY_ID_LABEL,
              sizeof KEY_ID_LABEL - 1, md, &mdlen) ||
        mdlen != sizeof md) {
        OPENSSL_cleanse(out, sizeof *out);
        return crypto_error(err, "HMAC");
    }
    to_hex(md, (AOP_JOURNAL_KEY_ID_SIZE - 1) / 2, out->id);
    return AOP_OK;
}

static bool mac_update(EVP_MAC_CTX *c, const char *name, const void *v, size_t len) {
    unsigned char be[8];
    for (int i = 0; i < 8; i++) be[i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return EVP_MAC_update(c, (const unsigned char *)name, strlen(name) + 1) == 1 && EVP_MAC_update(c, be, 8) == 1 &&
           EVP_MAC_update(c, v, len) == 1;
}

/* The MAC of e's MACed columns (its key_id among them) under k, as 64 hex digits; false when
 * OpenSSL fails. */
static bool compute(const aop_journal_key_t *k, const aop_journal_entry_t *e, char out[AOP_JOURNAL_MAC_SIZE]) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    bool ok = c && EVP_MAC_init(c, k->secret, sizeof k->secret, params) == 1;
    for (size_t i = 0; ok && i < aop_internal_journal_ncolumns; i++) {
        const aop_journal_column_t *col = &aop_internal_journal_columns[i];
        if (!col->mac) continue;
        const char *p = (const char *)e + col->offset;
        if (col->type == AOP_COL_TEXT) {
            ok = mac_update(c, col->name, p, strnlen(p, col->size));
        } else if (col->type == AOP_COL_REQUEST) {
            ok = mac_update(c, col->name, e->request, e->request_len);
        } else {
            char num[24];
            int n = snprintf(num, sizeof num, "%lld", aop_internal_journal_get_int(e, col));
            ok = mac_update(c, col->name, num, (size_t)n);
        }
    }
    unsigned char md[32];
    size_t mdlen = 0;
    ok = ok && EVP_MAC_final(c, md, &mdlen, sizeof md) == 1 && mdlen == sizeof md;
    EVP_MAC_CTX_free(c);
    if (ok) to_hex(md, sizeof md, out);
    return ok;
}

void aop_journal_entry_seal(const aop_journal_key_t *k, aop_journal_entry_t *e) {
    if (!k || !e) return;
    snprintf(e->key_id, sizeof e->key_id, "%s", k->id);
    if (!compute(k, e, e->mac)) e->mac[0] = '\0'; /* no MAC: the entry will be refused, never sent */
}

aop_mac_check_t aop_journal_entry_check(const aop_journal_key_t *k, const aop_journal_entry_t *e) {
    if (!k || !e || !e->mac[0]) return AOP_MAC_NONE;
    if (!e->has_request) return AOP_MAC_NO_REQUEST;
    if (strcmp(e->key_id, k->id) != 0) return AOP_MAC_OTHER_KEY;
    char want[AOP_JOURNAL_MAC_SIZE];
    if (!compute(k, e, want)) return AOP_MAC_ALTERED;
    return strlen(e->mac) == sizeof want - 1 && CRYPTO_memcmp(want, e->mac, sizeof want - 1) == 0 ? AOP_MAC_OK
                                                                                                  : AOP_MAC_ALTERED;
}

const char *aop_mac_check_name(aop_mac_check_t c) {
    switch (c) {
    case AOP_MAC_OK: return "ok";
    case AOP_MAC_ALTERED: return "altered";
    case AOP_MAC_OTHER_KEY: return "another key";
    case AOP_MAC_NONE: return "none";
    case AOP_MAC_NO_REQUEST: return "not read";
    }
    return "?";
}
