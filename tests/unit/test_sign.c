/* SPDX-License-Identifier: MIT */
/* Signing, verification and keys (SPEC.md section 2): byte-for-byte agreement with the vectors
 * in tests/data, cross-checks with the openssl command line, and every refusal. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "aop/sign.h"
#include "aop/signer.h"
#include "support.h"

#define DATA AOP_TEST_DATA

/* ---------------------------------------------------------------------------------------------
 * Helpers */

/* A vector file without its trailing newline. */
static char *vec(const char *name, size_t *len) {
    size_t n = 0;
    char *s = aop_test_read(name, &n);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
    if (len) *len = n;
    return s;
}

static aop_private_key_t *priv(const char *name, const char *pass) {
    const char *path = aop_test_private_key(name);
    aop_private_key_t *k = NULL;
    aop_error_t e;
    aop_error_clear(&e);
    aop_status_t st = aop_private_key_load_file(path, pass, &k, &e);
    cr_assert_eq(st, AOP_OK, "loading %s: %s: %s", name, aop_status_name(st), e.msg);
    cr_assert_not_null(k);
    return k;
}

static aop_public_key_t *pub(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DATA, name);
    aop_public_key_t *k = NULL;
    aop_error_t e;
    aop_error_clear(&e);
    aop_status_t st = aop_public_key_load_file(path, &k, &e);
    cr_assert_eq(st, AOP_OK, "loading %s: %s: %s", name, aop_status_name(st), e.msg);
    cr_assert_not_null(k);
    return k;
}

/* Runs a shell command; returns its exit status (or -1). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* The message may name formats and paths, but never holds key material: no 12-character piece
 * of any test key's base64 appears in it. */
static bool has_key_material(const char *msg) {
    static const char *const files[] = {"merchant.pkcs1.pem", "merchant.pkcs8.pem",
                                        "merchant.pkcs8.enc.pem", "merchant.spki.pem",
                                        "gateway.pkcs1.pem", "gateway.pkcs8.pem",
                                        "gateway.pkcs8.enc.pem", "gateway.spki.pem",
                                        "weak-1024.pkcs8.pem"};
    bool found = false;
    for (size_t f = 0; f < sizeof files / sizeof *files && !found; f++) {
        char *text = aop_test_read(files[f], NULL);
        for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
            if (strncmp(line, "-----", 5) == 0) continue;
            for (size_t at = 0; at + 12 <= strlen(line) && !found; at += 6) {
                char piece[13];
                memcpy(piece, line + at, 12);
                piece[12] = '\0';
                found = strstr(msg, piece) != NULL;
            }
        }
        free(text);
    }
    return found;
}

/* Asserts code, that msg mentions every needle (NULL-terminated list), and no key material. */
static void expect_err(aop_status_t got, const aop_error_t *e, aop_status_t want, ...) {
    cr_assert_eq(got, want, "got %s (%s), want %s", aop_status_name(got), e->msg,
                 aop_status_name(want));
    cr_assert_eq(e->code, want);
    va_list ap;
    va_start(ap, want);
    for (const char *needle; (needle = va_arg(ap, const char *)) != NULL;)
        cr_assert(strstr(e->msg, needle) != NULL, "message \"%s\" does not mention \"%s\"", e->msg,
                  needle);
    va_end(ap);
    cr_assert(!has_key_material(e->msg), "message holds key material: %s", e->msg);
    cr_assert_eq(ERR_peek_error(), 0ul, "OpenSSL error queue not drained");
}

static aop_status_t load_priv_text(const char *text, const char *pass, aop_error_t *e) {
    aop_private_key_t *k = (aop_private_key_t *)1;
    aop_error_clear(e);
    aop_status_t st = aop_private_key_load_mem(text, strlen(text), pass, &k, e);
    if (st != AOP_OK) cr_assert_null(k, "*out must be NULL on failure");
    aop_private_key_free(k);
    return st;
}

static aop_status_t load_pub_text(const char *text, aop_error_t *e) {
    aop_public_key_t *k = (aop_public_key_t *)1;
    aop_error_clear(e);
    aop_status_t st = aop_public_key_load_mem(text, strlen(text), &k, e);
    if (st != AOP_OK) cr_assert_null(k, "*out must be NULL on failure");
    aop_public_key_free(k);
    return st;
}

static aop_status_t load_priv_path(const char *path, const char *pass, aop_error_t *e) {
    aop_private_key_t *k = NULL;
    aop_error_clear(e);
    aop_status_t st = aop_private_key_load_file(path, pass, &k, e);
    aop_private_key_free(k);
    return st;
}

static aop_status_t load_pub_path(const char *path, aop_error_t *e) {
    aop_public_key_t *k = NULL;
    aop_error_clear(e);
    aop_status_t st = aop_public_key_load_file(path, &k, e);
    aop_public_key_free(k);
    return st;
}

static void sign_ok(const aop_private_key_t *k, aop_sign_type_t t, const char *data, size_t len,
                    char out[AOP_SIG_B64_MAX], size_t *out_len) {
    aop_error_t e;
    aop_error_clear(&e);
    aop_status_t st = aop_sign(k, t, data, len, out, AOP_SIG_B64_MAX, out_len, &e);
    cr_assert_eq(st, AOP_OK, "sign: %s", e.msg);
    cr_assert_eq(strlen(out), *out_len);
}

static aop_status_t verify(const aop_public_key_t *k, aop_sign_type_t t, const char *data,
                           size_t len, const char *sig) {
    aop_error_t e;
    aop_error_clear(&e);
    aop_status_t st = aop_verify(k, t, data, len, sig, sig ? strlen(sig) : 0, &e);
    if (st != AOP_OK) {
        cr_assert_eq(e.code, st);
        cr_assert(e.msg[0] != '\0');
    }
    cr_assert_eq(ERR_peek_error(), 0ul, "OpenSSL error queue not drained");
    return st;
}

/* Per-test temporary directory. */
static char tmp[256];

static void mk_tmp(void) {
    /* The keys the tests write are loaded as private keys, which must not be group/other
     * readable (each test runs in its own process: the umask stays in it). */
    umask(077);
    snprintf(tmp, sizeof tmp, "/tmp/aop_sign_test.XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void rm_tmp(void) {
    if (tmp[0]) sh("rm -rf '%s'", tmp);
}

static const char *tpath(char *buf, const char *name) {
    snprintf(buf, 512, "%s/%s", tmp, name);
    return buf;
}

/* ---------------------------------------------------------------------------------------------
 * Vectors */

static void sign_vector(aop_sign_type_t t, const char *vector) {
    static const char *const files[] = {"merchant.pkcs1.pem", "merchant.pkcs8.pem",
                                        "merchant.pkcs8.enc.pem"};
    size_t dl, wl;
    char *data = aop_test_read("pay-request.signed-bytes.json", &dl);
    char *want = vec(vector, &wl);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        aop_private_key_t *k = priv(files[i], "test-passphrase");
        char out[AOP_SIG_B64_MAX];
        size_t ol = 0;
        sign_ok(k, t, data, dl, out, &ol);
        cr_assert_eq(ol, wl, "%s: length %zu, want %zu", files[i], ol, wl);
        cr_assert_str_eq(out, want, "%s: signature differs from %s", files[i], vector);
        aop_private_key_free(k);
    }
    free(data);
    free(want);
}

Test(vectors, sign_rsa2_matches_for_every_key_format) { sign_vector(AOP_SIGN_RSA2, "request_rsa2.sig.b64"); }

Test(vectors, sign_rsa_matches_for_every_key_format) { sign_vector(AOP_SIGN_RSA, "request_rsa.sig.b64"); }

Test(vectors, verify_response_with_pem_and_bare_base64) {
    static const char *const keys[] = {"gateway.spki.pem", "gateway.spki.b64"};
    size_t dl;
    char *data = aop_test_read("pay-response.signed-bytes.json", &dl);
    char *s2 = vec("response_rsa2.sig.b64", NULL);
    char *s1 = vec("response_rsa.sig.b64", NULL);
    for (size_t i = 0; i < 2; i++) {
        aop_public_key_t *k = pub(keys[i]);
        cr_assert_eq(verify(k, AOP_SIGN_RSA2, data, dl, s2), AOP_OK, "%s RSA2", keys[i]);
        cr_assert_eq(verify(k, AOP_SIGN_RSA, data, dl, s1), AOP_OK, "%s RSA", keys[i]);
        aop_public_key_free(k);
    }
    free(data);
    free(s2);
    free(s1);
}

Test(vectors, verify_request_with_merchant_public_key) {
    static const char *const keys[] = {"merchant.spki.pem", "merchant.spki.b64"};
    size_t dl;
    char *data = aop_test_read("pay-request.signed-bytes.json", &dl);
    char *s2 = vec("request_rsa2.sig.b64", NULL);
    char *s1 = vec("request_rsa.sig.b64", NULL);
    for (size_t i = 0; i < 2; i++) {
        aop_public_key_t *k = pub(keys[i]);
        cr_assert_eq(verify(k, AOP_SIGN_RSA2, data, dl, s2), AOP_OK);
        cr_assert_eq(verify(k, AOP_SIGN_RSA, data, dl, s1), AOP_OK);
        aop_public_key_free(k);
    }
    free(data);
    free(s2);
    free(s1);
}

