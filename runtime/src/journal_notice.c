/* SPDX-License-Identifier: MIT */
/* The journal's notification table and sync (aop/journal.h): argument checks in front of every
 * store, so a store never sees a malformed row, and the paged list. These operations have no
 * fallback: a store without them keeps no notifications (AOP_E_JOURNAL_UNSUPPORTED). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "journal_internal.h"

#define lock aop_internal_journal_lock
#define unlock aop_internal_journal_unlock

static const char *const notice_names[] = {NULL, "PENDING", "APPLIED", "NO_ENTRY", "REFUSED"};

static bool notice_state_valid(aop_notice_state_t s) { return s >= AOP_NOTICE_PENDING && s <= AOP_NOTICE_REFUSED; }

const char *aop_notice_state_name(aop_notice_state_t s) { return notice_state_valid(s) ? notice_names[s] : "?"; }

void aop_journal_notice_filter_init(aop_journal_notice_filter_t *f) {
    if (!f) return;
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
}

static aop_status_t unsupported(const char *what, aop_error_t *err) {
    return aop_error_set(err, AOP_E_JOURNAL_UNSUPPORTED, "journal", -1,
                         "this journal's store has no %s operation: it keeps no notifications", what);
}

static aop_status_t check_handle(aop_journal_t *j, aop_error_t *err) {
    aop_error_clear(err);
    return j ? AOP_OK : aop_error_set(err, AOP_E_INVALID_ARG, "journal", -1, "the journal is NULL");
}

aop_status_t aop_journal_sync(aop_journal_t *j, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, err);
    if (st != AOP_OK) return st;
    if (!AOP_JOURNAL_HAS(j->ops, sync)) return unsupported("sync", err);
    lock(j);
    st = j->ops->sync(j->store, err);
    unlock(j);
    return st;
}

aop_status_t aop_journal_notices_supported(aop_journal_t *j, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, err);
    if (st != AOP_OK) return st;
    if (!AOP_JOURNAL_HAS(j->ops, sync)) return unsupported("sync", err);
    if (!AOP_JOURNAL_HAS(j->ops, notice_record)) return unsupported("notice_record", err);
    if (!AOP_JOURNAL_HAS(j->ops, notice_list)) return unsupported("notice_list", err);
    if (!AOP_JOURNAL_HAS(j->ops, notice_mark)) return unsupported("notice_mark", err);
    return AOP_OK;
}

#define CHECK_TEXT(n, m, req) AOP_JOURNAL_CHECK_TEXT("notice", n, m, req)

static aop_status_t check_notice(const aop_journal_notice_t *n, aop_error_t *err) {
    CHECK_TEXT(n, gateway, true);
    CHECK_TEXT(n, merchant_id, false);
    CHECK_TEXT(n, key, true);
    CHECK_TEXT(n, result_status, true);
    CHECK_TEXT(n, result_code, false);
    CHECK_TEXT(n, note, false);
    if (strcmp(n->result_status, "S") && strcmp(n->result_status, "F") && strcmp(n->result_status, "U"))
        return aop_error_set(err, AOP_E_BAD_ENUM, "notice.result_status", -1, "result_status is neither S, F nor U");
    if (!notice_state_valid(n->state))
        return aop_error_set(err, AOP_E_BAD_ENUM, "notice.state", -1, "state %d is no notification state",
                             (int)n->state);
    if (n->body_len == 0 || n->body_len >= AOP_JOURNAL_NOTICE_BODY_MAX)
        return aop_error_set(err, AOP_E_TOO_LONG, "notice.body", -1,
                             "the body is %zu bytes; the journal keeps 1 to %d", n->body_len,
                             AOP_JOURNAL_NOTICE_BODY_MAX - 1);
    if (memchr(n->body, '\0', n->body_len))
        return aop_error_set(err, AOP_E_BAD_UTF8, "notice.body", -1, "the body contains a NUL byte");
    if (n->entry_id < 0) return aop_error_set(err, AOP_E_INVALID_ARG, "notice.entry_id", -1, "entry_id is negative");
    return AOP_OK;
}

aop_status_t aop_journal_notice_record(aop_journal_t *j, const aop_journal_notice_t *n, aop_journal_notice_t *stored,
                                       bool *inserted, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, err);
    if (st != AOP_OK) return st;
    if (!n || !stored || n == stored)
        return aop_error_set(err, AOP_E_INVALID_ARG, n ? "stored" : "notice", -1,
                             "give the notification and a distinct row for what is stored");
    if (!AOP_JOURNAL_HAS(j->ops, notice_record)) return unsupported("notice_record", err);
    if ((st = check_notice(n, err)) != AOP_OK) return st;
    bool ins = false;
    lock(j);
    st = j->ops->notice_record(j->store, n, stored, &ins, err);
    unlock(j);
    /* the store's contract: the stored row is the key's, and counts this delivery */
    assert(st != AOP_OK || (stored->id > 0 && stored->deliveries >= 1 && !strcmp(stored->key, n->key)));
    if (inserted) *inserted = st == AOP_OK && ins;
    return st;
}

