/* SPDX-License-Identifier: MIT */
/* The payment journal (aop/journal.h): the SQLite store's round trip, uniqueness, leases and
 * their owners, compare-and-set, racing handles, closing by hand, file modes, migrations,
 * durability of the insert (fsyncs counted by a VFS of the test's), and a custom store. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aop/journal.h"
#include "aop/sign.h"
#include "aop/util.h"

/* ---------------------------------------------------------------------------------------------
 * Helpers */

static char dir[64];
static char db_path[128];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/aop-journal-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/journal.db", dir);
}

static void remove_dir(void) {
    char p[160];
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(journal, .init = make_dir, .fini = remove_dir);

static aop_journal_t *open_db(void) {
    aop_journal_t *j = NULL;
    aop_error_t err;
    aop_status_t st = aop_journal_open_sqlite(db_path, &j, &err);
    cr_assert_eq(st, AOP_OK, "open: %s", err.msg);
    cr_assert_not_null(j);
    return j;
}

static const char *other_host_owner = "another-host.example/4242/99";

/* An entry with every member set to something of its own. */
static aop_journal_entry_t *new_entry(aop_entry_kind_t kind, const char *key) {
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
    e->created_ms = 1764000000001;
    e->last_attempt_ms = 1764000000002;
    e->updated_ms = 1764000000003;
    e->pay_started_ms = 1764000000004;
    e->pay_deadline_ms = 15000;
    e->attempts = 3;
    e->acknowledged = true;
    e->watch = true;
    e->watch_due_ms = 1764000180000;
    e->lease_owner[0] = '\0';
    e->lease_expires_ms = 0;
    snprintf(e->note, sizeof e->note, "note of %s", key);
    e->request_len = (size_t)snprintf(e->request, sizeof e->request,
                                      "{\"merchantTransId\":\"%s\",\"transAmount\":{\"value\":\"1234\"}}", key);
    return e;
}

static void expect_same(const aop_journal_entry_t *a, const aop_journal_entry_t *b) {
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
    SAME_NUM(request_len);
    cr_expect_eq(memcmp(a->request, b->request, a->request_len + 1), 0, "request");
#undef SAME_TEXT
#undef SAME_NUM
}

static void insert_ok(aop_journal_t *j, aop_journal_entry_t *e) {
    aop_error_t err;
    aop_status_t st = aop_journal_insert(j, e, &err);
    cr_assert_eq(st, AOP_OK, "insert %s: %s", e->key, err.msg);
    cr_assert_gt(e->id, 0);
}

static aop_journal_entry_t *find_ok(aop_journal_t *j, const aop_journal_entry_t *like) {
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    aop_error_t err;
    aop_status_t st = aop_journal_find(j, like->kind, like->gateway, like->merchant_id, like->key, out, &err);
    cr_assert_eq(st, AOP_OK, "find %s: %s", like->key, err.msg);
    return out;
}

typedef struct {
    int n;
    int64_t ids[16];
    int stop_after;
} collect_t;

static bool collect(const aop_journal_entry_t *e, void *ctx) {
    collect_t *c = ctx;
    if (c->n < 16) c->ids[c->n] = e->id;
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

static bool never_dead(const char *owner, void *ctx) {
    (void)owner;
    (void)ctx;
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * Round trip, uniqueness, listing */

Test(journal, insert_find_list_round_trip_every_member_with_a_30_kib_request) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_REFUND, "R-1");
    /* 30 KiB of JSON (one long string member). */
    size_t n = 30 * 1024;
    memcpy(e->request, "{\"x\":\"", 6);
    for (size_t i = 6; i < n - 2; i++) e->request[i] = (char)('a' + i % 26);
    memcpy(e->request + n - 2, "\"}", 3);
    e->request_len = n;
    e->state = AOP_STATE_PAID; /* insert starts every entry as NEW at epoch 1 whatever it holds */
    e->epoch = 77;
    insert_ok(j, e);
    cr_expect_eq(e->state, AOP_STATE_NEW);
    cr_expect_eq(e->epoch, 1);
    aop_journal_entry_t *got = find_ok(j, e);
    expect_same(got, e);

    /* The list hands over the same entry. */
    collect_t c = {0};
    aop_error_t err;
    cr_assert_eq(aop_journal_list(j, false, collect, &c, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(c.n, 1);
    cr_expect_eq(c.ids[0], e->id);
    free(got);
    free(e);
    aop_journal_close(j);
}

Test(journal, request_of_the_maximum_size_is_refused_with_its_size) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-big");
    e->request_len = AOP_JOURNAL_REQUEST_MAX;
    aop_error_t err;
    cr_expect_eq(aop_journal_insert(j, e, &err), AOP_E_TOO_LONG);
    cr_expect(strstr(err.msg, "32768") != NULL, "%s", err.msg);
    cr_expect_str_eq(err.path, "entry.request");
    free(e);
    aop_journal_close(j);
}

Test(journal, malformed_entries_are_refused_naming_the_member) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-bad");
    aop_error_t err;
    memset(e->merchant_id, 'm', sizeof e->merchant_id); /* no NUL */
    cr_expect_eq(aop_journal_insert(j, e, &err), AOP_E_TOO_LONG);
    cr_expect_str_eq(err.path, "entry.merchant_id");
    free(e);
    e = new_entry(AOP_ENTRY_PAYMENT, "");
    cr_expect_eq(aop_journal_insert(j, e, &err), AOP_E_EMPTY);
    cr_expect_str_eq(err.path, "entry.key");
    free(e);
    e = new_entry((aop_entry_kind_t)3, "T-kind");
    cr_expect_eq(aop_journal_insert(j, e, &err), AOP_E_BAD_ENUM);
    cr_expect_str_eq(err.path, "entry.kind");
    free(e);
    cr_expect_eq(aop_journal_insert(NULL, NULL, &err), AOP_E_INVALID_ARG);
    cr_expect_eq(aop_journal_insert(j, NULL, &err), AOP_E_INVALID_ARG);
    aop_journal_entry_t out;
    cr_expect_eq(aop_journal_find(j, AOP_ENTRY_PAYMENT, NULL, "M", "K", &out, &err), AOP_E_INVALID_ARG);
    cr_expect_str_eq(err.path, "gateway");
    cr_expect_eq(aop_journal_claim(j, 1, "", 1, 2, NULL, NULL, &out, &err), AOP_E_INVALID_ARG);
    cr_expect_eq(aop_journal_claim(j, 1, "o", 5, 5, NULL, NULL, &out, &err), AOP_E_INVALID_ARG);
    cr_expect_str_eq(err.path, "expires_ms");
    cr_expect_eq(aop_journal_list(j, false, NULL, NULL, &err), AOP_E_INVALID_ARG);
    aop_journal_close(j);
}

Test(journal, unique_kind_gateway_merchant_key_and_the_existing_entry_stays) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *a = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, a);
    aop_journal_entry_t *b = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    snprintf(b->amount, sizeof b->amount, "9999");
    aop_error_t err;
    cr_expect_eq(aop_journal_insert(j, b, &err), AOP_E_TAKEN_OVER, "%s", err.msg);
    cr_expect(strstr(err.msg, "T-1") != NULL, "%s", err.msg);
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
    cr_expect(strstr(err.msg, "T-2") != NULL, "%s", err.msg);
    free(a), free(b), free(got), free(r), free(g), free(m);
    aop_journal_close(j);
}

