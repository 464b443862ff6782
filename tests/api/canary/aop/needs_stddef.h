/* SPDX-License-Identifier: MIT */
/* Canary of check_headers.sh: not self-contained (size_t without <stddef.h>), so the check must
 * fail on it. */
#ifndef AOP_NEEDS_STDDEF_H
#define AOP_NEEDS_STDDEF_H
size_t aop_canary(void);
#endif
