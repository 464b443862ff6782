/* SPDX-License-Identifier: MIT */
/** @file
 * The payment journal: every payment and refund is committed here before its request leaves,
 * and every later step is a compare-and-set on (state, epoch), so a payment survives the
 * terminal being killed at any moment and is finished later by recovery (aop/resolver.h).
 *
 * Storage sits behind an interface (aop_journal_ops_t, version 2): SQLite is the embedded
 * default (aop_journal_open_sqlite); a server database implements the same operations, and the
 * conformance suite (tests/unit/test_journal_conformance.c) runs every contract test against a
 * store factory. The resolver holds no lock across a gateway call: a claim is a short
 * transaction that sets a lease, and a live resolver renews it with each write.
 *
 * Never stored: the customer's identityCode (a live credential that recovery does not need).
 * Every entry carries a MAC (HMAC-SHA256, keyed by a secret derived from the merchant's private
 * key) over every column a request is built from: only the key's holder writes a valid entry,
 * and the resolver sends nothing for an entry whose MAC does not verify.
 *
 * Threads: a handle may be shared. A store that serialises itself (AOP_JOURNAL_STORE_THREAD_SAFE,
 * the SQLite store: group commit) is called without a lock; any other store's operations run
 * one at a time under the handle's own mutex. aop_journal_list() calls its callback with no lock
 * held and no statement active, so the callback may call the journal.
 *
 * Time belongs to the store: leases are taken for a duration, and lease expiries, the pay's
 * start, the watch's due time and the next attempt are stamped with the store's clock and
 * compared only with the store's now (aop_journal_ops_t::now). Each stamp has a wall part (Unix
 * ms, what a person reads) and a part on the store's own clock (clock_id, clock_ms); two stamps
 * of the same clock_id are compared by their clock, others by the wall (aop_journal_elapsed_ms).
 * The SQLite store's clock is CLOCK_BOOTTIME with the boot's id, which no step of the wall clock
 * moves; across boots only the wall clock is left.
 *
 * The SQLite file (aop_journal_open_sqlite):
 * - an existing file is refused when it is a symbolic link, not a regular file, owned by another
 *   account, or writable by group or others (the message says how to fix it);
 * - WAL mode: beside the file, SQLite keeps `-wal` and `-shm` files. The write-ahead log is kept
 *   between processes and checkpointed when it passes 1000 pages (about 4 MiB), not on close, so
 *   a process that pays once syncs once; keep free space on the file system: a write that finds
 *   the disk full fails, and an insert that fails sends nothing;
 * - an entry takes about 450 bytes plus its request (docs/design.md, "The journal's contract");
 *   aop_journal_prune() removes old final entries and aop_journal_backup() copies the journal;
 * - deleting the file (or its `-wal`) while a payment runs loses that payment's entry. */
#ifndef AOP_JOURNAL_H
#define AOP_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aop/error.h"
#include "aop/export.h"
#include "aop/sign.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What an entry records. */
typedef enum {
    AOP_ENTRY_PAYMENT = 1, /**< an offline pay, resolved by query and cancel */
    AOP_ENTRY_REFUND = 2   /**< a refund, resolved by re-sending it identically */
} aop_entry_kind_t;

/** The state of an entry (docs/resolver.md, "States"). The numbers are stored: they never change.
 * No open state means "certainly not sent": writes after the insert are not synced, so a power
 * loss may undo them, and resume and recovery treat every open entry as possibly sent. */
typedef enum {
    AOP_STATE_NEW = 1,              /**< committed; the request (a pay: a re-send too) may or may not have left */
    AOP_STATE_PAY_SENT = 2,         /**< no longer written (read as NEW): entries of older versions */
    AOP_STATE_POLLING = 3,          /**< payment: querying */
    AOP_STATE_CANCELLING = 4,       /**< payment: cancelling */
    AOP_STATE_SENT = 5,             /**< refund: sent (maybe), re-sent while undecided */
    AOP_STATE_UNRESOLVED = 6,       /**< open: recovery goes on with it */
    AOP_STATE_NEEDS_ATTENTION = 7,  /**< open: the gateway's answers contradict, or the entry was altered; a person decides */
    AOP_STATE_PAID = 8,             /**< final: the payment stands */
    AOP_STATE_FAILED = 9,           /**< final: nothing was taken (or the refund was refused) */
    AOP_STATE_CANCELLED = 10,       /**< final: closed or reversed by our cancel */
    AOP_STATE_REFUNDED = 11,        /**< final: the refund is done */
    AOP_STATE_LAST_CHECK = 12       /**< payment: the cancel did not succeed; one last query decides */
} aop_entry_state_t;

