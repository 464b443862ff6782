/* SPDX-License-Identifier: MIT */
/** @file
 * RSA signing and verification of envelopes (SPEC.md section 2) and the keys they use. */
#ifndef AOP_SIGN_H
#define AOP_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include "aop/export.h"
#include "aop/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** RSA2 = SHA256withRSA (default), RSA = SHA1withRSA; both RSASSA-PKCS1-v1_5. */
typedef enum { AOP_SIGN_RSA2 = 0, AOP_SIGN_RSA = 1 } aop_sign_type_t;

/** "RSA2" or "RSA". */
AOP_API const char *aop_sign_type_name(aop_sign_type_t t);
/** "RSA2" or "RSA"; false for anything else. */
AOP_API bool aop_sign_type_parse(const char *s, aop_sign_type_t *out);

/** Base64 of a signature made with an RSA key of up to 8192 bits, plus NUL. */
#define AOP_SIG_B64_MAX 1400
/** "SHA256:" + 64 hex digits of the SHA-256 of the public key's DER SPKI, plus NUL. */
#define AOP_FINGERPRINT_MAX 72

/** A loaded RSA private key (opaque; immutable once loaded, shareable between threads). */
typedef struct aop_private_key aop_private_key_t;
/** A loaded RSA public key (opaque; immutable once loaded, shareable between threads). */
typedef struct aop_public_key aop_public_key_t;

/** Merchant private key: PEM PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY", or
 * "ENCRYPTED PRIVATE KEY" with a passphrase). RSA only, at least 2048 bits. Errors name the
 * format found and why it was refused. passphrase may be NULL. */
AOP_API aop_status_t aop_private_key_load_mem(const char *pem, size_t len, const char *passphrase,
                                      aop_private_key_t **out, aop_error_t *err);
/** Like aop_private_key_load_mem(), reading the PEM from a file. */
AOP_API aop_status_t aop_private_key_load_file(const char *path, const char *passphrase,
                                       aop_private_key_t **out, aop_error_t *err);
/** Frees key (NULL is fine). */
AOP_API void aop_private_key_free(aop_private_key_t *key);

/** Alipay's public key: PEM SPKI ("PUBLIC KEY"), PEM PKCS#1 ("RSA PUBLIC KEY"), or the bare
 * base64 SPKI text the vendor hands out (whitespace allowed). RSA, at least 2048 bits. */
AOP_API aop_status_t aop_public_key_load_mem(const char *text, size_t len, aop_public_key_t **out,
                                     aop_error_t *err);
/** Like aop_public_key_load_mem(), reading the text from a file. */
AOP_API aop_status_t aop_public_key_load_file(const char *path, aop_public_key_t **out, aop_error_t *err);
/** Frees key (NULL is fine). */
AOP_API void aop_public_key_free(aop_public_key_t *key);

/** The public half of a private key (for a gateway that verifies what it signs, or for checks). */
AOP_API aop_status_t aop_private_key_public(const aop_private_key_t *key, aop_public_key_t **out,
                                    aop_error_t *err);

/** Whether the two keys are the same key pair (compares the modulus and exponent): configuring
 * the merchant's own public key as Alipay's is a common mistake the client refuses. */
AOP_API bool aop_keys_pair(const aop_private_key_t *priv, const aop_public_key_t *pub);

/** The fingerprint of the key's public half: "SHA256:" and the 64 hex digits of the SHA-256 of its
 * DER SubjectPublicKeyInfo (computed on the first call, safely from any thread; "" only when out
 * of memory). */
AOP_API void aop_private_key_fingerprint(const aop_private_key_t *key, char out[AOP_FINGERPRINT_MAX]);
/** The key's fingerprint, as aop_private_key_fingerprint() gives it for the private half. */
AOP_API void aop_public_key_fingerprint(const aop_public_key_t *key, char out[AOP_FINGERPRINT_MAX]);
/** The key's modulus size in bits. */
AOP_API unsigned aop_private_key_bits(const aop_private_key_t *key);

/** Signs data[0..len) and writes the padded standard base64 of the signature, NUL-terminated,
 * into out (cap bytes; AOP_SIG_B64_MAX always suffices); *out_len gets its length. */
AOP_API aop_status_t aop_sign(const aop_private_key_t *key, aop_sign_type_t type, const char *data,
                      size_t len, char *out, size_t cap, size_t *out_len, aop_error_t *err);

/** Verifies sig (base64, possibly %-encoded as one vendor sample does; '+' is never a space)
 * over data[0..len). AOP_OK only when it verifies; AOP_E_SIGNATURE_MISSING for an empty sig;
 * AOP_E_SIGNATURE_INVALID otherwise. Never logs the signature. */
AOP_API aop_status_t aop_verify(const aop_public_key_t *key, aop_sign_type_t type, const char *data,
                        size_t len, const char *sig, size_t sig_len, aop_error_t *err);

/** Writes a new RSA key pair: private key as PEM PKCS#8 (file created with mode 0600, atomically:
 * written to a temporary name and renamed) and public key as PEM SPKI. bits >= 2048. */
AOP_API aop_status_t aop_keygen_files(const char *private_path, const char *public_path, unsigned bits,
                              aop_error_t *err);

/** Makes the random generators of OpenSSL's default library context SHA-256 Hash_DRBGs (NIST SP
 * 800-90A, 256-bit security strength) instead of its default AES-256 CTR-DRBGs. Every signature
 * needs them (RSA blinding); a CTR-DRBG's first use sets up OpenSSL's whole cipher table, which a
 * process that signs over plain HTTP (a local gateway) never needs otherwise, and which costs it
 * about as much as the signature; the Hash_DRBG uses the digest a signature sets up anyway. Over
 * HTTPS the cipher table is set up by TLS, so the choice neither costs nor saves.
 *
 * For a program that owns its process (a command-line tool), before its first use of OpenSSL: it
 * changes the whole process's generators. A `[random]` section of the OpenSSL configuration
 * still wins. Returns AOP_OK, or AOP_E_CRYPTO when the generators already exist (nothing
 * changes). */
AOP_API aop_status_t aop_sign_use_hash_drbg(void);

#ifdef __cplusplus
}
#endif
#endif
