/* SPDX-License-Identifier: MIT */
/* What a result holds behind its public part: shared by client.c and result_member.c. */
#ifndef AOP_CLIENT_INTERNAL_H
#define AOP_CLIENT_INTERNAL_H

#include "aop/client.h"
#include "aop/journal.h"

/* Texts that aop_result_member() unescaped: they live as long as the result. */
typedef struct member_text {
    struct member_text *next;
    char text[];
} member_text_t;

typedef struct {
    aop_result_t pub; /* first: an aop_result_t * is a result_impl_t * */
    aop_buf_t body;
    void *response;
    char *response_text; /* the verified payload, copied before decoding rewrites it in place */
    member_text_t *texts;
} result_impl_t;

/* Fills the request's merchant-role field (schema role `merchant`) with the client's default
 * merchantId when the caller left it absent: the one place both aop_call and the resolver use. */
void aop_internal_client_fill_merchant(const aop_client_t *c, const aop_function_desc_t *fn, void *req);
/* The clientId, and the journal's gateway identity it makes with the Alipay key's fingerprint
 * (aop_journal_gateway_identity; resolver*.c). */
const char *aop_internal_client_id(const aop_client_t *c);
void aop_internal_client_gateway(const aop_client_t *c, char out[AOP_JOURNAL_GATEWAY_SIZE]);
/* A notification receiver's configuration of the client's keys, clientId and sign type
 * (borrowed: valid as long as the client), and the client's default merchantId ("" for none). */
#include "aop/notify.h"
void aop_internal_client_notify_config(const aop_client_t *c, aop_notify_config_t *cfg);
const char *aop_internal_client_merchant_id(const aop_client_t *c);
/* The journal's MAC key, derived from the client's merchant key on first use (aop/journal.h). */
aop_status_t aop_internal_client_journal_key(aop_client_t *c, aop_journal_key_t *out, aop_error_t *err);

/* The struct_size convention of the configuration and option structs: a caller built against an
 * older, smaller struct passes its size, and the members it knows are copied over full (already
 * holding the defaults). AOP_E_CONFIG naming `what` when the size is 0 (the _init function was
 * never called) or larger than this library's struct. */
aop_status_t aop_internal_adopt(const void *given, size_t given_size, void *full, size_t full_size,
                                const char *what, aop_error_t *err);

#endif
