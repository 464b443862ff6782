/* SPDX-License-Identifier: MIT */
/* The in-memory journal store of the tests (mem_store.h). Its time and leases are the library's
 * own rules (journal_time.h), its partial writes the column table's (journal_columns.h): the same
 * contract as the SQLite store, kept as structs. */
#include "mem_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "journal_columns.h"
#include "journal_time.h"

aop_journal_entry_t *mem_get(mem_store_t *m, int64_t id) {
    for (unsigned i = 0; i < m->n; i++)
        if (m->e[i].id == id) return &m->e[i];
    return NULL;
}

static void clock_now(const mem_store_t *m, aop_journal_now_t *now) {
    aop_internal_journal_boot_now(now);
    now->wall_ms += m->clock_offset_ms;
    now->clock_ms += m->clock_offset_ms;
}

static aop_status_t m_now(void *store, aop_journal_now_t *out, aop_error_t *err) {
    (void)err;
    clock_now(store, out);
    return AOP_OK;
}

/* A stored entry as an operation hands it over: its request only when asked for. */
static aop_status_t hand_over(const aop_journal_entry_t *s, bool with_request, aop_journal_entry_t *out,
                              aop_error_t *err) {
    if (s->unreadable)
        return aop_error_set(err, AOP_E_JOURNAL, "journal", -1, "entry %lld cannot be read: %s", (long long)s->id,
                             s->note);
    memcpy(out, s, offsetof(aop_journal_entry_t, request));
    out->has_request = with_request;
    out->request_len = with_request ? s->request_len : 0;
    if (with_request) memcpy(out->request, s->request, s->request_len);
    out->request[out->request_len] = '\0';
    return AOP_OK;
}

static aop_journal_entry_t *by_key(mem_store_t *m, aop_entry_kind_t kind, const char *gateway, const char *merchant_id,
                                   const char *key) {
    for (unsigned i = 0; i < m->n; i++)
        if (!m->e[i].unreadable && m->e[i].kind == kind && !strcmp(m->e[i].gateway, gateway) &&
            !strcmp(m->e[i].merchant_id, merchant_id) && !strcmp(m->e[i].key, key))
            return &m->e[i];
    return NULL;
}

static aop_status_t m_insert(void *store, aop_journal_entry_t *e, int64_t ttl, aop_journal_entry_t *existing,
                             aop_error_t *err) {
    mem_store_t *m = store;
    if (m->fail_insert) return aop_error_set(err, m->fail_insert, "journal", -1, "%s", m->fail_msg);
    if (m->n == MEM_MAX) return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "disk full (test)");
    aop_journal_entry_t *old = by_key(m, e->kind, e->gateway, e->merchant_id, e->key);
    if (old) {
        if (existing) (void)hand_over(old, true, existing, NULL);
        return aop_error_set(err, AOP_E_TAKEN_OVER, NULL, -1, "an entry holds this key (test)");
    }
    aop_journal_now_t now;
    clock_now(m, &now);
    aop_internal_journal_stamp_insert(e, &now, ttl);
    e->id = ++m->next_id;
    aop_journal_entry_t *s = &m->e[m->n++];
    memset(s, 0, sizeof *s);
    aop_internal_journal_copy(s, e, AOP_COLW_INSERT);
    s->id = e->id;
    m->inserts++;
    return AOP_OK;
}

static aop_status_t m_get(void *store, int64_t id, bool with_request, aop_journal_entry_t *out, aop_error_t *err) {
    mem_store_t *m = store;
    if (m->fail_get) return aop_error_set(err, m->fail_get, "journal", -1, "get failed (test)");
    aop_journal_entry_t *s = mem_get(m, id);
    if (!s) return aop_error_set(err, AOP_E_MISSING, "id", -1, "no journal entry %lld", (long long)id);
    return hand_over(s, with_request, out, err);
}

static aop_status_t m_find(void *store, aop_entry_kind_t kind, const char *gateway, const char *merchant_id,
                           const char *key, aop_journal_entry_t *out, aop_error_t *err) {
    mem_store_t *m = store;
    aop_journal_entry_t *s = by_key(m, kind, gateway, merchant_id, key);
    if (!s) return aop_error_set(err, AOP_E_MISSING, NULL, -1, "no such entry");
    return hand_over(s, true, out, err);
}

static aop_status_t m_claim(void *store, int64_t id, const char *owner, int64_t ttl, aop_journal_entry_t *out,
                            aop_error_t *err) {
    mem_store_t *m = store;
    if (m->fail_claim) return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "/tmp/journal.db: disk I/O error (test)");
    aop_journal_entry_t *s = mem_get(m, id);
    if (!s) return aop_error_set(err, AOP_E_MISSING, NULL, -1, "no such entry");
    if (s->unreadable) return hand_over(s, true, out, err);
    aop_journal_now_t now;
    clock_now(m, &now);
    if (!aop_internal_journal_claimable(s, owner, &now))
        return aop_error_set(err, AOP_E_TAKEN_OVER, NULL, -1, "leased by %s", s->lease_owner);
    aop_internal_journal_rebase(s, &now);
    snprintf(s->lease_owner, sizeof s->lease_owner, "%s", owner);
    aop_internal_journal_stamp_lease(s, &now, ttl);
    s->updated_ms = now.wall_ms;
    s->epoch++;
    m->claims++;
    return hand_over(s, true, out, err);
}

