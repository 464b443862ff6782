/* SPDX-License-Identifier: MIT */
/** @file
 * Symbol visibility and attributes of the public API. The library is built with hidden
 * visibility: only declarations marked AOP_API are exported from the shared object. */
#ifndef AOP_EXPORT_H
#define AOP_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
/** Marks a function of the documented API (exported from libaop.so). */
#define AOP_API __attribute__((visibility("default")))
/** The result must be used: ignoring it loses an error. */
#define AOP_NODISCARD __attribute__((warn_unused_result))
/** printf-style checking of a format argument. */
#define AOP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
/** Marks a function of the documented API (no attribute on this compiler). */
#define AOP_API
/** The result must be used (no attribute on this compiler). */
#define AOP_NODISCARD
/** printf-style checking (no attribute on this compiler). */
#define AOP_PRINTF(fmt, args)
#endif

#endif
