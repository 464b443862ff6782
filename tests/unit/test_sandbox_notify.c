/* SPDX-License-Identifier: MIT */
/* The sandbox's notifications (aop-sandbox --notify-url; docs/protocol.md section 8), received by
 * a merchant's receiver made of the library's own aop_notify_receive() and aop_notify_answer()
 * behind libmicrohttpd: what each payment is notified of, the schedule of re-sends until a signed
 * S / SUCCESS, the answers the sandbox does not take, every notification row of the scenario
 * table, and each row's declared outcome for a resolving pay. Times are fractions of a second. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aop/aop.h"
#include "sandbox.h"
#include "sbx_internal.h"
#include "support.h"

#define DATA AOP_TEST_DATA
#define CLIENT "211020000000000000044"
#define MERCHANT "218820000000000000023"
#define DEMO_CODE "28763443825664394"
#define SETTLE_MS 300u
#define LATE_MS 1500u
/* 4 sends: at once, then after 200, 300 and 400 ms */
static const unsigned schedule[] = {200, 300, 400};
#define SENDS 4u


/* ---- the merchant's receiver ---------------------------------------------------------------------- */

typedef enum {
    ANSWER_RECORDED,     /* S / SUCCESS */
    ANSWER_NOT_RECORDED, /* F, the schema's code */
    ANSWER_HTTP_500,
    ANSWER_SPOILT,       /* S / SUCCESS whose signature does not verify */
} answer_mode_t;

#define MAX_DELIVERIES 64

typedef struct {
    long at_ms;
    aop_status_t st;          /* what aop_notify_receive() said */
    aop_notification_t *n;    /* when AOP_OK */
} delivery_t;

typedef struct {
    struct MHD_Daemon *d;
    unsigned short port;
    aop_notify_receiver_t *rx;
    aop_private_key_t *merchant;
    aop_public_key_t *alipay;
    pthread_mutex_t mu;
    answer_mode_t mode;
    unsigned n;
    delivery_t d_[MAX_DELIVERIES];
} receiver_t;

typedef struct {
    aop_buf_t body;
} upload_t;

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const aop_buf_t *b) {
    struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=UTF-8");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **req_cls) {
    (void)url, (void)method, (void)version;
    receiver_t *rv = cls;
    upload_t *u = *req_cls;
    if (!u) {
        *req_cls = calloc(1, sizeof *u);
        return *req_cls ? MHD_YES : MHD_NO;
    }
    if (*size) {
        if (aop_buf_append(&u->body, data, *size) != AOP_OK) return MHD_NO;
        *size = 0;
        return MHD_YES;
    }
    aop_notification_t *n = NULL;
    aop_error_t err;
    aop_status_t st = aop_notify_receive(rv->rx, u->body.data ? u->body.data : "", u->body.len, 0, &n, &err);
    pthread_mutex_lock(&rv->mu);
    answer_mode_t mode = rv->mode;
    if (rv->n < MAX_DELIVERIES) rv->d_[rv->n++] = (delivery_t){aop_test_mono_ms(), st, n};
    else aop_notification_free(n);
    pthread_mutex_unlock(&rv->mu);
    aop_buf_t out = {0};
    enum MHD_Result ret;
    if (st != AOP_OK || mode == ANSWER_HTTP_500) {
        static const char text[] = "refused\n";
        aop_buf_t b = {(char *)text, sizeof text - 1, sizeof text};
        ret = answer(conn, st != AOP_OK ? 400 : 500, &b);
    } else {
        aop_notify_verdict_t v = mode == ANSWER_NOT_RECORDED ? AOP_NOTIFY_NOT_RECORDED : AOP_NOTIFY_RECORDED;
        cr_assert_eq(aop_notify_answer(rv->rx, n, v, &out, &err), AOP_OK, "%s", err.msg);
        if (mode == ANSWER_SPOILT) {
            char *sig = strstr(out.data, "\"signature\":\"");
            cr_assert_not_null(sig);
            sig[13 + 10] = sig[13 + 10] == 'A' ? 'B' : 'A';
        }
        ret = answer(conn, 200, &out);
    }
    aop_buf_free(&out);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)conn, (void)toe;
    upload_t *u = *req_cls;
    if (u) aop_buf_free(&u->body);
    free(u);
    *req_cls = NULL;
}

