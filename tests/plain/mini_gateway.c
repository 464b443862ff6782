/* SPDX-License-Identifier: MIT */
/* The minimal gateway of mini_gateway.h. */
#define _GNU_SOURCE
#include "mini_gateway.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aop/envelope.h"
#include "support.h"
#include "tests/samples.h"

#ifndef AOP_TEST_DATA
#error "AOP_TEST_DATA must name tests/data"
#endif

struct gw {
    struct MHD_Daemon *d;
    unsigned port;
    char url[64];
    atomic_bool stop;
    atomic_uint requests;
    pthread_mutex_t mu; /* guards b, last, other_key */
    gw_behaviour_t b;
    gw_record_t last;
    aop_public_key_t *merchant_pub;
    aop_private_key_t *gateway_priv, *merchant_priv, *other_priv;
};

typedef struct {
    aop_buf_t body;
} conn_t;

/* ---- samples ------------------------------------------------------------------------------ */

unsigned gw_sample_index(const aop_function_desc_t *fn) {
    for (unsigned i = 0; i < SAMPLE_FUNCTIONS; i++)
        if (sample_functions[i] == fn) return i;
    fprintf(stderr, "mini_gateway: no sample for %s\n", fn ? fn->name : "(null)");
    abort();
}

void gw_sample_request(const aop_function_desc_t *fn, void *rq) {
    any_response_t rs;
    sample_pair(gw_sample_index(fn), rq, &rs);
}

size_t gw_any_request_size(void) { return sizeof(any_request_t); }
size_t gw_any_response_size(void) { return sizeof(any_response_t); }

static size_t ref_size(const aop_field_ref_t *r) {
    return r->kind == AOP_KIND_OBJECT ? r->sub->size : r->kind == AOP_KIND_ENUM ? sizeof(aop_enum_val_t)
                                                                                 : sizeof(aop_str_t);
}

static void set_present(const aop_field_ref_t *r, void *root, bool on) {
    if (r->has_offset >= 0) *(bool *)(void *)((char *)root + r->has_offset) = on;
}

/* A valid value of the same kind that differs from v (static storage: one per kind). */
static aop_str_t other_value(uint8_t kind, aop_str_t v) {
    static char text[256];
    switch (kind) {
    case AOP_KIND_AMOUNT:
        return aop_str_eq_cstr(v, "7") ? aop_str("8") : aop_str("7");
    case AOP_KIND_CURRENCY:
        return aop_str_eq_cstr(v, "XTS") ? aop_str("XXX") : aop_str("XTS");
    case AOP_KIND_DATETIME:
        return aop_str_eq_cstr(v, "2002-02-02T02:02:02Z") ? aop_str("2003-03-03T03:03:03Z")
                                                          : aop_str("2002-02-02T02:02:02Z");
    case AOP_KIND_DECIMAL:
        return aop_str_eq_cstr(v, "1.5") ? aop_str("2.5") : aop_str("1.5");
    default: {
        /* same length when possible (limits stay met): the last character changes */
        size_t n = v.ptr ? v.len : 0;
        if (n == 0 || n >= sizeof text) return aop_str("X");
        memcpy(text, v.ptr, n);
        text[n - 1] = text[n - 1] == 'Z' ? 'Y' : 'Z';
        return aop_strn(text, n);
    }
    }
}

/* Changes the response side of echo e (generic over the descriptors). */
static void change_echo(const aop_echo_desc_t *e, void *rs) {
    char *at = (char *)rs + e->response.offset;
    set_present(&e->response, rs, true);
    if (e->response.kind != AOP_KIND_OBJECT) {
        *(aop_str_t *)(void *)at = other_value(e->response.kind, *(aop_str_t *)(void *)at);
        return;
    }
    /* an object (Money): change one scalar member, the amount when there is one */
    const aop_msg_desc_t *d = e->response.sub;
    const aop_field_desc_t *pick = NULL;
    for (unsigned i = 0; i < d->nfields; i++) {
        const aop_field_desc_t *f = &d->fields[i];
        if (f->kind == AOP_KIND_OBJECT || f->kind == AOP_KIND_ENUM) continue;
        if (!pick || f->kind == AOP_KIND_AMOUNT) pick = f;
    }
    if (!pick) abort();
    aop_str_t *s = (aop_str_t *)(void *)(at + pick->offset);
    *s = other_value(pick->kind, *s);
}

