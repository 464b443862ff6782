/* SPDX-License-Identifier: MIT */
/* The libcurl transport against a real HTTP(S) server on 127.0.0.1 (libmicrohttpd), started
 * inside each test. Criterion runs every test in its own process, so each test owns one
 * server (g_srv) and the suite's fini stops it. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aop/transport.h"
#include "support.h"

/* ---- test server ------------------------------------------------------------------------- */

typedef struct {
    struct MHD_Daemon *d;
    unsigned port;
    atomic_int connections; /* TCP connections accepted */
    atomic_int requests;    /* requests that reached the handler's final call */
    atomic_bool stop;       /* tells slow handlers to give up */
    size_t size;            /* body size for the /big routes */
    pthread_mutex_t mu;     /* guards the last request's record below */
    char method[16];
    char url[256];
    char content_type[128];
    char user_agent[256];
    char expect[64];
    bool has_expect;
    char body[8192];
    size_t body_len;
} server_t;

static server_t g_srv;

typedef struct {
    aop_buf_t body;
} req_state_t;

static void copy_hdr(struct MHD_Connection *c, const char *name, char *out, size_t cap,
                     bool *present) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    if (present) *present = v != NULL;
    snprintf(out, cap, "%s", v ? v : "");
}

static ssize_t read_truncated(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)cls;
    if (pos >= 100) return MHD_CONTENT_READER_END_WITH_ERROR; /* of a declared 1000 */
    size_t n = 100 - (size_t)pos;
    if (n > max) n = max;
    memset(buf, 'x', n);
    return (ssize_t)n;
}

static ssize_t read_big(void *cls, uint64_t pos, char *buf, size_t max) {
    server_t *s = cls;
    if (pos >= s->size) return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = s->size - (size_t)pos;
    if (n > max) n = max;
    memset(buf, 'b', n);
    return (ssize_t)n;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const void *data,
                             size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json; charset=UTF-8");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result queue_reader(struct MHD_Connection *c, uint64_t size,
                                    MHD_ContentReaderCallback cb, void *cls) {
    struct MHD_Response *r = MHD_create_response_from_callback(size, 4096, cb, cls, NULL);
    if (!r) return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls) {
    (void)version;
    server_t *s = cls;
    if (!*req_cls) {
        req_state_t *rs = calloc(1, sizeof *rs);
        if (!rs) return MHD_NO;
        *req_cls = rs;
        return MHD_YES;
    }
    req_state_t *rs = *req_cls;
    if (*upload_size) {
        if (aop_buf_append(&rs->body, upload, *upload_size) != AOP_OK) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }

    pthread_mutex_lock(&s->mu);
    snprintf(s->method, sizeof s->method, "%s", method);
    snprintf(s->url, sizeof s->url, "%s", url);
    copy_hdr(c, "Content-Type", s->content_type, sizeof s->content_type, NULL);
    copy_hdr(c, "User-Agent", s->user_agent, sizeof s->user_agent, NULL);
    copy_hdr(c, "Expect", s->expect, sizeof s->expect, &s->has_expect);
    s->body_len = rs->body.len < sizeof s->body ? rs->body.len : sizeof s->body;
    if (s->body_len) memcpy(s->body, rs->body.data, s->body_len);
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add(&s->requests, 1);

    if (strcmp(method, "CONNECT") == 0) return reply(c, 403, "no", 2);
    if (strcmp(url, "/echo") == 0) return reply(c, 200, rs->body.data, rs->body.len);
    if (strcmp(url, "/500") == 0) return reply(c, 500, "{\"oops\":true}", 13);
    if (strcmp(url, "/slow") == 0) {
        for (int i = 0; i < 150 && !atomic_load(&s->stop); i++) usleep(20 * 1000);
        return reply(c, 200, "{}", 2);
    }
    if (strcmp(url, "/big-cl") == 0) {
        char *p = malloc(s->size);
        if (!p) return MHD_NO;
        memset(p, 'b', s->size);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(s->size, p, MHD_RESPMEM_MUST_FREE);
        if (!r) {
            free(p);
            return MHD_NO;
        }
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/big-chunked") == 0) return queue_reader(c, MHD_SIZE_UNKNOWN, read_big, s);
    if (strcmp(url, "/truncated") == 0) return queue_reader(c, 1000, read_truncated, NULL);
    if (strcmp(url, "/garbage") == 0) return reply(c, 200, "\x00\xff<html>not json", 17);
    if (strcmp(url, "/secret") == 0) return queue_reader(c, 1000, read_truncated, NULL);
    if (strcmp(url, "/drop") == 0) return MHD_NO; /* close without a response */
    return reply(c, 404, "{}", 2);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    req_state_t *rs = *req_cls;
    if (!rs) return;
    aop_buf_free(&rs->body);
    free(rs);
    *req_cls = NULL;
}

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_ctx,
                        enum MHD_ConnectionNotificationCode toe) {
    (void)c;
    (void)socket_ctx;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) atomic_fetch_add(&((server_t *)cls)->connections, 1);
}

