/* SPDX-License-Identifier: MIT */
/* pay and refund through the resolver, and `aop recover`: the journal is opened, the policy
 * taken from the options, progress printed to stderr one line per step, SIGINT turned into a
 * clean stop (the entry stays open for aop recover), and the resolution reported. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* SIGINT stops the resolver between steps instead of killing the process mid-write. */
static void catch_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

int cli_journal_open(const cli_opts_t *o, aop_journal_t **out) {
    char path[4200];
    if (o->journal) {
        snprintf(path, sizeof path, "%s", o->journal);
    } else {
        char dir[4096];
        int rc = cli_home(dir, sizeof dir);
        if (rc) return rc;
        snprintf(path, sizeof path, "%s/journal.db", dir);
    }
    aop_error_t err;
    if (aop_journal_open_sqlite(path, out, &err) != AOP_OK) {
        fprintf(stderr, "aop: journal %s: %s\n", path, err.msg);
        return AOP_EXIT_CONFIG;
    }
    return 0;
}

static void policy_from(const cli_opts_t *o, aop_policy_t *p) {
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

/* "payQuery" of "alipay.intl.acquiring.offline.payQuery". */
static const char *short_name(const aop_function_desc_t *fn) {
    const char *dot = fn ? strrchr(fn->name, '.') : NULL;
    return dot ? dot + 1 : fn ? fn->name : "?";
}

static void on_progress(const aop_step_t *step, aop_phase_t next, void *ctx) {
    (void)ctx;
    fputs("aop: ", stderr);
    if (step) {
        fprintf(stderr, "%s %c ", short_name(step->function), step->status);
        cli_put_safe(stderr, aop_str(step->result_code[0] ? step->result_code : aop_status_name(step->error)));
        if (step->acquirement_status[0]) {
            fputs(" (", stderr);
            cli_put_safe(stderr, aop_str(step->acquirement_status));
            fputc(')', stderr);
        }
        fprintf(stderr, " %ld ms; ", step->latency_ms);
    }
    fprintf(stderr, "%s\n", aop_phase_text(next));
}

static void options_from(const cli_opts_t *o, aop_resolve_options_t *ro) {
    aop_resolve_options_init(ro);
    policy_from(o, &ro->policy);
    ro->on_progress = on_progress;
    ro->stop_flag = &stop_requested;
    ro->single_call = o->no_resolve;
}

/* The journal's open entries, and those nobody is working on (what `aop recover` would take). */
typedef struct {
    unsigned open, idle;
    int64_t now_ms;
} open_count_t;

static bool count_open(const aop_journal_entry_t *e, void *ctx) {
    open_count_t *c = ctx;
    bool leased = e->lease_owner[0] && e->lease_expires_ms > c->now_ms && !aop_journal_owner_dead(e->lease_owner, NULL);
    c->open++;
    if (!leased) c->idle++;
    return true;
}

static open_count_t open_entries(aop_journal_t *j) {
    open_count_t c = {0, 0, aop_now_ms()};
    aop_error_t err;
    if (aop_journal_list(j, true, count_open, &c, &err) != AOP_OK) c.open = c.idle = 0;
    return c;
}

/* The recover command that finishes what this command left open: the same journal and gateway. */
static void recover_hint(FILE *out, const cli_opts_t *o) {
    fputs("aop recover", out);
    if (o->journal) fputs(" --journal ", out), cli_put_safe(out, aop_str(o->journal));
    if (o->gateway) {
        fputs(" --gateway ", out), cli_put_safe(out, aop_str(o->gateway));
        if (o->private_key) fputs(" --private-key ", out), cli_put_safe(out, aop_str(o->private_key));
        if (o->alipay_public_key) fputs(" --alipay-public-key ", out), cli_put_safe(out, aop_str(o->alipay_public_key));
    }
}

static int exit_for(const aop_resolution_t *r) {
    if (r->interrupted) return AOP_EXIT_INTERRUPTED;
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

static char status_letter(const aop_resolution_t *r) {
    if (r->taken_over || r->interrupted) return 'U';
    switch (r->outcome) {
    case AOP_OUTCOME_PAID:
    case AOP_OUTCOME_REFUNDED: return 'S';
    case AOP_OUTCOME_FAILED:
    case AOP_OUTCOME_CANCELLED: return 'F';
    case AOP_OUTCOME_UNRESOLVED:
    case AOP_OUTCOME_NEEDS_ATTENTION: break;
    }
    return 'U';
}

static const char *outcome_text(const aop_resolution_t *r) {
    return r->taken_over ? "TAKEN_OVER" : aop_outcome_name(r->outcome);
}

static aop_str_t or_null(const char *s) { return s && *s ? aop_str(s) : AOP_STR_NULL; }

static void json_resolution(FILE *out, const aop_resolution_t *r, bool sandbox, unsigned open_entries) {
    const aop_result_t *d = r->result;
    fputs("{\"outcome\":", out);
    cli_json_str(out, aop_str(outcome_text(r)));
    fprintf(out, ",\"status\":\"%c\",\"outcomeKnown\":%s", status_letter(r),
            !r->taken_over && aop_outcome_known(r->outcome) ? "true" : "false");
    fputs(",\"decidedBy\":", out);
    cli_json_str(out, r->decided_by ? aop_str(r->decided_by->name) : AOP_STR_NULL);
    fputs(",\"resultCode\":", out);
    cli_json_str(out, d ? d->result_code : AOP_STR_NULL);
    fputs(",\"resultCodeId\":", out);
    cli_json_str(out, d ? d->result_code_id : AOP_STR_NULL);
    fputs(",\"resultMsg\":", out);
    cli_json_str(out, d ? d->result_msg : AOP_STR_NULL);
    fprintf(out, ",\"verified\":%s,\"httpStatus\":%ld,\"reqMsgId\":", d && d->verified ? "true" : "false",
            d ? d->http_status : 0L);
    cli_json_str(out, d ? aop_str(d->req_msg_id) : AOP_STR_NULL);
    fputs(",\"error\":", out);
    cli_json_str(out, or_null(r->reason[0] ? r->reason : d && d->error != AOP_OK ? d->detail.msg : NULL));
    fputs(",\"acquirementStatus\":", out);
    cli_json_str(out, or_null(r->acquirement_status));
    fputs(r->kind == AOP_ENTRY_REFUND ? ",\"merchantRefundId\":" : ",\"merchantTransId\":", out);
    cli_json_str(out, or_null(r->key));
    fputs(",\"acquirementId\":", out);
    cli_json_str(out, or_null(r->acquirement_id));
    fputs(",\"steps\":[", out);
    for (unsigned i = 0; i < r->n_steps; i++) {
        const aop_step_t *s = &r->steps[i];
        fprintf(out, "%s{\"function\":", i ? "," : "");
        cli_json_str(out, aop_str(s->function->name));
        fprintf(out, ",\"status\":\"%c\",\"resultCode\":", s->status);
        cli_json_str(out, or_null(s->result_code));
        fprintf(out, ",\"latencyMs\":%ld}", s->latency_ms);
    }
    fprintf(out, "],\"openEntries\":%u,\"sandbox\":%s,\"latePaid\":%s,\"warnings\":[", open_entries,
            sandbox ? "true" : "false", r->late_paid ? "true" : "false");
    for (unsigned i = 0; d && i < d->warnings.count; i++) {
        char w[AOP_ERROR_PATH_MAX + 128];
        snprintf(w, sizeof w, "%s: %s", d->warnings.items[i].path, aop_status_text(d->warnings.items[i].code));
        if (i) fputc(',', out);
        cli_json_str(out, aop_str(w));
    }
    fputs("]}", out);
}

static void human_resolution(FILE *out, const aop_resolution_t *r, bool sandbox) {
    const aop_result_t *d = r->result;
    fprintf(out, "%s%s\n", outcome_text(r), sandbox ? " (local sandbox: not real money)" : "");
    if (d) {
        fprintf(out, "  result:           %c ", d->outcome_known ? d->status : 'U');
        cli_put_safe(out, d->result_code);
        fprintf(out, " (%s)", d->verified ? "verified" : "NOT verified");
        if (r->decided_by) fprintf(out, " by %s", short_name(r->decided_by));
        fputc('\n', out);
    }
    const char *key_label = r->kind == AOP_ENTRY_REFUND ? "  merchantRefundId: " : "  merchantTransId:  ";
    if (r->key[0]) fprintf(out, "%s", key_label), cli_put_safe(out, aop_str(r->key)), fputc('\n', out);
    if (r->acquirement_id[0]) fputs("  acquirementId:    ", out), cli_put_safe(out, aop_str(r->acquirement_id)), fputc('\n', out);
    if (r->reason[0]) fputs("  note:             ", out), cli_put_safe(out, aop_str(r->reason)), fputc('\n', out);
    fprintf(out, "  steps:            %u\n", r->n_steps);
    if (r->late_paid) fputs("  late PAID:        refund it if the sale was not completed\n", out);
}

static void report(const cli_opts_t *o, const aop_resolution_t *r, bool sandbox, open_count_t open) {
    if (o->json) {
        json_resolution(stdout, r, sandbox, open.open);
        fputc('\n', stdout);
    } else {
        human_resolution(stdout, r, sandbox);
    }
    fflush(stdout);
    if (open.idle) {
        fprintf(stderr, "aop: %u %s unresolved: run ", open.idle, open.idle == 1 ? "entry is" : "entries are");
        recover_hint(stderr, o);
        fputc('\n', stderr);
    }
    if (r->interrupted) {
        fputs("aop: interrupted: the entry stays open; finish it with: ", stderr);
        recover_hint(stderr, o);
        fputc('\n', stderr);
    } else if (r->taken_over) {
        fputs("aop: another process took the entry over: see aop journal\n", stderr);
    } else if (r->outcome == AOP_OUTCOME_UNRESOLVED) {
        fputs("aop: the outcome is not known yet: run ", stderr);
        recover_hint(stderr, o);
        fputs(" (never pay again with a new id)\n", stderr);
    } else if (r->outcome == AOP_OUTCOME_NEEDS_ATTENTION) {
        fputs("aop: the gateway's answers contradict each other: a person decides (aop journal; then aop journal "
              "close ID --as ... --note ...)\n", stderr);
    }
}

int cli_resolve(const cli_opts_t *o, cli_env_t *env, aop_client_t *client, const aop_function_desc_t *fn,
                const void *request) {
    aop_journal_t *j = NULL;
    int rc = cli_journal_open(o, &j);
    if (rc) return rc;
    aop_resolve_options_t ro;
    options_from(o, &ro);
    catch_sigint();
    aop_resolution_t *r = NULL;
    aop_error_t err;
    aop_status_t st = fn == &aop_fn_refund ? aop_refund_resolve(client, j, request, &ro, &r, &err)
                                           : aop_pay_resolve(client, j, request, &ro, &r, &err);
    if (st != AOP_OK) {
        fprintf(stderr, "aop: nothing was sent: %s%s%s\n", err.path, err.path[0] ? ": " : "", err.msg);
        aop_journal_close(j);
        return st == AOP_E_JOURNAL || st == AOP_E_CONFIG ? AOP_EXIT_CONFIG
               : st == AOP_E_ENTRY_OPEN                   ? AOP_EXIT_U
                                                          : AOP_EXIT_USAGE;
    }
    bool sandbox = cli_env_is_sandbox(env);
    /* one call's report only when exactly one call of this function was made */
    if (o->no_resolve && r->n_steps == 1 && r->result && r->result->function == fn && !r->taken_over &&
        !r->interrupted) {
        /* one call: the output and exit status of one call, as before the resolver */
        cli_ids_t ids = {fn == &aop_fn_refund ? NULL : r->key, fn == &aop_fn_refund ? r->key : NULL};
        rc = cli_report(o, fn, r->result, &ids, sandbox);
    } else {
        report(o, r, sandbox, open_entries(j));
        rc = exit_for(r);
    }
    aop_resolution_free(r);
    aop_journal_close(j);
    return rc;
}

/* ---- aop recover ---- */

typedef struct {
    const cli_opts_t *o;
    bool sandbox, first;
    unsigned skipped;
} recover_ctx_t;

static void on_recovered(const aop_journal_entry_t *e, const aop_resolution_t *r, void *ctx) {
    recover_ctx_t *c = ctx;
    if (!r) {
        c->skipped++;
        fprintf(stderr, "aop recover: skipped entry %lld (%s ", (long long)e->id, aop_entry_state_name(e->state));
        cli_put_safe(stderr, aop_str(e->key));
        fputs(", gateway ", stderr);
        cli_put_safe(stderr, aop_str(e->gateway));
        fputs(")\n", stderr);
        return;
    }
    if (c->o->json) {
        fputs(c->first ? "\n" : ",\n", stdout);
        json_resolution(stdout, r, c->sandbox, 0); /* the count after recovery is printed at the end */
    } else {
        fprintf(stdout, "entry %lld: ", (long long)e->id);
        human_resolution(stdout, r, c->sandbox);
    }
    c->first = false;
    fflush(stdout);
}

int cmd_recover(const cli_opts_t *o) {
    cli_env_t *env;
    aop_client_t *client;
    int rc = cli_env_open(o, &env, &client);
    if (rc) return rc;
    aop_journal_t *j = NULL;
    if ((rc = cli_journal_open(o, &j)) != 0) {
        cli_env_close(env);
        return rc;
    }
    aop_resolve_options_t ro;
    options_from(o, &ro);
    ro.single_call = false;
    catch_sigint();
    recover_ctx_t ctx = {o, cli_env_is_sandbox(env), true, 0};
    if (o->json) fputc('[', stdout);
    unsigned left = 0;
    aop_error_t err;
    aop_status_t st = aop_recover(client, j, &ro, on_recovered, &ctx, &left, &err);
    if (o->json) fputs(ctx.first ? "]\n" : "\n]\n", stdout);
    if (st != AOP_OK) {
        fprintf(stderr, "aop recover: %s\n", err.msg);
        rc = st == AOP_E_JOURNAL ? AOP_EXIT_CONFIG : AOP_EXIT_U;
    } else {
        if (!o->json) printf("%u %s of this gateway still open\n", left, left == 1 ? "entry" : "entries");
        rc = stop_requested ? AOP_EXIT_INTERRUPTED : left ? AOP_EXIT_U : AOP_EXIT_S;
    }
    aop_journal_close(j);
    cli_env_close(env);
    return rc;
}