Test(vectors, gateway_key_signs_response_vectors) {
    size_t dl;
    char *data = aop_test_read("pay-response.signed-bytes.json", &dl);
    char *s2 = vec("response_rsa2.sig.b64", NULL);
    char *s1 = vec("response_rsa.sig.b64", NULL);
    static const char *const files[] = {"gateway.pkcs1.pem", "gateway.pkcs8.pem",
                                        "gateway.pkcs8.enc.pem"};
    for (size_t i = 0; i < 3; i++) {
        aop_private_key_t *k = priv(files[i], "test-passphrase");
        char out[AOP_SIG_B64_MAX];
        size_t ol;
        sign_ok(k, AOP_SIGN_RSA2, data, dl, out, &ol);
        cr_assert_str_eq(out, s2);
        sign_ok(k, AOP_SIGN_RSA, data, dl, out, &ol);
        cr_assert_str_eq(out, s1);
        aop_private_key_free(k);
    }
    free(data);
    free(s2);
    free(s1);
}

Test(vectors, signature_is_plain_padded_base64_once) {
    size_t dl;
    char *data = aop_test_read("pay-request.signed-bytes.json", &dl);
    aop_private_key_t *k = priv("merchant.pkcs8.pem", NULL);
    char out[AOP_SIG_B64_MAX];
    size_t ol;
    sign_ok(k, AOP_SIGN_RSA2, data, dl, out, &ol);
    cr_assert_eq(ol, 344u); /* 256 bytes, base64 once */
    cr_assert(strchr(out, '\n') == NULL && strchr(out, '%') == NULL);
    cr_assert_eq(out[ol - 1], '=');
    aop_private_key_free(k);
    free(data);
}

/* ---------------------------------------------------------------------------------------------
 * Cross-checks with the openssl command line */

TestSuite(openssl_cli, .init = mk_tmp, .fini = rm_tmp);

static void ours_sign_openssl_verifies(aop_sign_type_t t, const char *dgst) {
    char p_data[512], p_b64[512], p_sig[512], p_bad[512];
    /* Binary data with NUL bytes and a JSON request. */
    static const char bin[] = "\x00\x01{\"a\":\"\xe4\xb8\xad\"}\x00\xff";
    tpath(p_data, "data.bin");
    write_file(p_data, bin, sizeof bin - 1);
    tpath(p_bad, "bad.bin");
    write_file(p_bad, bin, sizeof bin - 2);
    aop_private_key_t *k = priv("merchant.pkcs1.pem", NULL);
    char out[AOP_SIG_B64_MAX];
    size_t ol;
    sign_ok(k, t, bin, sizeof bin - 1, out, &ol);
    write_file(tpath(p_b64, "sig.b64"), out, ol);
    tpath(p_sig, "sig.bin");
    cr_assert_eq(sh("openssl base64 -d -A -in '%s' -out '%s'", p_b64, p_sig), 0);
    cr_assert_eq(sh("openssl dgst -%s -verify '%s/merchant.spki.pem' -signature '%s' '%s' "
                    ">/dev/null 2>&1", dgst, DATA, p_sig, p_data), 0,
                 "openssl does not accept our %s signature", aop_sign_type_name(t));
    /* The harness can fail: other data, other digest. */
    cr_assert_neq(sh("openssl dgst -%s -verify '%s/merchant.spki.pem' -signature '%s' '%s' "
                     ">/dev/null 2>&1", dgst, DATA, p_sig, p_bad), 0);
    cr_assert_neq(sh("openssl dgst -%s -verify '%s/merchant.spki.pem' -signature '%s' '%s' "
                     ">/dev/null 2>&1", strcmp(dgst, "sha256") ? "sha256" : "sha1", DATA, p_sig,
                     p_data), 0);
    /* And the request vector bytes. */
    size_t dl;
    char *data = aop_test_read("pay-request.signed-bytes.json", &dl);
    sign_ok(k, t, data, dl, out, &ol);
    write_file(p_b64, out, ol);
    cr_assert_eq(sh("openssl base64 -d -A -in '%s' -out '%s'", p_b64, p_sig), 0);
    cr_assert_eq(sh("openssl dgst -%s -verify '%s/merchant.spki.pem' -signature '%s' "
                    "'%s/pay-request.signed-bytes.json' >/dev/null 2>&1", dgst, DATA, p_sig, DATA),
                 0);
    free(data);
    aop_private_key_free(k);
}

Test(openssl_cli, ours_sign_openssl_verifies_rsa2) { ours_sign_openssl_verifies(AOP_SIGN_RSA2, "sha256"); }

Test(openssl_cli, ours_sign_openssl_verifies_rsa) { ours_sign_openssl_verifies(AOP_SIGN_RSA, "sha1"); }

static void openssl_signs_ours_verifies(aop_sign_type_t t, const char *dgst) {
    char p_data[512], p_b64[512], p_sig[512];
    static const char bin[] = "{\"x\":1}\x00\x7f\x80 tail";
    write_file(tpath(p_data, "data.bin"), bin, sizeof bin - 1);
    tpath(p_sig, "sig.bin");
    tpath(p_b64, "sig.b64");
    cr_assert_eq(sh("openssl dgst -%s -sign '%s/gateway.pkcs8.pem' -out '%s' '%s'", dgst, DATA,
                    p_sig, p_data), 0);
    cr_assert_eq(sh("openssl base64 -A -in '%s' -out '%s'", p_sig, p_b64), 0);
    char *sig = aop_test_read_path(p_b64, NULL);
    sig[strcspn(sig, "\r\n")] = '\0';
    aop_public_key_t *k = pub("gateway.spki.b64");
    cr_assert_eq(verify(k, t, bin, sizeof bin - 1, sig), AOP_OK, "openssl %s signature refused", dgst);
    cr_assert_eq(verify(k, t == AOP_SIGN_RSA ? AOP_SIGN_RSA2 : AOP_SIGN_RSA, bin, sizeof bin - 1,
                        sig), AOP_E_SIGNATURE_INVALID);
    cr_assert_eq(verify(k, t, bin, sizeof bin - 2, sig), AOP_E_SIGNATURE_INVALID);
    aop_public_key_free(k);
    free(sig);
}

Test(openssl_cli, openssl_signs_ours_verifies_rsa2) { openssl_signs_ours_verifies(AOP_SIGN_RSA2, "sha256"); }

Test(openssl_cli, openssl_signs_ours_verifies_rsa) { openssl_signs_ours_verifies(AOP_SIGN_RSA, "sha1"); }

Test(openssl_cli, fingerprint_is_sha256_of_der_spki) {
    char p_out[512];
    tpath(p_out, "fp.txt");
    cr_assert_eq(sh("openssl pkey -pubin -in '%s/gateway.spki.pem' -outform DER | "
                    "openssl dgst -sha256 -r | cut -d' ' -f1 > '%s'", DATA, p_out), 0);
    char *hex = aop_test_read_path(p_out, NULL);
    hex[strcspn(hex, "\r\n")] = '\0';
    char want[AOP_FINGERPRINT_MAX + 8];
    snprintf(want, sizeof want, "SHA256:%s", hex);
    aop_public_key_t *k = pub("gateway.spki.pem");
    char fp[AOP_FINGERPRINT_MAX];
    aop_public_key_fingerprint(k, fp);
    cr_assert_str_eq(fp, want);
    aop_private_key_t *pk = priv("gateway.pkcs1.pem", NULL);
    char fp2[AOP_FINGERPRINT_MAX];
    aop_private_key_fingerprint(pk, fp2);
    cr_assert_str_eq(fp2, want);
    aop_private_key_free(pk);
    aop_public_key_free(k);
    free(hex);
}

/* The fingerprint's DER is written by the library from n and e: the same bytes as OpenSSL's
 * encoder for another size (3072 bits: other length octets) and the usual exponent. */
Test(openssl_cli, fingerprint_of_a_generated_3072_bit_key) {
    char p_priv[512], p_pub[512], p_out[512];
    tpath(p_priv, "k3072.pem");
    tpath(p_pub, "k3072.pub.pem");
    tpath(p_out, "fp3072.txt");
    aop_error_t e;
    cr_assert_eq(aop_keygen_files(p_priv, p_pub, 3072, &e), AOP_OK, "%s", e.msg);
    cr_assert_eq(sh("openssl pkey -pubin -in '%s' -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1 > '%s'",
                    p_pub, p_out), 0);
    char *hex = aop_test_read_path(p_out, NULL);
    hex[strcspn(hex, "\r\n")] = '\0';
    char want[AOP_FINGERPRINT_MAX + 8], fp[AOP_FINGERPRINT_MAX];
    snprintf(want, sizeof want, "SHA256:%s", hex);
    aop_private_key_t *k = NULL;
    cr_assert_eq(aop_private_key_load_file(p_priv, NULL, &k, &e), AOP_OK, "%s", e.msg);
    aop_private_key_fingerprint(k, fp);
    cr_assert_str_eq(fp, want);
    aop_private_key_free(k);
    free(hex);
}

