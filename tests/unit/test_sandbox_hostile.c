/* SPDX-License-Identifier: MIT */
/* aop-sandbox against hostile local clients (issue 9, section 3): connections that trickle their
 * headers a byte a second must not lock a normal client out, and values a client chooses must
 * not forge log lines. The sandbox runs in-process, the normal client is the real aop client. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aop/aop.h"
#include "sandbox.h"
#include "support.h"

#define DATA AOP_TEST_DATA
#define MERCHANT_ID "218820000000000000023"
#define DEMO_CODE "28763443825664394"

#ifndef AOP_SANITIZE_BUILD
static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
#endif

static aop_sandbox_t *start(FILE *log) {
    aop_sandbox_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.key_file = aop_test_private_key("gateway.pkcs8.pem");
    cfg.merchant_public_key_file = DATA "/merchant.spki.pem";
    cfg.sign_type = AOP_SIGN_RSA2;
    cfg.log = log;
    aop_sandbox_t *s = NULL;
    aop_error_t err;
    aop_status_t st = aop_sandbox_start(&cfg, &s, &err);
    cr_assert_eq(st, AOP_OK, "aop_sandbox_start: %s: %s", aop_status_name(st), err.msg);
    return s;
}

static int connect_to(unsigned short port, bool nonblocking) {
    int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
    return fd;
}

/* ---- trickling connections ------------------------------------------------------------------ */

#ifdef AOP_SANITIZE_BUILD
Test(sandbox_hostile, trickling_connections_do_not_lock_out_a_pay) {
    cr_skip_test("the trickle test runs in the non-sanitizer build only");
}
#else

typedef struct {
    unsigned short port;
    volatile int done;
    char status;
    aop_status_t error;
    long took_ms;
} pay_t;

static void *normal_pay(void *arg) {
    pay_t *p = arg;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)p->port);
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = url;
    cfg.client_id = AOP_SANDBOX_DEFAULT_CLIENT_ID;
    cfg.merchant_id = MERCHANT_ID;
    cfg.private_key_file = aop_test_private_key("merchant.pkcs8.pem");
    cfg.alipay_public_key_file = DATA "/gateway.spki.pem";
    cfg.sign_type = AOP_SIGN_RSA2;
    aop_client_t *c = NULL;
    aop_error_t err;
    aop_status_t st = aop_client_new(&cfg, &c, &err);
    if (st == AOP_OK) {
        aop_offline_pay_request_t rq;
        memset(&rq, 0, sizeof rq);
        rq.body.product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
        rq.body.code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
        rq.body.merchant_trans_id = aop_str("m-among-tricklers");
        rq.body.identity_code = aop_str(DEMO_CODE);
        rq.body.order.order_amount.currency = aop_str("USD");
        rq.body.order.order_amount.value = aop_str("100");
        rq.body.order.order_title = aop_str("trickle test");
        aop_call_options_t opts;
        aop_call_options_init(&opts);
        opts.deadline_ms = 10000;
        aop_result_t *r = NULL;
        long t0 = now_ms();
        st = aop_offline_pay(c, &rq, &opts, &r, &err);
        p->took_ms = now_ms() - t0;
        p->status = r ? r->status : 0;
        p->error = st != AOP_OK ? st : r->error;
        aop_result_free(r);
        aop_client_free(c);
    } else {
        p->error = st;
    }
    p->done = 1;
    return NULL;
}

#define TRICKLERS 1100

