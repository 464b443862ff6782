/* SPDX-License-Identifier: MIT */
/** @file
 * The resolver: carries a payment (or a refund) to a known outcome through the rows of
 * docs/resolver.md (pay; on an unknown outcome query, then cancel), journaling every step
 * first (aop/journal.h), so that a terminal killed at any moment leaves an entry that
 * aop_recover() finishes. A payment whose outcome is unknown is never reported as failed.
 *
 * Threads: one client per thread; a journal handle may be shared by threads (aop/journal.h),
 * though one per thread writes in parallel where the store can. Callbacks run on the caller's
 * thread and must not call back into the resolver.
 *
 * Time: every wait, budget and deadline, and the cancel moment, are measured on the monotonic
 * clock; a resume or a recovery measures the time since the journaled pay on the boot clock on
 * the same boot (aop/journal.h, "Time"). A step of the wall clock moves none of them. */
#ifndef AOP_RESOLVER_H
#define AOP_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>
#include "aop/client.h"
#include "aop/export.h"
#include "aop/journal.h"
#include "aop/notify.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How a payment or refund ended. The numbers never change. */
typedef enum {
    AOP_OUTCOME_PAID = 1,            /**< the payment stands */
    AOP_OUTCOME_FAILED = 2,          /**< money not taken (or the refund refused on its first send) */
    AOP_OUTCOME_CANCELLED = 3,       /**< closed or reversed by our cancel */
    AOP_OUTCOME_REFUNDED = 4,        /**< the refund is done */
    AOP_OUTCOME_UNRESOLVED = 5,      /**< unknown for now: the entry stays open, aop_recover() finishes it */
    AOP_OUTCOME_NEEDS_ATTENTION = 6  /**< the gateway's answers contradict each other: a person decides */
} aop_outcome_t;

/** "PAID", "FAILED", ...; "?" for a number that is no outcome. */
AOP_API const char *aop_outcome_name(aop_outcome_t o);
/** False only for UNRESOLVED and NEEDS_ATTENTION. */
AOP_API bool aop_outcome_known(aop_outcome_t o);

/** The resolver's timing, in seconds (fractions allowed). Fill with aop_policy_init(). */
typedef struct {
    size_t struct_size;     /**< set by aop_policy_init(); do not change */
    double first_poll_s;    /**< before the first query (default 3) */
    double poll_interval_s; /**< between queries that say "not yet" (default 5) */
    double query_budget_s;  /**< querying stops this long after the pay (default 60) */
    double cancel_margin_s; /**< no cancel before the last pay's start + its deadline + this (default 10) */
    double cancel_budget_s; /**< cancelling stops this long after it began (default 60) */
    double backoff_min_s;   /**< retry back-off after a failed call: from this (default 1) ... */
    double backoff_max_s;   /**< ... doubling up to this (default 8) */
    double watch_window_s;  /**< a FAILED/CANCELLED payment never acknowledged is queried once
                                 more after this (default 180, the wallet codes' lifetime) */
    double refund_budget_s; /**< an undecided refund is re-sent identically within this (default 60) */
    long deadline_ms;       /**< each single call's deadline; 0 = the function's default */
} aop_policy_t;

/** Sets the defaults above (and struct_size). */
AOP_API void aop_policy_init(aop_policy_t *p);

/** What the resolver does next, for a cashier's display. */
typedef enum {
    AOP_PHASE_SENDING = 1,          /**< "sending the payment" */
    AOP_PHASE_WAITING_CUSTOMER = 2, /**< "waiting for the customer to confirm" */
    AOP_PHASE_CHECKING = 3,         /**< "checking the payment" */
    AOP_PHASE_REVERSING = 4,        /**< "reversing" */
    AOP_PHASE_DONE = 5              /**< the outcome is known (or left to recovery) */
} aop_phase_t;

/** The cashier's text of a phase. */
AOP_API const char *aop_phase_text(aop_phase_t p);