static receiver_t *receiver_start(answer_mode_t mode) {
    receiver_t *rv = calloc(1, sizeof *rv);
    aop_error_t err;
    cr_assert_eq(aop_private_key_load_file(aop_test_private_key("merchant.pkcs8.pem"), NULL, &rv->merchant, &err), AOP_OK);
    cr_assert_eq(aop_public_key_load_file(DATA "/gateway.spki.pem", &rv->alipay, &err), AOP_OK);
    aop_notify_config_t cfg;
    aop_notify_config_init(&cfg);
    cfg.client_id = CLIENT;
    cfg.alipay_key = rv->alipay;
    cfg.merchant_key = rv->merchant;
    cr_assert_eq(aop_notify_receiver_new(&cfg, &rv->rx, &err), AOP_OK, "%s", err.msg);
    pthread_mutex_init(&rv->mu, NULL);
    rv->mode = mode;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* one thread: the receiver's aop_notify_receiver_t is not shared between threads */
    rv->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, rv, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, rv, MHD_OPTION_END);
    cr_assert_not_null(rv->d);
    rv->port = MHD_get_daemon_info(rv->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return rv;
}

static void receiver_stop(receiver_t *rv) {
    MHD_stop_daemon(rv->d);
    for (unsigned i = 0; i < rv->n; i++) aop_notification_free(rv->d_[i].n);
    aop_notify_receiver_free(rv->rx);
    aop_private_key_free(rv->merchant);
    aop_public_key_free(rv->alipay);
    pthread_mutex_destroy(&rv->mu);
    free(rv);
}

static void set_mode(receiver_t *rv, answer_mode_t mode) {
    pthread_mutex_lock(&rv->mu);
    rv->mode = mode;
    pthread_mutex_unlock(&rv->mu);
}

/* The deliveries of mtid so far, in order, into out (up to cap); their number. */
static unsigned deliveries_of(receiver_t *rv, const char *mtid, delivery_t *out, unsigned cap) {
    unsigned k = 0;
    pthread_mutex_lock(&rv->mu);
    for (unsigned i = 0; i < rv->n; i++) {
        const delivery_t *d = &rv->d_[i];
        /* a refused one has no decoded body: told by the receipt order of the test, never mixed */
        bool mine = d->n ? aop_str_eq_cstr(d->n->request->body.merchant_trans_id, mtid) : mtid == NULL;
        if (mine && k < cap) out[k++] = *d;
    }
    pthread_mutex_unlock(&rv->mu);
    return k;
}

/* Waits until mtid has want deliveries (or the bound passes); their number. */
static unsigned wait_for(receiver_t *rv, const char *mtid, unsigned want, long bound_ms) {
    delivery_t d[MAX_DELIVERIES];
    long t0 = aop_test_mono_ms();
    unsigned k;
    while ((k = deliveries_of(rv, mtid, d, MAX_DELIVERIES)) < want && aop_test_mono_ms() - t0 < bound_ms) aop_test_sleep_ms(10);
    return k;
}

/* ---- the sandbox and its client ------------------------------------------------------------------- */

/* The sandbox's keys and in-process time, without notifications. */
static aop_sandbox_config_t base_config(void) {
    aop_sandbox_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.key_file = aop_test_private_key("gateway.pkcs8.pem");
    cfg.merchant_public_key_file = DATA "/merchant.spki.pem";
    cfg.settle_ms = SETTLE_MS;
    return cfg;
}

