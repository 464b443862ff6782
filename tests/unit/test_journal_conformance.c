/* SPDX-License-Identifier: MIT */
/* The journal store conformance suite: every test of the contract of aop/journal.h (version 2 of
 * aop_journal_ops_t) runs against each store factory: the SQLite store, and the in-memory store of
 * the tests (which implements only the required operations, so journal.c's fallbacks of the
 * optional ones run too), and the PostgreSQL store (libaop-journal-pg.so.0) against the real server
 * the tests start (tests/support/postgres.sh, a CTest fixture), each test in a schema of its own. */
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal_fixture.h"
#include "mem_store.h"
#include "resolver_rows.h"
#include "pg_support.h"
#include "support.h"

/* ---------------------------------------------------------------------------------------------
 * The factories */

typedef struct {
    const char *name;
    aop_journal_t *(*open)(void);           /* a new, empty journal */
    void (*corrupt)(int64_t id);            /* makes row id unreadable, as a hand-edited file may */
    void (*teardown)(void);
    bool prune;                             /* prune is supported */
    bool backup;                            /* backup is supported */
} store_factory_t;

static char dir[64], path[128];

static aop_journal_t *sqlite_open(void) {
    snprintf(dir, sizeof dir, "/tmp/aop-conf-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/journal.db", dir);
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(aop_journal_open_sqlite(path, &j, &err), AOP_OK, "%s", err.msg);
    return j;
}

static void sqlite_corrupt(int64_t id) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char sql[160];
    /* 400 characters: longer than any note an entry holds */
    snprintf(sql, sizeof sql, "UPDATE entries SET note = hex(zeroblob(200)) WHERE id = %lld", (long long)id);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

static void sqlite_teardown(void) {
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static mem_store_t *mem;

static aop_journal_t *memory_open(void) { return mem_journal(&mem); }

static void memory_corrupt(int64_t id) {
    aop_journal_entry_t *e = mem_get(mem, id);
    cr_assert_not_null(e);
    e->unreadable = true;
    snprintf(e->note, sizeof e->note, "note is too long (test)");
}

static void memory_teardown(void) {}

/* The server of tests/support/postgres.sh (started by the CTest fixture postgres): its URI is in
 * AOP_PG_STATE/uri. Each test works in a schema of its own (search_path in the URI's options), so
 * Criterion's parallel tests never see each other's entries, and drops it at the end. */
static char pg_schema[64];

static aop_journal_t *pg_open(void) { return aop_test_pg_journal("conf", pg_schema); }

static void pg_corrupt(int64_t id) {
    char sql[200];
    /* 400 characters: longer than any note an entry holds */
    snprintf(sql, sizeof sql, "UPDATE %s.aop_journal SET note = repeat('x', 400) WHERE id = %lld", pg_schema,
             (long long)id);
    aop_test_pg_exec(sql);
}

static void pg_teardown(void) { aop_test_pg_drop(pg_schema); }

static const store_factory_t sqlite_factory = {"sqlite", sqlite_open, sqlite_corrupt, sqlite_teardown, true, true};
static const store_factory_t memory_factory = {"memory", memory_open, memory_corrupt, memory_teardown, false, false};
/* backup: a server's journal is copied with the server's own tools (pg_dump), not by the store */
static const store_factory_t pg_factory = {"postgresql", pg_open, pg_corrupt, pg_teardown, true, false};

#define CONFORMANCE(name)                                                                            \
    static void name(const store_factory_t *f);                                                      \
    Test(conformance_sqlite, name, .fini = sqlite_teardown) { name(&sqlite_factory); }               \
    Test(conformance_memory, name) { name(&memory_factory); }                                        \
    Test(conformance_pg, name, .fini = pg_teardown) { name(&pg_factory); }                           \
    static void name(const store_factory_t *f)

/* ---------------------------------------------------------------------------------------------
 * Insert, get, find: the round trip and the store's stamps */

CONFORMANCE(insert_get_find_round_trip_every_member_with_a_30_kib_request) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_REFUND, "R-1");
    size_t n = 30 * 1024;
    memcpy(e->request, "{\"x\":\"", 6);
    for (size_t i = 6; i < n - 2; i++) e->request[i] = (char)('a' + i % 26);
    memcpy(e->request + n - 2, "\"}", 3);
    e->request_len = n;
    e->state = AOP_STATE_PAID; /* insert starts every entry as NEW at epoch 1 whatever it holds */
    e->epoch = 77;
    aop_journal_now_t before, after;
    aop_error_t err;
    cr_assert_eq(aop_journal_now(j, &before, &err), AOP_OK, "%s", err.msg);
    insert_ok(j, e);
    cr_assert_eq(aop_journal_now(j, &after, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(e->state, AOP_STATE_NEW);
    cr_expect_eq(e->epoch, 1);
    /* the store stamps: its clock, between before and after */
    cr_expect_str_eq(e->clock_id, after.clock_id);
    cr_expect(e->created_ms >= before.wall_ms && e->created_ms <= after.wall_ms);
    cr_expect(e->pay_started_clock_ms >= before.clock_ms && e->pay_started_clock_ms <= after.clock_ms);
    cr_expect_eq(e->lease_expires_clock_ms - e->pay_started_clock_ms, 60000, "the lease: the store's now + ttl");
    cr_expect(e->lease_held, "the inserter holds the lease");
    aop_journal_entry_t *got = find_ok(j, e);
    cr_expect(got->has_request);
    expect_same(got, e);
    aop_journal_entry_t *byid = calloc(1, sizeof *byid);
    cr_assert_eq(aop_journal_get(j, e->id, true, byid, &err), AOP_OK, "%s", err.msg);
    expect_same(byid, e);
    cr_assert_eq(aop_journal_get(j, e->id, false, byid, &err), AOP_OK, "%s", err.msg);
    cr_expect_not(byid->has_request, "read without its request");
    cr_expect_eq(byid->request_len, 0);
    expect_same(byid, e);
    cr_expect_eq(aop_journal_get(j, e->id + 100, false, byid, &err), AOP_E_MISSING);
    free(e), free(got), free(byid);
    aop_journal_close(j);
}

CONFORMANCE(malformed_entries_are_refused_before_the_store_naming_the_member) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-bad");
    aop_error_t err;
    memset(e->merchant_id, 'm', sizeof e->merchant_id); /* no NUL */
    cr_expect_eq(aop_journal_insert(j, e, 1000, NULL, &err), AOP_E_TOO_LONG);
    cr_expect_str_eq(err.path, "entry.merchant_id");
    free(e);
    e = new_entry(AOP_ENTRY_PAYMENT, "");
    cr_expect_eq(aop_journal_insert(j, e, 1000, NULL, &err), AOP_E_EMPTY);
    cr_expect_str_eq(err.path, "entry.key");
    free(e);
    e = new_entry((aop_entry_kind_t)3, "T-kind");
    cr_expect_eq(aop_journal_insert(j, e, 1000, NULL, &err), AOP_E_BAD_ENUM);
    cr_expect_str_eq(err.path, "entry.kind");
    free(e);
    e = new_entry(AOP_ENTRY_PAYMENT, "T-big");
    e->request_len = AOP_JOURNAL_REQUEST_MAX;
    cr_expect_eq(aop_journal_insert(j, e, 1000, NULL, &err), AOP_E_TOO_LONG);
    cr_expect(strstr(err.msg, "32768") != NULL, "%s", err.msg);
    e->request_len = 10;
    cr_expect_eq(aop_journal_insert(j, e, 0, NULL, &err), AOP_E_INVALID_ARG, "a lease of no time");
    cr_expect_str_eq(err.path, "lease_ttl_ms");
    e->lease_owner[0] = '\0';
    cr_expect_eq(aop_journal_insert(j, e, 1000, NULL, &err), AOP_E_INVALID_ARG, "an insert leases to its inserter");
    free(e);
    cr_expect_eq(aop_journal_insert(NULL, NULL, 1000, NULL, &err), AOP_E_INVALID_ARG);
    aop_journal_entry_t out;
    cr_expect_eq(aop_journal_find(j, AOP_ENTRY_PAYMENT, NULL, "M", "K", &out, &err), AOP_E_INVALID_ARG);
    cr_expect_str_eq(err.path, "gateway");
    cr_expect_eq(aop_journal_claim(j, 1, "", 1000, &out, &err), AOP_E_INVALID_ARG);
    cr_expect_eq(aop_journal_claim(j, 1, "o", 0, &out, &err), AOP_E_INVALID_ARG);
    cr_expect_str_eq(err.path, "lease_ttl_ms");
    cr_expect_eq(aop_journal_list(j, false, NULL, NULL, &err), AOP_E_INVALID_ARG);
    aop_journal_filter_t bad = {.struct_size = 9999};
    collect_t c = {0};
    cr_expect_eq(aop_journal_list_ex(j, &bad, collect, &c, &err), AOP_E_INVALID_ARG);
    cr_expect_str_eq(err.path, "filter.struct_size");
    aop_journal_close(j);
}

