/* Signed envelopes: {"request"|"response": <payload>, "signature": "<base64>"}. The payload is
 * serialised once and the signature covers exactly those bytes (SPEC.md section 2). */
#ifndef AOP_ENVELOPE_H
#define AOP_ENVELOPE_H

#include "aop/json.h"
#include "aop/model.h"
#include "aop/sign.h"
#include "aop/signer.h"
#include "aop/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Encodes msg (validated strictly in the same pass), signs the encoded bytes with signer (its
 * key and sign type) and writes the whole envelope into out (replacing its content). member
 * is "request" or "response".
 * *payload_off / *payload_len (may be NULL) locate the signed bytes inside out. */
aop_status_t aop_envelope_write(const char *member, const aop_msg_desc_t *d, const void *msg,
                                aop_signer_t *signer, aop_buf_t *out,
                                size_t *payload_off, size_t *payload_len, aop_error_t *err);

/* Verifies env's signature over its exact payload bytes with verifier (key and sign type). */
aop_status_t aop_envelope_verify(const aop_envelope_t *env, aop_verifier_t *verifier, aop_error_t *err);

/* A token workspace for the body buf[0..len), of aop_json_tokens_needed(buf, len) entries: its
 * size follows the tokens the body holds, not its length (heap; free with aop_json_ws_free). */
aop_status_t aop_json_ws_alloc(aop_json_ws_t *ws, const char *buf, size_t len, aop_error_t *err);
void aop_json_ws_free(aop_json_ws_t *ws);

#ifdef __cplusplus
}
#endif
#endif
