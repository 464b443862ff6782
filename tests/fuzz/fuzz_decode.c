/* SPDX-License-Identifier: MIT */
/* libFuzzer target for one message (chosen at compile time: FUZZ_FN = the function's descriptor,
 * aop_fn_<c_name>; FUZZ_RESPONSE = 0 request / 1 response). decode -> on success encode -> decode
 * again -> the values must be equal; any mismatch aborts. Also replayed over the corpus by a plain
 * driver under CTest (see driver.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/envelope.h"
#include "aop/protocol.h"

#if FUZZ_RESPONSE
#define MEMBER "response"
#define DESC(fn) ((fn)->response)
#else
#define MEMBER "request"
#define DESC(fn) ((fn)->request)
#endif
/* Strict for what the merchant sends (as Alipay reads it), lenient for what it receives: a
 * response, or the request of an inbound function (docs/protocol.md section 7). */
#define STRICT ((FUZZ_RESPONSE != 0) == (FUZZ_FN).inbound)

static void fail(const char *what, const aop_error_t *err) {
    fprintf(stderr, "fuzz_decode(%s of %s): %s: %s at %s\n", MEMBER, (FUZZ_FN).name, what,
            err ? err->msg : "", err ? err->path : "");
    abort();
}

/* Parses and decodes body (writable) into msg; AOP_OK or the first error. */
static aop_status_t decode(char *body, size_t len, void *msg, aop_warnings_t *w, aop_error_t *err) {
    const aop_msg_desc_t *d = DESC(&(FUZZ_FN));
    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_status_t st = aop_json_ws_alloc(&ws, body, len, err);
    if (st == AOP_OK) st = aop_envelope_read(body, len, MEMBER, &ws, &doc, &env, err);
    if (st == AOP_OK) st = aop_decode(d, &doc, env.payload_tok, body, msg, MEMBER, STRICT, w, err);
    aop_json_ws_free(&ws);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const aop_msg_desc_t *d = DESC(&(FUZZ_FN));
    char *body = malloc(size ? size : 1);
    void *first = malloc(d->size), *second = malloc(d->size);
    aop_buf_t enc = {0};
    if (!body || !first || !second) abort();
    memcpy(body, data, size);
    aop_warnings_t w;
    aop_warnings_clear(&w);
    aop_error_t err;
    if (decode(body, size, first, &w, &err) == AOP_OK) {
        size_t need = 0;
        aop_status_t st = aop_encode(d, first, MEMBER, NULL, 0, &need, &err);
        /* A strictly decoded message, or a response without warnings, breaks no rule: it must
         * encode. A response with warnings may not (that is what the warnings say). */
        /* (A reader also accepts lower-case 't'/'z' in date-times, which we never write.) */
        bool reader_only = !STRICT && st == AOP_E_BAD_DATETIME;
        if (st != AOP_OK && st != AOP_E_BUFFER_TOO_SMALL && !reader_only && (STRICT || w.count == 0))
            fail("re-encode refused", &err);
        if (st == AOP_E_BUFFER_TOO_SMALL) {
            static const char open[] = "{\"" MEMBER "\":";
            if (aop_buf_reserve(&enc, need + sizeof open + 2) != AOP_OK) abort();
            memcpy(enc.data, open, sizeof open - 1);
            size_t n = 0;
            if (aop_encode(d, first, MEMBER, enc.data + sizeof open - 1, need, &n, &err) != AOP_OK)
                fail("encode into a buffer of the size it asked for", &err);
            enc.len = sizeof open - 1 + n;
            enc.data[enc.len++] = '}';
            aop_warnings_t w2;
            aop_warnings_clear(&w2);
            if (decode(enc.data, enc.len, second, &w2, &err) != AOP_OK) fail("decode(encode(m)) failed", &err);
            if (w2.count) fail("decode(encode(m)) has warnings", NULL);
            if (!aop_equal(d, first, second)) fail("decode(encode(decode(x))) != decode(x)", NULL);
        }
    }
    aop_buf_free(&enc);
    free(body);
    free(first);
    free(second);
    return 0;
}
