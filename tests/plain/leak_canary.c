/* SPDX-License-Identifier: MIT */
/* A deliberate leak: proves that the leak check of client_leaks (valgrind, or LeakSanitizer in
 * the sanitizer build) fails a program that loses memory. Registered with WILL_FAIL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile g_sink;

__attribute__((noinline)) static void lose_blocks(void) {
    for (int i = 0; i < 8; i++) {
        g_sink = malloc(64);
        if (g_sink) memset(g_sink, 'x', 64);
    }
    g_sink = NULL; /* the last pointer to each block is gone: definitely lost */
}

/* Overwrites the stack and registers the leaked pointers may linger in. */
__attribute__((noinline)) static void scrub_stack(void) {
    volatile char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = 0;
}

int main(void) {
    lose_blocks();
    scrub_stack();
    puts("leak_canary: lost 8 blocks of 64 bytes on purpose");
    return 0;
}