#define PAGE 8

aop_status_t aop_journal_notice_list(aop_journal_t *j, const aop_journal_notice_filter_t *f, aop_journal_notice_fn fn,
                                     void *ctx, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, err);
    if (st != AOP_OK) return st;
    if (!fn) return aop_error_set(err, AOP_E_INVALID_ARG, "fn", -1, "fn is NULL");
    if (!AOP_JOURNAL_HAS(j->ops, notice_list)) return unsupported("notice_list", err);
    aop_journal_notice_filter_t all;
    aop_journal_notice_filter_init(&all);
    if (f && (f->struct_size == 0 || f->struct_size > sizeof all))
        return aop_error_set(err, AOP_E_INVALID_ARG, "filter.struct_size", -1,
                             "fill the filter with aop_journal_notice_filter_init()");
    if (f) memcpy(&all, f, f->struct_size);
    all.struct_size = sizeof all;
    if (all.state && !notice_state_valid(all.state))
        return aop_error_set(err, AOP_E_BAD_ENUM, "filter.state", -1, "state %d is no notification state",
                             (int)all.state);
    aop_journal_notice_t *page = malloc(PAGE * sizeof *page);
    if (!page) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a page of notifications");
    int64_t after = 0;
    for (bool more = true; more && st == AOP_OK;) {
        size_t n = 0;
        lock(j);
        st = j->ops->notice_list(j->store, &all, after, page, PAGE, &n, err);
        unlock(j);
        assert(st != AOP_OK || n <= PAGE);
        for (size_t i = 0; st == AOP_OK && more && i < n; i++) {
            assert(page[i].id > after); /* a page is in id order, after the last one */
            after = page[i].id;
            more = fn(&page[i], ctx);
        }
        if (n < PAGE) more = false;
    }
    free(page);
    return st;
}

aop_status_t aop_journal_notice_mark(aop_journal_t *j, int64_t id, aop_notice_state_t expect,
                                     aop_notice_state_t state, int64_t entry_id, const char *note, aop_error_t *err) {
    AOP_JOURNAL_ERR(err);
    aop_status_t st = check_handle(j, err);
    if (st != AOP_OK) return st;
    if (!AOP_JOURNAL_HAS(j->ops, notice_mark)) return unsupported("notice_mark", err);
    if (!notice_state_valid(expect) || !notice_state_valid(state))
        return aop_error_set(err, AOP_E_BAD_ENUM, notice_state_valid(expect) ? "state" : "expect", -1,
                             "%d is no notification state", notice_state_valid(expect) ? (int)state : (int)expect);
    if (entry_id < 0) return aop_error_set(err, AOP_E_INVALID_ARG, "entry_id", -1, "entry_id is negative");
    if (!note) note = "";
    if (strlen(note) >= AOP_JOURNAL_NOTE_SIZE)
        return aop_error_set(err, AOP_E_TOO_LONG, "note", -1, "the note is longer than %d bytes",
                             AOP_JOURNAL_NOTE_SIZE - 1);
    lock(j);
    st = j->ops->notice_mark(j->store, id, expect, state, entry_id, note, err);
    unlock(j);
    return st;
}
