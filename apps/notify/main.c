/* SPDX-License-Identifier: MIT */
/* aop-notify: the receiver of Alipay's payment notifications (alipay.intl.acquiring.offline.
 * notify.pay). One endpoint: a POST at --path is verified (aop_notify_receive), recorded in the
 * journal durably with its body as received (aop_notice_record), and only then answered S /
 * SUCCESS; when it cannot be recorded it is answered F, and Alipay sends it again. An applier
 * thread then applies the recorded notifications (aop_notices_apply, docs/resolver.md rows N):
 * an entry a live `aop pay` holds is left to it (it checks its key every 250 ms), an entry
 * nobody holds is claimed and decided here.
 *
 * Its own program so that `aop` never loads libmicrohttpd. The options, the client's
 * configuration and the journal are the CLI's own code (apps/cli: cli_parse, cli_env_open,
 * cli_journal_open), so the defaults and the gateway identity are aop's and the receiver finds
 * the entries `aop pay` journaled. The hostile-client handling is the sandbox's
 * (apps/common/http_guard.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aop/notify.h"
#include "aop/version.h"
#include "cli.h"
#include "http_guard.h"
#include "monotonic.h"

/* A notification body is well under this; the journal keeps at most this much of one. */
#define NOTIFY_MAX_BODY (AOP_JOURNAL_NOTICE_BODY_MAX - 1)
/* Without --gateway the receiver makes no query (rows N5, N8, N10 leave the entry due now, for
 * `aop recover`); the client still needs a URL, which is never called. */
#define NO_GATEWAY "http://127.0.0.1:9"

typedef struct {
    const cli_opts_t *o;
    aop_journal_t *j;
    aop_client_t *client;          /* the receiving side's: gateway identity, record (under mu) */
    aop_notify_receiver_t *rcv;    /* not thread-safe: used under mu */
    aop_private_key_t *merchant;
    aop_public_key_t *alipay;
    pthread_mutex_t mu;            /* one notification at a time: they are rare, and short */
    hguard_t *guard;
    const char *path;
    /* the applier */
    pthread_mutex_t amu;
    pthread_cond_t acv;
    bool wake, stopping;
    aop_client_t *apply_client;    /* the applier's own (a client serves one thread) */
    bool queries;                  /* --gateway given: the receiver makes the queries rows N ask */
} notify_t;

