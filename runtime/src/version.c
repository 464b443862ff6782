/* SPDX-License-Identifier: MIT */
/* aop_version(): the version the library was built as (aop/version.h). */
#include "aop/version.h"

#define AOP_STR2(x) #x
#define AOP_STR(x) AOP_STR2(x)

const char *aop_version(void) {
    return AOP_STR(AOP_VERSION_MAJOR) "." AOP_STR(AOP_VERSION_MINOR) "." AOP_STR(AOP_VERSION_PATCH);
}
