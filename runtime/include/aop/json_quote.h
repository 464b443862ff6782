/* SPDX-License-Identifier: MIT */
/** @file
 * Writing a JSON string: the one escaper of the library (the model's encoder uses it), for a
 * program that writes JSON of its own beside the model's, such as a report or a log line. */
#ifndef AOP_JSON_QUOTE_H
#define AOP_JSON_QUOTE_H

#include <stddef.h>
#include <stdio.h>
#include "aop/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Writes s[0..n) as a quoted JSON string into out[0..cap) and returns the length of the whole
 * quoted text, like snprintf but without a terminating NUL: when the result exceeds cap, only its
 * first cap bytes were written (aop_json_quote(s, n, NULL, 0) measures it). '"', '\\', every byte
 * below 0x20 and DEL (0x7F) are escaped, so the text is also safe to show on a terminal; the
 * other bytes are copied as they are, so s must be valid UTF-8 for the result to be valid JSON. */
AOP_API size_t aop_json_quote(const char *s, size_t n, char *out, size_t cap);

/** Writes s[0..n) to f as a quoted JSON string for a reader (a report, a log line), or the
 * literal null when s is NULL: escaped as aop_json_quote() does, and also the C1 controls
 * (U+0080-U+009F, which terminals obey) as `\\u0080` to `\\u009f`, and every byte that is not
 * valid UTF-8 written as `\\ufffd`, so the output is always valid JSON whatever s holds. Returns 0, or -1
 * when out of memory or when writing failed. */
AOP_API int aop_json_fquote(FILE *f, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
