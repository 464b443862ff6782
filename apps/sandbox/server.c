/* SPDX-License-Identifier: MIT */
/* The HTTP side of the sandbox: libmicrohttpd on 127.0.0.1 only, the HTTP checks in
 * that order (method 405, path 404, content type 415, size 413), then sbx_handle, then the
 * transport faults of the scenario (delay, drop, HTTP 500, truncated body).
 *
 * Threading model: a pool of worker threads, each with its own epoll set, serves every
 * connection; the gateway's work (RSA, SQLite) runs on the worker that read the request, so the
 * CPU-bound part uses every core. No connection owns a thread: a held ("delayed") answer suspends
 * its connection (MHD_suspend_connection) and the holder thread resumes it when the hold is over.
 * The thread-per-connection model it replaces let 1,020 trickling connections take every thread
 * and descriptor.
 *
 * Hostile local clients (request deadlines, the connection limit, eviction under a reconnect
 * storm) are handled by the apps' shared guard, apps/common/http_guard.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_guard.h"
#include "monotonic.h"
#include "sbx_internal.h"

typedef struct conn conn_t;

struct sbx_server {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the holder's wake-up: a new earliest time, or stop */
    pthread_t holder;
    bool holder_running, stopping;
    conn_t *held_head, *held_tail; /* suspended connections, due first */
    hguard_t *guard;        /* deadlines, the connection limit, eviction (apps/common) */
};

struct conn {
    const aop_function_desc_t *fn;
    unsigned error; /* HTTP status to answer instead of processing, 0 = none */
    aop_buf_t body;
    uint64_t received;
    bool answered;
    /* a held answer: the connection is suspended until due_ms (monotonic) */
    struct MHD_Connection *conn;
    sbx_reply_t reply;
    bool holding;       /* in the held list, or resumed and not answered yet */
    bool suspended;     /* MHD_suspend_connection done (v->mu) */
    bool resume_wanted; /* due before it was suspended: hold() resumes it (v->mu) */
    bool held_done;     /* taken off the held list: answer (or drop) on the next call */
    bool drop;
    int64_t due_ms;
    conn_t *held_next;
};

/* ---- held answers ------------------------------------------------------------------------------ */

static void resume_due(struct sbx_server *v, int64_t until, bool drop);