static void server_start_opts(const char *key_pem, const char *cert_pem) {
    memset(&g_srv, 0, sizeof g_srv);
    pthread_mutex_init(&g_srv.mu, NULL);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (key_pem) flags |= MHD_USE_TLS;
    if (key_pem)
        g_srv.d = MHD_start_daemon(flags, 0, NULL, NULL, handler, &g_srv, MHD_OPTION_SOCK_ADDR,
                                   (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed,
                                   NULL, MHD_OPTION_NOTIFY_CONNECTION, notify_conn, &g_srv,
                                   MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_HTTPS_MEM_CERT,
                                   cert_pem, MHD_OPTION_END);
    else
        g_srv.d = MHD_start_daemon(flags, 0, NULL, NULL, handler, &g_srv, MHD_OPTION_SOCK_ADDR,
                                   (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed,
                                   NULL, MHD_OPTION_NOTIFY_CONNECTION, notify_conn, &g_srv,
                                   MHD_OPTION_END);
    cr_assert_not_null(g_srv.d, "MHD_start_daemon failed");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_srv.d, MHD_DAEMON_INFO_BIND_PORT);
    cr_assert_not_null(info);
    g_srv.port = info->port;
    cr_assert_gt(g_srv.port, 0);
}

static void server_start(void) { server_start_opts(NULL, NULL); }

static void server_stop(void) {
    if (!g_srv.d) return;
    atomic_store(&g_srv.stop, true);
    MHD_stop_daemon(g_srv.d);
    g_srv.d = NULL;
    pthread_mutex_destroy(&g_srv.mu);
}

static void setup(void) { signal(SIGPIPE, SIG_IGN); }
static void teardown(void) { server_stop(); }

TestSuite(transport, .init = setup, .fini = teardown, .timeout = 20);

/* ---- helpers ----------------------------------------------------------------------------- */

static char *url_for(const char *scheme_host, unsigned port, const char *path) {
    static char buf[4][256];
    static int i;
    char *u = buf[i++ % 4];
    snprintf(u, sizeof buf[0], "%s:%u%s", scheme_host, port, path);
    return u;
}

static char *srv_url(const char *path) { return url_for("http://127.0.0.1", g_srv.port, path); }

static aop_transport_t *new_transport(const aop_curl_options_t *opt) {
    aop_transport_t *t = NULL;
    aop_error_t err;
    aop_error_clear(&err);
    aop_status_t st = aop_curl_transport_new(opt, &t, &err);
    cr_assert_eq(st, AOP_OK, "transport_new: %s", err.msg);
    cr_assert_not_null(t);
    return t;
}

static aop_status_t post(aop_transport_t *t, const char *url, const char *body, long deadline,
                         aop_http_response_t *resp, aop_error_t *err) {
    aop_http_request_t req = {
        .url = url, .body = body, .body_len = body ? strlen(body) : 0, .deadline_ms = deadline};
    aop_error_clear(err);
    return t->post(t, &req, resp, err);
}

/* A port on 127.0.0.1 with a bound socket that does not listen: connecting is refused, and no
 * one else can take the port while the socket is open. */
static int refused_port(unsigned *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* ---- aop_buf_t --------------------------------------------------------------------------- */

Test(transport, buf_append_grows_and_terminates) {
    aop_buf_t b = {0};
    cr_assert_eq(aop_buf_append(&b, "abc", 3), AOP_OK);
    cr_assert_eq(b.len, 3);
    cr_assert_geq(b.cap, 4);
    cr_assert_str_eq(b.data, "abc");
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 100; i++) cr_assert_eq(aop_buf_append(&b, chunk, sizeof chunk), AOP_OK);
    cr_assert_eq(b.len, 3 + 100 * sizeof chunk);
    cr_assert_gt(b.cap, b.len);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert_eq(memcmp(b.data, "abczzz", 6), 0);
    cr_assert_eq(aop_buf_append(&b, NULL, 0), AOP_OK);
    cr_assert_eq(aop_buf_append(&b, NULL, 1), AOP_E_INVALID_ARG);
    aop_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, 0);
    aop_buf_free(&b); /* twice is harmless */
    aop_buf_free(NULL);
}