/** Whether s is a state's number. */
AOP_API bool aop_entry_state_valid(aop_entry_state_t s);
/** Whether s is final (PAID, FAILED, CANCELLED, REFUNDED). */
AOP_API bool aop_entry_state_final(aop_entry_state_t s);

/** Who moves an entry from one state to another. */
typedef enum {
    AOP_MOVER_RESOLVER = 1, /**< the resolver or recovery */
    AOP_MOVER_HAND = 2      /**< a person closing an UNRESOLVED or NEEDS_ATTENTION entry */
} aop_mover_t;

/** Whether an entry of kind may go from state from to state to, moved by by: the one table of
 * docs/resolver.md ("States"). aop_journal_transition() refuses any other write, whatever the
 * store. A transition to the same state renews or releases the lease. */
AOP_API bool aop_entry_move_allowed(aop_entry_kind_t kind, aop_entry_state_t from, aop_entry_state_t to,
                                    aop_mover_t by);
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
#define AOP_JOURNAL_OWNER_SIZE 256     /**< lease owner: host (64), boot id (36), PID namespace, pid,
                                            process start time and a nonce */
#define AOP_JOURNAL_NOTE_SIZE 256      /**< a note (closing by hand: who, when, why) */
#define AOP_JOURNAL_REQUEST_MAX 32768  /**< the request JSON, identityCode removed, and its NUL */
#define AOP_JOURNAL_CLOCK_ID_SIZE 37   /**< a store clock's id (SQLite: the boot id, a UUID) */
#define AOP_JOURNAL_KEY_ID_SIZE 17     /**< the MAC key's id: 16 hex digits */
#define AOP_JOURNAL_MAC_SIZE 65        /**< HMAC-SHA256: 64 hex digits */

/** One entry. Plain data: copy it freely. The stamps of the store's clock (*_clock_ms) belong to
 * clock_id; their wall parts (*_ms) are what a person reads. */
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
    int64_t created_ms;                         /**< when inserted (the store's wall clock, Unix ms) */
    int64_t last_attempt_ms;                    /**< when a request last left (Unix ms) */
    int64_t updated_ms;                         /**< when last changed (the store's wall clock) */
    int64_t pay_started_ms;                     /**< the last pay attempt's start, stamped by the store */
    int64_t pay_deadline_ms;                    /**< the last pay attempt's deadline;
                                                     no cancel before start + deadline + margin */
    unsigned attempts;                          /**< requests sent (or tried) for this entry */
    bool acknowledged;                          /**< a decided answer showed the gateway knows it */
    bool watch;                                 /**< FAILED/CANCELLED never acknowledged (or a final entry a
                                                     notification contradicted): one late query due */
    /** A payCancel of this payment may have left: set, and made durable (aop_journal_sync()), before
     * the first cancel is sent, and never cleared. A SUCCESS notification decides only an entry
     * without it (docs/resolver.md, rows N). It sits in the padding after watch, so the layout of
     * libaop 1.0.0's entries is unchanged; aop_journal_insert() clears it. */
    bool cancel_sent;
    int64_t watch_due_ms;                       /**< when that query is due */
    char lease_owner[AOP_JOURNAL_OWNER_SIZE];   /**< "" when nobody holds it */
    int64_t lease_expires_ms;                   /**< when the lease ends */
    int64_t epoch;                              /**< bumped by every change */
    char note[AOP_JOURNAL_NOTE_SIZE];           /**< why it is open, or who closed it by hand; for an
                                                     unreadable entry, why it could not be read */
    char clock_id[AOP_JOURNAL_CLOCK_ID_SIZE];   /**< the store clock of the *_clock_ms stamps ("" = none) */
    int64_t pay_started_clock_ms;               /**< pay_started_ms on the store's clock */
    int64_t watch_due_clock_ms;                 /**< watch_due_ms on the store's clock */
    int64_t lease_expires_clock_ms;             /**< lease_expires_ms on the store's clock */
    int64_t next_attempt_ms;                    /**< an open entry is due for recovery from then on */
    int64_t next_attempt_clock_ms;              /**< next_attempt_ms on the store's clock */
    int64_t backoff_ms;                         /**< the last back-off of an UNRESOLVED entry (0: none) */
    char key_id[AOP_JOURNAL_KEY_ID_SIZE];       /**< the id of the key that made mac ("" = none) */
    char mac[AOP_JOURNAL_MAC_SIZE];             /**< over every column a request is built from ("" = none) */
    bool lease_held;                            /**< set when read: a live owner held the lease then,
                                                     by the store's clock (aop_journal_lease_held()) */
    bool unreadable;                            /**< the row could not be read: only id is valid,
                                                     and note says why */
    bool has_request;                           /**< request holds the request (get, claim, find, and
                                                     lists that ask for it) */
    size_t request_len;                         /**< below AOP_JOURNAL_REQUEST_MAX (request is NUL-terminated) */
    char request[AOP_JOURNAL_REQUEST_MAX];      /**< the request object's JSON, identityCode removed */
} aop_journal_entry_t;

