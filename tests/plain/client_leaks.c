/* SPDX-License-Identifier: MIT */
/* Creates, uses and destroys clients against the in-process mini gateway, then exits: run under
 * valgrind (or LeakSanitizer) to prove the client frees everything, on every path: success for
 * every function and both sign types, a tampered response, a timeout, a refused connection, a
 * validation error, an event hook. Exits 0 when every call gave what it should, 1 otherwise.
 * No test framework: valgrind must see only this program and the library. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aop/aop.h"
#include "mini_gateway.h"
#include "support.h"

static int failures;
static bool verbose; /* AOP_LEAKS_VERBOSE=1: phase timings on stderr */

static void phase(const char *name) {
    if (!verbose) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    fprintf(stderr, "client_leaks: %ld.%03ld %s\n", (long)ts.tv_sec, ts.tv_nsec / 1000000L, name);
}

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            fprintf(stderr, "client_leaks: FAILED %s: ", #cond); \
            fprintf(stderr, __VA_ARGS__);                     \
            fputc('\n', stderr);                              \
            failures++;                                       \
        }                                                     \
    } while (0)

static unsigned events;

static void on_event(const aop_event_t *ev, void *ctx) {
    (void)ctx;
    events++;
    CHECK(ev->masked_request && strstr(ev->masked_request, "28763443825664394") == NULL,
          "identity code in the event of %s", ev->function);
}

static long call_deadline_ms; /* of the calls of the client made last; 0 = each function's default */

static aop_client_t *new_client(const char *url, aop_sign_type_t type, long deadline_ms) {
    call_deadline_ms = deadline_ms;
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = url;
    cfg.client_id = "211020000000000000044";
    cfg.merchant_id = "218820000000000000023";
    cfg.private_key_file = aop_test_private_key("merchant.pkcs8.pem");
    cfg.alipay_public_key_file = AOP_TEST_DATA "/gateway.spki.pem";
    cfg.sign_type = type;
    cfg.on_event = on_event;
    aop_client_t *c = NULL;
    aop_error_t err;
    aop_status_t st = aop_client_new(&cfg, &c, &err);
    CHECK(st == AOP_OK, "aop_client_new: %s %s", aop_status_name(st), err.msg);
    return c;
}

/* One call of fn with its sample request; returns the result's status ('S', 'F', 'U'). */
static char call(aop_client_t *c, const aop_function_desc_t *fn, aop_status_t *why) {
    void *rq = calloc(1, gw_any_request_size());
    if (!rq) abort();
    gw_sample_request(fn, rq);
    aop_call_options_t opts;
    aop_call_options_init(&opts);
    opts.deadline_ms = call_deadline_ms;
    aop_result_t *r = NULL;
    aop_error_t err;
    aop_status_t st = aop_call(c, fn, rq, &opts, &r, &err);
    free(rq);
    CHECK(st == AOP_OK && r, "%s: aop_call: %s %s", fn->name, aop_status_name(st), err.msg);
    if (!r) return 0;
    if (verbose) fprintf(stderr, "client_leaks: %s: transport %ld ms\n", fn->name, r->latency_ms);
    char s = r->status;
    if (why) *why = r->error;
    aop_result_free(r);
    return s;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    verbose = getenv("AOP_LEAKS_VERBOSE") != NULL;
    phase("start");
    gw_t *g = gw_start();
    phase("gateway up");
    if (!g) return 2;
    aop_status_t why = AOP_OK;

    for (int t = 0; t < 2; t++) {
        aop_sign_type_t type = t ? AOP_SIGN_RSA : AOP_SIGN_RSA2;
        gw_behaviour_t b = {.sign_type = type};
        gw_set(g, &b);
        aop_client_t *c = new_client(gw_url(g), type, 0);
        if (!c) return 1;
        phase("client");
        /* every function once (RSA2); pay with RSA */
        for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++)
            if (type == AOP_SIGN_RSA2 || aop_functions[i] == &aop_fn_offline_pay)
                CHECK(call(c, aop_functions[i], NULL) == 'S', "%s (%s)", aop_functions[i]->name,
                      aop_sign_type_name(type));
        aop_client_free(c);
        phase("four functions");
    }

    aop_client_t *c = new_client(gw_url(g), AOP_SIGN_RSA2, 0);
    if (!c) return 1;
    /* one of each path of the judgement: bad signature, no signature, echo, HTTP status,
     * broken JSON, transport error, and a warning beside a verified outcome */
    gw_behaviour_t lies[] = {{.tamper_sig = true}, {.key = GW_KEY_NONE}, {.echo_change = 4},
                             {.http_status = 500}, {.raw_body = "not json"}, {.truncate = true},
                             {.patch_from = "\"body\":{", .patch_to = "\"body\":{\"x\":1,"}};
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        gw_set(g, &lies[i]);
        char s = call(c, &aop_fn_offline_pay, &why);
        if (lies[i].patch_from)
            CHECK(s == 'S', "an unknown member is a warning");
        else
            CHECK(s == 'U' && why != AOP_OK, "lie %zu gave %c", i, s ? s : '0');
    }
    gw_set(g, NULL);
    phase("lies");

    /* a validation error: nothing sent, no result */
    aop_offline_pay_request_t rq;
    gw_sample_request(&aop_fn_offline_pay, &rq);
    rq.body.order.order_amount.value = aop_str("01");
    aop_result_t *r = (aop_result_t *)&rq;
    aop_error_t err;
    CHECK(aop_offline_pay(c, &rq, NULL, &r, &err) == AOP_E_BAD_AMOUNT && r == NULL, "validation");
    aop_client_free(c);

    /* a timeout */
    gw_behaviour_t slow = {.sleep_ms = 5000};
    gw_set(g, &slow);
    c = new_client(gw_url(g), AOP_SIGN_RSA2, 500);
    CHECK(call(c, &aop_fn_offline_pay, &why) == 'U' && why == AOP_E_TIMEOUT, "timeout: %s",
          aop_status_name(why));
    aop_client_free(c);
    phase("timeout");
    unsigned requests = gw_requests(g);
    gw_stop(g);
    phase("gateway stopped");

    /* a refused connection */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    char url[64] = "http://127.0.0.1:1";
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    c = new_client(url, AOP_SIGN_RSA2, 0);
    CHECK(call(c, &aop_fn_offline_pay_query, &why) == 'U' && why == AOP_E_CONNECT, "refused: %s",
          aop_status_name(why));
    aop_client_free(c);
    if (fd >= 0) close(fd);
    phase("refused");

    /* a configuration error frees what it built */
    aop_client_config_t bad;
    aop_client_config_init(&bad);
    bad.gateway_url = AOP_HOST_PRODUCTION;
    bad.client_id = "x";
    bad.private_key_file = aop_test_private_key("merchant.pkcs8.pem");
    bad.alipay_public_key_file = AOP_TEST_DATA "/merchant.spki.pem";
    aop_client_t *none = NULL;
    CHECK(aop_client_new(&bad, &none, &err) == AOP_E_KEY_MISMATCH && none == NULL, "key mismatch");

    unsigned calls = AOP_FUNCTION_COUNT + 1 + (unsigned)(sizeof lies / sizeof lies[0]) + 2;
    CHECK(events == calls, "%u events for %u calls", events, calls);
    CHECK(requests == calls - 1, "the gateway saw %u requests", requests);
    printf("client_leaks: %u calls, %u events, %d failures\n", calls, events, failures);
    return failures ? 1 : 0;
}