/* ---- the log: one line per notification, terminal-safe; no key, signature or body in it ---- */

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...) {
    char msg[768], stamp[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    flockfile(stderr);
    fprintf(stderr, "%s aop-notify: ", stamp);
    cli_put_safe(stderr, aop_str(msg)); /* the texts come from a request: control characters become '?' */
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* ---- the applier ---------------------------------------------------------------------------- */

/* "notification 3 (KEY F ORDER_IS_CLOSED): N10, APPLIED; entry 12 FAILED (row Q9)": the row that
 * applied it (its note's first word), and when it worked the entry, the row that ended that. */
static void on_applied(const aop_journal_notice_t *n, const char *row, const aop_resolution_t *r, void *ctx) {
    (void)ctx;
    int own = (int)strcspn(n->note, ":");
    char entry[96] = "";
    if (r)
        snprintf(entry, sizeof entry, "; entry %lld %s (row %s)", (long long)r->entry_id, aop_outcome_name(r->outcome),
                 row && *row ? row : "?");
    log_line("notification %lld (%s %s %s): %.*s, %s%s", (long long)n->id, n->key, n->result_status, n->result_code,
             own, n->note, aop_notice_state_name(n->state), entry);
}

static void *applier_main(void *arg) {
    notify_t *s = arg;
    aop_resolve_options_t opts;
    aop_resolve_options_init(&opts);
    opts.stop_flag = (const volatile int *)&cli_stop;
    cli_policy_from(s->o, &opts.policy);
    pthread_mutex_lock(&s->amu);
    while (!s->stopping) {
        /* a notification left PENDING for its lease holder is tried again each second: the
         * holder may end without applying it (one call only, or a crash) */
        struct timespec until = apps_mono_timespec(aop_mono_ms() + 1000);
        while (!s->wake && !s->stopping) {
            if (pthread_cond_timedwait(&s->acv, &s->amu, &until) == ETIMEDOUT) break;
        }
        s->wake = false;
        if (s->stopping) break;
        pthread_mutex_unlock(&s->amu);
        aop_error_t err;
        unsigned pending = 0;
        if (aop_notices_apply(s->apply_client, s->j, NULL, s->queries, &opts, on_applied, s, &pending, &err) != AOP_OK)
            log_line("applying the notifications failed: %s", err.msg);
        pthread_mutex_lock(&s->amu);
    }
    pthread_mutex_unlock(&s->amu);
    return NULL;
}

static void wake_applier(notify_t *s) {
    pthread_mutex_lock(&s->amu);
    s->wake = true;
    pthread_cond_signal(&s->acv);
    pthread_mutex_unlock(&s->amu);
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

typedef struct {
    unsigned error; /* an HTTP status to answer instead, 0 = none */
    aop_buf_t body;
    uint64_t received;
    bool answered;
} conn_t;

static enum MHD_Result http_error(struct MHD_Connection *conn, unsigned status, const char *text) {
    return hguard_queue(conn, status, "text/plain; charset=UTF-8", text, strlen(text));
}

/* One notification: verified, recorded, answered. */
static enum MHD_Result handle(notify_t *s, struct MHD_Connection *conn, conn_t *c) {
    aop_error_t err;
    aop_notification_t *n = NULL;
    aop_buf_t out = {0};
    enum MHD_Result ret;
    pthread_mutex_lock(&s->mu);
    aop_status_t st = aop_notify_receive(s->rcv, c->body.data ? c->body.data : "", c->body.len, 0, &n, &err);
    if (st != AOP_OK) {
        pthread_mutex_unlock(&s->mu);
        /* unsigned, forged, misaddressed or stale: nothing is recorded, and nothing signed goes
         * back (an answer signed for a forgery would help whoever forged it) */
        log_line("refused a request: %s (%s%s%s)", aop_status_name(st), err.path[0] ? err.path : "",
                 err.path[0] ? ": " : "", err.msg);
        return http_error(conn, MHD_HTTP_BAD_REQUEST, "400 the notification was refused\n");
    }
    aop_journal_notice_t *row = malloc(sizeof *row);
    bool inserted = false;
    aop_error_t rerr;
    aop_status_t rec = row ? aop_notice_record(s->client, s->j, n, row, &inserted, &rerr)
                           : aop_error_set(&rerr, AOP_E_NOMEM, NULL, -1, "out of memory");
#ifdef AOP_TEST_HOOKS
    /* the crash test: killed after the record and before the answer, as `kill -9` would */
    if (rec == AOP_OK && getenv("AOP_NOTIFY_TEST_KILL_BEFORE_ANSWER")) raise(SIGKILL);
#endif
    aop_notify_verdict_t verdict = rec == AOP_OK ? AOP_NOTIFY_RECORDED : AOP_NOTIFY_NOT_RECORDED;
    st = aop_notify_answer(s->rcv, n, verdict, &out, &err);
    const aop_notify_pay_request_body_t *b = &n->request->body;
    char key[AOP_JOURNAL_ID_SIZE], code[AOP_JOURNAL_ID_SIZE];
    snprintf(key, sizeof key, "%.*s", (int)b->merchant_trans_id.len, b->merchant_trans_id.ptr);
    snprintf(code, sizeof code, "%.*s", (int)b->result_info.result_code.len, b->result_info.result_code.ptr);
    if (rec == AOP_OK)
        log_line("notification %lld: merchantTransId %s, %c %s, %s (delivery %u), answered %s", (long long)row->id, key,
                 n->status, code, inserted ? "recorded" : "recorded before", row->deliveries,
                 st == AOP_OK ? "S SUCCESS" : "HTTP 500");
    else
        log_line("notification for merchantTransId %s, %c %s: NOT recorded (%s), answered %s", key, n->status, code,
                 rerr.msg, st == AOP_OK ? "F" : "HTTP 500");
    pthread_mutex_unlock(&s->mu);
    free(row);
    aop_notification_free(n);
    if (st == AOP_OK)
        ret = hguard_queue(conn, MHD_HTTP_OK, "application/json; charset=UTF-8", out.data, out.len);
    else
        ret = http_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 the answer could not be signed\n");
    aop_buf_free(&out);
    if (rec == AOP_OK) wake_applier(s);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **req_cls) {
    (void)version;
    notify_t *s = cls;
    conn_t *c = *req_cls;
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return MHD_NO;
        *req_cls = c;
        c->error = hguard_request_status(conn, method, strcmp(url, s->path) == 0, NOTIFY_MAX_BODY);
        if (c->error && hguard_expects_continue(conn)) {
            c->answered = true;
            return http_error(conn, c->error, "refused\n");
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (c->answered) return MHD_YES;
        switch (hguard_upload(&c->body, &c->received, c->error != 0, NOTIFY_MAX_BODY, upload, n)) {
        case HGUARD_UPLOAD_DROP: return MHD_NO;
        case HGUARD_UPLOAD_TOO_LARGE: c->error = MHD_HTTP_CONTENT_TOO_LARGE; break;
        default: break;
        }
        return MHD_YES;
    }
    if (c->answered) return MHD_YES;
    c->answered = true;
    if (!hguard_request_read(s->guard, conn)) return MHD_NO;
    switch (c->error) {
    case 0: return handle(s, conn, c);
    case MHD_HTTP_METHOD_NOT_ALLOWED: return http_error(conn, c->error, "405 POST only\n");
    case MHD_HTTP_NOT_FOUND: return http_error(conn, c->error, "404 not the notify path\n");
    case MHD_HTTP_UNSUPPORTED_MEDIA_TYPE: return http_error(conn, c->error, "415 send application/json\n");
    default: return http_error(conn, c->error, "413 the body is too large\n");
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe) {
    notify_t *s = cls;
    hguard_request_done(s->guard, conn, toe);
    conn_t *c = *req_cls;
    if (!c) return;
    aop_buf_free(&c->body);
    free(c);
    *req_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_line("libmicrohttpd: %s", msg);
}

/* ---- the listening address and TLS ----------------------------------------------------------- */

typedef struct {
    struct sockaddr_storage sa;
    bool v6, loopback;
} listen_t;

/* "127.0.0.1:8080" or "[::1]:8080". */
static int parse_listen(const char *text, listen_t *l) {
    memset(l, 0, sizeof *l);
    char host[64];
    const char *colon = strrchr(text, ':');
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || colon == text || !*(colon + 1) || *end || port > 65535)
        return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "--listen", "--listen must be ADDRESS:PORT "
                        "(127.0.0.1:8080, [::1]:8080), not '%s'", text);
    size_t hl = (size_t)(colon - text);
    if (text[0] == '[' && hl >= 2 && text[hl - 1] == ']') text++, hl -= 2;
    if (hl >= sizeof host) return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "--listen", "--listen: address too long");
    memcpy(host, text, hl);
    host[hl] = '\0';
    struct sockaddr_in *a4 = (struct sockaddr_in *)&l->sa;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&l->sa;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        l->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        l->v6 = true;
        l->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    } else {
        return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "--listen", "--listen: '%s' is no IPv4 or IPv6 address "
                        "(a name is not resolved: give the address to bind)", host);
    }
    return 0;
}