/** Called once per entry by aop_journal_list(); return false to stop. */
typedef bool (*aop_journal_each_fn)(const aop_journal_entry_t *e, void *ctx);

/** An instant on a store's clock (aop_journal_ops_t::now). */
typedef struct {
    int64_t wall_ms;                          /**< Unix time in ms: what a person reads */
    int64_t clock_ms;                         /**< the store's own clock (SQLite: CLOCK_BOOTTIME) */
    char clock_id[AOP_JOURNAL_CLOCK_ID_SIZE]; /**< which clock ("" = the wall clock only) */
} aop_journal_now_t;

/** How long ago (ms; negative when still to come) the instant stamped wall_ms and clock_ms (on
 * clock clock_id) was at now: by the store's clock when clock_id is now's, else by the wall. */
AOP_API int64_t aop_journal_elapsed_ms(const aop_journal_now_t *now, const char *clock_id, int64_t wall_ms,
                                       int64_t clock_ms);

/** What a transition writes besides the state, the epoch, updated_ms and the lease, which it
 * always writes: the other columns stay as stored (the immutable ones, the request, ...). */
enum {
    AOP_WRITE_CALL = 1u << 0,        /**< last_status, last_code, attempts, last_attempt_ms, acknowledged */
    AOP_WRITE_ACQUIREMENT = 1u << 1, /**< acquirement_id and mac (a trusted id is MACed again) */
    AOP_WRITE_PAY_START = 1u << 2,   /**< pay_started := the store's now; pay_deadline_ms */
    AOP_WRITE_WATCH = 1u << 3,       /**< watch; watch_due := the store's now + watch_in_ms */
    AOP_WRITE_NOTE = 1u << 4,        /**< note */
    AOP_WRITE_NEXT_ATTEMPT = 1u << 5, /**< next_attempt := the store's now + next_attempt_in_ms; backoff_ms */
    AOP_WRITE_CANCEL = 1u << 6        /**< cancel_sent := true (it is never cleared: AOP_E_INVALID_ARG) */
};
/** Every AOP_WRITE_* bit. */
#define AOP_WRITE_ALL 0x7fu

/** One transition: a compare-and-set on (expect_state, e->epoch, e->lease_owner). */
typedef struct {
    aop_entry_state_t expect_state; /**< the state the writer read */
    unsigned columns;               /**< AOP_WRITE_* */
    int64_t lease_ttl_ms;           /**< the lease ends the store's now + this; 0 releases it (expires now) */
    int64_t watch_in_ms;            /**< with AOP_WRITE_WATCH and e->watch */
    int64_t next_attempt_in_ms;     /**< with AOP_WRITE_NEXT_ATTEMPT */
} aop_journal_write_t;

/** Which entries a list hands over. */
typedef enum {
    AOP_LIST_ALL = 0,               /**< every entry */
    AOP_LIST_OPEN = 1,              /**< the entries not final */
    AOP_LIST_OPEN_OR_WATCH_DUE = 2  /**< those, and the final ones whose watch is due by the store's clock */
} aop_list_which_t;

/** A list's filter. Fill with aop_journal_filter_init(). */
typedef struct {
    size_t struct_size;    /**< set by aop_journal_filter_init(); do not change */
    aop_list_which_t which; /**< default AOP_LIST_ALL */
    const char *gateway;   /**< only this gateway identity's entries; NULL: every gateway */
    bool with_request;     /**< read each entry's request too (it is up to 32 KiB) */
} aop_journal_filter_t;

/** Sets the defaults (and struct_size). */
AOP_API void aop_journal_filter_init(aop_journal_filter_t *f);

/** The version of aop_journal_ops_t this header describes. */
#define AOP_JOURNAL_OPS_VERSION 2
/** aop_journal_ops_t::flags: the store serialises its own operations (and may batch inserts). */
#define AOP_JOURNAL_STORE_THREAD_SAFE 1u

/** Makes the MAC of a legacy entry (aop_journal_ops_t::seal_legacy): sets e->key_id and e->mac. */
typedef void (*aop_journal_seal_fn)(aop_journal_entry_t *e, void *ctx);

/** The notification table (docs/resolver.md, rows N): Alipay's payment notifications as received.
 * A notification is a fact, not a decision: it is recorded durably before it is answered, with
 * the HTTP body exactly as received, and whoever applies it verifies that body's signature again
 * (aop_notify_receive() at received_ms), so a row written by hand decides nothing. Its rows carry
 * no MAC for that reason: the signature is the stronger seal, and only Alipay's key makes one. */