Test(journal, list_is_oldest_first_open_only_skips_final_and_the_callback_can_stop) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e[3];
    const char *keys[] = {"T-a", "T-b", "T-c"};
    for (int i = 0; i < 3; i++) {
        e[i] = new_entry(AOP_ENTRY_PAYMENT, keys[i]);
        insert_ok(j, e[i]);
    }
    aop_error_t err;
    e[1]->state = AOP_STATE_PAID;
    cr_assert_eq(aop_journal_transition(j, e[1], AOP_STATE_NEW, &err), AOP_OK, "%s", err.msg);
    collect_t all = {0}, open = {0}, first = {.stop_after = 1};
    cr_assert_eq(aop_journal_list(j, false, collect, &all, &err), AOP_OK);
    cr_assert_eq(aop_journal_list(j, true, collect, &open, &err), AOP_OK);
    cr_assert_eq(aop_journal_list(j, false, collect, &first, &err), AOP_OK);
    cr_expect_eq(all.n, 3);
    cr_expect(all.ids[0] == e[0]->id && all.ids[1] == e[1]->id && all.ids[2] == e[2]->id);
    cr_expect_eq(open.n, 2);
    cr_expect(open.ids[0] == e[0]->id && open.ids[1] == e[2]->id);
    cr_expect_eq(first.n, 1);
    for (int i = 0; i < 3; i++) free(e[i]);
    aop_journal_close(j);
}

/* The list callback may use the same handle: no statement is active while it runs. */
typedef struct {
    aop_journal_t *j;
    int claimed;
} reenter_t;

static bool claim_each(const aop_journal_entry_t *e, void *ctx) {
    reenter_t *r = ctx;
    aop_journal_entry_t out;
    aop_error_t err;
    int64_t now = aop_now_ms();
    if (aop_journal_claim(r->j, e->id, "me/1/1", now, now + 1000, never_dead, NULL, &out, &err) == AOP_OK) r->claimed++;
    return true;
}

