/* SPDX-License-Identifier: MIT */
/* The hostile-client handling of the apps' HTTP servers: request deadlines, the connection limit
 * and eviction at the limit (http_guard.h says why each is there). */
#include "http_guard.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aop/util.h"
#include "monotonic.h"

/* Descriptors left for everything else (state file, log, keys, the client side of a test). */
#define FD_RESERVE 64

/* One accepted connection, from libmicrohttpd's "started" notice to its "closed" one. While its
 * deadline runs it is in the armed list, oldest deadline first (every deadline is the same length
 * from its start, so appending keeps the order): the head is also the connection that has gone
 * longest without a request, the one evicted at the limit. */
typedef struct slot {
    struct slot *prev, *next;
    int fd;
    int64_t deadline_ms; /* monotonic */
    bool armed;
    bool cut; /* shut down by the guard: its request is not served, and it no longer counts */
} slot_t;

struct hguard {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* the watchdog's wake-up: stop */
    pthread_t watchdog;
    bool watchdog_running, stopping;
    unsigned deadline_ms, limit, mhd_limit;
    slot_t *armed_head, *armed_tail;
    hguard_stats_t stats; /* stats.live: the connections started, not closed and not cut */
};

static void unlink_slot(hguard_t *g, slot_t *sl) {
    if (!sl->armed) return;
    if (sl->prev) sl->prev->next = sl->next;
    else g->armed_head = sl->next;
    if (sl->next) sl->next->prev = sl->prev;
    else g->armed_tail = sl->prev;
    sl->prev = sl->next = NULL;
    sl->armed = false;
}

/* Starts sl's deadline (caller holds g->mu); the watchdog wakes at least every deadline, so it
 * needs no signal. */
static void arm(hguard_t *g, slot_t *sl) {
    unlink_slot(g, sl);
    sl->deadline_ms = aop_mono_ms() + g->deadline_ms;
    sl->armed = true;
    sl->prev = g->armed_tail;
    if (g->armed_tail) g->armed_tail->next = sl;
    else g->armed_head = sl;
    g->armed_tail = sl;
}

/* Cuts sl (caller holds g->mu). The descriptor is still open: libmicrohttpd reports "closed"
 * (which takes g->mu) before it closes the socket, so the fd cannot have been reused. */
static void cut(hguard_t *g, slot_t *sl, uint64_t *counter) {
    unlink_slot(g, sl);
    sl->cut = true;
    g->stats.live--;
    (*counter)++;
    shutdown(sl->fd, SHUT_RDWR);
}

static void *watchdog_main(void *arg) {
    hguard_t *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stopping) {
        int64_t now = aop_mono_ms();
        while (g->armed_head && g->armed_head->deadline_ms <= now) cut(g, g->armed_head, &g->stats.late);
        int64_t next = now + g->deadline_ms;
        if (g->armed_head && g->armed_head->deadline_ms < next) next = g->armed_head->deadline_ms;
        struct timespec until = apps_mono_timespec(next);
        pthread_cond_timedwait(&g->cv, &g->mu, &until);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static slot_t *slot_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void hguard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    hguard_t *g = cls;
    slot_t *sl = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        sl = calloc(1, sizeof *sl);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!sl || !ci) {
            /* cannot watch it: refuse it at once rather than leave it unbounded */
            free(sl);
            if (ci) shutdown(ci->connect_fd, SHUT_RDWR);
            return;
        }
        sl->fd = ci->connect_fd;
        *socket_context = sl;
        pthread_mutex_lock(&g->mu);
        g->stats.accepted++;
        g->stats.live++;
        if (g->stats.live > g->limit) {
            if (g->armed_head) cut(g, g->armed_head, &g->stats.evicted);
            else cut(g, sl, &g->stats.refused); /* every slot serves a request: this one waits its turn */
        }
        if (!sl->cut) arm(g, sl);
        pthread_mutex_unlock(&g->mu);
        return;
    }
    if (!sl) return;
    pthread_mutex_lock(&g->mu);
    unlink_slot(g, sl);
    if (!sl->cut) g->stats.live--;
    pthread_mutex_unlock(&g->mu);
    free(sl);
    *socket_context = NULL;
}

bool hguard_request_read(hguard_t *g, struct MHD_Connection *conn) {
    slot_t *sl = slot_of(conn);
    if (!sl) return true;
    pthread_mutex_lock(&g->mu);
    bool ok = !sl->cut;
    unlink_slot(g, sl);
    pthread_mutex_unlock(&g->mu);
    return ok;
}

void hguard_request_done(hguard_t *g, struct MHD_Connection *conn, enum MHD_RequestTerminationCode toe) {
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) return;
    slot_t *sl = slot_of(conn);
    if (!sl) return;
    pthread_mutex_lock(&g->mu);
    if (!sl->cut) arm(g, sl);
    pthread_mutex_unlock(&g->mu);
}

