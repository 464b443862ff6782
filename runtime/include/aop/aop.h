/* SPDX-License-Identifier: MIT */
/** @file
 * The whole public API of libaop in one include. */
#ifndef AOP_AOP_H
#define AOP_AOP_H

#include "aop/calls.h"
#include "aop/client.h"
#include "aop/error.h"
#include "aop/journal.h"
#include "aop/json.h"
#include "aop/json_quote.h"
#include "aop/model.h"
#include "aop/notify.h"
#include "aop/protocol.h"
#include "aop/resolver.h"
#include "aop/sign.h"
#include "aop/transport.h"
#include "aop/types.h"
#include "aop/util.h"
#include "aop/version.h"

#endif
