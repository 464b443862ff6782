/* SPDX-License-Identifier: MIT */
/* The journal's columns, once (journal_columns.h). The order is the SQLite table's: the columns
 * of schema version 1, then those later versions added at the end (ALTER TABLE ADD COLUMN), so a
 * migrated table and a new one are the same table. */
#include "journal_columns.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define M(member) offsetof(aop_journal_entry_t, member)
#define W(member) sizeof(((aop_journal_entry_t *)0)->member)
#define TEXT(name, writes, mac, since) {#name, AOP_COL_TEXT, M(name), W(name), writes, mac, since, NULL}
#define INT(name, writes, since) {#name, AOP_COL_INT, M(name), W(name), writes, false, since, NULL}
#define BOOL(name, writes, since) {#name, AOP_COL_BOOL, M(name), W(name), writes, false, since, NULL}

/* The SQL names states and kinds by their numbers, which are the enums' and never change. */
_Static_assert(AOP_STATE_NEW == 1 && AOP_STATE_LAST_CHECK == 12, "the state CHECK names 1 to 12");
_Static_assert(AOP_ENTRY_PAYMENT == 1 && AOP_ENTRY_REFUND == 2, "the kind CHECK names 1 and 2");

const aop_journal_column_t aop_internal_journal_columns[] = {
    {"kind", AOP_COL_INT, M(kind), W(kind), 0, true, 1, "kind IN (1, 2)"},
    TEXT(function, 0, true, 1),
    TEXT(merchant_id, 0, true, 1),
    TEXT(key, 0, true, 1),
    TEXT(payment_acquirement_id, 0, true, 1),
    TEXT(amount, 0, true, 1),
    TEXT(currency, 0, true, 1),
    TEXT(gateway, 0, true, 1),
    TEXT(client_id, 0, true, 1),
    {"state", AOP_COL_INT, M(state), W(state), AOP_COLW_STATE, false, 1, "state BETWEEN 1 AND 12"},
    TEXT(last_status, AOP_WRITE_CALL, false, 1),
    TEXT(last_code, AOP_WRITE_CALL, false, 1),
    TEXT(acquirement_id, AOP_WRITE_ACQUIREMENT, true, 1),
    INT(created_ms, 0, 1),
    INT(last_attempt_ms, AOP_WRITE_CALL, 1),
    INT(updated_ms, AOP_COLW_TOUCH, 1),
    INT(pay_started_ms, AOP_WRITE_PAY_START, 1),
    INT(pay_deadline_ms, AOP_WRITE_PAY_START, 1),
    INT(attempts, AOP_WRITE_CALL, 1),
    BOOL(acknowledged, AOP_WRITE_CALL, 1),
    BOOL(watch, AOP_WRITE_WATCH, 1),
    INT(watch_due_ms, AOP_WRITE_WATCH, 1),
    TEXT(lease_owner, AOP_COLW_OWNER, false, 1),
    INT(lease_expires_ms, AOP_COLW_LEASE, 1),
    INT(epoch, AOP_COLW_TOUCH, 1),
    TEXT(note, AOP_WRITE_NOTE, false, 1),
    {"request", AOP_COL_REQUEST, M(request), W(request), 0, true, 1, NULL},
    /* version 2 (as boot_id, pay_started_boot_ms, watch_due_boot_ms; renamed by version 3) */
    TEXT(clock_id, AOP_COLW_TOUCH, false, 2),
    INT(pay_started_clock_ms, AOP_WRITE_PAY_START | AOP_COLW_REBASE, 2),
    INT(watch_due_clock_ms, AOP_WRITE_WATCH | AOP_COLW_REBASE, 2),
    /* version 3 */
    INT(lease_expires_clock_ms, AOP_COLW_LEASE, 3),
    INT(next_attempt_ms, AOP_WRITE_NEXT_ATTEMPT, 3),
    INT(next_attempt_clock_ms, AOP_WRITE_NEXT_ATTEMPT | AOP_COLW_REBASE, 3),
    INT(backoff_ms, AOP_WRITE_NEXT_ATTEMPT, 3),
    TEXT(key_id, AOP_WRITE_ACQUIREMENT, true, 3),
    TEXT(mac, AOP_WRITE_ACQUIREMENT, false, 3),
    /* version 4 */
    BOOL(cancel_sent, AOP_WRITE_CANCEL, 4),
};
const size_t aop_internal_journal_ncolumns = sizeof aop_internal_journal_columns / sizeof *aop_internal_journal_columns;