Test(transport, buf_reserve_keeps_content) {
    aop_buf_t b = {0};
    cr_assert_eq(aop_buf_reserve(&b, 10), AOP_OK);
    cr_assert_geq(b.cap, 10);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(aop_buf_append(&b, "hello", 5), AOP_OK);
    size_t cap = b.cap;
    cr_assert_eq(aop_buf_reserve(&b, 3), AOP_OK); /* never shrinks */
    cr_assert_eq(b.cap, cap);
    cr_assert_eq(aop_buf_reserve(&b, 5000), AOP_OK);
    cr_assert_geq(b.cap, 5000);
    cr_assert_str_eq(b.data, "hello");
    cr_assert_eq(aop_buf_reserve(NULL, 1), AOP_E_INVALID_ARG);
    aop_buf_free(&b);
}

Test(transport, buf_overflow_is_nomem) {
    char c = 'x';
    aop_buf_t b = {.data = &c, .len = SIZE_MAX - 2, .cap = SIZE_MAX - 2}; /* fake, never touched */
    cr_assert_eq(aop_buf_append(&b, "abcd", 4), AOP_E_NOMEM);
    cr_assert_eq(b.len, SIZE_MAX - 2);
    cr_assert_eq(b.data, &c);
#if !defined(__SANITIZE_ADDRESS__)
    aop_buf_t e = {0}; /* a huge realloc fails cleanly (ASan would abort on it instead) */
    cr_assert_eq(aop_buf_reserve(&e, SIZE_MAX), AOP_E_NOMEM);
    cr_assert_null(e.data);
    cr_assert_eq(e.cap, 0);
#endif
}

/* ---- URL policy and user agent ----------------------------------------------------------- */

Test(transport, url_policy) {
    cr_assert(aop_url_allowed("https://open-sea.alipay.com/api/alipay/intl/acquiring/offline/pay.htm"));
    cr_assert(aop_url_allowed("HTTPS://open-na.alipay.com/x"));
    cr_assert(aop_url_allowed("http://127.0.0.1:8080/x"));
    cr_assert(aop_url_allowed("http://127.1.2.3/x"));
    cr_assert(aop_url_allowed("http://localhost:9/x"));
    cr_assert(aop_url_allowed("http://LOCALHOST/x"));
    cr_assert(aop_url_allowed("http://[::1]:8080/x"));

    cr_assert_not(aop_url_allowed("http://open-sea.alipay.com/x"));
    cr_assert_not(aop_url_allowed("http://10.0.0.1/x"));
    cr_assert_not(aop_url_allowed("http://128.0.0.1/x"));
    cr_assert_not(aop_url_allowed("http://127.0.0.1@evil.example/x"));
    cr_assert_not(aop_url_allowed("http://localhost@evil.example/x"));
    cr_assert_not(aop_url_allowed("http://127.0.0.1.evil.example/x"));
    cr_assert_not(aop_url_allowed("http://localhost.evil.example/x"));
    cr_assert_not(aop_url_allowed("http://evil.example#@127.0.0.1/x"));
    cr_assert_not(aop_url_allowed("http://[::2]/x"));
    cr_assert_not(aop_url_allowed("http://[::ffff:10.0.0.1]/x"));
    cr_assert_not(aop_url_allowed("https://user:pw@open-sea.alipay.com/x"));
    cr_assert_not(aop_url_allowed("ftp://127.0.0.1/x"));
    cr_assert_not(aop_url_allowed("ftp://open-sea.alipay.com/x"));
    cr_assert_not(aop_url_allowed("file:///etc/passwd"));
    cr_assert_not(aop_url_allowed("open-sea.alipay.com/x"));
    cr_assert_not(aop_url_allowed(""));
    cr_assert_not(aop_url_allowed(NULL));
}

