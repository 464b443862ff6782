/* SPDX-License-Identifier: MIT */
/* The libcurl transport (runtime/include/aop/transport.h).
 *
 * One easy handle per transport, never reset, so libcurl's connection cache keeps the gateway
 * connection alive between posts; the options that differ per post are set before each
 * perform. The URL is parsed once with curl's URL API, checked (https, or http to a loopback
 * host only) and the very same parsed handle is given to curl (CURLOPT_CURLU), so what was
 * checked is what is fetched.
 *
 * maybe_sent: libcurl calls CURLOPT_PREREQFUNCTION once a connection is established or reused
 * (TLS and proxy negotiation included) and before any request byte is written to it. When it
 * was never called during a perform, the request certainly did not reach the server; when it
 * was, it may have. This is also right in the case where libcurl silently retries a request
 * whose reused connection died and the retry then fails to connect: the first attempt may
 * have been delivered, and the flag says so. */
#include "aop/transport.h"
#include "file_internal.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#ifndef AOP_VERSION
#define AOP_VERSION "0.0.0"
#endif

#define AOP_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define AOP_HOST_MAX 256

/* ---- process-wide state ------------------------------------------------------------------ */

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void) { g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static bool curl_ready(void) {
    pthread_once(&g_curl_once, curl_init_once);
    return g_curl_init_rc == CURLE_OK;
}

static pthread_once_t g_ua_once = PTHREAD_ONCE_INIT;
static char g_user_agent[192];

static void user_agent_once(void) {
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    const char *curl_v = (vi && vi->version) ? vi->version : "unknown";
    const char *ssl_v = OpenSSL_version(OPENSSL_VERSION_STRING);
    snprintf(g_user_agent, sizeof g_user_agent, "aop/%s libcurl/%s OpenSSL/%s", AOP_VERSION,
             curl_v, ssl_v ? ssl_v : "unknown");
}

const char *aop_user_agent(void) {
    pthread_once(&g_ua_once, user_agent_once);
    return g_user_agent;
}

/* ---- URL policy -------------------------------------------------------------------------- */

static bool host_is_loopback(const char *host) {
    if (strcasecmp(host, "localhost") == 0) return true;

    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127u;

    size_t n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        char inner[64];
        if (n - 2 >= sizeof inner) return false;
        memcpy(inner, host + 1, n - 2);
        inner[n - 2] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, inner, &a6) == 1)
            return memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
    }
    return false;
}

/* Parses url into u and applies the policy. On return host holds the URL's host (or "" when
 * it has none) and *loopback tells whether that host is a loopback one. Returns AOP_OK,
 * AOP_E_INSECURE_URL (policy) or AOP_E_INVALID_ARG (not a URL), with a message in err. */
static aop_status_t url_check(CURLU *u, const char *url, char *host, size_t host_cap, bool *loopback,
                              aop_error_t *err) {
    host[0] = '\0';
    *loopback = false;

    /* Clear first: a handle that already holds a URL would resolve this one against it as a
     * relative reference ("x" after "https://gw/a" is "https://gw/x"). */
    curl_url_set(u, CURLUPART_URL, NULL, 0);
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_DISALLOW_USER);
    if (uc == CURLUE_USER_NOT_ALLOWED)
        return aop_error_set(err, AOP_E_INSECURE_URL, NULL, -1,
                             "URL refused: it carries user credentials");
    if (uc == CURLUE_UNSUPPORTED_SCHEME)
        return aop_error_set(err, AOP_E_INSECURE_URL, NULL, -1,
                             "URL refused: only https (or http to a loopback host) is allowed");
    if (uc != CURLUE_OK)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "malformed URL: %s",
                             curl_url_strerror(uc));

    char *scheme = NULL, *h = NULL;
    aop_status_t st = AOP_OK;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h || !*h) {
        st = aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "malformed URL: no scheme or host");
        goto out;
    }
    snprintf(host, host_cap, "%s", h);
    *loopback = host_is_loopback(h);

    if (strcasecmp(scheme, "https") == 0) {
        st = AOP_OK;
    } else if (strcasecmp(scheme, "http") == 0) {
        if (!*loopback) {
            st = aop_error_set(err, AOP_E_INSECURE_URL, NULL, -1,
                               "plain http refused for non-loopback host %s", host);
        }
    } else {
        st = aop_error_set(err, AOP_E_INSECURE_URL, NULL, -1,
                           "URL scheme %.16s refused: only https (or http to a loopback host)",
                           scheme);
    }
out:
    curl_free(scheme);
    curl_free(h);
    return st;
}

bool aop_url_allowed(const char *url) {
    if (!url || !curl_ready()) return false;
    CURLU *u = curl_url();
    if (!u) return false;
    char host[AOP_HOST_MAX];
    bool loopback;
    aop_status_t st = url_check(u, url, host, sizeof host, &loopback, NULL);
    curl_url_cleanup(u);
    return st == AOP_OK;
}

/* ---- the transport ----------------------------------------------------------------------- */

