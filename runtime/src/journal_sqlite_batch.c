/* SPDX-License-Identifier: MIT */
/* Group commit of the SQLite store's inserts. Every insert must be durable before its request
 * leaves, and a sync takes milliseconds: the threads of a process that insert at the same time
 * are committed together, one transaction and one sync per batch. An insert joins the queue; the
 * first thread to find no leader becomes it, takes the whole queue, commits it, syncs the log and
 * wakes every waiter of the batch once the sync returned; meanwhile the next inserts queue up for
 * the next batch. The commit does not hold the connection through its
 * sync: the log is synced after the connection is let go, so a sync costs the other threads'
 * writes (their transitions, NORMAL) no wait. One UNIQUE conflict fails only its own insert
 * (insert-or-get); any other failure, or a commit whose outcome is unknown, fails the whole batch,
 * and every waiter is told nothing was written, so nothing is sent. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal_columns.h"
#include "journal_sqlite.h"
#include "journal_time.h"

struct sq_insert {
    aop_journal_entry_t *e;
    int64_t ttl;
    aop_journal_entry_t *existing;
    aop_status_t st;
    aop_error_t err;
    bool done;
    sq_insert_t *next;
};

/* Inserts one entry of the batch inside the open transaction: AOP_OK, AOP_E_TAKEN_OVER (the key
 * is taken: the existing entry read), or a failure that fails the batch (*fatal). */
static void insert_one(sq_t *s, sq_insert_t *r, const aop_journal_now_t *now, bool *fatal) {
    aop_journal_entry_t *e = r->e;
    aop_internal_journal_stamp_insert(e, now, r->ttl);
    sqlite3_stmt *q = sq_stmt(s, SQ_INSERT);
    sq_bind_all(q, e);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc == SQLITE_DONE) {
        e->id = sqlite3_last_insert_rowid(s->db);
        r->st = AOP_OK;
        return;
    }
    if (rc != SQLITE_CONSTRAINT_UNIQUE) {
        r->st = sq_error(s, rc, &r->err, "insert");
        *fatal = true;
        return;
    }
    r->st = aop_error_set(&r->err, AOP_E_TAKEN_OVER, "journal", -1,
                          "journal %s: there is an entry for %s %s of merchant %s at gateway %s already", s->path,
                          e->kind == AOP_ENTRY_PAYMENT ? "payment" : "refund", e->key, e->merchant_id, e->gateway);
    if (!r->existing) return;
    q = sq_stmt(s, SQ_FIND);
    sqlite3_bind_int(q, 1, (int)e->kind);
    sqlite3_bind_text(q, 2, e->gateway, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, e->merchant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, e->key, -1, SQLITE_STATIC);
    aop_error_t ferr;
    aop_status_t st = sq_select_one(s, q, r->existing, true, "read the existing entry", &ferr);
    sqlite3_clear_bindings(q);
    if (st == AOP_OK) return;
    r->st = aop_error_set(&r->err, st == AOP_E_MISSING ? AOP_E_JOURNAL : st, "journal", -1, "%s",
                          st == AOP_E_MISSING ? "the insert found the key taken, yet no entry holds it" : ferr.msg);
    /* an unreadable row fails its own insert only (nothing of it was written); SQLite failing
     * fails the batch */
    if (st != AOP_E_JOURNAL || !r->existing->unreadable) *fatal = true;
}

/* Syncs the write-ahead log, which holds the batch's commit, without the connection's lock, so
 * that other writes of the handle go on meanwhile. Through a descriptor of our own (fdatasync
 * flushes the file, whichever descriptor wrote it): SQLite's own sync of a log it opened would
 * also sync the directory once per process, a second sync for a process that pays once. While
 * our connection is open no other connection removes the log (only the last one to close may),
 * so the descriptor names the log SQLite writes. The batch's leader syncs through s->wal_fd; the
 * notification table's writes through a descriptor of their own (*fd opened when -1). */
aop_status_t sq_sync_log(sq_t *s, int *fd, aop_error_t *err) {
    if (*fd < 0) {
        char wal[sizeof s->path + 8];
        snprintf(wal, sizeof wal, "%s-wal", s->path);
        *fd = open(wal, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd < 0)
            return aop_error_set(err, AOP_E_JOURNAL_UNKNOWN, "journal", -1,
                                 "journal %s: cannot open its write-ahead log to sync it (%s): the commit may not be "
                                 "on disk", s->path, strerror(errno));
    }
    int rc;
    while ((rc = fdatasync(*fd)) != 0 && errno == EINTR) {
    }
    if (rc == 0) return AOP_OK;
    return aop_error_set(err, AOP_E_JOURNAL_UNKNOWN, "journal", -1,
                         "journal %s: sync: %s: the commit may or may not be on disk", s->path, strerror(errno));
}

/* Commits one batch: every request of it gets its status. The commit itself is NORMAL (no sync
 * while the connection is held); the log is synced after, and only then is any insert of the
 * batch reported durable. A checkpoint still syncs as NORMAL does (the log before it, the
 * database after it), so nothing the log held is lost when it is reused. */
static void commit_batch(sq_t *s, sq_insert_t *batch) {
    aop_journal_now_t now;
    aop_internal_journal_boot_now(&now);
    aop_error_t err;
    sq_lock(s);
    aop_status_t st = sq_begin(s, &err);
    bool fatal = false;
    for (sq_insert_t *r = batch; st == AOP_OK && !fatal && r; r = r->next) {
        insert_one(s, r, &now, &fatal);
        if (fatal) st = r->st, err = r->err;
    }
    st = sq_commit(s, st, &err);
    s->batches++;
    for (sq_insert_t *r = batch; r; r = r->next) s->batched++;
    sq_unlock(s);
    if (st == AOP_OK) st = sq_sync_log(s, &s->wal_fd, &err);
    if (st == AOP_OK) return;
    /* The batch failed, or its commit may or may not be on disk: nobody sends (recovery sorts an
     * entry that is there after all). */
    for (sq_insert_t *r = batch; r; r = r->next) {
        r->st = st;
        r->err = err;
        r->e->id = 0;
    }
}

aop_status_t sq_insert(void *store, aop_journal_entry_t *e, int64_t lease_ttl_ms, aop_journal_entry_t *existing,
                       aop_error_t *err) {
    sq_t *s = store;
    sq_insert_t me = {e, lease_ttl_ms, existing, AOP_OK, {0}, false, NULL};
    aop_error_clear(&me.err);
    if (pthread_mutex_lock(&s->qmu) != 0) abort();
    *s->tail = &me;
    s->tail = &me.next;
    while (!me.done) {
        if (s->leader) {
            pthread_cond_wait(&s->qcv, &s->qmu);
            continue;
        }
        s->leader = true;
        sq_insert_t *batch = s->head;
        s->head = NULL;
        s->tail = &s->head;
        if (pthread_mutex_unlock(&s->qmu) != 0) abort();
        commit_batch(s, batch);
        if (pthread_mutex_lock(&s->qmu) != 0) abort();
        for (sq_insert_t *r = batch, *next; r; r = next) {
            next = r->next; /* a waiter may return (and its node go) once done is set */
            r->done = true;
        }
        s->leader = false;
        pthread_cond_broadcast(&s->qcv);
    }
    if (pthread_mutex_unlock(&s->qmu) != 0) abort();
    assert(me.st != AOP_OK || e->id > 0);
    if (me.st != AOP_OK && err) *err = me.err;
    return me.st;
}
