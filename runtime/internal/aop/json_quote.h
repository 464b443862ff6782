/* The runtime's one JSON string escaper, for the apps that write JSON beside the model (the
 * sandbox's scenario table and request log, the CLI's --json report). The model encoder uses
 * the same code. */
#ifndef AOP_JSON_QUOTE_H
#define AOP_JSON_QUOTE_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes s[0..n) as a quoted JSON string ('"', '\\', bytes below 0x20 and DEL escaped) into
 * out[0..cap) and returns the length of the whole quoted text, like snprintf but without a
 * NUL: when the result exceeds cap, only its first cap bytes were written. The bytes are
 * copied as they are otherwise, so s must be valid UTF-8 for the result to be valid JSON. */
size_t aop_json_quote(const char *s, size_t n, char *out, size_t cap);

/* Writes s[0..n) quoted as above to f, or null when s is NULL. 0, or -1 when out of memory or
 * when writing failed. */
int aop_json_fquote(FILE *f, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
