/* SPDX-License-Identifier: MIT */
/* UTF-8, one character at a time: the one decoder of the runtime's writers (util.c's terminal
 * filter, model_walk.c's report quoting). */
#ifndef AOP_UTF8_INTERNAL_H
#define AOP_UTF8_INTERNAL_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s[0..n) (1 to 4) and its code point, or 0 when the bytes
 * there are not one: overlong forms, surrogates and code points above U+10FFFF are not. */
size_t aop_internal_utf8_char(const unsigned char *s, size_t n, unsigned long *cp);

#endif
