/* SPDX-License-Identifier: MIT */
/* The journal beyond the store contract (test_journal_conformance.c runs that against every
 * store): the SQLite file (modes, unsafe files refused, migrations and the legacy entries' MACs,
 * the same table whichever way it was made), durability (the process's syncs counted: one per
 * insert batch, none for later writes, none to open and close), group commit and a
 * batch that cannot be committed, racing handles, a custom store's operations and versions, the
 * entries' MACs, lease owners, names and the gateway identity, and the table of moves. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aop/sign.h"
#include "journal_fixture.h"
#include "support.h"
#include "sync_count.h"

static char dir[64];
static char db_path[128];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/aop-journal-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/journal.db", dir);
}

static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(journal, .init = make_dir, .fini = remove_dir, .timeout = 60);

static aop_journal_t *open_db(void) {
    aop_journal_t *j = NULL;
    aop_error_t err;
    aop_status_t st = aop_journal_open_sqlite(db_path, &j, &err);
    cr_assert_eq(st, AOP_OK, "open: %s", err.msg);
    cr_assert_not_null(j);
    return j;
}

static aop_journal_key_t test_key(const char *file) {
    aop_private_key_t *k = NULL;
    aop_error_t err;
    cr_assert_eq(aop_private_key_load_file(aop_test_private_key(file), NULL, &k, &err), AOP_OK, "%s", err.msg);
    aop_journal_key_t out;
    cr_assert_eq(aop_journal_key_derive(k, &out, &err), AOP_OK, "%s", err.msg);
    aop_private_key_free(k);
    return out;
}

static void sql(const char *path, const char *text) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, text, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

static long long sql_int(const char *path, const char *text) {
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, text, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    long long v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
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
    cr_expect_eq(stat(wal, &sb), 0, "the write-ahead log is kept between processes");
}

static void expect_refused(const char *path, const char *why, const char *fix) {
    aop_journal_t *j = (aop_journal_t *)1;
    aop_error_t err;
    cr_expect_eq(aop_journal_open_sqlite(path, &j, &err), AOP_E_CONFIG, "%s: %s", why, err.msg);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, why) != NULL, "%s", err.msg);
    if (fix) cr_expect(strstr(err.msg, fix) != NULL, "%s", err.msg);
}

Test(journal, an_unsafe_existing_file_is_refused_with_the_fix) {
    aop_journal_close(open_db());
    char link[160];
    snprintf(link, sizeof link, "%s/link.db", dir);
    cr_assert_eq(symlink(db_path, link), 0);
    expect_refused(link, "is a symbolic link", "the path of the file itself");
    cr_assert_eq(chmod(db_path, 0666), 0);
    expect_refused(db_path, "lets group or others write it", "chmod 600");
    cr_assert_eq(chmod(db_path, 0620), 0);
    expect_refused(db_path, "mode 0620", "chmod 600");
    cr_assert_eq(chmod(db_path, 0640), 0);
    aop_journal_close(open_db()); /* readable by the group: nothing secret is in it */
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo.db", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    expect_refused(fifo, "a FIFO", "not a regular file");
    expect_refused(dir, "a directory", NULL);
}

