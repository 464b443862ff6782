/* SPDX-License-Identifier: MIT */
/** @file
 * The payment journal: every payment and refund is committed here before its request leaves,
 * and every later step is a compare-and-set on (state, epoch), so a payment survives the
 * terminal being killed at any moment and is finished later by recovery (aop/resolver.h).
 *
 * Storage sits behind an interface (aop_journal_ops_t): SQLite is the embedded default
 * (aop_journal_open_sqlite); another store (PostgreSQL) implements the same operations. The
 * resolver holds no lock across a gateway call: a claim is a short transaction that sets a
 * lease, and a live resolver renews it between calls.
 *
 * Never stored: the customer's identityCode (a live credential that recovery does not need).
 *
 * Threads: one journal handle per thread (open one per thread on the same file). */
#ifndef AOP_JOURNAL_H
#define AOP_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aop/error.h"
#include "aop/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What an entry records. */
typedef enum {
    AOP_ENTRY_PAYMENT = 1, /**< an offline pay, resolved by query and cancel */
    AOP_ENTRY_REFUND = 2   /**< a refund, resolved by re-sending it identically */
} aop_entry_kind_t;

/** The state of an entry. The numbers are stored: they never change. */
typedef enum {
    AOP_STATE_NEW = 1,              /**< committed; the request may or may not have left */
    AOP_STATE_PAY_SENT = 2,         /**< payment: the pay was sent (maybe) */
    AOP_STATE_POLLING = 3,          /**< payment: querying */
    AOP_STATE_CANCELLING = 4,       /**< payment: cancelling */
    AOP_STATE_SENT = 5,             /**< refund: sent (maybe), re-sent while undecided */
    AOP_STATE_UNRESOLVED = 6,       /**< open: recovery goes on with it */
    AOP_STATE_NEEDS_ATTENTION = 7,  /**< open: the gateway's answers contradict; a person decides */
    AOP_STATE_PAID = 8,             /**< final: the payment stands */
    AOP_STATE_FAILED = 9,           /**< final: nothing was taken (or the refund was refused) */
    AOP_STATE_CANCELLED = 10,       /**< final: closed or reversed by our cancel */
    AOP_STATE_REFUNDED = 11         /**< final: the refund is done */
} aop_entry_state_t;

/** Whether s is final (PAID, FAILED, CANCELLED, REFUNDED). */
AOP_API bool aop_entry_state_final(aop_entry_state_t s);
/** "NEW", "PAY_SENT", ...; "?" for a number that is no state. */
AOP_API const char *aop_entry_state_name(aop_entry_state_t s);
/** The state named name (exact), or 0. */
AOP_API aop_entry_state_t aop_entry_state_from_name(const char *name);

/** Sizes of the text members of an entry (each holds a NUL-terminated string). */
#define AOP_JOURNAL_ID_SIZE 65         /**< ids: 64 characters (the schema's maximum) */
#define AOP_JOURNAL_FUNCTION_SIZE 129  /**< a function name */
#define AOP_JOURNAL_GATEWAY_SIZE 137   /**< gateway identity: key fingerprint (71: "SHA256:" and 64 hex
                                            digits, aop/sign.h) '/' clientId (64) */
#define AOP_JOURNAL_AMOUNT_SIZE 17     /**< minor units, 16 digits */
#define AOP_JOURNAL_CURRENCY_SIZE 4    /**< ISO 4217 */
#define AOP_JOURNAL_STATUS_SIZE 65     /**< raw status text as last seen */
#define AOP_JOURNAL_OWNER_SIZE 160     /**< lease owner: host, pid and process start time */
#define AOP_JOURNAL_NOTE_SIZE 256      /**< a note (closing by hand: who, when, why) */
#define AOP_JOURNAL_REQUEST_MAX 32768  /**< the request JSON, identityCode removed, and its NUL */

