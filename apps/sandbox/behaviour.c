/* SPDX-License-Identifier: MIT */
/* The behaviour switches of a sandbox (clock offset, --no-faults) and its request log: JSON lines
 * a test reads to see what the gateway received and answered. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aop/json_quote.h"
#include "sbx_internal.h"

aop_status_t sbx_behaviour_init(aop_sandbox_t *s, const aop_sandbox_config_t *cfg, aop_error_t *err) {
    s->clock_offset_ms = (int64_t)cfg->clock_offset_s * 1000;
    s->no_faults = cfg->no_faults;
    s->request_log_fd = -1;
    if (!cfg->request_log) return AOP_OK;
    /* 0600: the log holds ids of payments (never an identityCode). O_APPEND: several sandboxes
     * may append to one log, each line in one write. */
    s->request_log_fd = open(cfg->request_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (s->request_log_fd < 0)
        return aop_error_set(err, AOP_E_CONFIG, "request_log", -1, "cannot open the request log %s: %s",
                             cfg->request_log, strerror(errno));
    return AOP_OK;
}

void sbx_behaviour_free(aop_sandbox_t *s) {
    if (s->request_log_fd >= 0) close(s->request_log_fd);
    s->request_log_fd = -1;
}

/* "key": value, with value quoted by the runtime's escaper, or null. */
static void put_member(aop_buf_t *b, const char *key, const char *value, bool first, aop_status_t *st) {
    char head[48];
    int n = snprintf(head, sizeof head, "%s\"%s\":", first ? "{" : ",", key);
    if (*st == AOP_OK) *st = aop_buf_append(b, head, (size_t)n);
    if (!value) {
        if (*st == AOP_OK) *st = aop_buf_append(b, "null", 4);
        return;
    }
    size_t len = strlen(value), need = aop_json_quote(value, len, NULL, 0);
    if (*st == AOP_OK) *st = aop_buf_reserve(b, b->len + need);
    if (*st == AOP_OK) b->len += aop_json_quote(value, len, b->data + b->len, need);
}

void sbx_reqlog_write(aop_sandbox_t *s, const sbx_reqlog_entry_t *e) {
    if (s->request_log_fd < 0) return;
    char time[32];
    sbx_rfc3339(e->time_ms, time);
    aop_buf_t b = {0};
    aop_status_t st = AOP_OK;
    put_member(&b, "function", e->function, true, &st);
    put_member(&b, "merchantTransId", e->merchant_trans_id, false, &st);
    put_member(&b, "acquirementId", e->acquirement_id, false, &st);
    put_member(&b, "time", time, false, &st);
    put_member(&b, "resultStatus", e->result_status, false, &st);
    put_member(&b, "resultCode", e->result_code, false, &st);
    if (st == AOP_OK) st = aop_buf_append(&b, "}\n", 2);
    if (st != AOP_OK || write(s->request_log_fd, b.data, b.len) != (ssize_t)b.len)
        sbx_log(s, "cannot write the request log: %s", st != AOP_OK ? "out of memory" : strerror(errno));
    aop_buf_free(&b);
}