/** The largest body a notification row keeps (and its NUL): a receiver refuses larger requests. */
#define AOP_JOURNAL_NOTICE_BODY_MAX 16384
/** resultStatus and its NUL. */
#define AOP_JOURNAL_NOTICE_STATUS_SIZE 2

/** Where a notification stands. The numbers are stored: they never change. */
typedef enum {
    AOP_NOTICE_PENDING = 1,  /**< recorded; not applied to its entry yet */
    AOP_NOTICE_APPLIED = 2,  /**< a row of docs/resolver.md applied it (note says which, and what it did) */
    AOP_NOTICE_NO_ENTRY = 3, /**< the journal has no payment of its merchantTransId: listed by `aop journal` */
    AOP_NOTICE_REFUSED = 4   /**< its stored body did not verify again: it decided nothing */
} aop_notice_state_t;

/** "PENDING", "APPLIED", "NO_ENTRY", "REFUSED"; "?" for a number that is no state. */
AOP_API const char *aop_notice_state_name(aop_notice_state_t s);

/** One notification row. Plain data: copy it freely (it is about 17 KiB). */
typedef struct {
    int64_t id;                                   /**< assigned by record */
    /* The deduplication key: one row per fact, however often Alipay sends it. */
    char gateway[AOP_JOURNAL_GATEWAY_SIZE];       /**< the receiver's gateway identity (aop_journal_gateway_identity) */
    char merchant_id[AOP_JOURNAL_ID_SIZE];        /**< body.merchantId, "" when absent (the 2.0.0 body) */
    char key[AOP_JOURNAL_ID_SIZE];                /**< body.merchantTransId */
    char result_status[AOP_JOURNAL_NOTICE_STATUS_SIZE]; /**< "S", "F" or "U" */
    char result_code[AOP_JOURNAL_ID_SIZE];        /**< body.resultInfo.resultCode */
    /* Kept from the first delivery: the bytes and the time they verify at. */
    int64_t received_ms;                          /**< when the first delivery was received (Unix ms, the
                                                       receiver's: its reqTime window was judged at it) */
    size_t body_len;                              /**< below AOP_JOURNAL_NOTICE_BODY_MAX */
    char body[AOP_JOURNAL_NOTICE_BODY_MAX];       /**< the HTTP body exactly as received, NUL-terminated */
    /* Written by the store and by whoever applies it. */
    unsigned deliveries;                          /**< how often it was received (a re-delivery bumps it) */
    int64_t last_received_ms;                     /**< when it was last received (Unix ms) */
    aop_notice_state_t state;                     /**< PENDING until a row applies it */
    int64_t entry_id;                             /**< the entry it was applied to (0: none) */
    char note[AOP_JOURNAL_NOTE_SIZE];             /**< the row that applied it and what it did */
} aop_journal_notice_t;

/** Which notifications aop_journal_notice_list() hands over. */
typedef struct {
    size_t struct_size;          /**< set by aop_journal_notice_filter_init(); do not change */
    const char *gateway;         /**< only this gateway identity's; NULL: every gateway */
    const char *key;             /**< only this merchantTransId's; NULL: every one */
    aop_notice_state_t state;    /**< only those in this state; 0: every state */
    bool with_body;              /**< read each body too (up to 16 KiB) */
} aop_journal_notice_filter_t;

/** Sets the defaults (and struct_size). */
AOP_API void aop_journal_notice_filter_init(aop_journal_notice_filter_t *f);
/** Called once per notification by aop_journal_notice_list(); return false to stop. */
typedef bool (*aop_journal_notice_fn)(const aop_journal_notice_t *n, void *ctx);