typedef struct {
    aop_transport_t base; /* first: base.ctx points back to this struct */
    CURL *curl;
    CURLU *url;
    struct curl_slist *headers;
    long connect_timeout_ms;
    size_t max_body;
    /* The URL of the last post, checked and set on the handle (a client posts to the same few
     * URLs again and again: parsing and checking each once per change is enough). */
    char *last_url;
    char last_host[AOP_HOST_MAX];

    /* state of the post in progress */
    aop_buf_t *sink;
    bool too_large;
    bool nomem;
    bool request_started;
    char errbuf[CURL_ERROR_SIZE];
} curl_transport_t;

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + (long)(ts.tv_nsec / 1000000L);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
#ifdef CURL_WRITEFUNC_ERROR
    const size_t fail = CURL_WRITEFUNC_ERROR; /* an error whatever the chunk's size */
#else
    const size_t fail = 0;
#endif
    curl_transport_t *ct = ud;
    size_t n = size * nmemb; /* size is always 1 */
    if (n == 0) return 0;    /* empty chunk: taking 0 of 0 bytes is success */
    aop_buf_t *b = ct->sink;
    if (n > ct->max_body || b->len > ct->max_body - n) {
        ct->too_large = true;
        return fail; /* abort the transfer: never keep a truncated body */
    }
    if (aop_buf_append(b, p, n) != AOP_OK) {
        ct->nomem = true;
        return fail;
    }
    return n;
}

static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port,
                     int local_port) {
    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    ((curl_transport_t *)ud)->request_started = true;
    return CURL_PREREQFUNC_OK;
}

static aop_status_t curl_post(aop_transport_t *t, const aop_http_request_t *req,
                              aop_http_response_t *resp, aop_error_t *err) {
    if (!resp) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "no response object");
    resp->status = 0;
    resp->maybe_sent = false;
    resp->elapsed_ms = 0;
    resp->body.len = 0;
    if (resp->body.data && resp->body.cap) resp->body.data[0] = '\0';

    if (!t || !t->ctx || !req || !req->url || (!req->body && req->body_len))
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "invalid post arguments");
    if (req->deadline_ms <= 0)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "deadline_ms must be positive");
    if ((uint64_t)req->body_len > (uint64_t)INT64_MAX)
        return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "request body too large");

    curl_transport_t *ct = t->ctx;
    long start = now_ms();

    const char *host = ct->last_host;
    CURL *c = ct->curl;
    CURLcode sc = CURLE_OK;
    if (!ct->last_url || strcmp(ct->last_url, req->url) != 0) {
        free(ct->last_url);
        ct->last_url = NULL;
        bool loopback = false;
        aop_status_t st = url_check(ct->url, req->url, ct->last_host, sizeof ct->last_host, &loopback, err);
        if (st != AOP_OK) return st;
        if (!sc) sc = curl_easy_setopt(c, CURLOPT_CURLU, ct->url);
        /* A loopback host is reached directly: a configured or environment proxy must never
         * carry plain http off the machine (and could not reach this machine's loopback
         * anyway). */
        if (!sc) sc = curl_easy_setopt(c, CURLOPT_NOPROXY, loopback ? "*" : NULL);
        if (sc != CURLE_OK)
            return aop_error_set(err, AOP_E_INTERNAL, NULL, -1, "curl_easy_setopt: %s (host %s)",
                                 curl_easy_strerror(sc), host);
        ct->last_url = strdup(req->url); /* when this fails, the next post checks again */
    }

    long connect_ms = ct->connect_timeout_ms < req->deadline_ms ? ct->connect_timeout_ms
                                                                : req->deadline_ms;
    if (!sc) sc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    if (!sc) sc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    if (!sc) sc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->deadline_ms);
    if (!sc) sc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (sc != CURLE_OK)
        return aop_error_set(err, AOP_E_INTERNAL, NULL, -1, "curl_easy_setopt: %s (host %s)",
                             curl_easy_strerror(sc), host);

    ct->sink = &resp->body;
    ct->too_large = false;
    ct->nomem = false;
    ct->request_started = false;
    ct->errbuf[0] = '\0';

    CURLcode rc = curl_easy_perform(c);

    ct->sink = NULL;
    resp->elapsed_ms = now_ms() - start;
    long code = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK) resp->status = code;

    if (rc == CURLE_OK) {
        resp->maybe_sent = true;
        return AOP_OK;
    }

    resp->maybe_sent = ct->request_started;
    resp->body.len = 0;
    if (resp->body.data && resp->body.cap) resp->body.data[0] = '\0';

    const char *why = ct->errbuf[0] ? ct->errbuf : curl_easy_strerror(rc);
    if (ct->too_large || rc == CURLE_FILESIZE_EXCEEDED)
        return aop_error_set(err, AOP_E_BODY_TOO_LARGE, NULL, -1,
                             "response body larger than %zu bytes (host %s)", ct->max_body, host);
    if (ct->nomem)
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1,
                             "out of memory storing the response body (host %s)", host);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return aop_error_set(err, AOP_E_TIMEOUT, NULL, -1, "deadline of %ld ms: %s (host %s)",
                             req->deadline_ms, why, host);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return aop_error_set(err, AOP_E_CONNECT, NULL, -1, "%s (host %s)", why, host);
    default:
        return aop_error_set(err, AOP_E_TRANSPORT, NULL, -1, "%s (host %s)", why, host);
    }
}