Test(journal, the_list_callback_may_claim_through_the_same_handle) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *a = new_entry(AOP_ENTRY_PAYMENT, "T-a"), *b = new_entry(AOP_ENTRY_PAYMENT, "T-b");
    insert_ok(j, a);
    insert_ok(j, b);
    reenter_t r = {j, 0};
    aop_error_t err;
    cr_assert_eq(aop_journal_list(j, true, claim_each, &r, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(r.claimed, 2);
    free(a), free(b);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * Claims and lease owners */

static aop_status_t claim_as(aop_journal_t *j, int64_t id, const char *owner, aop_journal_entry_t *out,
                             aop_error_t *err) {
    int64_t now = aop_now_ms();
    return aop_journal_claim(j, id, owner, now, now + 30000, NULL, NULL, out, err);
}

static bool always_dead(const char *owner, void *ctx) {
    (void)owner;
    (void)ctx;
    return true;
}

/* Hands the lease to owner whoever holds it, through the store's own path: a claim. */
static void set_lease(aop_journal_t *j, int64_t id, const char *owner, int64_t expires_ms) {
    aop_journal_entry_t out;
    aop_error_t err;
    int64_t now = aop_now_ms();
    cr_assert_eq(aop_journal_claim(j, id, owner, now, expires_ms > now ? expires_ms : now + 1, always_dead, NULL, &out,
                                   &err),
                 AOP_OK, "%s", err.msg);
}

Test(journal, claim_of_a_free_an_expired_and_an_own_lease_bumps_the_epoch) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    aop_journal_entry_t out;
    aop_error_t err;
    char self[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_self_owner(self);
    cr_assert_eq(claim_as(j, e->id, self, &out, &err), AOP_OK, "free: %s", err.msg);
    cr_expect_eq(out.epoch, 2);
    cr_expect_str_eq(out.lease_owner, self);
    aop_journal_entry_t *stored = find_ok(j, e);
    expect_same(stored, &out);
    cr_assert_eq(claim_as(j, e->id, self, &out, &err), AOP_OK, "own: %s", err.msg);
    cr_expect_eq(out.epoch, 3);
    /* Another host's lease: refused while it lasts, taken once it expired. */
    int64_t now = aop_now_ms();
    set_lease(j, e->id, other_host_owner, now + 200);
    cr_expect_eq(claim_as(j, e->id, self, &out, &err), AOP_E_TAKEN_OVER);
    cr_expect(strstr(err.msg, other_host_owner) != NULL, "%s", err.msg);
    aop_journal_entry_t *before = find_ok(j, e);
    cr_expect_str_eq(before->lease_owner, other_host_owner, "a refused claim changes nothing");
    cr_assert_eq(aop_journal_claim(j, e->id, self, now + 201, now + 30000, NULL, NULL, &out, &err), AOP_OK,
                 "expired: %s", err.msg);
    cr_expect_eq(out.epoch, before->epoch + 1);
    cr_expect_eq(aop_journal_claim(j, 999, self, now, now + 1, NULL, NULL, &out, &err), AOP_E_MISSING);
    free(e), free(stored), free(before);
    aop_journal_close(j);
}

Test(journal, another_thread_of_this_process_never_takes_a_live_lease) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-threads");
    insert_ok(j, e);
    char mine[AOP_JOURNAL_OWNER_SIZE], theirs[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_self_owner(mine);
    aop_journal_self_owner(theirs);
    cr_assert_str_neq(mine, theirs, "each resolution is its own owner");
    cr_assert_not(aop_journal_owner_dead(mine, NULL), "this process is alive: %s", mine);
    aop_journal_entry_t out;
    aop_error_t err;
    cr_assert_eq(claim_as(j, e->id, mine, &out, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(claim_as(j, e->id, theirs, &out, &err), AOP_E_TAKEN_OVER, "a live lease of this very process");
    free(e);
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

Test(journal, claim_of_a_dead_owners_lease_succeeds_at_once) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    char dead[AOP_JOURNAL_OWNER_SIZE];
    child_owner(dead, false);
    cr_expect(aop_journal_owner_dead(dead, NULL), "%s exited", dead);
    set_lease(j, e->id, dead, aop_now_ms() + 3600000);
    aop_journal_entry_t out;
    aop_error_t err;
    cr_expect_eq(claim_as(j, e->id, "recoverer/1/1", &out, &err), AOP_OK, "%s", err.msg);
    cr_expect_str_eq(out.lease_owner, "recoverer/1/1");
    free(e);
    aop_journal_close(j);
}

Test(journal, claim_of_a_live_owners_lease_is_taken_over_until_it_dies) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    char live[AOP_JOURNAL_OWNER_SIZE];
    pid_t pid = child_owner(live, true);
    cr_expect_not(aop_journal_owner_dead(live, NULL), "%s runs", live);
    set_lease(j, e->id, live, aop_now_ms() + 3600000);
    aop_journal_entry_t out;
    aop_error_t err;
    cr_expect_eq(claim_as(j, e->id, "recoverer/1/1", &out, &err), AOP_E_TAKEN_OVER);
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect_eq(claim_as(j, e->id, "recoverer/1/1", &out, &err), AOP_OK, "%s", err.msg);
    free(e);
    aop_journal_close(j);
}

Test(journal, owner_texts) {
    char self[AOP_JOURNAL_OWNER_SIZE], host[256];
    aop_journal_self_owner(self);
    cr_assert_eq(gethostname(host, sizeof host), 0);
    char want[512];
    snprintf(want, sizeof want, "%s/%ld/", host, (long)getpid());
    cr_expect_eq(strncmp(self, want, strlen(want)), 0, "%s starts with %s", self, want);
    unsigned long long start = strtoull(self + strlen(want), NULL, 10);
    cr_expect_gt(start, 0, "the start time of /proc/self/stat");
    cr_expect_not(aop_journal_owner_dead(self, NULL), "this process runs");
    /* Our pid with another start time: the pid was reused, the owner is gone. */
    char reused[600];
    snprintf(reused, sizeof reused, "%s%llu", want, start + 1);
    cr_expect(aop_journal_owner_dead(reused, NULL));
    /* Another host is never known dead; nor is text that is no owner. */
    cr_expect_not(aop_journal_owner_dead(other_host_owner, NULL));
    static const char *const junk[] = {"", "x", "/1/2", "h//2", "h/1/", "h/x/1", "h/1/2z", "h/-1/2", "h/1"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        cr_expect_not(aop_journal_owner_dead(junk[i], NULL), "\"%s\"", junk[i]);
    cr_expect_not(aop_journal_owner_dead(NULL, NULL));
}

/* ---------------------------------------------------------------------------------------------
 * Compare-and-set */

Test(journal, transition_compares_state_epoch_and_lease_and_a_failure_changes_nothing) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    aop_journal_entry_t mine;
    aop_error_t err;
    cr_assert_eq(claim_as(j, e->id, "me/1/1", &mine, &err), AOP_OK);

    aop_journal_entry_t *before = find_ok(j, e);
    aop_journal_entry_t w = mine;
    w.state = AOP_STATE_PAY_SENT;
    snprintf(w.note, sizeof w.note, "changed");
    cr_expect_eq(aop_journal_transition(j, &w, AOP_STATE_POLLING, &err), AOP_E_TAKEN_OVER, "wrong state");
    cr_expect(strstr(err.msg, "took it over") != NULL, "%s", err.msg);
    w.epoch = mine.epoch - 1;
    cr_expect_eq(aop_journal_transition(j, &w, AOP_STATE_NEW, &err), AOP_E_TAKEN_OVER, "wrong epoch");
    w.epoch = mine.epoch;
    snprintf(w.lease_owner, sizeof w.lease_owner, "someone-else/2/2");
    cr_expect_eq(aop_journal_transition(j, &w, AOP_STATE_NEW, &err), AOP_E_TAKEN_OVER, "someone else's lease");
    cr_expect_eq(w.epoch, mine.epoch, "a failed transition leaves the caller's epoch");
    aop_journal_entry_t *after = find_ok(j, e);
    expect_same(after, before);

    /* The right (state, epoch, owner): every member is written and the epoch moves on. */
    w = mine;
    w.state = AOP_STATE_PAY_SENT;
    w.attempts = 4;
    snprintf(w.acquirement_id, sizeof w.acquirement_id, "ACQ-2");
    w.request_len = (size_t)snprintf(w.request, sizeof w.request, "{}");
    cr_assert_eq(aop_journal_transition(j, &w, AOP_STATE_NEW, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(w.epoch, mine.epoch + 1);
    free(after);
    after = find_ok(j, e);
    expect_same(after, &w);
    /* The old copy is stale now. */
    mine.state = AOP_STATE_POLLING;
    cr_expect_eq(aop_journal_transition(j, &mine, AOP_STATE_NEW, &err), AOP_E_TAKEN_OVER);
    /* Release: a transition with expiry 0 frees the lease for anyone. */
    w.lease_expires_ms = 0;
    cr_assert_eq(aop_journal_transition(j, &w, AOP_STATE_PAY_SENT, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(claim_as(j, e->id, "next/3/3", &mine, &err), AOP_OK, "%s", err.msg);
    /* No such entry. */
    w.id = 12345;
    cr_expect_eq(aop_journal_transition(j, &w, AOP_STATE_PAY_SENT, &err), AOP_E_MISSING);
    free(e), free(before), free(after);
    aop_journal_close(j);
}

/* Two handles on one file, one per thread, race for the same entries: exactly one wins each.
 * (The threads only record; the assertions run on the test's thread.) */
enum { ROUNDS = 20 };
typedef struct {
    aop_journal_t *j;
    const char *owner;
    int64_t payment_ids[ROUNDS];
    aop_journal_entry_t *refunds[ROUNDS]; /* this thread's copy of each refund entry */
    pthread_barrier_t *barrier;
    aop_status_t claim_st[ROUNDS];
    aop_status_t trans_st[ROUNDS];
} racer_t;

static void *race(void *arg) {
    racer_t *r = arg;
    for (int i = 0; i < ROUNDS; i++) {
        aop_journal_entry_t out;
        aop_error_t err;
        int64_t now = aop_now_ms();
        pthread_barrier_wait(r->barrier);
        r->claim_st[i] = aop_journal_claim(r->j, r->payment_ids[i], r->owner, now, now + 60000, never_dead, NULL, &out,
                                           &err);
    }
    /* Transitions: both copies hold the same (state, epoch) and the same (empty) owner. */
    for (int i = 0; i < ROUNDS; i++) {
        aop_error_t err;
        pthread_barrier_wait(r->barrier);
        r->trans_st[i] = aop_journal_transition(r->j, r->refunds[i], AOP_STATE_NEW, &err);
    }
    return NULL;
}

Test(journal, two_handles_racing_for_an_entry_one_wins) {
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    racer_t a = {.j = open_db(), .owner = "host-a/1/1", .barrier = &barrier};
    racer_t b = {.j = open_db(), .owner = "host-b/2/2", .barrier = &barrier};
    for (int i = 0; i < ROUNDS; i++) {
        char key[16];
        snprintf(key, sizeof key, "T-%d", i);
        aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, key);
        insert_ok(a.j, e);
        a.payment_ids[i] = b.payment_ids[i] = e->id;
        free(e);
        snprintf(key, sizeof key, "R-%d", i);
        a.refunds[i] = new_entry(AOP_ENTRY_REFUND, key);
        insert_ok(a.j, a.refunds[i]);
        b.refunds[i] = find_ok(b.j, a.refunds[i]);
        a.refunds[i]->state = AOP_STATE_SENT;
        b.refunds[i]->state = AOP_STATE_SENT;
        snprintf(b.refunds[i]->note, sizeof b.refunds[i]->note, "b");
    }
    pthread_t ta, tb;
    cr_assert_eq(pthread_create(&ta, NULL, race, &a), 0);
    cr_assert_eq(pthread_create(&tb, NULL, race, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < ROUNDS; i++) {
        cr_expect((a.claim_st[i] == AOP_OK) != (b.claim_st[i] == AOP_OK), "claim %d: %d and %d", i, a.claim_st[i],
                  b.claim_st[i]);
        cr_expect(a.claim_st[i] == AOP_E_TAKEN_OVER || b.claim_st[i] == AOP_E_TAKEN_OVER, "claim %d loser", i);
        cr_expect((a.trans_st[i] == AOP_OK) != (b.trans_st[i] == AOP_OK), "transition %d: %d and %d", i,
                  a.trans_st[i], b.trans_st[i]);
        cr_expect(a.trans_st[i] == AOP_E_TAKEN_OVER || b.trans_st[i] == AOP_E_TAKEN_OVER, "transition %d loser", i);
        /* The winner's copy is what is stored. */
        aop_journal_entry_t *got = find_ok(a.j, a.refunds[i]);
        cr_expect_str_eq(got->note, a.trans_st[i] == AOP_OK ? a.refunds[i]->note : "b");
        free(got);
        free(a.refunds[i]);
        free(b.refunds[i]);
    }
    aop_journal_close(a.j);
    aop_journal_close(b.j);
}

/* ---------------------------------------------------------------------------------------------
 * Closing by hand */

static aop_journal_entry_t *entry_in_state(aop_journal_t *j, aop_entry_kind_t kind, const char *key,
                                           aop_entry_state_t state) {
    aop_journal_entry_t *e = new_entry(kind, key);
    insert_ok(j, e);
    aop_error_t err;
    e->state = state;
    cr_assert_eq(aop_journal_transition(j, e, AOP_STATE_NEW, &err), AOP_OK, "%s", err.msg);
    return e;
}

Test(journal, close_by_hand_records_who_when_and_why) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-1", AOP_STATE_NEEDS_ATTENTION);
    aop_error_t err;
    int64_t t0 = aop_now_ms();
    cr_assert_eq(aop_journal_close_entry(j, e->id, AOP_STATE_PAID, "alice", "seen in the merchant portal", &err),
                 AOP_OK, "%s", err.msg);
    aop_journal_entry_t *got = find_ok(j, e);
    cr_expect_eq(got->state, AOP_STATE_PAID);
    cr_expect(strstr(got->note, "closed by hand as PAID by alice at ") == got->note, "%s", got->note);
    cr_expect(strstr(got->note, ": seen in the merchant portal") != NULL, "%s", got->note);
    cr_expect_not(got->watch, "a person decided: no late query");
    cr_expect_eq(got->lease_expires_ms, 0, "the lease is released");
    cr_expect_geq(got->updated_ms, t0);
    cr_expect_gt(got->epoch, e->epoch);

    aop_journal_entry_t *r = entry_in_state(j, AOP_ENTRY_REFUND, "R-1", AOP_STATE_UNRESOLVED);
    cr_expect_eq(aop_journal_close_entry(j, r->id, AOP_STATE_REFUNDED, "bob", "bank statement", &err), AOP_OK, "%s",
                 err.msg);
    free(e), free(got), free(r);
    aop_journal_close(j);
}

Test(journal, close_by_hand_refuses_what_it_must) {
    aop_journal_t *j = open_db();
    aop_error_t err;
    aop_journal_entry_t *fresh = new_entry(AOP_ENTRY_PAYMENT, "T-new");
    insert_ok(j, fresh);
    cr_expect_eq(aop_journal_close_entry(j, fresh->id, AOP_STATE_FAILED, "a", "n", &err), AOP_E_INVALID_ARG);
    cr_expect(strstr(err.msg, "NEW") != NULL, "%s", err.msg);

    aop_journal_entry_t *paid = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-paid", AOP_STATE_PAID);
    cr_expect_eq(aop_journal_close_entry(j, paid->id, AOP_STATE_FAILED, "a", "n", &err), AOP_E_MISSING, "final");
    cr_expect_eq(aop_journal_close_entry(j, 9999, AOP_STATE_FAILED, "a", "n", &err), AOP_E_MISSING, "no such id");

    aop_journal_entry_t *p = entry_in_state(j, AOP_ENTRY_PAYMENT, "T-u", AOP_STATE_UNRESOLVED);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_REFUNDED, "a", "n", &err), AOP_E_INVALID_ARG);
    cr_expect(strstr(err.msg, "payment") != NULL, "%s", err.msg);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_UNRESOLVED, "a", "n", &err), AOP_E_BAD_ENUM);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_PAID, "", "n", &err), AOP_E_EMPTY);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_PAID, "a", NULL, &err), AOP_E_EMPTY);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_PAID, "a", "x\x1b[2J", &err), AOP_E_CONTROL_CHAR);
    char long_note[300];
    memset(long_note, 'n', sizeof long_note - 1);
    long_note[sizeof long_note - 1] = '\0';
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_PAID, "a", long_note, &err), AOP_E_TOO_LONG);
    aop_journal_entry_t *r = entry_in_state(j, AOP_ENTRY_REFUND, "R-u", AOP_STATE_UNRESOLVED);
    cr_expect_eq(aop_journal_close_entry(j, r->id, AOP_STATE_PAID, "a", "n", &err), AOP_E_INVALID_ARG);
    cr_expect_eq(aop_journal_close_entry(j, r->id, AOP_STATE_CANCELLED, "a", "n", &err), AOP_E_INVALID_ARG);

    /* A live owner's lease (another host: never known dead) is refused. */
    set_lease(j, p->id, other_host_owner, aop_now_ms() + 3600000);
    cr_expect_eq(aop_journal_close_entry(j, p->id, AOP_STATE_PAID, "a", "n", &err), AOP_E_TAKEN_OVER);
    aop_journal_entry_t *still = find_ok(j, p);
    cr_expect_eq(still->state, AOP_STATE_UNRESOLVED, "every refusal leaves the entry as it was");
    cr_expect_str_eq(still->lease_owner, other_host_owner);
    free(fresh), free(paid), free(p), free(r), free(still);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * The file */

