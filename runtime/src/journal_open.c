/* SPDX-License-Identifier: MIT */
/* aop_journal_open(): a journal by its URI. A bare path or `sqlite:PATH` is the embedded SQLite
 * store; `postgresql://` and `postgres://` are the PostgreSQL store, a module of its own
 * (libaop-journal-pg.so.0) loaded only then, so that libaop never depends on libpq and a program
 * on SQLite never maps it. The module is looked for beside the libaop that holds this code (a
 * build tree, any install prefix), then on the dynamic linker's search path. And the one helper
 * that takes the password out of a URI, for every message that prints one. */
#define _GNU_SOURCE /* dladdr */
#include "aop/journal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aop/version.h"
#include "journal_internal.h"
#include "journal_module.h"
#include "journal_time.h"

/* ---------------------------------------------------------------------------------------------
 * Passwords out of URIs */

/* Copies [s, s + n) into out at *at, within cap (the caller terminates). */
static void put(char *out, size_t cap, size_t *at, const char *s, size_t n) {
    for (size_t i = 0; i < n && *at + 1 < cap; i++) out[(*at)++] = s[i];
}

bool aop_journal_uri_redact(const char *uri, char *out, size_t cap) {
    if (!out || !cap) return false;
    out[0] = '\0';
    if (!uri) return false;
    bool found = false;
    size_t at = 0;
    const char *p = uri;
    const char *scheme_end = strstr(uri, "://");
    if (scheme_end && (size_t)(scheme_end - uri) < strcspn(uri, "/?@")) {
        /* the authority: up to the first '/' or '?' after "://"; its user info up to its last '@' */
        const char *auth = scheme_end + 3;
        size_t auth_len = strcspn(auth, "/?");
        const char *at_sign = NULL;
        for (const char *q = auth; q < auth + auth_len; q++)
            if (*q == '@') at_sign = q;
        put(out, cap, &at, uri, (size_t)(auth - uri));
        p = auth;
        if (at_sign) {
            const char *colon = memchr(auth, ':', (size_t)(at_sign - auth));
            if (colon) {
                found = true;
                put(out, cap, &at, auth, (size_t)(colon - auth)); /* the user, without ":password" */
                p = at_sign;
            }
        }
    }
    /* the query: every password=... parameter left out */
    const char *query = strchr(p, '?');
    if (!query) {
        put(out, cap, &at, p, strlen(p));
    } else {
        put(out, cap, &at, p, (size_t)(query - p));
        char sep = '?';
        for (const char *param = query + 1; *param;) {
            size_t n = strcspn(param, "&");
            if (n >= 9 && !strncmp(param, "password=", 9)) {
                found = true;
            } else if (n) {
                put(out, cap, &at, &sep, 1);
                put(out, cap, &at, param, n);
                sep = '&';
            }
            param += n + (param[n] == '&');
        }
    }
    out[at] = '\0';
    return found;
}

/* ---------------------------------------------------------------------------------------------
 * The modules */

static const aop_journal_host_t host = {
    .struct_size = sizeof(aop_journal_host_t),
    .abi = AOP_JOURNAL_HOST_ABI,
    .library_version = AOP_VERSION,
    .error_set = aop_error_set,
    .open_custom = aop_journal_open_custom,
    .uri_redact = aop_journal_uri_redact,
    .columns = aop_internal_journal_columns,
    .ncolumns = 0, /* set below: the count is not a constant expression here */
    .get_int = aop_internal_journal_get_int,
    .set_int = aop_internal_journal_set_int,
    .int_ok = aop_internal_journal_int_ok,
    .stamp_insert = aop_internal_journal_stamp_insert,
    .stamp_write = aop_internal_journal_stamp_write,
    .stamp_lease = aop_internal_journal_stamp_lease,
    .rebase = aop_internal_journal_rebase,
    .claimable = aop_internal_journal_claimable,
    .watch_due = aop_internal_journal_watch_due,
    .elapsed_ms = aop_journal_elapsed_ms,
    .decide_due = rsv_decide_due,
    .self_owner = aop_journal_self_owner,
    .state_name = aop_entry_state_name,
    .notice_state_name = aop_notice_state_name,
    .notice_read = aop_internal_notice_read,
};

/* A module stays loaded for the life of the process once found (a journal it opened may be in
 * use anywhere): loaded once, under this lock. */
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static aop_journal_module_open_fn pg_open;
static aop_journal_host_t pg_host;

