/* SPDX-License-Identifier: MIT */
/* The store-independent part of the journal: the handle, argument checks in front of every store
 * (so a custom store never sees a malformed entry), closing by hand, state names, and lease owners
 * ("host/pid/start-time") with the test of whether one is still running. */
#include "aop/journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <signal.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aop/sign.h"
#include "aop/util.h"

/* The identity holds the longest fingerprint aop/sign.h makes and the longest clientId (an id of
 * the schema) without truncation. */
_Static_assert(AOP_JOURNAL_GATEWAY_SIZE >= (AOP_FINGERPRINT_MAX - 1) + 1 + (AOP_JOURNAL_ID_SIZE - 1) + 1,
               "AOP_JOURNAL_GATEWAY_SIZE cannot hold a fingerprint, '/' and a clientId");

struct aop_journal {
    const aop_journal_ops_t *ops;
    void *store;
};

/* ---------------------------------------------------------------------------------------------
 * States */

static const char *const state_names[] = {
    [AOP_STATE_NEW] = "NEW",
    [AOP_STATE_PAY_SENT] = "PAY_SENT",
    [AOP_STATE_POLLING] = "POLLING",
    [AOP_STATE_CANCELLING] = "CANCELLING",
    [AOP_STATE_SENT] = "SENT",
    [AOP_STATE_UNRESOLVED] = "UNRESOLVED",
    [AOP_STATE_NEEDS_ATTENTION] = "NEEDS_ATTENTION",
    [AOP_STATE_PAID] = "PAID",
    [AOP_STATE_FAILED] = "FAILED",
    [AOP_STATE_CANCELLED] = "CANCELLED",
    [AOP_STATE_REFUNDED] = "REFUNDED",
};
#define STATE_LAST AOP_STATE_REFUNDED

static bool state_valid(aop_entry_state_t s) { return (int)s >= AOP_STATE_NEW && (int)s <= STATE_LAST; }

bool aop_entry_state_final(aop_entry_state_t s) {
    return s == AOP_STATE_PAID || s == AOP_STATE_FAILED || s == AOP_STATE_CANCELLED || s == AOP_STATE_REFUNDED;
}

const char *aop_entry_state_name(aop_entry_state_t s) { return state_valid(s) ? state_names[s] : "?"; }

aop_entry_state_t aop_entry_state_from_name(const char *name) {
    if (!name) return (aop_entry_state_t)0;
    for (int s = AOP_STATE_NEW; s <= STATE_LAST; s++)
        if (strcmp(name, state_names[s]) == 0) return (aop_entry_state_t)s;
    return (aop_entry_state_t)0;
}

/* ---------------------------------------------------------------------------------------------
 * The handle and the checks in front of the store */

aop_status_t aop_journal_open_custom(const aop_journal_ops_t *ops, void *store, aop_journal_t **out,
                                     aop_error_t *err) {
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, "out", -1, "out is NULL");
    *out = NULL;
    if (!ops) return aop_error_set(err, AOP_E_INVALID_ARG, "ops", -1, "the store's operations are NULL");
    static const char *const names[] = {"insert", "find", "claim", "transition", "list", "close"};
    const bool present[] = {ops->insert, ops->find, ops->claim, ops->transition, ops->list, ops->close};
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        if (!present[i])
            return aop_error_setp(err, AOP_E_INVALID_ARG, "ops", names[i], -1, "the store has no %s operation",
                                  names[i]);
    aop_journal_t *j = calloc(1, sizeof *j);
    if (!j) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for the journal");
    j->ops = ops;
    j->store = store;
    *out = j;
    return AOP_OK;
}

void aop_journal_close(aop_journal_t *j) {
    if (!j) return;
    j->ops->close(j->store);
    free(j);
}

/* A text member must end within its array: a store reads it as a C string. */
static aop_status_t check_text(const char *s, size_t cap, const char *name, bool required, aop_error_t *err) {
    const char *nul = memchr(s, '\0', cap);
    if (!nul)
        return aop_error_setp(err, AOP_E_TOO_LONG, "entry", name, -1, "%s is not NUL-terminated within %zu bytes",
                              name, cap);
    if (required && nul == s) return aop_error_setp(err, AOP_E_EMPTY, "entry", name, -1, "%s is empty", name);
    return AOP_OK;
}