static void curl_destroy(aop_transport_t *t) {
    if (!t) return;
    curl_transport_t *ct = t->ctx;
    if (!ct) return;
    if (ct->curl) curl_easy_cleanup(ct->curl);
    if (ct->url) curl_url_cleanup(ct->url);
    free(ct->last_url);
    curl_slist_free_all(ct->headers);
    free(ct);
}

/* ---- CA settings ------------------------------------------------------------------------- */

/* A bad CA setting must fail when the transport is made (a configuration error: nothing was
 * sent), not on the first post, where it would look like a network failure with an unknown
 * outcome. ca_file: a readable regular file with at least one PEM certificate OpenSSL parses;
 * ca_path: a directory. */
static aop_status_t check_ca_file(const char *path, aop_error_t *err) {
    int fd = -1;
    struct stat st;
    aop_error_t inner;
    aop_error_clear(&inner);
    if (aop_internal_open_regular("ca_file", path, &fd, &st, &inner) != AOP_OK)
        return aop_error_set(err, AOP_E_CONFIG, "ca_file", -1, "%s", inner.msg);
    FILE *f = fdopen(fd, "r");
    BIO *bio = f ? BIO_new_fp(f, BIO_CLOSE) : NULL;
    if (!bio) {
        if (f)
            fclose(f);
        else
            close(fd);
        return aop_error_set(err, AOP_E_NOMEM, "ca_file", -1, "ca_file '%s': out of memory", path);
    }
    ERR_clear_error();
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL); /* skips other PEM blocks */
    BIO_free(bio);
    ERR_clear_error();
    if (!cert)
        return aop_error_set(err, AOP_E_CONFIG, "ca_file", -1,
                             "ca_file '%s' holds no PEM certificate ('-----BEGIN CERTIFICATE-----') "
                             "that can be read", path);
    X509_free(cert);
    return AOP_OK;
}

aop_status_t aop_curl_transport_new(const aop_curl_options_t *opt, aop_transport_t **out,
                                    aop_error_t *err) {
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "no output pointer");
    *out = NULL;
    aop_curl_options_t o;
    memset(&o, 0, sizeof o);
    if (opt) o = *opt;
    if (o.connect_timeout_ms < 0)
        return aop_error_set(err, AOP_E_CONFIG, NULL, -1, "connect timeout must not be negative");
    aop_status_t cst = o.ca_file ? check_ca_file(o.ca_file, err) : AOP_OK;
    if (cst == AOP_OK && o.ca_path) cst = aop_internal_check_dir("ca_path", o.ca_path, err);
    if (cst != AOP_OK) return cst;
    if (!curl_ready())
        return aop_error_set(err, AOP_E_INTERNAL, NULL, -1, "curl_global_init failed: %s",
                             curl_easy_strerror(g_curl_init_rc));

    curl_transport_t *ct = calloc(1, sizeof *ct);
    if (!ct) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    ct->base.post = curl_post;
    ct->base.destroy = curl_destroy;
    ct->base.ctx = ct;
    ct->connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms
                                                  : AOP_DEFAULT_CONNECT_TIMEOUT_MS;
    ct->max_body = o.max_body ? o.max_body : AOP_HTTP_MAX_BODY;

    ct->curl = curl_easy_init();
    ct->url = curl_url();
    if (!ct->curl || !ct->url) goto nomem;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json; charset=UTF-8");
    if (!h) goto nomem;
    ct->headers = h;
    if (!(h = curl_slist_append(ct->headers, "Expect:"))) goto nomem;
    ct->headers = h;

    CURL *c = ct->curl;
    CURLcode sc = CURLE_OK;
    const char *what = "";
#define SET(opt_, val_)                                                                       \
    do {                                                                                      \
        if (sc == CURLE_OK) {                                                                 \
            sc = curl_easy_setopt(c, opt_, val_);                                             \
            what = #opt_;                                                                     \
        }                                                                                     \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_NOPROGRESS, 1L);
    SET(CURLOPT_ERRORBUFFER, ct->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, ct);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, ct);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_HTTPHEADER, ct->headers);
    SET(CURLOPT_USERAGENT, aop_user_agent());
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(ct->max_body > (size_t)INT64_MAX
                                                    ? INT64_MAX
                                                    : (int64_t)ct->max_body));
    if (o.ca_file) SET(CURLOPT_CAINFO, o.ca_file);
    if (o.ca_path) SET(CURLOPT_CAPATH, o.ca_path);
    if (o.proxy) SET(CURLOPT_PROXY, o.proxy);
#undef SET
    if (sc != CURLE_OK) {
        aop_status_t st = aop_error_set(err, sc == CURLE_OUT_OF_MEMORY ? AOP_E_NOMEM : AOP_E_CONFIG,
                                        NULL, -1, "%s: %s", what, curl_easy_strerror(sc));
        curl_destroy(&ct->base);
        return st;
    }
    *out = &ct->base;
    return AOP_OK;

nomem:
    curl_destroy(&ct->base);
    return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory creating the curl handle");
}
