/* SPDX-License-Identifier: MIT */
/* The in-memory journal store of the tests (mem_store.c): the operations of aop/journal.h that are
 * required, none of the optional ones that have a fallback (so journal.c's fallbacks run), and
 * the notification table and sync (which have none; mem_store_open_ex can leave them out, as an
 * older store would), in shared memory, so that a forked child killed mid-payment leaves its
 * entries to the parent's recovery. It passes the conformance suite
 * (test_journal_conformance.c), and has switches that make its operations fail. */
#ifndef AOP_TEST_MEM_STORE_H
#define AOP_TEST_MEM_STORE_H

#include <stdbool.h>

#include "aop/journal.h"

#define MEM_MAX 64
#define MEM_NOTICES 16
typedef struct {
    unsigned n;
    int64_t next_id;
    unsigned inserts, transitions, claims, renewals;
    aop_status_t fail_insert; /* inserts fail with this status and fail_msg (0: they do not) */
    char fail_msg[128];
    bool fail_claim;        /* claims fail with a storage error (AOP_E_JOURNAL) */
    aop_status_t fail_get;  /* gets fail with this status */
    int64_t clock_offset_ms; /* the store's clock runs this far ahead of the boot clock */
    aop_journal_entry_t e[MEM_MAX];
    unsigned nn;   /* notifications */
    unsigned syncs; /* sync calls */
    aop_journal_notice_t notices[MEM_NOTICES];
} mem_store_t;

/* A journal over a fresh store in shared memory; *store (may be NULL) gets the store. Asserts
 * (Criterion) that it opens. */
aop_journal_t *mem_journal(mem_store_t **store);
/* The same without Criterion: AOP_OK, or why not. */
aop_status_t mem_store_open(mem_store_t **store, aop_journal_t **j, aop_error_t *err);
/* mem_store_open, with the notification operations and sync or without them. */
aop_status_t mem_store_open_ex(mem_store_t **store, aop_journal_t **j, bool notices, aop_error_t *err);
/* The entry id of the store, or NULL. */
aop_journal_entry_t *mem_get(mem_store_t *m, int64_t id);
/* Hands entry i's lease to owner until in_ms from the store's now (as another process's claim). */
void mem_set_lease(mem_store_t *m, unsigned i, const char *owner, int64_t in_ms);
/* Makes entry i's watch due in_ms from the store's now (negative: overdue). */
void mem_set_watch(mem_store_t *m, unsigned i, int64_t in_ms);

#endif