/* The directory of the object that holds this function (libaop.so.1, or a program linked with
 * libaop.a), with its trailing '/'; "" when unknown. For the main program dladdr may give the
 * name it was started by (no directory at all): the kernel's link to it is the sure answer. */
static void own_directory(char *dir, size_t cap) {
    Dl_info info;
    char exe[4096];
    dir[0] = '\0';
    const char *name = NULL;
    if (dladdr((void *)own_directory, &info) && info.dli_fname && strchr(info.dli_fname, '/')) name = info.dli_fname;
    if (!name) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return;
        exe[n] = '\0';
        name = exe;
    }
    const char *slash = strrchr(name, '/');
    if (!slash || (size_t)(slash - name) + 2 > cap) return;
    memcpy(dir, name, (size_t)(slash - name) + 1);
    dir[slash - name + 1] = '\0';
}

static aop_status_t load_pg(aop_error_t *err) {
    if (pg_open) return AOP_OK;
    char dir[4096], path[4200], first[512] = "";
    own_directory(dir, sizeof dir);
    void *h = NULL;
    if (dir[0]) {
        snprintf(path, sizeof path, "%s%s", dir, AOP_JOURNAL_PG_MODULE);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) snprintf(first, sizeof first, "%s", dlerror());
    }
    if (!h) h = dlopen(AOP_JOURNAL_PG_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        if (first[0] && access(path, F_OK) == 0) /* there, but its own libraries (libpq) are not */
            return aop_error_set(err, AOP_E_CONFIG, "journal", -1,
                                 "the PostgreSQL store cannot be loaded: %s (is libpq5 installed?)", first);
        return aop_error_set(err, AOP_E_CONFIG, "journal", -1,
                             "a postgresql:// journal needs the PostgreSQL store, %s, which is not installed beside "
                             "libaop (%s) nor on the library search path (%s): install the package "
                             "libaop-journal-pg0, or build aop with libpq (-DAOP_JOURNAL_POSTGRES=ON)",
                             AOP_JOURNAL_PG_MODULE, dir[0] ? dir : "?", why ? why : first);
    }
    aop_journal_module_open_fn fn;
    *(void **)&fn = dlsym(h, AOP_JOURNAL_PG_SYMBOL);
    if (!fn) {
        dlclose(h);
        return aop_error_set(err, AOP_E_CONFIG, "journal", -1, "%s has no %s: it is not a journal store of libaop %s",
                             AOP_JOURNAL_PG_MODULE, AOP_JOURNAL_PG_SYMBOL, AOP_VERSION);
    }
    pg_host = host;
    pg_host.ncolumns = aop_internal_journal_ncolumns;
    pg_open = fn;
    return AOP_OK;
}

/* "scheme://..." : the scheme's length, or 0 for a path. */
static size_t scheme_length(const char *uri) {
    size_t n = strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return n && !strncmp(uri + n, "://", 3) ? n : 0;
}

aop_status_t aop_journal_open(const char *uri, aop_journal_t **out, aop_error_t *err) {
    AOP_JOURNAL_ERR(err); /* the module's open is a store's code too */
    aop_error_clear(err);
    if (!out) return aop_error_set(err, AOP_E_INVALID_ARG, "out", -1, "out is NULL");
    *out = NULL;
    if (!uri || !*uri)
        return aop_error_set(err, AOP_E_INVALID_ARG, "uri", -1, "the journal's URI is %s", uri ? "empty" : "NULL");
    if (!strncmp(uri, "sqlite:", 7)) return aop_journal_open_sqlite(uri + 7, out, err);
    size_t n = scheme_length(uri);
    if (!n) return aop_journal_open_sqlite(uri, out, err);
    if ((n == 10 && !strncmp(uri, "postgresql", n)) || (n == 8 && !strncmp(uri, "postgres", n))) {
        if (pthread_mutex_lock(&modules_lock) != 0) abort();
        aop_status_t st = load_pg(err);
        if (pthread_mutex_unlock(&modules_lock) != 0) abort();
        return st == AOP_OK ? pg_open(&pg_host, uri, out, err) : st;
    }
    char shown[512];
    aop_journal_uri_redact(uri, shown, sizeof shown);
    return aop_error_set(err, AOP_E_CONFIG, "uri", -1,
                         "the journal %s has the scheme '%.*s': a journal is a file path, sqlite:PATH, "
                         "postgresql://... or postgres://...", shown, (int)n, uri);
}