CONFORMANCE(insert_or_get_the_existing_entry_stays_and_is_handed_over) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *a = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, a);
    aop_journal_entry_t *b = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    snprintf(b->amount, sizeof b->amount, "9999");
    aop_journal_entry_t *existing = calloc(1, sizeof *existing);
    aop_error_t err;
    cr_expect_eq(aop_journal_insert(j, b, 1000, existing, &err), AOP_E_TAKEN_OVER, "%s", err.msg);
    cr_expect_eq(existing->id, a->id);
    cr_expect(existing->has_request);
    expect_same(existing, a);
    cr_expect(existing->lease_held, "the first inserter's lease");
    cr_expect_eq(aop_journal_insert(j, b, 1000, NULL, &err), AOP_E_TAKEN_OVER, "without a copy");
    aop_journal_entry_t *got = find_ok(j, a);
    cr_expect_str_eq(got->amount, "1234", "the existing entry is not altered");
    /* The same key as a refund, at another gateway or merchant, is another entry. */
    aop_journal_entry_t *r = new_entry(AOP_ENTRY_REFUND, "T-1");
    insert_ok(j, r);
    aop_journal_entry_t *g = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    snprintf(g->gateway, sizeof g->gateway, "SHA256:ffff/2188000000000000");
    insert_ok(j, g);
    aop_journal_entry_t *m = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    snprintf(m->merchant_id, sizeof m->merchant_id, "M0000002");
    insert_ok(j, m);
    aop_journal_entry_t none;
    cr_expect_eq(aop_journal_find(j, AOP_ENTRY_PAYMENT, a->gateway, a->merchant_id, "T-2", &none, &err), AOP_E_MISSING);
    free(a), free(b), free(existing), free(got), free(r), free(g), free(m);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * Lists */