/* Removes the member at path ("response.head.version") from the payload text in b, JSON-aware
 * (the encoder refuses to leave out a mandatory field, so this works on the bytes). */
static bool remove_member(aop_buf_t *b, const char *path) {
    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_error_t err;
    bool ok = false;
    if (aop_json_ws_alloc(&ws, b->data, b->len, &err) != AOP_OK) return false;
    if (aop_json_parse(b->data, b->len, &ws, &doc, &err) != AOP_OK) goto out;
    const char *p = strchr(path, '.'); /* skip the root name */
    unsigned obj = 0, key = 0, val = 0;
    while (p) {
        const char *name = p + 1;
        p = strchr(name, '.');
        size_t n = p ? (size_t)(p - name) : strlen(name);
        if (doc.tok[obj].type != AOP_JSON_OBJECT) goto out;
        bool found = false;
        unsigned k = obj + 1;
        for (uint32_t m = 0; m < doc.tok[obj].size; m++) {
            if (aop_json_str_eq(&doc, k, name, n)) {
                key = k;
                val = k + 1;
                found = true;
                break;
            }
            k = aop_json_skip(&doc, k + 1);
        }
        if (!found) goto out;
        obj = val;
    }
    if (!val) goto out;
    size_t from = (size_t)doc.tok[key].start - 1;
    size_t to = (size_t)doc.tok[val].end + (doc.tok[val].type == AOP_JSON_STRING);
    size_t after = to;
    while (after < b->len && (b->data[after] == ' ' || b->data[after] == '\n')) after++;
    if (after < b->len && b->data[after] == ',') {
        to = after + 1;
    } else {
        size_t before = from;
        while (before > 0 && (b->data[before - 1] == ' ' || b->data[before - 1] == '\n')) before--;
        if (before > 0 && b->data[before - 1] == ',') from = before - 1;
    }
    memmove(b->data + from, b->data + to, b->len - to);
    b->len -= to - from;
    b->data[b->len] = '\0';
    ok = true;
out:
    aop_json_ws_free(&ws);
    return ok;
}

static void copy_cstr(char *out, size_t cap, aop_str_t s) {
    snprintf(out, cap, "%.*s", s.ptr ? (int)s.len : 0, s.ptr ? s.ptr : "");
}

/* ---- signing -------------------------------------------------------------------------------- */

static aop_private_key_t *other_key(gw_t *g) {
    /* called with g->mu held */
    if (g->other_priv) return g->other_priv;
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    if (!pk) return NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n = 0;
    if (b && PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL)) n = BIO_get_mem_data(b, &pem);
    aop_error_t err;
    if (n > 0) aop_private_key_load_mem(pem, (size_t)n, NULL, &g->other_priv, &err);
    BIO_free(b);
    EVP_PKEY_free(pk);
    return g->other_priv;
}

static bool sign_with_openssl_cli(const char *payload, size_t len, aop_sign_type_t type, char *out,
                                  size_t cap, size_t *out_len) {
    char pf[] = "/tmp/aop-gw-payload-XXXXXX", sf[] = "/tmp/aop-gw-sig-XXXXXX";
    int fd = mkstemp(pf);
    if (fd < 0) return false;
    bool ok = write(fd, payload, len) == (ssize_t)len;
    close(fd);
    int sfd = mkstemp(sf);
    if (sfd >= 0) close(sfd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "openssl dgst -%s -sign '%s/gateway.pkcs8.pem' -out '%s' '%s' 2>/dev/null",
             type == AOP_SIGN_RSA ? "sha1" : "sha256", AOP_TEST_DATA, sf, pf);
    ok = ok && sfd >= 0 && system(cmd) == 0;
    unsigned char raw[1024];
    size_t n = 0;
    FILE *f = ok ? fopen(sf, "rb") : NULL;
    if (f) {
        n = fread(raw, 1, sizeof raw, f);
        fclose(f);
    }
    unlink(pf);
    if (sfd >= 0) unlink(sf);
    if (!ok || n == 0 || cap < 4 * ((n + 2) / 3) + 1) return false;
    *out_len = (size_t)EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
    return true;
}