static aop_sandbox_t *sandbox(const receiver_t *rv, const char *request_log) {
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/notify", (unsigned)rv->port);
    aop_sandbox_config_t cfg = base_config();
    cfg.notify_url = url;
    cfg.notify_schedule_ms = schedule;
    cfg.n_notify_schedule = sizeof schedule / sizeof schedule[0];
    cfg.notify_late_ms = LATE_MS;
    cfg.request_log = request_log;
    aop_sandbox_t *s = NULL;
    aop_error_t err;
    cr_assert_eq(aop_sandbox_start(&cfg, &s, &err), AOP_OK, "%s", err.msg);
    return s;
}

static aop_client_t *client(aop_sandbox_t *s) { return aop_test_client(aop_sandbox_port(s)); }

/* A receiver answering as mode, a sandbox that notifies it (its log in request_log, or none) and a
 * client of the sandbox: most tests' world. */
typedef struct {
    receiver_t *rv;
    aop_sandbox_t *s;
    aop_client_t *c;
} world_t;

static world_t world_start(answer_mode_t mode, const char *request_log) {
    world_t w;
    w.rv = receiver_start(mode);
    w.s = sandbox(w.rv, request_log);
    w.c = client(w.s);
    return w;
}

static void world_stop(world_t *w) {
    aop_client_free(w->c);
    aop_sandbox_stop(w->s);
    receiver_stop(w->rv);
}

static aop_offline_pay_request_t pay_request(const char *mtid, const char *code) {
    return aop_test_pay_request(mtid, "1250", code);
}

/* One pay call; its answer's status, and its acquirementId into acq (when given). */
static char pay(aop_client_t *c, const char *mtid, const char *code, char *acq, size_t cap) {
    aop_offline_pay_request_t rq = pay_request(mtid, code);
    aop_result_t *r = NULL;
    aop_error_t err;
    cr_assert_eq(aop_offline_pay(c, &rq, NULL, &r, &err), AOP_OK, "%s", err.msg);
    const aop_offline_pay_response_t *rs = aop_offline_pay_response(r);
    if (acq) snprintf(acq, cap, "%.*s", rs ? (int)rs->body.acquirement_id.len : 0, rs ? rs->body.acquirement_id.ptr : "");
    char status = r->status;
    aop_result_free(r);
    return status;
}

/* The payment's acquirementStatus by payQuery. */
static int query_status(aop_client_t *c, const char *mtid) {
    aop_offline_pay_query_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.merchant_trans_id = aop_str(mtid);
    aop_result_t *r = NULL;
    aop_error_t err;
    cr_assert_eq(aop_offline_pay_query(c, &rq, NULL, &r, &err), AOP_OK);
    cr_assert_eq(r->status, 'S');
    int st = aop_offline_pay_query_response(r)->body.acquirement_status.value;
    aop_result_free(r);
    return st;
}

static const aop_notify_pay_request_body_t *body_of(const delivery_t *d) {
    cr_assert_eq(d->st, AOP_OK, "the delivery was refused: %s", aop_status_name(d->st));
    return &d->n->request->body;
}

static bool code_is(const aop_notify_pay_request_body_t *b, const char *code) {
    return aop_str_eq_cstr(b->result_info.result_code, code);
}

/* ---- what a payment is notified of ---------------------------------------------------------------- */