static void *holder_main(void *arg) {
    aop_sandbox_t *s = arg;
    struct sbx_server *v = s->server;
    pthread_mutex_lock(&v->mu);
    while (!v->stopping) {
        int64_t now = aop_mono_ms();
        if (v->held_head && v->held_head->due_ms <= now) {
            resume_due(v, now, false);
            continue;
        }
        if (!v->held_head) {
            pthread_cond_wait(&v->cv, &v->mu);
            continue;
        }
        int64_t next = v->held_head->due_ms;
        struct timespec until = apps_mono_timespec(next);
        pthread_cond_timedwait(&v->cv, &v->mu, &until);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

/* Suspends the connection until the hold is over (the holder resumes it); false when the
 * sandbox is stopping (the answer is dropped). libmicrohttpd is never called under v->mu (it
 * takes locks of its own, and calls us back with them): the connection is listed first, then
 * suspended, and a resume wanted in between is done here. */
static bool hold(aop_sandbox_t *s, struct MHD_Connection *conn, conn_t *r, unsigned ms) {
    struct sbx_server *v = s->server;
    r->conn = conn;
    r->due_ms = aop_mono_ms() + ms;
    pthread_mutex_lock(&v->mu);
    if (v->stopping) {
        pthread_mutex_unlock(&v->mu);
        return false;
    }
    r->holding = true;
    if (v->held_tail) v->held_tail->held_next = r;
    else v->held_head = r;
    v->held_tail = r;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    MHD_suspend_connection(conn);
    pthread_mutex_lock(&v->mu);
    r->suspended = true;
    bool resume = r->resume_wanted;
    pthread_mutex_unlock(&v->mu);
    if (resume) MHD_resume_connection(conn);
    return true;
}

/* Takes the held connections due by `until` off the list and resumes them (caller holds v->mu,
 * which is released while resuming and held again on return). drop: answer nothing. */
static void resume_due(struct sbx_server *v, int64_t until, bool drop) {
    conn_t *due = NULL, **tail = &due;
    while (v->held_head && v->held_head->due_ms <= until) {
        conn_t *r = v->held_head;
        v->held_head = r->held_next;
        if (!v->held_head) v->held_tail = NULL;
        r->held_next = NULL;
        r->held_done = true;
        r->drop = drop;
        if (r->suspended) {
            *tail = r;
            tail = &r->held_next;
        } else {
            r->resume_wanted = true; /* hold() resumes it once suspended */
        }
    }
    if (!due) return;
    /* A suspended connection is never closed by libmicrohttpd except at MHD_stop_daemon, which
     * runs only after every held connection was resumed: r stays valid until its resume. */
    pthread_mutex_unlock(&v->mu);
    while (due) {
        conn_t *r = due;
        due = r->held_next;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_lock(&v->mu);
}

/* A function's path, as the vendor's sandbox serves it; the production form with the /api
 * prefix (the paths of earlier versions) is still accepted for a while. */
static const aop_function_desc_t *fn_by_path(const char *url) {
    static const char legacy[] = "/api";
    if (strncmp(url, legacy, sizeof legacy - 1) == 0 && url[sizeof legacy - 1] == '/') url += sizeof legacy - 1;
    for (unsigned i = 0; i < AOP_FUNCTION_COUNT; i++)
        if (strcmp(aop_functions[i]->path, url) == 0) return aop_functions[i];
    return NULL;
}

static enum MHD_Result queue_http_error(struct MHD_Connection *conn, unsigned status) {
    const char *text;
    switch (status) {
    case MHD_HTTP_METHOD_NOT_ALLOWED: text = "405 method not allowed: the gateway accepts POST only\n"; break;
    case MHD_HTTP_NOT_FOUND: text = "404 not found: no function has this path\n"; break;
    case MHD_HTTP_UNSUPPORTED_MEDIA_TYPE: text = "415 unsupported media type: send application/json; charset=UTF-8\n"; break;
    case MHD_HTTP_CONTENT_TOO_LARGE: text = "413 content too large: the body is limited to 1 MiB\n"; break;
    default: text = "500 internal server error\n"; break;
    }
    return hguard_queue(conn, status, "text/plain; charset=UTF-8", text, strlen(text));
}

/* Truncated body: the full length is announced, half of it is sent, then the connection is
 * cut. */
typedef struct {
    aop_buf_t body;
    size_t sent_max;
} trunc_t;

static ssize_t read_truncated(void *cls, uint64_t pos, char *buf, size_t max) {
    trunc_t *t = cls;
    if (pos >= t->sent_max) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = t->sent_max - (size_t)pos;
    if (n > max) n = max;
    memcpy(buf, t->body.data + pos, n);
    return (ssize_t)n;
}

static void free_truncated(void *cls) {
    trunc_t *t = cls;
    aop_buf_free(&t->body);
    free(t);
}

static enum MHD_Result answer(aop_sandbox_t *s, struct MHD_Connection *conn, conn_t *r) {
    sbx_reply_t reply;
    if (!r->body.data && aop_buf_reserve(&r->body, 1) != AOP_OK) return MHD_NO;
    sbx_handle(s, r->fn, r->body.data, r->body.len, &reply);
    static const char json[] = "application/json; charset=UTF-8";
    enum MHD_Result ret;
    switch (reply.fault) {
    case SBX_FAULT_DROP:
        ret = MHD_NO; /* the payment is committed; the answer never leaves */
        break;
    case SBX_FAULT_HTTP_500: {
        static const char text[] = "500 internal server error (sandbox scenario)\n";
        ret = hguard_queue(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=UTF-8", text, sizeof text - 1);
        break;
    }
    case SBX_FAULT_TRUNCATE: {
        trunc_t *t = calloc(1, sizeof *t);
        if (!t) {
            ret = MHD_NO;
            break;
        }
        t->body = reply.body;
        reply.body = (aop_buf_t){0};
        t->sent_max = t->body.len / 2;
        struct MHD_Response *resp =
            MHD_create_response_from_callback(t->body.len, 4096, read_truncated, t, free_truncated);
        if (!resp) {
            free_truncated(t);
            ret = MHD_NO;
            break;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, json);
        ret = MHD_queue_response(conn, reply.http_status, resp);
        MHD_destroy_response(resp);
        break;
    }
    case SBX_FAULT_DELAY:
        /* the answer waits in r; this worker goes on with other connections */
        r->reply = reply;
        return hold(s, conn, r, s->delay_ms) ? MHD_YES : MHD_NO; /* r frees the reply */
    default:
        ret = hguard_queue(conn, reply.http_status, reply.http_status == 200 ? json : "text/plain; charset=UTF-8",
                           reply.body.data, reply.body.len);
        break;
    }
    sbx_reply_free(&reply);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls) {
    (void)version;
    aop_sandbox_t *s = cls;
    conn_t *r = *req_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *req_cls = r;
        r->fn = fn_by_path(url);
        r->error = hguard_request_status(conn, method, r->fn != NULL, SBX_MAX_BODY);
        if (r->error) {
            sbx_log(s, "HTTP %u for %s %s", r->error, method, url);
            if (hguard_expects_continue(conn)) {
                r->answered = true;
                return queue_http_error(conn, r->error);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->answered) return MHD_YES;
        switch (hguard_upload(&r->body, &r->received, r->error != 0, SBX_MAX_BODY, upload, n)) {
        case HGUARD_UPLOAD_DROP: return MHD_NO;
        case HGUARD_UPLOAD_TOO_LARGE:
            r->error = MHD_HTTP_CONTENT_TOO_LARGE;
            sbx_log(s, "HTTP 413 for %s %s (more than %u bytes)", method, url, SBX_MAX_BODY);
            break;
        default: break;
        }
        return MHD_YES;
    }
    if (r->holding) {
        if (!r->held_done) return MHD_YES; /* not resumed by the holder: nothing to do yet */
        r->holding = false;
        if (r->drop) return MHD_NO; /* stopping: the held answer is dropped */
        enum MHD_Result ret = hguard_queue(conn, r->reply.http_status,
                                           r->reply.http_status == 200 ? "application/json; charset=UTF-8"
                                                                       : "text/plain; charset=UTF-8",
                                           r->reply.body.data, r->reply.body.len);
        sbx_reply_free(&r->reply);
        return ret;
    }
    if (r->answered) return MHD_YES;
    r->answered = true;
    if (!hguard_request_read(s->server->guard, conn)) return MHD_NO;
    if (r->error) return queue_http_error(conn, r->error);
    return answer(s, conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
    aop_sandbox_t *s = cls;
    conn_t *r = *req_cls;
    hguard_request_done(s->server->guard, conn, toe);
    if (!r) return;
    aop_buf_free(&r->body);
    sbx_reply_free(&r->reply);
    free(r);
    *req_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    aop_sandbox_t *s = cls;
    if (!s->log) return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    sbx_log(s, "libmicrohttpd: %s", line);
}

static aop_status_t server_new(aop_sandbox_t *s, unsigned max_connections) {
    struct sbx_server *v = calloc(1, sizeof *v);
    if (!v) return AOP_E_NOMEM;
    pthread_mutex_init(&v->mu, NULL);
    apps_cond_init_monotonic(&v->cv);
    s->server = v;
    hguard_config_t gc = {0, max_connections};
    if (!(v->guard = hguard_new(&gc))) return AOP_E_NOMEM;
    if (pthread_create(&v->holder, NULL, holder_main, s) != 0) return AOP_E_NOMEM;
    v->holder_running = true;
    return AOP_OK;
}

/* No new hold from now on; the holder ends; every held connection is resumed to be dropped
 * (libmicrohttpd panics at MHD_stop_daemon on a connection still suspended). */
static void server_stop(aop_sandbox_t *s) {
    struct sbx_server *v = s->server;
    if (!v) return;
    pthread_mutex_lock(&v->mu);
    v->stopping = true;
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
    if (v->holder_running) pthread_join(v->holder, NULL);
    v->holder_running = false;
    pthread_mutex_lock(&v->mu);
    resume_due(v, INT64_MAX, true);
    pthread_mutex_unlock(&v->mu);
}

static void server_free(aop_sandbox_t *s) {
    struct sbx_server *v = s->server;
    if (!v) return;
    server_stop(s);
    hguard_free(v->guard); /* after MHD_stop_daemon: no callback runs any more */
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    free(v);
    s->server = NULL;
}

static void sandbox_free(aop_sandbox_t *s) {
    if (!s) return;
    sbx_notifier_stop(s); /* it uses the store and the crypto pool */
    server_free(s);
    sbx_crypto_pool_free(s);
    if (s->store_open) sbx_store_close(&s->store);
    sbx_behaviour_free(s); /* h-behave hook: the request log */
    aop_private_key_free(s->key);
    aop_public_key_free(s->merchant_pub);
    for (unsigned i = 0; i < s->n_client_ids; i++) free(s->client_ids[i]);
    free(s->client_ids);
    pthread_mutex_destroy(&s->log_mu);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
    free(s);
}

aop_status_t aop_sandbox_start(const aop_sandbox_config_t *cfg, aop_sandbox_t **out, aop_error_t *err) {
    aop_error_clear(err);
    if (out) *out = NULL;
    if (!cfg || !out) return aop_error_set(err, AOP_E_INVALID_ARG, NULL, -1, "NULL argument");
    if (!cfg->key_file || !*cfg->key_file)
        return aop_error_set(err, AOP_E_CONFIG, "key_file", -1, "no gateway signing key is configured");
    if (!cfg->merchant_public_key_file || !*cfg->merchant_public_key_file)
        return aop_error_set(err, AOP_E_CONFIG, "merchant_public_key_file", -1,
                             "no merchant public key is configured");
    if ((unsigned)cfg->sign_type > AOP_SIGN_RSA)
        return aop_error_set(err, AOP_E_CONFIG, "sign_type", -1, "unknown sign type");
    for (unsigned i = 0; i < cfg->n_client_ids; i++) {
        const char *id = cfg->client_ids ? cfg->client_ids[i] : NULL;
        size_t units;
        if (!id || !*id || !aop_utf8_units(id, strlen(id), &units) || units > AOP_REQUEST_HEAD_CLIENT_ID_MAX)
            return aop_error_set(err, AOP_E_CONFIG, "client_ids", -1,
                                 "a clientId must be 1 to %d characters", AOP_REQUEST_HEAD_CLIENT_ID_MAX);
    }
    aop_sandbox_t *s = calloc(1, sizeof *s);
    if (!s) return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    pthread_mutex_init(&s->log_mu, NULL);
    pthread_mutex_init(&s->stop_mu, NULL);
    apps_cond_init_monotonic(&s->stop_cv);
    s->log = cfg->log;
    s->sign_type = cfg->sign_type;
    s->settle_ms = cfg->settle_ms ? cfg->settle_ms : SBX_DEFAULT_SETTLE_MS;
    s->delay_ms = cfg->delay_ms ? cfg->delay_ms : SBX_DEFAULT_DELAY_MS;
    s->request_log_fd = -1; /* h-behave hook: clock offset, --no-faults, the request log */
    if (sbx_behaviour_init(s, cfg, err) != AOP_OK) {
        sandbox_free(s);
        return err->code;
    }
    unsigned n = cfg->n_client_ids ? cfg->n_client_ids : 1;
    s->client_ids = calloc(n, sizeof *s->client_ids);
    aop_status_t st = s->client_ids ? AOP_OK : AOP_E_NOMEM;
    for (unsigned i = 0; i < n && st == AOP_OK; i++) {
        s->client_ids[i] = strdup(cfg->n_client_ids ? cfg->client_ids[i] : AOP_SANDBOX_DEFAULT_CLIENT_ID);
        if (!s->client_ids[i]) st = AOP_E_NOMEM;
        else s->n_client_ids = i + 1;
    }
    if (st != AOP_OK) {
        sandbox_free(s);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    }
    st = aop_private_key_load_file(cfg->key_file, NULL, &s->key, err);
    if (st == AOP_OK) st = aop_public_key_load_file(cfg->merchant_public_key_file, &s->merchant_pub, err);
    if (st == AOP_OK && aop_keys_pair(s->key, s->merchant_pub))
        st = aop_error_set(err, AOP_E_KEY_MISMATCH, "merchant_public_key_file", -1,
                           "the merchant public key is the gateway's own key: the gateway signs with its "
                           "key and verifies requests with the merchant's");
    if (st == AOP_OK) {
        st = sbx_store_open(&s->store, cfg->state_path, err);
        s->store_open = st == AOP_OK;
    }
    if (st == AOP_OK && (sbx_crypto_pool_new(s) != AOP_OK || server_new(s, cfg->max_connections) != AOP_OK))
        st = aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory (or no thread for the server)");
    if (st == AOP_OK) st = sbx_notifier_start(s, cfg, err);
    if (st != AOP_OK) {
        sandbox_free(s);
        return st;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(cfg->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* epoll: no FD_SETSIZE ceiling on descriptors; suspend/resume: held answers without a thread */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    errno = 0;
    s->daemon = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, hguard_on_connection, s->server->guard,
                                 MHD_OPTION_THREAD_POOL_SIZE, hguard_pool_threads(),
                                 MHD_OPTION_CONNECTION_LIMIT, hguard_mhd_connection_limit(s->server->guard),
                                 /* an answer being sent to a client that does not read (the
                                  * request deadline covers everything before) */
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        sandbox_free(s);
        return aop_error_set(err, AOP_E_CONFIG, "port", -1, "cannot listen on 127.0.0.1:%u%s%s",
                             (unsigned)cfg->port, e ? ": " : "", e ? strerror(e) : "");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    char fp[AOP_FINGERPRINT_MAX], mfp[AOP_FINGERPRINT_MAX];
    aop_private_key_fingerprint(s->key, fp);
    aop_public_key_fingerprint(s->merchant_pub, mfp);
    sbx_log(s, "aop-sandbox on http://127.0.0.1:%u, state %s, sign type %s, gateway key %s, merchant key %s",
            (unsigned)s->port, cfg->state_path ? cfg->state_path : "in memory",
            aop_sign_type_name(s->sign_type), fp, mfp);
    *out = s;
    return AOP_OK;
}

unsigned short aop_sandbox_port(const aop_sandbox_t *s) { return s ? s->port : 0; }

void sbx_server_stats(aop_sandbox_t *s, hguard_stats_t *out) { hguard_stats(s->server->guard, out); }

void aop_sandbox_stop(aop_sandbox_t *s) {
    if (!s) return;
    pthread_mutex_lock(&s->stop_mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->stop_cv);
    pthread_mutex_unlock(&s->stop_mu);
    server_stop(s);
    if (s->daemon) MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    sbx_log(s, "aop-sandbox on port %u stopped", (unsigned)s->port);
    sandbox_free(s);
}
