/* SPDX-License-Identifier: MIT */
/** @file
 * Basic types of the model: length-delimited string views. */
#ifndef AOP_TYPES_H
#define AOP_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A view of UTF-8 text owned by someone else. ptr == NULL means absent; a non-NULL ptr with
 * len == 0 is the empty string, so absent and empty stay distinguishable. */
typedef struct {
    const char *ptr; /**< the first byte, or NULL when absent */
    size_t len;      /**< length in bytes */
} aop_str_t;

/** The absent string. */
#define AOP_STR_NULL ((aop_str_t){NULL, 0})

/** A view of a NUL-terminated C string (NULL stays absent). */
static inline aop_str_t aop_str(const char *s) {
    aop_str_t v = {s, s ? strlen(s) : 0};
    return v;
}

/** A view of s[0..n). */
static inline aop_str_t aop_strn(const char *s, size_t n) {
    aop_str_t v = {s, n};
    return v;
}

/** Whether s is present (possibly empty). */
static inline bool aop_str_present(aop_str_t s) { return s.ptr != NULL; }

/** Whether a and b are both absent, or both present with the same bytes. */
static inline bool aop_str_eq(aop_str_t a, aop_str_t b) {
    if (a.ptr == NULL || b.ptr == NULL) return a.ptr == b.ptr;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/** Whether a is present and holds the bytes of s. */
static inline bool aop_str_eq_cstr(aop_str_t a, const char *s) {
    return a.ptr != NULL && a.len == strlen(s) && memcmp(a.ptr, s, a.len) == 0;
}

/** The storage of every enum-typed field: the typed value (0 = unknown) and the text as
 * received or as it will be written. A received value the schema does not know keeps
 * value 0 and its text. Absent = value 0 and text.ptr == NULL. */
typedef struct {
    int value;      /**< the enum's value, 0 when unknown or absent */
    aop_str_t text; /**< the text; ptr NULL when absent */
} aop_enum_val_t;

#ifdef __cplusplus
}
#endif
#endif