Test(sandbox_notify, a_paid_payment_is_notified_once_when_answered_success) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    char acq[80];
    long t0 = aop_test_mono_ms();
    cr_assert_eq(pay(w.c, "n-paid", DEMO_CODE, acq, sizeof acq), 'S');
    cr_assert_eq(wait_for(w.rv, "n-paid", 1, 3000), 1);
    aop_test_sleep_ms(1200); /* past every wait of the schedule: no re-send of an answered notification */
    delivery_t d[MAX_DELIVERIES];
    cr_assert_eq(deliveries_of(w.rv, "n-paid", d, MAX_DELIVERIES), 1, "sent once");
    const aop_notify_pay_request_body_t *b = body_of(&d[0]);
    cr_assert_eq(d[0].n->status, 'S');
    cr_assert(code_is(b, "SUCCESS"));
    cr_assert(aop_str_eq_cstr(b->acquirement_id, acq), "the pay's acquirementId");
    cr_assert(b->has_order_amount && aop_str_eq_cstr(b->order_amount.value, "1250") &&
              aop_str_eq_cstr(b->order_amount.currency, "USD"));
    cr_assert(b->has_pay_amount && b->payment_time.ptr);
    cr_assert_null(b->merchant_id.ptr, "the 2.0.0 body has none");
    cr_assert_eq(d[0].n->warnings.count, 0, "a notification that breaks no rule (%s)",
                 d[0].n->warnings.count ? d[0].n->warnings.items[0].path : "");
    cr_assert_lt(d[0].at_ms - t0, 2000);
    world_stop(&w);
}

Test(sandbox_notify, a_declined_payment_is_notified_with_its_code) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    cr_assert_eq(pay(w.c, "n-declined", "281000000000001002", NULL, 0), 'F'); /* RISK_REJECT */
    cr_assert_eq(wait_for(w.rv, "n-declined", 1, 3000), 1);
    delivery_t d[4];
    deliveries_of(w.rv, "n-declined", d, 4);
    const aop_notify_pay_request_body_t *b = body_of(&d[0]);
    cr_assert_eq(d[0].n->status, 'F');
    cr_assert(code_is(b, "RISK_REJECT"));
    cr_assert_null(b->acquirement_id.ptr);
    world_stop(&w);
}

Test(sandbox_notify, an_in_process_payment_is_notified_when_its_timer_settles_it) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    long t0 = aop_test_mono_ms();
    cr_assert_eq(pay(w.c, "n-in-process", "281000000000001013", NULL, 0), 'U');
    cr_assert_eq(wait_for(w.rv, "n-in-process", 1, 3000), 1, "without any query");
    delivery_t d[4];
    deliveries_of(w.rv, "n-in-process", d, 4);
    cr_assert_eq(d[0].n->status, 'S');
    cr_assert_geq(d[0].at_ms - t0, (long)SETTLE_MS - 20, "not before the payment is paid");
    world_stop(&w);
}

Test(sandbox_notify, a_payment_paying_until_cancelled_is_notified_by_the_cancel) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    cr_assert_eq(pay(w.c, "n-cancelled", "281000000000003001", NULL, 0), 'U');
    aop_test_sleep_ms(600);
    cr_assert_eq(wait_for(w.rv, "n-cancelled", 1, 0), 0, "PAYING: nothing to notify");
    aop_pay_cancel_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.merchant_trans_id = aop_str("n-cancelled");
    aop_result_t *r = NULL;
    aop_error_t err;
    cr_assert_eq(aop_pay_cancel(w.c, &rq, NULL, &r, &err), AOP_OK);
    cr_assert_eq(r->status, 'S');
    aop_result_free(r);
    cr_assert_eq(wait_for(w.rv, "n-cancelled", 1, 3000), 1);
    delivery_t d[4];
    deliveries_of(w.rv, "n-cancelled", d, 4);
    cr_assert_eq(d[0].n->status, 'F');
    cr_assert(code_is(body_of(&d[0]), "ORDER_IS_CLOSED"));
    world_stop(&w);
}

/* ---- the schedule, and the answers the sandbox does not take --------------------------------------- */

/* With mode, the notification of a paid payment is sent on the whole schedule, no more, every
 * send with the first one's reqTime and a fresh reqMsgId. */
