/* SPDX-License-Identifier: MIT */
/* The interface between libaop and a journal store built as a module of its own (the PostgreSQL
 * store, libaop-journal-pg.so.0): aop_journal_open() loads the module and calls its one exported
 * function with the host's table below. The module calls nothing of libaop by name: everything
 * it uses of the library comes through this table, so that it works under the libaop that
 * loaded it, shared or linked statically into a program, and the rules it applies (the column
 * table, the stamps and leases of journal_time.c, the rows D) are the library's own, not a copy.
 * Internal: libaop and its modules are built together (the module's SONAME changes when this
 * table changes incompatibly; members are only added at the end, struct_size says how many). */
#ifndef AOP_JOURNAL_MODULE_H
#define AOP_JOURNAL_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aop/error.h"
#include "aop/journal.h"
#include "journal_columns.h"
#include "resolver_rows.h"

#define AOP_JOURNAL_HOST_ABI 1

typedef struct {
    size_t struct_size;
    unsigned abi; /* AOP_JOURNAL_HOST_ABI */
    const char *library_version;
    aop_status_t (*error_set)(aop_error_t *err, aop_status_t code, const char *path, long offset, const char *fmt, ...)
        AOP_PRINTF(5, 6);
    aop_status_t (*open_custom)(const aop_journal_ops_t *ops, void *store, aop_journal_t **out, aop_error_t *err);
    bool (*uri_redact)(const char *uri, char *out, size_t cap);
    /* the column table (journal_columns.h) */
    const aop_journal_column_t *columns;
    size_t ncolumns;
    long long (*get_int)(const aop_journal_entry_t *e, const aop_journal_column_t *c);
    void (*set_int)(aop_journal_entry_t *e, const aop_journal_column_t *c, long long v);
    bool (*int_ok)(const aop_journal_column_t *c, long long v);
    /* stamps and leases (journal_time.h) */
    void (*stamp_insert)(aop_journal_entry_t *e, const aop_journal_now_t *now, int64_t lease_ttl_ms);
    void (*stamp_write)(aop_journal_entry_t *e, const aop_journal_now_t *now, const aop_journal_write_t *w);
    void (*stamp_lease)(aop_journal_entry_t *e, const aop_journal_now_t *now, int64_t lease_ttl_ms);
    void (*rebase)(aop_journal_entry_t *e, const aop_journal_now_t *now);
    bool (*claimable)(const aop_journal_entry_t *e, const char *owner, const aop_journal_now_t *now);
    bool (*watch_due)(const aop_journal_entry_t *e, const aop_journal_now_t *now);
    int64_t (*elapsed_ms)(const aop_journal_now_t *now, const char *clock_id, int64_t wall_ms, int64_t clock_ms);
    /* the rows D of docs/resolver.md */
    void (*decide_due)(const rsv_due_facts_t *f, rsv_due_decision_t *d);
    /* this process's lease owner text ("host/boot-id/pid-namespace/pid/start#nonce") */
    void (*self_owner)(char out[AOP_JOURNAL_OWNER_SIZE]);
    const char *(*state_name)(aop_entry_state_t s);
    const char *(*notice_state_name)(aop_notice_state_t s);
    /* a row of the notification table (journal_columns.h) */
    void (*notice_read)(aop_journal_notice_t *n, const aop_notice_row_t *how, const void *row);
} aop_journal_host_t;

/* What a module exports: opens the store of uri and wraps it with host->open_custom. */
typedef aop_status_t (*aop_journal_module_open_fn)(const aop_journal_host_t *host, const char *uri,
                                                   aop_journal_t **out, aop_error_t *err);
#define AOP_JOURNAL_PG_MODULE "libaop-journal-pg.so.0"
#define AOP_JOURNAL_PG_SYMBOL "aop_journal_module_pg_open"

#endif
