/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *aop_test_read_path(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    buf[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

char *aop_test_read(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AOP_TEST_DATA, name);
    return aop_test_read_path(path, len);
}

/* The copies live in the build tree (AOP_TEST_KEY_DIR): nothing to clean up, and Criterion's
 * worker processes (which do not run atexit handlers) leave nothing in /tmp. Each copy is
 * written to a unique temporary name and renamed, so concurrent test processes never see half
 * a key. Static storage only: the leak checks (tests/plain) must see no allocation of ours. */
#define KEY_COPIES 16
static struct {
    char name[64];
    char path[512];
} key_copies[KEY_COPIES];
static unsigned n_key_copies;
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *private_key_locked(const char *name) {
    for (unsigned i = 0; i < n_key_copies; i++)
        if (strcmp(key_copies[i].name, name) == 0) return key_copies[i].path;
    if (n_key_copies == KEY_COPIES || strlen(name) >= sizeof key_copies[0].name) abort();
    if (mkdir(AOP_TEST_KEY_DIR, 0700) != 0 && errno != EEXIST) abort();
    char *path = key_copies[n_key_copies].path, tmp[600];
    snprintf(path, sizeof key_copies[0].path, "%s/%s", AOP_TEST_KEY_DIR, name);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    size_t len = 0;
    char *text = aop_test_read(name, &len);
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0 ||
        rename(tmp, path) != 0)
        abort();
    free(text);
    snprintf(key_copies[n_key_copies].name, sizeof key_copies[0].name, "%s", name);
    return key_copies[n_key_copies++].path;
}

const char *aop_test_private_key(const char *name) {
    pthread_mutex_lock(&key_lock); /* some suites load keys from several threads */
    const char *p = private_key_locked(name);
    pthread_mutex_unlock(&key_lock);
    return p;
}

long aop_test_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void aop_test_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

aop_offline_pay_request_t aop_test_pay_request(const char *merchant_trans_id, const char *amount, const char *code) {
    aop_offline_pay_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
    rq.body.code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
    rq.body.merchant_trans_id = aop_str(merchant_trans_id);
    rq.body.identity_code = aop_str(code);
    rq.body.order.order_amount.currency = aop_str("USD");
    rq.body.order.order_amount.value = aop_str(amount);
    rq.body.order.order_title = aop_str("test");
    return rq;
}

aop_client_t *aop_test_client(unsigned short port) {
    char url[64], alipay[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
    snprintf(alipay, sizeof alipay, "%s/gateway.spki.pem", AOP_TEST_DATA);
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = url;
    cfg.client_id = "211020000000000000044";
    cfg.merchant_id = "218820000000000000023";
    cfg.private_key_file = aop_test_private_key("merchant.pkcs8.pem");
    cfg.alipay_public_key_file = alipay;
    aop_client_t *c = NULL;
    aop_error_t err;
    if (aop_client_new(&cfg, &c, &err) != AOP_OK) {
        fprintf(stderr, "aop_test_client: %s\n", err.msg);
        abort();
    }
    return c;
}
