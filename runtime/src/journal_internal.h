/* SPDX-License-Identifier: MIT */
/* The journal handle behind aop/journal.h, shared by the files of its operations (journal.c: the
 * entries; journal_notice.c: the notifications and sync). */
#ifndef AOP_JOURNAL_INTERNAL_H
#define AOP_JOURNAL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "aop/journal.h"

/* The mutex makes a shared handle safe for a store that does not serialise itself: one operation
 * at a time, from its first statement to its commit (aop/journal.h, "Threads"). */
struct aop_journal {
    const aop_journal_ops_t *ops;
    void *store;
    bool own_lock; /* the store is not AOP_JOURNAL_STORE_THREAD_SAFE: the handle locks around it */
    pthread_mutex_t mutex;
};

/* Only a misuse (a handle used after aop_journal_close) makes these fail: never go on unlocked,
 * in any build. */
static inline void aop_internal_journal_lock(aop_journal_t *j) {
    if (j->own_lock && pthread_mutex_lock(&j->mutex) != 0) abort();
}

static inline void aop_internal_journal_unlock(aop_journal_t *j) {
    if (j->own_lock && pthread_mutex_unlock(&j->mutex) != 0) abort();
}

/* An optional operation: present when the store's struct reaches it and sets it. */
#define AOP_JOURNAL_HAS(ops, member)                                                                  \
    ((ops)->struct_size >= offsetof(aop_journal_ops_t, member) + sizeof((ops)->member) && (ops)->member)

/* A text member must end within its array (a store reads it as a C string), and a required one
 * must not be empty: AOP_E_TOO_LONG or AOP_E_EMPTY naming what.name. */
aop_status_t aop_internal_journal_check_text(const char *s, size_t cap, const char *what, const char *name,
                                             bool required, aop_error_t *err);
/* Returns from the calling check (whose error is err) when member m of x fails. */
#define AOP_JOURNAL_CHECK_TEXT(what, x, m, req)                                                         \
    do {                                                                                                \
        aop_status_t st_ = aop_internal_journal_check_text((x)->m, sizeof (x)->m, what, #m, (req), err); \
        if (st_ != AOP_OK) return st_;                                                                  \
    } while (0)

/* Starts an operation of journal.c: a caller's NULL err becomes a local one, so that a store
 * always has one to fill and read its code back from (the contract of aop_journal_ops_t). */
#define AOP_JOURNAL_ERR(err)          \
    aop_error_t err##_of_the_store_; \
    if (!(err)) (err) = &err##_of_the_store_

#endif
