/* SPDX-License-Identifier: MIT */
/* Counts heap allocations by interposing the allocator in the executable: the dynamic linker
 * binds every malloc/calloc/realloc/free of the process (libcjson, libjansson, libc, our code)
 * to these definitions, which count and forward to glibc's own entry points. Compiled with
 * -fno-builtin so the compiler cannot turn them into something else. */
#include <stddef.h>

#include "bench.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

unsigned long bench_allocs;
unsigned long bench_frees;

void *malloc(size_t n) {
    bench_allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
    bench_allocs++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
    bench_allocs++;
    return __libc_realloc(p, n);
}

void free(void *p) {
    if (p) bench_frees++;
    __libc_free(p);
}
