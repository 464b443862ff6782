/* SPDX-License-Identifier: MIT */
/* The journal's columns, described once (journal_columns.c): a store builds its DDL, its inserts,
 * its partial updates and its reads from this table, the MAC covers the columns marked so, and
 * a store that keeps entries as structs (the tests' in-memory store) copies a write's columns
 * with aop_internal_journal_copy. Internal to the library and to stores built with it. */
#ifndef AOP_JOURNAL_COLUMNS_H
#define AOP_JOURNAL_COLUMNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aop/journal.h"

typedef enum {
    AOP_COL_INT = 1,  /* an integer member of width bytes (enum, unsigned, int64_t) */
    AOP_COL_BOOL = 2, /* a bool, stored 0 or 1 */
    AOP_COL_TEXT = 3, /* a char array of size bytes, NUL-terminated */
    AOP_COL_REQUEST = 4 /* the request and request_len */
} aop_col_type_t;

/* Which writes a column belongs to, beyond the public AOP_WRITE_* groups (bits 0-5). */
enum {
    AOP_COLW_STATE = 1u << 8,  /* state: every transition */
    AOP_COLW_TOUCH = 1u << 9,  /* updated_ms, epoch, clock_id: every transition and claim */
    AOP_COLW_LEASE = 1u << 10, /* the lease's expiry: transitions, claims, renewals */
    AOP_COLW_OWNER = 1u << 11, /* lease_owner: claims */
    AOP_COLW_REBASE = 1u << 12 /* the store-clock parts of the stamps: a claim moves them to its clock */
};
/* Every column: an insert. */
#define AOP_COLW_INSERT 0xffffu
/* What a transition writes besides w->columns, a claim and a renewal. */
#define AOP_COLW_TRANSITION (AOP_COLW_STATE | AOP_COLW_TOUCH | AOP_COLW_LEASE)
#define AOP_COLW_CLAIM (AOP_COLW_OWNER | AOP_COLW_LEASE | AOP_COLW_TOUCH | AOP_COLW_REBASE)
#define AOP_COLW_RENEW AOP_COLW_LEASE

typedef struct {
    const char *name;     /* the column's name in a database */
    aop_col_type_t type;
    size_t offset;        /* of the member in aop_journal_entry_t */
    size_t size;          /* text: the array's size; int: the member's width */
    unsigned writes;      /* AOP_WRITE_* and AOP_COLW_* groups that write it; 0: insert only */
    bool mac;             /* covered by the entry's MAC */
    unsigned since;       /* the SQLite schema version that added it (a migration adds it) */
    const char *check;    /* an SQL CHECK on the column, or NULL */
} aop_journal_column_t;

/* The columns after id, in the order of the SQLite table. */
extern const aop_journal_column_t aop_internal_journal_columns[];
extern const size_t aop_internal_journal_ncolumns;

/* Copies the members of the columns that mask writes from src to dst (a store that keeps
 * structs). The request goes only with AOP_COLW_INSERT. */
void aop_internal_journal_copy(aop_journal_entry_t *dst, const aop_journal_entry_t *src, unsigned mask);

/* Reads column c of entry e as an int64 (AOP_COL_INT, AOP_COL_BOOL) / writes it. */
long long aop_internal_journal_get_int(const aop_journal_entry_t *e, const aop_journal_column_t *c);
void aop_internal_journal_set_int(aop_journal_entry_t *e, const aop_journal_column_t *c, long long v);

/* Whether the value v read for integer column c is one an entry may hold (a kind, a state). */
bool aop_internal_journal_int_ok(const aop_journal_column_t *c, long long v);

/* The notification table's columns as every store reads them, each name after prefix (a table
 * alias, or ""), body standing for the body's (the body, or '' when not read). */
#define AOP_NOTICE_COLS(prefix, body)                                                                         \
    prefix "id, " prefix "gateway, " prefix "merchant_id, " prefix "key, " prefix "result_status, " prefix \
           "result_code, " prefix "received_ms, " body ", " prefix "deliveries, " prefix "last_received_ms, "  \
           prefix "state, " prefix "entry_id, " prefix "note"

/* A store's row of AOP_NOTICE_COLS, by column index: a text copied into dst (false when it does
 * not fit cap bytes, or is NULL), and a number. */
typedef struct {
    bool (*text)(const void *row, int col, char *dst, size_t cap);
    int64_t (*number)(const void *row, int col);
} aop_notice_row_t;

/* Reads row into n. A row that does not fit a notification decides nothing: it is handed over
 * REFUSED, its id and the reason in note. */
void aop_internal_notice_read(aop_journal_notice_t *n, const aop_notice_row_t *how, const void *row);

#endif