Test(journal, files_are_created_0600_whatever_the_umask) {
    mode_t old = umask(0);
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    umask(old);
    struct stat sb;
    cr_assert_eq(stat(db_path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "journal: %o", sb.st_mode & 0777);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", db_path);
    cr_assert_eq(stat(wal, &sb), 0, "WAL mode makes a -wal file");
    cr_expect_eq(sb.st_mode & 0777, 0600, "-wal: %o", sb.st_mode & 0777);
    free(e);
    aop_journal_close(j);
}

Test(journal, reopening_keeps_the_entries) {
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    aop_journal_close(j);
    j = open_db();
    aop_journal_entry_t *got = find_ok(j, e);
    expect_same(got, e);
    free(e), free(got);
    aop_journal_close(j);
}

Test(journal, a_newer_schema_version_and_a_non_database_are_refused) {
    aop_journal_close(open_db());
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA user_version=2", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    aop_journal_t *j = (aop_journal_t *)1;
    aop_error_t err;
    cr_expect_eq(aop_journal_open_sqlite(db_path, &j, &err), AOP_E_JOURNAL);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, "schema version 2") != NULL, "%s", err.msg);

    char junk[160];
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    FILE *f = fopen(junk, "w");
    cr_assert_not_null(f);
    fputs("this is not an SQLite database, not even its header ........................", f);
    fclose(f);
    cr_expect_eq(aop_journal_open_sqlite(junk, &j, &err), AOP_E_JOURNAL);
    cr_expect(strstr(err.msg, "junk.db") != NULL && strstr(err.msg, "not a database") != NULL, "%s", err.msg);
    unlink(junk);

    snprintf(junk, sizeof junk, "%s/no/such/dir/j.db", dir);
    cr_expect_eq(aop_journal_open_sqlite(junk, &j, &err), AOP_E_JOURNAL);
    cr_expect(strstr(err.msg, "No such file") != NULL, "%s", err.msg);
    cr_expect_eq(aop_journal_open_sqlite("", &j, &err), AOP_E_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------------
 * Durability: a VFS that counts the syncs SQLite asks for, installed as the default before the
 * journal opens (the library opens with the default VFS). */

static sqlite3_vfs *real_vfs;
static sqlite3_vfs count_vfs;
static atomic_int syncs;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
} cfile_t;

