/* SPDX-License-Identifier: MIT */
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

/* Where the parts of a written envelope lie in its text: the signed payload bytes, and the
 * signature's base64 text (between its quotes). A test gateway tampers with one part through
 * these, without counting bytes in the envelope itself. */
typedef struct {
    size_t payload_off, payload_len;
    size_t sig_off, sig_len;
} aop_envelope_layout_t;

/* Encodes msg (validated strictly in the same pass), signs the encoded bytes with signer (its
 * key and sign type) and writes the whole envelope into out (replacing its content). member
 * is "request" or "response". layout (may be NULL) locates its parts in out. The payload is
 * encoded in place, so this is one encoding pass and no copy (the client's path). */
aop_status_t aop_envelope_write(const char *member, const aop_msg_desc_t *d, const void *msg,
                                aop_signer_t *signer, aop_buf_t *out, aop_envelope_layout_t *layout,
                                aop_error_t *err);

/* The two steps of aop_envelope_write apart, for a caller that changes the payload between
 * them (the sandbox's faults): aop_envelope_encode writes msg's payload alone into payload
 * (replacing its content; validated strictly as member's message); aop_envelope_seal signs
 * payload[0..len) as it is and writes the envelope around those bytes into out (replacing its
 * content), with layout (may be NULL) as above. */
aop_status_t aop_envelope_encode(const char *member, const aop_msg_desc_t *d, const void *msg, aop_buf_t *payload,
                                 aop_error_t *err);
aop_status_t aop_envelope_seal(const char *member, const char *payload, size_t len, aop_signer_t *signer,
                               aop_buf_t *out, aop_envelope_layout_t *layout, aop_error_t *err);

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
