/* SPDX-License-Identifier: MIT */
#include "aop/envelope.h"

#include <stdlib.h>
#include <string.h>

static const char sig_open[] = ",\"signature\":\"";
static const char sig_close[] = "\"}";
/* Room after a payload for the signature member. */
#define SIG_MEMBER_MAX (sizeof sig_open - 1 + AOP_SIG_B64_MAX + sizeof sig_close - 1)
/* Room for a typical message and its signature, so one encoding pass is the rule. */
#define TYPICAL_PAYLOAD 4096

static aop_status_t no_memory(aop_error_t *err) { return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory"); }

/* Replaces out's content with {"member": and reserves room bytes after it; *head is its length. */
static aop_status_t open_envelope(const char *member, size_t room, aop_buf_t *out, size_t *head, aop_error_t *err) {
    size_t mlen = strlen(member);
    *head = mlen + 4;
    out->len = 0;
    if (aop_buf_reserve(out, *head + room) != AOP_OK || aop_buf_append(out, "{\"", 2) != AOP_OK ||
        aop_buf_append(out, member, mlen) != AOP_OK || aop_buf_append(out, "\":", 2) != AOP_OK)
        return no_memory(err);
    return AOP_OK;
}

/* Encodes msg at the end of out, in place; when the first pass does not fit, out grows to the
 * size it reported plus tail bytes and the second pass does. */
static aop_status_t encode_at_end(const char *member, const aop_msg_desc_t *d, const void *msg, aop_buf_t *out,
                                  size_t tail, aop_error_t *err) {
    size_t len = 0;
    aop_status_t st = AOP_E_BUFFER_TOO_SMALL;
    for (int attempt = 0; attempt < 2 && st == AOP_E_BUFFER_TOO_SMALL; attempt++) {
        st = aop_encode(d, msg, member, out->data + out->len, out->cap - out->len, &len, err);
        if (st == AOP_E_BUFFER_TOO_SMALL && aop_buf_reserve(out, out->len + len + tail) != AOP_OK)
            return no_memory(err); /* len is the size needed then */
    }
    if (st == AOP_OK) out->len += len;
    return st;
}

/* Signs out[head..len) (the payload, as it stands) and closes the envelope with the signature. */
static aop_status_t close_envelope(aop_signer_t *signer, aop_buf_t *out, size_t head, aop_envelope_layout_t *layout,
                                   aop_error_t *err) {
    size_t len = out->len - head;
    char sig[AOP_SIG_B64_MAX];
    size_t sig_len = 0;
    aop_status_t st = aop_signer_sign(signer, out->data + head, len, sig, sizeof sig, &sig_len, err);
    if (st != AOP_OK) return st;
    if (aop_buf_append(out, sig_open, sizeof sig_open - 1) != AOP_OK || aop_buf_append(out, sig, sig_len) != AOP_OK ||
        aop_buf_append(out, sig_close, sizeof sig_close - 1) != AOP_OK)
        return no_memory(err);
    if (layout) *layout = (aop_envelope_layout_t){head, len, head + len + sizeof sig_open - 1, sig_len};
    return AOP_OK;
}

aop_status_t aop_envelope_write(const char *member, const aop_msg_desc_t *d, const void *msg,
                                aop_signer_t *signer, aop_buf_t *out, aop_envelope_layout_t *layout,
                                aop_error_t *err) {
    size_t head = 0;
    aop_status_t st = open_envelope(member, TYPICAL_PAYLOAD, out, &head, err);
    if (st == AOP_OK) st = encode_at_end(member, d, msg, out, SIG_MEMBER_MAX, err);
    return st == AOP_OK ? close_envelope(signer, out, head, layout, err) : st;
}

aop_status_t aop_envelope_encode(const char *member, const aop_msg_desc_t *d, const void *msg, aop_buf_t *payload,
                                 aop_error_t *err) {
    payload->len = 0;
    if (aop_buf_reserve(payload, TYPICAL_PAYLOAD) != AOP_OK) return no_memory(err);
    return encode_at_end(member, d, msg, payload, 0, err);
}

aop_status_t aop_envelope_seal(const char *member, const char *payload, size_t len, aop_signer_t *signer,
                               aop_buf_t *out, aop_envelope_layout_t *layout, aop_error_t *err) {
    size_t head = 0;
    aop_status_t st = open_envelope(member, len + SIG_MEMBER_MAX, out, &head, err);
    if (st == AOP_OK && aop_buf_append(out, payload, len) != AOP_OK) st = no_memory(err);
    return st == AOP_OK ? close_envelope(signer, out, head, layout, err) : st;
}

aop_status_t aop_envelope_verify(const aop_envelope_t *env, aop_verifier_t *verifier, aop_error_t *err) {
    if (!env->signature.ptr || env->signature.len == 0)
        return aop_error_set(err, AOP_E_SIGNATURE_MISSING, "signature", -1, "the body carries no signature");
    /* The signature is still JSON-escaped: a serialiser may write '/' as \/ (PHP does by
     * default) or any character as \uXXXX. Unescape a copy; the body itself stays as received. */
    if (!memchr(env->signature.ptr, '\\', env->signature.len))
        return aop_verifier_verify(verifier, env->payload.ptr, env->payload.len, env->signature.ptr,
                                   env->signature.len, err);
    char *sig = malloc(env->signature.len);
    if (!sig) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    memcpy(sig, env->signature.ptr, env->signature.len);
    size_t n = aop_json_unescape(sig, env->signature.len);
    aop_status_t st = n ? aop_verifier_verify(verifier, env->payload.ptr, env->payload.len, sig, n, err)
                        : aop_error_set(err, AOP_E_SIGNATURE_MISSING, "signature", -1,
                                        "the body carries no signature");
    free(sig);
    return st;
}

aop_status_t aop_json_ws_alloc(aop_json_ws_t *ws, const char *buf, size_t len, aop_error_t *err) {
    /* Sized from the bytes received, not from the worst case for their length: a response of a
     * few long strings needs a few tokens, not len / 2 of them. */
    const unsigned cap = aop_json_tokens_needed(buf, len);
    ws->tok = malloc(sizeof *ws->tok * cap);
    ws->scratch = malloc(sizeof *ws->scratch * cap);
    ws->cap = cap;
    if (!ws->tok || !ws->scratch) {
        aop_json_ws_free(ws);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for %u JSON tokens", cap);
    }
    return AOP_OK;
}

void aop_json_ws_free(aop_json_ws_t *ws) {
    free(ws->tok);
    free(ws->scratch);
    ws->tok = NULL;
    ws->scratch = NULL;
    ws->cap = 0;
}