static char *read_file(const char *path, const char *option, int *rc) {
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t n = 0;
    bool whole = false;
    if (f) {
        buf = malloc(1 << 20);
        n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
        whole = feof(f) && !ferror(f);
        fclose(f);
    }
    if (!buf || !n || !whole) {
        free(buf);
        *rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_IO, option, "%s %s cannot be read%s", option, path,
                       f && n && !whole ? " whole (over 1 MiB, or a read error)" : "");
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* ---- main ------------------------------------------------------------------------------------ */

static int setup(notify_t *s, cli_opts_t *o, cli_env_t **env) {
    if (!o->listen) return cli_fail(AOP_EXIT_USAGE, AOP_E_MISSING, "--listen", "give --listen ADDRESS:PORT");
    if (!o->private_key || !o->alipay_public_key)
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, o->private_key ? "--alipay-public-key" : "--private-key",
                        "give --private-key (yours: it signs the answers) and --alipay-public-key (Alipay's: it "
                        "verifies the notifications)");
    s->path = o->path ? o->path : "/";
    if (s->path[0] != '/') return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "--path", "--path must start with /");
    s->queries = o->gateway != NULL;
    if (!o->gateway) o->gateway = NO_GATEWAY;
    int rc = cli_env_open(o, env, &s->client);
    if (!rc) rc = cli_env_new_client(*env, &s->apply_client); /* the applier thread's own */
    if (rc) return rc;
    if ((rc = cli_journal_open(o, &s->j)) != 0) return rc;
    aop_error_t err;
    /* the notifications are recorded before they are answered: a store that cannot keep them
     * would answer F to every one, for ever */
    if (aop_journal_notices_supported(s->j, &err) != AOP_OK)
        return cli_fail(AOP_EXIT_CONFIG, err.code, "--journal", "this journal cannot keep notifications: %s", err.msg);
    if (aop_private_key_load_file(o->private_key, NULL, &s->merchant, &err) != AOP_OK ||
        aop_public_key_load_file(o->alipay_public_key, &s->alipay, &err) != AOP_OK)
        return cli_fail(AOP_EXIT_CONFIG, err.code, s->merchant ? "--alipay-public-key" : "--private-key", "%s",
                        err.msg);
    aop_notify_config_t cfg;
    aop_notify_config_init(&cfg);
    cfg.client_id = o->client_id ? o->client_id : AOP_APPS_DEFAULT_CLIENT_ID;
    cfg.alipay_key = s->alipay;
    cfg.merchant_key = s->merchant;
    if (o->sign_type && !aop_sign_type_parse(o->sign_type, &cfg.sign_type))
        return cli_fail(AOP_EXIT_USAGE, AOP_E_BAD_ENUM, "--sign-type", "--sign-type must be RSA2 or RSA");
    if (aop_notify_receiver_new(&cfg, &s->rcv, &err) != AOP_OK)
        return cli_fail(AOP_EXIT_CONFIG, err.code, err.path, "%s", err.msg);
    return 0;
}