/** One entry. Plain data: copy it freely. */
typedef struct {
    int64_t id;                                 /**< assigned by insert */
    aop_entry_kind_t kind;                      /**< payment or refund */
    char function[AOP_JOURNAL_FUNCTION_SIZE];   /**< full function name of the request */
    char merchant_id[AOP_JOURNAL_ID_SIZE];      /**< the request's merchantId */
    char key[AOP_JOURNAL_ID_SIZE];              /**< merchantTransId (payment) or merchantRefundId (refund) */
    char payment_acquirement_id[AOP_JOURNAL_ID_SIZE]; /**< refund: the payment it refunds */
    char amount[AOP_JOURNAL_AMOUNT_SIZE];       /**< minor units */
    char currency[AOP_JOURNAL_CURRENCY_SIZE];   /**< ISO 4217 code */
    char gateway[AOP_JOURNAL_GATEWAY_SIZE];     /**< gateway identity (aop_journal_gateway_identity) */
    char client_id[AOP_JOURNAL_ID_SIZE];        /**< the clientId it was sent with */
    aop_entry_state_t state;                    /**< where the entry stands */
    char last_status[AOP_JOURNAL_STATUS_SIZE];  /**< raw: "U PAYMENT_IN_PROCESS", "PAYING", ... */
    char last_code[AOP_JOURNAL_ID_SIZE];        /**< resultCode of the last decided answer */
    char acquirement_id[AOP_JOURNAL_ID_SIZE];   /**< only when trusted: from a decided answer whose
                                                     merchantTransId echo was present and equal */
    int64_t created_ms;                         /**< when inserted (Unix time in ms) */
    int64_t last_attempt_ms;                    /**< when a request last left (Unix time in ms) */
    int64_t updated_ms;                         /**< when last changed (Unix time in ms) */
    int64_t pay_started_ms;                     /**< the last pay attempt's start */
    int64_t pay_deadline_ms;                    /**< the last pay attempt's deadline;
                                                     no cancel before start + deadline + margin */
    unsigned attempts;                          /**< requests sent (or tried) for this entry */
    bool acknowledged;                          /**< a decided answer showed the gateway knows it */
    bool watch;                                 /**< FAILED/CANCELLED never acknowledged: one late query due */
    int64_t watch_due_ms;                       /**< when that query is due */
    char lease_owner[AOP_JOURNAL_OWNER_SIZE];   /**< "" when nobody holds it */
    int64_t lease_expires_ms;                   /**< when the lease ends (Unix time in ms) */
    int64_t epoch;                              /**< bumped by every change */
    char note[AOP_JOURNAL_NOTE_SIZE];           /**< why it is open, or who closed it by hand */
    size_t request_len;                         /**< below AOP_JOURNAL_REQUEST_MAX (request is NUL-terminated) */
    char request[AOP_JOURNAL_REQUEST_MAX];      /**< the request object's JSON, identityCode removed */
} aop_journal_entry_t;

/** Called once per entry by aop_journal_list(); return false to stop. */
typedef bool (*aop_journal_each_fn)(const aop_journal_entry_t *e, void *ctx);

/** The storage operations. A store returns AOP_E_JOURNAL for a storage failure (with the
 * store's message), AOP_E_TAKEN_OVER when a compare-and-set finds another (state, epoch) or a
 * live lease of someone else, AOP_E_MISSING for no such entry. */
typedef struct {
    /** Inserts e (state NEW, epoch 1, leased to e->lease_owner until e->lease_expires_ms),
     * durably (fsync) before returning: the request may leave only after this. Sets e->id.
     * AOP_E_TAKEN_OVER when (kind, gateway, merchant_id, key) has an entry already (another
     * process inserted it first; the existing entry is left as it is). */
    aop_status_t (*insert)(void *store, aop_journal_entry_t *e, aop_error_t *err);
    /** The entry of (kind, gateway, merchant_id, key), or AOP_E_MISSING. */
    aop_status_t (*find)(void *store, aop_entry_kind_t kind, const char *gateway, const char *merchant_id,
                         const char *key, aop_journal_entry_t *out, aop_error_t *err);
    /** Takes the lease of entry id for owner until expires_ms when it is free, expired, or
     * held by owner itself or by a dead owner (owner_dead(lease_owner, ctx) is true); bumps
     * the epoch and returns the entry. AOP_E_TAKEN_OVER when a live owner holds it. */
    aop_status_t (*claim)(void *store, int64_t id, const char *owner, int64_t now_ms, int64_t expires_ms,
                          bool (*owner_dead)(const char *lease_owner, void *ctx), void *ctx,
                          aop_journal_entry_t *out, aop_error_t *err);
    /** Writes e (every member but id) when the stored (state, epoch) are (expect_state,
     * e->epoch) and the lease is e->lease_owner's; then bumps e->epoch. Otherwise
     * AOP_E_TAKEN_OVER and nothing changes. A lease renewal is a transition to the same state;
     * releasing it is a transition with lease_expires_ms 0 (the owner stays: only claim changes
     * the owner, so the compare-and-set above compares and writes the same text). */
    aop_status_t (*transition)(void *store, aop_journal_entry_t *e, aop_entry_state_t expect_state,
                               aop_error_t *err);
    /** Every entry (open_only: the non-final ones), oldest first. */
    aop_status_t (*list)(void *store, bool open_only, aop_journal_each_fn fn, void *ctx, aop_error_t *err);
    /** Frees the store. */
    void (*close)(void *store);
} aop_journal_ops_t;