/* ---------------------------------------------------------------------------------------------
 * Verification refusals */

typedef struct {
    char *data;
    size_t len;
    char *sig2; /* response RSA2 signature */
    char *sig1; /* response RSA signature */
    aop_public_key_t *key;
} resp_t;

static resp_t resp_load(void) {
    resp_t r;
    r.data = aop_test_read("pay-response.signed-bytes.json", &r.len);
    r.sig2 = vec("response_rsa2.sig.b64", NULL);
    r.sig1 = vec("response_rsa.sig.b64", NULL);
    r.key = pub("gateway.spki.pem");
    return r;
}

static void resp_free(resp_t *r) {
    free(r->data);
    free(r->sig2);
    free(r->sig1);
    aop_public_key_free(r->key);
}

Test(verify, tampered_data) {
    resp_t r = resp_load();
    for (size_t at = 0; at < r.len; at += r.len / 7 + 1) {
        r.data[at] ^= 0x01;
        cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, r.sig2), AOP_E_SIGNATURE_INVALID);
        cr_assert_eq(verify(r.key, AOP_SIGN_RSA, r.data, r.len, r.sig1), AOP_E_SIGNATURE_INVALID);
        r.data[at] ^= 0x01;
    }
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len - 1, r.sig2), AOP_E_SIGNATURE_INVALID);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, r.sig2), AOP_OK);
    resp_free(&r);
}

Test(verify, tampered_signature_one_character) {
    resp_t r = resp_load();
    size_t n = strlen(r.sig2);
    for (size_t at = 0; at < n && r.sig2[at] != '='; at += 37) {
        char orig = r.sig2[at];
        r.sig2[at] = orig == 'A' ? 'B' : 'A';
        cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, r.sig2), AOP_E_SIGNATURE_INVALID,
                     "changed offset %zu", at);
        r.sig2[at] = orig;
    }
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, r.sig2), AOP_OK);
    resp_free(&r);
}

Test(verify, change_in_unused_padding_bits_is_refused) {
    /* 256 bytes -> "...X==": X carries 2 bits of data and 4 unused bits. A lenient decoder gives
     * the same bytes for X+1; a strict one must refuse it (one text per signature). */
    resp_t r = resp_load();
    size_t n = strlen(r.sig2);
    cr_assert(n == 344 && r.sig2[n - 1] == '=' && r.sig2[n - 2] == '=');
    char *x = &r.sig2[n - 3];
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t v = (size_t)(strchr(alpha, *x) - alpha);
    cr_assert_eq(v & 15u, 0u);
    *x = alpha[v + 1];
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, r.sig2), AOP_E_SIGNATURE_INVALID);
    resp_free(&r);
}

Test(verify, wrong_key_and_swapped_keys) {
    resp_t r = resp_load();
    /* The merchant's own public key used to verify the gateway's signature. */
    aop_public_key_t *merchant = pub("merchant.spki.pem");
    cr_assert_eq(verify(merchant, AOP_SIGN_RSA2, r.data, r.len, r.sig2), AOP_E_SIGNATURE_INVALID);
    cr_assert_eq(verify(merchant, AOP_SIGN_RSA, r.data, r.len, r.sig1), AOP_E_SIGNATURE_INVALID);
    /* The gateway's key used on the merchant's request signature. */
    size_t dl;
    char *req = aop_test_read("pay-request.signed-bytes.json", &dl);
    char *rs = vec("request_rsa2.sig.b64", NULL);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, req, dl, rs), AOP_E_SIGNATURE_INVALID);
    cr_assert_eq(verify(merchant, AOP_SIGN_RSA2, req, dl, rs), AOP_OK);
    /* A freshly generated key of the same size. */
    aop_error_t e;
    aop_error_clear(&e);
    aop_status_t st = aop_verify(r.key, AOP_SIGN_RSA2, req, dl, rs, strlen(rs), &e);
    cr_assert_eq(st, AOP_E_SIGNATURE_INVALID);
    cr_assert(strstr(e.msg, "SHA256:") != NULL, "names the key's fingerprint: %s", e.msg);
    cr_assert(strstr(e.msg, "RSA2") != NULL);
    cr_assert(strstr(e.msg, rs) == NULL);
    free(req);
    free(rs);
    aop_public_key_free(merchant);
    resp_free(&r);
}

Test(verify, wrong_sign_type) {
    resp_t r = resp_load();
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA, r.data, r.len, r.sig2), AOP_E_SIGNATURE_INVALID);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, r.sig1), AOP_E_SIGNATURE_INVALID);
    resp_free(&r);
}

Test(verify, empty_signature_is_missing) {
    resp_t r = resp_load();
    aop_error_t e;
    aop_error_clear(&e);
    cr_assert_eq(aop_verify(r.key, AOP_SIGN_RSA2, r.data, r.len, "", 0, &e),
                 AOP_E_SIGNATURE_MISSING);
    cr_assert_eq(e.code, AOP_E_SIGNATURE_MISSING);
    cr_assert_eq(aop_verify(r.key, AOP_SIGN_RSA2, r.data, r.len, NULL, 0, &e),
                 AOP_E_SIGNATURE_MISSING);
    cr_assert_eq(aop_verify(r.key, AOP_SIGN_RSA2, r.data, r.len, r.sig2, 0, &e),
                 AOP_E_SIGNATURE_MISSING);
    resp_free(&r);
}

/* Replaces every '+', '/', '=' of sig by %XX (upper or lower case hex). */
static char *percent_encode(const char *sig, bool lower) {
    char *out = malloc(strlen(sig) * 3 + 1), *o = out;
    for (const char *p = sig; *p; p++) {
        if (*p == '+' || *p == '/' || *p == '=')
            o += sprintf(o, lower ? "%%%02x" : "%%%02X", (unsigned char)*p);
        else
            *o++ = *p;
    }
    *o = '\0';
    return out;
}

Test(verify, percent_encoded_signature_is_accepted) {
    resp_t r = resp_load();
    cr_assert(strpbrk(r.sig2, "+/") != NULL, "the vector should contain '+' or '/'");
    char *up = percent_encode(r.sig2, false), *low = percent_encode(r.sig2, true);
    cr_assert(strstr(up, "%3D") != NULL);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, up), AOP_OK);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, low), AOP_OK);
    char *s1 = percent_encode(r.sig1, false);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA, r.data, r.len, s1), AOP_OK);
    /* Every character escaped. */
    char *all = malloc(strlen(r.sig2) * 3 + 1), *o = all;
    for (const char *p = r.sig2; *p; p++) o += sprintf(o, "%%%02X", (unsigned char)*p);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, all), AOP_OK);
    free(all);
    free(up);
    free(low);
    free(s1);
    resp_free(&r);
}

Test(verify, plus_is_never_a_space) {
    resp_t r = resp_load();
    char *s = strdup(r.sig2);
    char *plus = strchr(s, '+');
    if (!plus) plus = strchr(s, '/');
    cr_assert_not_null(plus);
    *plus = ' ';
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, s), AOP_E_SIGNATURE_INVALID);
    /* %20 decodes to a space, which is not base64 either. */
    size_t at = (size_t)(plus - s);
    char *esc = malloc(strlen(s) + 3);
    memcpy(esc, s, at);
    strcpy(esc + at, "%20");
    strcpy(esc + at + 3, s + at + 1);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, esc), AOP_E_SIGNATURE_INVALID);
    free(esc);
    free(s);
    resp_free(&r);
}

Test(verify, malformed_base64_and_escapes) {
    resp_t r = resp_load();
    size_t n = strlen(r.sig2);
    char buf[AOP_SIG_B64_MAX * 2];
    /* Bad character in the middle. */
    snprintf(buf, sizeof buf, "%s", r.sig2);
    buf[100] = '*';
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* URL-safe alphabet is not the standard one. */
    snprintf(buf, sizeof buf, "%s", r.sig2);
    for (char *p = buf; *p; p++) *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* Padding removed. */
    snprintf(buf, sizeof buf, "%.*s", (int)(n - 2), r.sig2);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* One '=' too few, one too many. */
    snprintf(buf, sizeof buf, "%.*s", (int)(n - 1), r.sig2);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    snprintf(buf, sizeof buf, "%s=", r.sig2);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    snprintf(buf, sizeof buf, "%s====", r.sig2);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* '=' in the middle. */
    snprintf(buf, sizeof buf, "%s", r.sig2);
    buf[40] = '=';
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* Data after the padding (a second signature glued on). */
    snprintf(buf, sizeof buf, "%sAAAA", r.sig2);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* Truncated by one group: valid base64, wrong length. */
    snprintf(buf, sizeof buf, "%s", r.sig2 + 4);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* Whitespace and line breaks are not part of a signature. */
    snprintf(buf, sizeof buf, "%.76s\n%s", r.sig2, r.sig2 + 76);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    snprintf(buf, sizeof buf, "%s\n", r.sig2);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    snprintf(buf, sizeof buf, " %s", r.sig2);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* Broken %-escapes. */
    static const char *const bad_escapes[] = {"%", "%2", "%zz", "%G0", "%2B%"};
    for (size_t i = 0; i < sizeof bad_escapes / sizeof *bad_escapes; i++) {
        snprintf(buf, sizeof buf, "%.*s%s", (int)(n - 2), r.sig2, bad_escapes[i]);
        cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID,
                     "escape %s", bad_escapes[i]);
    }
    /* Decoded once only: %253D is "%3D", not "=". */
    snprintf(buf, sizeof buf, "%.*s%%253D%%253D", (int)(n - 2), r.sig2);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf), AOP_E_SIGNATURE_INVALID);
    /* Base64 applied twice (the doc artefact). */
    char twice[AOP_SIG_B64_MAX * 2];
    EVP_EncodeBlock((unsigned char *)twice, (const unsigned char *)r.sig2, (int)n);
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, twice), AOP_E_SIGNATURE_INVALID);
    /* Far too long. */
    char *huge = malloc(100001);
    memset(huge, 'A', 100000);
    huge[100000] = '\0';
    cr_assert_eq(verify(r.key, AOP_SIGN_RSA2, r.data, r.len, huge), AOP_E_SIGNATURE_INVALID);
    free(huge);
    /* NUL inside the given length. */
    snprintf(buf, sizeof buf, "%s", r.sig2);
    buf[10] = '\0';
    aop_error_t e;
    cr_assert_eq(aop_verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf, n, &e),
                 AOP_E_SIGNATURE_INVALID);
    resp_free(&r);
}

