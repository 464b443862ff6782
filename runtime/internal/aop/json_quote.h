/* The runtime's one JSON string escaper, for the apps that write JSON beside the model (the
 * sandbox's scenario table and request log). The model encoder uses the same code. */
#ifndef AOP_JSON_QUOTE_H
#define AOP_JSON_QUOTE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes s[0..n) as a quoted JSON string ('"', '\\' and bytes below 0x20 escaped) into
 * out[0..cap) and returns the length of the whole quoted text, like snprintf but without a
 * NUL: when the result exceeds cap, only its first cap bytes were written. The bytes are
 * copied as they are otherwise, so s must be valid UTF-8 for the result to be valid JSON. */
size_t aop_json_quote(const char *s, size_t n, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
