/* SPDX-License-Identifier: MIT */
/** @file
 * Small helpers of the runtime that the apps use too: request ids, timestamps, masking of
 * secrets and terminal-safe text. They depend on nothing above them. */
#ifndef AOP_UTIL_H
#define AOP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "aop/error.h"
#include "aop/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Size of a buffer for aop_uuid(): 36 characters and the NUL. */
#define AOP_UUID_SIZE 37
/** Size of a buffer for aop_rfc3339() ("2026-11-25T21:55:34+08:00" and the NUL, with room). */
#define AOP_RFC3339_SIZE 32

/** A fresh random UUID (version 4) in lower-case hex; AOP_E_CRYPTO when no random bytes. */
AOP_API AOP_NODISCARD aop_status_t aop_uuid(char out[AOP_UUID_SIZE]);
/** Fills out[0..n) with n characters drawn uniformly from alphabet (1 to 255 characters) with
 * the kernel's random generator (getrandom), and NUL-terminates it (out holds n + 1 bytes). Ids
 * built from it never fall back to a weaker generator: AOP_E_CRYPTO when the generator fails,
 * AOP_E_INVALID_ARG for a bad alphabet. */
AOP_API AOP_NODISCARD aop_status_t aop_random_chars(char *out, size_t n, const char *alphabet);
/** Now as Unix time in milliseconds (CLOCK_REALTIME). */
AOP_API int64_t aop_now_ms(void);
/** Now as RFC 3339 with the local UTC offset. */
AOP_API void aop_now_rfc3339(char out[AOP_RFC3339_SIZE]);
/** The time t as RFC 3339 with the local UTC offset. */
AOP_API void aop_rfc3339(time_t t, char out[AOP_RFC3339_SIZE]);
/** Masks a secret for logs: keeps at most the first 2 and last 2 characters of a value of 8 or
 * more characters (never cutting a UTF-8 character); always NUL-terminates within cap. */
AOP_API void aop_mask(const char *s, size_t n, char *out, size_t cap);
/** Copies s[0..n) for a terminal: every control character (C0, DEL and C1) and every invalid
 * UTF-8 byte becomes '?', so text from the network cannot move the cursor or change colours.
 * Always NUL-terminates within cap; returns the length written. */
AOP_API size_t aop_terminal_safe(const char *s, size_t n, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