/** The storage operations, version 2. The contract (every store, the conformance suite checks it):
 *
 * - Statuses: AOP_OK; AOP_E_MISSING (no such entry); AOP_E_TAKEN_OVER (a compare-and-set found
 *   another state, epoch or owner, a live lease of someone else, or an insert found the key
 *   taken); AOP_E_JOURNAL_BUSY (retryable: busy, a serialisation failure, a deadlock; nothing was
 *   written); AOP_E_JOURNAL_UNKNOWN (the outcome of this write is unknown: it may or may not be
 *   committed); AOP_E_JOURNAL for any other storage failure (nothing was written). Messages name
 *   the store and the entry, never a secret. err is never NULL: journal.c passes its own when
 *   the caller gave none.
 * - Retrying is the store's job within its own timeout (SQLite: a 10 s busy timeout); past it the
 *   store reports AOP_E_JOURNAL_BUSY and the caller retries nothing: a failed insert means nothing
 *   is sent, a failed transition ends that resolution, and recovery finishes the entry.
 * - Time: lease expiries and stamps come from the store's clock (now); a store never reads a
 *   caller's clock. A lease is free when it has no owner, has expired by the store's clock, is the
 *   claimant's own, or its owner is known dead (aop_journal_owner_dead()).
 * - Every operation that returns an entry sets its lease_held; only get, claim, claim_next, find
 *   and a list with with_request fill the request (has_request).
 * - A row the store cannot read is handed over by list with unreadable set, its id and the
 *   reason in note; get and claim of it fail naming the id. It never stops a list.
 *
 * Members after close are optional: NULL, or beyond struct_size (a store built against an older
 * header), means journal.c's fallback (claim_next and open_payment by list; seal_legacy: nothing
 * to seal; prune, backup, sync and the notification operations: AOP_E_JOURNAL_UNSUPPORTED).
 *
 * The notification operations (notice_record, notice_list, notice_mark) and sync come together: a
 * receiver of notifications refuses to start on a store that lacks any of them. They keep the
 * notification table: plain rows (aop_journal_notice_t) in and out, deduplicated by (gateway,
 * merchant_id, key, result_status, result_code). The conformance suite holds every store to the
 * contract written at each of them. */
typedef struct {
    size_t struct_size; /**< sizeof(aop_journal_ops_t) as the store was built */
    unsigned version;   /**< AOP_JOURNAL_OPS_VERSION the store implements (2) */
    unsigned flags;     /**< AOP_JOURNAL_STORE_THREAD_SAFE or 0 */
    /** The store's clock now. */
    aop_status_t (*now)(void *store, aop_journal_now_t *out, aop_error_t *err);
    /** Inserts e as NEW at epoch 1, leased to e->lease_owner for lease_ttl_ms, and stamps
     * created, updated and the pay's start (the store's now); sets e->id and the stamps. Durable
     * before it returns: the request may leave only after this, and nothing may be sent when it
     * fails. Insert-or-get: when (kind, gateway, merchant_id, key) has an entry already,
     * AOP_E_TAKEN_OVER, the existing entry left as it is and copied to *existing (when not NULL,
     * request included). An ambiguous commit reports AOP_E_JOURNAL_UNKNOWN: the caller sends
     * nothing and recovery sorts the entry out. */
    aop_status_t (*insert)(void *store, aop_journal_entry_t *e, int64_t lease_ttl_ms, aop_journal_entry_t *existing,
                           aop_error_t *err);
    /** Entry id (with its request when with_request), or AOP_E_MISSING. */
    aop_status_t (*get)(void *store, int64_t id, bool with_request, aop_journal_entry_t *out, aop_error_t *err);
    /** The entry of (kind, gateway, merchant_id, key) with its request, or AOP_E_MISSING. */
    aop_status_t (*find)(void *store, aop_entry_kind_t kind, const char *gateway, const char *merchant_id,
                         const char *key, aop_journal_entry_t *out, aop_error_t *err);
    /** Takes the lease of entry id for owner (lease_ttl_ms from the store's now) when it is free;
     * bumps the epoch and returns the entry with its request. AOP_E_TAKEN_OVER when a live owner
     * holds it. Moves the entry's stamps to the store's current clock (a new boot). */
    aop_status_t (*claim)(void *store, int64_t id, const char *owner, int64_t lease_ttl_ms, aop_journal_entry_t *out,
                          aop_error_t *err);
    /** Writes only the lease of entry id: it ends lease_ttl_ms from the store's now (0: now,
     * released), when (state, epoch, owner) are still e's; e->lease_expires_* get the stamps. The
     * epoch does not move. AOP_E_TAKEN_OVER otherwise. */
    aop_status_t (*renew)(void *store, aop_journal_entry_t *e, int64_t lease_ttl_ms, aop_error_t *err);
    /** Writes e->state and the columns w->columns names, stamps updated and the lease, when the
     * stored (state, epoch, owner) are (w->expect_state, e->epoch, e->lease_owner); bumps e->epoch
     * and sets e's stamps. Otherwise AOP_E_TAKEN_OVER (AOP_E_MISSING for no entry) and nothing
     * changes. */
    aop_status_t (*transition)(void *store, aop_journal_entry_t *e, const aop_journal_write_t *w, aop_error_t *err);
    /** One page: up to cap entries of filter f with an id above after_id, in id order, into
     * page[0..*n). */
    aop_status_t (*list)(void *store, const aop_journal_filter_t *f, int64_t after_id, aop_journal_entry_t *page,
                         size_t cap, size_t *n, aop_error_t *err);
    /** Frees the store. */
    void (*close)(void *store);
    /** Claims the next due entry of gateway with an id above after_id (docs/resolver.md, rows D):
     * open and not NEEDS_ATTENTION, or final with its watch due; its lease free; with due_only,
     * its next attempt passed. AOP_E_MISSING when none is. */
    aop_status_t (*claim_next)(void *store, const char *gateway, int64_t after_id, bool due_only, const char *owner,
                               int64_t lease_ttl_ms, aop_journal_entry_t *out, aop_error_t *err);
    /** The open payment of gateway and merchant_id whose trusted acquirementId is
     * acquirement_id, or AOP_E_MISSING. */
    aop_status_t (*open_payment)(void *store, const char *gateway, const char *merchant_id,
                                 const char *acquirement_id, aop_journal_entry_t *out, aop_error_t *err);
    /** MACs the entries of gateway written before entries had MACs (a journal migrated from an
     * older version), with fn, in one transaction; *sealed gets their number. */
    aop_status_t (*seal_legacy)(void *store, const char *gateway, aop_journal_seal_fn fn, void *ctx,
                                unsigned *sealed, aop_error_t *err);
    /** Removes the final entries with no watch last changed before before_ms (wall clock). */
    aop_status_t (*prune)(void *store, int64_t before_ms, unsigned *removed, aop_error_t *err);
    /** Writes a consistent copy of the journal to path (a new file). */
    aop_status_t (*backup)(void *store, const char *path, aop_error_t *err);
    /** Makes durable every write this store's handle committed before the call (SQLite: syncs
     * the write-ahead log; a server database whose commits are durable already: nothing). The
     * resolver calls it after writing cancel_sent and before the first cancel leaves. On failure
     * AOP_E_JOURNAL_UNKNOWN: those writes may or may not survive a power loss. */
    aop_status_t (*sync)(void *store, aop_error_t *err);
    /** Insert-or-bump, durable before it returns (the notification is answered S / SUCCESS only
     * then). When no row has n's key (gateway, merchant_id, key, result_status, result_code):
     * inserts n as given (its body, received_ms, state, entry_id and note) with deliveries 1 and
     * last_received_ms = n->received_ms; *inserted = true. When one has: leaves its body,
     * received_ms, state, entry_id and note as they are, adds 1 to deliveries and sets
     * last_received_ms = n->received_ms (a later re-delivery's time); *inserted = false. Either
     * way *stored gets the row as it is now, body included (stored may not be n). An ambiguous
     * commit is AOP_E_JOURNAL_UNKNOWN: the caller answers F and Alipay sends it again, which the
     * key makes a bump. */
    aop_status_t (*notice_record)(void *store, const aop_journal_notice_t *n, aop_journal_notice_t *stored,
                                  bool *inserted, aop_error_t *err);
    /** One page: up to cap notifications of filter f with an id above after_id, in id order,
     * into page[0..*n); bodies only with f->with_body (else body_len 0, body ""). */
    aop_status_t (*notice_list)(void *store, const aop_journal_notice_filter_t *f, int64_t after_id,
                                aop_journal_notice_t *page, size_t cap, size_t *n, aop_error_t *err);
    /** A compare-and-set on the notification's state: when row id is in state expect, writes
     * state, entry_id and note (nothing else). AOP_E_TAKEN_OVER when it is in another state (an
     * applier got there first), AOP_E_MISSING when there is no row id. Not synced: a mark lost to
     * a power loss leaves the row PENDING, and applying it again decides the same. */
    aop_status_t (*notice_mark)(void *store, int64_t id, aop_notice_state_t expect, aop_notice_state_t state,
                                int64_t entry_id, const char *note, aop_error_t *err);
} aop_journal_ops_t;

