/* The journal's store-independent part: the handle over a store's operations, the dispatchers,
 * lease owners, the gateway identity and the state names. (A minimal copy written on the
 * resolver branch so that it builds before the journal branch lands; that branch's version,
 * which adds the SQLite store, replaces this file at merge.) */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "aop/journal.h"
#include "aop/util.h"

struct aop_journal {
    const aop_journal_ops_t *ops;
    void *store;
};

static const char *const state_names[] = {
    NULL, "NEW", "PAY_SENT", "POLLING", "CANCELLING", "SENT", "UNRESOLVED", "NEEDS_ATTENTION",
    "PAID", "FAILED", "CANCELLED", "REFUNDED",
};
#define N_STATE_NAMES (sizeof state_names / sizeof state_names[0])

bool aop_entry_state_final(aop_entry_state_t s) {
    return s == AOP_STATE_PAID || s == AOP_STATE_FAILED || s == AOP_STATE_CANCELLED || s == AOP_STATE_REFUNDED;
}

const char *aop_entry_state_name(aop_entry_state_t s) {
    return (unsigned)s > 0 && (unsigned)s < N_STATE_NAMES ? state_names[s] : "?";
}

aop_entry_state_t aop_entry_state_from_name(const char *name) {
    for (unsigned i = 1; name && i < N_STATE_NAMES; i++)
        if (strcmp(state_names[i], name) == 0) return (aop_entry_state_t)i;
    return (aop_entry_state_t)0;
}

aop_status_t aop_journal_open_custom(const aop_journal_ops_t *ops, void *store, aop_journal_t **out,
                                     aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    *out = NULL;
    if (!ops || !ops->insert || !ops->find || !ops->claim || !ops->transition || !ops->list)
        return aop_error_set(err, AOP_E_INVALID_ARG, "ops", -1, "a journal store needs every operation");
    aop_journal_t *j = calloc(1, sizeof *j);
    if (!j) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    j->ops = ops;
    j->store = store;
    *out = j;
    return AOP_OK;
}

void aop_journal_close(aop_journal_t *j) {
    if (!j) return;
    if (j->ops->close) j->ops->close(j->store);
    free(j);
}

static aop_status_t no_journal(aop_error_t *err) {
    return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
}

aop_status_t aop_journal_insert(aop_journal_t *j, aop_journal_entry_t *e, aop_error_t *err) {
    aop_error_clear(err);
    return j && e ? j->ops->insert(j->store, e, err) : no_journal(err);
}

aop_status_t aop_journal_find(aop_journal_t *j, aop_entry_kind_t kind, const char *gateway,
                              const char *merchant_id, const char *key, aop_journal_entry_t *out,
                              aop_error_t *err) {
    aop_error_clear(err);
    if (!j || !gateway || !merchant_id || !key || !out) return no_journal(err);
    return j->ops->find(j->store, kind, gateway, merchant_id, key, out, err);
}

aop_status_t aop_journal_claim(aop_journal_t *j, int64_t id, const char *owner, int64_t now_ms,
                               int64_t expires_ms, bool (*owner_dead)(const char *lease_owner, void *ctx),
                               void *ctx, aop_journal_entry_t *out, aop_error_t *err) {
    aop_error_clear(err);
    if (!j || !owner || !out) return no_journal(err);
    return j->ops->claim(j->store, id, owner, now_ms, expires_ms, owner_dead ? owner_dead : aop_journal_owner_dead,
                         ctx, out, err);
}

aop_status_t aop_journal_transition(aop_journal_t *j, aop_journal_entry_t *e, aop_entry_state_t expect_state,
                                    aop_error_t *err) {
    aop_error_clear(err);
    return j && e ? j->ops->transition(j->store, e, expect_state, err) : no_journal(err);
}

aop_status_t aop_journal_list(aop_journal_t *j, bool open_only, aop_journal_each_fn fn, void *ctx,
                              aop_error_t *err) {
    aop_error_clear(err);
    return j && fn ? j->ops->list(j->store, open_only, fn, ctx, err) : no_journal(err);
}