Test(verify, error_messages_do_not_hold_the_signature) {
    resp_t r = resp_load();
    char buf[AOP_SIG_B64_MAX];
    snprintf(buf, sizeof buf, "%s", r.sig2);
    buf[200] = '!';
    aop_error_t e;
    aop_error_clear(&e);
    cr_assert_eq(aop_verify(r.key, AOP_SIGN_RSA2, r.data, r.len, buf, strlen(buf), &e),
                 AOP_E_SIGNATURE_INVALID);
    char head[17];
    snprintf(head, sizeof head, "%s", r.sig2);
    cr_assert(strstr(e.msg, head) == NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "base64") != NULL, "%s", e.msg);
    resp_free(&r);
}

/* ---------------------------------------------------------------------------------------------
 * Private key loading */

TestSuite(private_key, .init = mk_tmp, .fini = rm_tmp);

Test(private_key, encrypted_without_passphrase) {
    aop_error_t e;
    const char *path = aop_test_private_key("merchant.pkcs8.enc.pem");
    expect_err(load_priv_path(path, NULL, &e), &e, AOP_E_KEY_ENCRYPTED,
               "found PEM 'ENCRYPTED PRIVATE KEY'", "no passphrase was given", path, NULL);
    expect_err(load_priv_path(path, "", &e), &e, AOP_E_KEY_ENCRYPTED, "ENCRYPTED PRIVATE KEY",
               "no passphrase", NULL);
}

Test(private_key, encrypted_with_wrong_passphrase) {
    aop_error_t e;
    char *pem = aop_test_read("merchant.pkcs8.enc.pem", NULL);
    static const char *const wrong[] = {"wrong", "test-passphras", "test-passphrase ",
                                        "Test-passphrase"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
        expect_err(load_priv_text(pem, wrong[i], &e), &e, AOP_E_KEY_ENCRYPTED,
                   "'ENCRYPTED PRIVATE KEY'", "wrong passphrase", NULL);
    free(pem);
}

Test(private_key, passphrase_is_ignored_for_a_plain_key) {
    aop_private_key_t *k = priv("merchant.pkcs8.pem", "unused");
    cr_assert_eq(aop_private_key_bits(k), 2048u);
    aop_private_key_free(k);
}

Test(private_key, legacy_encrypted_pkcs1) {
    char p[512];
    tpath(p, "legacy.pem");
    cr_assert_eq(sh("openssl rsa -in '%s/merchant.pkcs1.pem' -traditional -aes128 "
                    "-passout pass:test-passphrase -out '%s' 2>/dev/null", DATA, p), 0);
    aop_error_t e;
    expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_KEY_ENCRYPTED, "'RSA PRIVATE KEY'",
               "no passphrase", NULL);
    expect_err(load_priv_path(p, "nope", &e), &e, AOP_E_KEY_ENCRYPTED, "'RSA PRIVATE KEY'",
               "wrong passphrase", NULL);
    aop_private_key_t *k = NULL;
    cr_assert_eq(aop_private_key_load_file(p, "test-passphrase", &k, &e), AOP_OK, "%s", e.msg);
    size_t dl;
    char *data = aop_test_read("pay-request.signed-bytes.json", &dl);
    char *want = vec("request_rsa2.sig.b64", NULL);
    char out[AOP_SIG_B64_MAX];
    size_t ol;
    sign_ok(k, AOP_SIGN_RSA2, data, dl, out, &ol);
    cr_assert_str_eq(out, want);
    free(data);
    free(want);
    aop_private_key_free(k);
}

Test(private_key, public_key_given_instead) {
    aop_error_t e;
    const char *path = aop_test_private_key("merchant.spki.pem"); /* 0600: passes the mode check */
    expect_err(load_priv_path(path, NULL, &e), &e, AOP_E_KEY_FORMAT,
               "found PEM 'PUBLIC KEY': a public key was given where the merchant private key is "
               "expected", NULL);
    char *b64 = aop_test_read("merchant.spki.b64", NULL);
    expect_err(load_priv_text(b64, NULL, &e), &e, AOP_E_KEY_FORMAT, "bare base64 public key",
               "a public key was given", NULL);
    free(b64);
    char p[512];
    tpath(p, "rsapub.pem");
    cr_assert_eq(sh("openssl rsa -in '%s/merchant.pkcs1.pem' -RSAPublicKey_out -out '%s' "
                    "2>/dev/null", DATA, p), 0);
    expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_KEY_FORMAT, "'RSA PUBLIC KEY'",
               "a public key was given", NULL);
}

Test(private_key, certificate_given_instead) {
    char p[512];
    tpath(p, "cert.pem");
    cr_assert_eq(sh("openssl req -x509 -key '%s/merchant.pkcs8.pem' -subj /CN=t -days 1 "
                    "-out '%s' 2>/dev/null", DATA, p), 0);
    aop_error_t e;
    expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_KEY_FORMAT, "'CERTIFICATE'", NULL);
}

Test(private_key, not_pem) {
    aop_error_t e;
    expect_err(load_priv_text("hello, world\n", NULL, &e), &e, AOP_E_KEY_FORMAT, "not PEM", NULL);
    expect_err(load_priv_text("", NULL, &e), &e, AOP_E_KEY_FORMAT, "empty", NULL);
    expect_err(load_priv_text(" \n\t\r\n", NULL, &e), &e, AOP_E_KEY_FORMAT, "empty", NULL);
    expect_err(load_priv_text("{\"key\": \"value\"}", NULL, &e), &e, AOP_E_KEY_FORMAT, "not PEM",
               NULL);
    expect_err(load_priv_text("aGVsbG8gd29ybGQ=", NULL, &e), &e, AOP_E_KEY_FORMAT, "not PEM",
               NULL);
    expect_err(load_priv_text("-----BEGIN FOO BAR-----\nAAAA\n-----END FOO BAR-----\n", NULL, &e),
               &e, AOP_E_KEY_FORMAT, "found PEM 'FOO BAR'", NULL);
    expect_err(load_priv_text("-----BEGIN PRIVATE KEY\nAAAA\n", NULL, &e), &e, AOP_E_KEY_FORMAT,
               "malformed PEM", NULL);
}

/* The body of a PEM file without its armor lines, joined. */
static char *strip_armor(const char *name) {
    char *pem = aop_test_read(name, NULL);
    char *out = malloc(strlen(pem) + 1), *o = out;
    for (char *line = strtok(pem, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "-----", 5) != 0) o += sprintf(o, "%s\n", line);
    *o = '\0';
    free(pem);
    return out;
}

Test(private_key, bare_base64_private_key_is_named) {
    /* (uses the suite's temporary directory) */
    aop_error_t e;
    char *p8 = strip_armor("merchant.pkcs8.pem");
    expect_err(load_priv_text(p8, NULL, &e), &e, AOP_E_KEY_FORMAT, "bare base64 PKCS#8",
               "-----BEGIN PRIVATE KEY-----", NULL);
    char *p1 = strip_armor("merchant.pkcs1.pem");
    expect_err(load_priv_text(p1, NULL, &e), &e, AOP_E_KEY_FORMAT, "bare base64 PKCS#1",
               "-----BEGIN RSA PRIVATE KEY-----", NULL);
    free(p8);
    free(p1);
    char p[512];
    tpath(p, "enc.der.b64");
    cr_assert_eq(sh("openssl pkcs8 -topk8 -in '%s/merchant.pkcs8.pem' -passout pass:x -outform DER "
                    "| openssl base64 > '%s'", DATA, p), 0);
    aop_error_t e2;
    expect_err(load_priv_path(p, NULL, &e2), &e2, AOP_E_KEY_FORMAT, "bare base64 encrypted PKCS#8",
               NULL);
}

