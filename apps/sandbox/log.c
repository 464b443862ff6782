/* SPDX-License-Identifier: MIT */
/* The sandbox's log lines (human-readable, on the FILE the configuration names). */
#include <stdarg.h>
#include <string.h>

#include "sbx_internal.h"

/* Longer lines are cut (the per-request line is well under this). */
#define LINE_MAX_BYTES 2048

void sbx_log(aop_sandbox_t *s, const char *fmt, ...) {
    if (!s->log) return;
    /* Values reach the log before the request's signature is checked (merchantTransId, clientId,
     * the URL), so any local process chooses them: the formatted text goes through the runtime's
     * one sanitiser, which turns every control character (CR and LF included) and every invalid
     * byte into '?'. A value can then never end its line and forge another. */
    char text[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    char line[32 + 1 + LINE_MAX_BYTES + 1];
    aop_now_rfc3339(line);
    size_t o = strlen(line);
    line[o++] = ' ';
    o += aop_terminal_safe(text, len, line + o, sizeof line - o - 1); /* room for the '\n' */
    line[o++] = '\n';
    /* One fwrite of the whole line, then the flush: on an unbuffered stderr that is one write(2)
     * per line (it was three: time, text, newline), and lines of concurrent requests never
     * interleave. */
    pthread_mutex_lock(&s->log_mu);
    fwrite(line, 1, o, s->log);
    fflush(s->log);
    pthread_mutex_unlock(&s->log_mu);
}
