/* SPDX-License-Identifier: MIT */
/* pay and refund through the resolver, and `aop recover`: the journal is opened, the policy
 * taken from the options, progress printed to stderr one line per step, SIGINT and SIGTERM turned
 * into a clean stop (the call in flight abandoned, the entry left open for aop recover), and the
 * resolution reported in the cashier's words (outcome.c). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "currency.h"

/* Where the journal is: --journal, then AOP_JOURNAL (the one place for a URI with a password),
 * then NULL for ~/.aop/journal.db. */
static const char *journal_given(const cli_opts_t *o) {
    if (o->journal) return o->journal;
    const char *env = getenv("AOP_JOURNAL");
    return env && *env ? env : NULL;
}

const char *cli_journal_shown(const cli_opts_t *o) {
    static char shown[1024];
    const char *given = journal_given(o);
    if (!given) return NULL;
    aop_journal_uri_redact(given, shown, sizeof shown);
    return shown;
}

int cli_journal_open(const cli_opts_t *o, aop_journal_t **out) {
    char path[4200];
    const char *given = journal_given(o);
    if (given) {
        snprintf(path, sizeof path, "%s", given);
    } else {
        char dir[4096];
        int rc = cli_home(dir, sizeof dir);
        if (rc) return rc;
        snprintf(path, sizeof path, "%s/journal.db", dir);
    }
    aop_error_t err;
    if (aop_journal_open(path, out, &err) != AOP_OK) { /* the stores' messages name it, password left out */
        char shown[1024];
        aop_journal_uri_redact(path, shown, sizeof shown);
        const char *option = o->journal ? "--journal" : given ? "AOP_JOURNAL" : "--journal";
        return cli_fail(AOP_EXIT_CONFIG, err.code, option, "%s%s%s", strstr(err.msg, shown) ? "" : shown,
                        strstr(err.msg, shown) ? "" : ": ", err.msg);
    }
    return 0;
}

void cli_policy_from(const cli_opts_t *o, aop_policy_t *p) {
    aop_policy_init(p);
    if (o->first_poll_s > 0) p->first_poll_s = o->first_poll_s;
    if (o->poll_interval_s > 0) p->poll_interval_s = o->poll_interval_s;
    if (o->query_budget_s > 0) p->query_budget_s = o->query_budget_s;
    if (o->cancel_margin_s > 0) p->cancel_margin_s = o->cancel_margin_s;
    if (o->cancel_budget_s > 0) p->cancel_budget_s = o->cancel_budget_s;
    if (o->watch_window_s > 0) p->watch_window_s = o->watch_window_s;
    if (o->refund_budget_s > 0) p->refund_budget_s = o->refund_budget_s;
    if (o->timeout_s > 0) p->deadline_ms = (long)(o->timeout_s * 1000.0 + 0.5);
}

/* What progress lines need beyond the step: whether a refund runs (its words are not a pay's),
 * and the age of the sale recovery works on (nobody is confirming a sale hours old). */
typedef struct {
    bool refund;
    int64_t sale_ms;          /* when the entry was made (0: this very command's sale) */
    double customer_window_s; /* a sale older than this has no customer at the till any more */
} progress_ctx_t;

static const char *phase_words(aop_phase_t next, const progress_ctx_t *p) {
    if (p->refund && next == AOP_PHASE_SENDING) return "sending the refund";
    bool old = p->sale_ms && aop_now_ms() - p->sale_ms > (int64_t)(p->customer_window_s * 1000.0);
    if (old && next == AOP_PHASE_WAITING_CUSTOMER) return "checking the payment";
    return aop_phase_text(next);
}

/* A progress line after its prefix: the step's answer (when there is one), then what comes next. */
static void progress_text(FILE *out, const aop_step_t *step, aop_phase_t next, const progress_ctx_t *p) {
    if (step) {
        fprintf(out, "%s %c ", cli_short_name(step->function), step->status);
        cli_put_safe(out, aop_str(step->result_code[0] ? step->result_code : aop_status_name(step->error)));
        if (step->acquirement_status[0]) {
            fputs(" (", out);
            cli_put_safe(out, aop_str(step->acquirement_status));
            fputc(')', out);
        }
        fprintf(out, " %ld ms; ", step->latency_ms);
    }
    fprintf(out, "%s\n", phase_words(next, p));
}