static void whole_schedule(answer_mode_t mode, const char *mtid) {
    world_t w = world_start(mode, NULL);
    cr_assert_eq(pay(w.c, mtid, DEMO_CODE, NULL, 0), 'S');
    cr_assert_eq(wait_for(w.rv, mtid, SENDS, 5000), SENDS, "the whole schedule");
    aop_test_sleep_ms(800);
    delivery_t d[MAX_DELIVERIES];
    cr_assert_eq(deliveries_of(w.rv, mtid, d, MAX_DELIVERIES), SENDS, "then no more");
    for (unsigned i = 1; i < SENDS; i++) {
        long gap = d[i].at_ms - d[i - 1].at_ms;
        cr_expect_geq(gap, (long)schedule[i - 1] - 20, "wait %u: %ld ms", i, gap);
        cr_expect_lt(gap, (long)schedule[i - 1] + 800, "wait %u: %ld ms", i, gap);
        cr_expect(aop_str_eq(d[i].n->request->head.req_time, d[0].n->request->head.req_time), "the first reqTime");
        cr_expect(!aop_str_eq(d[i].n->request->head.req_msg_id, d[i - 1].n->request->head.req_msg_id),
                  "a fresh reqMsgId");
        cr_expect(aop_notification_same_fact(d[i].n, d[0].n) && !aop_notification_same_delivery(d[i].n, d[0].n));
    }
    world_stop(&w);
}

Test(sandbox_notify, not_recorded_is_sent_again_on_the_schedule) { whole_schedule(ANSWER_NOT_RECORDED, "n-f"); }
Test(sandbox_notify, http_500_is_sent_again_on_the_schedule) { whole_schedule(ANSWER_HTTP_500, "n-500"); }
Test(sandbox_notify, an_answer_whose_signature_does_not_verify_is_not_taken) {
    whole_schedule(ANSWER_SPOILT, "n-spoilt");
}

Test(sandbox_notify, a_later_success_answer_ends_the_re_sends) {
    char log[] = "/tmp/aop-notify-log-XXXXXX";
    int fd = mkstemp(log);
    cr_assert_geq(fd, 0);
    close(fd);
    world_t w = world_start(ANSWER_NOT_RECORDED, log);
    cr_assert_eq(pay(w.c, "n-second", DEMO_CODE, NULL, 0), 'S');
    cr_assert_eq(wait_for(w.rv, "n-second", 1, 3000), 1);
    set_mode(w.rv, ANSWER_RECORDED); /* recorded at the second send */
    cr_assert_eq(wait_for(w.rv, "n-second", 2, 3000), 2);
    aop_test_sleep_ms(1000);
    cr_assert_eq(wait_for(w.rv, "n-second", 3, 0), 2, "no third send");
    world_stop(&w);
    /* the request log has a line per send, with the merchant's answer */
    char *text = aop_test_read_path(log, NULL);
    unlink(log);
    const char *first = strstr(text, "\"function\":\"alipay.intl.acquiring.offline.notify.pay\",\"merchantTransId\":\"n-second\"");
    cr_assert_not_null(first, "%s", text);
    cr_assert_not_null(strstr(first, "\"resultStatus\":\"F\",\"resultCode\":\"PROCESS_FAIL\""), "%s", text);
    cr_assert_not_null(strstr(first, "\"resultStatus\":\"S\",\"resultCode\":\"SUCCESS\""), "%s", text);
    free(text);
}

/* ---- the notification rows of the scenario table ---------------------------------------------------- */

Test(sandbox_notify, row_sent_twice) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    cr_assert_eq(pay(w.c, "n-twice", "281000000000004001", NULL, 0), 'S');
    cr_assert_eq(wait_for(w.rv, "n-twice", 2, 3000), 2);
    aop_test_sleep_ms(800);
    delivery_t d[4];
    cr_assert_eq(deliveries_of(w.rv, "n-twice", d, 4), 2, "twice, no more");
    cr_assert(aop_notification_same_fact(d[0].n, d[1].n), "the same fact");
    cr_assert(!aop_notification_same_delivery(d[0].n, d[1].n), "a second delivery");
    cr_assert_geq(d[1].at_ms - d[0].at_ms, (long)schedule[0] - 20);
    world_stop(&w);
}