/* ---- building the answer ------------------------------------------------------------------ */

static bool put(aop_buf_t *b, const char *s, size_t n) { return aop_buf_append(b, s, n) == AOP_OK; }
static bool puts_(aop_buf_t *b, const char *s) { return put(b, s, strlen(s)); }

/* Builds the response envelope for a decoded request rq of fn into out. */
static bool build_answer(gw_t *g, const gw_behaviour_t *b, const aop_function_desc_t *fn,
                         const void *rq, const char *forced_code, aop_buf_t *out) {
    any_request_t srq;
    any_response_t rs;
    sample_pair(gw_sample_index(fn), &srq, &rs);
    /* every echo pair carries back what the request sent */
    for (unsigned i = 0; i < fn->n_echo; i++) {
        const aop_echo_desc_t *e = &fn->echo[i];
        if (!aop_ref_present(&e->request, rq)) continue;
        memcpy((char *)&rs + e->response.offset, (const char *)rq + e->request.offset,
               ref_size(&e->request));
        set_present(&e->response, &rs, true);
    }
    char now[32];
    aop_now_rfc3339(now);
    ((aop_response_head_t *)(void *)&rs)->resp_time = aop_str(now);
    const char *code = forced_code ? forced_code : b->result_code;
    if (code) {
        const aop_result_code_t *rc = aop_result_code_find(fn->codes, code, strlen(code));
        if (!rc) rc = aop_result_code_find(&aop_all_codes, code, strlen(code));
        if (!rc) return false;
        aop_result_info_t *ri = (aop_result_info_t *)(void *)((char *)&rs + fn->result_info->offset);
        ri->result_status.value = aop_result_status_enum_from_string(&rc->status, 1);
        ri->result_status.text = AOP_STR_NULL;
        ri->result_code = aop_str(rc->code);
        ri->result_code_id = aop_str(rc->id);
        ri->result_msg = aop_str(rc->meaning);
    }
    if (b->echo_change && b->echo_change <= fn->n_echo) change_echo(&fn->echo[b->echo_change - 1], &rs);
    if (b->edit) b->edit(fn, &rs);

    aop_buf_t env = {0};
    aop_envelope_layout_t lay = {0};
    aop_error_t err;
    aop_signer_t *signer = NULL;
    aop_status_t st = aop_signer_new(g->gateway_priv, b->sign_type, &signer, &err);
    if (st == AOP_OK) st = aop_envelope_write("response", fn->response, &rs, signer, &env, &lay, &err);
    aop_signer_free(signer);
    if (st != AOP_OK) {
        fprintf(stderr, "mini_gateway: cannot write the response: %s %s %s\n", aop_status_name(st),
                err.path, err.msg);
        aop_buf_free(&env);
        return false;
    }
    const size_t off = lay.payload_off, len = lay.payload_len;
    bool plain = b->key == GW_KEY_GATEWAY && !b->patch_from && !b->tamper_body && !b->tamper_sig &&
                 !b->percent_sig && !b->escape_sig_slash && !b->echo_drop && !b->remove_path &&
                 !b->space_after_signing;
    if (plain) {
        aop_buf_free(out);
        *out = env;
        return true;
    }

    /* the envelope's own signature, when the payload stays as signed */
    char sig[AOP_SIG_B64_MAX];
    size_t sig_len = 0;
    bool resign = b->key != GW_KEY_GATEWAY || b->patch_from || b->echo_drop || b->remove_path;
    if (!resign) {
        sig_len = lay.sig_len;
        memcpy(sig, env.data + lay.sig_off, sig_len);
    }

    /* the payload, patched */
    aop_buf_t payload = {0};
    bool ok = true;
    const char *hit = b->patch_from ? memmem(env.data + off, len, b->patch_from, strlen(b->patch_from)) : NULL;
    if (b->patch_from && !hit) {
        fprintf(stderr, "mini_gateway: patch target %s not in the payload\n", b->patch_from);
        ok = false;
    } else if (hit) {
        ok = put(&payload, env.data + off, (size_t)(hit - (env.data + off))) && puts_(&payload, b->patch_to) &&
             put(&payload, hit + strlen(b->patch_from), (size_t)(env.data + off + len - hit) - strlen(b->patch_from));
    } else {
        ok = put(&payload, env.data + off, len);
    }
    aop_buf_free(&env);
    if (ok && b->echo_drop && b->echo_drop <= fn->n_echo)
        ok = remove_member(&payload, fn->echo[b->echo_drop - 1].response.path);
    if (ok && b->remove_path) ok = remove_member(&payload, b->remove_path);
    if (!ok) fprintf(stderr, "mini_gateway: cannot edit the payload\n");

    /* the signature */
    if (ok && resign && b->key != GW_KEY_NONE) {
        if (b->key == GW_KEY_OPENSSL_CLI) {
            ok = sign_with_openssl_cli(payload.data, payload.len, b->sign_type, sig, sizeof sig, &sig_len);
        } else {
            const aop_private_key_t *k = b->key == GW_KEY_MERCHANT ? g->merchant_priv
                                       : b->key == GW_KEY_OTHER    ? other_key(g)
                                                                   : g->gateway_priv;
            ok = k && aop_sign(k, b->sign_type, payload.data, payload.len, sig, sizeof sig, &sig_len, &err) == AOP_OK;
        }
    }
    if (ok && b->tamper_sig) sig[sig_len / 2] = sig[sig_len / 2] == 'A' ? 'B' : 'A';
    if (ok && b->tamper_body) {
        /* one byte inside a string value that changes nothing else: resultMsg's first letter */
        char *m = memmem(payload.data, payload.len, "\"resultMsg\":\"", 13);
        if (m && m[13] != '"') m[13] = m[13] == 'x' ? 'y' : 'x';
        else ok = false;
    }
    aop_buf_free(out);
    ok = ok && puts_(out, "{\"response\":");
    if (ok && b->space_after_signing) { /* {"head": {... : the same JSON, other bytes */
        ok = put(out, payload.data, 8) && puts_(out, " ") && put(out, payload.data + 8, payload.len - 8);
    } else if (ok) {
        ok = put(out, payload.data, payload.len);
    }
    if (ok && b->key != GW_KEY_NONE) {
        ok = puts_(out, ",\"signature\":\"");
        for (size_t i = 0; ok && i < sig_len; i++) {
            char c = sig[i];
            if (b->percent_sig && (c == '+' || c == '/' || c == '=')) {
                char pct[4];
                snprintf(pct, sizeof pct, "%%%02X", (unsigned char)c);
                ok = put(out, pct, 3);
            } else if (b->escape_sig_slash && c == '/') {
                ok = put(out, "\\/", 2);
            } else {
                ok = put(out, &c, 1);
            }
        }
        ok = ok && puts_(out, "\"");
    }
    ok = ok && puts_(out, "}");
    aop_buf_free(&payload);
    return ok;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

typedef struct {
    char *data;
    size_t len, send;
} trunc_t;

static ssize_t read_trunc(void *cls, uint64_t pos, char *buf, size_t max) {
    trunc_t *t = cls;
    if (pos >= t->send) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = t->send - (size_t)pos;
    if (n > max) n = max;
    memcpy(buf, t->data + pos, n);
    return (ssize_t)n;
}

static void free_trunc(void *cls) {
    trunc_t *t = cls;
    free(t->data);
    free(t);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const void *data, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json; charset=UTF-8");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void nap(gw_t *g, long ms) {
    for (long waited = 0; waited < ms && !atomic_load(&g->stop); waited += 10) usleep(10 * 1000);
}

static const aop_function_desc_t *fn_for_url(const char *url) {
    for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++)
        if (strcmp(aop_functions[i]->path, url) == 0) return aop_functions[i];
    return NULL;
}