/** One call the resolver made. */
typedef struct {
    const aop_function_desc_t *function; /**< pay, payQuery, payCancel or refund */
    char status;                          /**< 'S', 'F' or 'U' as the client judged the call */
    bool decided;                         /**< the answer passed verification (docs/protocol.md section 7) */
    aop_status_t error;                   /**< why it was undecided, or AOP_OK */
    char result_code[AOP_JOURNAL_ID_SIZE];           /**< as claimed, or "" */
    char acquirement_status[AOP_JOURNAL_STATUS_SIZE]; /**< payQuery: the raw status text, or "" */
    long latency_ms;                      /**< of the HTTP exchange */
    long http_status;                     /**< 0 when no HTTP answer */
    int64_t at_ms;                        /**< when the call started (Unix ms) */
} aop_step_t;

/** Called after each step (step is NULL before the first) with what comes next. */
typedef void (*aop_progress_fn)(const aop_step_t *step, aop_phase_t next, void *ctx);

/** Options of one resolution. Fill with aop_resolve_options_init(), or pass NULL. */
typedef struct {
    size_t struct_size;          /**< set by aop_resolve_options_init(); do not change */
    aop_policy_t policy;         /**< timing */
    aop_progress_fn on_progress; /**< optional */
    void *progress_ctx;          /**< passed to on_progress */
    /** Set to non-zero (e.g. from a signal handler) when the cashier aborts: the payment goes to
     * cancel at the earliest allowed moment (never before the cancel margin). */
    const volatile int *abort_flag;
    /** Set to non-zero to stop at once (SIGINT, SIGTERM): a call in flight is abandoned within
     * 0.5 s (it may have left), the entry stays open, its lease is released, and the outcome is
     * UNRESOLVED with `interrupted`. */
    const volatile int *stop_flag;
    /** One call only (`aop pay --no-resolve`, `aop refund --no-resolve`): journaled as usual;
     * the entry is closed when the call decides and stays open (for aop_recover) when it does not. */
    bool single_call;
    /* Appended after the members above, whose layout does not change. */
    /** Optional: called by aop_recover() when it takes up an entry (before any call), with the
     * entry's place among the entries of its gateway identity it listed (index from 1 to total)
     * and progress_ctx. */
    void (*on_entry)(const aop_journal_entry_t *e, unsigned index, unsigned total, void *ctx);
    /** Recovery takes only the entries whose next attempt is due (docs/resolver.md, rows D): an
     * entry left UNRESOLVED is asked again 1 min later, then 2, 4... up to 1 h. For a recovery
     * worker that runs often; false (the default) takes every open entry at once. */
    bool due_only;
    /** Set to non-zero to stop between calls (a service's first SIGTERM): the call in flight
     * finishes within its deadline, no other call starts, the entry stays open with its lease
     * released (UNRESOLVED with `interrupted`), and aop_recover() claims nothing more. */
    const volatile int *finish_flag;
} aop_resolve_options_t;

/** Sets the defaults (and struct_size). */
AOP_API void aop_resolve_options_init(aop_resolve_options_t *o);

/** A configuration mistake the resolver recognised in the answers (docs/resolver.md, rows P11,
 * Q3, C1): the outcome stays what the rows say, and the reason names the setting to check. */
typedef enum {
    AOP_MISTAKE_NONE = 0,
    AOP_MISTAKE_UNVERIFIED = 1, /**< the pay's and a query's answers fail verification the same way
                                     (HTTP 200): the sign type or Alipay's public key */
    AOP_MISTAKE_PATH = 2,       /**< the pay and a query got HTTP 404 or 405: the gateway URL's path */
    AOP_MISTAKE_CREDENTIAL = 3  /**< a verified refusal of the credential class (UNKNOWN_CLIENT,
                                     KEY_NO_FOUND...): the clientId or the keys */
} aop_mistake_t;