void hguard_stats(hguard_t *g, hguard_stats_t *out) {
    pthread_mutex_lock(&g->mu);
    *out = g->stats;
    pthread_mutex_unlock(&g->mu);
}

unsigned hguard_pool_threads(void) {
    /* The server's threads: its work runs on them, so there must be at least one per core; twice
     * that keeps every core busy when one of them waits (on a store's lock, say) or while the
     * kernel hands connections to them unevenly. */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    n *= 2;
    return n < 4 ? 4u : n > 16 ? 16u : (unsigned)n;
}

unsigned hguard_mhd_connection_limit(const hguard_t *g) { return g->mhd_limit; }

/* The guard's limit and libmicrohttpd's: a connection cut by the guard counts for libmicrohttpd
 * until it has closed it, so it gets half as much again above the guard's (split among its
 * threads, which stop accepting one by one when they reach their share), all under the
 * descriptor limit: accept must not fail with EMFILE, or libmicrohttpd spins on the waiting
 * connection. */
static void limits(unsigned wanted, unsigned *limit, unsigned *mhd_limit) {
    struct rlimit rl;
    unsigned long budget = 1ul << 30;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        budget = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned long)rl.rlim_cur - FD_RESERVE : FD_RESERVE;
    unsigned long l = wanted, m;
    if (l > budget * 2 / 3) l = budget * 2 / 3;
    if (l < 1) l = 1;
    m = l + l / 2 + hguard_pool_threads();
    if (m > budget) m = budget;
    *limit = (unsigned)l;
    *mhd_limit = (unsigned)m;
}

hguard_t *hguard_new(const hguard_config_t *cfg) {
    hguard_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->deadline_ms = cfg && cfg->request_deadline_ms ? cfg->request_deadline_ms : HGUARD_REQUEST_DEADLINE_MS;
    limits(cfg && cfg->max_connections ? cfg->max_connections : HGUARD_MAX_CONNECTIONS, &g->limit, &g->mhd_limit);
    pthread_mutex_init(&g->mu, NULL);
    apps_cond_init_monotonic(&g->cv);
    if (pthread_create(&g->watchdog, NULL, watchdog_main, g) != 0) {
        hguard_free(g);
        return NULL;
    }
    g->watchdog_running = true;
    return g;
}

void hguard_free(hguard_t *g) {
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->watchdog_running) pthread_join(g->watchdog, NULL);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

unsigned hguard_request_status(struct MHD_Connection *conn, const char *method, bool path_ok, size_t max) {
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) return MHD_HTTP_METHOD_NOT_ALLOWED;
    if (!path_ok) return MHD_HTTP_NOT_FOUND;
    if (!hguard_content_type_json(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > max ? MHD_HTTP_CONTENT_TOO_LARGE : 0;
}

bool hguard_expects_continue(struct MHD_Connection *conn) {
    const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return expect && strcasecmp(expect, "100-continue") == 0;
}

enum MHD_Result hguard_queue(struct MHD_Connection *conn, unsigned status, const char *type, const void *data,
                             size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

bool hguard_content_type_json(const char *ct) {
    static const char json[] = "application/json";
    if (!ct) return false;
    ct = skip_ws(ct);
    if (strncasecmp(ct, json, sizeof json - 1) != 0) return false;
    const char *p = skip_ws(ct + sizeof json - 1);
    while (*p) {
        if (*p != ';') return false;
        p = skip_ws(p + 1);
        const char *name = p;
        while (*p && *p != '=' && *p != ';' && *p != ' ' && *p != '\t') p++;
        size_t name_len = (size_t)(p - name);
        p = skip_ws(p);
        const char *value = "";
        size_t value_len = 0;
        if (*p == '=') {
            p = skip_ws(p + 1);
            bool quoted = *p == '"';
            if (quoted) p++;
            value = p;
            while (*p && (quoted ? *p != '"' : (*p != ';' && *p != ' ' && *p != '\t'))) p++;
            value_len = (size_t)(p - value);
            if (quoted) {
                if (*p != '"') return false;
                p++;
            }
            p = skip_ws(p);
        }
        if (name_len == 7 && strncasecmp(name, "charset", 7) == 0 &&
            !((value_len == 5 && strncasecmp(value, "utf-8", 5) == 0) ||
              (value_len == 4 && strncasecmp(value, "utf8", 4) == 0)))
            return false;
    }
    return true;
}

hguard_upload_t hguard_upload(aop_buf_t *body, uint64_t *received, bool over, size_t max, const char *data,
                              size_t n) {
    *received += n;
    if (*received > HGUARD_DRAIN_MAX) return HGUARD_UPLOAD_DROP;
    if (over) return HGUARD_UPLOAD_DRAINED;
    if (body->len + n > max) {
        aop_buf_free(body);
        return HGUARD_UPLOAD_TOO_LARGE;
    }
    return aop_buf_append(body, data, n) == AOP_OK ? HGUARD_UPLOAD_KEPT : HGUARD_UPLOAD_DROP;
}
