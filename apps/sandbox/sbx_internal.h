/* SPDX-License-Identifier: MIT */
/* Internal parts of aop-sandbox: the scenario table, the state store, the gateway logic (JSON in,
 * signed JSON out) and the HTTP server around it. */
#ifndef AOP_SBX_INTERNAL_H
#define AOP_SBX_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "aop/client.h"
#include "aop/util.h"
#include "aop/envelope.h"
#include "aop/model.h"
#include "aop/sign.h"
#include "aop/transport.h"
#include "aop/protocol.h"
#include "aop/signer.h"
#include "http_guard.h"
#include "sandbox.h"

#define SBX_DEFAULT_SETTLE_MS 3000u
#define SBX_DEFAULT_DELAY_MS 20000u
#define SBX_MAX_BODY AOP_JSON_MAX_BODY /* 1 MiB */

/* ---- scenarios ---------------------------------------------------------------------------- */

/* What the payment core does with a new payment of this scenario. */
typedef enum {
    SBX_ACT_PAY,           /* SUCCESS, recorded as SUCCESS */
    SBX_ACT_DECLINE,       /* an F code, recorded as CLOSED (an identical repeat gets it again) */
    SBX_ACT_REJECT,        /* refused before the payment core: nothing recorded */
    SBX_ACT_IN_PROCESS,    /* PAYMENT_IN_PROCESS, recorded as PAYING; settles after settle_ms */
    SBX_ACT_EXCEPTION,     /* UNKNOWN_EXCEPTION: recorded as CLOSED (not paid) */
} sbx_action_t;

/* What happens to the answer on its way out. */
typedef enum {
    SBX_FAULT_NONE,
    SBX_FAULT_DELAY,         /* held for delay_ms, past the client's deadline */
    SBX_FAULT_DROP,          /* connection closed without an answer */
    SBX_FAULT_BAD_SIGNATURE, /* one base64 character of a valid signature flipped */
    SBX_FAULT_HTTP_500,      /* HTTP 500 with a plain-text body */
    SBX_FAULT_TRUNCATE,      /* the full Content-Length announced, half of the body sent */
    SBX_FAULT_UNSIGNED,      /* the envelope carries no signature */
    SBX_FAULT_ECHO_MISMATCH, /* merchantTransId echoed with one character changed */
    SBX_FAULT_UNKNOWN_MEMBER,/* a correctly signed answer with a member the schema lacks */
} sbx_fault_t;

/* A fault of the later calls (payQuery or payCancel) of a payment made with the row's code: those
 * requests carry no identityCode, so the payment stores the row's tag and counts its calls. */
typedef struct {
    sbx_fault_t fault;        /* on the answer; HTTP 500 means the call changed nothing */
    const char *result_code;  /* answers this F code instead, changing nothing (NULL = none) */
    bool other_amount;        /* payQuery: reports orderAmount + 1 minor unit */
    unsigned times;           /* the first `times` calls of the payment are faulted, 0 = all */
} sbx_call_fault_t;

/* What the notifier does with the payment's notification (with --notify-url; docs/protocol.md
 * section 8): after the payment reaches SUCCESS or CLOSED it sends a signed notify.pay, again on
 * the schedule until a signed S / SUCCESS answer, unless the row says otherwise. */
typedef enum {
    SBX_NOTIFY_NORMAL,        /* the payment's fact, sent until answered S / SUCCESS */
    SBX_NOTIFY_TWICE,         /* ...and once more after that answer: a re-delivery */
    SBX_NOTIFY_LATE,          /* the first send not before notify_late_ms after the pay */
    SBX_NOTIFY_NEVER,         /* none */
    SBX_NOTIFY_BAD_SIGNATURE, /* every send's signature spoilt (one base64 character flipped) */
    SBX_NOTIFY_CONTRADICT,    /* the opposite of the payment's state: S SUCCESS for CLOSED, F for SUCCESS */
} sbx_notify_t;

/* What a resolving `aop pay` (the resolver of docs/resolver.md, under its default policy and the
 * sandbox's default switches) ends with. */
typedef enum {
    SBX_OUTCOME_UNDECLARED = 0, /* a row that forgot its outcome: the sandbox's tests fail on it */
    SBX_OUTCOME_PAID,
    SBX_OUTCOME_FAILED,
    SBX_OUTCOME_CANCELLED,
    SBX_OUTCOME_UNRESOLVED,
    SBX_OUTCOME_NEEDS_ATTENTION,
} sbx_outcome_t;