/** The outcome of a payment or a refund and how it was reached. Owns its memory. */
typedef struct {
    aop_outcome_t outcome;                 /**< how it ended */
    const aop_function_desc_t *decided_by; /**< the function of the deciding step, or NULL */
    /** The deciding call's result (the last call's when nothing decided; NULL when nothing was
     * sent). Its views stay valid until aop_resolution_free(). */
    aop_result_t *result;
    char key[AOP_JOURNAL_ID_SIZE];            /**< merchantTransId (payment) or merchantRefundId */
    char acquirement_id[AOP_JOURNAL_ID_SIZE]; /**< the payment's, when trusted; or "" */
    char acquirement_status[AOP_JOURNAL_STATUS_SIZE]; /**< as the deciding query read it, raw */
    char reason[AOP_ERROR_MSG_MAX];           /**< for UNRESOLVED / NEEDS_ATTENTION, and notes
                                                   such as "cancel refused; the payment stands" */
    int64_t entry_id;                         /**< the journal entry */
    bool taken_over;                          /**< another process took the entry over: report
                                                   nothing of this step's outcome */
    bool interrupted;                         /**< stop_flag ended it; the entry is open */
    bool watch;                               /**< a late query is due (see aop_policy_t) */
    bool late_paid;                           /**< recovery found a payment reported FAILED or
                                                   CANCELLED paid after all: refund it if the sale
                                                   was not completed */
    unsigned n_steps;                         /**< calls made */
    aop_step_t *steps;                        /**< in order */
    aop_entry_kind_t kind;                    /**< payment or refund: says whether key is a
                                                   merchantTransId or a merchantRefundId */
    /* Appended after the members above, whose layout does not change. */
    char row[8];                              /**< the row of docs/resolver.md that ended it
                                                   ("P8", "Q8", ...), or "" */
    aop_mistake_t mistake;                    /**< a configuration mistake the answers show, or NONE */
    long mistake_http_status;                 /**< its HTTP status (200, 404, 405), or 0 */
    aop_status_t mistake_error;               /**< its verification error (AOP_E_SIGNATURE_INVALID...) */
} aop_resolution_t;

/** Frees r (NULL is fine). */
AOP_API void aop_resolution_free(aop_resolution_t *r);

/** Pays and resolves. The entry is committed to the journal before the pay leaves: when that
 * fails nothing is sent (AOP_E_JOURNAL). A request that breaks a rule returns its status with
 * *out NULL (nothing sent, nothing journaled). Otherwise AOP_OK with *out set, whatever the
 * outcome. A merchantTransId already in the journal with another amount or currency is sent as
 * asked (the gateway decides) and never alters the existing entry. */
AOP_API AOP_NODISCARD aop_status_t aop_pay_resolve(aop_client_t *c, aop_journal_t *j,
                                                   const aop_offline_pay_request_t *req,
                                                   const aop_resolve_options_t *opts,
                                                   aop_resolution_t **out, aop_error_t *err);

/** Refunds and resolves: an undecided refund is re-sent identically (same merchantRefundId)
 * within the refund budget; never a payCancel. AOP_E_ENTRY_OPEN while the payment's own entry
 * is open (not with single_call, which refuses nothing: the gateway decides). */
AOP_API AOP_NODISCARD aop_status_t aop_refund_resolve(aop_client_t *c, aop_journal_t *j,
                                                      const aop_refund_request_t *req,
                                                      const aop_resolve_options_t *opts,
                                                      aop_resolution_t **out, aop_error_t *err);

/** Called by aop_recover() for each open entry: r is NULL when the entry was skipped (another
 * gateway identity, or leased by a live owner: aop_journal_lease_held() tells which). An entry
 * that could not be claimed for a storage error, and a row that cannot be read (e->unreadable,
 * only its id known), come with an UNRESOLVED resolution whose reason says why; an entry whose MAC
 * does not verify ends NEEDS_ATTENTION without a call. */
typedef void (*aop_recover_fn)(const aop_journal_entry_t *e, const aop_resolution_t *r, void *ctx);

