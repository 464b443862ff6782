/* SPDX-License-Identifier: MIT */
/* aop-sandbox: a local gateway on 127.0.0.1 that behaves like the vendor's, built from the same
 * generated model as the client (paths, codecs, echo tables, result codes). It decodes and
 * validates requests strictly, verifies their signatures, keeps per-merchantTransId state in
 * SQLite, answers with signed envelopes and plays the scenarios of its table (chosen by the
 * request's identityCode: declines, in-process payments with timers, transport faults).
 *
 * Thread safety: aop_sandbox_start/stop are called by one thread; the gateway serves its
 * connections on a pool of threads (held answers take none). Several sandboxes (in this process or in others) may share one
 * state file. */
#ifndef AOP_SANDBOX_H
#define AOP_SANDBOX_H

#include <stdbool.h>
#include <stdio.h>

#include "aop/error.h"
#include "aop/sign.h"
/* By its path from here, so a program that includes sandbox.h needs no other include dir. */
#include "../common/aop_apps.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one clientId a sandbox knows when the configuration names none: the CLI's default (the
 * value lives in aop_apps.h, shared with the CLI). */
#define AOP_SANDBOX_DEFAULT_CLIENT_ID AOP_APPS_DEFAULT_CLIENT_ID

typedef struct {
    unsigned short port;              /* 0 = a free port */
    const char *state_path;           /* SQLite file; NULL = in memory */
    const char *key_file;             /* the gateway's signing private key (PEM) */
    const char *merchant_public_key_file; /* verifies request signatures */
    const char *const *client_ids;    /* known clients; n_client_ids 0 = the default above */
    unsigned n_client_ids;
    aop_sign_type_t sign_type;
    FILE *log;                        /* NULL = quiet; never logs identityCode unmasked, keys or
                                         signatures */
    /* Test knobs (0 = the defaults of the scenario table): how long an in-process payment
     * stays PAYING, and how long the "delayed" scenario holds its answer. */
    unsigned settle_ms;               /* default 3000 (--in-process-seconds) */
    unsigned delay_ms;                /* default 20000, past the pay deadline of 15 s: held
                                         answers and late pays (--delay-seconds) */
    /* Seconds added to the gateway's clock (--clock-offset): every time it records or compares
     * (createTime, timers, the cancel window) is now + offset. Tests move it to a window edge. */
    long long clock_offset_s;
    /* Stops the transport and protocol faults of every row (the pay's and those of later
     * queries and cancels); the business state stays as stored (--no-faults). */
    bool no_faults;
    /* JSON lines, one per answered request, appended (created 0600); NULL = none. */
    const char *request_log;
    /* Alipay's notifications (docs/protocol.md section 8): once a payment reaches SUCCESS or
     * CLOSED, a signed notify.pay is POSTed to notify_url (https, or http to a loopback host) and
     * sent again after each wait of the schedule until the merchant's signed S / SUCCESS answer
     * (--notify-url, --notify-schedule, --notify-late-seconds). NULL = none. */
    const char *notify_url;
    const unsigned *notify_schedule_ms; /* the waits between sends, ms; none = the vendor's / 60 */
    unsigned n_notify_schedule;         /* at most SBX_NOTIFY_SCHEDULE_MAX */
    unsigned notify_late_ms;            /* the late row's first send after the pay; 0 = 90 s */
    /* Connections kept at once (0 = 1,000, lowered under the descriptor limit); beyond it a new
     * connection evicts the one longest without a request (apps/common/http_guard.h). Tests
     * scale a reconnect storm down with it. */
    unsigned max_connections;
} aop_sandbox_config_t;

/* The most waits a notification schedule has (the vendor's has 7: 8 sends). */
#define SBX_NOTIFY_SCHEDULE_MAX 16

typedef struct aop_sandbox aop_sandbox_t;

/* Loads the keys, opens the state and starts serving. Errors: AOP_E_CONFIG (bad setting,
 * state file, port in use), key errors (AOP_E_KEY_*, AOP_E_IO), AOP_E_NOMEM. */
aop_status_t aop_sandbox_start(const aop_sandbox_config_t *cfg, aop_sandbox_t **out, aop_error_t *err);
unsigned short aop_sandbox_port(const aop_sandbox_t *s);
/* Stops serving and frees everything; prompt even while a "delayed" answer is being held
 * (that connection is dropped). NULL is a no-op. */
void aop_sandbox_stop(aop_sandbox_t *s);

/* The aop-sandbox command line (`aop sandbox` calls it too): runs until SIGINT or SIGTERM.
 * Exit status: 0, 64 for invalid usage, 78 for configuration and key errors. */
int aop_sandbox_main(int argc, char **argv);

/* The scenario table as a JSON array of {identityCode, status, resultCode, exitCode, outcome,
 * resolvedExitCode, behaviour}.
 * Returns 0, or -1 when writing failed. */
int aop_sandbox_print_scenarios_json(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
