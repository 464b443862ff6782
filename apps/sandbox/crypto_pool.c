/* SPDX-License-Identifier: MIT */
/* Reused signers and verifiers. A signer or verifier holds the EVP contexts set up for the
 * sandbox's key (runtime/internal/aop/signer.h) and belongs to one thread at a time: making one
 * per request repeated that set-up on every request. Here each is made on first need and kept:
 * there are never more than the requests in progress at once (the server's threads), and a
 * take or give is a mutex and a pointer, against the set-up it saves. */
#include <stdlib.h>

#include "sbx_internal.h"

/* More than any pool of server threads: beyond this a given-back one is simply freed. */
#define POOL_MAX 64

struct sbx_crypto_pool {
    pthread_mutex_t mu;
    aop_signer_t *signers[POOL_MAX];
    unsigned n_signers;
    aop_verifier_t *verifiers[POOL_MAX];
    unsigned n_verifiers;
};

aop_status_t sbx_crypto_pool_new(aop_sandbox_t *s) {
    s->crypto = calloc(1, sizeof *s->crypto);
    if (!s->crypto) return AOP_E_NOMEM;
    pthread_mutex_init(&s->crypto->mu, NULL);
    return AOP_OK;
}

void sbx_crypto_pool_free(aop_sandbox_t *s) {
    struct sbx_crypto_pool *p = s->crypto;
    if (!p) return;
    for (unsigned i = 0; i < p->n_signers; i++) aop_signer_free(p->signers[i]);
    for (unsigned i = 0; i < p->n_verifiers; i++) aop_verifier_free(p->verifiers[i]);
    pthread_mutex_destroy(&p->mu);
    free(p);
    s->crypto = NULL;
}

aop_signer_t *sbx_signer_take(aop_sandbox_t *s, aop_error_t *err) {
    struct sbx_crypto_pool *p = s->crypto;
    aop_signer_t *out = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n_signers) out = p->signers[--p->n_signers];
    pthread_mutex_unlock(&p->mu);
    if (!out && aop_signer_new(s->key, s->sign_type, &out, err) != AOP_OK) return NULL;
    return out;
}

void sbx_signer_give(aop_sandbox_t *s, aop_signer_t *signer) {
    struct sbx_crypto_pool *p = s->crypto;
    if (!signer) return;
    pthread_mutex_lock(&p->mu);
    if (p->n_signers < POOL_MAX) {
        p->signers[p->n_signers++] = signer;
        signer = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    aop_signer_free(signer);
}

aop_verifier_t *sbx_verifier_take(aop_sandbox_t *s, aop_error_t *err) {
    struct sbx_crypto_pool *p = s->crypto;
    aop_verifier_t *out = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n_verifiers) out = p->verifiers[--p->n_verifiers];
    pthread_mutex_unlock(&p->mu);
    if (!out && aop_verifier_new(s->merchant_pub, s->sign_type, &out, err) != AOP_OK) return NULL;
    return out;
}

void sbx_verifier_give(aop_sandbox_t *s, aop_verifier_t *verifier) {
    struct sbx_crypto_pool *p = s->crypto;
    if (!verifier) return;
    pthread_mutex_lock(&p->mu);
    if (p->n_verifiers < POOL_MAX) {
        p->verifiers[p->n_verifiers++] = verifier;
        verifier = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    aop_verifier_free(verifier);
}