static void on_progress(const aop_step_t *step, aop_phase_t next, void *ctx) {
    fputs("aop: ", stderr);
    progress_text(stderr, step, next, ctx);
}

static void options_from(const cli_opts_t *o, progress_ctx_t *p, aop_resolve_options_t *ro) {
    aop_resolve_options_init(ro);
    cli_policy_from(o, &ro->policy);
    p->customer_window_s = ro->policy.watch_window_s; /* the wallet codes' lifetime */
    ro->on_progress = on_progress;
    ro->progress_ctx = p;
    ro->stop_flag = (const volatile int *)&cli_stop;
    ro->single_call = o->no_resolve;
}

/* The journal's open entries that nobody works on (what `aop recover` would take), but the one
 * this command made, and the oldest of them. */
typedef struct {
    int64_t self, now_ms;
    unsigned open, idle;
    int64_t oldest_id, oldest_ms;
} open_count_t;

static bool count_open(const aop_journal_entry_t *e, void *ctx) {
    open_count_t *c = ctx;
    if (e->id == c->self) return true;
    c->open++;
    if (aop_journal_lease_held(e, c->now_ms)) return true;
    if (!c->idle++ || e->created_ms < c->oldest_ms) c->oldest_id = e->id, c->oldest_ms = e->created_ms;
    return true;
}

static open_count_t other_open_entries(aop_journal_t *j, int64_t self) {
    open_count_t c = {self, aop_now_ms(), 0, 0, 0, 0};
    aop_error_t err;
    if (aop_journal_list(j, true, count_open, &c, &err) != AOP_OK) c.open = c.idle = 0;
    return c;
}

static int exit_for(const aop_resolution_t *r) {
    if (r->interrupted) return cli_interrupted_exit();
    if (r->taken_over) return AOP_EXIT_U;
    switch (r->outcome) {
    case AOP_OUTCOME_PAID:
    case AOP_OUTCOME_REFUNDED: return AOP_EXIT_S;
    case AOP_OUTCOME_FAILED:
    case AOP_OUTCOME_CANCELLED: return AOP_EXIT_F;
    case AOP_OUTCOME_UNRESOLVED:
    case AOP_OUTCOME_NEEDS_ATTENTION: break;
    }
    return AOP_EXIT_U;
}

static void report(const cli_opts_t *o, const aop_resolution_t *r, const cli_sale_t *sale, open_count_t other) {
    if (o->json) {
        cli_outcome_json(stdout, r, sale, other.open);
        fputc('\n', stdout);
        /* what to run next, for the person beside the script (the human report says it inline) */
        if (r->interrupted || (!r->taken_over && r->outcome == AOP_OUTCOME_UNRESOLVED)) {
            fprintf(stderr, "aop: %s: the entry stays open; finish it with: ",
                    r->interrupted ? cli_interrupt_name() : "not known yet");
            cli_recover_hint(stderr, o);
            fputc('\n', stderr);
        } else if (r->outcome == AOP_OUTCOME_NEEDS_ATTENTION) {
            fprintf(stderr, "aop: the gateway's answers contradict each other: a person decides, then runs aop journal "
                            "close %lld --as ... --note ...\n", (long long)r->entry_id);
        }
    } else {
        cli_outcome_human(stdout, r, sale, o);
    }
    fflush(stdout);
    if (other.idle) {
        char when[AOP_RFC3339_SIZE];
        aop_rfc3339((time_t)(other.oldest_ms / 1000), when);
        fprintf(stderr, "aop: %u other, older %s of this journal %s unresolved (the oldest: entry %lld of %s): run ",
                other.idle, other.idle == 1 ? "entry" : "entries", other.idle == 1 ? "is" : "are",
                (long long)other.oldest_id, when);
        cli_recover_hint(stderr, o);
        fputc('\n', stderr);
    }
}