#define REAL(f) (((cfile_t *)(f))->real)
static int c_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) {
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int c_sync(sqlite3_file *f, int flags) {
    atomic_fetch_add(&syncs, 1);
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int c_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int c_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int c_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int c_fcntl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int c_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int c_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int c_shm_map(sqlite3_file *f, int i, int sz, int ext, void volatile **p) {
    return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p);
}
static int c_shm_lock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void c_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int c_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int c_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) { return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int c_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods count_io = {
    3, c_close, c_read, c_write, c_truncate, c_sync, c_size, c_lock, c_unlock, c_reserved, c_fcntl, c_sector,
    c_device, c_shm_map, c_shm_lock, c_shm_barrier, c_shm_unmap, c_fetch, c_unfetch};

static int c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
    (void)vfs;
    cfile_t *cf = (cfile_t *)f;
    cf->real = (sqlite3_file *)(cf + 1);
    int rc = real_vfs->xOpen(real_vfs, name, cf->real, flags, out_flags);
    /* The unix VFS's methods are version 3; anything older would not have the shm calls. */
    cf->base.pMethods = cf->real->pMethods && cf->real->pMethods->iVersion >= 3 ? &count_io : NULL;
    if (cf->real->pMethods && !cf->base.pMethods) {
        cf->real->pMethods->xClose(cf->real);
        return SQLITE_CANTOPEN;
    }
    return rc;
}