/* Needs root (to give the file to another account): its own CTest test, skipped otherwise. */
Test(journal, a_file_of_another_account_is_refused) {
    if (geteuid() != 0) cr_skip_test("needs root to chown a file to another account");
    aop_journal_close(open_db());
    cr_assert_eq(chown(db_path, 65534, 65534), 0);
    expect_refused(db_path, "belongs to uid 65534", "chown 0");
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
    sql(db_path, "PRAGMA user_version=6");
    aop_journal_t *j = (aop_journal_t *)1;
    aop_error_t err;
    cr_expect_eq(aop_journal_open_sqlite(db_path, &j, &err), AOP_E_JOURNAL);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, "schema version 6") != NULL, "%s", err.msg);

    char junk[160];
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    FILE *f = fopen(junk, "w");
    cr_assert_not_null(f);
    fputs("this is not an SQLite database, not even its header ........................", f);
    fclose(f);
    chmod(junk, 0600);
    cr_expect_eq(aop_journal_open_sqlite(junk, &j, &err), AOP_E_JOURNAL);
    cr_expect(strstr(err.msg, "junk.db") != NULL && strstr(err.msg, "not a database") != NULL, "%s", err.msg);

    snprintf(junk, sizeof junk, "%s/no/such/dir/j.db", dir);
    cr_expect_eq(aop_journal_open_sqlite(junk, &j, &err), AOP_E_JOURNAL);
    cr_expect(strstr(err.msg, "No such file") != NULL, "%s", err.msg);
    cr_expect_eq(aop_journal_open_sqlite("", &j, &err), AOP_E_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------------
 * Migrations, and the MACs of the entries they bring along */

/* A file of version 1, the first release's table as it was written. */
static const char v1_file[] =
    "CREATE TABLE entries (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    " function TEXT NOT NULL, merchant_id TEXT NOT NULL, key TEXT NOT NULL, payment_acquirement_id TEXT NOT NULL,"
    " amount TEXT NOT NULL, currency TEXT NOT NULL, gateway TEXT NOT NULL, client_id TEXT NOT NULL,"
    " state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 11), last_status TEXT NOT NULL, last_code TEXT NOT NULL,"
    " acquirement_id TEXT NOT NULL, created_ms INTEGER NOT NULL, last_attempt_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL, pay_started_ms INTEGER NOT NULL, pay_deadline_ms INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, acknowledged INTEGER NOT NULL, watch INTEGER NOT NULL,"
    " watch_due_ms INTEGER NOT NULL, lease_owner TEXT NOT NULL, lease_expires_ms INTEGER NOT NULL,"
    " epoch INTEGER NOT NULL, note TEXT NOT NULL, request TEXT NOT NULL, UNIQUE (kind, gateway, merchant_id, key));"
    "CREATE INDEX entries_open ON entries (id) WHERE state NOT IN (8, 9, 10, 11);"
    "INSERT INTO entries VALUES (7, 1, 'alipay.intl.acquiring.offline.pay', 'M', 'OLD-1', '', '100', 'USD',"
    " 'SHA256:x/C', 'C', 4, 'U PAYMENT_IN_PROCESS', 'PAYMENT_IN_PROCESS', 'A1', 1, 2, 3, 1700000000000, 15000,"
    " 2, 1, 0, 0, '', 0, 5, 'note', '{\"a\":1}');"
    "INSERT INTO entries VALUES (8, 2, 'alipay.intl.acquiring.common.refund', 'M', 'OLD-R', 'A1', '40', 'USD',"
    " 'SHA256:other/D', 'D', 5, '', '', '', 1, 2, 3, 0, 15000, 1, 0, 0, 0, '', 0, 3, '', '{\"r\":1}');"
    "PRAGMA user_version=1;";

Test(journal, a_version_1_file_is_migrated_and_its_entries_are_sealed_by_the_key_holder) {
    sql(db_path, v1_file);
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = calloc(1, sizeof *e);
    aop_error_t err;
    cr_assert_eq(aop_journal_find(j, AOP_ENTRY_PAYMENT, "SHA256:x/C", "M", "OLD-1", e, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(e->id, 7);
    cr_expect_eq(e->state, AOP_STATE_CANCELLING);
    cr_expect_eq(e->pay_started_ms, 1700000000000);
    cr_expect_str_eq(e->acquirement_id, "A1");
    cr_expect_str_eq(e->request, "{\"a\":1}");
    cr_expect_str_eq(e->clock_id, "", "no clock stamps: measured by the wall clock");
    cr_expect_str_eq(e->mac, "", "older entries have no MAC");
    aop_journal_key_t k = test_key("merchant.pkcs8.pem");
    cr_expect_eq(aop_journal_entry_check(&k, e), AOP_MAC_NONE);
    /* An entry written by hand after the migration, without a MAC: no key holder vouches for it. */
    sql(db_path, "INSERT INTO entries (kind, function, merchant_id, key, payment_acquirement_id, amount, currency,"
                 " gateway, client_id, state, last_status, last_code, acquirement_id, created_ms, last_attempt_ms,"
                 " updated_ms, pay_started_ms, pay_deadline_ms, attempts, acknowledged, watch, watch_due_ms,"
                 " lease_owner, lease_expires_ms, epoch, note, request) SELECT kind, function, merchant_id, 'FORGED',"
                 " payment_acquirement_id, amount, currency, gateway, client_id, 6, last_status, last_code,"
                 " acquirement_id, created_ms, last_attempt_ms, updated_ms, pay_started_ms, pay_deadline_ms, attempts,"
                 " acknowledged, watch, watch_due_ms, '', 0, 1, note, request FROM entries WHERE id = 7");
    unsigned sealed = 99;
    cr_assert_eq(aop_journal_seal_legacy(j, "SHA256:x/C", &k, &sealed, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(sealed, 1, "the entry of this gateway that predates MACs, not the one written since");
    cr_assert_eq(aop_journal_find(j, AOP_ENTRY_PAYMENT, "SHA256:x/C", "M", "OLD-1", e, &err), AOP_OK);
    cr_expect_eq(aop_journal_entry_check(&k, e), AOP_MAC_OK);
    cr_assert_eq(aop_journal_find(j, AOP_ENTRY_PAYMENT, "SHA256:x/C", "M", "FORGED", e, &err), AOP_OK);
    cr_expect_eq(aop_journal_entry_check(&k, e), AOP_MAC_NONE);
    cr_assert_eq(aop_journal_find(j, AOP_ENTRY_REFUND, "SHA256:other/D", "M", "OLD-R", e, &err), AOP_OK);
    cr_expect_eq(aop_journal_entry_check(&k, e), AOP_MAC_NONE, "another gateway's: its own key holder seals it");
    cr_assert_eq(aop_journal_seal_legacy(j, "SHA256:x/C", &k, &sealed, &err), AOP_OK);
    cr_expect_eq(sealed, 0, "once");
    /* the new state of version 2 can be stored */
    aop_journal_entry_t *mine = calloc(1, sizeof *mine);
    cr_assert_eq(claim_as(j, 7, "me/1/1", mine, &err), AOP_OK, "%s", err.msg);
    cr_expect_str_neq(mine->clock_id, "", "claimed: its stamps on the store's clock");
    cr_expect_eq(move(j, mine, AOP_STATE_LAST_CHECK, 0, &err), AOP_OK, "%s", err.msg);
    aop_journal_close(j);
    cr_expect_eq(sql_int(db_path, "PRAGMA user_version"), 5);
    /* a later process finds them sealed */
    j = open_db();
    cr_assert_eq(aop_journal_find(j, AOP_ENTRY_PAYMENT, "SHA256:x/C", "M", "OLD-1", e, &err), AOP_OK);
    cr_expect_eq(aop_journal_entry_check(&k, e), AOP_MAC_OK);
    cr_assert_eq(aop_journal_seal_legacy(j, "SHA256:x/C", &k, &sealed, &err), AOP_OK);
    cr_expect_eq(sealed, 0);
    aop_journal_close(j);
    free(e), free(mine);
}

/* The columns of a table, as SQLite describes them. */
static void table_info(const char *path, char *out, size_t cap) {
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('entries')",
                                    -1, &q, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    size_t n = 0;
    out[0] = '\0';
    while (sqlite3_step(q) == SQLITE_ROW)
        n += (size_t)snprintf(out + n, cap - n, "%s %s %d %s %d;", sqlite3_column_text(q, 0), sqlite3_column_text(q, 1),
                              sqlite3_column_int(q, 2),
                              sqlite3_column_text(q, 3) ? (const char *)sqlite3_column_text(q, 3) : "-",
                              sqlite3_column_int(q, 4));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

Test(journal, a_migrated_table_and_a_new_one_are_the_same_table) {
    sql(db_path, v1_file);
    aop_journal_close(open_db());
    char fresh[160], migrated[4096], made[4096];
    table_info(db_path, migrated, sizeof migrated);
    snprintf(fresh, sizeof fresh, "%s/fresh.db", dir);
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(aop_journal_open_sqlite(fresh, &j, &err), AOP_OK, "%s", err.msg);
    aop_journal_close(j);
    table_info(fresh, made, sizeof made);
    cr_expect_str_eq(made, migrated);
    cr_expect_eq(sql_int(fresh, "SELECT value FROM journal_meta WHERE name = 'legacy_upto'"), 0);
    cr_expect_eq(sql_int(db_path, "SELECT value FROM journal_meta WHERE name = 'legacy_upto'"), 8);
    cr_expect_eq(sql_int(fresh, "SELECT count(*) FROM sqlite_master WHERE name IN ('entries_open', 'entries_watch')"), 2);
}

/* How many ephemeral tables SQLite opens to run text on the file at path. */
static int ephemeral_tables(const char *path, const char *text) {
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char explain[512];
    snprintf(explain, sizeof explain, "EXPLAIN %s", text);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, explain, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    int n = 0;
    while (sqlite3_step(q) == SQLITE_ROW) n += strcmp((const char *)sqlite3_column_text(q, 1), "OpenEphemeral") == 0;
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

#define WRITE_STATE "UPDATE entries SET state = 8 WHERE id = 1"

Test(journal, a_version_4_file_gets_an_open_index_whose_upkeep_needs_no_ephemeral_table) {
    aop_journal_close(open_db());
    cr_expect_eq(ephemeral_tables(db_path, WRITE_STATE), 0, "a new journal");
    sql(db_path, "DROP INDEX entries_open;"
                 "CREATE INDEX entries_open ON entries (id) WHERE state NOT IN (8, 9, 10, 11);"
                 "PRAGMA user_version=4;");
    cr_expect_gt(ephemeral_tables(db_path, WRITE_STATE), 0, "version 4's predicate, an IN list");
    aop_journal_close(open_db());
    cr_expect_eq(sql_int(db_path, "PRAGMA user_version"), 5);
    cr_expect_eq(ephemeral_tables(db_path, WRITE_STATE), 0, "migrated");
    cr_expect_eq(sql_int(db_path, "SELECT count(*) FROM sqlite_master WHERE name = 'entries_open'"), 1);
}

Test(journal, a_version_2_file_keeps_its_boot_stamps_as_the_stores_clock) {
    sql(db_path, v1_file);
    /* version 2 as released: the v1 table with the boot columns (its rename comes with version 3) */
    sql(db_path, "ALTER TABLE entries ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';"
                 "ALTER TABLE entries ADD COLUMN pay_started_boot_ms INTEGER NOT NULL DEFAULT 0;"
                 "ALTER TABLE entries ADD COLUMN watch_due_boot_ms INTEGER NOT NULL DEFAULT 0;"
                 "UPDATE entries SET boot_id = 'b00710', pay_started_boot_ms = 12345 WHERE id = 7;"
                 "PRAGMA user_version=2;");
    aop_journal_t *j = open_db();
    aop_journal_entry_t *e = calloc(1, sizeof *e);
    aop_error_t err;
    cr_assert_eq(aop_journal_get(j, 7, false, e, &err), AOP_OK, "%s", err.msg);
    cr_expect_str_eq(e->clock_id, "b00710");
    cr_expect_eq(e->pay_started_clock_ms, 12345);
    cr_expect_eq(e->next_attempt_ms, 0, "due at once");
    /* version 4: an entry open when migrated may have sent a cancel; a final one is left alone */
    cr_expect(e->cancel_sent, "open when migrated: a cancel may have left");
    cr_assert_eq(aop_journal_get(j, 8, false, e, &err), AOP_OK, "%s", err.msg);
    cr_expect(e->cancel_sent, "open too (SENT)");
    free(e);
    aop_journal_close(j);
    cr_expect_eq(sql_int(db_path, "SELECT count(*) FROM notices"), 0, "and the notification table, empty");
}

/* ---------------------------------------------------------------------------------------------
 * Durability: the syncs SQLite asks for */

Test(journal, one_sync_per_insert_none_for_later_writes_nor_to_open_and_close) {
    aop_journal_close(open_db()); /* a journal that exists, as a till's does */
    atomic_store(&sync_count, 0);
    aop_journal_t *j = open_db();
    cr_expect_eq(atomic_load(&sync_count), 0, "opening syncs nothing");
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    insert_ok(j, e);
    cr_expect_eq(atomic_load(&sync_count), 1, "the insert commits with synchronous=FULL: %d syncs",
                 atomic_load(&sync_count));
    atomic_store(&sync_count, 0);
    aop_journal_entry_t *out = calloc(1, sizeof *out);
    aop_error_t err;
    cr_assert_eq(move(j, e, AOP_STATE_POLLING, AOP_WRITE_CALL, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(aop_journal_renew(j, e, 0, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(claim_as(j, e->id, "me/1/1", out, &err), AOP_OK, "%s", err.msg);
    cr_assert_eq(move(j, out, AOP_STATE_CANCELLING, AOP_WRITE_NOTE, &err), AOP_OK, "%s", err.msg);
    free(find_ok(j, e));
    collect_t c = {0};
    cr_assert_eq(aop_journal_list(j, true, collect, &c, &err), AOP_OK);
    cr_expect_eq(atomic_load(&sync_count), 0, "later changes commit with NORMAL: %d syncs",
                 atomic_load(&sync_count));
    /* A refused insert (the key exists) leaves NORMAL behind as well. */
    aop_journal_entry_t *dup = new_entry(AOP_ENTRY_PAYMENT, "T-1");
    cr_expect_eq(aop_journal_insert(j, dup, 1000, NULL, &err), AOP_E_TAKEN_OVER);
    atomic_store(&sync_count, 0);
    cr_assert_eq(move(j, out, AOP_STATE_LAST_CHECK, 0, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(atomic_load(&sync_count), 0);
    aop_journal_close(j);
    cr_expect_eq(atomic_load(&sync_count), 0, "no checkpoint on close");
    free(e), free(out), free(dup);
}

/* Threads inserting on one handle: committed together, one sync per batch, every entry there. */
enum { INSERTERS = 8, EACH = 10 };
typedef struct {
    aop_journal_t *j;
    int index;
    aop_status_t st[EACH];
    char msg[AOP_ERROR_MSG_MAX];
} inserter_t;

static void *insert_some(void *arg) {
    inserter_t *t = arg;
    for (int i = 0; i < EACH; i++) {
        char key[32];
        snprintf(key, sizeof key, "G-%d-%d", t->index, i);
        aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, key);
        aop_error_t err;
        t->st[i] = aop_journal_insert(t->j, e, 60000, NULL, &err);
        if (t->st[i] != AOP_OK) snprintf(t->msg, sizeof t->msg, "%s", err.msg);
        free(e);
    }
    return NULL;
}

static void insert_from_threads(aop_journal_t *j, inserter_t *t) {
    pthread_t th[INSERTERS];
    for (int k = 0; k < INSERTERS; k++) {
        t[k] = (inserter_t){.j = j, .index = k};
        cr_assert_eq(pthread_create(&th[k], NULL, insert_some, &t[k]), 0);
    }
    for (int k = 0; k < INSERTERS; k++) pthread_join(th[k], NULL);
}

Test(journal, concurrent_inserts_on_one_handle_share_their_syncs) {
    aop_journal_t *j = open_db();
    atomic_store(&sync_delay_ms, 20); /* a slow disk: the others queue up meanwhile */
    atomic_store(&sync_count, 0);
    inserter_t t[INSERTERS];
    insert_from_threads(j, t);
    atomic_store(&sync_delay_ms, 0);
    int syncs = atomic_load(&sync_count);
    for (int k = 0; k < INSERTERS; k++)
        for (int i = 0; i < EACH; i++) cr_expect_eq(t[k].st[i], AOP_OK, "%d/%d: %s", k, i, t[k].msg);
    cr_expect_lt(syncs, INSERTERS * EACH / 2, "%d syncs for %d inserts", syncs, INSERTERS * EACH);
    cr_expect_geq(syncs, EACH, "a thread's inserts are durable one after the other");
    collect_t c = {0};
    aop_error_t err;
    cr_assert_eq(aop_journal_list(j, false, collect, &c, &err), AOP_OK);
    cr_expect_eq(c.n, INSERTERS * EACH);
    aop_journal_close(j);
    cr_expect_eq(sql_int(db_path, "SELECT count(*) FROM entries"), INSERTERS * EACH);
}

Test(journal, a_batch_that_cannot_be_synced_fails_every_insert_in_it) {
    aop_journal_t *j = open_db();
    atomic_store(&sync_delay_ms, 5);
    atomic_store(&sync_fail, 1);
    inserter_t t[INSERTERS];
    insert_from_threads(j, t);
    atomic_store(&sync_fail, 0);
    atomic_store(&sync_delay_ms, 0);
    for (int k = 0; k < INSERTERS; k++)
        for (int i = 0; i < EACH; i++)
            cr_expect(t[k].st[i] == AOP_E_JOURNAL_UNKNOWN || t[k].st[i] == AOP_E_JOURNAL, "%d/%d: %s (%s)", k, i,
                      aop_status_name(t[k].st[i]), t[k].msg);
    cr_expect(strstr(t[0].msg, "may or may not") != NULL || strstr(t[0].msg, "journal") != NULL, "%s", t[0].msg);
    /* the store recovers once the disk does */
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, "after");
    insert_ok(j, e);
    free(e);
    aop_journal_close(j);
}

/* ---------------------------------------------------------------------------------------------
 * Two handles on one file, one per thread, race for the same entries: exactly one wins each. */

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
    aop_journal_entry_t *out = malloc(sizeof *out);
    for (int i = 0; i < ROUNDS; i++) {
        aop_error_t err;
        pthread_barrier_wait(r->barrier);
        r->claim_st[i] = aop_journal_claim(r->j, r->payment_ids[i], r->owner, 60000, out, &err);
    }
    /* Transitions: both copies hold the same (state, epoch) and the same owner. */
    for (int i = 0; i < ROUNDS; i++) {
        aop_error_t err;
        pthread_barrier_wait(r->barrier);
        aop_journal_write_t w = {.expect_state = AOP_STATE_NEW, .columns = AOP_WRITE_NOTE, .lease_ttl_ms = 1000};
        r->trans_st[i] = aop_journal_transition(r->j, r->refunds[i], &w, &err);
    }
    free(out);
    return NULL;
}

Test(journal, two_handles_racing_for_an_entry_one_wins) {
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    racer_t a = {.j = open_db(), .owner = "host-a/1/1", .barrier = &barrier};
    racer_t b = {.j = open_db(), .owner = "host-b/2/2", .barrier = &barrier};
    aop_error_t err;
    for (int i = 0; i < ROUNDS; i++) {
        char key[16];
        snprintf(key, sizeof key, "T-%d", i);
        aop_journal_entry_t *e = new_entry(AOP_ENTRY_PAYMENT, key);
        insert_ok(a.j, e);
        cr_assert_eq(aop_journal_renew(a.j, e, 0, &err), AOP_OK);
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
        aop_journal_entry_t *got = find_ok(a.j, a.refunds[i]);
        cr_expect_str_eq(got->note, a.trans_st[i] == AOP_OK ? a.refunds[i]->note : "b", "the winner's write");
        free(got);
        free(a.refunds[i]);
        free(b.refunds[i]);
    }
    aop_journal_close(a.j);
    aop_journal_close(b.j);
}

/* ---------------------------------------------------------------------------------------------
 * A custom store: versions and required operations checked when it is opened */

static int closed_stores;
static aop_status_t c_now(void *s, aop_journal_now_t *out, aop_error_t *err) {
    (void)s, (void)err;
    out->wall_ms = out->clock_ms = aop_now_ms();
    return AOP_OK;
}
static void c_close(void *s) {
    (void)s;
    closed_stores++;
}
/* The operations this test never reaches: only their presence is checked. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define UNUSED_OP(name, ...)                                                                      \
    static aop_status_t name(__VA_ARGS__, aop_error_t *err) {                                      \
        return aop_error_set(err, AOP_E_JOURNAL, NULL, -1, "%s is not used here", #name);          \
    }
UNUSED_OP(c_insert, void *s, aop_journal_entry_t *e, int64_t ttl, aop_journal_entry_t *x)
UNUSED_OP(c_get, void *s, int64_t id, bool r, aop_journal_entry_t *o)
UNUSED_OP(c_find, void *s, aop_entry_kind_t k, const char *g, const char *m, const char *key, aop_journal_entry_t *o)
UNUSED_OP(c_claim, void *s, int64_t id, const char *o, int64_t ttl, aop_journal_entry_t *out)
UNUSED_OP(c_renew, void *s, aop_journal_entry_t *e, int64_t ttl)
UNUSED_OP(c_transition, void *s, aop_journal_entry_t *e, const aop_journal_write_t *w)
UNUSED_OP(c_list, void *s, const aop_journal_filter_t *f, int64_t a, aop_journal_entry_t *p, size_t c, size_t *n)
#pragma GCC diagnostic pop

Test(journal, a_custom_store_of_another_version_or_missing_an_operation_is_refused) {
    aop_journal_ops_t ops = {.struct_size = sizeof ops, .version = AOP_JOURNAL_OPS_VERSION, .now = c_now,
                             .insert = c_insert, .get = c_get, .find = c_find, .claim = c_claim, .renew = c_renew,
                             .transition = c_transition, .list = c_list, .close = c_close};
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(aop_journal_open_custom(&ops, NULL, &j, &err), AOP_OK, "%s", err.msg);
    /* the optional operations fall back, or say the store cannot */
    unsigned n = 9;
    cr_expect_eq(aop_journal_prune(j, 0, &n, &err), AOP_E_JOURNAL_UNSUPPORTED);
    cr_expect_eq(aop_journal_backup(j, "/tmp/x", &err), AOP_E_JOURNAL_UNSUPPORTED);
    aop_journal_key_t k = {{0}, "k"};
    cr_expect_eq(aop_journal_seal_legacy(j, "g", &k, &n, &err), AOP_OK, "nothing to seal");
    cr_expect_eq(n, 0);
    aop_journal_close(j);
    cr_expect_eq(closed_stores, 1);
    aop_journal_close(NULL);

    aop_journal_ops_t v1 = ops;
    v1.version = 1;
    cr_expect_eq(aop_journal_open_custom(&v1, NULL, &j, &err), AOP_E_INVALID_ARG);
    cr_expect_str_eq(err.path, "ops.version");
    aop_journal_ops_t small = ops;
    small.struct_size = offsetof(aop_journal_ops_t, list);
    cr_expect_eq(aop_journal_open_custom(&small, NULL, &j, &err), AOP_E_INVALID_ARG);
    cr_expect_str_eq(err.path, "ops.struct_size");
    /* an older store's struct ends before the optional members: they are absent, not read */
    aop_journal_ops_t older = ops;
    older.struct_size = offsetof(aop_journal_ops_t, claim_next);
    older.prune = (aop_status_t(*)(void *, int64_t, unsigned *, aop_error_t *))1; /* beyond its size: never called */
    cr_assert_eq(aop_journal_open_custom(&older, NULL, &j, &err), AOP_OK, "%s", err.msg);
    cr_expect_eq(aop_journal_prune(j, 0, &n, &err), AOP_E_JOURNAL_UNSUPPORTED);
    aop_journal_close(j);
    aop_journal_ops_t missing = ops;
    missing.renew = NULL;
    cr_expect_eq(aop_journal_open_custom(&missing, NULL, &j, &err), AOP_E_INVALID_ARG);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, "renew") != NULL, "%s", err.msg);
    cr_expect_eq(aop_journal_open_custom(NULL, NULL, &j, &err), AOP_E_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------------
 * The entries' MACs */

Test(journal, the_mac_covers_every_column_a_request_is_built_from) {
    aop_journal_key_t k = test_key("merchant.pkcs8.pem"), again = test_key("merchant.pkcs8.pem");
    aop_journal_key_t other = test_key("gateway.pkcs8.pem");
    cr_expect_eq(memcmp(k.secret, again.secret, sizeof k.secret), 0, "derived, not random");
    cr_expect_str_eq(k.id, again.id);
    cr_expect_str_neq(k.id, other.id);
    cr_expect_eq(strlen(k.id), AOP_JOURNAL_KEY_ID_SIZE - 1);
    aop_journal_entry_t *e = new_entry(AOP_ENTRY_REFUND, "R-mac");
    e->has_request = true;
    cr_expect_eq(aop_journal_entry_check(&k, e), AOP_MAC_OTHER_KEY, "the fixture's made-up key id");
    aop_journal_entry_seal(&k, e);
    cr_expect_str_eq(e->key_id, k.id);
    cr_expect_eq(strlen(e->mac), 64);
    cr_expect_eq(aop_journal_entry_check(&k, e), AOP_MAC_OK);
    aop_journal_entry_t *x = malloc(sizeof *x);
    /* each MACed column, altered by one character */
    static const size_t texts[] = {offsetof(aop_journal_entry_t, function), offsetof(aop_journal_entry_t, merchant_id),
                                   offsetof(aop_journal_entry_t, key), offsetof(aop_journal_entry_t, payment_acquirement_id),
                                   offsetof(aop_journal_entry_t, amount), offsetof(aop_journal_entry_t, currency),
                                   offsetof(aop_journal_entry_t, gateway), offsetof(aop_journal_entry_t, client_id),
                                   offsetof(aop_journal_entry_t, acquirement_id), offsetof(aop_journal_entry_t, request)};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        *x = *e;
        ((char *)x)[texts[i]] ^= 1;
        cr_expect_eq(aop_journal_entry_check(&k, x), AOP_MAC_ALTERED, "column at %zu", texts[i]);
    }
    *x = *e;
    x->kind = AOP_ENTRY_PAYMENT;
    cr_expect_eq(aop_journal_entry_check(&k, x), AOP_MAC_ALTERED, "kind");
    *x = *e;
    x->request_len--;
    cr_expect_eq(aop_journal_entry_check(&k, x), AOP_MAC_ALTERED, "the request's length");
    /* what a request is not built from may change freely */
    *x = *e;
    x->state = AOP_STATE_UNRESOLVED;
    x->epoch = 9;
    snprintf(x->note, sizeof x->note, "another note");
    cr_expect_eq(aop_journal_entry_check(&k, x), AOP_MAC_OK);
    *x = *e;
    x->has_request = false;
    cr_expect_eq(aop_journal_entry_check(&k, x), AOP_MAC_NO_REQUEST);
    *x = *e;
    x->mac[0] = '\0';
    cr_expect_eq(aop_journal_entry_check(&k, x), AOP_MAC_NONE);
    cr_expect_eq(aop_journal_entry_check(&other, e), AOP_MAC_OTHER_KEY);
    *x = *e;
    snprintf(x->key_id, sizeof x->key_id, "%s", other.id);
    cr_expect_eq(aop_journal_entry_check(&other, x), AOP_MAC_ALTERED, "a key id changed to another's");
    cr_expect_str_eq(aop_mac_check_name(AOP_MAC_ALTERED), "altered");
    free(e), free(x);
}

/* ---------------------------------------------------------------------------------------------
 * Lease owners */

Test(journal, owner_texts_name_host_boot_pid_namespace_and_process) {
    char self[AOP_JOURNAL_OWNER_SIZE], other[AOP_JOURNAL_OWNER_SIZE], host[256], ns[64], boot[64] = "";
    aop_journal_self_owner(self);
    aop_journal_self_owner(other);
    cr_expect_str_neq(self, other, "each resolution is its own owner");
    cr_assert_eq(gethostname(host, sizeof host), 0);
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    cr_assert_gt(n, 0);
    ns[n] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(boot, sizeof boot, f));
    fclose(f);
    boot[strcspn(boot, "\n")] = '\0';
    char inode[32];
    snprintf(inode, sizeof inode, "%.*s", (int)(strchr(ns, ']') - strchr(ns, '[') - 1), strchr(ns, '[') + 1);
    char want[512];
    snprintf(want, sizeof want, "%s/%s/%s/%ld/", host, boot, inode, (long)getpid());
    cr_expect_eq(strncmp(self, want, strlen(want)), 0, "%s starts with %s", self, want);
    unsigned long long start = strtoull(self + strlen(want), NULL, 10);
    cr_expect_gt(start, 0, "the start time of /proc/self/stat");
    cr_expect_not(aop_journal_owner_dead(self), "this process runs");
    /* Our pid with another start time: the pid was reused, the owner is gone. */
    char reused[600];
    snprintf(reused, sizeof reused, "%s%llu#n", want, start + 1);
    cr_expect(aop_journal_owner_dead(reused));
    /* Another host, boot or PID namespace is never known dead: its pid is another process. */
    char elsewhere[600];
    snprintf(elsewhere, sizeof elsewhere, "another-host/%s/%s/%ld/%llu#n", boot, inode, (long)getpid(), start + 1);
    cr_expect_not(aop_journal_owner_dead(elsewhere));
    snprintf(elsewhere, sizeof elsewhere, "%s/00000000-0000-0000-0000-000000000000/%s/%ld/%llu#n", host, inode,
             (long)getpid(), start + 1);
    cr_expect_not(aop_journal_owner_dead(elsewhere));
    snprintf(elsewhere, sizeof elsewhere, "%s/%s/1/%ld/%llu#n", host, boot, (long)getpid(), start + 1);
    cr_expect_not(aop_journal_owner_dead(elsewhere), "another container on this host");
    /* text that is no owner, and an older version's "host/pid/start" */
    char old[300];
    snprintf(old, sizeof old, "%s/%ld/%llu#n", host, (long)getpid(), start + 1);
    cr_expect_not(aop_journal_owner_dead(old));
    static const char *const junk[] = {"", "x", "/1/2", "h//2", "h/b/n/x/1", "h/b/n/1/2z", "h/b/n/-1/2"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        cr_expect_not(aop_journal_owner_dead(junk[i]), "\"%s\"", junk[i]);
    cr_expect_not(aop_journal_owner_dead(NULL));
}

/* ---------------------------------------------------------------------------------------------
 * Names and the gateway identity */

Test(journal, state_names_round_trip_and_finality) {
    int final = 0;
    for (int s = AOP_STATE_NEW; s <= AOP_STATE_LAST_CHECK; s++) {
        const char *name = aop_entry_state_name((aop_entry_state_t)s);
        cr_expect_str_neq(name, "?");
        cr_expect_eq(aop_entry_state_from_name(name), s, "%s", name);
        final += aop_entry_state_final((aop_entry_state_t)s);
    }
    cr_expect_eq(final, 4);
    cr_expect_str_eq(aop_entry_state_name(AOP_STATE_NEEDS_ATTENTION), "NEEDS_ATTENTION");
    cr_expect_str_eq(aop_entry_state_name((aop_entry_state_t)0), "?");
    cr_expect_str_eq(aop_entry_state_name(AOP_STATE_LAST_CHECK), "LAST_CHECK");
    cr_expect_str_eq(aop_entry_state_name((aop_entry_state_t)13), "?");
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

/* ---------------------------------------------------------------------------------------------
 * The one table of moves (docs/resolver.md, "States") */

Test(journal, the_table_of_moves) {
    const aop_entry_kind_t P = AOP_ENTRY_PAYMENT, R = AOP_ENTRY_REFUND;
    const aop_mover_t by = AOP_MOVER_RESOLVER, hand = AOP_MOVER_HAND;
    /* every state may renew or release its lease, but PAY_SENT, which is never written */
    for (int s = AOP_STATE_NEW; s <= AOP_STATE_LAST_CHECK; s++)
        cr_expect_eq(aop_entry_move_allowed(P, (aop_entry_state_t)s, (aop_entry_state_t)s, by),
                     s != AOP_STATE_PAY_SENT && s != AOP_STATE_SENT && s != AOP_STATE_REFUNDED, "%s",
                     aop_entry_state_name((aop_entry_state_t)s));
    cr_expect(aop_entry_move_allowed(P, AOP_STATE_PAY_SENT, AOP_STATE_POLLING, by), "older entries go on");
    cr_expect(aop_entry_move_allowed(P, AOP_STATE_CANCELLING, AOP_STATE_LAST_CHECK, by));
    cr_expect(aop_entry_move_allowed(P, AOP_STATE_CANCELLING, AOP_STATE_NEEDS_ATTENTION, by), "altered");
    cr_expect_not(aop_entry_move_allowed(P, AOP_STATE_POLLING, AOP_STATE_LAST_CHECK, by), "only after a cancel");
    cr_expect(aop_entry_move_allowed(P, AOP_STATE_CANCELLED, AOP_STATE_PAID, by), "the late PAID");
    cr_expect_not(aop_entry_move_allowed(P, AOP_STATE_PAID, AOP_STATE_FAILED, by));
    cr_expect_not(aop_entry_move_allowed(P, AOP_STATE_NEEDS_ATTENTION, AOP_STATE_PAID, by), "a person decides");
    cr_expect(aop_entry_move_allowed(P, AOP_STATE_NEEDS_ATTENTION, AOP_STATE_PAID, hand));
    cr_expect(aop_entry_move_allowed(P, AOP_STATE_UNRESOLVED, AOP_STATE_CANCELLED, hand));
    cr_expect_not(aop_entry_move_allowed(P, AOP_STATE_POLLING, AOP_STATE_PAID, hand), "only what was left to people");
    cr_expect_not(aop_entry_move_allowed(P, AOP_STATE_UNRESOLVED, AOP_STATE_REFUNDED, hand));
    cr_expect(aop_entry_move_allowed(R, AOP_STATE_UNRESOLVED, AOP_STATE_REFUNDED, hand));
    cr_expect_not(aop_entry_move_allowed(R, AOP_STATE_SENT, AOP_STATE_FAILED, by), "a sent refund never FAILED");
    cr_expect(aop_entry_move_allowed(R, AOP_STATE_SENT, AOP_STATE_NEEDS_ATTENTION, by), "altered");
    cr_expect_not(aop_entry_move_allowed(R, AOP_STATE_NEEDS_ATTENTION, AOP_STATE_SENT, by));
    cr_expect(aop_entry_move_allowed(R, AOP_STATE_NEW, AOP_STATE_FAILED, by), "not sent");
    cr_expect_not(aop_entry_move_allowed(R, AOP_STATE_NEW, AOP_STATE_POLLING, by));
    cr_expect_not(aop_entry_move_allowed((aop_entry_kind_t)3, AOP_STATE_NEW, AOP_STATE_NEW, by));
    cr_expect_not(aop_entry_move_allowed(P, (aop_entry_state_t)13, AOP_STATE_NEW, by));
}

/* ---- aop_journal_open: a journal by its URI, and URIs shown without their password ---- */

Test(journal_uri, the_password_is_taken_out_of_the_user_info_and_the_query) {
    char out[256];
    cr_expect(aop_journal_uri_redact("postgresql://aop:s3cret@db.example:5432/aop", out, sizeof out));
    cr_expect_str_eq(out, "postgresql://aop@db.example:5432/aop");
    cr_expect(aop_journal_uri_redact("postgres://u@h/db?sslmode=require&password=s3cret&application_name=x", out,
                                     sizeof out));
    cr_expect_str_eq(out, "postgres://u@h/db?sslmode=require&application_name=x");
    cr_expect(aop_journal_uri_redact("postgresql://u:p%40ss@h/db?password=x", out, sizeof out));
    cr_expect_str_eq(out, "postgresql://u@h/db");
    cr_expect(strstr(out, "p%40ss") == NULL && strstr(out, "s3cret") == NULL);
    cr_expect_not(aop_journal_uri_redact("postgresql:///aop?host=/tmp/x&port=5433", out, sizeof out));
    cr_expect_str_eq(out, "postgresql:///aop?host=/tmp/x&port=5433");
    cr_expect_not(aop_journal_uri_redact("/var/lib/aop/journal.db", out, sizeof out));
    cr_expect_str_eq(out, "/var/lib/aop/journal.db");
    cr_expect(aop_journal_uri_redact("postgresql://u:verylongpassword@h/db", out, 12), "cut short, still found");
    cr_expect_eq(strlen(out), 11);
    cr_expect(strstr(out, "very") == NULL);
}

Test(journal_uri, a_path_and_sqlite_open_the_file_an_unknown_scheme_is_refused) {
    char dir[] = "/tmp/aop-uri-XXXXXX", uri[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(uri, sizeof uri, "sqlite:%s/j.db", dir);
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(aop_journal_open(uri, &j, &err), AOP_OK, "%s", err.msg);
    aop_journal_close(j);
    snprintf(uri, sizeof uri, "%s/j.db", dir);
    cr_assert_eq(aop_journal_open(uri, &j, &err), AOP_OK, "%s", err.msg);
    aop_journal_close(j);
    cr_expect_eq(aop_journal_open("mysql://u:pw@h/db", &j, &err), AOP_E_CONFIG);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, "pw") == NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "mysql") != NULL, "%s", err.msg);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(journal_uri, a_server_that_does_not_answer_is_a_journal_error_without_the_password) {
    aop_journal_t *j = NULL;
    aop_error_t err;
    /* port 1 on loopback: refused at once */
    cr_expect_eq(aop_journal_open("postgresql://aop:s3cret@127.0.0.1:1/aop?connect_timeout=2", &j, &err),
                 AOP_E_JOURNAL);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, "s3cret") == NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "postgresql://aop@127.0.0.1:1/aop") != NULL, "%s", err.msg);
}