int cli_resolve(const cli_opts_t *o, cli_env_t *env, aop_client_t *client, const aop_function_desc_t *fn,
                const void *request, const cli_sale_t *sale_in, const char *generated_key) {
    aop_journal_t *j = NULL;
    int rc = cli_journal_open(o, &j);
    if (rc) return rc;
    progress_ctx_t progress = {fn == &aop_fn_refund, 0, 0};
    aop_resolve_options_t ro;
    options_from(o, &progress, &ro);
    cli_sale_t sale = *sale_in;
    sale.sandbox = cli_env_is_sandbox(env);
    sale.watch_window_s = ro.policy.watch_window_s;
    /* the request is valid and the journal open: the generated key is worth keeping now */
    if (generated_key)
        fprintf(stderr, "aop: %s %s (reuse it with --%s to retry, query or refund)\n",
                fn == &aop_fn_refund ? "merchantRefundId" : "merchantTransId", generated_key,
                fn == &aop_fn_refund ? "merchant-refund-id" : "merchant-trans-id");
    cli_catch_stop_signals();
    aop_resolution_t *r = NULL;
    aop_error_t err;
    aop_status_t st = fn == &aop_fn_refund ? aop_refund_resolve(client, j, request, &ro, &r, &err)
                                           : aop_pay_resolve(client, j, request, &ro, &r, &err);
    if (st != AOP_OK) {
        aop_journal_close(j);
        int code = st == AOP_E_JOURNAL || st == AOP_E_CONFIG ? AOP_EXIT_CONFIG
                   : st == AOP_E_ENTRY_OPEN                   ? AOP_EXIT_U
                                                              : AOP_EXIT_USAGE;
        if (code == AOP_EXIT_U) /* refused before sending, but the payment's state is what is open */
            return cli_fail(code, st, err.path, "%s; nothing was sent: run aop recover first", err.msg);
        return cli_fail(code, st, err.path, "%s", err.msg);
    }
    /* one call's report only when exactly one call of this function was made */
    if (o->no_resolve && r->n_steps == 1 && r->result && r->result->function == fn && !r->taken_over &&
        !r->interrupted) {
        cli_ids_t ids = {fn == &aop_fn_refund ? NULL : r->key, fn == &aop_fn_refund ? r->key : NULL};
        rc = cli_report(o, fn, r->result, &ids, sale.sandbox);
    } else {
        report(o, r, &sale, other_open_entries(j, r->entry_id));
        rc = exit_for(r);
    }
    aop_resolution_free(r);
    aop_journal_close(j);
    return rc;
}

/* ---- aop recover ---- */

typedef struct {
    const cli_opts_t *o;
    progress_ctx_t *progress;
    bool sandbox, first;
    double watch_window_s;
} recover_ctx_t;

/* An entry another live process holds: its own object in --json, apart from the resolutions. */
static void json_held(FILE *out, const aop_journal_entry_t *e) {
    cli_json_begin(out);
    fprintf(out, ",\"id\":%lld,\"held\":true,\"state\":\"%s\",", (long long)e->id, aop_entry_state_name(e->state));
    fputs(e->kind == AOP_ENTRY_REFUND ? "\"merchantRefundId\":" : "\"merchantTransId\":", out);
    cli_json_str(out, aop_str(e->key));
    fputs(",\"leaseOwner\":", out);
    cli_json_str(out, aop_str(e->lease_owner));
    fprintf(out, ",\"leaseExpiresMs\":%lld}", (long long)e->lease_expires_ms);
}

/* "held by process 4242 on host till-3, until 14:07:31" from the lease owner
 * "host/boot-id/pid-namespace/pid/start#nonce" (the pid split from the right; the host is what
 * comes before the first '/', which a host name never holds). */
static void held_by(FILE *out, const aop_journal_entry_t *e) {
    char owner[AOP_JOURNAL_OWNER_SIZE], until[16];
    snprintf(owner, sizeof owner, "%s", e->lease_owner);
    char *hash = strrchr(owner, '#');
    if (hash) *hash = '\0';
    char *start = strrchr(owner, '/');
    if (start) *start = '\0';
    char *pid = start ? strrchr(owner, '/') : NULL;
    if (pid) *pid++ = '\0';
    char *boot = pid ? strchr(owner, '/') : NULL;
    if (boot) *boot = '\0';
    time_t t = (time_t)(e->lease_expires_ms / 1000);
    struct tm tm;
    strftime(until, sizeof until, "%H:%M:%S", localtime_r(&t, &tm));
    fputs("held by process ", out);
    cli_put_safe(out, aop_str(pid ? pid : "?"));
    fputs(" on host ", out);
    cli_put_safe(out, aop_str(pid ? owner : e->lease_owner));
    fprintf(out, ", until %s: it is finishing it", until);
}