/** What one recovery found (aop_recover_ex()). */
typedef struct {
    size_t struct_size; /**< set by aop_recover_summary_init(); do not change */
    unsigned worked;    /**< entries claimed and worked on (due watch queries included) */
    /** Entries of this identity still open afterwards that nobody works on: left unresolved,
     * or kept from this recovery by a storage error. Zero means nothing is left to do here. */
    unsigned open_left;
    /** Open entries a live process holds (its lease): being finished by it, not counted in
     * open_left. */
    unsigned held;
} aop_recover_summary_t;

/** Sets the summary's members to zero and its struct_size. */
AOP_API void aop_recover_summary_init(aop_recover_summary_t *s);

/** Resolves every open entry of the client's gateway identity (payments by query then cancel,
 * never by pay; refunds by identical re-send), using each entry's own merchantId, and runs the
 * watch queries that are due. *open_left (may be NULL) gets aop_recover_summary_t::open_left:
 * the entries of this identity still open afterwards, not counting those live processes hold. */
AOP_API AOP_NODISCARD aop_status_t aop_recover(aop_client_t *c, aop_journal_t *j,
                                               const aop_resolve_options_t *opts, aop_recover_fn fn,
                                               void *ctx, unsigned *open_left, aop_error_t *err);

/** aop_recover() with the whole summary (may be NULL; fill it with aop_recover_summary_init()). */
AOP_API AOP_NODISCARD aop_status_t aop_recover_ex(aop_client_t *c, aop_journal_t *j,
                                                  const aop_resolve_options_t *opts, aop_recover_fn fn,
                                                  void *ctx, aop_recover_summary_t *summary, aop_error_t *err);

/* ---- Alipay's payment notifications in the journal (docs/resolver.md, rows N) ---- */

/** Records a verified notification (aop_notify_receive() with a receiver of this client's keys
 * and clientId) in j's notification table under the client's gateway identity, durably (synced)
 * before it returns: answer S / SUCCESS only on AOP_OK. A re-delivery of the same fact bumps its
 * row's deliveries (*inserted false). stored (may be NULL) gets the row, without its body. A body
 * larger than AOP_JOURNAL_NOTICE_BODY_MAX - 1 is AOP_E_TOO_LONG; a store without the
 * notification operations AOP_E_JOURNAL_UNSUPPORTED. */
AOP_API AOP_NODISCARD aop_status_t aop_notice_record(aop_client_t *c, aop_journal_t *j, const aop_notification_t *n,
                                                     aop_journal_notice_t *stored, bool *inserted,
                                                     aop_error_t *err);

/** Called by aop_notices_apply() for each notification it applied, refused or found no entry
 * for (n as marked: its state, entry_id and note), with the row of docs/resolver.md that decided
 * and, when it wrote or worked the entry, the resolution (else NULL). */
typedef void (*aop_notice_fn)(const aop_journal_notice_t *n, const char *row, const aop_resolution_t *r,
                              void *ctx);

/** Applies the PENDING notifications of the client's gateway identity (only key's when key is not
 * NULL) as rows N say. Each stored body is verified again with the client's Alipay key at its
 * receipt time first. A notification whose entry a live process leases is left PENDING: that
 * process applies it (an aop_pay_resolve() waiting for its next query checks every 250 ms). An
 * entry nobody holds is claimed and decided here; when the row makes a query due (N5, N8, N10),
 * that query is made here with make_queries (opts' policy, and its rows decide), else the entry
 * is left due now (its next attempt, or its watch) for aop_recover(). *pending (may be NULL) gets
 * how many were left PENDING for their lease holders. */
AOP_API AOP_NODISCARD aop_status_t aop_notices_apply(aop_client_t *c, aop_journal_t *j, const char *key,
                                                     bool make_queries, const aop_resolve_options_t *opts,
                                                     aop_notice_fn fn,
                                                     void *ctx, unsigned *pending, aop_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