typedef struct {
    const char *identity_code;
    const char *result_code;  /* AOP_RC_*: what the pay answers (the decided code) */
    sbx_action_t action;
    int settle_to;            /* SBX_ACT_IN_PROCESS: AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS/CLOSED,
                                 0 = PAYING until cancelled */
    sbx_fault_t fault;        /* of the pay's answer */
    const char *behaviour;
    bool late;                /* a late pay: the payment appears delay_ms after the pay */
    const char *tag;          /* stored with the payment when query or cancel is faulted */
    sbx_call_fault_t query, cancel;
    const char *repeat_code;  /* an identical repeat of the pay answers this F code, changing
                                 nothing (NULL = the payment's current state) */
    /* What a resolving `aop pay` ends with, declared: the resolver's tests run every row and
     * check it (tests/unit/test_resolver.c; the notification rows tests/unit/test_sandbox_notify.c),
     * so the table is never a second copy of the rules. */
    sbx_outcome_t outcome;
    sbx_notify_t notify;      /* its notification (a row that sets it has a tag: the payment keeps it) */
} sbx_scenario_t;

/* The rows of the pay and of its later calls, and (4nnn) the rows of the notifications. */
extern const sbx_scenario_t sbx_scenarios[];
extern const unsigned sbx_n_scenarios;
extern const sbx_scenario_t sbx_notify_scenarios[];
extern const unsigned sbx_n_notify_scenarios;
/* The row of this identityCode in either table, or NULL (the code pays when it is well-formed). */
const sbx_scenario_t *sbx_scenario_find(const char *code, size_t len);
/* Row i of both tables, the pay's first (NULL past the end): the order --scenarios prints. */
const sbx_scenario_t *sbx_scenario_row(unsigned i);
/* The row whose tag a payment stored, or NULL. */
const sbx_scenario_t *sbx_scenario_by_tag(const char *tag);
/* The row as it plays under --no-faults: the pay's faults (and late recording) are gone, a row
 * that recorded nothing because of its fault pays; the business action stays. */
sbx_scenario_t sbx_scenario_without_faults(const sbx_scenario_t *sc);
/* True when the row faults later queries or cancels. */
bool sbx_call_fault_active(const sbx_call_fault_t *f);
/* An outcome's name, and its exit code (0 PAID, 1 FAILED or CANCELLED, 2 UNRESOLVED or
 * NEEDS_ATTENTION: the CLI's exit codes, apps/common/aop_apps.h). */
const char *sbx_outcome_name(sbx_outcome_t o);
int sbx_outcome_exit_code(sbx_outcome_t o);
/* The status `aop pay` reports for a row: 'S', 'F' or 'U'. */
char sbx_scenario_status(const sbx_scenario_t *sc);
/* The code shown in the table (NULL when the outcome is unknown to the client). */
const char *sbx_scenario_shown_code(const sbx_scenario_t *sc);
/* A well-formed wallet code: 16 to 24 ASCII digits. */
bool sbx_code_well_formed(const char *code, size_t len);

/* ---- state ---------------------------------------------------------------------------------- */

#define SBX_ID_MAX 256 /* bytes of an id of at most 64 UTF-16 units, plus NUL */

typedef struct {
    int64_t row;
    char merchant_id[SBX_ID_MAX];
    char merchant_trans_id[SBX_ID_MAX];
    char acquirement_id[SBX_ID_MAX];
    char code_hash[65];        /* salted SHA-256 of the identityCode (never stored itself) */
    char currency[4];
    uint64_t amount;
    int status;                /* aop_acquirement_status_enum_t */
    char result_code[65];      /* what a repeat pay answers while CLOSED/CANCELLED */
    int64_t settle_at_ms;      /* wall clock (unix ms) of the pending transition, 0 = none */
    int settle_to;
    int64_t created_ms;
    char create_time[32];
    char paid_time[32];        /* "" until paid */
    char cancel_time[32];      /* "" until cancelled */
    uint64_t refunded;
    char user_id[20];
    /* schema version 2 (NULL in rows made by version 1: read as "" and 0) */
    char scenario[32];         /* the tag of a row whose later calls are faulted */
    int64_t query_count;       /* payQuery and payCancel requests that found this payment */
    int64_t cancel_count;
    int64_t visible_at_ms;     /* a late pay: not visible before this time (0 = visible) */
} sbx_txn_t;

