/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the test suites. */
#ifndef AOP_TEST_SUPPORT_H
#define AOP_TEST_SUPPORT_H
#include <stddef.h>

/* Reads AOP_TEST_DATA "/" name into a malloc'd, NUL-terminated buffer; aborts on failure. */
char *aop_test_read(const char *name, size_t *len);
/* Reads any path the same way. */
char *aop_test_read_path(const char *path, size_t *len);

/* The path of a copy of AOP_TEST_DATA "/" name with mode 0600, for the private keys: git checks
 * tests/data out with mode 0644, which the key loaders refuse for a private key of ours. The
 * copy is in AOP_TEST_KEY_DIR (in the build tree). Aborts on failure. */
const char *aop_test_private_key(const char *name);
#endif