/** A journal: a store and its operations. */
typedef struct aop_journal aop_journal_t;

/** Opens (creating it 0600 when absent) the SQLite journal at path: WAL, migrations by
 * user_version, inserts committed together with synchronous=FULL (group commit), later updates
 * NORMAL. A file of a newer version, and an unsafe file (see the top of this page), are refused. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_open_sqlite(const char *path, aop_journal_t **out,
                                                           aop_error_t *err);
/** Opens the journal uri names: a file path or `sqlite:PATH` (aop_journal_open_sqlite), or a libpq
 * URI `postgresql://...` / `postgres://...` (the PostgreSQL store: many processes on many
 * machines share it; README.md, "Many terminals, one back end"). The PostgreSQL store is a
 * module of its own, libaop-journal-pg.so.0 (package libaop-journal-pg0), loaded only here and
 * only for such a URI, from beside libaop or the library search path; without it the open fails
 * with AOP_E_CONFIG saying so. Messages never show the URI's password (aop_journal_uri_redact). */
AOP_API AOP_NODISCARD aop_status_t aop_journal_open(const char *uri, aop_journal_t **out, aop_error_t *err);
/** Copies uri into out (cap bytes, always terminated when cap > 0) without its password: the
 * `:password` of its user info and every `password=` query parameter. Returns whether it held
 * one. The one way a journal URI is shown, by the library and its programs. */
