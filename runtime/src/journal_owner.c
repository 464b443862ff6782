/* SPDX-License-Identifier: MIT */
/* Who holds a journal entry's lease, and whether that process still runs: the owner text names
 * the host, its boot, its PID namespace and the process ("host/boot-id/pidns/pid/start#nonce"),
 * and a process is declared dead only when the first three are this process's own and the pid is
 * gone. Also the gateway identity an entry belongs to. */
#include "aop/journal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aop/sign.h"
#include "aop/util.h"
#include "boot_clock.h"

/* The identity holds the longest fingerprint aop/sign.h makes and the longest clientId (an id of
 * the schema) without truncation. */
_Static_assert(AOP_JOURNAL_GATEWAY_SIZE >= (AOP_FINGERPRINT_MAX - 1) + 1 + (AOP_JOURNAL_ID_SIZE - 1) + 1,
               "AOP_JOURNAL_GATEWAY_SIZE cannot hold a fingerprint, '/' and a clientId");

/* The host part may be long (HOST_NAME_MAX is 64 on Linux); the boot id takes 36, the PID
 * namespace, pid, start time, nonce and separators at most 80. */
#define HOST_CAP 65
#define NONCE_LEN 12
_Static_assert(AOP_JOURNAL_OWNER_SIZE >= HOST_CAP + 36 + 80, "AOP_JOURNAL_OWNER_SIZE cannot hold an owner");

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
    /* '/' separates the owner's parts: a host name never holds one, but a configured one might */
    for (char *p = out; *p; p++)
        if (*p == '/' || *p == '#') *p = '_';
}

/* This process's PID namespace: the inode of /proc/self/ns/pid ("pid:[4026531836]"), or "" when
 * it cannot be read (then no owner is ever declared dead by this process). */
static void pid_namespace(char *out, size_t cap) {
    char link[64];
    ssize_t n = readlink("/proc/self/ns/pid", link, sizeof link - 1);
    out[0] = '\0';
    if (n <= 0) return;
    link[n] = '\0';
    const char *open = strchr(link, '['), *close = strchr(link, ']');
    if (open && close && close > open + 1 && (size_t)(close - open) <= cap)
        snprintf(out, cap, "%.*s", (int)(close - open - 1), open + 1);
}

/* This process's part of its owner texts, "host/boot/ns/pid/start": read once per process (a
 * fork's child reads its own), since every resolution names a new owner. */
static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t self_pid;
static char self_part[AOP_JOURNAL_OWNER_SIZE - NONCE_LEN - 1];

static void self_process(char *out, size_t cap) {
    pthread_mutex_lock(&self_lock);
    if (self_pid != getpid()) {
        char host[HOST_CAP], ns[24];
        host_name(host, sizeof host);
        pid_namespace(ns, sizeof ns);
        unsigned long long start = 0;
        bool zombie = false;
        if (!proc_start((long)getpid(), &start, &zombie)) start = 0; /* no /proc: the pid alone tells */
        snprintf(self_part, sizeof self_part, "%s/%s/%s/%ld/%llu", host, aop_internal_boot_id(), ns, (long)getpid(),
                 start);
        self_pid = getpid();
    }
    snprintf(out, cap, "%s", self_part);
    pthread_mutex_unlock(&self_lock);
}

void aop_journal_self_owner(char out[AOP_JOURNAL_OWNER_SIZE]) {
    char process[sizeof self_part];
    self_process(process, sizeof process);
    /* The nonce tells apart the threads of one process, each with its own resolutions: a lease
     * is never "held by ourselves" for another thread's entry. */
    char nonce[NONCE_LEN + 1];
    if (aop_random_chars(nonce, NONCE_LEN, "0123456789abcdef") != AOP_OK)
        snprintf(nonce, sizeof nonce, "%012llx", (unsigned long long)aop_now_ms()); /* unique enough per process */
    snprintf(out, AOP_JOURNAL_OWNER_SIZE, "%s#%s", process, nonce);
}

/* Splits "host/boot/ns/pid/start[#nonce]" from the right into its five parts (in place). */
static bool split_owner(char *s, char *part[5]) {
    char *hash = strrchr(s, '#');
    if (hash) *hash = '\0';
    for (int i = 4; i > 0; i--) {
        char *slash = strrchr(s, '/');
        if (!slash) return false;
        *slash = '\0';
        part[i] = slash + 1;
    }
    part[0] = s;
    return true;
}

bool aop_journal_owner_dead(const char *lease_owner) {
    if (!lease_owner || strlen(lease_owner) >= AOP_JOURNAL_OWNER_SIZE) return false;
    char text[AOP_JOURNAL_OWNER_SIZE], *part[5];
    snprintf(text, sizeof text, "%s", lease_owner);
    if (!split_owner(text, part)) return false; /* an older version's owner: only expiry frees it */
    char host[HOST_CAP], ns[24];
    host_name(host, sizeof host);
    pid_namespace(ns, sizeof ns);
    const char *boot = aop_internal_boot_id();
    /* Anything that is not provably this host, this boot and this PID namespace is not ours to
     * judge: the same pid there is another process. */
    if (strcmp(part[0], host) != 0 || !boot[0] || strcmp(part[1], boot) != 0 || !ns[0] || strcmp(part[2], ns) != 0)
        return false;
    char *end;
    errno = 0;
    long pid = strtol(part[3], &end, 10);
    if (errno || *end || end == part[3] || pid <= 0) return false;
    unsigned long long start = strtoull(part[4], &end, 10);
    if (errno || *end || end == part[4]) return false;
    unsigned long long now_start = 0;
    bool zombie = false;
    if (proc_start(pid, &now_start, &zombie)) return zombie || (start != 0 && now_start != start);
    /* No /proc entry: gone, unless there is no /proc at all, where kill(pid, 0) tells. */
    if (access("/proc/self/stat", R_OK) == 0) return true;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

bool aop_journal_lease_held(const aop_journal_entry_t *e, int64_t now_ms) {
    (void)now_ms;
    return e && e->lease_held;
}

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