static void install_counting_vfs(void) {
    real_vfs = sqlite3_vfs_find(NULL);
    cr_assert_not_null(real_vfs);
    count_vfs = *real_vfs;
    count_vfs.zName = "aop-test-count";
    count_vfs.szOsFile = (int)sizeof(cfile_t) + real_vfs->szOsFile;
    count_vfs.xOpen = c_open;
    count_vfs.pNext = NULL;
    cr_assert_eq(sqlite3_vfs_register(&count_vfs, 1), SQLITE_OK);
}

Test(journal, insert_syncs_and_claim_transition_find_list_do_not) {
    install_counting_vfs();
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    atomic_store(&syncs, 0);
    insert_ok(j, e);
    int on_insert = atomic_load(&syncs);
    cr_expect_geq(on_insert, 1, "the insert commits with synchronous=FULL (a WAL fsync), %d syncs", on_insert);

    atomic_store(&syncs, 0);
    aop_journal_entry_t out;
    aop_error_t err;
    cr_assert_eq(claim_as(j, e->id, "me/1/1", &out, &err), AOP_OK, "%s", err.msg);
    out.state = AOP_STATE_PAY_SENT;
    cr_assert_eq(aop_journal_transition(j, &out, AOP_STATE_NEW, &err), AOP_OK, "%s", err.msg);
    out.state = AOP_STATE_POLLING;
    cr_assert_eq(aop_journal_transition(j, &out, AOP_STATE_PAY_SENT, &err), AOP_OK, "%s", err.msg);
    free(find_ok(j, e));
    collect_t c = {0};
    cr_assert_eq(aop_journal_list(j, true, collect, &c, &err), AOP_OK);
    cr_expect_eq(atomic_load(&syncs), 0, "later changes commit with NORMAL: %d syncs", atomic_load(&syncs));

    /* The next insert is FULL again. */
    aop_journal_entry_t *f = new_entry(AOP_ENTRY_PAYMENT, "T-2");
    atomic_store(&syncs, 0);
    insert_ok(j, f);
    cr_expect_geq(atomic_load(&syncs), 1);
    /* A refused insert (the key exists) leaves NORMAL behind as well. */
    aop_journal_entry_t *dup = new_entry(AOP_ENTRY_PAYMENT, "T-2");
    cr_expect_eq(aop_journal_insert(j, dup, &err), AOP_E_TAKEN_OVER);
    atomic_store(&syncs, 0);
    f->state = AOP_STATE_PAY_SENT;
    cr_assert_eq(aop_journal_transition(j, f, AOP_STATE_NEW, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(atomic_load(&syncs), 0);
    free(e), free(f), free(dup);
    aop_journal_close(j);
    sqlite3_vfs_unregister(&count_vfs);
}

/* ---------------------------------------------------------------------------------------------
 * A custom store: the journal dispatches to it and checks arguments before it. */

typedef struct {
    int inserts, finds, claims, transitions, lists, closes;
    aop_journal_entry_t last;
} mem_store_t;

static int closed_stores;

static aop_status_t m_insert(void *s, aop_journal_entry_t *e, aop_error_t *err) {
    (void)err;
    mem_store_t *m = s;
    e->id = ++m->inserts;
    m->last = *e;
    return AOP_OK;
}
static aop_status_t m_find(void *s, aop_entry_kind_t kind, const char *g, const char *mid, const char *key,
                           aop_journal_entry_t *out, aop_error_t *err) {
    mem_store_t *m = s;
    m->finds++;
    if (m->inserts && kind == m->last.kind && !strcmp(g, m->last.gateway) && !strcmp(mid, m->last.merchant_id) &&
        !strcmp(key, m->last.key)) {
        *out = m->last;
        return AOP_OK;
    }
    return aop_error_set(err, AOP_E_MISSING, NULL, -1, "not in memory");
}
static aop_status_t m_claim(void *s, int64_t id, const char *owner, int64_t now, int64_t exp,
                            bool (*dead)(const char *, void *), void *ctx, aop_journal_entry_t *out,
                            aop_error_t *err) {
    (void)id, (void)now, (void)err;
    mem_store_t *m = s;
    m->claims++;
    /* The default owner test is passed on when the caller gives none. */
    cr_expect_eq(dead, aop_journal_owner_dead);
    cr_expect_null(ctx);
    snprintf(m->last.lease_owner, sizeof m->last.lease_owner, "%s", owner);
    m->last.lease_expires_ms = exp;
    m->last.epoch++;
    *out = m->last;
    return AOP_OK;
}
static aop_status_t m_transition(void *s, aop_journal_entry_t *e, aop_entry_state_t expect, aop_error_t *err) {
    mem_store_t *m = s;
    m->transitions++;
    if (expect != m->last.state || e->epoch != m->last.epoch) return aop_error_set(err, AOP_E_TAKEN_OVER, NULL, -1, "cas");
    e->epoch++;
    m->last = *e;
    return AOP_OK;
}
static aop_status_t m_list(void *s, bool open_only, aop_journal_each_fn fn, void *ctx, aop_error_t *err) {
    (void)err;
    mem_store_t *m = s;
    m->lists++;
    if (m->inserts && (!open_only || !aop_entry_state_final(m->last.state))) fn(&m->last, ctx);
    return AOP_OK;
}
static void m_close(void *s) {
    (void)s;
    closed_stores++;
}

Test(journal, a_custom_store_is_dispatched_to_and_closed) {
    static const aop_journal_ops_t ops = {m_insert, m_find, m_claim, m_transition, m_list, m_close};
    mem_store_t *m = calloc(1, sizeof *m);
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(aop_journal_open_custom(&ops, m, &j, &err), AOP_OK, "%s", err.msg);
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    aop_journal_entry_t *got = find_ok(j, e);
    cr_expect_str_eq(got->key, "T-1");
    aop_journal_entry_t out;
    int64_t now = aop_now_ms();
    cr_assert_eq(aop_journal_claim(j, e->id, "me/1/1", now, now + 5, NULL, NULL, &out, &err), AOP_OK);
    out.state = AOP_STATE_UNRESOLVED;
    cr_assert_eq(aop_journal_transition(j, &out, AOP_STATE_NEW, &err), AOP_OK, "%s", err.msg);
    /* Closing by hand is built on the operations, so it works over any store. */
    cr_assert_eq(aop_journal_close_entry(j, e->id, AOP_STATE_CANCELLED, "carol", "reversed at the bank", &err), AOP_OK,
                 "%s", err.msg);
    cr_expect_eq(m->last.state, AOP_STATE_CANCELLED);
    cr_expect(strstr(m->last.note, "carol") != NULL);
    /* A bad entry never reaches the store. */
    aop_journal_entry_t *bad = new_entry(AOP_ENTRY_PAYMENT, "");
    cr_expect_eq(aop_journal_insert(j, bad, &err), AOP_E_EMPTY);
    cr_expect_eq(m->inserts, 1);
    cr_expect_eq(m->finds, 1);
    cr_expect_eq(m->claims, 2);
    cr_expect_eq(m->transitions, 2);
    cr_expect_eq(m->lists, 1);
    aop_journal_close(j);
    cr_expect_eq(closed_stores, 1);
    aop_journal_close(NULL);

    aop_journal_ops_t missing = ops;
    missing.claim = NULL;
    cr_expect_eq(aop_journal_open_custom(&missing, m, &j, &err), AOP_E_INVALID_ARG);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, "claim") != NULL, "%s", err.msg);
    cr_expect_eq(aop_journal_open_custom(NULL, m, &j, &err), AOP_E_INVALID_ARG);
    free(m), free(e), free(got), free(bad);
}