Test(private_key, truncated_and_corrupted_pem) {
    aop_error_t e;
    size_t n;
    char *pem = aop_test_read("merchant.pkcs8.pem", &n);
    char *half = strndup(pem, n / 2);
    expect_err(load_priv_text(half, NULL, &e), &e, AOP_E_KEY_FORMAT, "'PRIVATE KEY'",
               "no matching '-----END PRIVATE KEY-----'", NULL);
    /* Break the DER structure at its start: "MIIE..." -> "AAAA...". */
    char *bad = strdup(pem);
    char *body = strchr(bad, '\n') + 1;
    memcpy(body, "AAAA", 4);
    expect_err(load_priv_text(bad, NULL, &e), &e, AOP_E_KEY_FORMAT, "found PEM 'PRIVATE KEY'",
               "could not decode", NULL);
    /* Not base64 inside the armor. */
    strcpy(bad, pem);
    body = strchr(bad, '\n') + 1;
    body[10] = '*';
    expect_err(load_priv_text(bad, NULL, &e), &e, AOP_E_KEY_FORMAT, "found PEM 'PRIVATE KEY'",
               NULL);
    free(bad);
    free(half);
    free(pem);
}

Test(private_key, two_private_keys_are_refused) {
    char *a = aop_test_read("merchant.pkcs8.pem", NULL);
    char *b = aop_test_read("gateway.pkcs8.pem", NULL);
    char *both = malloc(strlen(a) + strlen(b) + 1);
    strcpy(both, a);
    strcat(both, b);
    aop_error_t e;
    expect_err(load_priv_text(both, NULL, &e), &e, AOP_E_KEY_FORMAT, "found 2 PEM private keys",
               NULL);
    free(both);
    free(a);
    free(b);
}

Test(private_key, surrounding_text_and_crlf_are_fine) {
    char *pem = aop_test_read("merchant.pkcs1.pem", NULL);
    char *crlf = malloc(strlen(pem) * 2 + 64), *o = crlf;
    o += sprintf(o, "Merchant key, test only\r\n");
    for (const char *p = pem; *p; p++) {
        if (*p == '\n') *o++ = '\r';
        *o++ = *p;
    }
    *o = '\0';
    aop_private_key_t *k = NULL;
    aop_error_t e;
    cr_assert_eq(aop_private_key_load_mem(crlf, strlen(crlf), NULL, &k, &e), AOP_OK, "%s", e.msg);
    aop_public_key_t *p = pub("merchant.spki.pem");
    cr_assert(aop_keys_pair(k, p));
    aop_public_key_free(p);
    aop_private_key_free(k);
    free(crlf);
    free(pem);
}

Test(private_key, not_rsa) {
    char p[512], q[512], r[512], s[512];
    tpath(p, "ec.pem");
    tpath(q, "ec-trad.pem");
    tpath(r, "ed.pem");
    tpath(s, "pss.pem");
    cr_assert_eq(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '%s' "
                    "2>/dev/null", p), 0);
    cr_assert_eq(sh("openssl ec -in '%s' -out '%s' 2>/dev/null", p, q), 0);
    cr_assert_eq(sh("openssl genpkey -algorithm ED25519 -out '%s' 2>/dev/null", r), 0);
    cr_assert_eq(sh("openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out '%s' "
                    ">/dev/null 2>&1", s), 0);
    aop_error_t e;
    expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_KEY_NOT_RSA, "found PEM 'PRIVATE KEY'",
               "type EC, not RSA", NULL);
    expect_err(load_priv_path(q, NULL, &e), &e, AOP_E_KEY_NOT_RSA, "found PEM 'EC PRIVATE KEY'",
               "type EC, not RSA", NULL);
    expect_err(load_priv_path(r, NULL, &e), &e, AOP_E_KEY_NOT_RSA, "ED25519", "not RSA", NULL);
    expect_err(load_priv_path(s, NULL, &e), &e, AOP_E_KEY_NOT_RSA, "RSA-PSS", "not RSA", NULL);
}

Test(private_key, weak_key) {
    aop_error_t e;
    const char *path = aop_test_private_key("weak-1024.pkcs8.pem");
    expect_err(load_priv_path(path, NULL, &e), &e, AOP_E_KEY_WEAK, "'PRIVATE KEY'", "1024-bit",
               "2048", NULL);
}

Test(private_key, file_errors) {
    aop_error_t e;
    char p[512];
    tpath(p, "missing.pem");
    expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_IO, p, "No such file or directory", NULL);
    expect_err(load_priv_path(tmp, NULL, &e), &e, AOP_E_CONFIG, tmp, "is a directory, not a regular file",
               NULL);
    /* Too large: a real key followed by 70 KiB of text. */
    tpath(p, "big.pem");
    size_t n;
    char *pem = aop_test_read("merchant.pkcs8.pem", &n);
    FILE *f = fopen(p, "wb");
    fwrite(pem, 1, n, f);
    for (int i = 0; i < 70 * 1024; i++) fputc('\n', f);
    fclose(f);
    expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_KEY_FORMAT, "64 KiB", p, NULL);
    /* A _mem error restated with the path. */
    tpath(p, "pub.pem");
    write_file(p, "hello\n", 6);
    expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_KEY_FORMAT, "not PEM", p, NULL);
    aop_private_key_t *k = (aop_private_key_t *)1;
    cr_assert_eq(aop_private_key_load_file(NULL, NULL, &k, &e), AOP_E_INVALID_ARG);
    cr_assert_null(k);
    free(pem);
}

/* A FIFO would block a plain open forever (no writer): refused at once, as is any non-file. */
Test(private_key, fifo_and_devices_are_refused_without_blocking, .timeout = 10) {
    aop_error_t e;
    char p[512];
    tpath(p, "key.fifo");
    cr_assert_eq(mkfifo(p, 0600), 0);
    expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_CONFIG, p, "FIFO", "not a regular file", NULL);
    expect_err(load_pub_path(p, &e), &e, AOP_E_CONFIG, p, "FIFO", NULL);
    expect_err(load_priv_path("/dev/null", NULL, &e), &e, AOP_E_CONFIG, "/dev/null",
               "a character device", NULL);
    expect_err(load_pub_path(tmp, &e), &e, AOP_E_CONFIG, tmp, "a directory", NULL);
}

/* ssh's rule: a private key of ours that group or others may access is refused, naming the
 * mode and the fix; the same bytes at 0600 or 0400 load. */
Test(private_key, lax_mode_is_refused) {
    aop_error_t e;
    char p[512], fix[600];
    tpath(p, "lax.pem");
    size_t n;
    char *pem = aop_test_read("merchant.pkcs8.pem", &n);
    write_file(p, pem, n);
    free(pem);
    snprintf(fix, sizeof fix, "chmod 600 '%s'", p);
    static const struct {
        mode_t mode;
        const char *text;
    } lax[] = {{0644, "0644"}, {0640, "0640"}, {0604, "0604"}, {0620, "0620"}, {0601, "0601"}};
    for (size_t i = 0; i < sizeof lax / sizeof *lax; i++) {
        cr_assert_eq(chmod(p, lax[i].mode), 0);
        expect_err(load_priv_path(p, NULL, &e), &e, AOP_E_CONFIG, lax[i].text, fix, NULL);
    }
    cr_assert_eq(chmod(p, 0600), 0);
    cr_assert_eq(load_priv_path(p, NULL, &e), AOP_OK, "%s", e.msg);
    cr_assert_eq(chmod(p, 0400), 0);
    cr_assert_eq(load_priv_path(p, NULL, &e), AOP_OK, "%s", e.msg);
    /* Public keys are not secret: any mode. */
    cr_assert_eq(load_pub_path(DATA "/merchant.spki.pem", &e), AOP_OK, "%s", e.msg);
}

/* A key owned by another account (say root's, readable by a service's group) is that account's
 * decision: accepted. Needs root to give the file away. */
Test(private_key, lax_mode_of_another_account_is_accepted) {
    if (geteuid() != 0) cr_skip_test("needs root to chown a file to another account");
    aop_error_t e;
    char p[512];
    tpath(p, "theirs.pem");
    size_t n;
    char *pem = aop_test_read("merchant.pkcs8.pem", &n);
    write_file(p, pem, n);
    free(pem);
    cr_assert_eq(chmod(p, 0640), 0);
    cr_assert_eq(chown(p, 65534, 65534), 0);
    cr_assert_eq(chmod(tmp, 0755), 0);
    /* Root reads it whatever its owner; the point is the owner check. */
    cr_assert_eq(load_priv_path(p, NULL, &e), AOP_OK, "%s", e.msg);
}

