/* SPDX-License-Identifier: MIT */
/* The journal's time and leases, as every store decides them (journal_time.c): the stamps a
 * write makes on the store's clock, and the predicates a store applies with its own now (a lease
 * held, a claim allowed, a watch due, a list's filter). A store that compares in SQL applies the
 * same rules there; the conformance suite holds both to them. */
#ifndef AOP_JOURNAL_TIME_H
#define AOP_JOURNAL_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "aop/journal.h"

/* The stamps a store makes: created, updated and the pay's start (an insert), the lease (ttl from
 * now; 0 = now), the watch's and the next attempt's due times. */
void aop_internal_journal_stamp_insert(aop_journal_entry_t *e, const aop_journal_now_t *now, int64_t lease_ttl_ms);
void aop_internal_journal_stamp_write(aop_journal_entry_t *e, const aop_journal_now_t *now,
                                      const aop_journal_write_t *w);
void aop_internal_journal_stamp_lease(aop_journal_entry_t *e, const aop_journal_now_t *now, int64_t lease_ttl_ms);
/* Moves e's store-clock stamps to now's clock (a claim after a reboot), through the wall clock. */
void aop_internal_journal_rebase(aop_journal_entry_t *e, const aop_journal_now_t *now);

/* Whether a lease is held at now by a live owner other than nobody (the store's clock decides). */
bool aop_internal_journal_lease_live(const aop_journal_entry_t *e, const aop_journal_now_t *now);
/* Whether e is free for owner to claim at now. */
bool aop_internal_journal_claimable(const aop_journal_entry_t *e, const char *owner, const aop_journal_now_t *now);
/* Whether e's watch query is due at now. */
bool aop_internal_journal_watch_due(const aop_journal_entry_t *e, const aop_journal_now_t *now);
/* Whether e passes filter f at now (f's which and gateway). */
bool aop_internal_journal_matches(const aop_journal_entry_t *e, const aop_journal_filter_t *f,
                                  const aop_journal_now_t *now);

/* The clock of the embedded stores: CLOCK_BOOTTIME with the boot's id, and the wall clock. */
void aop_internal_journal_boot_now(aop_journal_now_t *out);

#endif
