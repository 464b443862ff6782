#include "support.h"

#include <stdio.h>
#include <stdlib.h>

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
