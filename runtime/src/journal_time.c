/* SPDX-License-Identifier: MIT */
/* The journal's time and leases (journal_time.h): stamps on the store's clock, and the rules every
 * store applies with its own now. */
#include "journal_time.h"

#include <stdio.h>
#include <string.h>

#include "aop/util.h"
#include "boot_clock.h"

int64_t aop_journal_elapsed_ms(const aop_journal_now_t *now, const char *clock_id, int64_t wall_ms, int64_t clock_ms) {
    if (clock_id && clock_id[0] && strcmp(clock_id, now->clock_id) == 0) return now->clock_ms - clock_ms;
    return now->wall_ms - wall_ms;
}

void aop_internal_journal_boot_now(aop_journal_now_t *out) {
    out->wall_ms = aop_now_ms();
    out->clock_ms = aop_internal_boot_ms();
    snprintf(out->clock_id, sizeof out->clock_id, "%s", aop_internal_boot_id());
}

/* A stamp at now + in_ms, on both clocks. */
static void at(const aop_journal_now_t *now, int64_t in_ms, int64_t *wall, int64_t *clock) {
    *wall = now->wall_ms + in_ms;
    *clock = now->clock_ms + in_ms;
}

void aop_internal_journal_stamp_lease(aop_journal_entry_t *e, const aop_journal_now_t *now, int64_t lease_ttl_ms) {
    at(now, lease_ttl_ms > 0 ? lease_ttl_ms : 0, &e->lease_expires_ms, &e->lease_expires_clock_ms);
}

void aop_internal_journal_stamp_insert(aop_journal_entry_t *e, const aop_journal_now_t *now, int64_t lease_ttl_ms) {
    snprintf(e->clock_id, sizeof e->clock_id, "%s", now->clock_id);
    e->created_ms = e->updated_ms = now->wall_ms;
    at(now, 0, &e->pay_started_ms, &e->pay_started_clock_ms);
    aop_internal_journal_stamp_lease(e, now, lease_ttl_ms);
    /* due for recovery at once, and no watch until an outcome sets one */
    e->next_attempt_ms = e->next_attempt_clock_ms = e->backoff_ms = 0;
    if (!e->watch) e->watch_due_ms = e->watch_due_clock_ms = 0;
}

void aop_internal_journal_stamp_write(aop_journal_entry_t *e, const aop_journal_now_t *now,
                                      const aop_journal_write_t *w) {
    snprintf(e->clock_id, sizeof e->clock_id, "%s", now->clock_id);
    e->updated_ms = now->wall_ms;
    aop_internal_journal_stamp_lease(e, now, w->lease_ttl_ms);
    if (w->columns & AOP_WRITE_PAY_START) at(now, 0, &e->pay_started_ms, &e->pay_started_clock_ms);
    if (w->columns & AOP_WRITE_WATCH) {
        if (e->watch)
            at(now, w->watch_in_ms, &e->watch_due_ms, &e->watch_due_clock_ms);
        else
            e->watch_due_ms = e->watch_due_clock_ms = 0;
    }
    if (w->columns & AOP_WRITE_NEXT_ATTEMPT) at(now, w->next_attempt_in_ms, &e->next_attempt_ms, &e->next_attempt_clock_ms);
}

void aop_internal_journal_rebase(aop_journal_entry_t *e, const aop_journal_now_t *now) {
    if (strcmp(e->clock_id, now->clock_id) == 0) return;
    struct {
        int64_t wall, *clock;
    } stamps[] = {{e->pay_started_ms, &e->pay_started_clock_ms},
                  {e->watch_due_ms, &e->watch_due_clock_ms},
                  {e->next_attempt_ms, &e->next_attempt_clock_ms},
                  {e->lease_expires_ms, &e->lease_expires_clock_ms}};
    /* another clock (a reboot): how long ago by the wall clock, carried over to now's clock */
    for (size_t i = 0; i < sizeof stamps / sizeof *stamps; i++)
        *stamps[i].clock = now->clock_ms - aop_journal_elapsed_ms(now, e->clock_id, stamps[i].wall, *stamps[i].clock);
    snprintf(e->clock_id, sizeof e->clock_id, "%s", now->clock_id);
}

static bool expired(const aop_journal_entry_t *e, const aop_journal_now_t *now) {
    return aop_journal_elapsed_ms(now, e->clock_id, e->lease_expires_ms, e->lease_expires_clock_ms) >= 0;
}

bool aop_internal_journal_lease_live(const aop_journal_entry_t *e, const aop_journal_now_t *now) {
    return e->lease_owner[0] && !expired(e, now) && !aop_journal_owner_dead(e->lease_owner);
}

bool aop_internal_journal_claimable(const aop_journal_entry_t *e, const char *owner, const aop_journal_now_t *now) {
    return !aop_internal_journal_lease_live(e, now) || strcmp(e->lease_owner, owner) == 0;
}

bool aop_internal_journal_watch_due(const aop_journal_entry_t *e, const aop_journal_now_t *now) {
    return e->watch && aop_journal_elapsed_ms(now, e->clock_id, e->watch_due_ms, e->watch_due_clock_ms) >= 0;
}

bool aop_internal_journal_matches(const aop_journal_entry_t *e, const aop_journal_filter_t *f,
                                  const aop_journal_now_t *now) {
    if (f->gateway && strcmp(e->gateway, f->gateway) != 0) return false;
    bool open = !aop_entry_state_final(e->state);
    switch (f->which) {
    case AOP_LIST_OPEN: return open;
    case AOP_LIST_OPEN_OR_WATCH_DUE: return open || aop_internal_journal_watch_due(e, now);
    default: return true;
    }
}