/* An entry recovery takes up, after its line's prefix: its amount, what and when it was, and
 * what recovery does; p learns the sale for the progress lines that follow. */
static void entry_text(FILE *out, const aop_journal_entry_t *e, progress_ctx_t *p) {
    p->refund = e->kind == AOP_ENTRY_REFUND;
    p->sale_ms = e->created_ms;
    char amount[64], when[16];
    cli_amount_text(e->amount, e->currency, amount, sizeof amount);
    time_t t = (time_t)(e->created_ms / 1000);
    struct tm tm;
    strftime(when, sizeof when, "%H:%M", localtime_r(&t, &tm));
    cli_put_safe(out, aop_str(amount));
    fprintf(out, ", %s of %s, %s\n", p->refund ? "refund" : "sale", when,
            e->state == AOP_STATE_NEEDS_ATTENTION ? "left to a person" : "checking");
}

static void on_entry(const aop_journal_entry_t *e, unsigned index, unsigned total, void *ctx) {
    fprintf(stderr, "aop recover: entry %u of %u (id %lld): ", index, total, (long long)e->id);
    entry_text(stderr, e, ctx);
}

static void on_recovered(const aop_journal_entry_t *e, const aop_resolution_t *r, void *ctx) {
    recover_ctx_t *c = ctx;
    bool held = !r && aop_journal_lease_held(e, aop_now_ms());
    if (!r && !(held && c->o->json)) {
        fprintf(stderr, "aop recover: skipped entry %lld (%s ", (long long)e->id, aop_entry_state_name(e->state));
        cli_put_safe(stderr, aop_str(e->key));
        fputs("): ", stderr);
        if (held) {
            held_by(stderr, e);
        } else {
            fputs("it belongs to another gateway identity (", stderr);
            cli_put_safe(stderr, aop_str(e->gateway));
            fputs("): run aop recover with that gateway's keys", stderr);
        }
        fputc('\n', stderr);
        return;
    }
    cli_sale_t sale = {e->amount, e->currency, c->sandbox, c->watch_window_s};
    if (c->o->json) {
        fputs(c->first ? "\n" : ",\n", stdout);
        if (held)
            json_held(stdout, e);
        else
            cli_outcome_json(stdout, r, &sale, 0); /* the count after recovery is printed at the end */
    } else {
        fprintf(stdout, "entry %lld: ", (long long)e->id);
        cli_outcome_human(stdout, r, &sale, c->o);
    }
    c->first = false;
    fflush(stdout);
}

static int recover_workers(const cli_opts_t *o);

int cmd_recover(const cli_opts_t *o) {
    if (o->workers || o->follow) return recover_workers(o);
    cli_env_t *env;
    aop_client_t *client;
    int rc = cli_env_open(o, &env, &client);
    if (rc) return rc;
    aop_journal_t *j = NULL;
    if ((rc = cli_journal_open(o, &j)) != 0) {
        cli_env_close(env);
        return rc;
    }
    progress_ctx_t progress = {false, 0, 0};
    aop_resolve_options_t ro;
    options_from(o, &progress, &ro);
    ro.single_call = false;
    ro.on_entry = on_entry;
    cli_catch_stop_signals();
    recover_ctx_t ctx = {o, &progress, cli_env_is_sandbox(env), true, ro.policy.watch_window_s};
    if (o->json) fputc('[', stdout);
    aop_recover_summary_t sum;
    aop_recover_summary_init(&sum);
    aop_error_t err;
    aop_status_t st = aop_recover_ex(client, j, &ro, on_recovered, &ctx, &sum, &err);
    if (o->json) fputs(ctx.first ? "]\n" : "\n]\n", stdout);
    if (st != AOP_OK) {
        rc = cli_fail(st == AOP_E_JOURNAL ? AOP_EXIT_CONFIG : AOP_EXIT_U, st, NULL, "%s", err.msg);
    } else {
        if (!o->json) {
            printf("%u %s of this gateway still open", sum.open_left, sum.open_left == 1 ? "entry" : "entries");
            if (sum.held) printf("; %u held by other live processes, which finish them", sum.held);
            putchar('\n');
        }
        /* entries live workers hold are theirs: only what nobody works on makes the exit non-zero */
        rc = cli_stop ? cli_interrupted_exit() : sum.open_left ? AOP_EXIT_U : AOP_EXIT_S;
        if (cli_stop) {
            fprintf(stderr, "aop recover: stopped by %s; the entries left open stay for the next run: ",
                    cli_interrupt_name());
            cli_recover_hint(stderr, o);
            fputc('\n', stderr);
        }
    }
    aop_journal_close(j);
    cli_env_close(env);
    return rc;
}