Test(private_key, bad_arguments) {
    aop_error_t e;
    cr_assert_eq(aop_private_key_load_mem("x", 1, NULL, NULL, &e), AOP_E_INVALID_ARG);
    aop_private_key_t *k = NULL;
    cr_assert_eq(aop_private_key_load_mem(NULL, 5, NULL, &k, &e), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_private_key_load_mem(NULL, 0, NULL, &k, NULL), AOP_E_KEY_FORMAT);
    aop_private_key_free(NULL);
    aop_public_key_free(NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Public key loading */

TestSuite(public_key, .init = mk_tmp, .fini = rm_tmp);

Test(public_key, private_key_given_instead) {
    aop_error_t e;
    char path[512];
    static const struct {
        const char *file, *label;
    } cases[] = {{"gateway.pkcs8.pem", "found PEM 'PRIVATE KEY'"},
                 {"gateway.pkcs1.pem", "found PEM 'RSA PRIVATE KEY'"},
                 {"gateway.pkcs8.enc.pem", "found PEM 'ENCRYPTED PRIVATE KEY'"}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", DATA, cases[i].file);
        expect_err(load_pub_path(path, &e), &e, AOP_E_KEY_FORMAT, cases[i].label,
                   "a private key was given where Alipay's public key is expected", NULL);
    }
    char *p8 = strip_armor("gateway.pkcs8.pem");
    expect_err(load_pub_text(p8, &e), &e, AOP_E_KEY_FORMAT, "bare base64 private key",
               "a private key was given", NULL);
    free(p8);
}

Test(public_key, rsa_public_key_pkcs1_pem) {
    char p[512];
    tpath(p, "rsapub.pem");
    cr_assert_eq(sh("openssl rsa -in '%s/gateway.pkcs1.pem' -RSAPublicKey_out -out '%s' "
                    "2>/dev/null", DATA, p), 0);
    aop_public_key_t *k = NULL;
    aop_error_t e;
    cr_assert_eq(aop_public_key_load_file(p, &k, &e), AOP_OK, "%s", e.msg);
    resp_t r = resp_load();
    cr_assert_eq(verify(k, AOP_SIGN_RSA2, r.data, r.len, r.sig2), AOP_OK);
    char a[AOP_FINGERPRINT_MAX], b[AOP_FINGERPRINT_MAX];
    aop_public_key_fingerprint(k, a);
    aop_public_key_fingerprint(r.key, b);
    cr_assert_str_eq(a, b);
    resp_free(&r);
    aop_public_key_free(k);
}

Test(public_key, bare_base64_with_whitespace) {
    char *b64 = vec("gateway.spki.b64", NULL);
    /* Folded at 64 columns with CRLF, indented, trailing spaces. */
    char *folded = malloc(strlen(b64) * 2 + 16), *o = folded;
    o += sprintf(o, "  ");
    for (size_t i = 0; b64[i]; i++) {
        if (i && i % 64 == 0) o += sprintf(o, " \r\n\t");
        *o++ = b64[i];
    }
    o += sprintf(o, "\n\n");
    *o = '\0';
    aop_public_key_t *k = NULL;
    aop_error_t e;
    cr_assert_eq(aop_public_key_load_mem(folded, strlen(folded), &k, &e), AOP_OK, "%s", e.msg);
    resp_t r = resp_load();
    cr_assert_eq(verify(k, AOP_SIGN_RSA, r.data, r.len, r.sig1), AOP_OK);
    resp_free(&r);
    aop_public_key_free(k);
    /* Base64 that is not padded right is refused. */
    b64[strlen(b64) - 1] = '\0';
    expect_err(load_pub_text(b64, &e), &e, AOP_E_KEY_FORMAT, "neither PEM", NULL);
    free(folded);
    free(b64);
}

Test(public_key, not_a_key) {
    aop_error_t e;
    expect_err(load_pub_text("hello, world", &e), &e, AOP_E_KEY_FORMAT, "neither PEM",
               "bare base64 SPKI", NULL);
    expect_err(load_pub_text("aGVsbG8gd29ybGQ=", &e), &e, AOP_E_KEY_FORMAT,
               "not a DER SubjectPublicKeyInfo", NULL);
    expect_err(load_pub_text("", &e), &e, AOP_E_KEY_FORMAT, "empty", NULL);
    expect_err(load_pub_text("-----BEGIN PUBLIC KEY-----\nMIIB\n", &e), &e, AOP_E_KEY_FORMAT,
               "no matching '-----END PUBLIC KEY-----'", NULL);
    expect_err(load_pub_text("-----BEGIN PUBLIC KEY-----\nAAAABBBB\n-----END PUBLIC KEY-----\n",
                             &e),
               &e, AOP_E_KEY_FORMAT, "found PEM 'PUBLIC KEY'", "could not decode", NULL);
    char p[512];
    tpath(p, "cert.pem");
    cr_assert_eq(sh("openssl req -x509 -key '%s/gateway.pkcs8.pem' -subj /CN=t -days 1 "
                    "-out '%s' 2>/dev/null", DATA, p), 0);
    expect_err(load_pub_path(p, &e), &e, AOP_E_KEY_FORMAT, "'CERTIFICATE'", NULL);
    tpath(p, "missing.pem");
    expect_err(load_pub_path(p, &e), &e, AOP_E_IO, p, "No such file", NULL);
}

Test(public_key, not_rsa_and_weak) {
    char p[512], q[512], w[512];
    tpath(p, "ec.pem");
    tpath(q, "ecpub.pem");
    tpath(w, "weakpub.pem");
    cr_assert_eq(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '%s' "
                    "2>/dev/null && openssl pkey -in '%s' -pubout -out '%s'", p, p, q), 0);
    cr_assert_eq(sh("openssl pkey -in '%s/weak-1024.pkcs8.pem' -pubout -out '%s'", DATA, w), 0);
    aop_error_t e;
    expect_err(load_pub_path(q, &e), &e, AOP_E_KEY_NOT_RSA, "found PEM 'PUBLIC KEY'",
               "type EC, not RSA", NULL);
    expect_err(load_pub_path(w, &e), &e, AOP_E_KEY_WEAK, "'PUBLIC KEY'", "1024-bit", NULL);
    /* The same as bare base64. */
    char *b = strip_armor("gateway.spki.pem");
    aop_public_key_t *k = NULL;
    cr_assert_eq(aop_public_key_load_mem(b, strlen(b), &k, &e), AOP_OK, "%s", e.msg);
    aop_public_key_free(k);
    free(b);
    char *ws = aop_test_read_path(w, NULL);
    char *body = strchr(ws, '\n') + 1;
    *strstr(body, "-----END") = '\0';
    expect_err(load_pub_text(body, &e), &e, AOP_E_KEY_WEAK, "bare base64 SPKI", "1024-bit", NULL);
    free(ws);
}

/* ---------------------------------------------------------------------------------------------
 * Key pairs, fingerprints, bits */

Test(keys, pair) {
    aop_private_key_t *m = priv("merchant.pkcs8.pem", NULL);
    aop_private_key_t *g = priv("gateway.pkcs1.pem", NULL);
    aop_public_key_t *mp = pub("merchant.spki.pem"), *mb = pub("merchant.spki.b64");
    aop_public_key_t *gp = pub("gateway.spki.pem");
    cr_assert(aop_keys_pair(m, mp));
    cr_assert(aop_keys_pair(m, mb));
    cr_assert(aop_keys_pair(g, gp));
    cr_assert_not(aop_keys_pair(m, gp));
    cr_assert_not(aop_keys_pair(g, mp));
    cr_assert_not(aop_keys_pair(NULL, mp));
    cr_assert_not(aop_keys_pair(m, NULL));
    aop_public_key_t *derived = NULL;
    aop_error_t e;
    cr_assert_eq(aop_private_key_public(m, &derived, &e), AOP_OK, "%s", e.msg);
    cr_assert(aop_keys_pair(m, derived));
    char a[AOP_FINGERPRINT_MAX], b[AOP_FINGERPRINT_MAX];
    aop_public_key_fingerprint(derived, a);
    aop_public_key_fingerprint(mp, b);
    cr_assert_str_eq(a, b);
    /* A key derived that way verifies what the private key signs. */
    char out[AOP_SIG_B64_MAX];
    size_t ol;
    sign_ok(m, AOP_SIGN_RSA2, "abc", 3, out, &ol);
    cr_assert_eq(verify(derived, AOP_SIGN_RSA2, "abc", 3, out), AOP_OK);
    aop_public_key_free(derived);
    aop_public_key_free(mp);
    aop_public_key_free(mb);
    aop_public_key_free(gp);
    aop_private_key_free(m);
    aop_private_key_free(g);
}

Test(keys, fingerprint_format) {
    aop_private_key_t *m = priv("merchant.pkcs1.pem", NULL);
    aop_public_key_t *g = pub("gateway.spki.b64");
    char a[AOP_FINGERPRINT_MAX], b[AOP_FINGERPRINT_MAX];
    aop_private_key_fingerprint(m, a);
    aop_public_key_fingerprint(g, b);
    for (const char *fp = a; fp; fp = fp == a ? b : NULL) {
        cr_assert_eq(strlen(fp), 71u, "%s", fp);
        cr_assert_eq(strncmp(fp, "SHA256:", 7), 0);
        for (size_t i = 7; i < 71; i++)
            cr_assert(isdigit((unsigned char)fp[i]) || (fp[i] >= 'a' && fp[i] <= 'f'), "%s", fp);
    }
    cr_assert_str_neq(a, b);
    cr_assert_eq(aop_private_key_bits(m), 2048u);
    cr_assert_eq(aop_private_key_bits(NULL), 0u);
    aop_public_key_free(g);
    aop_private_key_free(m);
}

Test(keys, sign_type_names) {
    cr_assert_str_eq(aop_sign_type_name(AOP_SIGN_RSA2), "RSA2");
    cr_assert_str_eq(aop_sign_type_name(AOP_SIGN_RSA), "RSA");
    cr_assert_str_eq(aop_sign_type_name((aop_sign_type_t)7), "?");
    aop_sign_type_t t = AOP_SIGN_RSA;
    cr_assert(aop_sign_type_parse("RSA2", &t));
    cr_assert_eq(t, AOP_SIGN_RSA2);
    cr_assert(aop_sign_type_parse("RSA", &t));
    cr_assert_eq(t, AOP_SIGN_RSA);
    static const char *const bad[] = {"", "rsa2", "RSA256", "RSA2 ", "SHA256", "RSA1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t = AOP_SIGN_RSA;
        cr_assert_not(aop_sign_type_parse(bad[i], &t), "%s", bad[i]);
        cr_assert_eq(t, AOP_SIGN_RSA, "unchanged on failure");
    }
    cr_assert_not(aop_sign_type_parse(NULL, &t));
}

Test(keys, sign_buffer_and_arguments) {
    aop_private_key_t *m = priv("merchant.pkcs8.pem", NULL);
    aop_error_t e;
    char out[AOP_SIG_B64_MAX];
    size_t ol = 0;
    cr_assert_eq(aop_sign(m, AOP_SIGN_RSA2, "x", 1, out, 344, &ol, &e), AOP_E_BUFFER_TOO_SMALL);
    cr_assert_eq(ol, 344u, "reports the length it needs");
    cr_assert_eq(aop_sign(m, AOP_SIGN_RSA2, "x", 1, out, 345, &ol, &e), AOP_OK, "%s", e.msg);
    cr_assert_eq(ol, 344u);
    cr_assert_eq(aop_sign(NULL, AOP_SIGN_RSA2, "x", 1, out, sizeof out, &ol, &e), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_sign(m, (aop_sign_type_t)9, "x", 1, out, sizeof out, &ol, &e),
                 AOP_E_INVALID_ARG);
    cr_assert_eq(aop_sign(m, AOP_SIGN_RSA2, NULL, 1, out, sizeof out, &ol, &e), AOP_E_INVALID_ARG);
    /* Empty data can be signed and verified. */
    cr_assert_eq(aop_sign(m, AOP_SIGN_RSA2, NULL, 0, out, sizeof out, &ol, &e), AOP_OK);
    aop_public_key_t *p = pub("merchant.spki.pem");
    cr_assert_eq(verify(p, AOP_SIGN_RSA2, "", 0, out), AOP_OK);
    cr_assert_eq(aop_verify(p, (aop_sign_type_t)9, "", 0, out, ol, &e), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_verify(NULL, AOP_SIGN_RSA2, "", 0, out, ol, &e), AOP_E_INVALID_ARG);
    aop_public_key_free(p);
    aop_private_key_free(m);
}

/* ---------------------------------------------------------------------------------------------
 * Key generation */

TestSuite(keygen, .init = mk_tmp, .fini = rm_tmp);

static size_t dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

Test(keygen, round_trip) {
    char kp[512], pp[512];
    tpath(kp, "merchant_private.pem");
    tpath(pp, "merchant_public.pem");
    aop_error_t e;
    aop_error_clear(&e);
    cr_assert_eq(aop_keygen_files(kp, pp, 2048, &e), AOP_OK, "%s", e.msg);
    struct stat st;
    cr_assert_eq(stat(kp, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "private key mode %o", st.st_mode & 0777);
    cr_assert_eq(stat(pp, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644, "public key mode %o", st.st_mode & 0777);
    cr_assert_eq(dir_entries(tmp), 2u, "no temporary file is left behind");
    char *ktext = aop_test_read_path(kp, NULL), *ptext = aop_test_read_path(pp, NULL);
    cr_assert_eq(strncmp(ktext, "-----BEGIN PRIVATE KEY-----\n", 28), 0, "PKCS#8, unencrypted");
    cr_assert_eq(strncmp(ptext, "-----BEGIN PUBLIC KEY-----\n", 27), 0, "SPKI");
    free(ktext);
    free(ptext);
    aop_private_key_t *k = NULL;
    aop_public_key_t *p = NULL;
    cr_assert_eq(aop_private_key_load_file(kp, NULL, &k, &e), AOP_OK, "%s", e.msg);
    cr_assert_eq(aop_public_key_load_file(pp, &p, &e), AOP_OK, "%s", e.msg);
    cr_assert_eq(aop_private_key_bits(k), 2048u);
    cr_assert(aop_keys_pair(k, p));
    aop_public_key_t *other = pub("merchant.spki.pem");
    cr_assert_not(aop_keys_pair(k, other));
    char out[AOP_SIG_B64_MAX];
    size_t ol;
    static const char msg[] = "{\"head\":{},\"body\":{}}";
    sign_ok(k, AOP_SIGN_RSA2, msg, sizeof msg - 1, out, &ol);
    cr_assert_eq(verify(p, AOP_SIGN_RSA2, msg, sizeof msg - 1, out), AOP_OK);
    cr_assert_eq(verify(other, AOP_SIGN_RSA2, msg, sizeof msg - 1, out), AOP_E_SIGNATURE_INVALID);
    sign_ok(k, AOP_SIGN_RSA, msg, sizeof msg - 1, out, &ol);
    cr_assert_eq(verify(p, AOP_SIGN_RSA, msg, sizeof msg - 1, out), AOP_OK);
    /* openssl reads both files. */
    cr_assert_eq(sh("openssl pkey -in '%s' -noout && openssl pkey -pubin -in '%s' -noout", kp, pp),
                 0);
    /* Regenerating replaces the pair atomically. */
    char fp1[AOP_FINGERPRINT_MAX], fp2[AOP_FINGERPRINT_MAX];
    aop_public_key_fingerprint(p, fp1);
    cr_assert_eq(aop_keygen_files(kp, pp, 3072, &e), AOP_OK, "%s", e.msg);
    aop_public_key_t *p2 = NULL;
    cr_assert_eq(aop_public_key_load_file(pp, &p2, &e), AOP_OK, "%s", e.msg);
    aop_public_key_fingerprint(p2, fp2);
    cr_assert_str_neq(fp1, fp2);
    cr_assert_eq(stat(kp, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(dir_entries(tmp), 2u);
    aop_public_key_free(p2);
    aop_public_key_free(other);
    aop_public_key_free(p);
    aop_private_key_free(k);
}

Test(keygen, refusals) {
    char kp[512], pp[512];
    tpath(kp, "k.pem");
    tpath(pp, "p.pem");
    aop_error_t e;
    aop_error_clear(&e);
    expect_err(aop_keygen_files(kp, pp, 1024, &e), &e, AOP_E_KEY_WEAK, "1024", "2048", NULL);
    expect_err(aop_keygen_files(kp, pp, 2047, &e), &e, AOP_E_KEY_WEAK, "2047", NULL);
    cr_assert_eq(aop_keygen_files(kp, kp, 2048, &e), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_keygen_files(NULL, pp, 2048, &e), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_keygen_files(kp, pp, 100000, &e), AOP_E_INVALID_ARG);
    cr_assert_eq(dir_entries(tmp), 0u, "nothing written");
    char bad[512];
    tpath(bad, "no/such/dir/k.pem");
    expect_err(aop_keygen_files(bad, pp, 2048, &e), &e, AOP_E_IO, "no/such/dir/k.pem",
               "No such file or directory", NULL);
    cr_assert_eq(dir_entries(tmp), 0u, "nothing left behind");
    /* The public path fails after the private temp file was written: both are removed. */
    expect_err(aop_keygen_files(kp, bad, 2048, &e), &e, AOP_E_IO, "No such file", NULL);
    cr_assert_eq(dir_entries(tmp), 0u, "nothing left behind");
}

/* ---------------------------------------------------------------------------------------------
 * Threads: one key, many concurrent signers and verifiers. */

typedef struct {
    const aop_private_key_t *key;
    const aop_public_key_t *gw;
    const char *req, *want2, *want1, *resp, *rsig2;
    size_t req_len, resp_len;
    int failures;
} thread_job_t;

static void *thread_main(void *arg) {
    thread_job_t *j = arg;
    for (int i = 0; i < 20; i++) {
        char out[AOP_SIG_B64_MAX];
        size_t ol = 0;
        aop_error_t e;
        aop_sign_type_t t = (i & 1) ? AOP_SIGN_RSA : AOP_SIGN_RSA2;
        if (aop_sign(j->key, t, j->req, j->req_len, out, sizeof out, &ol, &e) != AOP_OK ||
            strcmp(out, t == AOP_SIGN_RSA ? j->want1 : j->want2) != 0)
            j->failures++;
        if (aop_verify(j->gw, AOP_SIGN_RSA2, j->resp, j->resp_len, j->rsig2, strlen(j->rsig2),
                       &e) != AOP_OK)
            j->failures++;
        if (aop_verify(j->gw, AOP_SIGN_RSA, j->resp, j->resp_len, j->rsig2, strlen(j->rsig2),
                       &e) != AOP_E_SIGNATURE_INVALID)
            j->failures++;
    }
    return NULL;
}

/* Runs n threads of fn, each with the same shared keys, vectors and inputs. */
static void run_threads(int n, void *(*fn)(void *)) {
    enum { N = 8 };
    cr_assert_leq(n, N);
    aop_private_key_t *k = priv("merchant.pkcs8.pem", NULL);
    aop_public_key_t *g = pub("gateway.spki.pem");
    size_t rl, pl;
    char *req = aop_test_read("pay-request.signed-bytes.json", &rl);
    char *resp = aop_test_read("pay-response.signed-bytes.json", &pl);
    char *w2 = vec("request_rsa2.sig.b64", NULL), *w1 = vec("request_rsa.sig.b64", NULL);
    char *rs2 = vec("response_rsa2.sig.b64", NULL);
    thread_job_t jobs[N];
    pthread_t th[N];
    for (int i = 0; i < n; i++) {
        jobs[i] = (thread_job_t){k, g, req, w2, w1, resp, rs2, rl, pl, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, fn, &jobs[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].failures, 0, "thread %d had %d failures", i, jobs[i].failures);
    }
    free(req);
    free(resp);
    free(w2);
    free(w1);
    free(rs2);
    aop_public_key_free(g);
    aop_private_key_free(k);
}

Test(threads, shared_keys_sign_and_verify_concurrently) { run_threads(8, thread_main); }

/* The fingerprint is computed on first use: threads asking at once all get the same text. */
typedef struct {
    const aop_public_key_t *key;
    char fp[AOP_FINGERPRINT_MAX];
} fp_job_t;

static void *fingerprint_job(void *arg) {
    fp_job_t *j = arg;
    aop_public_key_fingerprint(j->key, j->fp);
    return NULL;
}

Test(threads, first_fingerprint_from_many_threads) {
    aop_public_key_t *g = pub("gateway.spki.pem");
    enum { N = 8 };
    fp_job_t jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i].key = g;
        cr_assert_eq(pthread_create(&th[i], NULL, fingerprint_job, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(strncmp(jobs[i].fp, "SHA256:", 7), 0, "%s", jobs[i].fp);
        cr_assert_str_eq(jobs[i].fp, jobs[0].fp);
    }
    aop_public_key_free(g);
}

/* The client's way: keys loaded once and shared, one signer and one verifier per thread (per
 * client), each reused for many operations. Every signature must equal the vectors. */
static void *signer_thread_main(void *arg) {
    thread_job_t *j = arg;
    aop_error_t e;
    aop_signer_t *s2 = NULL, *s1 = NULL;
    aop_verifier_t *v2 = NULL;
    if (aop_signer_new(j->key, AOP_SIGN_RSA2, &s2, &e) != AOP_OK ||
        aop_signer_new(j->key, AOP_SIGN_RSA, &s1, &e) != AOP_OK ||
        aop_verifier_new(j->gw, AOP_SIGN_RSA2, &v2, &e) != AOP_OK) {
        j->failures = 1000;
        goto done;
    }
    for (int i = 0; i < 20; i++) {
        char out[AOP_SIG_B64_MAX];
        size_t ol = 0;
        if (aop_signer_sign(s2, j->req, j->req_len, out, sizeof out, &ol, &e) != AOP_OK ||
            strcmp(out, j->want2) != 0)
            j->failures++;
        if (aop_signer_sign(s1, j->req, j->req_len, out, sizeof out, &ol, &e) != AOP_OK ||
            strcmp(out, j->want1) != 0)
            j->failures++;
        /* A failed verification leaves the verifier usable. */
        if (aop_verifier_verify(v2, j->resp, j->resp_len - 1, j->rsig2, strlen(j->rsig2), &e) !=
            AOP_E_SIGNATURE_INVALID)
            j->failures++;
        if (aop_verifier_verify(v2, j->resp, j->resp_len, j->rsig2, strlen(j->rsig2), &e) != AOP_OK)
            j->failures++;
    }
done:
    aop_signer_free(s2);
    aop_signer_free(s1);
    aop_verifier_free(v2);
    return NULL;
}

Test(threads, shared_keys_per_thread_signers_match_the_vectors) { run_threads(6, signer_thread_main); }

Test(signer, arguments_and_buffer_size) {
    aop_private_key_t *k = priv("merchant.pkcs8.pem", NULL);
    aop_public_key_t *g = pub("gateway.spki.pem");
    aop_error_t e;
    aop_signer_t *s = (aop_signer_t *)1;
    cr_assert_eq(aop_signer_new(NULL, AOP_SIGN_RSA2, &s, &e), AOP_E_INVALID_ARG);
    cr_assert_null(s);
    cr_assert_eq(aop_signer_new(k, (aop_sign_type_t)9, &s, &e), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_signer_new(k, AOP_SIGN_RSA2, NULL, &e), AOP_E_INVALID_ARG);
    aop_verifier_t *v = (aop_verifier_t *)1;
    cr_assert_eq(aop_verifier_new(NULL, AOP_SIGN_RSA2, &v, &e), AOP_E_INVALID_ARG);
    cr_assert_null(v);
    cr_assert_eq(aop_verifier_new(g, (aop_sign_type_t)9, &v, &e), AOP_E_INVALID_ARG);

    cr_assert_eq(aop_signer_new(k, AOP_SIGN_RSA, &s, &e), AOP_OK, "%s", e.msg);
    cr_assert_eq(aop_signer_type(s), AOP_SIGN_RSA);
    char out[AOP_SIG_B64_MAX];
    size_t ol = 0;
    cr_assert_eq(aop_signer_sign(s, "x", 1, out, 344, &ol, &e), AOP_E_BUFFER_TOO_SMALL);
    cr_assert_eq(ol, 344u);
    cr_assert_eq(aop_signer_sign(s, "x", 1, out, 345, &ol, &e), AOP_OK, "%s", e.msg);
    char one_off[AOP_SIG_B64_MAX];
    size_t l2 = 0;
    cr_assert_eq(aop_sign(k, AOP_SIGN_RSA, "x", 1, one_off, sizeof one_off, &l2, &e), AOP_OK);
    cr_assert_str_eq(out, one_off, "a signer signs as aop_sign does");
    cr_assert_eq(aop_signer_sign(s, NULL, 1, out, sizeof out, &ol, &e), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_signer_sign(NULL, "x", 1, out, sizeof out, &ol, &e), AOP_E_INVALID_ARG);

    cr_assert_eq(aop_verifier_new(g, AOP_SIGN_RSA2, &v, &e), AOP_OK, "%s", e.msg);
    cr_assert_eq(aop_verifier_verify(v, "x", 1, "", 0, &e), AOP_E_SIGNATURE_MISSING);
    cr_assert_eq(aop_verifier_verify(v, "x", 1, "abc%", 4, &e), AOP_E_SIGNATURE_INVALID);
    cr_assert_eq(aop_verifier_verify(v, "x", 1, one_off, l2, &e), AOP_E_SIGNATURE_INVALID,
                 "the merchant's signature does not verify with the gateway key");
    cr_assert_eq(ERR_peek_error(), 0ul, "OpenSSL error queue not drained");
    aop_signer_free(s);
    aop_verifier_free(v);
    aop_signer_free(NULL);
    aop_verifier_free(NULL);
    aop_public_key_free(g);
    aop_private_key_free(k);
}

/* aop_sign_use_hash_drbg: the process's generators become Hash_DRBGs when it comes first, and
 * signatures still verify; once they exist, nothing changes (Criterion runs each test in a
 * process of its own). */

Test(drbg, hash_drbg_when_first) {
    cr_assert_eq(aop_sign_use_hash_drbg(), AOP_OK);
    aop_private_key_t *k = priv("merchant.pkcs8.pem", NULL);
    aop_public_key_t *p = pub("merchant.spki.pem");
    char sig[AOP_SIG_B64_MAX];
    size_t n = 0;
    aop_error_t e;
    cr_assert_eq(aop_sign(k, AOP_SIGN_RSA2, "abc", 3, sig, sizeof sig, &n, &e), AOP_OK, "%s", e.msg);
    cr_assert_eq(aop_verify(p, AOP_SIGN_RSA2, "abc", 3, sig, n, &e), AOP_OK, "%s", e.msg);
    cr_assert_str_eq(EVP_RAND_get0_name(EVP_RAND_CTX_get0_rand(RAND_get0_primary(NULL))), "HASH-DRBG");
    cr_assert_eq(aop_sign_use_hash_drbg(), AOP_E_CRYPTO, "the generators exist: no change");
    aop_public_key_free(p);
    aop_private_key_free(k);
}

Test(drbg, default_generators_untouched_without_it) {
    aop_private_key_t *k = priv("merchant.pkcs8.pem", NULL);
    char sig[AOP_SIG_B64_MAX];
    size_t n = 0;
    aop_error_t e;
    cr_assert_eq(aop_sign(k, AOP_SIGN_RSA2, "abc", 3, sig, sizeof sig, &n, &e), AOP_OK, "%s", e.msg);
    cr_assert_str_neq(EVP_RAND_get0_name(EVP_RAND_CTX_get0_rand(RAND_get0_primary(NULL))), "HASH-DRBG");
    aop_private_key_free(k);
}
