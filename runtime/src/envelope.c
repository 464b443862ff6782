#include "aop/envelope.h"

#include <stdlib.h>
#include <string.h>

aop_status_t aop_envelope_write(const char *member, const aop_msg_desc_t *d, const void *msg,
                                aop_signer_t *signer, aop_buf_t *out,
                                size_t *payload_off, size_t *payload_len, aop_error_t *err) {
    static const char sig_open[] = ",\"signature\":\"";
    static const char close[] = "\"}";
    size_t mlen = strlen(member);
    size_t head = mlen + 4; /* {"member": */
    /* Room for a typical message and its signature, so one encoding pass is the rule. */
    out->len = 0;
    aop_status_t st = aop_buf_reserve(out, head + 4096);
    if (st == AOP_OK) st = aop_buf_append(out, "{\"", 2);
    if (st == AOP_OK) st = aop_buf_append(out, member, mlen);
    if (st == AOP_OK) st = aop_buf_append(out, "\":", 2);
    if (st != AOP_OK) return aop_error_set(err, st, NULL, -1, "out of memory");
    size_t len = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        st = aop_encode(d, msg, member, out->data + head, out->cap - head, &len, err);
        if (st != AOP_E_BUFFER_TOO_SMALL) break; /* len is the size needed then */
        if (aop_buf_reserve(out, head + len + sizeof sig_open + AOP_SIG_B64_MAX + sizeof close) != AOP_OK)
            return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    }
    if (st != AOP_OK) return st;
    out->len = head + len;
    char sig[AOP_SIG_B64_MAX];
    size_t sig_len = 0;
    st = aop_signer_sign(signer, out->data + head, len, sig, sizeof sig, &sig_len, err);
    if (st != AOP_OK) return st;
    if (aop_buf_append(out, sig_open, sizeof sig_open - 1) != AOP_OK ||
        aop_buf_append(out, sig, sig_len) != AOP_OK || aop_buf_append(out, close, sizeof close - 1) != AOP_OK)
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    if (payload_off) *payload_off = head;
    if (payload_len) *payload_len = len;
    return AOP_OK;
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