typedef struct {
    char merchant_id[SBX_ID_MAX];
    char merchant_refund_id[SBX_ID_MAX];
    char acquirement_id[SBX_ID_MAX];
    char refund_id[SBX_ID_MAX];
    char currency[4];
    uint64_t amount;
    char refund_time[32];
} sbx_refund_t;

enum { SBX_STMT_COUNT = 16 };

typedef struct {
    sqlite3 *db;
    pthread_mutex_t mu; /* one connection per sandbox, one state change at a time */
    char salt[40];      /* random per state file: identityCodes are stored as salted hashes */
    sqlite3_stmt *stmt[SBX_STMT_COUNT]; /* prepared once, used under mu */
    struct sbx_checkpointer *ckpt; /* the WAL's checkpoints, off the request path (NULL: in memory) */
} sbx_store_t;

aop_status_t sbx_store_open(sbx_store_t *st, const char *path, aop_error_t *err);
void sbx_store_close(sbx_store_t *st);
/* BEGIN IMMEDIATE (takes the mutex; waits up to the busy timeout for other processes). */
int sbx_store_begin(sbx_store_t *st);
int sbx_store_commit(sbx_store_t *st);   /* releases the mutex */
void sbx_store_rollback(sbx_store_t *st); /* releases the mutex */
/* 1 found, 0 not found, -1 error. */
int sbx_txn_by_trans_id(sbx_store_t *st, const char *merchant, const char *trans_id, sbx_txn_t *t);
int sbx_txn_by_acq_id(sbx_store_t *st, const char *merchant, const char *acq_id, sbx_txn_t *t);
/* 0 ok, 1 uniqueness conflict, -1 error. */
int sbx_txn_insert(sbx_store_t *st, sbx_txn_t *t);
int sbx_txn_update(sbx_store_t *st, const sbx_txn_t *t);
int sbx_txn_delete(sbx_store_t *st, int64_t row); /* 0 ok, -1 error */
/* Ids closed by a cancel before any pay used them: 1 closed, 0 not, -1 error. */
int sbx_closed_find(sbx_store_t *st, const char *merchant, const char *trans_id);
int sbx_closed_insert(sbx_store_t *st, const char *merchant, const char *trans_id, int64_t now_ms);
int sbx_refund_find(sbx_store_t *st, const char *merchant, const char *refund_id, sbx_refund_t *r);
int sbx_refund_insert(sbx_store_t *st, const sbx_refund_t *r);
int64_t sbx_store_count(sbx_store_t *st, const char *table); /* -1 on error */
const char *sbx_store_errmsg(sbx_store_t *st);

/* ---- the gateway ------------------------------------------------------------------------------ */

struct aop_sandbox {
    char **client_ids;
    unsigned n_client_ids;
    aop_sign_type_t sign_type;
    aop_private_key_t *key;
    aop_public_key_t *merchant_pub;
    sbx_store_t store;
    bool store_open;
    unsigned settle_ms, delay_ms;
    int64_t clock_offset_ms;
    bool no_faults;
    int request_log_fd;       /* -1 = none */
    FILE *log;
    pthread_mutex_t log_mu;
    struct MHD_Daemon *daemon;
    unsigned short port;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    struct sbx_server *server;       /* server.c: connection watchdog and held answers */
    struct sbx_crypto_pool *crypto;  /* crypto_pool.c: reused signers and verifiers */
    struct sbx_notifier *notifier;   /* notifier.c: the notifications, NULL without --notify-url */
};

typedef struct {
    unsigned http_status;     /* 200 for every JSON answer */
    aop_buf_t body;
    sbx_fault_t fault;        /* still to apply on the HTTP side: delay, drop, 500, truncate */
} sbx_reply_t;

/* Answers one request body for function fn (already matched by path, method and content
 * type). body is modified (unescaped in place). Never fails: reply->body holds a signed
 * envelope, or reply->http_status is 500 with a plain-text body. */
