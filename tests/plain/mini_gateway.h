/* SPDX-License-Identifier: MIT */
/* A minimal in-process gateway for the client tests (libmicrohttpd on 127.0.0.1, a random
 * port): it reads the request envelope, verifies its signature with the merchant's public key,
 * decodes it strictly with the generated descriptors, answers the function's generated sample
 * response with every echo pair copied from the request (through fn->echo, never by name),
 * signs it with the gateway's key via aop_envelope_write, and misbehaves on request.
 *
 * No test framework in here: tests/unit/test_client.c includes this file's .c and
 * tests/plain/client_leaks.c links it. Keys come from AOP_TEST_DATA. */
#ifndef AOP_MINI_GATEWAY_H
#define AOP_MINI_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "aop/aop.h"

typedef enum {
    GW_KEY_GATEWAY = 0, /* the right key: gateway.pkcs8.pem */
    GW_KEY_MERCHANT,    /* the merchant's key: a response no client may trust */
    GW_KEY_OTHER,       /* a fresh 2048-bit key generated on first use */
    GW_KEY_OPENSSL_CLI, /* the right key, but the signature made by `openssl dgst -sign` */
    GW_KEY_NONE         /* no "signature" member at all */
} gw_key_t;

/* How to answer. All zero: a correct, signed answer (HTTP 200, RSA2). */
typedef struct {
    aop_sign_type_t sign_type; /* verifies requests and signs responses with this hash */
    unsigned http_status;      /* 0: 200 */
    long sleep_ms;             /* before answering; cut short by gw_stop */
    const char *raw_body;      /* answer these bytes instead of an envelope */
    bool truncate;             /* declare the whole envelope's length, send half, fail */
    gw_key_t key;
    bool tamper_body;          /* change one byte of the payload after signing */
    bool tamper_sig;           /* change one base64 character of the signature */
    bool space_after_signing;  /* insert one insignificant space into the payload after signing */
    bool percent_sig;          /* %-encode the signature's + / = (one vendor sample does) */
    bool escape_sig_slash;     /* write '/' in the signature as the JSON escape \/ */
    unsigned echo_change;      /* k > 0: fn->echo[k-1]'s response value differs from the request */
    unsigned echo_drop;        /* k > 0: fn->echo[k-1]'s response member is removed */
    const char *remove_path;   /* removes this member (e.g. "response.body.acquirementId") */
    const char *result_code;   /* answer this code of the function's table (status and id) */
    /* Edits the response struct (of fn->response) before it is encoded and signed. */
    void (*edit)(const aop_function_desc_t *fn, void *response);
    /* Replaces the first occurrence of patch_from in the payload by patch_to, before signing
     * (for what the encoder refuses to write: wrong JSON types, unknown members). */
    const char *patch_from, *patch_to;
} gw_behaviour_t;

/* What the gateway saw of the last request. */
typedef struct {
    bool valid;                 /* a request was recorded */
    char url[256];
    char method[16];
    char content_type[128];
    char *body;                 /* the raw request body, NUL-terminated (malloc'd) */
    size_t body_len;
    size_t payload_off, payload_len; /* the signed bytes inside body */
    char signature[2048];       /* raw signature text as received */
    aop_status_t envelope;      /* aop_envelope_read */
    aop_status_t verify;        /* signature check with merchant.spki.pem */
    aop_status_t decode;        /* strict decode with the function's request descriptor */
    char decode_msg[AOP_ERROR_PATH_MAX + AOP_ERROR_MSG_MAX + 8];
    const aop_function_desc_t *fn; /* from the URL's path, or NULL */
    char version[32], function[160], client_id[64], req_time[64], req_msg_id[96], sign_type[32];
    char merchant_id[96];       /* fn->merchant's value, or "" */
    unsigned long seq;          /* 1 for the first request */
} gw_record_t;

typedef struct gw gw_t;

/* NULL (with a message on stderr) when it cannot start. */
gw_t *gw_start(void);
unsigned gw_port(const gw_t *g);
/* "http://127.0.0.1:<port>" */
const char *gw_url(const gw_t *g);
void gw_set(gw_t *g, const gw_behaviour_t *b);
/* Requests that reached the handler's final call. */
unsigned gw_requests(gw_t *g);
/* A copy of the last request's record (free it with gw_record_free). */
void gw_last(gw_t *g, gw_record_t *out);
void gw_record_free(gw_record_t *r);
/* Wakes any sleeping handler and stops the daemon. NULL is harmless. */
void gw_stop(gw_t *g);

/* The index of fn in the generated samples (sample_pair's first argument). */
unsigned gw_sample_index(const aop_function_desc_t *fn);
/* The generated sample request of fn into rq (which must be large enough for any request). */
void gw_sample_request(const aop_function_desc_t *fn, void *rq);
/* The size of the largest request / response struct. */
size_t gw_any_request_size(void);
size_t gw_any_response_size(void);

#endif
