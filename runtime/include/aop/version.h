/* SPDX-License-Identifier: MIT */
/** @file
 * The library's version. The build reads the project version from this header (the single
 * source of truth); aop_version() returns the version of the library actually linked, which a
 * program compares with AOP_VERSION_MAJOR when it loads libaop.so.MAJOR at run time. */
#ifndef AOP_VERSION_H
#define AOP_VERSION_H

#include "aop/export.h"

/** The major version: an incompatible ABI change bumps it (and the SONAME, libaop.so.N). */
#define AOP_VERSION_MAJOR 1
/** The minor version: additions that keep the ABI. */
#define AOP_VERSION_MINOR 0
/** The patch version: fixes only. */
#define AOP_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/** The version of the linked library as "MAJOR.MINOR.PATCH" (a static string; never NULL). */
AOP_API const char *aop_version(void);

#ifdef __cplusplus
}
#endif

#endif