Test(sandbox_notify, row_sent_late) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    long t0 = aop_test_mono_ms();
    cr_assert_eq(pay(w.c, "n-late", "281000000000004002", NULL, 0), 'U');
    aop_test_sleep_ms(SETTLE_MS + 400);
    cr_assert_eq(query_status(w.c, "n-late"), AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS, "paid long before");
    cr_assert_eq(wait_for(w.rv, "n-late", 1, 0), 0, "not yet notified");
    cr_assert_eq(wait_for(w.rv, "n-late", 1, 4000), 1);
    delivery_t d[2];
    deliveries_of(w.rv, "n-late", d, 2);
    cr_assert_geq(d[0].at_ms - t0, (long)LATE_MS - 20, "sent after %ld ms", d[0].at_ms - t0);
    cr_assert_eq(d[0].n->status, 'S');
    world_stop(&w);
}

Test(sandbox_notify, row_never_sent) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    cr_assert_eq(pay(w.c, "n-never", "281000000000004003", NULL, 0), 'U');
    cr_assert_eq(pay(w.c, "n-never-control", "281000000000001013", NULL, 0), 'U'); /* the same payment, a normal row */
    cr_assert_eq(wait_for(w.rv, "n-never-control", 1, 3000), 1);
    aop_test_sleep_ms(800);
    cr_assert_eq(query_status(w.c, "n-never"), AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS);
    cr_assert_eq(wait_for(w.rv, "n-never", 1, 0), 0, "never");
    world_stop(&w);
}

Test(sandbox_notify, row_sent_with_a_bad_signature) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    cr_assert_eq(pay(w.c, "n-bad-sig", "281000000000004004", NULL, 0), 'U');
    /* refused deliveries have no decoded body: they are the only ones of this test */
    cr_assert_eq(wait_for(w.rv, NULL, SENDS, 5000), SENDS, "refused, so sent on the whole schedule");
    aop_test_sleep_ms(800);
    delivery_t d[MAX_DELIVERIES];
    cr_assert_eq(deliveries_of(w.rv, NULL, d, MAX_DELIVERIES), SENDS);
    for (unsigned i = 0; i < SENDS; i++) cr_expect_eq(d[i].st, AOP_E_SIGNATURE_INVALID, "send %u", i);
    cr_assert_eq(query_status(w.c, "n-bad-sig"), AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS, "the payment itself is paid");
    world_stop(&w);
}

Test(sandbox_notify, rows_contradicting_the_payment) {
    world_t w = world_start(ANSWER_RECORDED, NULL);
    char acq[80];
    cr_assert_eq(pay(w.c, "n-says-paid", "281000000000004005", acq, sizeof acq), 'U');
    cr_assert_eq(pay(w.c, "n-says-closed", "281000000000004006", NULL, 0), 'U');
    cr_assert_eq(wait_for(w.rv, "n-says-paid", 1, 3000), 1);
    cr_assert_eq(wait_for(w.rv, "n-says-closed", 1, 3000), 1);
    delivery_t d[2];
    deliveries_of(w.rv, "n-says-paid", d, 2);
    cr_assert_eq(d[0].n->status, 'S', "a signed SUCCESS...");
    cr_assert(aop_str_eq_cstr(body_of(&d[0])->acquirement_id, acq));
    cr_assert_eq(query_status(w.c, "n-says-paid"), AOP_ACQUIREMENT_STATUS_ENUM_CLOSED, "...for a closed payment");
    deliveries_of(w.rv, "n-says-closed", d, 2);
    cr_assert_eq(d[0].n->status, 'F', "a signed failure...");
    cr_assert(code_is(body_of(&d[0]), "ORDER_IS_CLOSED"));
    cr_assert_eq(query_status(w.c, "n-says-closed"), AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS, "...for a paid one");
    world_stop(&w);
}

/* Every notification row ends as its outcome column says when `aop pay` resolves it (the
 * sandbox's default switches: no notifications), as tests/unit/test_resolver.c checks the pay's
 * rows. */
