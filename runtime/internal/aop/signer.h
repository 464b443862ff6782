/* SPDX-License-Identifier: MIT */
/* Per-client signing and verification contexts (internal: the client, the sandbox, tests).
 *
 * Keys are loaded once and shared read-only by many clients in many threads; what is set up
 * per key and sign type (the EVP digest-sign/verify context: provider fetches, key management
 * binding, the padding) is made once per client here, not once per call. Each operation copies
 * the ready template (EVP_MD_CTX_copy_ex) into a working context and runs on the copy.
 *
 * A signer or verifier is NOT thread-safe: one per client, one client per thread. The key it
 * was made from is only read and must outlive it. */
#ifndef AOP_SIGNER_H
#define AOP_SIGNER_H

#include <stddef.h>
#include "aop/error.h"
#include "aop/sign.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aop_signer aop_signer_t;
typedef struct aop_verifier aop_verifier_t;

aop_status_t aop_signer_new(const aop_private_key_t *key, aop_sign_type_t type, aop_signer_t **out,
                            aop_error_t *err);
void aop_signer_free(aop_signer_t *s);
aop_sign_type_t aop_signer_type(const aop_signer_t *s);
/* As aop_sign() with the signer's key and sign type. */
aop_status_t aop_signer_sign(aop_signer_t *s, const char *data, size_t len, char *out, size_t cap,
                             size_t *out_len, aop_error_t *err);

aop_status_t aop_verifier_new(const aop_public_key_t *key, aop_sign_type_t type, aop_verifier_t **out,
                              aop_error_t *err);
void aop_verifier_free(aop_verifier_t *v);
/* As aop_verify() with the verifier's key and sign type. */
aop_status_t aop_verifier_verify(aop_verifier_t *v, const char *data, size_t len, const char *sig,
                                 size_t sig_len, aop_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