/** A journal: a store and its operations. */
typedef struct aop_journal aop_journal_t;

/** Opens (creating it 0600 when absent) the SQLite journal at path: WAL, migrations by
 * user_version, insert with synchronous=FULL, later updates NORMAL. A file of a newer version
 * is refused. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_open_sqlite(const char *path, aop_journal_t **out,
                                                           aop_error_t *err);
/** A journal over another store (borrowed ops; store is closed by aop_journal_close). */
AOP_API AOP_NODISCARD aop_status_t aop_journal_open_custom(const aop_journal_ops_t *ops, void *store,
                                                           aop_journal_t **out, aop_error_t *err);
/** Closes the journal (NULL is fine). */
AOP_API void aop_journal_close(aop_journal_t *j);

/** The operations, through the journal's store (see aop_journal_ops_t). */
AOP_API AOP_NODISCARD aop_status_t aop_journal_insert(aop_journal_t *j, aop_journal_entry_t *e, aop_error_t *err);
/** See aop_journal_ops_t::find. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_find(aop_journal_t *j, aop_entry_kind_t kind, const char *gateway,
                                                    const char *merchant_id, const char *key,
                                                    aop_journal_entry_t *out, aop_error_t *err);
/** See aop_journal_ops_t::claim; owner_dead defaults to aop_journal_owner_dead when NULL. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_claim(aop_journal_t *j, int64_t id, const char *owner,
                                                     int64_t now_ms, int64_t expires_ms,
                                                     bool (*owner_dead)(const char *lease_owner, void *ctx),
                                                     void *ctx, aop_journal_entry_t *out, aop_error_t *err);
/** See aop_journal_ops_t::transition. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_transition(aop_journal_t *j, aop_journal_entry_t *e,
                                                          aop_entry_state_t expect_state, aop_error_t *err);
/** See aop_journal_ops_t::list. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_list(aop_journal_t *j, bool open_only, aop_journal_each_fn fn,
                                                    void *ctx, aop_error_t *err);
/** Closes an UNRESOLVED or NEEDS_ATTENTION entry by hand as PAID, FAILED, CANCELLED or
 * REFUNDED, recording who (the owner text), when and note. Refuses final entries and entries
 * leased by a live owner. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_close_entry(aop_journal_t *j, int64_t id, aop_entry_state_t as,
                                                           const char *who, const char *note, aop_error_t *err);

/** A new lease owner for this process: "host/pid/start-time#nonce". The start time tells a
 * reused pid apart; the random nonce tells apart the threads of one process (and successive
 * resolutions), so one thread never takes another's live lease as its own. */
AOP_API void aop_journal_self_owner(char out[AOP_JOURNAL_OWNER_SIZE]);
/** Whether lease_owner names a process on this host that is no longer running (same pid with
 * another start time counts as gone; the nonce is ignored). False for other hosts: only expiry
 * frees their leases. */
AOP_API bool aop_journal_owner_dead(const char *lease_owner, void *ctx);
/** The gateway identity: the Alipay public key's fingerprint and the clientId, stable across
 * URLs and ports (the local sandbox restarts on any port and stays the same gateway). */
AOP_API void aop_journal_gateway_identity(const char *alipay_key_fingerprint, const char *client_id,
                                          char out[AOP_JOURNAL_GATEWAY_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