#define CHECK_TEXT(e, m, req)                                                             \
    do {                                                                                  \
        aop_status_t st_ = check_text((e)->m, sizeof (e)->m, #m, (req), err);             \
        if (st_ != AOP_OK) return st_;                                                    \
    } while (0)

static aop_status_t check_entry(const aop_journal_entry_t *e, aop_error_t *err) {
    if (e->kind != AOP_ENTRY_PAYMENT && e->kind != AOP_ENTRY_REFUND)
        return aop_error_set(err, AOP_E_BAD_ENUM, "entry.kind", -1, "kind %d is neither PAYMENT (1) nor REFUND (2)",
                             (int)e->kind);
    if (!state_valid(e->state))
        return aop_error_set(err, AOP_E_BAD_ENUM, "entry.state", -1, "state %d is no entry state", (int)e->state);
    CHECK_TEXT(e, function, true);
    CHECK_TEXT(e, merchant_id, true);
    CHECK_TEXT(e, key, true);
    CHECK_TEXT(e, payment_acquirement_id, false);
    CHECK_TEXT(e, amount, false);
    CHECK_TEXT(e, currency, false);
    CHECK_TEXT(e, gateway, true);
    CHECK_TEXT(e, client_id, false);
    CHECK_TEXT(e, last_status, false);
    CHECK_TEXT(e, last_code, false);
    CHECK_TEXT(e, acquirement_id, false);
    CHECK_TEXT(e, lease_owner, false);
    CHECK_TEXT(e, note, false);
    if (e->request_len >= AOP_JOURNAL_REQUEST_MAX)
        return aop_error_set(err, AOP_E_TOO_LONG, "entry.request", -1,
                             "the request is %zu bytes; the journal keeps at most %d", e->request_len,
                             AOP_JOURNAL_REQUEST_MAX - 1);
    if (memchr(e->request, '\0', e->request_len))
        return aop_error_set(err, AOP_E_BAD_UTF8, "entry.request", -1, "the request contains a NUL byte");
    return AOP_OK;
}

static aop_status_t check_handle(aop_journal_t *j, const void *arg, const char *arg_name, aop_error_t *err) {
    aop_error_clear(err);
    if (!j) return aop_error_set(err, AOP_E_INVALID_ARG, "journal", -1, "the journal is NULL");
    if (!arg) return aop_error_set(err, AOP_E_INVALID_ARG, arg_name, -1, "%s is NULL", arg_name);
    return AOP_OK;
}

aop_status_t aop_journal_insert(aop_journal_t *j, aop_journal_entry_t *e, aop_error_t *err) {
    aop_status_t st = check_handle(j, e, "entry", err);
    if (st != AOP_OK) return st;
    /* Every entry starts the same way whatever the caller left in these members. */
    e->state = AOP_STATE_NEW;
    e->epoch = 1;
    if ((st = check_entry(e, err)) != AOP_OK) return st;
    e->request[e->request_len] = '\0';
    return j->ops->insert(j->store, e, err);
}

aop_status_t aop_journal_find(aop_journal_t *j, aop_entry_kind_t kind, const char *gateway,
                              const char *merchant_id, const char *key, aop_journal_entry_t *out,
                              aop_error_t *err) {
    aop_status_t st = check_handle(j, out, "out", err);
    if (st != AOP_OK) return st;
    if (kind != AOP_ENTRY_PAYMENT && kind != AOP_ENTRY_REFUND)
        return aop_error_set(err, AOP_E_BAD_ENUM, "kind", -1, "kind %d is neither PAYMENT (1) nor REFUND (2)",
                             (int)kind);
    const char *args[] = {gateway, merchant_id, key};
    static const char *const names[] = {"gateway", "merchant_id", "key"};
    for (int i = 0; i < 3; i++)
        if (!args[i] || !*args[i])
            return aop_error_set(err, AOP_E_INVALID_ARG, names[i], -1, "%s is %s", names[i],
                                 args[i] ? "empty" : "NULL");
    return j->ops->find(j->store, kind, gateway, merchant_id, key, out, err);
}

aop_status_t aop_journal_claim(aop_journal_t *j, int64_t id, const char *owner, int64_t now_ms, int64_t expires_ms,
                               bool (*owner_dead)(const char *lease_owner, void *ctx), void *ctx,
                               aop_journal_entry_t *out, aop_error_t *err) {
    aop_status_t st = check_handle(j, out, "out", err);
    if (st != AOP_OK) return st;
    if (!owner || !*owner || strlen(owner) >= AOP_JOURNAL_OWNER_SIZE)
        return aop_error_set(err, AOP_E_INVALID_ARG, "owner", -1, "the lease owner is %s",
                             !owner ? "NULL" : !*owner ? "empty" : "longer than AOP_JOURNAL_OWNER_SIZE - 1");
    if (expires_ms <= now_ms)
        return aop_error_set(err, AOP_E_INVALID_ARG, "expires_ms", -1,
                             "the lease would expire (%lld) no later than now (%lld)", (long long)expires_ms,
                             (long long)now_ms);
    return j->ops->claim(j->store, id, owner, now_ms, expires_ms, owner_dead ? owner_dead : aop_journal_owner_dead,
                         owner_dead ? ctx : NULL, out, err);
}

aop_status_t aop_journal_transition(aop_journal_t *j, aop_journal_entry_t *e, aop_entry_state_t expect_state,
                                    aop_error_t *err) {
    aop_status_t st = check_handle(j, e, "entry", err);
    if (st != AOP_OK) return st;
    if (!state_valid(expect_state))
        return aop_error_set(err, AOP_E_BAD_ENUM, "expect_state", -1, "state %d is no entry state",
                             (int)expect_state);
    if ((st = check_entry(e, err)) != AOP_OK) return st;
    e->request[e->request_len] = '\0';
    return j->ops->transition(j->store, e, expect_state, err);
}

aop_status_t aop_journal_list(aop_journal_t *j, bool open_only, aop_journal_each_fn fn, void *ctx,
                              aop_error_t *err) {
    aop_status_t st = check_handle(j, (const void *)fn, "fn", err);
    if (st != AOP_OK) return st;
    return j->ops->list(j->store, open_only, fn, ctx, err);
}

/* ---------------------------------------------------------------------------------------------
 * Closing by hand */

/* Finds entry id among the open ones (closing by hand only concerns those; the operations have no
 * lookup by id, and a scan of the open entries is short). */
typedef struct {
    int64_t id;
    aop_journal_entry_t *out;
    bool found;
} find_open_t;

static bool find_open_cb(const aop_journal_entry_t *e, void *ctx) {
    find_open_t *f = ctx;
    if (e->id != f->id) return true;
    *f->out = *e;
    f->found = true;
    return false;
}

static bool closable_as(aop_entry_kind_t kind, aop_entry_state_t as) {
    if (kind == AOP_ENTRY_PAYMENT) return as == AOP_STATE_PAID || as == AOP_STATE_FAILED || as == AOP_STATE_CANCELLED;
    return as == AOP_STATE_REFUNDED || as == AOP_STATE_FAILED;
}

static aop_status_t check_person_text(const char *s, const char *name, aop_error_t *err) {
    if (!s || !*s) return aop_error_set(err, AOP_E_EMPTY, name, -1, "%s is %s", name, s ? "empty" : "NULL");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return aop_error_set(err, AOP_E_CONTROL_CHAR, name, -1, "%s contains a control character", name);
    return AOP_OK;
}

/* Releases the lease a refused close took, leaving the entry as it was otherwise. */
static void give_back(aop_journal_t *j, aop_journal_entry_t *e, aop_entry_state_t was) {
    e->lease_expires_ms = 0;
    aop_error_t ignored;
    if (aop_journal_transition(j, e, was, &ignored) != AOP_OK) {
        /* Nothing more to do: the lease expires by itself within CLOSE_LEASE_MS. */
    }
}

/* The lease a hand close takes: long enough for the two short transactions that follow. */
#define CLOSE_LEASE_MS 60000

aop_status_t aop_journal_close_entry(aop_journal_t *j, int64_t id, aop_entry_state_t as, const char *who,
                                     const char *note, aop_error_t *err) {
    aop_status_t st = check_handle(j, j, "journal", err);
    if (st != AOP_OK) return st;
    if (!aop_entry_state_final(as))
        return aop_error_set(err, AOP_E_BAD_ENUM, "as", -1,
                             "an entry is closed as PAID, FAILED, CANCELLED or REFUNDED, not as %s",
                             aop_entry_state_name(as));
    if ((st = check_person_text(who, "who", err)) != AOP_OK) return st;
    if ((st = check_person_text(note, "note", err)) != AOP_OK) return st;

    aop_journal_entry_t *e = malloc(sizeof *e);
    if (!e) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory for a journal entry");
    find_open_t f = {id, e, false};
    st = aop_journal_list(j, true, find_open_cb, &f, err);
    if (st == AOP_OK && !f.found)
        st = aop_error_set(err, AOP_E_MISSING, "id", -1, "no open journal entry %lld (it is final or does not exist)",
                           (long long)id);
    if (st == AOP_OK && e->state != AOP_STATE_UNRESOLVED && e->state != AOP_STATE_NEEDS_ATTENTION)
        st = aop_error_set(err, AOP_E_INVALID_ARG, "id", -1,
                           "entry %lld is %s: only UNRESOLVED or NEEDS_ATTENTION entries are closed by hand",
                           (long long)id, aop_entry_state_name(e->state));
    if (st == AOP_OK && !closable_as(e->kind, as))
        st = aop_error_set(err, AOP_E_INVALID_ARG, "as", -1, "a %s entry cannot be closed as %s",
                           e->kind == AOP_ENTRY_PAYMENT ? "payment" : "refund", aop_entry_state_name(as));
    char self[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_self_owner(self);
    int64_t now = aop_now_ms();
    /* The claim refuses a live owner's lease (a resolver still working on it). */
    if (st == AOP_OK) st = aop_journal_claim(j, id, self, now, now + CLOSE_LEASE_MS, NULL, NULL, e, err);
    if (st == AOP_OK) {
        aop_entry_state_t was = e->state;
        if (was != AOP_STATE_UNRESOLVED && was != AOP_STATE_NEEDS_ATTENTION) {
            /* It moved between the scan and the claim: give the lease back and refuse. */
            give_back(j, e, was);
            st = aop_error_set(err, AOP_E_TAKEN_OVER, "id", -1, "entry %lld became %s meanwhile", (long long)id,
                               aop_entry_state_name(was));
        } else {
            char when[AOP_RFC3339_SIZE];
            aop_rfc3339((time_t)(now / 1000), when);
            int n = snprintf(e->note, sizeof e->note, "closed by hand as %s by %s at %s: %s",
                             aop_entry_state_name(as), who, when, note);
            if (n < 0 || (size_t)n >= sizeof e->note) {
                give_back(j, e, was);
                st = aop_error_set(err, AOP_E_TOO_LONG, "note", -1,
                                   "who and note are too long together: the record takes %d bytes of %d", n,
                                   AOP_JOURNAL_NOTE_SIZE - 1);
            } else {
                e->state = as;
                e->watch = false; /* a person decided: no late query */
                e->updated_ms = now;
                e->lease_expires_ms = 0;
                st = aop_journal_transition(j, e, was, err);
            }
        }
    }
    free(e);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Lease owners */

/* The start time of process pid (field 22 of /proc/PID/stat, in clock ticks since boot) and
 * whether it is a zombie; false when there is no such process (or no /proc). The command name
 * (field 2) may hold spaces and parentheses, so the fields are counted after its last ')'. */
static bool proc_start(long pid, unsigned long long *start, bool *zombie) {
    char path[64];
    if (pid <= 0) return false;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f) return false;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return false;
    p++;
    char state = 0;
    /* After ')': field 3 (state) and so on up to 22. */
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ') p++;
        if (!*p) return false;
        if (field == 3) state = *p;
        if (field == 22) {
            char *end;
            errno = 0;
            *start = strtoull(p, &end, 10);
            if (errno || end == p) return false;
            *zombie = state == 'Z' || state == 'X';
            return true;
        }
        while (*p && *p != ' ') p++;
    }
    return false;
}

static void host_name(char *out, size_t cap) {
    if (gethostname(out, cap) != 0 || !*out) snprintf(out, cap, "localhost");
    out[cap - 1] = '\0';
}

/* The host part may be long (HOST_NAME_MAX is 64 on Linux); pid, start time and the nonce take
 * at most 48. */
#define HOST_CAP (AOP_JOURNAL_OWNER_SIZE - 48)
#define NONCE_LEN 12

void aop_journal_self_owner(char out[AOP_JOURNAL_OWNER_SIZE]) {
    char host[HOST_CAP];
    host_name(host, sizeof host);
    unsigned long long start = 0;
    bool zombie = false;
    if (!proc_start((long)getpid(), &start, &zombie)) start = 0; /* no /proc: the pid alone tells */
    /* The nonce tells apart the threads of one process, each with its own resolutions: a lease
     * is never "held by ourselves" for another thread's entry. */
    char nonce[NONCE_LEN + 1];
    if (aop_random_chars(nonce, NONCE_LEN, "0123456789abcdef") != AOP_OK)
        snprintf(nonce, sizeof nonce, "%012llx", (unsigned long long)aop_now_ms()); /* unique enough per process */
    snprintf(out, AOP_JOURNAL_OWNER_SIZE, "%s/%ld/%llu#%s", host, (long)getpid(), start, nonce);
}

bool aop_journal_owner_dead(const char *lease_owner_text, void *ctx) {
    (void)ctx;
    if (!lease_owner_text || strlen(lease_owner_text) >= AOP_JOURNAL_OWNER_SIZE) return false;
    /* "host/pid/start#nonce": the process is what lives or dies; the nonce names a resolution. */
    char lease_owner[AOP_JOURNAL_OWNER_SIZE];
    snprintf(lease_owner, sizeof lease_owner, "%s", lease_owner_text);
    char *hash = strrchr(lease_owner, '#');
    if (hash) *hash = '\0';
    /* Split from the right: the host may hold a '/'. Anything unparsable is not known dead. */
    const char *s2 = strrchr(lease_owner, '/');
    if (!s2 || s2 == lease_owner) return false;
    const char *s1 = s2 - 1;
    while (s1 > lease_owner && *s1 != '/') s1--;
    if (*s1 != '/' || s1 == lease_owner) return false;
    char *end;
    errno = 0;
    long pid = strtol(s1 + 1, &end, 10);
    if (errno || end != s2 || pid <= 0) return false;
    unsigned long long start = strtoull(s2 + 1, &end, 10);
    if (errno || end == s2 + 1 || *end) return false;

    char host[HOST_CAP];
    host_name(host, sizeof host);
    size_t host_len = (size_t)(s1 - lease_owner);
    if (host_len != strlen(host) || memcmp(host, lease_owner, host_len) != 0) return false; /* another host */

    unsigned long long now_start = 0;
    bool zombie = false;
    if (proc_start(pid, &now_start, &zombie)) return zombie || (start != 0 && now_start != start);
    /* No /proc entry: gone, unless there is no /proc at all, where kill(pid, 0) tells. */
    if (access("/proc/self/stat", R_OK) == 0) return true;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* ---------------------------------------------------------------------------------------------
 * Gateway identity */

void aop_journal_gateway_identity(const char *alipay_key_fingerprint, const char *client_id,
                                  char out[AOP_JOURNAL_GATEWAY_SIZE]) {
    const char *fp = alipay_key_fingerprint ? alipay_key_fingerprint : "";
    const char *id = client_id ? client_id : "";
    int n = snprintf(out, AOP_JOURNAL_GATEWAY_SIZE, "%s/%s", fp, id);
    if (n >= 0 && n < AOP_JOURNAL_GATEWAY_SIZE) return;
    /* Longer than any fingerprint of aop/sign.h and clientId of the schema (the static assertion
     * above): never truncated, which could merge two gateways, but replaced by a digest of the
     * whole text, which stays stable and distinct. */
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(c, fp, strlen(fp)) == 1 && EVP_DigestUpdate(c, "/", 1) == 1 &&
              EVP_DigestUpdate(c, id, strlen(id)) == 1 && EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(c);
    if (!ok) {
        out[0] = '\0'; /* no digest: an empty identity, which insert and find refuse */
        return;
    }
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "digest:SHA256:", 14);
    for (unsigned i = 0; i < 32; i++) {
        out[14 + 2 * i] = hex[md[i] >> 4];
        out[15 + 2 * i] = hex[md[i] & 15];
    }
    out[14 + 64] = '\0';
}