AOP_API bool aop_journal_uri_redact(const char *uri, char *out, size_t cap);
/** A journal over another store (borrowed ops; store is closed by aop_journal_close). Refuses
 * operations of another version or missing a required member. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_open_custom(const aop_journal_ops_t *ops, void *store,
                                                           aop_journal_t **out, aop_error_t *err);
/** Closes the journal (NULL is fine). */
AOP_API void aop_journal_close(aop_journal_t *j);

/** The store's clock now (aop_journal_ops_t::now). */
AOP_API AOP_NODISCARD aop_status_t aop_journal_now(aop_journal_t *j, aop_journal_now_t *out, aop_error_t *err);
/** See aop_journal_ops_t::insert (e's state and epoch are set to NEW and 1). */
AOP_API AOP_NODISCARD aop_status_t aop_journal_insert(aop_journal_t *j, aop_journal_entry_t *e, int64_t lease_ttl_ms,
                                                      aop_journal_entry_t *existing, aop_error_t *err);
/** See aop_journal_ops_t::get. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_get(aop_journal_t *j, int64_t id, bool with_request,
                                                   aop_journal_entry_t *out, aop_error_t *err);
/** See aop_journal_ops_t::find. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_find(aop_journal_t *j, aop_entry_kind_t kind, const char *gateway,
                                                    const char *merchant_id, const char *key,
                                                    aop_journal_entry_t *out, aop_error_t *err);
/** See aop_journal_ops_t::claim. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_claim(aop_journal_t *j, int64_t id, const char *owner,
                                                     int64_t lease_ttl_ms, aop_journal_entry_t *out,
                                                     aop_error_t *err);
/** See aop_journal_ops_t::renew (lease_ttl_ms 0 releases the lease). */
AOP_API AOP_NODISCARD aop_status_t aop_journal_renew(aop_journal_t *j, aop_journal_entry_t *e, int64_t lease_ttl_ms,
                                                     aop_error_t *err);
/** See aop_journal_ops_t::transition. AOP_E_INVALID_ARG, and nothing written, for a move that
 * aop_entry_move_allowed() does not allow. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_transition(aop_journal_t *j, aop_journal_entry_t *e,
                                                          const aop_journal_write_t *w, aop_error_t *err);
/** Every entry (open_only: the non-final ones), oldest first, without their requests. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_list(aop_journal_t *j, bool open_only, aop_journal_each_fn fn,
                                                    void *ctx, aop_error_t *err);
/** The entries of filter f (NULL: all), oldest first, read page by page. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_list_ex(aop_journal_t *j, const aop_journal_filter_t *f,
                                                       aop_journal_each_fn fn, void *ctx, aop_error_t *err);
/** See aop_journal_ops_t::claim_next. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_claim_next(aop_journal_t *j, const char *gateway, int64_t after_id,
                                                          bool due_only, const char *owner, int64_t lease_ttl_ms,
                                                          aop_journal_entry_t *out, aop_error_t *err);
/** See aop_journal_ops_t::open_payment. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_open_payment(aop_journal_t *j, const char *gateway,
                                                            const char *merchant_id, const char *acquirement_id,
                                                            aop_journal_entry_t *out, aop_error_t *err);
/** Removes the final entries with no watch (due or not) last changed before before_ms (Unix ms);
 * never an open one. *removed (may be NULL) gets their number. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_prune(aop_journal_t *j, int64_t before_ms, unsigned *removed,
                                                     aop_error_t *err);
/** Writes a consistent copy of the journal to path, a file that must not exist yet (created 0600),
 * and checks the copy before returning AOP_OK. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_backup(aop_journal_t *j, const char *path, aop_error_t *err);
/** See aop_journal_ops_t::sync; AOP_E_JOURNAL_UNSUPPORTED when the store has no sync. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_sync(aop_journal_t *j, aop_error_t *err);
/** Whether the store keeps notifications: AOP_OK when it has every notification operation and
 * sync, else AOP_E_JOURNAL_UNSUPPORTED naming what it lacks (a receiver refuses to start then). */