/* The compare-and-set of renew and transition. */
static aop_status_t cas(mem_store_t *m, const aop_journal_entry_t *e, aop_entry_state_t expect, aop_journal_entry_t **s,
                        aop_error_t *err) {
    *s = mem_get(m, e->id);
    if (!*s) return aop_error_set(err, AOP_E_MISSING, NULL, -1, "no such entry");
    if ((*s)->unreadable || (*s)->state != expect || (*s)->epoch != e->epoch ||
        strcmp((*s)->lease_owner, e->lease_owner) != 0)
        return aop_error_set(err, AOP_E_TAKEN_OVER, NULL, -1, "compare-and-set failed");
    return AOP_OK;
}

/* A renewal (w NULL: the lease only, for ttl) or a transition (w), as a compare-and-set. */
static aop_status_t write_entry(mem_store_t *m, aop_journal_entry_t *e, const aop_journal_write_t *w, int64_t ttl,
                                aop_error_t *err) {
    aop_journal_entry_t *s;
    aop_status_t st = cas(m, e, w ? w->expect_state : e->state, &s, err);
    if (st != AOP_OK) return st;
    aop_journal_now_t now;
    clock_now(m, &now);
    if (!w) {
        aop_internal_journal_stamp_lease(e, &now, ttl);
        aop_internal_journal_copy(s, e, AOP_COLW_RENEW);
        m->renewals++;
        return AOP_OK;
    }
    aop_internal_journal_stamp_write(e, &now, w);
    e->epoch++;
    aop_internal_journal_copy(s, e, AOP_COLW_TRANSITION | w->columns);
    m->transitions++;
    return AOP_OK;
}

static aop_status_t m_renew(void *store, aop_journal_entry_t *e, int64_t ttl, aop_error_t *err) {
    return write_entry(store, e, NULL, ttl, err);
}

static aop_status_t m_transition(void *store, aop_journal_entry_t *e, const aop_journal_write_t *w, aop_error_t *err) {
    return write_entry(store, e, w, 0, err);
}

static aop_status_t m_list(void *store, const aop_journal_filter_t *f, int64_t after_id, aop_journal_entry_t *page,
                           size_t cap, size_t *n, aop_error_t *err) {
    (void)err;
    mem_store_t *m = store;
    aop_journal_now_t now;
    clock_now(m, &now);
    *n = 0;
    for (unsigned i = 0; i < m->n && *n < cap; i++) {
        const aop_journal_entry_t *s = &m->e[i];
        if (s->id <= after_id) continue;
        aop_journal_entry_t *out = &page[*n];
        if (s->unreadable) { /* listed with its id and why, whatever the filter */
            memset(out, 0, offsetof(aop_journal_entry_t, request));
            out->id = s->id;
            out->unreadable = true;
            snprintf(out->note, sizeof out->note, "%s", s->note);
            out->request[0] = '\0';
            (*n)++;
            continue;
        }
        if (!aop_internal_journal_matches(s, f, &now)) continue;
        (void)hand_over(s, f->with_request, out, NULL);
        (*n)++;
    }
    return AOP_OK;
}

void mem_set_lease(mem_store_t *m, unsigned i, const char *owner, int64_t in_ms) {
    aop_journal_now_t now;
    clock_now(m, &now);
    aop_internal_journal_rebase(&m->e[i], &now);
    snprintf(m->e[i].lease_owner, sizeof m->e[i].lease_owner, "%s", owner);
    aop_internal_journal_stamp_lease(&m->e[i], &now, 0);
    m->e[i].lease_expires_ms += in_ms;
    m->e[i].lease_expires_clock_ms += in_ms;
}

void mem_set_watch(mem_store_t *m, unsigned i, int64_t in_ms) {
    aop_journal_now_t now;
    clock_now(m, &now);
    aop_internal_journal_rebase(&m->e[i], &now);
    m->e[i].watch = true;
    m->e[i].watch_due_ms = now.wall_ms + in_ms;
    m->e[i].watch_due_clock_ms = now.clock_ms + in_ms;
}

/* ---- the notification table: one struct per row, the contract of aop_journal_ops_t ---- */

static aop_status_t m_sync(void *store, aop_error_t *err) {
    (void)err;
    ((mem_store_t *)store)->syncs++; /* shared memory: every write is as durable as it gets */
    return AOP_OK;
}

static bool same_key(const aop_journal_notice_t *a, const aop_journal_notice_t *b) {
    return !strcmp(a->gateway, b->gateway) && !strcmp(a->merchant_id, b->merchant_id) && !strcmp(a->key, b->key) &&
           !strcmp(a->result_status, b->result_status) && !strcmp(a->result_code, b->result_code);
}