int main(int argc, char **argv) {
    cli_opts_t o;
    int rc = cli_parse("notify", argc, argv, &o);
    if (rc) return rc;
    if (o.help) {
        cli_usage(stdout, "notify");
        return AOP_EXIT_S;
    }
    if (o.version) {
        printf("aop-notify %s\n", aop_version());
        return AOP_EXIT_S;
    }
    listen_t l;
    if (o.listen && (rc = parse_listen(o.listen, &l)) != 0) return rc;
    if (o.listen && !l.loopback && (!o.tls_cert || !o.tls_key))
        return cli_fail(AOP_EXIT_USAGE, AOP_E_CONFIG, "--tls-cert", "%s is not a loopback address: give --tls-cert and "
                        "--tls-key (a notification crosses the network in the clear otherwise)", o.listen);
    if ((o.tls_cert != NULL) != (o.tls_key != NULL))
        return cli_fail(AOP_EXIT_USAGE, AOP_E_CONFIG, o.tls_cert ? "--tls-key" : "--tls-cert",
                        "give both --tls-cert and --tls-key");
    notify_t s;
    memset(&s, 0, sizeof s);
    s.o = &o;
    pthread_mutex_init(&s.mu, NULL);
    pthread_mutex_init(&s.amu, NULL);
    apps_cond_init_monotonic(&s.acv);
    cli_env_t *env = NULL;
    char *cert = NULL, *key = NULL;
    struct MHD_Daemon *d = NULL;
    pthread_t applier;
    bool applier_running = false;
    rc = setup(&s, &o, &env);
    if (!rc && o.tls_cert) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
            rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, "--tls-cert", "this libmicrohttpd has no TLS");
        else if ((cert = read_file(o.tls_cert, "--tls-cert", &rc)) != NULL)
            key = read_file(o.tls_key, "--tls-key", &rc);
    }
    hguard_config_t gc = {0, 0};
    if (!rc && !(s.guard = hguard_new(&gc))) rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_NOMEM, NULL, "out of memory");
    if (!rc) {
        cli_catch_stop_signals();
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                         (l.v6 ? MHD_USE_IPv6 : 0) | (cert ? MHD_USE_TLS : 0);
        uint16_t port = l.v6 ? ntohs(((struct sockaddr_in6 *)&l.sa)->sin6_port)
                             : ntohs(((struct sockaddr_in *)&l.sa)->sin_port);
        d = MHD_start_daemon(flags, port, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&l.sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                             &s, MHD_OPTION_NOTIFY_CONNECTION, hguard_on_connection, s.guard,
                             MHD_OPTION_THREAD_POOL_SIZE, hguard_pool_threads(), MHD_OPTION_CONNECTION_LIMIT,
                             hguard_mhd_connection_limit(s.guard), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                             cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                             MHD_OPTION_END);
        if (!d) rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_IO, "--listen", "cannot listen on %s: %s", o.listen, strerror(errno));
    }
    if (!rc) {
        /* no notification is answered that nothing would apply */
        if ((errno = pthread_create(&applier, NULL, applier_main, &s)) != 0)
            rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_NOMEM, NULL, "cannot start the applier thread: %s", strerror(errno));
        else
            applier_running = true;
    }
    if (!rc) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        const char *journal = cli_journal_shown(&o);
        log_line("listening on %s (port %u), path %s%s; journal %s; notifications %s", o.listen,
                 info ? (unsigned)info->port : 0u, s.path, cert ? ", TLS" : "", journal ? journal : "~/.aop/journal.db",
                 s.queries ? "applied, with queries to --gateway" : "applied (queries left to aop recover)");
        wake_applier(&s); /* what an earlier run left PENDING */
        while (!cli_stop) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        log_line("stopping (%s)", cli_interrupt_name());
    }
    /* graceful: no new connection, the answers in flight finish, then the applier stops */
    if (d) MHD_stop_daemon(d);
    if (applier_running) {
        pthread_mutex_lock(&s.amu);
        s.stopping = true;
        pthread_cond_signal(&s.acv);
        pthread_mutex_unlock(&s.amu);
        pthread_join(applier, NULL);
    }
    hguard_free(s.guard);
    aop_notify_receiver_free(s.rcv);
    aop_private_key_free(s.merchant);
    aop_public_key_free(s.alipay);
    if (s.j) aop_journal_close(s.j);
    aop_client_free(s.apply_client);
    cli_env_close(env);
    free(cert);
    if (key) explicit_bzero(key, strlen(key)); /* the TLS private key */
    free(key);
    return rc;
}
