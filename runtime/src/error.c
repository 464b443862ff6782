/* SPDX-License-Identifier: MIT */
#include "aop/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The numbers are sparse, so a switch (the compiler builds the lookup) rather than an array. */
const char *aop_status_name(aop_status_t s) {
    switch (s) {
#define AOP_STATUS_NAME_(name, number, text) \
    case name:                               \
        return #name;
        AOP_STATUS_LIST(AOP_STATUS_NAME_)
#undef AOP_STATUS_NAME_
    }
    return "AOP_E_?";
}

const char *aop_strstatus(aop_status_t s) {
    switch (s) {
#define AOP_STATUS_TEXT_(name, number, text) \
    case name:                               \
        return text;
        AOP_STATUS_LIST(AOP_STATUS_TEXT_)
#undef AOP_STATUS_TEXT_
    }
    return "unknown status";
}

const char *aop_status_text(aop_status_t s) { return aop_strstatus(s); }

void aop_error_clear(aop_error_t *err) {
    if (!err) return;
    err->code = AOP_OK;
    err->offset = -1;
    err->path[0] = '\0';
    err->msg[0] = '\0';
}

static void join_path(char *out, size_t cap, const char *prefix, const char *name) {
    if (prefix && *prefix && name && *name)
        snprintf(out, cap, "%s.%s", prefix, name);
    else
        snprintf(out, cap, "%s", (prefix && *prefix) ? prefix : (name ? name : ""));
}

static aop_status_t vset(aop_error_t *err, aop_status_t code, const char *prefix, const char *name,
                         long offset, const char *fmt, va_list ap) {
    if (!err) return code;
    err->code = code;
    err->offset = offset;
    join_path(err->path, sizeof err->path, prefix, name);
    if (fmt && *fmt)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    else
        snprintf(err->msg, sizeof err->msg, "%s", aop_status_text(code));
    return code;
}

aop_status_t aop_error_set(aop_error_t *err, aop_status_t code, const char *path, long offset,
                           const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, path, NULL, offset, fmt, ap);
    va_end(ap);
    return code;
}

aop_status_t aop_error_setp(aop_error_t *err, aop_status_t code, const char *prefix,
                            const char *name, long offset, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, prefix, name, offset, fmt, ap);
    va_end(ap);
    return code;
}

void aop_warnings_clear(aop_warnings_t *w) {
    if (!w) return;
    w->count = 0;
    w->dropped = 0;
}

void aop_warnings_add(aop_warnings_t *w, aop_status_t code, const char *prefix, const char *name) {
    if (!w) return;
    if (w->count >= AOP_MAX_WARNINGS) {
        w->dropped++;
        return;
    }
    aop_warning_t *it = &w->items[w->count++];
    it->code = code;
    join_path(it->path, sizeof it->path, prefix, name);
}