static enum MHD_Result answer(gw_t *g, struct MHD_Connection *c, const char *url, const char *method,
                              aop_buf_t *body) {
    gw_behaviour_t b;
    pthread_mutex_lock(&g->mu);
    b = g->b;
    pthread_mutex_unlock(&g->mu);

    gw_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.valid = true;
    rec.seq = atomic_fetch_add(&g->requests, 1) + 1;
    snprintf(rec.url, sizeof rec.url, "%s", url);
    snprintf(rec.method, sizeof rec.method, "%s", method);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    snprintf(rec.content_type, sizeof rec.content_type, "%s", ct ? ct : "");
    rec.body = malloc(body->len + 1);
    if (!rec.body) return MHD_NO;
    if (body->len) memcpy(rec.body, body->data, body->len);
    rec.body[body->len] = '\0';
    rec.body_len = body->len;
    rec.fn = fn_for_url(url);
    rec.envelope = rec.verify = rec.decode = AOP_E_INTERNAL;

    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_error_t err;
    any_request_t rq;
    memset(&rq, 0, sizeof rq);
    if (body->len && aop_json_ws_alloc(&ws, body->data, body->len, &err) == AOP_OK) {
        rec.envelope = aop_envelope_read(body->data, body->len, "request", &ws, &doc, &env, &err);
        if (rec.envelope == AOP_OK) {
            rec.payload_off = (size_t)(env.payload.ptr - body->data);
            rec.payload_len = env.payload.len;
            copy_cstr(rec.signature, sizeof rec.signature, env.signature);
            aop_verifier_t *verifier = NULL;
            rec.verify = aop_verifier_new(g->merchant_pub, b.sign_type, &verifier, &err);
            if (rec.verify == AOP_OK) rec.verify = aop_envelope_verify(&env, verifier, &err);
            aop_verifier_free(verifier);
            if (rec.fn) {
                aop_warnings_t w;
                aop_warnings_clear(&w);
                rec.decode = aop_decode(rec.fn->request, &doc, env.payload_tok, body->data, &rq, "request",
                                        true, &w, &err);
                if (rec.decode != AOP_OK)
                    snprintf(rec.decode_msg, sizeof rec.decode_msg, "%s: %s", err.path, err.msg);
                const aop_request_head_t *h = (const aop_request_head_t *)(const void *)&rq;
                copy_cstr(rec.version, sizeof rec.version, h->version);
                copy_cstr(rec.function, sizeof rec.function, h->function);
                copy_cstr(rec.client_id, sizeof rec.client_id, h->client_id);
                copy_cstr(rec.req_time, sizeof rec.req_time, h->req_time);
                copy_cstr(rec.req_msg_id, sizeof rec.req_msg_id, h->req_msg_id);
                copy_cstr(rec.sign_type, sizeof rec.sign_type, h->sign_type);
                if (rec.fn->merchant)
                    copy_cstr(rec.merchant_id, sizeof rec.merchant_id, *aop_ref_str(rec.fn->merchant, &rq));
            }
        }
    }
    aop_json_ws_free(&ws);

    aop_buf_t out = {0};
    bool built = false;
    if (rec.fn && rec.envelope == AOP_OK) {
        const char *forced = rec.verify != AOP_OK ? "INVALID_SIGNATURE"
                           : rec.decode != AOP_OK ? "PARAM_ILLEGAL"
                                                  : NULL;
        pthread_mutex_lock(&g->mu); /* other_key() may create the key */
        built = build_answer(g, &b, rec.fn, &rq, forced, &out);
        pthread_mutex_unlock(&g->mu);
    }

    pthread_mutex_lock(&g->mu);
    free(g->last.body);
    g->last = rec;
    pthread_mutex_unlock(&g->mu);

    if (b.sleep_ms > 0) nap(g, b.sleep_ms);
    unsigned status = b.http_status ? b.http_status : 200;
    enum MHD_Result ret;
    if (b.raw_body) {
        ret = reply(c, status, b.raw_body, strlen(b.raw_body));
    } else if (!rec.fn) {
        ret = reply(c, 404, "{}", 2);
    } else if (!built) {
        ret = reply(c, 400, "{}", 2);
    } else if (b.truncate) {
        trunc_t *t = calloc(1, sizeof *t);
        struct MHD_Response *r = NULL;
        if (t) {
            t->data = out.data;
            t->len = out.len;
            t->send = out.len / 2;
            out.data = NULL;
            r = MHD_create_response_from_callback(t->len, 1024, read_trunc, t, free_trunc);
            if (!r) free_trunc(t);
        }
        if (!r) {
            aop_buf_free(&out);
            return MHD_NO;
        }
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
    } else {
        ret = reply(c, status, out.data, out.len);
    }
    aop_buf_free(&out);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size,
                               void **req_cls) {
    (void)version;
    gw_t *g = cls;
    if (!*req_cls) {
        conn_t *cs = calloc(1, sizeof *cs);
        if (!cs) return MHD_NO;
        *req_cls = cs;
        return MHD_YES;
    }
    conn_t *cs = *req_cls;
    if (*upload_size) {
        if (cs->body.len + *upload_size > 4u * 1024 * 1024) return MHD_NO;
        if (aop_buf_append(&cs->body, upload, *upload_size) != AOP_OK) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return answer(g, c, url, method, &cs->body);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    conn_t *cs = *req_cls;
    if (!cs) return;
    aop_buf_free(&cs->body);
    free(cs);
    *req_cls = NULL;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static bool load_keys(gw_t *g) {
    aop_error_t err;
    aop_status_t st = aop_public_key_load_file(AOP_TEST_DATA "/merchant.spki.pem", &g->merchant_pub, &err);
    if (st == AOP_OK) st = aop_private_key_load_file(aop_test_private_key("gateway.pkcs8.pem"), NULL, &g->gateway_priv, &err);
    if (st == AOP_OK) st = aop_private_key_load_file(aop_test_private_key("merchant.pkcs8.pem"), NULL, &g->merchant_priv, &err);
    if (st != AOP_OK) fprintf(stderr, "mini_gateway: keys: %s %s\n", aop_status_name(st), err.msg);
    return st == AOP_OK;
}

static void gw_free(gw_t *g) {
    aop_public_key_free(g->merchant_pub);
    aop_private_key_free(g->gateway_priv);
    aop_private_key_free(g->merchant_priv);
    aop_private_key_free(g->other_priv);
    free(g->last.body);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

gw_t *gw_start(void) {
    gw_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    pthread_mutex_init(&g->mu, NULL);
    if (!load_keys(g)) {
        gw_free(g);
        return NULL;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                            handler, g, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = g->d ? MHD_get_daemon_info(g->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || info->port == 0) {
        fprintf(stderr, "mini_gateway: MHD_start_daemon failed\n");
        if (g->d) MHD_stop_daemon(g->d);
        gw_free(g);
        return NULL;
    }
    g->port = info->port;
    snprintf(g->url, sizeof g->url, "http://127.0.0.1:%u", g->port);
    return g;
}

unsigned gw_port(const gw_t *g) { return g->port; }
const char *gw_url(const gw_t *g) { return g->url; }

void gw_set(gw_t *g, const gw_behaviour_t *b) {
    pthread_mutex_lock(&g->mu);
    if (b)
        g->b = *b;
    else
        memset(&g->b, 0, sizeof g->b);
    pthread_mutex_unlock(&g->mu);
}

unsigned gw_requests(gw_t *g) { return atomic_load(&g->requests); }

void gw_last(gw_t *g, gw_record_t *out) {
    pthread_mutex_lock(&g->mu);
    *out = g->last;
    out->body = NULL;
    if (g->last.body) {
        out->body = malloc(g->last.body_len + 1);
        if (out->body) memcpy(out->body, g->last.body, g->last.body_len + 1);
    }
    pthread_mutex_unlock(&g->mu);
}

void gw_record_free(gw_record_t *r) {
    if (!r) return;
    free(r->body);
    r->body = NULL;
}

void gw_stop(gw_t *g) {
    if (!g) return;
    atomic_store(&g->stop, true);
    MHD_stop_daemon(g->d);
    gw_free(g);
}