Test(sandbox_notify, every_notification_row_ends_as_declared) {
    aop_sandbox_config_t cfg = base_config();
    aop_sandbox_t *s = NULL;
    aop_error_t err;
    cr_assert_eq(aop_sandbox_start(&cfg, &s, &err), AOP_OK, "%s", err.msg);
    aop_client_t *c = client(s);
    char path[] = "/tmp/aop-notify-journal-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(path);
    aop_journal_t *j = NULL;
    cr_assert_eq(aop_journal_open_sqlite(path, &j, &err), AOP_OK, "%s", err.msg);
    cr_assert_gt(sbx_n_notify_scenarios, 4u);
    for (unsigned i = 0; i < sbx_n_notify_scenarios; i++) {
        const sbx_scenario_t *sc = &sbx_notify_scenarios[i];
        cr_assert_neq(sc->outcome, SBX_OUTCOME_UNDECLARED, "row %s declares no outcome", sc->identity_code);
        cr_assert_not_null(sc->tag, "row %s: the payment keeps its row by its tag", sc->identity_code);
        char mtid[48];
        snprintf(mtid, sizeof mtid, "n-row-%s", sc->identity_code + 14);
        aop_offline_pay_request_t rq = pay_request(mtid, sc->identity_code);
        /* the rows settle within the in-process time: queried soon and often enough */
        aop_resolve_options_t o;
        aop_resolve_options_init(&o);
        o.policy.first_poll_s = 0.05;
        o.policy.poll_interval_s = 0.1;
        aop_resolution_t *r = NULL;
        cr_assert_eq(aop_pay_resolve(c, j, &rq, &o, &r, &err), AOP_OK, "%s", err.msg);
        cr_expect_str_eq(aop_outcome_name(r->outcome), sbx_outcome_name(sc->outcome), "row %s (%s)", sc->identity_code,
                         r->reason);
        aop_resolution_free(r);
    }
    aop_journal_close(j);
    unlink(path);
    char wal[64];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    aop_client_free(c);
    aop_sandbox_stop(s);
}

/* ---- stopping, and the configuration ---------------------------------------------------------------- */

Test(sandbox_notify, stop_is_prompt_while_a_send_waits_for_its_answer) {
    /* a merchant that accepts the connection and never answers */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(lfd, 8), 0);
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    receiver_t fake = {0};
    fake.port = ntohs(sa.sin_port);
    aop_sandbox_t *s = sandbox(&fake, NULL);
    aop_client_t *c = client(s);
    cr_assert_eq(pay(c, "n-hang", DEMO_CODE, NULL, 0), 'S');
    aop_test_sleep_ms(300); /* the send is waiting for its answer now */
    long t0 = aop_test_mono_ms();
    aop_sandbox_stop(s);
    long took = aop_test_mono_ms() - t0;
    cr_assert_lt(took, 2000, "stop took %ld ms", took);
    aop_client_free(c);
    close(lfd);
}

Test(sandbox_notify, the_notify_settings_are_checked) {
    aop_sandbox_config_t cfg = base_config();
    aop_sandbox_t *s = NULL;
    aop_error_t err;
    cfg.notify_url = "http://merchant.example/notify";
    cr_expect_eq(aop_sandbox_start(&cfg, &s, &err), AOP_E_CONFIG, "plain http off the loopback");
    cr_expect_str_eq(err.path, "notify_url");
    cfg.notify_url = "";
    cr_expect_eq(aop_sandbox_start(&cfg, &s, &err), AOP_E_CONFIG);
    cfg.notify_url = "http://127.0.0.1:9/n";
    static unsigned many[SBX_NOTIFY_SCHEDULE_MAX + 1];
    cfg.notify_schedule_ms = many;
    cfg.n_notify_schedule = SBX_NOTIFY_SCHEDULE_MAX + 1;
    cr_expect_eq(aop_sandbox_start(&cfg, &s, &err), AOP_E_CONFIG);
    cr_expect_str_eq(err.path, "notify_schedule");
    cr_expect_null(s);
}