Test(transport, user_agent_format) {
    const char *ua = aop_user_agent();
    cr_assert_not_null(ua);
    cr_assert_eq(strncmp(ua, "aop/", 4), 0, "%s", ua);
    cr_assert_not_null(strstr(ua, " libcurl/"), "%s", ua);
    cr_assert_not_null(strstr(ua, " OpenSSL/"), "%s", ua);
    cr_assert_eq(aop_user_agent(), ua); /* computed once */
}

/* ---- posts against the local server ------------------------------------------------------ */

Test(transport, post_echo_200) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    const char *body = "{\"request\":{\"head\":{},\"body\":{}},\"signature\":\"x\"}";
    aop_status_t st = post(t, srv_url("/echo"), body, 2000, &resp, &err);
    cr_assert_eq(st, AOP_OK, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_eq(resp.status, 200);
    cr_assert(resp.maybe_sent);
    cr_assert_geq(resp.elapsed_ms, 0);
    cr_assert_eq(resp.body.len, strlen(body));
    cr_assert_eq(memcmp(resp.body.data, body, resp.body.len), 0);

    pthread_mutex_lock(&g_srv.mu);
    cr_assert_str_eq(g_srv.method, "POST");
    cr_assert_str_eq(g_srv.url, "/echo");
    cr_assert_str_eq(g_srv.content_type, "application/json; charset=UTF-8");
    cr_assert_eq(strncmp(g_srv.user_agent, "aop/", 4), 0, "%s", g_srv.user_agent);
    cr_assert_str_eq(g_srv.user_agent, aop_user_agent());
    cr_assert_not(g_srv.has_expect, "Expect: %s", g_srv.expect);
    cr_assert_eq(g_srv.body_len, strlen(body));
    cr_assert_eq(memcmp(g_srv.body, body, g_srv.body_len), 0);
    pthread_mutex_unlock(&g_srv.mu);

    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, post_binary_body_and_large_upload) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    /* 5000 bytes with NULs inside: the length, not strlen, decides what is sent; larger than
     * 1 KiB, where libcurl would otherwise send "Expect: 100-continue" */
    char body[5000];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (char)(i % 251);
    aop_http_request_t req = {
        .url = srv_url("/echo"), .body = body, .body_len = sizeof body, .deadline_ms = 2000};
    aop_http_response_t resp = {0};
    aop_error_t err;
    aop_error_clear(&err);
    cr_assert_eq(t->post(t, &req, &resp, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.body.len, sizeof body);
    cr_assert_eq(memcmp(resp.body.data, body, sizeof body), 0);
    cr_assert_not(g_srv.has_expect, "Expect: %s", g_srv.expect);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, keep_alive_reuses_connection_and_replaces_body) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    cr_assert_eq(post(t, srv_url("/echo"), "{\"first\":\"a much longer body\"}", 2000, &resp,
                      &err),
                 AOP_OK, "%s", err.msg);
    char *data = resp.body.data;
    cr_assert_eq(post(t, srv_url("/echo"), "{\"n\":2}", 2000, &resp, &err), AOP_OK, "%s",
                 err.msg);
    cr_assert_eq(resp.body.len, 7); /* replaced, not appended */
    cr_assert_eq(memcmp(resp.body.data, "{\"n\":2}", 7), 0);
    cr_assert_eq(resp.body.data, data); /* capacity reused */
    cr_assert_eq(post(t, srv_url("/500"), "{}", 2000, &resp, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(atomic_load(&g_srv.requests), 3);
    cr_assert_eq(atomic_load(&g_srv.connections), 1, "connections: %d",
                 atomic_load(&g_srv.connections));
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, http_500_is_ok_with_status) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    aop_status_t st = post(t, srv_url("/500"), "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_OK, "%s", err.msg);
    cr_assert_eq(resp.status, 500);
    cr_assert(resp.maybe_sent);
    cr_assert_eq(resp.body.len, 13);
    cr_assert_eq(memcmp(resp.body.data, "{\"oops\":true}", 13), 0);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, slow_server_times_out_within_deadline) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    long start = aop_test_mono_ms();
    aop_status_t st = post(t, srv_url("/slow"), "{}", 300, &resp, &err);
    long took = aop_test_mono_ms() - start;
    cr_assert_eq(st, AOP_E_TIMEOUT, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_eq(err.code, AOP_E_TIMEOUT);
    cr_assert(resp.maybe_sent);
    cr_assert_eq(resp.status, 0);
    cr_assert_eq(resp.body.len, 0);
    cr_assert_geq(took, 250, "took %ld ms", took);
    cr_assert_leq(took, 300 + 1000, "took %ld ms", took);
    cr_assert_geq(resp.elapsed_ms, 250);
    cr_assert_leq(resp.elapsed_ms, took);
    cr_assert_not_null(strstr(err.msg, "127.0.0.1"), "%s", err.msg);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

/* A stop flag set while a post waits for its answer abandons it within 0.5 s: AOP_E_STOPPED,
 * maybe sent. The transport stays usable (the next post opens a new connection). */
typedef struct {
    volatile int *flag;
    long after_ms;
} stop_later_t;

static void *stop_later(void *arg) {
    stop_later_t *s = arg;
    struct timespec ts = {s->after_ms / 1000, (s->after_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    *s->flag = 1;
    return NULL;
}

Test(transport, a_stop_flag_abandons_a_post_in_flight) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    volatile int stop = 0;
    aop_http_request_t req = {.url = srv_url("/slow"), .body = "{}", .body_len = 2, .deadline_ms = 10000,
                              .stop_flag = &stop};
    stop_later_t later = {&stop, 200};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, stop_later, &later), 0);
    long start = aop_test_mono_ms();
    aop_status_t st = t->post(t, &req, &resp, &err);
    long took = aop_test_mono_ms() - start;
    pthread_join(th, NULL);
    cr_assert_eq(st, AOP_E_STOPPED, "%s: %s", aop_status_name(st), err.msg);
    cr_expect(resp.maybe_sent, "the request had left");
    cr_expect_geq(took, 200);
    cr_expect_leq(took, 200 + 500 + 1000, "stopped %ld ms after the flag (0.5 s asked, 1 s slack)", took - 200);
    cr_expect_not_null(strstr(err.msg, "may have left"), "%s", err.msg);
    /* a flag already set: nothing leaves */
    int requests = atomic_load(&g_srv.requests);
    req.url = srv_url("/echo");
    cr_expect_eq(t->post(t, &req, &resp, &err), AOP_E_STOPPED);
    cr_expect_not(resp.maybe_sent);
    cr_expect_eq(atomic_load(&g_srv.requests), requests);
    /* and the next post goes as usual */
    stop = 0;
    cr_expect_eq(t->post(t, &req, &resp, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(resp.status, 200);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, connection_refused_is_connect_not_sent) {
    unsigned port;
    int fd = refused_port(&port);
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    aop_status_t st =
        post(t, url_for("http://127.0.0.1", port, "/echo"), "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_E_CONNECT, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_not(resp.maybe_sent);
    cr_assert_eq(resp.status, 0);
    cr_assert_not_null(strstr(err.msg, "127.0.0.1"), "%s", err.msg);
    close(fd);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, body_over_limit_with_content_length) {
    server_start();
    g_srv.size = AOP_HTTP_MAX_BODY + 1;
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    aop_status_t st = post(t, srv_url("/big-cl"), "{}", 5000, &resp, &err);
    cr_assert_eq(st, AOP_E_BODY_TOO_LARGE, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_eq(resp.body.len, 0);
    cr_assert(resp.maybe_sent);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, body_over_limit_chunked) {
    server_start();
    g_srv.size = AOP_HTTP_MAX_BODY + 1;
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    aop_status_t st = post(t, srv_url("/big-chunked"), "{}", 5000, &resp, &err);
    cr_assert_eq(st, AOP_E_BODY_TOO_LARGE, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_eq(resp.body.len, 0);
    cr_assert_leq(resp.body.cap, AOP_HTTP_MAX_BODY * 2 + 1);
    /* the transport still works afterwards */
    cr_assert_eq(post(t, srv_url("/echo"), "{\"ok\":1}", 2000, &resp, &err), AOP_OK, "%s",
                 err.msg);
    cr_assert_eq(resp.body.len, 8);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, body_at_limit_is_ok) {
    server_start();
    g_srv.size = AOP_HTTP_MAX_BODY;
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    cr_assert_eq(post(t, srv_url("/big-chunked"), "{}", 5000, &resp, &err), AOP_OK, "%s",
                 err.msg);
    cr_assert_eq(resp.body.len, AOP_HTTP_MAX_BODY);
    cr_assert_eq(post(t, srv_url("/big-cl"), "{}", 5000, &resp, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(resp.body.len, AOP_HTTP_MAX_BODY);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, max_body_option) {
    server_start();
    g_srv.size = 101;
    aop_curl_options_t opt = {.max_body = 100};
    aop_transport_t *t = new_transport(&opt);
    aop_http_response_t resp = {0};
    aop_error_t err;
    cr_assert_eq(post(t, srv_url("/big-chunked"), "{}", 2000, &resp, &err),
                 AOP_E_BODY_TOO_LARGE);
    cr_assert_eq(post(t, srv_url("/big-cl"), "{}", 2000, &resp, &err), AOP_E_BODY_TOO_LARGE);
    g_srv.size = 100;
    cr_assert_eq(post(t, srv_url("/big-chunked"), "{}", 2000, &resp, &err), AOP_OK, "%s",
                 err.msg);
    cr_assert_eq(resp.body.len, 100);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, truncated_body_is_transport_error) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    aop_status_t st = post(t, srv_url("/truncated"), "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_E_TRANSPORT, "%s: %s", aop_status_name(st), err.msg);
    cr_assert(resp.maybe_sent);
    cr_assert_eq(resp.body.len, 0);
    cr_assert_not_null(strstr(err.msg, "127.0.0.1"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "xxxx"), "body leaked into the message: %s", err.msg);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, dropped_connection_is_transport_error_maybe_sent) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    aop_status_t st = post(t, srv_url("/drop"), "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_E_TRANSPORT, "%s: %s", aop_status_name(st), err.msg);
    cr_assert(resp.maybe_sent);
    cr_assert_eq(resp.status, 0);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, garbage_body_is_ok) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    cr_assert_eq(post(t, srv_url("/garbage"), "{}", 2000, &resp, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.body.len, 17);
    cr_assert_eq(memcmp(resp.body.data, "\x00\xff<html>not json", 17), 0);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, insecure_url_refused_before_sending) {
    server_start();
    /* the local server as proxy: anything sent anywhere would show up as a request */
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", g_srv.port);
    aop_curl_options_t opt = {.proxy = proxy};
    aop_transport_t *t = new_transport(&opt);
    aop_http_response_t resp = {.maybe_sent = true, .status = 7};
    aop_error_t err;
    long start = aop_test_mono_ms();
    aop_status_t st = post(t, "http://open-sea.alipay.com/api/x.htm", "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_E_INSECURE_URL, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_eq(err.code, AOP_E_INSECURE_URL);
    cr_assert_not(resp.maybe_sent);
    cr_assert_eq(resp.status, 0);
    cr_assert_lt(aop_test_mono_ms() - start, 200);
    cr_assert_eq(post(t, "http://127.0.0.1@evil.example/x", "{}", 2000, &resp, &err),
                 AOP_E_INSECURE_URL);
    cr_assert_not(resp.maybe_sent);
    cr_assert_eq(post(t, "ftp://127.0.0.1/x", "{}", 2000, &resp, &err), AOP_E_INSECURE_URL);
    st = post(t, "not a url", "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_E_INVALID_ARG, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_not(resp.maybe_sent);
    cr_assert_eq(atomic_load(&g_srv.connections), 0);
    cr_assert_eq(atomic_load(&g_srv.requests), 0);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, url_is_never_resolved_against_the_previous_one) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    cr_assert_eq(post(t, srv_url("/echo"), "{}", 2000, &resp, &err), AOP_OK, "%s", err.msg);
    aop_status_t st = post(t, "/echo", "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_E_INVALID_ARG, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_not(resp.maybe_sent);
    cr_assert_eq(post(t, "echo", "{}", 2000, &resp, &err), AOP_E_INVALID_ARG);
    cr_assert_eq(atomic_load(&g_srv.requests), 1);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

Test(transport, invalid_arguments) {
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    cr_assert_eq(post(t, "http://127.0.0.1:1/x", "{}", 0, &resp, &err), AOP_E_INVALID_ARG);
    cr_assert_not(resp.maybe_sent);
    aop_http_request_t req = {.url = NULL, .body = "{}", .body_len = 2, .deadline_ms = 100};
    cr_assert_eq(t->post(t, &req, &resp, &err), AOP_E_INVALID_ARG);
    cr_assert_eq(t->post(t, &req, NULL, &err), AOP_E_INVALID_ARG);
    t->destroy(t);

    aop_curl_options_t bad = {.connect_timeout_ms = -1};
    aop_transport_t *t2 = (aop_transport_t *)1;
    cr_assert_eq(aop_curl_transport_new(&bad, &t2, &err), AOP_E_CONFIG);
    cr_assert_null(t2);
    cr_assert_eq(aop_curl_transport_new(NULL, NULL, &err), AOP_E_INVALID_ARG);
}

/* ---- proxy pass-through ------------------------------------------------------------------ */

Test(transport, proxy_used_for_https_bypassed_for_loopback_http) {
    server_start();
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", g_srv.port);
    aop_curl_options_t opt = {.proxy = proxy};
    aop_transport_t *t = new_transport(&opt);
    aop_http_response_t resp = {0};
    aop_error_t err;
    /* https through the proxy: a CONNECT tunnel, which the test server refuses (403) */
    aop_status_t st = post(t, "https://gateway.invalid/api/x.htm", "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_E_TRANSPORT, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_not(resp.maybe_sent, "the tunnel failed: the request never left");
    pthread_mutex_lock(&g_srv.mu);
    cr_assert_str_eq(g_srv.method, "CONNECT");
    pthread_mutex_unlock(&g_srv.mu);
    cr_assert_eq(atomic_load(&g_srv.requests), 1);
    aop_buf_free(&resp.body);
    t->destroy(t);

    /* a loopback host never goes through a proxy, not even a dead one */
    unsigned dead;
    int fd = refused_port(&dead);
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", dead);
    t = new_transport(&opt);
    cr_assert_eq(post(t, srv_url("/echo"), "{}", 2000, &resp, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(resp.status, 200);
    close(fd);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

/* ---- TLS --------------------------------------------------------------------------------- */

/* A throw-away self-signed P-256 certificate for 127.0.0.1, as PEM strings. */
static void make_cert(char **key_pem, char **cert_pem) {
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    cr_assert_not_null(pk);
    X509 *x = X509_new();
    cr_assert_not_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"subjectAltName", "IP:127.0.0.1,DNS:localhost"},
                             {"basicConstraints", "critical,CA:TRUE"},
                             {"keyUsage", "critical,digitalSignature,keyCertSign"}};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        cr_assert_not_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    cr_assert_gt(X509_sign(x, pk, EVP_sha256()), 0);

    BIO *b = BIO_new(BIO_s_mem());
    cr_assert(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL));
    char *p;
    long n = BIO_get_mem_data(b, &p);
    *key_pem = strndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    cr_assert(PEM_write_bio_X509(b, x));
    n = BIO_get_mem_data(b, &p);
    *cert_pem = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pk);
}

Test(transport, tls_verification_is_on_and_ca_file_is_used) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        cr_skip_test("libmicrohttpd built without TLS");
    char *key, *cert;
    make_cert(&key, &cert);
    server_start_opts(key, cert);
    char ca_file[] = "/tmp/aop-test-ca-XXXXXX";
    int fd = mkstemp(ca_file);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, cert, strlen(cert)), (ssize_t)strlen(cert));
    close(fd);

    const char *url = url_for("https://127.0.0.1", g_srv.port, "/echo");
    aop_http_response_t resp = {0};
    aop_error_t err;

    /* the system store does not know this certificate: refused, nothing sent */
    aop_transport_t *t = new_transport(NULL);
    aop_status_t st = post(t, url, "{\"tls\":1}", 3000, &resp, &err);
    cr_assert_eq(st, AOP_E_TRANSPORT, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_not(resp.maybe_sent);
    cr_assert_eq(atomic_load(&g_srv.requests), 0);
    t->destroy(t);

    /* with the certificate as CA file it verifies */
    aop_curl_options_t opt = {.ca_file = ca_file};
    t = new_transport(&opt);
    st = post(t, url, "{\"tls\":1}", 3000, &resp, &err);
    cr_assert_eq(st, AOP_OK, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.body.len, 9);
    cr_assert_eq(memcmp(resp.body.data, "{\"tls\":1}", 9), 0);

    /* the certificate also names "localhost" */
    st = post(t, url_for("https://localhost", g_srv.port, "/echo"), "{}", 3000, &resp, &err);
    cr_assert_eq(st, AOP_OK, "%s: %s", aop_status_name(st), err.msg);
    t->destroy(t);

    unlink(ca_file);
    aop_buf_free(&resp.body);
    free(key);
    free(cert);
}

Test(transport, https_to_plain_http_server_fails_unsent) {
    server_start();
    aop_transport_t *t = new_transport(NULL);
    aop_http_response_t resp = {0};
    aop_error_t err;
    aop_status_t st =
        post(t, url_for("https://127.0.0.1", g_srv.port, "/echo"), "{}", 2000, &resp, &err);
    cr_assert_eq(st, AOP_E_TRANSPORT, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_not(resp.maybe_sent);
    aop_buf_free(&resp.body);
    t->destroy(t);
}

/* A bad CA setting is a configuration error when the transport is made (nothing can be sent),
 * never a transport error on the first post (which reads as "outcome unknown"). */
static void expect_ca_refused(const aop_curl_options_t *opt, const char *setting, const char *needle) {
    aop_transport_t *t = (aop_transport_t *)1;
    aop_error_t err;
    aop_error_clear(&err);
    aop_status_t st = aop_curl_transport_new(opt, &t, &err);
    cr_assert_eq(st, AOP_E_CONFIG, "%s: %s", aop_status_name(st), err.msg);
    cr_assert_null(t);
    cr_assert_str_eq(err.path, setting);
    cr_assert(strstr(err.msg, setting) != NULL, "message \"%s\" does not name %s", err.msg, setting);
    cr_assert(strstr(err.msg, needle) != NULL, "message \"%s\" does not say \"%s\"", err.msg, needle);
}

Test(transport, bad_ca_settings_are_config_errors, .timeout = 20) {
    char dir[] = "/tmp/aop-test-ca-dir-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char missing[128], notcert[128], fifo[128], good[128], keyonly[128];
    snprintf(missing, sizeof missing, "%s/missing.pem", dir);
    snprintf(notcert, sizeof notcert, "%s/notcert.pem", dir);
    snprintf(fifo, sizeof fifo, "%s/ca.fifo", dir);
    snprintf(good, sizeof good, "%s/good.pem", dir);
    snprintf(keyonly, sizeof keyonly, "%s/key.pem", dir);
    char *key, *cert;
    make_cert(&key, &cert);
    FILE *f = fopen(notcert, "w");
    fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    f = fopen(keyonly, "w");
    fputs(key, f);
    fclose(f);
    f = fopen(good, "w"); /* another PEM block first: skipped, the certificate after it counts */
    fputs(key, f);
    fputs(cert, f);
    fclose(f);
    cr_assert_eq(mkfifo(fifo, 0600), 0);

    expect_ca_refused(&(aop_curl_options_t){.ca_file = missing}, "ca_file", "No such file");
    expect_ca_refused(&(aop_curl_options_t){.ca_file = dir}, "ca_file", "a directory");
    expect_ca_refused(&(aop_curl_options_t){.ca_file = fifo}, "ca_file", "FIFO");
    expect_ca_refused(&(aop_curl_options_t){.ca_file = notcert}, "ca_file", "no PEM certificate");
    expect_ca_refused(&(aop_curl_options_t){.ca_file = keyonly}, "ca_file", "no PEM certificate");
    expect_ca_refused(&(aop_curl_options_t){.ca_file = ""}, "ca_file", "no path");
    expect_ca_refused(&(aop_curl_options_t){.ca_path = good}, "ca_path", "not a directory");
    expect_ca_refused(&(aop_curl_options_t){.ca_path = missing}, "ca_path", "No such file");
    expect_ca_refused(&(aop_curl_options_t){.ca_file = good, .ca_path = missing}, "ca_path", "No such");

    aop_transport_t *t = NULL;
    aop_error_t err;
    aop_status_t st = aop_curl_transport_new(&(aop_curl_options_t){.ca_file = good, .ca_path = dir}, &t, &err);
    cr_assert_eq(st, AOP_OK, "%s: %s", aop_status_name(st), err.msg);
    t->destroy(t);

    unlink(missing);
    unlink(notcert);
    unlink(fifo);
    unlink(good);
    unlink(keyonly);
    rmdir(dir);
    free(key);
    free(cert);
}
