/* SPDX-License-Identifier: MIT */
/* aop-bench-resolve: what the journal and the resolver add to a payment decided at once.
 *
 *   aop-bench-resolve [N]      (default 300)
 *
 * In one run, against one in-process sandbox (state in memory, so only the journal syncs), N
 * pays of each kind, interleaved: a bare call (aop_offline_pay, no journal), a journaled single
 * call (`aop pay --no-resolve`) and a resolved pay (aop_pay_resolve, `aop pay`). Prints the
 * median and p99 latency of each, the added latency, and the fsync/fdatasync calls per pay:
 * fsync and fdatasync are
 * interposed here (SQLite calls them through the dynamic linker), so the count is the real one.
 * The expected figure is one sync per resolved pay: the journal commit before the pay leaves. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aop/aop.h"
#include "sandbox.h"

#ifndef AOP_BENCH_DATA
#error "AOP_BENCH_DATA (the test key directory) must be defined"
#endif

static atomic_uint syncs;

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    atomic_fetch_add(&syncs, 1);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    atomic_fetch_add(&syncs, 1);
    return real(fd);
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void fill(aop_offline_pay_request_t *rq, char mtid[AOP_UUID_SIZE]) {
    memset(rq, 0, sizeof *rq);
    if (aop_uuid(mtid) != AOP_OK) abort();
    rq->body.product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
    rq->body.code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
    rq->body.merchant_trans_id = aop_str(mtid);
    rq->body.identity_code = aop_str("28763443825664394");
    rq->body.order.order_amount.currency = aop_str("USD");
    rq->body.order.order_amount.value = aop_str("100");
    rq->body.order.order_title = aop_str("bench");
}

/* The key of the test data copied to a private 0600 file (the library refuses lax keys). */
static void private_copy(const char *name, char *out, size_t cap, const char *dir) {
    char src[1024];
    snprintf(src, sizeof src, "%s/%s", AOP_BENCH_DATA, name);
    snprintf(out, cap, "%s/%s", dir, name);
    FILE *in = fopen(src, "rb"), *to = fopen(out, "wb");
    if (!in || !to) abort();
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, to);
    fclose(in);
    fclose(to);
    chmod(out, 0600);
}

static void report(const char *what, long *us, unsigned n, unsigned sync_count) {
    qsort(us, n, sizeof *us, cmp_long);
    printf("%-28s p50 %7.2f ms   p99 %7.2f ms   syncs/pay %.2f\n", what, us[n / 2] / 1000.0,
           us[(size_t)(n * 0.99)] / 1000.0, (double)sync_count / n);
}

int main(int argc, char **argv) {
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 300;
    if (n < 10) n = 10;
    char dir[] = "/tmp/aop-bench-resolve-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char gwkey[1100], mkey[1100], mpub[1100], gpub[1100], journal[1100];
    private_copy("gateway.pkcs8.pem", gwkey, sizeof gwkey, dir);
    private_copy("merchant.pkcs8.pem", mkey, sizeof mkey, dir);
    snprintf(mpub, sizeof mpub, "%s/merchant.spki.pem", AOP_BENCH_DATA);
    snprintf(gpub, sizeof gpub, "%s/gateway.spki.pem", AOP_BENCH_DATA);
    snprintf(journal, sizeof journal, "%s/journal.db", dir);

    aop_sandbox_config_t sc;
    memset(&sc, 0, sizeof sc);
    sc.key_file = gwkey;
    sc.merchant_public_key_file = mpub;
    aop_sandbox_t *sb = NULL;
    aop_error_t err;
    if (aop_sandbox_start(&sc, &sb, &err) != AOP_OK) {
        fprintf(stderr, "sandbox: %s\n", err.msg);
        return 2;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)aop_sandbox_port(sb));
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = url;
    cfg.client_id = AOP_SANDBOX_DEFAULT_CLIENT_ID;
    cfg.merchant_id = "218820000000000000023";
    cfg.private_key_file = mkey;
    cfg.alipay_public_key_file = gpub;
    aop_client_t *c = NULL;
    aop_journal_t *j = NULL;
    if (aop_client_new(&cfg, &c, &err) != AOP_OK || aop_journal_open_sqlite(journal, &j, &err) != AOP_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return 2;
    }
    /* kind 0: a bare call (no journal); 1: --no-resolve (journaled, one call); 2: resolved */
    static const char *const kinds[3] = {"bare call (no journal)", "--no-resolve (journaled)", "resolved (journaled)"};
    long *us[3];
    unsigned sync_count[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++)
        if (!(us[k] = calloc(n, sizeof **us))) return 2;
    aop_resolve_options_t single;
    aop_resolve_options_init(&single);
    single.single_call = true;
    for (unsigned i = 0; i < n; i++) { /* interleaved, so all three see the same machine */
        for (int k = 0; k < 3; k++) {
            aop_offline_pay_request_t rq;
            char mtid[AOP_UUID_SIZE];
            fill(&rq, mtid);
            unsigned s0 = atomic_load(&syncs);
            long t0 = now_us();
            if (k == 0) {
                aop_result_t *r = NULL;
                if (aop_offline_pay(c, &rq, NULL, &r, &err) != AOP_OK || r->status != 'S') return 3;
                aop_result_free(r);
            } else {
                aop_resolution_t *res = NULL;
                if (aop_pay_resolve(c, j, &rq, k == 1 ? &single : NULL, &res, &err) != AOP_OK ||
                    res->outcome != AOP_OUTCOME_PAID)
                    return 3;
                aop_resolution_free(res);
            }
            us[k][i] = now_us() - t0;
            sync_count[k] += atomic_load(&syncs) - s0;
        }
    }
    printf("%u pays of each kind, decided at once, against an in-process sandbox (state in memory)\n", n);
    for (int k = 0; k < 3; k++) report(kinds[k], us[k], n, sync_count[k]);
    printf("added by the journal and the resolver at the median: %.2f ms over a bare call, %.2f ms over "
           "--no-resolve\n", (us[2][n / 2] - us[0][n / 2]) / 1000.0, (us[2][n / 2] - us[1][n / 2]) / 1000.0);
    for (int k = 0; k < 3; k++) free(us[k]);
    aop_journal_close(j);
    aop_client_free(c);
    aop_sandbox_stop(sb);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 2;
}