AOP_API AOP_NODISCARD aop_status_t aop_journal_notices_supported(aop_journal_t *j, aop_error_t *err);
/** See aop_journal_ops_t::notice_record. n is checked first (every text NUL-terminated within its
 * array, gateway, key and result_status set, result_status "S", "F" or "U", a body of body_len
 * bytes without NUL, state a notice state, deliveries ignored): AOP_E_INVALID_ARG or the text's
 * status, naming the member, and nothing written. inserted may be NULL. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_notice_record(aop_journal_t *j, const aop_journal_notice_t *n,
                                                             aop_journal_notice_t *stored, bool *inserted,
                                                             aop_error_t *err);
/** The notifications of filter f (NULL: all, without bodies), oldest first, read page by page;
 * fn is called with no lock held, so it may call the journal. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_notice_list(aop_journal_t *j, const aop_journal_notice_filter_t *f,
                                                           aop_journal_notice_fn fn, void *ctx, aop_error_t *err);
/** See aop_journal_ops_t::notice_mark (note: NULL is ""; it must fit AOP_JOURNAL_NOTE_SIZE). */
AOP_API AOP_NODISCARD aop_status_t aop_journal_notice_mark(aop_journal_t *j, int64_t id, aop_notice_state_t expect,
                                                           aop_notice_state_t state, int64_t entry_id,
                                                           const char *note, aop_error_t *err);
/** Closes an UNRESOLVED or NEEDS_ATTENTION entry by hand as PAID, FAILED, CANCELLED or
 * REFUNDED, recording who (the owner text), when and note. Refuses final entries and entries
 * leased by a live owner. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_close_entry(aop_journal_t *j, int64_t id, aop_entry_state_t as,
                                                           const char *who, const char *note, aop_error_t *err);

/** The MAC key of a journal's entries: derived (HKDF-SHA256) from the merchant's private key, so
 * only the key's holder can make a valid entry. Secret: never print it. */
typedef struct {
    unsigned char secret[32];             /**< the HMAC-SHA256 key */
    char id[AOP_JOURNAL_KEY_ID_SIZE];     /**< its id, stored with each entry (not secret) */
} aop_journal_key_t;

/** Derives the journal's MAC key from the merchant's private key. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_key_derive(const aop_private_key_t *merchant_key,
                                                          aop_journal_key_t *out, aop_error_t *err);
/** Sets e->key_id and e->mac: the MAC of every column a request is built from (kind, function,
 * merchant_id, key, payment_acquirement_id, amount, currency, gateway, client_id, the request and
 * the trusted acquirement_id). e must hold its request. */
AOP_API void aop_journal_entry_seal(const aop_journal_key_t *k, aop_journal_entry_t *e);

/** What checking an entry's MAC found. */
typedef enum {
    AOP_MAC_OK = 0,        /**< made by this key over what the entry holds */
    AOP_MAC_ALTERED = 1,   /**< made by this key's id, but over something else: the entry was altered */
    AOP_MAC_OTHER_KEY = 2, /**< made by another key (another merchant key, or an altered key id) */
    AOP_MAC_NONE = 3,      /**< no MAC (written by hand, or before entries had MACs and not sealed yet) */
    AOP_MAC_NO_REQUEST = 4 /**< the entry was read without its request: nothing to check */
} aop_mac_check_t;

/** Checks e's MAC with k (in constant time). */
AOP_API aop_mac_check_t aop_journal_entry_check(const aop_journal_key_t *k, const aop_journal_entry_t *e);
/** "ok", "altered", "another key", "none", "not read". */
AOP_API const char *aop_mac_check_name(aop_mac_check_t c);
/** MACs gateway's entries that predate MACs (a journal of an older version), once: the first
 * process that holds the key does it. *sealed (may be NULL) gets their number. */
AOP_API AOP_NODISCARD aop_status_t aop_journal_seal_legacy(aop_journal_t *j, const char *gateway,
                                                           const aop_journal_key_t *k, unsigned *sealed,
                                                           aop_error_t *err);

/** A new lease owner for this process: "host/boot-id/pid-namespace/pid/start-time#nonce". The
 * start time tells a reused pid apart; the random nonce tells apart the threads of one process
 * (and successive resolutions), so one thread never takes another's live lease as its own. */
AOP_API void aop_journal_self_owner(char out[AOP_JOURNAL_OWNER_SIZE]);
/** Whether lease_owner names a process that is no longer running: only when its host, boot id
 * and PID namespace are all this process's, and its pid is gone (or runs with another start
 * time). False whenever that cannot be known: another host, another boot, another container, an
 * owner text of an older version. Those leases are freed only by expiry. */
AOP_API bool aop_journal_owner_dead(const char *lease_owner);
/** Whether a live owner held e's lease when it was read (e->lease_held, decided by the store's
 * clock). now_ms is not used: kept for source compatibility. */
AOP_API bool aop_journal_lease_held(const aop_journal_entry_t *e, int64_t now_ms);
/** The gateway identity: the Alipay public key's fingerprint and the clientId, stable across
 * URLs and ports (the local sandbox restarts on any port and stays the same gateway). */
AOP_API void aop_journal_gateway_identity(const char *alipay_key_fingerprint, const char *client_id,
                                          char out[AOP_JOURNAL_GATEWAY_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
