/* SPDX-License-Identifier: MIT */
/** @file
 * The HTTP transport behind the client: libcurl by default, replaceable by tests and by
 * terminals with their own network stack. */
#ifndef AOP_TRANSPORT_H
#define AOP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include "aop/export.h"
#include "aop/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The default limit of a response body, in bytes. */
#define AOP_HTTP_MAX_BODY (1024u * 1024u)

/** A growable byte buffer owned by its user (free with aop_buf_free). */
typedef struct {
    char *data; /**< the bytes (NULL while empty) */
    size_t len; /**< bytes used */
    size_t cap; /**< bytes allocated */
} aop_buf_t;

/** Makes room for at least cap bytes in all. */
AOP_API AOP_NODISCARD aop_status_t aop_buf_reserve(aop_buf_t *b, size_t cap);
/** Appends p[0..n). */
AOP_API AOP_NODISCARD aop_status_t aop_buf_append(aop_buf_t *b, const void *p, size_t n);
/** Frees the bytes and empties b. */
AOP_API void aop_buf_free(aop_buf_t *b);

/** One HTTP POST to send. */
typedef struct {
    const char *url;     /**< full URL: base + function path */
    const char *body;    /**< JSON body */
    size_t body_len;     /**< bytes of body */
    long deadline_ms;    /**< whole call, connect included */
} aop_http_request_t;

/** What a POST received. */
typedef struct {
    long status;         /**< HTTP status; 0 when none was received */
    aop_buf_t body;      /**< response body (replaced, not appended, by each post) */
    bool maybe_sent;     /**< false only when the request certainly did not reach the server (the
                            client passes it in true: a post that says nothing means "maybe") */
    long elapsed_ms;     /**< time the exchange took */
} aop_http_response_t;

/** A transport (see struct aop_transport). */
typedef struct aop_transport aop_transport_t;
/** A transport: its operations and its state. */
struct aop_transport {
    /** Sends one POST. Returns AOP_OK when an HTTP response was received (any status), or
     * AOP_E_TIMEOUT / AOP_E_CONNECT / AOP_E_TRANSPORT / AOP_E_BODY_TOO_LARGE. */
    aop_status_t (*post)(aop_transport_t *t, const aop_http_request_t *req,
                         aop_http_response_t *resp, aop_error_t *err);
    void (*destroy)(aop_transport_t *t); /**< frees the transport and its state */
    void *ctx;                           /**< the transport's own state */
};

/** Options of the libcurl transport. */
typedef struct {
    const char *ca_file;        /**< NULL: the system's CA store */
    const char *ca_path;        /**< a CA directory, or NULL */
    const char *proxy;          /**< NULL: libcurl's environment defaults */
    long connect_timeout_ms;    /**< 0: 5000 */
    size_t max_body;            /**< 0: AOP_HTTP_MAX_BODY */
} aop_curl_options_t;

/** One reused curl handle (keep-alive), CURLOPT_NOSIGNAL, TLS verification always on, plain
 * http only for loopback hosts (checked per post: AOP_E_INSECURE_URL). Not thread-safe: one
 * transport per thread. */
AOP_API aop_status_t aop_curl_transport_new(const aop_curl_options_t *opt, aop_transport_t **out,
                                    aop_error_t *err);

/** "aop/<version> libcurl/<v> OpenSSL/<v>" */
AOP_API const char *aop_user_agent(void);

/** Whether url's scheme is https, or http with a loopback host (127.0.0.0/8, ::1, localhost). */
AOP_API bool aop_url_allowed(const char *url);

#ifdef __cplusplus
}
#endif
#endif