/* ---- aop recover --workers N, --follow ---- */

/* N workers (threads), each with its own client, on one journal handle: each runs the library's
 * recovery, which takes entries one at a time with claim_next (a lease each, so no two workers,
 * here or in another process, work on one entry). Their lines are written whole, one at a time,
 * each with its worker's number. --follow repeats the due entries' recovery until a signal: the
 * first lets each worker finish its call in flight and release its lease (exit 0), a second
 * abandons the calls (130 or 143). */
typedef struct {
    const cli_opts_t *o;
    aop_journal_t *j;
    bool sandbox, first;
    double watch_window_s;
    pthread_mutex_t out; /* one whole line (or JSON object) at a time */
    unsigned failed;     /* workers whose recovery failed */
    unsigned open_left;
} workers_t;

typedef struct {
    progress_ctx_t progress; /* first: the resolver's progress_ctx is the worker */
    workers_t *all;
    unsigned n;              /* the worker's number, from 1 */
    aop_client_t *client;
    bool failed;
} worker_t;

/* Writes text (whole lines) to out under the workers' lock. */
static void emit(workers_t *w, FILE *out, const char *text, size_t len) {
    if (pthread_mutex_lock(&w->out) != 0) abort();
    fwrite(text, 1, len, out);
    fflush(out);
    if (pthread_mutex_unlock(&w->out) != 0) abort();
}

/* emit of a whole line made by printf (of any length: nothing is cut). */
static void emitf(workers_t *w, FILE *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void emitf(workers_t *w, FILE *out, const char *fmt, ...) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(m, fmt, ap);
    va_end(ap);
    fclose(m);
    emit(w, out, text, len);
    free(text);
}

static void worker_progress(const aop_step_t *step, aop_phase_t next, void *ctx) {
    worker_t *w = ctx;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return;
    fprintf(m, "aop: worker %u: ", w->n);
    progress_text(m, step, next, &w->progress);
    fclose(m);
    emit(w->all, stderr, buf, len);
    free(buf);
}

/* The line of `aop recover` for an entry taken up, without "of N" (a worker does not know how
 * many the others take), with the worker's number. */
static void worker_entry(const aop_journal_entry_t *e, unsigned index, unsigned total, void *ctx) {
    (void)index, (void)total;
    worker_t *w = ctx;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return;
    fprintf(m, "aop recover: worker %u: entry id %lld: ", w->n, (long long)e->id);
    entry_text(m, e, &w->progress);
    fclose(m);
    emit(w->all, stderr, buf, len);
    free(buf);
}