/* Every member of an entry but id and the read-time flags (lease_held, unreadable, has_request,
 * request_len, which goes with request) is a column: a member added without its column fails here. */
_Static_assert(sizeof aop_internal_journal_columns / sizeof *aop_internal_journal_columns == 37,
               "an entry member without its column (or a column without its member)");

long long aop_internal_journal_get_int(const aop_journal_entry_t *e, const aop_journal_column_t *c) {
    const char *p = (const char *)e + c->offset;
    if (c->type == AOP_COL_BOOL) return *(const bool *)(const void *)p ? 1 : 0;
    assert(c->type == AOP_COL_INT);
    if (c->size == sizeof(int64_t)) {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    assert(c->size == sizeof(int)); /* the enums, and attempts (an unsigned below INT_MAX) */
    int v;
    memcpy(&v, p, sizeof v);
    return v;
}

void aop_internal_journal_set_int(aop_journal_entry_t *e, const aop_journal_column_t *c, long long v) {
    char *p = (char *)e + c->offset;
    if (c->type == AOP_COL_BOOL) {
        *(bool *)(void *)p = v != 0;
        return;
    }
    assert(c->type == AOP_COL_INT);
    if (c->size == sizeof(int64_t)) {
        int64_t x = (int64_t)v;
        memcpy(p, &x, sizeof x);
    } else {
        int x = (int)v;
        memcpy(p, &x, sizeof x);
    }
}

bool aop_internal_journal_int_ok(const aop_journal_column_t *c, long long v) {
    if (!strcmp(c->name, "kind")) return v == AOP_ENTRY_PAYMENT || v == AOP_ENTRY_REFUND;
    if (!strcmp(c->name, "state")) return aop_entry_state_valid((aop_entry_state_t)v);
    if (c->size == sizeof(int)) return v >= 0 && v <= 0x7fffffffLL; /* attempts */
    return true;
}

void aop_internal_journal_copy(aop_journal_entry_t *dst, const aop_journal_entry_t *src, unsigned mask) {
    for (size_t i = 0; i < aop_internal_journal_ncolumns; i++) {
        const aop_journal_column_t *c = &aop_internal_journal_columns[i];
        bool written = mask == AOP_COLW_INSERT || (c->writes & mask) != 0;
        if (!written) continue;
        if (c->type == AOP_COL_REQUEST) {
            dst->request_len = src->request_len;
            memcpy(dst->request, src->request, src->request_len);
            dst->request[src->request_len] = '\0';
            dst->has_request = true;
        } else {
            memcpy((char *)dst + c->offset, (const char *)src + c->offset, c->size);
        }
    }
}

void aop_internal_notice_read(aop_journal_notice_t *n, const aop_notice_row_t *how, const void *row) {
    memset(n, 0, offsetof(aop_journal_notice_t, body));
    n->body[0] = '\0';
    n->id = how->number(row, 0);
    const char *bad = !how->text(row, 1, n->gateway, sizeof n->gateway)               ? "gateway"
                      : !how->text(row, 2, n->merchant_id, sizeof n->merchant_id)     ? "merchant_id"
                      : !how->text(row, 3, n->key, sizeof n->key)                     ? "key"
                      : !how->text(row, 4, n->result_status, sizeof n->result_status) ? "result_status"
                      : !how->text(row, 5, n->result_code, sizeof n->result_code)     ? "result_code"
                      : !how->text(row, 7, n->body, sizeof n->body)                   ? "body"
                      : !how->text(row, 12, n->note, sizeof n->note)                  ? "note"
                                                                                      : NULL;
    n->received_ms = how->number(row, 6);
    n->body_len = strlen(n->body);
    int64_t deliveries = how->number(row, 8);
    n->deliveries = deliveries > 0 && deliveries < 0x7fffffff ? (unsigned)deliveries : 0;
    n->last_received_ms = how->number(row, 9);
    int64_t state = how->number(row, 10);
    n->entry_id = how->number(row, 11);
    n->state = state >= AOP_NOTICE_PENDING && state <= AOP_NOTICE_REFUSED ? (aop_notice_state_t)state : 0;
    if (!bad && !n->state) bad = "state";
    if (!bad) return;
    n->state = AOP_NOTICE_REFUSED;
    n->body_len = 0;
    n->body[0] = '\0';
    snprintf(n->note, sizeof n->note, "notification %lld cannot be read: its %s does not fit a notification",
             (long long)n->id, bad);
}