/* ---------------------------------------------------------------------------------------------
 * Names and the gateway identity */

Test(journal, state_names_round_trip_and_finality) {
    int final = 0;
    for (int s = AOP_STATE_NEW; s <= AOP_STATE_REFUNDED; s++) {
        const char *name = aop_entry_state_name((aop_entry_state_t)s);
        cr_expect_str_neq(name, "?");
        cr_expect_eq(aop_entry_state_from_name(name), s, "%s", name);
        final += aop_entry_state_final((aop_entry_state_t)s);
    }
    cr_expect_eq(final, 4);
    cr_expect_str_eq(aop_entry_state_name(AOP_STATE_NEEDS_ATTENTION), "NEEDS_ATTENTION");
    cr_expect_str_eq(aop_entry_state_name((aop_entry_state_t)0), "?");
    cr_expect_str_eq(aop_entry_state_name((aop_entry_state_t)12), "?");
    cr_expect_eq(aop_entry_state_from_name("paid"), 0);
    cr_expect_eq(aop_entry_state_from_name(NULL), 0);
    cr_expect_not(aop_entry_state_final(AOP_STATE_UNRESOLVED));
}

Test(journal, gateway_identity_fits_the_longest_fingerprint_and_client_id) {
    char fp[AOP_FINGERPRINT_MAX], id[AOP_JOURNAL_ID_SIZE], out[AOP_JOURNAL_GATEWAY_SIZE], want[512];
    memcpy(fp, "SHA256:", 7);
    memset(fp + 7, 'f', AOP_FINGERPRINT_MAX - 8);
    fp[AOP_FINGERPRINT_MAX - 1] = '\0';
    memset(id, '9', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    aop_journal_gateway_identity(fp, id, out);
    snprintf(want, sizeof want, "%s/%s", fp, id);
    cr_expect_str_eq(out, want, "not truncated");
    aop_journal_gateway_identity("SHA256:ab", "2188", out);
    cr_expect_str_eq(out, "SHA256:ab/2188");
    /* Beyond the maxima: a digest of the whole text, never a truncated prefix two gateways share. */
    char longer[200], out2[AOP_JOURNAL_GATEWAY_SIZE];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    aop_journal_gateway_identity(longer, "A", out);
    aop_journal_gateway_identity(longer, "B", out2);
    cr_expect(strncmp(out, "digest:SHA256:", 14) == 0, "%s", out);
    cr_expect_str_neq(out, out2);
    cr_expect_eq(strlen(out), 14 + 64);
}