static void worker_recovered(const aop_journal_entry_t *e, const aop_resolution_t *r, void *ctx) {
    worker_t *w = ctx;
    workers_t *all = w->all;
    /* entries the others hold (workers here or elsewhere) are theirs to report, and another
     * gateway's are reported by the plain `aop recover` */
    if (!r) return;
    cli_sale_t sale = {e->amount, e->currency, all->sandbox, all->watch_window_s};
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return;
    if (all->o->json) {
        char *obj = NULL;
        size_t olen = 0;
        FILE *jm = open_memstream(&obj, &olen);
        if (!jm) {
            fclose(m);
            free(buf);
            return;
        }
        cli_outcome_json(jm, r, &sale, 0);
        fclose(jm);
        /* the object with the worker's number as its first member */
        size_t brace = obj && obj[0] == '{' ? 1 : 0;
        fwrite(obj, 1, brace, m);
        if (brace) fprintf(m, "\"worker\":%u,", w->n);
        fwrite(obj + brace, 1, olen - brace, m);
        free(obj);
    } else {
        /* one line: the outcome's first line, then the key and the calls */
        char *block = NULL;
        size_t blen = 0;
        FILE *bm = open_memstream(&block, &blen);
        if (!bm) {
            fclose(m);
            free(buf);
            return;
        }
        cli_outcome_human(bm, r, &sale, all->o);
        fclose(bm);
        size_t first = block ? strcspn(block, "\n") : 0;
        fprintf(m, "worker %u: entry %lld: %.*s; ", w->n, (long long)e->id, (int)first, block ? block : "");
        fputs(r->kind == AOP_ENTRY_REFUND ? "merchantRefundId " : "merchantTransId ", m);
        cli_put_safe(m, aop_str(r->key));
        fprintf(m, "; calls: %u\n", r->n_steps);
        free(block);
    }
    fclose(m);
    if (pthread_mutex_lock(&all->out) != 0) abort();
    if (all->o->json) fputs(all->first ? "\n" : ",\n", stdout);
    all->first = false;
    fwrite(buf, 1, len, stdout);
    fflush(stdout);
    if (pthread_mutex_unlock(&all->out) != 0) abort();
    free(buf);
}

