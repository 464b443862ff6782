/* SPDX-License-Identifier: MIT */
/* One journal handle shared by threads (aop/journal.h, "Threads"): the handle's mutex keeps
 * every operation whole, so resolutions on several threads, each with its own client, and a list
 * running while another thread writes, leave every entry intact in an SQLite file that passes
 * its integrity check. Runs in the normal and the sanitizer builds. The worker threads use no
 * Criterion assertion (those belong to the test's thread): they count, the test asserts. */
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <unistd.h>

#include "pg_support.h"
#include "resolver_support.h"
#include "sync_count.h"

#define PAYS_MAX 64

static char dir[64], path[128];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/aop-threads-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/journal.db", dir);
}

static void teardown(void) {
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[160];
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(journal_threads, .init = setup, .fini = teardown, .timeout = 60);

static aop_journal_t *open_journal(void) {
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(aop_journal_open_sqlite(path, &j, &err), AOP_OK, "%s", err.msg);
    return j;
}

/* PRAGMA integrity_check of the file, through a connection of its own. */
static void expect_integrity_ok(void) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s", sqlite3_errmsg(db));
    cr_expect_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

typedef struct {
    unsigned n, paid;
} tally_t;

static bool tally(const aop_journal_entry_t *e, void *ctx) {
    tally_t *t = ctx;
    t->n++;
    t->paid += e->state == AOP_STATE_PAID;
    return true;
}

/* ---- resolutions on threads sharing the handle ---------------------------------------------- */

typedef struct {
    aop_client_t *c;
    aop_journal_t *j;
    const char *mtid[PAYS_MAX];
    unsigned n;
    unsigned paid, other;
    char first_problem[AOP_ERROR_MSG_MAX + 64];
} payer_t;

static void *pay_all(void *arg) {
    payer_t *p = arg;
    aop_resolve_options_t o = rs_fast();
    for (unsigned i = 0; i < p->n; i++) {
        aop_offline_pay_request_t rq = aop_test_pay_request(p->mtid[i], "1000", DEMO_CODE);
        aop_resolution_t *r = NULL;
        aop_error_t err;
        aop_status_t st = aop_pay_resolve(p->c, p->j, &rq, &o, &r, &err);
        if (st == AOP_OK && r->outcome == AOP_OUTCOME_PAID) {
            p->paid++;
        } else {
            if (!p->other)
                snprintf(p->first_problem, sizeof p->first_problem, "%s: %s", aop_status_name(st),
                         st == AOP_OK ? r->reason : err.msg);
            p->other++;
        }
        aop_resolution_free(r);
    }
    return NULL;
}

/* The PostgreSQL journal of the tests' server (tests/support/postgres.sh, the CTest fixture
 * postgres), in a schema of its own: the same shared-handle tests run on it (its connection per
 * thread instead of SQLite's group commit). */
static char pg_schema[64];

static void pg_teardown(void) { aop_test_pg_drop(pg_schema); }

TestSuite(journal_threads_pg, .fini = pg_teardown, .timeout = 120);

static void pays_on_shared_handle(unsigned threads, unsigned per_thread, bool on_pg) {
    cr_assert_leq(per_thread, PAYS_MAX);
    aop_sandbox_t *s = rs_sandbox(true, 0);
    aop_journal_t *j = on_pg ? aop_test_pg_journal("threads", pg_schema) : open_journal();
    payer_t *p = calloc(threads, sizeof *p);
    pthread_t *t = calloc(threads, sizeof *t);
    cr_assert(p && t);
    static char ids[16 * PAYS_MAX][65];
    cr_assert_leq(threads * per_thread, sizeof ids / sizeof *ids);
    for (unsigned k = 0; k < threads; k++) {
        p[k].c = rs_client(aop_sandbox_port(s), NULL, NULL);
        p[k].j = j;
        p[k].n = per_thread;
        for (unsigned i = 0; i < per_thread; i++) {
            char *id = ids[k * per_thread + i];
            snprintf(id, 65, "%s", rs_mtid("thr"));
            p[k].mtid[i] = id;
        }
    }
    for (unsigned k = 0; k < threads; k++) cr_assert_eq(pthread_create(&t[k], NULL, pay_all, &p[k]), 0);
    unsigned paid = 0;
    for (unsigned k = 0; k < threads; k++) {
        pthread_join(t[k], NULL);
        cr_expect_eq(p[k].other, 0, "thread %u: %u not PAID, first: %s", k, p[k].other, p[k].first_problem);
        paid += p[k].paid;
        aop_client_free(p[k].c);
    }
    cr_expect_eq(paid, threads * per_thread);
    tally_t all = {0};
    aop_error_t err;
    cr_expect_eq(aop_journal_list(j, false, tally, &all, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(all.n, threads * per_thread, "entries listed");
    cr_expect_eq(all.paid, threads * per_thread, "entries PAID");
    aop_journal_close(j);
    if (!on_pg) expect_integrity_ok();
    free(p);
    free(t);
    aop_sandbox_stop(s);
}

Test(journal_threads, two_threads_twenty_resolved_pays_each_on_one_handle) { pays_on_shared_handle(2, 20, false); }

Test(journal_threads, eight_threads_on_one_handle) { pays_on_shared_handle(8, 5, false); }

Test(journal_threads_pg, two_threads_twenty_resolved_pays_each_on_one_handle) {
    pays_on_shared_handle(2, 20, true);
}

Test(journal_threads_pg, eight_threads_on_one_handle) {
    pays_on_shared_handle(8, 5, true);
}

/* ---- a group commit that cannot be synced: nothing leaves ------------------------------------ */

static atomic_uint calls_made;
static void count_call(const aop_event_t *ev, void *ctx) {
    (void)ev, (void)ctx;
    atomic_fetch_add(&calls_made, 1);
}

typedef struct {
    aop_client_t *c;
    aop_journal_t *j;
    aop_status_t st;
    char msg[AOP_ERROR_MSG_MAX];
} failing_t;

static void *pay_once(void *arg) {
    failing_t *p = arg;
    aop_resolve_options_t o = rs_fast();
    aop_offline_pay_request_t rq = aop_test_pay_request(rs_mtid("nosync"), "1000", DEMO_CODE);
    aop_resolution_t *r = NULL;
    aop_error_t err;
    p->st = aop_pay_resolve(p->c, p->j, &rq, &o, &r, &err);
    if (p->st != AOP_OK) snprintf(p->msg, sizeof p->msg, "%s", err.msg);
    aop_resolution_free(r);
    return NULL;
}

Test(journal_threads, a_batch_that_cannot_be_synced_sends_nothing) {
    aop_sandbox_t *s = rs_sandbox(true, 0);
    aop_journal_t *j = open_journal();
    enum { N = 6 };
    failing_t p[N];
    pthread_t t[N];
    for (unsigned k = 0; k < N; k++) p[k] = (failing_t){.c = rs_client(aop_sandbox_port(s), count_call, NULL), .j = j};
    atomic_store(&sync_delay_ms, 20);
    atomic_store(&sync_fail, 1);
    for (unsigned k = 0; k < N; k++) cr_assert_eq(pthread_create(&t[k], NULL, pay_once, &p[k]), 0);
    for (unsigned k = 0; k < N; k++) pthread_join(t[k], NULL);
    atomic_store(&sync_fail, 0);
    atomic_store(&sync_delay_ms, 0);
    for (unsigned k = 0; k < N; k++) {
        cr_expect_eq(p[k].st, AOP_E_JOURNAL, "%u: %s", k, aop_status_name(p[k].st));
        cr_expect_not_null(strstr(p[k].msg, "may or may not be on disk"), "%u: %s", k, p[k].msg);
        aop_client_free(p[k].c);
    }
    cr_expect_eq(atomic_load(&calls_made), 0, "nothing leaves before its entry is durable");
    aop_journal_close(j);
    aop_sandbox_stop(s);
}

/* ---- a list while another thread writes ----------------------------------------------------- */

#define WRITES 150

typedef struct {
    aop_journal_t *j;
    volatile int done;
    unsigned errors;
    char first_error[AOP_ERROR_MSG_MAX];
} writer_t;

static void entry_for(aop_journal_entry_t *e, unsigned i) {
    memset(e, 0, sizeof *e);
    e->kind = AOP_ENTRY_PAYMENT;
    snprintf(e->function, sizeof e->function, "%s", aop_fn_offline_pay.name);
    snprintf(e->merchant_id, sizeof e->merchant_id, "%s", MERCHANT_ID);
    snprintf(e->key, sizeof e->key, "list-%u", i);
    snprintf(e->amount, sizeof e->amount, "100");
    snprintf(e->currency, sizeof e->currency, "USD");
    snprintf(e->gateway, sizeof e->gateway, "SHA256:test/%s", CLIENT_ID);
    aop_journal_self_owner(e->lease_owner);
    snprintf(e->request, sizeof e->request, "{\"n\":%u}", i);
    e->request_len = strlen(e->request);
}

static void *write_entries(void *arg) {
    writer_t *w = arg;
    aop_journal_entry_t *e = malloc(sizeof *e);
    for (unsigned i = 0; e && i < WRITES; i++) {
        entry_for(e, i);
        aop_error_t err;
        aop_status_t st = aop_journal_insert(w->j, e, 60000, NULL, &err);
        if (st == AOP_OK) { /* and one transition, as a resolver makes */
            aop_journal_write_t wr = {.expect_state = e->state, .columns = AOP_WRITE_CALL | AOP_WRITE_NOTE};
            e->state = AOP_STATE_PAID;
            st = aop_journal_transition(w->j, e, &wr, &err);
        }
        if (st != AOP_OK && !w->errors++) snprintf(w->first_error, sizeof w->first_error, "%s", err.msg);
    }
    free(e);
    w->done = 1;
    return NULL;
}

typedef struct {
    aop_journal_t *j;
    unsigned seen, lookups_failed;
} lister_t;

/* The callback calls the journal itself: the list does not hold the handle while it runs. */
static bool look_up_again(const aop_journal_entry_t *e, void *ctx) {
    lister_t *l = ctx;
    aop_journal_entry_t *again = malloc(sizeof *again);
    aop_error_t err;
    if (!again || aop_journal_find(l->j, e->kind, e->gateway, e->merchant_id, e->key, again, &err) != AOP_OK ||
        again->id != e->id)
        l->lookups_failed++;
    free(again);
    l->seen++;
    return true;
}

Test(journal_threads, list_while_another_thread_writes) {
    aop_journal_t *j = open_journal();
    writer_t w = {j, 0, 0, ""};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, write_entries, &w), 0);
    unsigned lists = 0, last = 0, shrank = 0, failed = 0;
    while (!w.done) {
        lister_t l = {j, 0, 0};
        aop_error_t err;
        if (aop_journal_list(j, false, look_up_again, &l, &err) != AOP_OK) failed++;
        cr_expect_eq(l.lookups_failed, 0, "a listed entry could not be found again");
        shrank += l.seen < last; /* entries are never removed: a list never sees fewer */
        last = l.seen;
        lists++;
    }
    pthread_join(t, NULL);
    cr_expect_eq(w.errors, 0, "%u writes failed, first: %s", w.errors, w.first_error);
    cr_expect_eq(failed, 0, "lists failed");
    cr_expect_eq(shrank, 0);
    cr_expect_gt(lists, 1, "the lists ran while the writes did");
    tally_t all = {0};
    aop_error_t err;
    cr_expect_eq(aop_journal_list(j, false, tally, &all, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(all.n, WRITES);
    cr_expect_eq(all.paid, WRITES);
    aop_journal_close(j);
    expect_integrity_ok();
}
