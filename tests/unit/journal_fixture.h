/* SPDX-License-Identifier: MIT */
/* What the journal's suites share (test_journal.c, test_journal_conformance.c): entries with every
 * member set, comparisons member by member, and short ways to insert, find, claim and write. */
#ifndef AOP_TEST_JOURNAL_FIXTURE_H
#define AOP_TEST_JOURNAL_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aop/journal.h"
#include "aop/util.h"

#define JF_UNUSED __attribute__((unused))

static const char *const other_host_owner = "another-host.example/00000000-0000-0000-0000-000000000000/1/4242/99#x";

/* An entry with every member a caller sets set to something of its own. */
static JF_UNUSED aop_journal_entry_t *new_entry(aop_entry_kind_t kind, const char *key) {
    aop_journal_entry_t *e = calloc(1, sizeof *e);
    cr_assert_not_null(e);
    e->kind = kind;
    snprintf(e->function, sizeof e->function, "%s", kind == AOP_ENTRY_PAYMENT ? "alipay.acquire.overseas.spot.pay"
                                                                               : "alipay.acquire.overseas.spot.refund");
    snprintf(e->merchant_id, sizeof e->merchant_id, "M0000001");
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->payment_acquirement_id, sizeof e->payment_acquirement_id, "%s", kind == AOP_ENTRY_REFUND ? "ACQ-P" : "");
    snprintf(e->amount, sizeof e->amount, "1234");
    snprintf(e->currency, sizeof e->currency, "USD");
    snprintf(e->gateway, sizeof e->gateway, "SHA256:abcd/2188000000000000");
    snprintf(e->client_id, sizeof e->client_id, "2188000000000000");
    snprintf(e->last_status, sizeof e->last_status, "U PAYMENT_IN_PROCESS");
    snprintf(e->last_code, sizeof e->last_code, "PAYMENT_IN_PROCESS");
    snprintf(e->acquirement_id, sizeof e->acquirement_id, "2026112500000001");
    e->last_attempt_ms = 1764000000002;
    e->pay_deadline_ms = 15000;
    e->attempts = 3;
    e->acknowledged = true;
    snprintf(e->lease_owner, sizeof e->lease_owner, "inserter/1/1");
    snprintf(e->note, sizeof e->note, "note of %s", key);
    snprintf(e->key_id, sizeof e->key_id, "0123456789abcdef");
    snprintf(e->mac, sizeof e->mac, "%064d", 7);
    e->request_len = (size_t)snprintf(e->request, sizeof e->request,
                                      "{\"merchantTransId\":\"%s\",\"transAmount\":{\"value\":\"1234\"}}", key);
    return e;
}

/* Every member, the read-time flags but has_request and lease_held apart. */
static JF_UNUSED void expect_same(const aop_journal_entry_t *a, const aop_journal_entry_t *b) {
#define SAME_TEXT(m) cr_expect_str_eq(a->m, b->m, #m)
#define SAME_NUM(m) cr_expect_eq((long long)a->m, (long long)b->m, #m ": %lld vs %lld", (long long)a->m, (long long)b->m)
    SAME_NUM(id);
    SAME_NUM(kind);
    SAME_TEXT(function);
    SAME_TEXT(merchant_id);
    SAME_TEXT(key);
    SAME_TEXT(payment_acquirement_id);
    SAME_TEXT(amount);
    SAME_TEXT(currency);
    SAME_TEXT(gateway);
    SAME_TEXT(client_id);
    SAME_NUM(state);
    SAME_TEXT(last_status);
    SAME_TEXT(last_code);
    SAME_TEXT(acquirement_id);
    SAME_NUM(created_ms);
    SAME_NUM(last_attempt_ms);
    SAME_NUM(updated_ms);
    SAME_NUM(pay_started_ms);
    SAME_NUM(pay_deadline_ms);
    SAME_NUM(attempts);
    SAME_NUM(acknowledged);
    SAME_NUM(watch);
    SAME_NUM(watch_due_ms);
    SAME_TEXT(lease_owner);
    SAME_NUM(lease_expires_ms);
    SAME_NUM(epoch);
    SAME_TEXT(note);
    SAME_TEXT(clock_id);
    SAME_NUM(pay_started_clock_ms);
    SAME_NUM(watch_due_clock_ms);
    SAME_NUM(lease_expires_clock_ms);
    SAME_NUM(next_attempt_ms);
    SAME_NUM(next_attempt_clock_ms);
    SAME_NUM(backoff_ms);
    SAME_TEXT(key_id);
    SAME_TEXT(mac);
    SAME_NUM(unreadable);
    if (a->has_request && b->has_request) {
        SAME_NUM(request_len);
        cr_expect_eq(memcmp(a->request, b->request, a->request_len + 1), 0, "request");
    }
#undef SAME_TEXT
#undef SAME_NUM
}

static JF_UNUSED void insert_ok(aop_journal_t *j, aop_journal_entry_t *e) {
    aop_error_t err;
    aop_status_t st = aop_journal_insert(j, e, 60000, NULL, &err);
    cr_assert_eq(st, AOP_OK, "insert %s: %s", e->key, err.msg);
    cr_assert_gt(e->id, 0);
}

static JF_UNUSED aop_journal_entry_t *find_ok(aop_journal_t *j, const aop_journal_entry_t *like) {
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    aop_error_t err;
    aop_status_t st = aop_journal_find(j, like->kind, like->gateway, like->merchant_id, like->key, out, &err);
    cr_assert_eq(st, AOP_OK, "find %s: %s", like->key, err.msg);
    return out;
}

static JF_UNUSED aop_status_t claim_as(aop_journal_t *j, int64_t id, const char *owner, aop_journal_entry_t *out,
                                       aop_error_t *err) {
    return aop_journal_claim(j, id, owner, 30000, out, err);
}

/* A transition of e to state with columns (AOP_WRITE_*), its lease renewed. */
static JF_UNUSED aop_status_t move(aop_journal_t *j, aop_journal_entry_t *e, aop_entry_state_t to, unsigned columns,
                                   aop_error_t *err) {
    aop_journal_write_t w = {.expect_state = e->state, .columns = columns, .lease_ttl_ms = 30000};
    aop_entry_state_t was = e->state;
    e->state = to;
    aop_status_t st = aop_journal_transition(j, e, &w, err);
    if (st != AOP_OK) e->state = was;
    return st;
}

/* An entry inserted and moved (by its inserter, who holds the lease) to state. */
static JF_UNUSED aop_journal_entry_t *entry_in_state(aop_journal_t *j, aop_entry_kind_t kind, const char *key,
                                                     aop_entry_state_t state) {
    aop_journal_entry_t *e = new_entry(kind, key);
    insert_ok(j, e);
    aop_error_t err;
    if (state != AOP_STATE_NEW) cr_assert_eq(move(j, e, state, 0, &err), AOP_OK, "%s", err.msg);
    return e;
}

typedef struct {
    int n;
    int64_t ids[64];
    int stop_after;
    int unreadable;
} collect_t;

static JF_UNUSED bool collect(const aop_journal_entry_t *e, void *ctx) {
    collect_t *c = ctx;
    if (c->n < 64) c->ids[c->n] = e->id;
    c->n++;
    c->unreadable += e->unreadable;
    return c->stop_after == 0 || c->n < c->stop_after;
}

#endif