CONFORMANCE(lists_are_oldest_first_filtered_paged_and_may_stop) {
    aop_journal_t *j = f->open();
    enum { N = 40 }; /* more than a page */
    int64_t ids[N];
    aop_error_t err;
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof key, "T-%02d", i);
        aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, key);
        if (i % 4 == 1) snprintf(e->gateway, sizeof e->gateway, "SHA256:other/1");
        insert_ok(j, e);
        ids[i] = e->id;
        if (i % 3 == 0) cr_assert_eq(move(j, e, AOP_STATE_PAID, 0, &err), AOP_OK, "%s", err.msg);
        free(e);
    }
    collect_t all = {0}, open = {0}, first = {.stop_after = 1}, gw = {0};
    cr_assert_eq(aop_journal_list(j, false, collect, &all, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(aop_journal_list(j, true, collect, &open, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(aop_journal_list(j, false, collect, &first, &err), AOP_OK, "%s", err.msg);
    aop_journal_filter_t fl;
    aop_journal_filter_init(&fl);
    fl.which = AOP_LIST_OPEN;
    fl.gateway = "SHA256:other/1";
    cr_assert_eq(aop_journal_list_ex(j, &fl, collect, &gw, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(all.n, N);
    for (int i = 0; i < N; i++) cr_expect_eq(all.ids[i], ids[i], "oldest first");
    int want_open = 0, want_gw = 0;
    for (int i = 0; i < N; i++) {
        want_open += i % 3 != 0;
        want_gw += i % 4 == 1 && i % 3 != 0;
    }
    cr_expect_eq(open.n, want_open);
    for (int k = 1; k < open.n; k++) cr_expect_gt(open.ids[k], open.ids[k - 1]);
    cr_expect_eq(first.n, 1);
    cr_expect_eq(gw.n, want_gw);
    aop_journal_close(j);
}

typedef struct {
    aop_journal_t *j;
    int claimed, with_request;
} reenter_t;

/* The callback uses the very handle: no lock is held and no statement active while it runs. */
static bool claim_each(const aop_journal_entry_t *e, void *ctx) {
    reenter_t *r = ctx;
    r->with_request += e->has_request && e->request_len > 0;
    aop_journal_entry_t *out = malloc(sizeof *out);
    aop_error_t err;
    if (out && claim_as(r->j, e->id, "lister/1/1", out, &err) == AOP_OK) r->claimed++;
    free(out);
    return true;
}

CONFORMANCE(the_list_callback_may_call_the_journal_and_asks_for_requests) {
    aop_journal_t *j = f->open();
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "T-%d", i);
        aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, key);
        insert_ok(j, e);
        aop_error_t err;
        cr_assert_eq(aop_journal_renew(j, e, 0, &err), AOP_OK, "%s", err.msg); /* released */
        free(e);
    }
    reenter_t r = {j, 0, 0};
    aop_error_t err;
    cr_assert_eq(aop_journal_list(j, true, claim_each, &r, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(r.claimed, 20);
    cr_expect_eq(r.with_request, 0, "aop_journal_list reads no request");
    aop_journal_filter_t fl;
    aop_journal_filter_init(&fl);
    fl.with_request = true;
    reenter_t again = {j, 0, 0};
    cr_assert_eq(aop_journal_list_ex(j, &fl, claim_each, &again, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(again.with_request, 20);
    cr_expect_eq(again.claimed, 20, "the lister's own leases");
    aop_journal_close(j);
}

CONFORMANCE(open_or_watch_due_lists_the_open_and_the_due_watches_by_the_stores_clock) {
    aop_journal_t *j = f->open();
    aop_error_t err;
    aop_journal_entry_t *open = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-open", AOP_STATE_POLLING);
    aop_journal_entry_t *paid = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-paid", AOP_STATE_PAID);
    aop_journal_entry_t *due = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-due", AOP_STATE_NEW);
    aop_journal_entry_t *later = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-later", AOP_STATE_NEW);
    due->state = later->state = AOP_STATE_FAILED;
    due->watch = later->watch = true;
    aop_journal_write_t w = {.expect_state = AOP_STATE_NEW, .columns = AOP_WRITE_WATCH, .watch_in_ms = 0};
    cr_assert_eq(aop_journal_transition(j, due, &w, &err), AOP_OK, "%s", err.msg);
    w.watch_in_ms = 3600000;
    cr_assert_eq(aop_journal_transition(j, later, &w, &err), AOP_OK, "%s", err.msg);
    aop_journal_filter_t fl;
    aop_journal_filter_init(&fl);
    fl.which = AOP_LIST_OPEN_OR_WATCH_DUE;
    collect_t c = {0};
    cr_assert_eq(aop_journal_list_ex(j, &fl, collect, &c, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(c.n, 2, "%d listed", c.n);
    cr_expect(c.ids[0] == open->id && c.ids[1] == due->id);
    free(open), free(paid), free(due), free(later);
    aop_journal_close(j);
}

CONFORMANCE(an_unreadable_row_is_listed_with_its_id_and_stops_nothing_else) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *a = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-a", AOP_STATE_UNRESOLVED);
    aop_journal_entry_t *bad = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-bad", AOP_STATE_UNRESOLVED);
    aop_journal_entry_t *c = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-c", AOP_STATE_UNRESOLVED);
    aop_error_t err;
    cr_assert_eq(aop_journal_renew(j, a, 0, &err), AOP_OK);
    cr_assert_eq(aop_journal_renew(j, c, 0, &err), AOP_OK);
    f->corrupt(bad->id);
    collect_t all = {0};
    cr_assert_eq(aop_journal_list(j, true, collect, &all, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(all.n, 3);
    cr_expect_eq(all.unreadable, 1);
    cr_expect_eq(all.ids[1], bad->id, "listed in its place, with its id");
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    cr_expect_eq(aop_journal_get(j, bad->id, false, out, &err), AOP_E_JOURNAL);
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)bad->id);
    cr_expect(strstr(err.msg, id) != NULL && strstr(err.msg, "note") != NULL, "%s", err.msg);
    cr_expect_neq(aop_journal_close_entry(j, bad->id, AOP_STATE_PAID, "a", "n", &err), AOP_OK);
    /* the others go on */
    cr_expect_eq(aop_journal_close_entry(j, a->id, AOP_STATE_PAID, "a", "n", &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(aop_journal_close_entry(j, c->id, AOP_STATE_FAILED, "a", "n", &err), AOP_OK, "%s", err.msg);
    free(a), free(bad), free(c), free(out);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * Claims and leases, by the store's clock */

CONFORMANCE(claim_of_a_free_an_expired_and_an_own_lease_bumps_the_epoch) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    aop_error_t err;
    cr_expect_eq(claim_as(j, e->id, "me/1/1", out, &err), AOP_E_TAKEN_OVER, "the inserter's lease runs");
    cr_assert_eq(aop_journal_renew(j, e, 0, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(e->epoch, 1, "a renewal writes only the lease");
    char self[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_self_owner(self);
    cr_assert_eq(claim_as(j, e->id, self, out, &err), AOP_OK, "released: %s", err.msg);
    cr_expect_eq(out->epoch, 2);
    cr_expect_str_eq(out->lease_owner, self);
    cr_expect(out->has_request && out->request_len == e->request_len, "a claim hands over the request");
    aop_journal_entry_t *stored = find_ok(j, e);
    expect_same(stored, out);
    cr_assert_eq(claim_as(j, e->id, self, out, &err), AOP_OK, "own: %s", err.msg);
    cr_expect_eq(out->epoch, 3);
    /* Another host's lease: refused while it lasts, taken once it expired by the store's clock. */
    cr_assert_eq(aop_journal_claim(j, e->id, other_host_owner, 300, out, &err), AOP_E_TAKEN_OVER, "ours runs");
    cr_assert_eq(aop_journal_renew(j, out, 0, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(aop_journal_claim(j, e->id, other_host_owner, 300, out, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(claim_as(j, e->id, self, out, &err), AOP_E_TAKEN_OVER);
    cr_expect(strstr(err.msg, "another-host.example") != NULL, "%s", err.msg);
    aop_journal_entry_t *before = find_ok(j, e);
    cr_expect_str_eq(before->lease_owner, other_host_owner, "a refused claim changes nothing");
    cr_expect(before->lease_held);
    aop_test_sleep_ms(400);
    cr_assert_eq(claim_as(j, e->id, self, out, &err), AOP_OK, "expired: %s", err.msg);
    cr_expect_eq(out->epoch, before->epoch + 1);
    cr_expect_eq(claim_as(j, 999, self, out, &err), AOP_E_MISSING);
    free(e), free(out), free(stored), free(before);
    aop_journal_close(j);
}

/* A child's owner text, the child still running (pid > 0 returned) or gone (0). */
static pid_t child_owner(char owner[AOP_JOURNAL_OWNER_SIZE], bool keep_running) {
    int to_parent[2], hold[2];
    cr_assert_eq(pipe(to_parent), 0);
    cr_assert_eq(pipe(hold), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char o[AOP_JOURNAL_OWNER_SIZE];
        aop_journal_self_owner(o);
        ssize_t w = write(to_parent[1], o, sizeof o);
        char c;
        if (keep_running) w = read(hold[0], &c, 1); /* until the parent kills it */
        _exit(w > 0 ? 0 : 1);
    }
    close(to_parent[1]);
    close(hold[0]);
    cr_assert_eq(read(to_parent[0], owner, AOP_JOURNAL_OWNER_SIZE), AOP_JOURNAL_OWNER_SIZE);
    close(to_parent[0]);
    if (keep_running) return pid; /* hold[1] stays open: the child blocks on it */
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return 0;
}

CONFORMANCE(a_dead_owners_lease_is_free_at_once_a_live_ones_until_it_dies) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    char dead[AOP_JOURNAL_OWNER_SIZE], live[AOP_JOURNAL_OWNER_SIZE];
    child_owner(dead, false);
    snprintf(e->lease_owner, sizeof e->lease_owner, "%s", dead);
    insert_ok(j, e);
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    aop_error_t err;
    cr_expect_eq(claim_as(j, e->id, "recoverer/1/1", out, &err), AOP_OK, "%s exited: %s", dead, err.msg);
    aop_journal_entry_t *g = new_entry(AOP_ENTRY_PAYMENT, "T-2");
    pid_t pid = child_owner(live, true);
    snprintf(g->lease_owner, sizeof g->lease_owner, "%s", live);
    insert_ok(j, g);
    cr_expect_eq(claim_as(j, g->id, "recoverer/1/1", out, &err), AOP_E_TAKEN_OVER);
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect_eq(claim_as(j, g->id, "recoverer/1/1", out, &err), AOP_OK, "%s", err.msg);
    free(e), free(g), free(out);
    aop_journal_close(j);
}

CONFORMANCE(a_renewal_writes_only_the_lease_and_compares_state_epoch_and_owner) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    aop_journal_entry_t *mine = calloc(1, sizeof *mine);
    *mine = *e;
    snprintf(mine->note, sizeof mine->note, "not written");
    mine->attempts = 99;
    aop_journal_now_t now;
    aop_error_t err;
    cr_assert_eq(aop_journal_now(j, &now, &err), AOP_OK);
    cr_assert_eq(aop_journal_renew(j, mine, 5000, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(mine->epoch, e->epoch);
    cr_expect_geq(mine->lease_expires_clock_ms, now.clock_ms + 5000);
    aop_journal_entry_t *got = find_ok(j, e);
    cr_expect_str_eq(got->note, e->note, "only the lease is written");
    cr_expect_eq(got->attempts, e->attempts);
    cr_expect_eq(got->lease_expires_clock_ms, mine->lease_expires_clock_ms);
    aop_journal_entry_t stale = *mine;
    stale.epoch = 7;
    cr_expect_eq(aop_journal_renew(j, &stale, 5000, &err), AOP_E_TAKEN_OVER, "wrong epoch");
    stale = *mine;
    snprintf(stale.lease_owner, sizeof stale.lease_owner, "someone-else/2/2");
    cr_expect_eq(aop_journal_renew(j, &stale, 5000, &err), AOP_E_TAKEN_OVER, "someone else's lease");
    stale = *mine;
    stale.state = AOP_STATE_POLLING;
    cr_expect_eq(aop_journal_renew(j, &stale, 5000, &err), AOP_E_TAKEN_OVER, "wrong state");
    free(e), free(mine), free(got);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * Transitions: a compare-and-set that writes only what it names */

CONFORMANCE(a_transition_compares_and_a_failure_changes_nothing) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    aop_journal_entry_t *before = find_ok(j, e);
    aop_journal_entry_t *w = calloc(1, sizeof *w);
    aop_error_t err;
    *w = *e;
    snprintf(w->note, sizeof w->note, "changed");
    aop_journal_write_t cas = {.expect_state = AOP_STATE_POLLING, .columns = AOP_WRITE_NOTE, .lease_ttl_ms = 1000};
    w->state = AOP_STATE_POLLING;
    cr_expect_eq(aop_journal_transition(j, w, &cas, &err), AOP_E_TAKEN_OVER, "wrong state");
    cas.expect_state = AOP_STATE_NEW;
    w->epoch = e->epoch + 5;
    cr_expect_eq(aop_journal_transition(j, w, &cas, &err), AOP_E_TAKEN_OVER, "wrong epoch");
    cr_expect_eq(w->epoch, e->epoch + 5, "a failed transition leaves the caller's epoch");
    w->epoch = e->epoch;
    snprintf(w->lease_owner, sizeof w->lease_owner, "someone-else/2/2");
    cr_expect_eq(aop_journal_transition(j, w, &cas, &err), AOP_E_TAKEN_OVER, "someone else's lease");
    aop_journal_entry_t *after = find_ok(j, e);
    expect_same(after, before);
    *w = *e;
    w->id = 12345;
    w->state = AOP_STATE_POLLING;
    cr_expect_eq(aop_journal_transition(j, w, &cas, &err), AOP_E_MISSING);
    free(e), free(before), free(after), free(w);
    aop_journal_close(j);
}

CONFORMANCE(a_transition_writes_the_state_the_named_columns_and_the_stores_stamps_only) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    aop_journal_entry_t *w = calloc(1, sizeof *w);
    *w = *e;
    /* columns the caller changed but does not name: never written (the immutable ones above all) */
    snprintf(w->amount, sizeof w->amount, "7777");
    w->request_len = (size_t)snprintf(w->request, sizeof w->request, "{\"forged\":true}");
    snprintf(w->acquirement_id, sizeof w->acquirement_id, "ACQ-unnamed");
    snprintf(w->note, sizeof w->note, "unnamed");
    /* the named group */
    w->attempts = 4;
    snprintf(w->last_code, sizeof w->last_code, "SUCCESS");
    w->state = AOP_STATE_POLLING;
    aop_journal_write_t cas = {.expect_state = AOP_STATE_NEW, .columns = AOP_WRITE_CALL | AOP_WRITE_NEXT_ATTEMPT,
                               .lease_ttl_ms = 1000, .next_attempt_in_ms = 60000};
    w->backoff_ms = 60000;
    aop_journal_now_t now;
    aop_error_t err;
    cr_assert_eq(aop_journal_now(j, &now, &err), AOP_OK);
    cr_assert_eq(aop_journal_transition(j, w, &cas, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(w->epoch, e->epoch + 1);
    cr_expect_geq(w->next_attempt_clock_ms, now.clock_ms + 60000, "stamped by the store");
    cr_expect_geq(w->lease_expires_clock_ms, now.clock_ms + 1000);
    aop_journal_entry_t *got = find_ok(j, e);
    cr_expect_eq(got->state, AOP_STATE_POLLING);
    cr_expect_eq(got->attempts, 4);
    cr_expect_str_eq(got->last_code, "SUCCESS");
    cr_expect_eq(got->next_attempt_clock_ms, w->next_attempt_clock_ms);
    cr_expect_eq(got->backoff_ms, 60000);
    cr_expect_str_eq(got->amount, "1234", "not named: not written");
    cr_expect_eq(got->request_len, e->request_len);
    cr_expect_eq(memcmp(got->request, e->request, e->request_len), 0);
    cr_expect_str_eq(got->acquirement_id, e->acquirement_id);
    cr_expect_str_eq(got->note, e->note);
    cr_expect_eq(got->pay_started_clock_ms, e->pay_started_clock_ms, "no new pay start");
    /* the pay's start and the watch, stamped with the store's now */
    *w = *got;
    w->state = AOP_STATE_FAILED;
    w->watch = true;
    cas = (aop_journal_write_t){.expect_state = AOP_STATE_POLLING, .columns = AOP_WRITE_PAY_START | AOP_WRITE_WATCH,
                                .watch_in_ms = 180000};
    cr_assert_eq(aop_journal_now(j, &now, &err), AOP_OK);
    cr_assert_eq(aop_journal_transition(j, w, &cas, &err), AOP_OK, "%s", err.msg);
    free(got);
    got = find_ok(j, e);
    cr_expect_geq(got->pay_started_clock_ms, now.clock_ms);
    cr_expect_eq(got->watch_due_clock_ms, got->pay_started_clock_ms + 180000);
    cr_expect(got->watch);
    cr_expect_leq(aop_journal_elapsed_ms(&now, got->clock_id, got->lease_expires_ms, got->lease_expires_clock_ms), 0,
                  "released: expired by the time it is read");
    cr_expect_not(got->lease_held, "released");
    free(e), free(w), free(got);
    aop_journal_close(j);
}

CONFORMANCE(moves_outside_the_table_are_refused_whatever_the_store) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "M-1");
    insert_ok(j, e);
    aop_journal_entry_t *before = find_ok(j, e);
    aop_error_t err;
    static const aop_entry_state_t refused[] = {AOP_STATE_PAY_SENT, AOP_STATE_LAST_CHECK, AOP_STATE_SENT,
                                                AOP_STATE_REFUNDED};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        cr_expect_eq(move(j, e, refused[i], 0, &err), AOP_E_INVALID_ARG, "NEW -> %s", aop_entry_state_name(refused[i]));
        cr_expect(strstr(err.msg, "does not go from NEW to") != NULL, "%s", err.msg);
    }
    aop_journal_entry_t *after = find_ok(j, e);
    expect_same(after, before);
    cr_assert_eq(move(j, e, AOP_STATE_FAILED, 0, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(move(j, e, AOP_STATE_POLLING, 0, &err), AOP_E_INVALID_ARG, "decided: only the watch's moves");
    cr_expect_eq(move(j, e, AOP_STATE_PAID, 0, &err), AOP_OK, "the late PAID: %s", err.msg);
    free(e), free(before), free(after);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * Closing by hand, built on the operations */

CONFORMANCE(close_by_hand_records_who_when_and_why_and_refuses_what_it_must) {
    aop_journal_t *j = f->open();
    aop_error_t err;
    aop_journal_entry_t *e = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-1", AOP_STATE_NEEDS_ATTENTION);
    cr_assert_eq(aop_journal_renew(j, e, 0, &err), AOP_OK);
    cr_assert_eq(aop_journal_close_entry(j, e->id, AOP_STATE_PAID, "alice", "seen in the merchant portal", &err),
                 AOP_OK, "%s", err.msg);
    aop_journal_entry_t *got = find_ok(j, e);
    cr_expect_eq(got->state, AOP_STATE_PAID);
    cr_expect(strstr(got->note, "closed by hand as PAID by alice at ") == got->note, "%s", got->note);
    cr_expect(strstr(got->note, ": seen in the merchant portal") != NULL, "%s", got->note);
    cr_expect_not(got->watch);
    cr_expect_not(got->lease_held, "the lease is released");
    free(got);
    aop_journal_entry_t *fresh = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-new", AOP_STATE_NEW);
    cr_expect_eq(aop_journal_close_entry(j, fresh->id, AOP_STATE_FAILED, "a", "n", &err), AOP_E_INVALID_ARG);
    cr_expect(strstr(err.msg, "NEW") != NULL, "%s", err.msg);
    cr_expect_eq(aop_journal_close_entry(j, e->id, AOP_STATE_FAILED, "a", "n", &err), AOP_E_INVALID_ARG, "final");
    cr_expect_eq(aop_journal_close_entry(j, 9999, AOP_STATE_FAILED, "a", "n", &err), AOP_E_MISSING);
    aop_journal_entry_t *p = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-u", AOP_STATE_UNRESOLVED);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_REFUNDED, "a", "n", &err), AOP_E_INVALID_ARG);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_UNRESOLVED, "a", "n", &err), AOP_E_BAD_ENUM);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_PAID, "", "n", &err), AOP_E_EMPTY);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_PAID, "a", "x\x1b[2J", &err), AOP_E_CONTROL_CHAR);
    /* the inserter's live lease (this process) is refused */
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_PAID, "a", "n", &err), AOP_E_TAKEN_OVER);
    aop_journal_entry_t *still = find_ok(j, p);
    cr_expect_eq(still->state, AOP_STATE_UNRESOLVED, "every refusal leaves the entry as it was");
    cr_expect_str_eq(still->lease_owner, p->lease_owner);
    aop_journal_entry_t *r = entry_in_state(j, AOP_ENTRY_REFUND, "R-u", AOP_STATE_UNRESOLVED);
    cr_assert_eq(aop_journal_renew(j, r, 0, &err), AOP_OK);
    cr_expect_eq(aop_journal_close_entry(j, r->id, AOP_STATE_PAID, "a", "n", &err), AOP_E_INVALID_ARG);
    cr_expect_eq(aop_journal_close_entry(j, r->id, AOP_STATE_REFUNDED, "bob", "bank statement", &err), AOP_OK, "%s",
                 err.msg);
    free(e), free(fresh), free(p), free(still), free(r);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * claim_next and the open payment by acquirementId */

CONFORMANCE(claim_next_takes_the_due_entries_of_its_gateway_in_id_order) {
    aop_journal_t *j = f->open();
    aop_error_t err;
    /* each released (lease free) unless said */
    aop_journal_entry_t *na = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-na", AOP_STATE_NEEDS_ATTENTION);
    aop_journal_entry_t *held = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-held", AOP_STATE_UNRESOLVED);
    aop_journal_entry_t *paid = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-paid", AOP_STATE_PAID);
    aop_journal_entry_t *watch = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-watch", AOP_STATE_NEW);
    aop_journal_entry_t *wait = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-wait", AOP_STATE_UNRESOLVED);
    aop_journal_entry_t *open = entry_in_state(j, AOP_ENTRY_REFUND, "R-open", AOP_STATE_SENT);
    aop_journal_entry_t *other = new_entry(AOP_ENTRY_PAYMENT, "T-other");
    snprintf(other->gateway, sizeof other->gateway, "SHA256:other/1");
    insert_ok(j, other);
    watch->state = AOP_STATE_CANCELLED;
    watch->watch = true;
    aop_journal_write_t w = {.expect_state = AOP_STATE_NEW, .columns = AOP_WRITE_WATCH};
    cr_assert_eq(aop_journal_transition(j, watch, &w, &err), AOP_OK, "%s", err.msg);
    w = (aop_journal_write_t){.expect_state = AOP_STATE_UNRESOLVED, .columns = AOP_WRITE_NEXT_ATTEMPT,
                              .next_attempt_in_ms = 3600000};
    cr_assert_eq(aop_journal_transition(j, wait, &w, &err), AOP_OK, "%s", err.msg);
    aop_journal_entry_t *rel[] = {na, paid, open, other};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) cr_assert_eq(aop_journal_renew(j, rel[i], 0, &err), AOP_OK);
    cr_assert_eq(aop_journal_claim(j, held->id, other_host_owner, 60000, held, &err), AOP_E_TAKEN_OVER);
    cr_assert_eq(aop_journal_renew(j, held, 0, &err), AOP_OK);
    cr_assert_eq(aop_journal_claim(j, held->id, other_host_owner, 60000, held, &err), AOP_OK, "%s", err.msg);

    const char *gw = na->gateway;
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    int64_t got[8];
    int n = 0;
    /* due_only: not the backed-off one; the rest by the rows D (never NEEDS_ATTENTION, nor a
     * final entry without a due watch, nor a live owner's, nor another gateway's) */
    for (int64_t after = 0; n < 8; after = out->id) {
        aop_status_t st = aop_journal_claim_next(j, gw, after, true, "worker/1/1", 60000, out, &err);
        if (st == AOP_E_MISSING) break;
        cr_assert_eq(st, AOP_OK, "%s", err.msg);
        cr_expect_str_eq(out->lease_owner, "worker/1/1");
        cr_expect(out->has_request);
        got[n++] = out->id;
    }
    cr_expect_eq(n, 2, "%d claimed", n);
    cr_expect(n == 2 && got[0] == watch->id && got[1] == open->id);
    /* without due_only the backed-off one is due too; the claimed ones are the worker's now */
    cr_assert_eq(aop_journal_claim_next(j, gw, 0, false, "worker2/1/1", 60000, out, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(out->id, wait->id);
    cr_expect_eq(aop_journal_claim_next(j, gw, out->id, false, "worker2/1/1", 60000, out, &err), AOP_E_MISSING);
    cr_expect_eq(aop_journal_claim_next(j, gw, 0, false, "worker3/1/1", 60000, out, &err), AOP_E_MISSING,
                 "every due entry is leased to a live worker now");
    free(na), free(held), free(paid), free(watch), free(wait), free(open), free(other), free(out);
    aop_journal_close(j);
}

CONFORMANCE(claim_next_agrees_with_the_rows_d_on_every_kind_of_entry) {
    aop_journal_t *j = f->open();
    aop_error_t err;
    static const aop_entry_state_t states[] = {AOP_STATE_NEW, AOP_STATE_POLLING, AOP_STATE_CANCELLING,
                                               AOP_STATE_LAST_CHECK, AOP_STATE_UNRESOLVED, AOP_STATE_NEEDS_ATTENTION,
                                               AOP_STATE_PAID, AOP_STATE_FAILED, AOP_STATE_CANCELLED};
    enum { NS = sizeof states / sizeof *states };
    int64_t ids[NS][2];
    bool due[NS][2];
    for (size_t i = 0; i < NS; i++)
        for (int watched = 0; watched < 2; watched++) {
            char key[32];
            snprintf(key, sizeof key, "T-%zu-%d", i, watched);
            aop_journal_entry_t *e = entry_in_state(j, AOP_ENTRY_PAYMENT, key, AOP_STATE_NEW);
            aop_journal_write_t w = {.expect_state = AOP_STATE_NEW, .columns = AOP_WRITE_WATCH};
            e->state = states[i];
            e->watch = watched && aop_entry_state_final(states[i]) && states[i] != AOP_STATE_PAID;
            if (aop_entry_move_allowed(AOP_ENTRY_PAYMENT, AOP_STATE_NEW, states[i], AOP_MOVER_RESOLVER))
                cr_assert_eq(aop_journal_transition(j, e, &w, &err), AOP_OK, "%s", err.msg);
            else
                e->state = AOP_STATE_NEW; /* LAST_CHECK: not straight from NEW */
            cr_assert_eq(aop_journal_renew(j, e, 0, &err), AOP_OK);
            rsv_due_facts_t facts = {.state = e->state, .watch_due = e->watch, .due_only = true};
            rsv_due_decision_t d;
            rsv_decide_due(&facts, &d);
            ids[i][watched] = e->id;
            due[i][watched] = d.due;
            free(e);
        }
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    bool claimed[NS][2] = {{false}};
    for (int64_t after = 0;; after = out->id) {
        aop_status_t st = aop_journal_claim_next(j, "SHA256:abcd/2188000000000000", after, true, "w/1/1", 60000, out, &err);
        if (st == AOP_E_MISSING) break;
        cr_assert_eq(st, AOP_OK, "%s", err.msg);
        for (size_t i = 0; i < NS; i++)
            for (int k = 0; k < 2; k++)
                if (ids[i][k] == out->id) claimed[i][k] = true;
    }
    for (size_t i = 0; i < NS; i++)
        for (int k = 0; k < 2; k++)
            cr_expect_eq(claimed[i][k], due[i][k], "%s%s: claimed %d, the rows say %d", aop_entry_state_name(states[i]),
                         k ? " (watched)" : "", claimed[i][k], due[i][k]);
    free(out);
    aop_journal_close(j);
}

CONFORMANCE(the_open_payment_of_an_acquirement_id) {
    aop_journal_t *j = f->open();
    aop_error_t err;
    aop_journal_entry_t *open = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-open", AOP_STATE_UNRESOLVED);
    aop_journal_entry_t *closed = new_entry(AOP_ENTRY_PAYMENT, "T-closed");
    snprintf(closed->acquirement_id, sizeof closed->acquirement_id, "ACQ-closed");
    insert_ok(j, closed);
    cr_assert_eq(move(j, closed, AOP_STATE_PAID, 0, &err), AOP_OK);
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    cr_assert_eq(aop_journal_open_payment(j, open->gateway, open->merchant_id, open->acquirement_id, out, &err), AOP_OK,
                 "%s", err.msg);
    cr_expect_eq(out->id, open->id);
    cr_expect_eq(aop_journal_open_payment(j, open->gateway, open->merchant_id, "ACQ-closed", out, &err), AOP_E_MISSING);
    cr_expect_eq(aop_journal_open_payment(j, open->gateway, "M-other", open->acquirement_id, out, &err), AOP_E_MISSING);
    cr_expect_eq(aop_journal_open_payment(j, "SHA256:other/1", open->merchant_id, open->acquirement_id, out, &err),
                 AOP_E_MISSING);
    cr_expect_eq(aop_journal_open_payment(j, open->gateway, open->merchant_id, "", out, &err), AOP_E_INVALID_ARG);
    free(open), free(closed), free(out);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * Retention */

CONFORMANCE(prune_removes_old_final_unwatched_entries_only) {
    aop_journal_t *j = f->open();
    aop_error_t err;
    aop_journal_entry_t *paid = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-paid", AOP_STATE_PAID);
    aop_journal_entry_t *open = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-open", AOP_STATE_UNRESOLVED);
    aop_journal_entry_t *watched = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-watch", AOP_STATE_NEW);
    watched->state = AOP_STATE_FAILED;
    watched->watch = true;
    aop_journal_write_t w = {.expect_state = AOP_STATE_NEW, .columns = AOP_WRITE_WATCH};
    cr_assert_eq(aop_journal_transition(j, watched, &w, &err), AOP_OK, "%s", err.msg); /* due at once */
    unsigned removed = 99;
    aop_status_t st = aop_journal_prune(j, aop_now_ms() + 1000, &removed, &err);
    if (!f->prune) {
        cr_expect_eq(st, AOP_E_JOURNAL_UNSUPPORTED, "%s", err.msg);
        cr_expect_eq(removed, 0);
    } else {
        cr_assert_eq(st, AOP_OK, "%s", err.msg);
        cr_expect_eq(removed, 1);
        collect_t c = {0};
        cr_assert_eq(aop_journal_list(j, false, collect, &c, &err), AOP_OK);
        cr_expect(c.n == 2 && c.ids[0] == open->id && c.ids[1] == watched->id, "open and watched stay");
        cr_assert_eq(aop_journal_prune(j, 0, &removed, &err), AOP_OK);
        cr_expect_eq(removed, 0, "nothing is older than the epoch");
    }
    free(paid), free(open), free(watched);
    aop_journal_close(j);
}

CONFORMANCE(backup_writes_a_checked_copy_to_a_new_file) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-1", AOP_STATE_UNRESOLVED);
    char copy[200];
    snprintf(copy, sizeof copy, "/tmp/aop-conf-backup-%d.db", (int)getpid());
    unlink(copy);
    aop_error_t err;
    aop_status_t st = aop_journal_backup(j, copy, &err);
    if (!f->backup) {
        cr_expect_eq(st, AOP_E_JOURNAL_UNSUPPORTED);
    } else {
        cr_assert_eq(st, AOP_OK, "%s", err.msg);
        cr_expect_eq(aop_journal_backup(j, copy, &err), AOP_E_IO, "a backup never replaces a file");
        cr_expect(strstr(err.msg, "never replaces") != NULL, "%s", err.msg);
        aop_journal_t *b = NULL;
        cr_assert_eq(aop_journal_open_sqlite(copy, &b, &err), AOP_OK, "%s", err.msg);
        aop_journal_entry_t *got = find_ok(b, e);
        expect_same(got, e);
        free(got);
        aop_journal_close(b);
        char p[240];
        static const char *const sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) snprintf(p, sizeof p, "%s%s", copy, sfx[i]), unlink(p);
    }
    free(e);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * Time */

CONFORMANCE(the_stores_clock_moves_and_stamps_compare_on_it) {
    aop_journal_t *j = f->open();
    aop_journal_now_t a, b;
    aop_error_t err;
    cr_assert_eq(aop_journal_now(j, &a, &err), AOP_OK);
    aop_test_sleep_ms(20);
    cr_assert_eq(aop_journal_now(j, &b, &err), AOP_OK);
    cr_expect_geq(b.clock_ms - a.clock_ms, 20);
    cr_expect_str_eq(a.clock_id, b.clock_id);
    cr_expect_geq(aop_journal_elapsed_ms(&b, a.clock_id, a.wall_ms, a.clock_ms), 20);
    /* another clock: by the wall, whatever its own reading */
    cr_expect_geq(aop_journal_elapsed_ms(&b, "another-boot", a.wall_ms, -999999999), 20);
    cr_expect_lt(aop_journal_elapsed_ms(&b, "", b.wall_ms + 5000, 0), 0, "still to come");
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * The notification table (optional operations, all or none: aop/journal.h) */

static aop_journal_notice_t *new_notice(const char *key, const char *status, const char *code, const char *body) {
    aop_journal_notice_t *n = calloc(1, sizeof *n);
    cr_assert_not_null(n);
    snprintf(n->gateway, sizeof n->gateway, "SHA256:abcd/2110");
    snprintf(n->merchant_id, sizeof n->merchant_id, "M");
    snprintf(n->key, sizeof n->key, "%s", key);
    snprintf(n->result_status, sizeof n->result_status, "%s", status);
    snprintf(n->result_code, sizeof n->result_code, "%s", code);
    n->received_ms = 1700000000000;
    n->body_len = strlen(body);
    memcpy(n->body, body, n->body_len);
    n->state = AOP_NOTICE_PENDING;
    return n;
}

typedef struct {
    aop_journal_notice_t rows[8];
    size_t n;
} notices_t;

static bool collect_notice(const aop_journal_notice_t *n, void *ctx) {
    notices_t *c = ctx;
    if (c->n < 8) c->rows[c->n++] = *n;
    return true;
}

CONFORMANCE(a_notification_is_recorded_once_per_fact_with_its_bytes_and_deliveries_counted) {
    aop_journal_t *j = f->open();
    aop_error_t err;
    cr_assert_eq(aop_journal_notices_supported(j, &err), AOP_OK, "%s", err.msg);
    /* a body of 16 KiB - 1 with every ASCII byte but NUL is kept byte for byte (a body that verified is UTF-8) */
    char *big = malloc(AOP_JOURNAL_NOTICE_BODY_MAX);
    for (size_t i = 0; i < AOP_JOURNAL_NOTICE_BODY_MAX - 1; i++) big[i] = (char)(1 + i % 127);
    big[AOP_JOURNAL_NOTICE_BODY_MAX - 1] = '\0';
    aop_journal_notice_t *a = new_notice("T-1", "S", "SUCCESS", big);
    aop_journal_notice_t *stored = calloc(1, sizeof *stored);
    bool inserted = false;
    cr_assert_eq(aop_journal_notice_record(j, a, stored, &inserted, &err), AOP_OK, "%s", err.msg);
    cr_expect(inserted);
    cr_expect_gt(stored->id, 0);
    cr_expect_eq(stored->deliveries, 1);
    cr_expect_eq(stored->body_len, a->body_len);
    cr_expect_eq(memcmp(stored->body, big, a->body_len), 0, "the bytes as received");
    cr_expect_eq(stored->last_received_ms, a->received_ms);
    /* a re-delivery, another body (a new reqMsgId) later: a bump, the first body kept */
    aop_journal_notice_t *again = new_notice("T-1", "S", "SUCCESS", "{\"second\":1}");
    again->received_ms = a->received_ms + 120000;
    cr_assert_eq(aop_journal_notice_record(j, again, stored, &inserted, &err), AOP_OK, "%s", err.msg);
    cr_expect_not(inserted);
    cr_expect_eq(stored->deliveries, 2);
    cr_expect_eq(stored->received_ms, a->received_ms, "the first delivery's time: its window was judged then");
    cr_expect_eq(stored->last_received_ms, again->received_ms);
    cr_expect_eq(memcmp(stored->body, big, a->body_len), 0, "the first body stays");
    int64_t first = stored->id;
    /* each member of the key makes another fact */
    const char *variants[][3] = {{"T-1", "F", "ORDER_IS_CLOSED"}, {"T-2", "S", "SUCCESS"}};
    for (size_t i = 0; i < 2; i++) {
        aop_journal_notice_t *o = new_notice(variants[i][0], variants[i][1], variants[i][2], "{}");
        cr_assert_eq(aop_journal_notice_record(j, o, stored, &inserted, &err), AOP_OK, "%s", err.msg);
        cr_expect(inserted, "%s %s", variants[i][0], variants[i][1]);
        cr_expect_neq(stored->id, first);
        free(o);
    }
    aop_journal_notice_t *other_gw = new_notice("T-1", "S", "SUCCESS", "{}");
    snprintf(other_gw->gateway, sizeof other_gw->gateway, "SHA256:ffff/2110");
    cr_assert_eq(aop_journal_notice_record(j, other_gw, stored, &inserted, &err), AOP_OK);
    cr_expect(inserted, "another gateway identity's");
    aop_journal_notice_t *other_m = new_notice("T-1", "S", "SUCCESS", "{}");
    other_m->merchant_id[0] = '\0';
    cr_assert_eq(aop_journal_notice_record(j, other_m, stored, &inserted, &err), AOP_OK);
    cr_expect(inserted, "without a merchantId: another key");
    /* the list: in id order, filtered, bodies only when asked */
    notices_t c = {0};
    cr_assert_eq(aop_journal_notice_list(j, NULL, collect_notice, &c, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(c.n, 5);
    for (size_t i = 1; i < c.n; i++) cr_expect_gt(c.rows[i].id, c.rows[i - 1].id);
    cr_expect_eq(c.rows[0].body_len, 0, "no body unless asked");
    aop_journal_notice_filter_t nf;
    aop_journal_notice_filter_init(&nf);
    nf.gateway = "SHA256:abcd/2110";
    nf.key = "T-1";
    nf.with_body = true;
    memset(&c, 0, sizeof c);
    cr_assert_eq(aop_journal_notice_list(j, &nf, collect_notice, &c, &err), AOP_OK);
    cr_expect_eq(c.n, 3, "S and F of T-1, and the one without merchantId");
    cr_expect_eq(c.rows[0].body_len, AOP_JOURNAL_NOTICE_BODY_MAX - 1);
    /* the mark: a compare-and-set on the state */
    cr_expect_eq(aop_journal_notice_mark(j, first, AOP_NOTICE_PENDING, AOP_NOTICE_APPLIED, 7, "N9: paid", &err), AOP_OK,
                 "%s", err.msg);
    cr_expect_eq(aop_journal_notice_mark(j, first, AOP_NOTICE_PENDING, AOP_NOTICE_REFUSED, 0, "", &err),
                 AOP_E_TAKEN_OVER, "another applier got there first");
    cr_expect_eq(aop_journal_notice_mark(j, 9999, AOP_NOTICE_PENDING, AOP_NOTICE_APPLIED, 0, "", &err), AOP_E_MISSING);
    nf.key = NULL;
    nf.state = AOP_NOTICE_APPLIED;
    memset(&c, 0, sizeof c);
    cr_assert_eq(aop_journal_notice_list(j, &nf, collect_notice, &c, &err), AOP_OK);
    cr_assert_eq(c.n, 1);
    cr_expect_eq(c.rows[0].id, first);
    cr_expect_eq(c.rows[0].entry_id, 7);
    cr_expect_str_eq(c.rows[0].note, "N9: paid");
    cr_expect_eq(c.rows[0].deliveries, 2);
    /* a re-delivery after the mark leaves the mark */
    cr_assert_eq(aop_journal_notice_record(j, again, stored, &inserted, &err), AOP_OK);
    cr_expect_eq(stored->state, AOP_NOTICE_APPLIED);
    cr_expect_eq(stored->deliveries, 3);
    /* malformed rows never reach the store */
    aop_journal_notice_t *bad = new_notice("T-3", "X", "SUCCESS", "{}");
    cr_expect_eq(aop_journal_notice_record(j, bad, stored, NULL, &err), AOP_E_BAD_ENUM);
    snprintf(bad->result_status, sizeof bad->result_status, "S");
    bad->key[0] = '\0';
    cr_expect_eq(aop_journal_notice_record(j, bad, stored, NULL, &err), AOP_E_EMPTY);
    cr_expect_str_eq(err.path, "notice.key");
    cr_expect_eq(aop_journal_sync(j, &err), AOP_OK, "%s", err.msg);
    free(big), free(a), free(again), free(stored), free(other_gw), free(other_m), free(bad);
    aop_journal_close(j);
}

/* ---- PostgreSQL: an insert whose connection is lost before its answer ---------------------- */

typedef struct {
    aop_journal_t *j;
    aop_journal_entry_t *e;
    aop_status_t st;
    aop_error_t err;
} insert_call_t;

static void *insert_in_thread(void *arg) {
    insert_call_t *c = arg;
    c->st = aop_journal_insert(c->j, c->e, 1000, NULL, &c->err);
    return NULL;
}

/* The server backend is terminated while the insert waits inside its statement (a trigger that
 * sleeps): the client cannot know whether it committed, so the insert is "unknown" (nothing may
 * be sent; recovery finds the entry or nothing), and the handle works on with a new connection. */
Test(conformance_pg, an_insert_whose_connection_is_lost_is_unknown_and_the_handle_goes_on, .fini = pg_teardown) {
    aop_journal_t *j = pg_open();
    char sql[600];
    snprintf(sql, sizeof sql,
             "CREATE FUNCTION %1$s.slow() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_sleep(30); "
             "RETURN NEW; END$$; CREATE TRIGGER slow BEFORE INSERT ON %1$s.aop_journal FOR EACH ROW EXECUTE "
             "FUNCTION %1$s.slow()", pg_schema);
    aop_test_pg_exec(sql);
    insert_call_t call = {j, new_entry(AOP_ENTRY_PAYMENT, "T-lost"), AOP_OK, {0}};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, insert_in_thread, &call), 0);
    PGconn *admin = aop_test_pg_admin();
    int terminated = 0;
    for (int i = 0; i < 200 && !terminated; i++) { /* up to 10 s for the insert to reach its sleep */
        PGresult *r = PQexec(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                    "wait_event = 'PgSleep' AND datname = current_database()");
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(admin));
        terminated = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (!terminated) usleep(50 * 1000);
    }
    PQfinish(admin);
    pthread_join(t, NULL);
    cr_assert_eq(terminated, 1, "the insert never reached the trigger's sleep");
    cr_expect_eq(call.st, AOP_E_JOURNAL_UNKNOWN, "%s: %s", aop_status_name(call.st), call.err.msg);
    cr_expect_eq(call.e->id, 0, "no id for an insert whose outcome is unknown");
    snprintf(sql, sizeof sql, "DROP TRIGGER slow ON %s.aop_journal", pg_schema);
    aop_test_pg_exec(sql);
    aop_journal_entry_t *got = calloc(1, sizeof *got);
    aop_error_t err;
    /* here the backend died before its commit: the entry is not there, and the handle goes on */
    cr_expect_eq(aop_journal_find(j, AOP_ENTRY_PAYMENT, call.e->gateway, call.e->merchant_id, "T-lost", got, &err),
                 AOP_E_MISSING, "%s", err.msg);
    aop_journal_entry_t *next = new_entry(AOP_ENTRY_PAYMENT, "T-after");
    insert_ok(j, next);
    free(call.e), free(got), free(next);
    aop_journal_close(j);
}

Test(conformance_memory, a_store_without_the_notification_operations_keeps_none) {
    mem_store_t *m = NULL;
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(mem_store_open_ex(&m, &j, false, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(aop_journal_notices_supported(j, &err), AOP_E_JOURNAL_UNSUPPORTED);
    cr_expect(strstr(err.msg, "keeps no notifications") != NULL, "%s", err.msg);
    cr_expect_eq(aop_journal_sync(j, &err), AOP_E_JOURNAL_UNSUPPORTED);
    aop_journal_notice_t *n = new_notice("T-1", "S", "SUCCESS", "{}");
    aop_journal_notice_t *stored = calloc(1, sizeof *stored);
    cr_expect_eq(aop_journal_notice_record(j, n, stored, NULL, &err), AOP_E_JOURNAL_UNSUPPORTED);
    free(n), free(stored);
    aop_journal_close(j);
}

CONFORMANCE(cancel_sent_is_written_by_its_group_only_and_never_cleared) {
    aop_journal_t *j = f->open();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-c");
    e->cancel_sent = true; /* an insert starts every entry without it */
    insert_ok(j, e);
    cr_expect_not(e->cancel_sent);
    aop_error_t err;
    e->cancel_sent = true;
    cr_assert_eq(move(j, e, AOP_STATE_CANCELLING, 0, &err), AOP_OK, "%s", err.msg);
    aop_journal_entry_t *got = find_ok(j, e);
    cr_expect_not(got->cancel_sent, "not written without AOP_WRITE_CANCEL");
    cr_assert_eq(move(j, e, AOP_STATE_CANCELLING, AOP_WRITE_CANCEL, &err), AOP_OK, "%s", err.msg);
    free(got);
    got = find_ok(j, e);
    cr_expect(got->cancel_sent);
    e->cancel_sent = false;
    cr_expect_eq(move(j, e, AOP_STATE_CANCELLING, AOP_WRITE_CANCEL, &err), AOP_E_INVALID_ARG);
    cr_expect_str_eq(err.path, "entry.cancel_sent");
    free(got);
    got = find_ok(j, e);
    cr_expect(got->cancel_sent, "still set");
    free(got), free(e);
    aop_journal_close(j);
}