static aop_status_t m_notice_record(void *store, const aop_journal_notice_t *n, aop_journal_notice_t *stored,
                                    bool *inserted, aop_error_t *err) {
    mem_store_t *m = store;
    if (m->fail_insert) return aop_error_set(err, m->fail_insert, "journal", -1, "%s", m->fail_msg);
    for (unsigned i = 0; i < m->nn; i++) {
        aop_journal_notice_t *s = &m->notices[i];
        if (!same_key(s, n)) continue;
        s->deliveries++;
        s->last_received_ms = n->received_ms;
        *stored = *s;
        *inserted = false;
        return AOP_OK;
    }
    if (m->nn == MEM_NOTICES) return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "notification table full (test)");
    aop_journal_notice_t *s = &m->notices[m->nn++];
    *s = *n;
    s->id = m->nn;
    s->deliveries = 1;
    s->last_received_ms = n->received_ms;
    s->body[s->body_len] = '\0';
    *stored = *s;
    *inserted = true;
    return AOP_OK;
}

static aop_status_t m_notice_list(void *store, const aop_journal_notice_filter_t *f, int64_t after_id,
                                  aop_journal_notice_t *page, size_t cap, size_t *n, aop_error_t *err) {
    (void)err;
    mem_store_t *m = store;
    *n = 0;
    for (unsigned i = 0; i < m->nn && *n < cap; i++) {
        const aop_journal_notice_t *s = &m->notices[i];
        if (s->id <= after_id || (f->gateway && strcmp(s->gateway, f->gateway)) || (f->key && strcmp(s->key, f->key)) ||
            (f->state && s->state != f->state))
            continue;
        aop_journal_notice_t *out = &page[(*n)++];
        memcpy(out, s, offsetof(aop_journal_notice_t, body));
        out->body_len = f->with_body ? s->body_len : 0;
        memcpy(out->body, s->body, out->body_len);
        out->body[out->body_len] = '\0';
        memcpy((char *)out + offsetof(aop_journal_notice_t, deliveries), (const char *)s + offsetof(aop_journal_notice_t, deliveries),
               sizeof *s - offsetof(aop_journal_notice_t, deliveries));
    }
    return AOP_OK;
}

static aop_status_t m_notice_mark(void *store, int64_t id, aop_notice_state_t expect, aop_notice_state_t state,
                                  int64_t entry_id, const char *note, aop_error_t *err) {
    mem_store_t *m = store;
    if (id < 1 || id > (int64_t)m->nn) return aop_error_set(err, AOP_E_MISSING, "id", -1, "no notification %lld", (long long)id);
    aop_journal_notice_t *s = &m->notices[id - 1];
    if (s->state != expect) return aop_error_set(err, AOP_E_TAKEN_OVER, "id", -1, "notification moved on (test)");
    s->state = state;
    s->entry_id = entry_id;
    snprintf(s->note, sizeof s->note, "%s", note);
    return AOP_OK;
}

static void m_close(void *store) { munmap(store, sizeof(mem_store_t)); }

/* The operations of every version; mem_ops_plain stops there (a store written before the
 * optional ones existed, for the fallback tests), mem_ops has them all. */
#define MEM_OPS_REQUIRED                                                                                                \
    .version = AOP_JOURNAL_OPS_VERSION, .now = m_now, .insert = m_insert, .get = m_get, .find = m_find,              \
    .claim = m_claim, .renew = m_renew, .transition = m_transition, .list = m_list, .close = m_close

static const aop_journal_ops_t mem_ops_plain = {
    .struct_size = offsetof(aop_journal_ops_t, close) + sizeof(void (*)(void *)),
    MEM_OPS_REQUIRED,
};

static const aop_journal_ops_t mem_ops = {
    .struct_size = sizeof(aop_journal_ops_t),
    MEM_OPS_REQUIRED,
    .sync = m_sync,
    .notice_record = m_notice_record,
    .notice_list = m_notice_list,
    .notice_mark = m_notice_mark,
};

aop_status_t mem_store_open(mem_store_t **store, aop_journal_t **j, aop_error_t *err) {
    return mem_store_open_ex(store, j, true, err);
}

aop_status_t mem_store_open_ex(mem_store_t **store, aop_journal_t **j, bool notices, aop_error_t *err) {
    mem_store_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "mmap failed");
    memset(m, 0, sizeof *m);
    /* the plain store ends at close, as one built against an older header would */
    aop_status_t st = aop_journal_open_custom(notices ? &mem_ops : &mem_ops_plain, m, j, err);
    if (st != AOP_OK) {
        munmap(m, sizeof *m);
        return st;
    }
    if (store) *store = m;
    return AOP_OK;
}

aop_journal_t *mem_journal(mem_store_t **store) {
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(mem_store_open(store, &j, &err), AOP_OK, "%s", err.msg);
    return j;
}
