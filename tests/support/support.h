/* Small helpers shared by the test suites. */
#ifndef AOP_TEST_SUPPORT_H
#define AOP_TEST_SUPPORT_H
#include <stddef.h>

/* Reads AOP_TEST_DATA "/" name into a malloc'd, NUL-terminated buffer; aborts on failure. */
char *aop_test_read(const char *name, size_t *len);
/* Reads any path the same way. */
char *aop_test_read_path(const char *path, size_t *len);
#endif
