/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the test suites. */
#ifndef AOP_TEST_SUPPORT_H
#define AOP_TEST_SUPPORT_H
#include <stddef.h>

#include "aop/client.h"

/* Reads AOP_TEST_DATA "/" name into a malloc'd, NUL-terminated buffer; aborts on failure. */
char *aop_test_read(const char *name, size_t *len);
/* Reads any path the same way. */
char *aop_test_read_path(const char *path, size_t *len);

/* The path of a copy of AOP_TEST_DATA "/" name with mode 0600, for the private keys: git checks
 * tests/data out with mode 0644, which the key loaders refuse for a private key of ours. The
 * copy is in AOP_TEST_KEY_DIR (in the build tree). Aborts on failure. */
const char *aop_test_private_key(const char *name);

/* A pay request (USD, product and code type set); its views point at the arguments. */
aop_offline_pay_request_t aop_test_pay_request(const char *merchant_trans_id, const char *amount, const char *code);
/* A client of a local gateway on 127.0.0.1:port with the demo clientId and merchantId and the
 * test keys; asserts nothing, aborts when it cannot be made. */
aop_client_t *aop_test_client(unsigned short port);

/* Milliseconds on CLOCK_MONOTONIC, for the tests' own timings and bounds. */
long aop_test_mono_ms(void);
/* Sleeps ms milliseconds (resumed after a signal). */
void aop_test_sleep_ms(long ms);
#endif
