/* SPDX-License-Identifier: MIT */
/* The states of a journal entry and the one table of the moves between them (docs/resolver.md,
 * "States"). The journal refuses any write that is not a move of this table (journal.c), so the
 * resolver, recovery and a close by hand all go through it. */
#include <assert.h>
#include <string.h>

#include "aop/journal.h"

static const char *const state_names[] = {
    [AOP_STATE_NEW] = "NEW",
    [AOP_STATE_PAY_SENT] = "PAY_SENT",
    [AOP_STATE_POLLING] = "POLLING",
    [AOP_STATE_CANCELLING] = "CANCELLING",
    [AOP_STATE_SENT] = "SENT",
    [AOP_STATE_UNRESOLVED] = "UNRESOLVED",
    [AOP_STATE_NEEDS_ATTENTION] = "NEEDS_ATTENTION",
    [AOP_STATE_PAID] = "PAID",
    [AOP_STATE_FAILED] = "FAILED",
    [AOP_STATE_CANCELLED] = "CANCELLED",
    [AOP_STATE_REFUNDED] = "REFUNDED",
    [AOP_STATE_LAST_CHECK] = "LAST_CHECK",
};
#define STATE_LAST AOP_STATE_LAST_CHECK
_Static_assert(sizeof state_names / sizeof *state_names == STATE_LAST + 1, "a state without a name");

bool aop_entry_state_valid(aop_entry_state_t s) { return (int)s >= AOP_STATE_NEW && (int)s <= STATE_LAST; }

bool aop_entry_state_final(aop_entry_state_t s) {
    return s == AOP_STATE_PAID || s == AOP_STATE_FAILED || s == AOP_STATE_CANCELLED || s == AOP_STATE_REFUNDED;
}

const char *aop_entry_state_name(aop_entry_state_t s) { return aop_entry_state_valid(s) ? state_names[s] : "?"; }

aop_entry_state_t aop_entry_state_from_name(const char *name) {
    if (!name) return (aop_entry_state_t)0;
    for (int s = AOP_STATE_NEW; s <= STATE_LAST; s++)
        if (strcmp(name, state_names[s]) == 0) return (aop_entry_state_t)s;
    return (aop_entry_state_t)0;
}

/* ---- the moves ------------------------------------------------------------------------------ */

#define B(s) (1u << (s))
/* Where an open payment goes on: back to a (re-)sent pay, the query, the cancel, the last query,
 * left open, or decided (CANCELLED only by a cancel or a query that reads it). PAY_SENT is never
 * a target: its number is kept for entries written by older versions, which are read as NEW. */
#define PAY_ON (B(AOP_STATE_NEW) | B(AOP_STATE_POLLING) | B(AOP_STATE_CANCELLING) | B(AOP_STATE_UNRESOLVED) | \
                B(AOP_STATE_NEEDS_ATTENTION) | B(AOP_STATE_PAID) | B(AOP_STATE_FAILED) | B(AOP_STATE_CANCELLED))
#define CLOSED_BY_HAND_PAY (B(AOP_STATE_PAID) | B(AOP_STATE_FAILED) | B(AOP_STATE_CANCELLED))
#define CLOSED_BY_HAND_REFUND (B(AOP_STATE_REFUNDED) | B(AOP_STATE_FAILED))

/* [from] = the states the resolver (or recovery) may write next; X -> X renews or releases the
 * lease. Payments: */
static const unsigned pay_moves[STATE_LAST + 1] = {
    [AOP_STATE_NEW] = PAY_ON,
    [AOP_STATE_PAY_SENT] = PAY_ON,
    [AOP_STATE_POLLING] = PAY_ON,
    /* a cancel under way: again, its last query, or its outcome; a single call re-sends the pay;
     * NEEDS_ATTENTION when the entry was altered */
    [AOP_STATE_CANCELLING] = B(AOP_STATE_NEW) | B(AOP_STATE_CANCELLING) | B(AOP_STATE_LAST_CHECK) |
                             B(AOP_STATE_UNRESOLVED) | B(AOP_STATE_NEEDS_ATTENTION) | B(AOP_STATE_CANCELLED),
    [AOP_STATE_LAST_CHECK] = B(AOP_STATE_NEW) | B(AOP_STATE_LAST_CHECK) | B(AOP_STATE_UNRESOLVED) |
                             B(AOP_STATE_NEEDS_ATTENTION) | B(AOP_STATE_PAID) | B(AOP_STATE_FAILED) |
                             B(AOP_STATE_CANCELLED),
    [AOP_STATE_UNRESOLVED] = PAY_ON,
    /* a person decides: no call settles a contradiction */
    [AOP_STATE_NEEDS_ATTENTION] = B(AOP_STATE_NEEDS_ATTENTION),
    [AOP_STATE_PAID] = B(AOP_STATE_PAID),
    /* the watch query: it agrees (the state stays, the watch is cleared), finds the payment paid
     * after all (the late PAID), or paid with another amount */
    [AOP_STATE_FAILED] = B(AOP_STATE_FAILED) | B(AOP_STATE_PAID) | B(AOP_STATE_NEEDS_ATTENTION),
    [AOP_STATE_CANCELLED] = B(AOP_STATE_CANCELLED) | B(AOP_STATE_PAID) | B(AOP_STATE_NEEDS_ATTENTION),
};
/* Refunds: re-sent identically until decided; FAILED only while nothing has left (NEW);
 * NEEDS_ATTENTION only when the entry was altered (its MAC does not verify: nothing is sent). */
static const unsigned refund_moves[STATE_LAST + 1] = {
    [AOP_STATE_NEW] = B(AOP_STATE_NEW) | B(AOP_STATE_SENT) | B(AOP_STATE_UNRESOLVED) | B(AOP_STATE_REFUNDED) |
                      B(AOP_STATE_FAILED) | B(AOP_STATE_NEEDS_ATTENTION),
    [AOP_STATE_SENT] = B(AOP_STATE_SENT) | B(AOP_STATE_UNRESOLVED) | B(AOP_STATE_REFUNDED) |
                       B(AOP_STATE_NEEDS_ATTENTION),
    [AOP_STATE_UNRESOLVED] = B(AOP_STATE_SENT) | B(AOP_STATE_UNRESOLVED) | B(AOP_STATE_REFUNDED) |
                             B(AOP_STATE_NEEDS_ATTENTION),
    [AOP_STATE_NEEDS_ATTENTION] = B(AOP_STATE_NEEDS_ATTENTION),
    [AOP_STATE_REFUNDED] = B(AOP_STATE_REFUNDED),
    [AOP_STATE_FAILED] = B(AOP_STATE_FAILED),
};

bool aop_entry_move_allowed(aop_entry_kind_t kind, aop_entry_state_t from, aop_entry_state_t to, aop_mover_t by) {
    if (!aop_entry_state_valid(from) || !aop_entry_state_valid(to) || to == AOP_STATE_PAY_SENT) return false;
    if (kind != AOP_ENTRY_PAYMENT && kind != AOP_ENTRY_REFUND) return false;
    if (by == AOP_MOVER_HAND) {
        /* a person closes what the resolver left to people or to later */
        if (from != AOP_STATE_UNRESOLVED && from != AOP_STATE_NEEDS_ATTENTION) return false;
        return (B(to) & (kind == AOP_ENTRY_PAYMENT ? CLOSED_BY_HAND_PAY : CLOSED_BY_HAND_REFUND)) != 0;
    }
    if (by != AOP_MOVER_RESOLVER) return false;
    return (B(to) & (kind == AOP_ENTRY_PAYMENT ? pay_moves : refund_moves)[from]) != 0;
}