/* Sleeps ms on the monotonic clock, waking at once for a signal. */
static void worker_pause(int64_t ms) {
    int64_t until = aop_mono_ms() + ms;
    while (!cli_stop && !cli_finish && aop_mono_ms() < until) {
        struct timespec ts = {0, 20 * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    const cli_opts_t *o = w->all->o;
    aop_resolve_options_t ro;
    options_from(o, &w->progress, &ro);
    ro.single_call = false;
    ro.on_progress = worker_progress;
    ro.progress_ctx = w;
    ro.on_entry = worker_entry;
    /* a service takes entries as they fall due; a plain run takes every open one at once */
    ro.due_only = o->follow;
    if (o->follow) ro.finish_flag = (const volatile int *)&cli_finish;
    bool reported = false;
    for (;;) {
        aop_recover_summary_t sum;
        aop_recover_summary_init(&sum);
        aop_error_t err;
        aop_status_t st = aop_recover_ex(w->client, w->all->j, &ro, worker_recovered, w, &sum, &err);
        if (st != AOP_OK) {
            /* the journal's server gone, a lost connection: said once, then the service retries
             * (the store reconnects by itself); a plain run ends with the error */
            if (!reported || !o->follow) {
                emitf(w->all, stderr, "aop recover: worker %u: %s%s\n", w->n, err.msg,
                      o->follow ? "; trying again every second" : "");
            }
            reported = true;
            if (!o->follow) {
                w->failed = true;
                break;
            }
            worker_pause(1000);
        } else {
            if (reported && o->follow) {
                emitf(w->all, stderr, "aop recover: worker %u: the journal answers again\n", w->n);
            }
            reported = false;
            /* what the last worker to finish saw is what is left: an earlier one counted entries
             * that others were still working on */
            if (pthread_mutex_lock(&w->all->out) != 0) abort();
            w->all->open_left = sum.open_left;
            if (pthread_mutex_unlock(&w->all->out) != 0) abort();
            if (!o->follow) break;
            if (!sum.worked) worker_pause(1000); /* nothing was due: look again in a second */
        }
        if (cli_stop || cli_finish) break;
    }
    return NULL;
}

static bool count_unheld(const aop_journal_entry_t *e, void *ctx) {
    if (e->unreadable || !e->lease_held) ++*(unsigned *)ctx;
    return true;
}

/* The open entries of the client's gateway that no live process holds; a second look after a
 * moment when there are some (claims of other processes commit within it). */
static unsigned open_nobody_holds(aop_client_t *c, aop_journal_t *j, const cli_opts_t *o) {
    char merchant[AOP_FINGERPRINT_MAX], alipay[AOP_FINGERPRINT_MAX], gateway[AOP_JOURNAL_GATEWAY_SIZE];
    aop_client_fingerprints(c, merchant, alipay);
    aop_journal_gateway_identity(alipay, o->client_id ? o->client_id : AOP_APPS_DEFAULT_CLIENT_ID, gateway);
    aop_journal_filter_t f;
    aop_journal_filter_init(&f);
    f.which = AOP_LIST_OPEN;
    f.gateway = gateway;
    unsigned n = 0;
    for (int look = 0; look < 2; look++) {
        if (look) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
        aop_error_t err;
        n = 0;
        if (aop_journal_list_ex(j, &f, count_unheld, &n, &err) != AOP_OK) return 1; /* unknown: not "all done" */
        if (!n) break;
    }
    return n;
}

static int recover_workers(const cli_opts_t *o) {
    unsigned n = o->workers ? o->workers : 1;
    cli_env_t *env;
    aop_client_t *first;
    int rc = cli_env_open(o, &env, &first);
    if (rc) return rc;
    aop_journal_t *j = NULL;
    if ((rc = cli_journal_open(o, &j)) != 0) {
        cli_env_close(env);
        return rc;
    }
    worker_t *w = calloc(n, sizeof *w);
    pthread_t *t = calloc(n, sizeof *t);
    workers_t all = {o, j, cli_env_is_sandbox(env), true, 0, PTHREAD_MUTEX_INITIALIZER, 0, 0};
    aop_policy_t p;
    aop_policy_init(&p);
    all.watch_window_s = o->watch_window_s > 0 ? o->watch_window_s : p.watch_window_s;
    if (!w || !t) rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_NOMEM, NULL, "out of memory");
    for (unsigned i = 0; !rc && i < n; i++) {
        w[i].all = &all;
        w[i].n = i + 1;
        w[i].client = first;
        if (i) rc = cli_env_new_client(env, &w[i].client); /* a client is one thread's */
    }
    if (o->follow)
        cli_catch_stop_signals_two_step();
    else
        cli_catch_stop_signals();
    unsigned started = 0;
    if (!rc && o->json) fputc('[', stdout);
    for (; !rc && started < n; started++)
        if (pthread_create(&t[started], NULL, worker_main, &w[started]) != 0) {
            rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_INTERNAL, NULL, "cannot start worker %u", started + 1);
            cli_stop = 1; /* the workers already started stop */
            break;
        }
    if (o->follow && !rc) {
        const char *shown = cli_journal_shown(o);
        emitf(&all, stderr, "aop recover: %u worker%s following %s\n", n, n == 1 ? "" : "s",
              shown ? shown : "~/.aop/journal.db");
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failed) all.failed++;
    }
    if (started && o->json) fputs(all.first ? "]\n" : "\n]\n", stdout);
    if (!rc) {
        if (cli_stop) {
            fprintf(stderr, "aop recover: stopped by %s; the calls in flight were abandoned and their entries stay "
                            "open for the next run\n", cli_interrupt_name());
            rc = cli_interrupted_exit();
        } else if (cli_finish) {
            fprintf(stderr, "aop recover: %s: the calls in flight finished and every lease was released\n",
                    cli_interrupt_name());
            rc = AOP_EXIT_S;
        } else if (all.failed) {
            rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_JOURNAL, NULL, "%u of %u workers stopped on a journal error", all.failed, n);
        } else {
            /* Counted again once every worker is done: a worker's own count is a moment of a
             * journal others still work on (an entry another process is claiming that instant
             * shows no lease until its claim commits). */
            if (all.open_left) all.open_left = open_nobody_holds(first, j, o);
            if (!o->json) printf("%u %s of this gateway still open\n", all.open_left, all.open_left == 1 ? "entry" : "entries");
            rc = all.open_left ? AOP_EXIT_U : AOP_EXIT_S;
        }
    }
    for (unsigned i = 1; w && i < n; i++) aop_client_free(w[i].client);
    free(w);
    free(t);
    aop_journal_close(j);
    cli_env_close(env);
    return rc;
}
