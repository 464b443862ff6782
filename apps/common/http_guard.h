/* SPDX-License-Identifier: MIT */
/* The hostile-client handling of the apps' HTTP servers (libmicrohttpd): aop-sandbox, and any
 * other server of the apps (a receiver of Alipay's notifications) links the same module.
 *
 * - A request deadline: each connection must deliver its whole request (headers and body) within
 *   the deadline of being accepted or of its previous answer. libmicrohttpd has only an idle
 *   timeout, which every byte resets, and calls nothing while headers trickle in; so a watchdog
 *   thread keeps the deadlines and shuts the socket of a connection past its deadline (shutdown(2):
 *   libmicrohttpd then sees the end of the stream and closes it). The deadline stops once the
 *   request is read: the server's own time and a held answer are never cut.
 * - A connection limit under the descriptor limit, and eviction under a reconnect storm: the
 *   limit counts the connections the guard keeps, and libmicrohttpd is given room above it, so it
 *   never stops accepting (a server that stops accepting leaves every new client, a real one
 *   included, queued in the kernel behind the storm's). A connection accepted at the limit takes
 *   the slot of the connection that has gone longest without a request it could serve (the
 *   oldest whose deadline runs); one that finds every slot serving a request is refused at once.
 *   A real client sends its request as it connects and is served before a thousand later
 *   connections could evict it; a storm only evicts itself.
 *
 * Thread safety: the callbacks run on libmicrohttpd's threads and take the guard's mutex;
 * libmicrohttpd is never called under it. */
#ifndef AOP_APPS_HTTP_GUARD_H
#define AOP_APPS_HTTP_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aop/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The defaults: the whole request within 5 s (a request on a local network takes well under a
 * millisecond, and a keep-alive connection idle this long is closed: a client reconnects), and
 * 1,000 connections (each costs a descriptor and up to 32 KiB of libmicrohttpd's buffers). */
#define HGUARD_REQUEST_DEADLINE_MS 5000u
#define HGUARD_MAX_CONNECTIONS 1000u

typedef struct {
    unsigned request_deadline_ms; /* 0: HGUARD_REQUEST_DEADLINE_MS */
    unsigned max_connections;     /* 0: HGUARD_MAX_CONNECTIONS; lowered to fit RLIMIT_NOFILE */
} hguard_config_t;

typedef struct {
    uint64_t accepted; /* connections libmicrohttpd accepted */
    uint64_t late;     /* cut at their request deadline */
    uint64_t evicted;  /* cut to make room for a newer connection at the limit */
    uint64_t refused;  /* cut at once: every slot was serving a request */
    unsigned live;     /* connections kept now */
} hguard_stats_t;

typedef struct hguard hguard_t;

/* A guard with its watchdog thread; NULL when out of memory or threads. */
hguard_t *hguard_new(const hguard_config_t *cfg);
/* Stops the watchdog; then frees (NULL is fine). Call it after MHD_stop_daemon. */
void hguard_free(hguard_t *g);

/* For MHD_start_daemon: MHD_OPTION_CONNECTION_LIMIT (the guard's limit and the room above it),
 * MHD_OPTION_THREAD_POOL_SIZE, and MHD_OPTION_NOTIFY_CONNECTION with the guard as its cls. */
unsigned hguard_mhd_connection_limit(const hguard_t *g);
unsigned hguard_pool_threads(void);
void hguard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe);

/* From the request handler, once the whole request is read: its deadline stops. False when the
 * guard cut the connection first: the request must not be served (answer MHD_NO). */
bool hguard_request_read(hguard_t *g, struct MHD_Connection *conn);
/* From MHD_OPTION_NOTIFY_COMPLETED: an answered keep-alive connection has the deadline again
 * for its next request. */
void hguard_request_done(hguard_t *g, struct MHD_Connection *conn, enum MHD_RequestTerminationCode toe);

void hguard_stats(hguard_t *g, hguard_stats_t *out);

/* application/json, with parameters allowed; a charset parameter must name UTF-8. */
bool hguard_content_type_json(const char *ct);

/* The first look at a request, as the apps' servers take them (a POST of JSON to a path they
 * serve, no larger than max): 0, or the HTTP status that refuses it (405, 404, 415, 413). */
unsigned hguard_request_status(struct MHD_Connection *conn, const char *method, bool path_ok, size_t max);
/* Whether the client waits for "100 Continue": a refusal is then answered before it uploads
 * anything (other uploads are drained first, so that the answer is not lost to a reset). */
bool hguard_expects_continue(struct MHD_Connection *conn);
/* Queues data as the response (Allow: POST with a 405). */
enum MHD_Result hguard_queue(struct MHD_Connection *conn, unsigned status, const char *type, const void *data,
                             size_t len);

/* An upload read in pieces into body, up to max bytes. Beyond max the rest is drained, not kept,
 * so the refusal reaches a client still sending; beyond HGUARD_DRAIN_MAX the connection is
 * dropped. */
#define HGUARD_DRAIN_MAX (64u * 1024u * 1024u)
typedef enum {
    HGUARD_UPLOAD_KEPT,      /* appended to body */
    HGUARD_UPLOAD_TOO_LARGE, /* body went over max: freed, the rest is drained (answer 413) */
    HGUARD_UPLOAD_DRAINED,   /* over max already: read and dropped */
    HGUARD_UPLOAD_DROP       /* over HGUARD_DRAIN_MAX, or out of memory: answer MHD_NO */
} hguard_upload_t;
hguard_upload_t hguard_upload(aop_buf_t *body, uint64_t *received, bool over, size_t max, const char *data,
                              size_t n);

#ifdef __cplusplus
}
#endif
#endif
