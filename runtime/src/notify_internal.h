/* SPDX-License-Identifier: MIT */
/* What a receiver and a notification hold behind their public parts: shared by notify.c (receiving)
 * and notify_answer.c (answering, comparing). */
#ifndef AOP_NOTIFY_INTERNAL_H
#define AOP_NOTIFY_INTERNAL_H

#include "aop/notify.h"
#include "aop/signer.h"

struct aop_notify_receiver {
    char *client_id;
    aop_sign_type_t sign_type;
    int64_t max_age_ms, max_ahead_ms;
    /* made once from the borrowed keys: the EVP set-up is not repeated per notification */
    aop_verifier_t *verifier;
    aop_signer_t *signer;
};

typedef struct {
    aop_notification_t pub; /* first: an aop_notification_t * is a notification_impl_t * */
    char *raw;  /* the body as received (pub.body, pub.signed_bytes) */
    char *work; /* a copy decoded in place (the views of request) */
    aop_notify_pay_request_t request;
} notification_impl_t;

#endif
