/* SPDX-License-Identifier: MIT */
/* Constants the two apps (the aop CLI and aop-sandbox) share, each defined here once: the demo
 * clientId, the exit statuses and the mapping of a result status to an exit status. The
 * sandbox's table shows the CLI's exit statuses, so they must never drift apart. */
#ifndef AOP_APPS_H
#define AOP_APPS_H

#include <sysexits.h>

/* The clientId of the demo setup: the CLI's default, and the one client a sandbox knows when
 * it is given none. */
#define AOP_APPS_DEFAULT_CLIENT_ID "211020000000000000044"

enum {
    AOP_EXIT_S = 0,               /* success (S), or a resolved payment: PAID */
    AOP_EXIT_F = 1,               /* failed (F), or resolved FAILED/CANCELLED */
    AOP_EXIT_U = 2,               /* unknown outcome (U), UNRESOLVED or NEEDS_ATTENTION */
    AOP_EXIT_USAGE = EX_USAGE,    /* 64: invalid usage or input, nothing sent */
    AOP_EXIT_CONFIG = EX_CONFIG,  /* 78: configuration, key or journal error, nothing sent */
    AOP_EXIT_INTERRUPTED = 130,   /* SIGINT (128 + 2): the entry stays open for aop recover */
};

/* The exit status of one call whose result status is 'S', 'F' or anything else (unknown). */
static inline int aop_exit_for_status(char status) {
    return status == 'S' ? AOP_EXIT_S : status == 'F' ? AOP_EXIT_F : AOP_EXIT_U;
}

#endif