void sbx_handle(aop_sandbox_t *s, const aop_function_desc_t *fn, char *body, size_t len,
                sbx_reply_t *reply);
void sbx_reply_free(sbx_reply_t *reply);

/* Signers and verifiers of the sandbox's keys, made once and reused by request after request
 * (crypto_pool.c): the EVP set-up is not repeated per request. One taken is the caller's alone
 * until given back; take returns NULL (with err) when none can be made. */
aop_signer_t *sbx_signer_take(aop_sandbox_t *s, aop_error_t *err);
void sbx_signer_give(aop_sandbox_t *s, aop_signer_t *signer);
aop_verifier_t *sbx_verifier_take(aop_sandbox_t *s, aop_error_t *err);
void sbx_verifier_give(aop_sandbox_t *s, aop_verifier_t *verifier);
aop_status_t sbx_crypto_pool_new(aop_sandbox_t *s);
void sbx_crypto_pool_free(aop_sandbox_t *s);

/* The behaviour switches of cfg (clock offset, --no-faults, the request log) into s; the
 * server calls it while starting, and sbx_behaviour_free while freeing. */
aop_status_t sbx_behaviour_init(aop_sandbox_t *s, const aop_sandbox_config_t *cfg, aop_error_t *err);
void sbx_behaviour_free(aop_sandbox_t *s);

/* The request log (no-op without one): one JSON line {function, merchantTransId, acquirementId,
 * time, resultStatus, resultCode}; NULL values are written as null. */
typedef struct {
    const char *function, *merchant_trans_id, *acquirement_id, *result_status, *result_code;
    int64_t time_ms;
} sbx_reqlog_entry_t;
void sbx_reqlog_write(aop_sandbox_t *s, const sbx_reqlog_entry_t *e);

/* Logging (no-ops when s->log is NULL; log.c): one line, prefixed with the time, written with
 * one call; control characters and invalid UTF-8 of the formatted text become '?'
 * (aop_terminal_safe), so no logged value can start a line of its own. */
void sbx_log(aop_sandbox_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The notifications (notifier.c; docs/protocol.md section 8). start: NULL notify_url starts
 * nothing; a bad URL or schedule is AOP_E_CONFIG. notify_payment: t was committed by a request of
 * client_id; its notification is queued when t is final (SUCCESS, CLOSED) or has a timer that
 * will make it so (a pending one is not queued twice). stop: prompt, even during a send. */
aop_status_t sbx_notifier_start(aop_sandbox_t *s, const aop_sandbox_config_t *cfg, aop_error_t *err);
void sbx_notify_payment(aop_sandbox_t *s, const sbx_txn_t *t, aop_str_t client_id);
void sbx_notifier_stop(aop_sandbox_t *s);

/* The HTTP server's guard counters (server.c): connections accepted, cut late, evicted, refused. */
void sbx_server_stats(aop_sandbox_t *s, hguard_stats_t *out);

/* The payment's rules the gateway and the notifier share (gateway.c): a due timer applied (wall
 * clock, so a restart does not lose it; true when t changed), and whether a late pay is still
 * hidden (nobody but a repeat of the pay may see it before its time). */
bool sbx_settle(sbx_txn_t *t, int64_t now_ms);
bool sbx_hidden(const sbx_txn_t *t, int64_t now_ms);
/* Flips one base64 character of the signature of a written envelope (the bad-signature faults). */
void sbx_spoil_signature(aop_buf_t *envelope, const aop_envelope_layout_t *lay);

/* Helpers. */
int64_t sbx_now_ms(void);
int64_t sbx_clock_ms(const aop_sandbox_t *s); /* the gateway's clock: now + clock offset */
void sbx_rfc3339(int64_t unix_ms, char out[32]); /* local offset, like aop_now_rfc3339 */
bool sbx_parse_amount(const char *s, size_t n, uint64_t *out);
void sbx_cstr(aop_str_t v, char *out, size_t cap); /* v as a C string, cut to cap - 1 bytes */
/* What an answer and a notification of a paid transaction say of its amounts: order and pay
 * amount, and a rate of 1 in its currency (texts in amount and pair, the caller's). */
void sbx_paid_amounts(const sbx_txn_t *t, char amount[24], char pair[16], aop_money_t *order, aop_money_t *pay,
                      aop_exchange_rate_t *rate);

#endif
