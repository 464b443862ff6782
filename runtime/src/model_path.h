/* SPDX-License-Identifier: MIT */
/* JSON paths built only when a violation is reported: a chain of names on the stack. */
#ifndef AOP_MODEL_PATH_H
#define AOP_MODEL_PATH_H

#include <stdio.h>
#include <string.h>

#include "aop/model.h"

typedef struct aop_path {
    const struct aop_path *parent;
    const char *name;
    size_t len;
} aop_path_t;

static inline size_t aop_path_write(const aop_path_t *p, char *out, size_t cap) {
    size_t n = 0;
    if (p->parent) {
        n = aop_path_write(p->parent, out, cap);
        if (n + 1 < cap) out[n] = '.';
        n++;
    }
    for (size_t i = 0; i < p->len; i++, n++)
        if (n + 1 < cap) out[n] = p->name[i];
    if (cap) out[n < cap ? n : cap - 1] = '\0';
    return n;
}

/* Path of field f below p, as text. */
static inline void aop_path_field(const aop_path_t *p, const char *name, size_t len, char *out,
                                  size_t cap) {
    aop_path_t leaf = {p, name, len};
    aop_path_write(&leaf, out, cap);
}

/* Reports a violation at p.name: an error (strict, or fatal) or a warning. Returns the status
 * to propagate (AOP_OK for a warning). */
static inline aop_status_t aop_violation(bool fail, aop_warnings_t *w, aop_error_t *err,
                                         const aop_path_t *p, const char *name, size_t len,
                                         aop_status_t code, long offset, const char *detail) {
    char path[AOP_ERROR_PATH_MAX];
    aop_path_field(p, name, len, path, sizeof path);
    if (fail) {
        aop_error_set(err, code, path, offset, "%s: %s%s%s", path, aop_status_text(code),
                      detail ? ": " : "", detail ? detail : "");
        return code;
    }
    aop_warnings_add(w, code, path, NULL);
    return AOP_OK;
}

#endif