aop_status_t aop_journal_close_entry(aop_journal_t *j, int64_t id, aop_entry_state_t as, const char *who,
                                     const char *note, aop_error_t *err) {
    aop_error_clear(err);
    if (!j || !who) return no_journal(err);
    if (as != AOP_STATE_PAID && as != AOP_STATE_FAILED && as != AOP_STATE_CANCELLED && as != AOP_STATE_REFUNDED)
        return aop_error_set(err, AOP_E_INVALID_ARG, "as", -1, "an entry is closed as PAID, FAILED, CANCELLED or REFUNDED");
    char owner[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_self_owner(owner);
    int64_t now = aop_now_ms();
    aop_journal_entry_t e;
    aop_status_t st = aop_journal_claim(j, id, owner, now, now + 60000, NULL, NULL, &e, err);
    if (st != AOP_OK) return st;
    aop_entry_state_t was = e.state;
    if (was != AOP_STATE_UNRESOLVED && was != AOP_STATE_NEEDS_ATTENTION) {
        e.lease_expires_ms = 0; /* give the lease back, change nothing else */
        aop_error_t ignored;
        if (aop_journal_transition(j, &e, was, &ignored) != AOP_OK) {
            /* it expires on its own */
        }
        return aop_error_set(err, AOP_E_INVALID_ARG, "id", -1, "entry %lld is %s: only UNRESOLVED and "
                             "NEEDS_ATTENTION entries are closed by hand", (long long)id, aop_entry_state_name(was));
    }
    char when[AOP_RFC3339_SIZE];
    aop_now_rfc3339(when);
    snprintf(e.note, sizeof e.note, "closed by hand as %s by %s at %s: %s", aop_entry_state_name(as), who, when,
             note ? note : "");
    e.state = as;
    e.updated_ms = now;
    e.lease_expires_ms = 0;
    return aop_journal_transition(j, &e, was, err);
}

/* The process start time in clock ticks since boot (/proc/PID/stat field 22), or 0. */
static unsigned long long start_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long v = 0;
    /* after ") " come fields 3..: state is 3, starttime is 22 */
    for (int field = 2; p && *p && field < 22; p++)
        if (*p == ' ') field++;
    if (p) v = strtoull(p, NULL, 10);
    return v;
}

void aop_journal_self_owner(char out[AOP_JOURNAL_OWNER_SIZE]) {
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(out, AOP_JOURNAL_OWNER_SIZE, "%s/%d/%llu", host, (int)getpid(), start_ticks(getpid()));
}

bool aop_journal_owner_dead(const char *lease_owner, void *ctx) {
    (void)ctx;
    if (!lease_owner || !*lease_owner) return false;
    const char *s2 = strrchr(lease_owner, '/');
    if (!s2 || s2 == lease_owner) return false;
    const char *s1 = s2 - 1;
    while (s1 > lease_owner && *s1 != '/') s1--;
    if (*s1 != '/') return false;
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    if (strlen(host) != (size_t)(s1 - lease_owner) || memcmp(host, lease_owner, strlen(host)) != 0)
        return false; /* another host: only the lease's expiry frees it */
    pid_t pid = (pid_t)strtol(s1 + 1, NULL, 10);
    unsigned long long start = strtoull(s2 + 1, NULL, 10);
    if (pid <= 0) return false;
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    unsigned long long now_start = start_ticks(pid);
    return now_start != 0 && now_start != start; /* the pid was reused by another process */
}

void aop_journal_gateway_identity(const char *alipay_key_fingerprint, const char *client_id,
                                  char out[AOP_JOURNAL_GATEWAY_SIZE]) {
    snprintf(out, AOP_JOURNAL_GATEWAY_SIZE, "%s/%s", alipay_key_fingerprint ? alipay_key_fingerprint : "",
             client_id ? client_id : "");
}