Test(sandbox_hostile, trickling_connections_do_not_lock_out_a_pay, .timeout = 30) {
    /* this process holds both ends of every connection, plus the sandbox's own descriptors */
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t want = 2 * TRICKLERS + 512;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        cr_skip_test("RLIMIT_NOFILE hard limit %lu is below the %lu this test needs", (unsigned long)rl.rlim_max,
                     (unsigned long)want);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur < want) {
        rl.rlim_cur = want;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit: %s", strerror(errno));
    }
    aop_sandbox_t *s = start(NULL);
    unsigned short port = aop_sandbox_port(s);
    static int fds[TRICKLERS];
    static const char head[] = "POST /alipay/intl/acquiring/offline/pay.htm HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    for (unsigned i = 0; i < TRICKLERS; i++) fds[i] = connect_to(port, true);
    /* one byte each, then one more every second: never a whole header, never a reconnect */
    size_t sent = 0;
    long t_start = now_ms(), next_byte = t_start;
    pay_t p = {port, 0, 0, AOP_OK, 0};
    pthread_t th;
    bool pay_started = false;
    unsigned closed = 0;
    while (!p.done && now_ms() - t_start < 14000) {
        if (now_ms() >= next_byte) {
            char b = head[sent % (sizeof head - 1)];
            for (unsigned i = 0; i < TRICKLERS; i++)
                if (fds[i] >= 0 && send(fds[i], &b, 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
                    close(fds[i]); /* the server cut it: it stays cut (no reconnect) */
                    fds[i] = -1;
                    closed++;
                }
            sent++;
            next_byte += 1000;
        }
        if (!pay_started && now_ms() - t_start >= 300) {
            /* every trickler has connected and sent its first byte; now a normal client comes */
            cr_assert_eq(pthread_create(&th, NULL, normal_pay, &p), 0);
            pay_started = true;
        }
        sleep_ms(20);
    }
    cr_assert(pay_started);
    pthread_join(th, NULL);
    for (unsigned i = 0; i < TRICKLERS; i++) {
        if (fds[i] < 0) continue;
        char c;
        ssize_t n = recv(fds[i], &c, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN)) closed++;
        close(fds[i]);
    }
    aop_sandbox_stop(s);
    fprintf(stderr, "trickle: pay %c (%s) in %ld ms; %u of %u trickling connections cut by the sandbox\n",
            p.status ? p.status : '-', aop_status_name(p.error), p.took_ms, closed, TRICKLERS);
    cr_assert_eq(p.status, 'S', "the pay ended %c (%s) after %ld ms", p.status ? p.status : '-',
                 aop_status_name(p.error), p.took_ms);
    cr_assert_lt(p.took_ms, 10000, "the pay took %ld ms", p.took_ms);
    cr_assert_gt(closed, 0u, "no trickling connection was cut");
}
#endif

/* ---- log injection ---------------------------------------------------------------------------- */

/* POSTs body to path and reads the answer until the server closes (Connection: close). */
static void post_raw(unsigned short port, const char *path, const char *body) {
    int fd = connect_to(port, false);
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=UTF-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     path, strlen(body), body);
    cr_assert(n > 0 && (size_t)n < sizeof req);
    cr_assert_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    char buf[4096];
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (recv(fd, buf, sizeof buf, 0) > 0) {}
    close(fd);
}

Test(sandbox_hostile, logged_values_cannot_forge_log_lines) {
    char *text = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&text, &len);
    aop_sandbox_t *s = start(log);
    unsigned short port = aop_sandbox_port(s);
    /* unsigned, so answered before any signature check: clientId and merchantTransId carry a CR,
     * a LF, an escape sequence and a C1 control, as JSON escapes (unescaped by the gateway) */
    post_raw(port, aop_fn_offline_pay.path,
             "{\"request\":{\"head\":{\"version\":\"2.0.0\",\"function\":\"alipay.intl.acquiring.offline.pay\","
             "\"clientId\":\"c\\nFORGED-C \\u001b[2J\",\"reqTime\":\"2001-07-04T12:08:56+05:30\","
             "\"reqMsgId\":\"r1\"},\"body\":{\"merchantTransId\":\"m\\r\\nFORGED-M \\u001b[31m \\u0085\"}},"
             "\"signature\":\"AAAA\"}");
    /* the URL and the method of an HTTP refusal are logged too */
    post_raw(port, "/x%0aFORGED-U", "{}");
    aop_sandbox_stop(s);
    fclose(log);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "FORGED-C"), "the request was not logged: %s", text);
    cr_assert_not_null(strstr(text, "FORGED-M"), "%s", text);
    /* every line is one of ours: it starts with the time stamp (a digit), has no control
     * character, and nothing a client sent starts a line */
    unsigned lines = 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        cr_assert_not_null(end, "an unterminated line: %s", p);
        cr_assert(p[0] >= '0' && p[0] <= '9', "a line not of the sandbox: %.*s", (int)(end - p), p);
        for (const char *q = p; q < end; q++) {
            unsigned char c = (unsigned char)*q;
            cr_assert(c >= 0x20 && c != 0x7f, "control character 0x%02x in: %.*s", c, (int)(end - p), p);
            cr_assert(!(c == 0xc2 && q + 1 < end && (unsigned char)q[1] >= 0x80 && (unsigned char)q[1] <= 0x9f),
                      "C1 control in: %.*s", (int)(end - p), p);
        }
        lines++;
        p = end + 1;
    }
    cr_assert_geq(lines, 4u, "%s", text); /* start, two requests, stop */
    free(text);
}
